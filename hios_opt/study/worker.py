"""What runs a study's cells, wherever they run: this process, a pool
process or a Dask worker.

:func:`run_task` takes one graph (its JSON object) and some of its cells and
returns one schema row per cell (:func:`hios_opt.results.result_row`). A
cell that raises gives a row with ``status = "error"`` and the message; it
never stops the others. An exact solve cut short by Ctrl-C is not a result:
it raises :class:`CellInterrupted` and no row is made.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from collections import OrderedDict
from typing import Any

from .. import __version__
from ..bounds import lower_bound
from ..costs import AnalyticModel, MeasuredModel, StageModel
from ..evaluate import evaluate
from ..graph import OpGraph
from ..heuristics import schedule
from ..platform import Platform
from ..results import HEURISTIC_STATUS, result_row
from ..schedules import Schedule, known_makespan
from .spec import Cell

__all__ = ["run_task", "CellInterrupted", "ERROR_STATUS", "probe", "failure_row"]

#: ``status`` of a cell that raised.
ERROR_STATUS = "error"

_GRAPHS: OrderedDict[str, OpGraph] = OrderedDict()
_GRAPH_CACHE = 4


class CellInterrupted(KeyboardInterrupt):
    """An exact solve returned early because of Ctrl-C: the cell is not done."""


def probe() -> dict[str, Any]:
    """What a worker runs: its host, process and hios_opt version."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "version": __version__}


def _graph(graph_hash: str, data: dict[str, Any]) -> OpGraph:
    graph = _GRAPHS.get(graph_hash)
    if graph is None:
        graph = OpGraph.from_dict(data, f"graph {data.get('name')!r}")
        _GRAPHS[graph_hash] = graph
        while len(_GRAPHS) > _GRAPH_CACHE:
            _GRAPHS.popitem(last=False)
    else:
        _GRAPHS.move_to_end(graph_hash)
    return graph


def run_task(graph_hash: str, data: dict[str, Any], columns: dict[str, Any], cells: list[Cell]) -> list[dict]:
    """One row per cell of ``cells``, all on the graph ``data`` (hash ``graph_hash``)."""
    graph = _graph(graph_hash, data)
    return [run_cell(graph, columns, cell) for cell in cells]


def _problem_columns(graph: OpGraph, cell: Cell) -> dict[str, Any]:
    platform = cell.settings["platform"]
    return {"graph": graph.name, "ops": graph.n_ops, "gpus": platform["gpus"], "streams": platform["streams"]}


def _cell_columns(cell: Cell, columns: dict[str, Any]) -> dict[str, Any]:
    s = cell.settings
    platform = s["platform"]
    out: dict[str, Any] = {"key": cell.key, "variant": cell.variant, "kind": cell.kind}
    if cell.kind == "heuristic":
        out["options"] = json.dumps(s["options"], sort_keys=True)
    else:
        out.update(solver=s["solver"], time_limit_s=s["time_limit"], solver_workers=s["workers"], seed=s["seed"],
                   warm_start=s["warm_start"])
    out.update(repeat=s["repeat"], alpha=s["alpha"], bandwidth_gbps=platform["bandwidth_gbps"],
               latency_us=platform["latency_us"])
    if "bandwidth_matrix_gbps" in platform:
        out["link_matrix"] = json.dumps([platform.get("bandwidth_matrix_gbps"), platform.get("latency_matrix_us")])
    out.update(columns)
    return out


def _host_columns(cpu_s: float) -> dict[str, Any]:
    return {"cpu_s": cpu_s, "host": socket.gethostname(), "worker_pid": os.getpid(), "version": __version__,
            "finished_at": time.time()}


def failure_row(graph: OpGraph | dict[str, Any], columns: dict[str, Any], cell: Cell, message: str) -> dict:
    """The row of a cell that failed with ``message``."""
    if isinstance(graph, dict):
        name, ops = graph.get("name"), len(graph.get("ops", ()))
    else:
        name, ops = graph.name, graph.n_ops
    platform = cell.settings["platform"]
    return result_row(graph=name, ops=ops, gpus=platform["gpus"], streams=platform["streams"],
                      algorithm=cell.algorithm, makespan_ms=math.nan, lower_bound_ms=math.nan, speedup=math.nan,
                      status=ERROR_STATUS, time_s=math.nan, **_cell_columns(cell, columns), **_host_columns(math.nan),
                      error=message)


