"""The demo: every algorithm and the exact solver on bundled graphs.

:func:`run_demo` is what ``hios-opt demo`` runs: for each graph it schedules
with sequential, IOS (one GPU), HEFT, HIOS-MR and HIOS-LP, solves the same
instance exactly under a time limit (warm-started from the best heuristic;
by default the A* search, which proves the bundled Inception-v3 optimum on
2 GPUs x 2 streams, where CP-SAT leaves a gap), and reports one table with each makespan, its speedup over
sequential, its gap to the proven lower bound and the scheduling time. It
draws the HIOS-LP and exact Gantt charts one above the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .evaluate import evaluate
from .graph import OpGraph
from .platform import Platform

__all__ = ["DEFAULT_GRAPHS", "HEURISTICS", "run_demo", "format_table"]

#: Bundled Inception-v3 (299 px, estimated H100 costs) and a teaching graph.
DEFAULT_GRAPHS = ("models/inception_v3_299_h100.json", "named:inception-block")
#: Heuristics of the demo table, in display order.
HEURISTICS = ("sequential", "ios", "heft", "hios-mr", "hios-lp")


def _load(spec: str | OpGraph) -> OpGraph:
    if isinstance(spec, OpGraph):
        return spec
    from .data import load

    return load(spec)


def run_demo(
    graphs: Sequence[str | OpGraph] = DEFAULT_GRAPHS,
    *,
    gpus: int = 2,
    streams: int = 2,
    time_limit: float = 30.0,
    workers: int | None = None,
    out_dir: str | Path | None = "hios_opt_demo",
    solver: str = "astar",
    log: Callable[[str], Any] | None = None,
) -> Any:
    """Run the demo and return its table as a pandas DataFrame.

    Parameters
    ----------
    graphs
        Graph files, bundled names (relative to ``data/``), ``named:NAME``
        teaching graphs, or :class:`OpGraph` objects.
    gpus, streams
        The platform (IOS always runs on one GPU with ``streams`` streams).
    time_limit
        Seconds for the exact solver, per graph.
    out_dir
        Folder for the Gantt charts and the CSV table (``None``: no files).
    log
        Called with a progress line per step (e.g. ``print``).

    Returns
    -------
    pandas.DataFrame
        One row per graph and algorithm: ``graph, ops, algorithm, gpus``
        (GPUs the schedule uses), ``makespan_ms, speedup, gap_to_bound,
        sched_time_s, status`` (the exact solver's status; ``-`` for heuristics).
        ``gap_to_bound`` is ``(makespan - proven lower bound) / bound`` with
        the exact solver's bound.

    Examples
    --------
    >>> table = run_demo(["named:diamond"], time_limit=5, out_dir=None, workers=1)
    >>> list(table["algorithm"])
    ['sequential', 'ios', 'heft', 'hios-mr', 'hios-lp', 'astar']
    >>> table.iloc[-1]["status"]
    'optimal'
    """
    import pandas as pd

    from .exact import solve
    from .heuristics import schedule

    say = log or (lambda line: None)
    rows: list[dict[str, Any]] = []
    out = Path(out_dir) if out_dir is not None else None
    for spec in graphs:
        graph = _load(spec)
        platform = Platform(gpus=gpus, streams=streams)
        results = {}
        for name in HEURISTICS:
            target = Platform(gpus=1, streams=streams) if name == "ios" else platform
            t0 = time.perf_counter()
            sched = schedule(graph, target, name)
            elapsed = time.perf_counter() - t0
            results[name] = (sched, elapsed)
            say(f"{graph.name}: {name:<10} {sched.makespan_ms:10.4f} ms  ({elapsed:.3f} s)")
        # The warm start must fit the platform: IOS ran on one GPU, which does.
        best = min((r[0] for r in results.values()), key=lambda sched: sched.makespan_ms)
        say(f"{graph.name}: {solver} (time limit {time_limit:g} s, warm start {best.algorithm}) ...")
        exact = solve(graph, platform, solver, time_limit=time_limit, workers=workers, warm_start=best)
        say(f"{graph.name}: {solver:<10} {exact.makespan_ms:10.4f} ms  bound {exact.lower_bound_ms:.4f} ms  "
            f"{exact.status} ({exact.wall_time_s:.1f} s)")
        bound = exact.lower_bound_ms
        sequential_ms = results["sequential"][0].makespan_ms
        for name, (sched, elapsed) in results.items():
            rows.append(_row(graph, name, _gpus_used(sched), sched.makespan_ms, sequential_ms, bound, elapsed, "-"))
        rows.append(_row(graph, solver, _gpus_used(exact.schedule) if exact.schedule else gpus, exact.makespan_ms,
                         sequential_ms, bound, exact.wall_time_s, exact.status))
        if out is not None and exact.schedule is not None:
            from .viz import gantt_grid

            lp = results["hios-lp"][0]
            timelines = [evaluate(graph, platform, lp), evaluate(graph, platform, exact.schedule)]
            titles = [f"{graph.name}: HIOS-LP, {lp.makespan_ms:.4g} ms",
                      f"{graph.name}: {solver} ({exact.status}), {exact.makespan_ms:.4g} ms, "
                      f"bound {bound:.4g} ms"]
            path = out / f"{_slug(graph.name)}_gantt.png"
            gantt_grid(timelines, titles, path=path)
            say(f"{graph.name}: wrote {path}")
    table = pd.DataFrame(rows)
    if out is not None:
        from ._io import write_bytes_atomic

        write_bytes_atomic(out / "demo.csv", table.to_csv(index=False).encode())
    return table


def _row(graph: OpGraph, algorithm: str, gpus: int, makespan: float | None, sequential_ms: float,
         bound: float, seconds: float, status: str) -> dict[str, Any]:
    return {
        "graph": graph.name,
        "ops": graph.n_ops,
        "algorithm": algorithm,
        "gpus": gpus,
        "makespan_ms": makespan,
        "speedup": sequential_ms / makespan if makespan else None,
        "gap_to_bound": (makespan - bound) / bound if makespan is not None and bound > 0 else None,
        "sched_time_s": seconds,
        "status": status,
    }


def _gpus_used(sched: Any) -> int:
    return len({st.gpu for st in sched.stages})


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def format_table(table: Any) -> str:
    """The demo table as aligned text."""
    shown = table.copy()
    shown["makespan_ms"] = shown["makespan_ms"].map(lambda x: "-" if x is None else f"{x:.4f}")
    shown["speedup"] = shown["speedup"].map(lambda x: "-" if x is None else f"{x:.2f}x")
    shown["gap_to_bound"] = shown["gap_to_bound"].map(lambda x: "-" if x is None else f"{100 * x:.2f}%")
    shown["sched_time_s"] = shown["sched_time_s"].map(lambda x: f"{x:.3f}")
    return shown.to_string(index=False)
