"""The demo: every algorithm and an exact solver on bundled graphs.

:func:`run_demo` is what ``hios-opt demo`` runs: for each graph it schedules
with sequential, IOS (one GPU), HEFT, HIOS-MR and HIOS-LP, solves the same
instance exactly under a time limit (warm-started from the best heuristic;
by default the A* search, which proves the bundled Inception-v3 optimum on
2 GPUs x 2 streams, where CP-SAT leaves a gap), and reports one table in the
result schema (:mod:`hios_opt.results`): each makespan, the solver's proven
lower bound, the gap to it, the speedup over sequential and the time taken.
It draws the HIOS-LP and exact Gantt charts one above the other.

When a solve ends at its time limit without a proof, the table's
``attrs["notes"]`` says so, and for the bundled cases it knows, how long a
proof takes (:data:`KNOWN_PROOF_S`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._io import write_bytes_atomic
from .checks import check_number
from .data import load
from .errors import AlgorithmError
from .evaluate import evaluate
from .exact import solve
from .graph import OpGraph
from .heuristics import schedule
from .platform import Platform
from .results import HEURISTIC_STATUS, gap, result_frame, result_row
from .results import format_table as schema_text
from .schedules import Schedule, known_makespan
from .viz import figure_bytes, gantt_grid

__all__ = ["DEFAULT_GRAPHS", "HEURISTICS", "SOLVERS", "KNOWN_PROOF_S", "run_demo", "format_table"]

#: Bundled Inception-v3 (299 px, estimated H100 costs) and a teaching graph.
DEFAULT_GRAPHS = ("models/inception_v3_299_h100.json", "named:inception-block")
#: Heuristics of the demo table, in display order.
HEURISTICS = ("sequential", "ios", "heft", "hios-mr", "hios-lp")
#: Exact solvers the demo takes (``milp:NAME`` picks another PuLP solver).
SOLVERS = ("astar", "cpsat", "lns", "milp", "portfolio")

#: Seconds a proof takes on a 2-core machine, for the bundled cases measured
#: (graph name, GPUs, streams, solver); ``None``: not proven in 60 s
#: (benchmarks/results/exact_summary.md).
KNOWN_PROOF_S: dict[tuple[str, int, int, str], float | None] = {
    ("inception_v3_299", 2, 2, "astar"): 20.0,
    ("inception_v3_299", 2, 2, "portfolio"): 3.0,
    ("inception_v3_299", 4, 2, "portfolio"): 2.0,
    ("inception_v3_299", 2, 2, "cpsat"): None,
    ("inception_v3_299", 2, 2, "milp"): None,
    ("inception_v3_299", 4, 2, "astar"): None,
    ("inception_v3_299", 4, 2, "cpsat"): None,
}


def _load(spec: str | OpGraph) -> OpGraph:
    if isinstance(spec, OpGraph):
        return spec
    return load(spec)


def unproven_note(graph_name: str, gpus: int, streams: int, solver: str, time_limit: float, gap: float) -> str:
    """What to say when a solve ended at its time limit without a proof.

    >>> print(unproven_note("inception_v3_299", 2, 2, "astar", 5, 0.15))
    inception_v3_299: astar did not prove the optimum within 5 s (gap 15.00% to its bound); it proves it in about 20 s on a 2-core machine: rerun with --time-limit 60
    """
    said = f"{graph_name}: {solver} did not prove the optimum within {time_limit:g} s (gap {gap:.2%} to its bound)"
    key = (graph_name, gpus, streams, solver)
    if key in KNOWN_PROOF_S:
        seconds = KNOWN_PROOF_S[key]
        if seconds is None:
            faster = [s for (g, k, st, s), t in KNOWN_PROOF_S.items()
                      if (g, k, st) == key[:3] and t is not None]
            if faster:
                best = min(faster, key=lambda s: KNOWN_PROOF_S[(graph_name, gpus, streams, s)] or math.inf)
                return (f"{said}; it does not in 60 s either, while --solver {best} proves it in about "
                        f"{KNOWN_PROOF_S[(graph_name, gpus, streams, best)]:g} s on a 2-core machine")
            return f"{said}; no solver here proves it in 60 s"
        if seconds > time_limit:
            return (f"{said}; it proves it in about {seconds:g} s on a 2-core machine: rerun with "
                    f"--time-limit {max(60, math.ceil(3 * seconds / 10) * 10):g}")
        return f"{said}; it usually proves it in about {seconds:g} s here: the machine may be busy, rerun with a longer --time-limit"
    return f"{said}; a longer --time-limit may close the gap, or another solver (see the guide to choosing a solver)"


def run_demo(
    graphs: Sequence[str | OpGraph] = DEFAULT_GRAPHS,
    *,
    gpus: int = 2,
    streams: int = 2,
    time_limit: float = 30.0,
    workers: int | None = None,
    out_dir: str | Path | None = "hios_opt_demo",
    solver: str = "portfolio",
    log: Callable[[str], Any] | None = None,
    progress: bool = False,
) -> Any:
    """Run the demo and return its table as a pandas DataFrame.

    Parameters
    ----------
    graphs
        Graph files, bundled names (:mod:`hios_opt.data`), ``named:NAME``
        teaching graphs, or :class:`OpGraph` objects.
    gpus, streams
        The platform (IOS always runs on one GPU with ``streams`` streams).
    time_limit
        Seconds for the exact solver, per graph.
    workers
        Solver threads (default: all cores).
    out_dir
        Folder for the Gantt charts and the CSV table (``None``: no files).
    solver
        The exact solver: one of :data:`SOLVERS` or ``"milp:NAME"``.
    log
        Called with a progress line per step (e.g. ``print``).
    progress
        Show the exact solve's live progress bar (``solve(progress=True)``).

    Returns
    -------
    pandas.DataFrame
        One row per graph and algorithm in the result schema
        (:mod:`hios_opt.results`): ``graph, ops, gpus, streams, algorithm,
        makespan_ms, lower_bound_ms`` (the solver's proven bound),
        ``gap, speedup, status`` (``"heuristic"`` or the solver's status),
        ``time_s``, then ``gpus_used`` (GPUs the schedule uses). The exact
        row's algorithm is ``exact-<solver>``. ``attrs["notes"]`` lists the
        solves that ended without a proof, with what would finish them.

    Examples
    --------
    >>> table = run_demo(["named:diamond"], time_limit=5, out_dir=None, workers=1)
    >>> list(table["algorithm"])
    ['sequential', 'ios', 'heft', 'hios-mr', 'hios-lp', 'exact-portfolio']
    >>> table.iloc[-1]["status"], float(table.iloc[-1]["gap"])
    ('optimal', 0.0)
    """
    if not isinstance(solver, str) or not (solver in SOLVERS or solver.startswith("milp:")):
        raise AlgorithmError(f"unknown exact solver {solver!r:.40}; the demo takes {', '.join(SOLVERS)} or milp:NAME")
    check_number(time_limit, "time_limit", min_value=0, include_min=False, expected="a number of seconds > 0")
    say = log or (lambda line: None)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    charts: list[tuple[Path, list[Any], list[str]]] = []
    out = Path(out_dir) if out_dir is not None else None
    loaded = [_load(spec) for spec in graphs]  # every graph readable before any work
    for graph in loaded:
        platform = Platform(gpus=gpus, streams=streams)
        results: dict[str, tuple[Schedule, float]] = {}
        for name in HEURISTICS:
            target = Platform(gpus=1, streams=streams) if name == "ios" else platform
            t0 = time.perf_counter()
            sched = schedule(graph, target, name)
            elapsed = time.perf_counter() - t0
            results[name] = (sched, elapsed)
            say(f"{graph.name}: {name:<10} {sched.makespan_ms:10.4f} ms  ({elapsed:.3f} s)")
        # The warm start must fit the platform: IOS ran on one GPU, which does.
        best = min((r[0] for r in results.values()), key=known_makespan)
        say(f"{graph.name}: {solver} (time limit {time_limit:g} s, warm start {best.algorithm}) ...")
        exact = solve(graph, platform, solver, time_limit=time_limit, workers=workers, warm_start=best,
                      progress=progress)
        say(f"{graph.name}: {solver:<10} {exact.makespan_ms:10.4f} ms  bound {exact.lower_bound_ms:.4f} ms  "
            f"{exact.status} ({exact.wall_time_s:.1f} s)")
        bound = exact.lower_bound_ms
        sequential_ms = known_makespan(results["sequential"][0])
        problem = {"graph": graph.name, "ops": graph.n_ops, "gpus": gpus, "streams": streams}
        for name, (sched, elapsed) in results.items():
            rows.append(result_row(**problem, algorithm=name, makespan_ms=sched.makespan_ms, lower_bound_ms=bound,
                                   speedup=sequential_ms / sched.makespan_ms if sched.makespan_ms else math.nan,
                                   status=HEURISTIC_STATUS, time_s=elapsed, gpus_used=_gpus_used(sched)))
        span = exact.makespan_ms if exact.makespan_ms is not None else math.nan
        exact_row = result_row(**problem, algorithm=f"exact-{solver}", makespan_ms=span, lower_bound_ms=bound,
                               speedup=sequential_ms / span if span else math.nan, status=exact.status,
                               time_s=exact.wall_time_s,
                               gpus_used=_gpus_used(exact.schedule) if exact.schedule else math.nan)
        if exact.status == "optimal":
            exact_row["gap"] = 0.0  # proven: the bound meets the makespan within the solver's tolerance
        rows.append(exact_row)
        if exact.status != "optimal":
            note = unproven_note(graph.name, gpus, streams, solver.split(":")[0], time_limit, exact_row["gap"])
            notes.append(note)
            say(note)
        if out is not None and exact.schedule is not None:
            lp = results["hios-lp"][0]
            timelines = [evaluate(graph, platform, lp), evaluate(graph, platform, exact.schedule)]
            titles = [f"{graph.name}: HIOS-LP, makespan {lp.makespan_ms:.4g} ms (gap {_pct(known_makespan(lp), bound)})",
                      f"{graph.name}: exact {solver} ({exact.status}), makespan {exact.makespan_ms:.4g} ms, "
                      f"bound {bound:.4g} ms"]
            charts.append((out / f"{_slug(graph.name)}_gantt.png", timelines, titles))
    table = result_frame(rows, notes=notes, solver=solver, time_limit_s=time_limit)
    if out is not None:

        for path, timelines, titles in charts:
            write_bytes_atomic(path, figure_bytes(gantt_grid(timelines, titles), "png"))
            say(f"wrote {path}")
        write_bytes_atomic(out / "demo.csv", table.to_csv(index=False).encode())
    return table


def _pct(makespan: float, bound: float) -> str:
    value = gap(makespan, bound)
    return "-" if math.isnan(value) else f"{value:.2%}"


def _gpus_used(sched: Schedule) -> int:
    return len({st.gpu for st in sched.stages})


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def format_table(table: Any) -> str:
    """The demo table as aligned text (:func:`hios_opt.results.format_table`)."""
    return schema_text(table, ["graph", "ops", "algorithm", "gpus_used", "makespan_ms", "lower_bound_ms", "gap",
                               "speedup", "status", "time_s"])