def run_cell(graph: OpGraph, columns: dict[str, Any], cell: Cell) -> dict[str, Any]:
    """Run one cell; its row (an error row if it raised)."""
    try:
        if cell.kind == "heuristic":
            return _heuristic(graph, columns, cell)
        return _exact(graph, columns, cell)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a failing cell never stops the study
        message = " ".join(str(exc).split()) or type(exc).__name__
        return failure_row(graph, columns, cell, f"{type(exc).__name__}: {message}")


def _setup(cell: Cell) -> tuple[Any, Any]:
    return Platform.from_dict(dict(cell.settings["platform"])), MeasuredModel(AnalyticModel(cell.settings["alpha"]))


def _heuristic(graph: OpGraph, columns: dict[str, Any], cell: Cell) -> dict[str, Any]:
    platform, model = _setup(cell)
    s = cell.settings
    wall, cpu = time.perf_counter(), time.process_time()
    result = schedule(graph, platform, s["algorithm"], cost_model=model, **s["options"])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    span = known_makespan(result)
    extra: dict[str, Any] = {}
    if s.get("timeline"):
        extra = _timeline(graph, platform, model, result)
    # One GPU, one op at a time: every stage is one op alone, so the
    # sequential makespan is the total latency.
    sequential = graph.total_latency_ms
    return result_row(**_problem_columns(graph, cell), algorithm=cell.algorithm, makespan_ms=span,
                      lower_bound_ms=lower_bound(graph, platform, model),
                      speedup=sequential / span if span > 0 else math.nan, status=HEURISTIC_STATUS, time_s=wall,
                      **_cell_columns(cell, columns), **extra, **_host_columns(cpu), error=None)


def _timeline(graph: OpGraph, platform: Platform, model: StageModel, result: Schedule) -> dict[str, Any]:
    tl = evaluate(graph, platform, result, model)
    busy = tl.busy_ms
    mean_busy = sum(busy) / len(busy)
    return {"stages": len(result.stages), "transfers": len(tl.transfers),
            "comm_ms": sum(t.end - t.start for t in tl.transfers),
            "imbalance": max(busy) / mean_busy if mean_busy > 0 else math.nan,
            "idle_ms": sum(tl.idle_ms) / len(busy)}


def _exact(graph: OpGraph, columns: dict[str, Any], cell: Cell) -> dict[str, Any]:
    # Imported at the first exact cell: OR-Tools adds about 100 MiB to a pool
    # process, which a study of heuristics alone never needs.
    from ..exact import solve

    platform, model = _setup(cell)
    s = cell.settings
    warm = None if s["warm_start"] == "none" else s["warm_start"]
    cpu = time.process_time()
    r = solve(graph, platform, s["solver"], time_limit=s["time_limit"], workers=s["workers"], seed=s["seed"],
              warm_start=warm, cost_model=model, resolution_ms=s["resolution_ms"])
    cpu = time.process_time() - cpu
    if r.interrupted:
        raise CellInterrupted(f"cell {cell.key}: the solve was interrupted")
    span = math.nan if r.makespan_ms is None else r.makespan_ms
    stats = {k: v for k, v in r.stats.items() if isinstance(v, (str, int, float, bool)) or v is None}
    return result_row(**_problem_columns(graph, cell), algorithm=cell.algorithm, makespan_ms=span,
                      lower_bound_ms=r.lower_bound_ms,
                      speedup=graph.total_latency_ms / span if span > 0 else math.nan, status=r.status,
                      time_s=r.wall_time_s, **_cell_columns(cell, columns), solver_status=r.solver_status,
                      solver_label=r.solver, warm_start_algorithm=r.warm_start,
                      warm_start_ms=r.warm_start_makespan_ms, proved_by=r.stats.get("proved_by"),
                      stats=json.dumps(stats, sort_keys=True, default=str), **_host_columns(cpu), error=None)
