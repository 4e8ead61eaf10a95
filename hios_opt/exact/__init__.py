"""Exact schedules: CP-SAT and MILP models that give the optimum or a proven bound.

Both models solve exactly the problem of DESIGN.md section 1 (placement,
stage grouping, order, cross-GPU delays; objective: makespan). They take a
time limit and a warm start, and return a :class:`SolveResult` with the
status, the best schedule (judged by :func:`hios_opt.evaluate`), the proven
lower bound and the gap. Beside them: an A* search (:mod:`.astar`), and a
portfolio that runs CP-SAT and the A* search at once (:mod:`.portfolio`).

>>> import hios_opt as ho
>>> r = ho.solve(ho.generators.diamond(), ho.Platform(gpus=2, streams=2), time_limit=10, workers=1)
>>> r.status, r.makespan_ms, r.lower_bound_ms      # b on GPU 1: a(1) + c(3) + d(1)
('optimal', 5.0, 5.0)
"""

from __future__ import annotations

import math
import time
from typing import Any

from ..checks import check_int
from ..costs import StageModel
from ..errors import AlgorithmError, HiosError, OptionError, ProblemTooLargeError
from ..evaluate import evaluate
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from ._interrupt import ctrl_c_scope
from .candidates import Candidates, count_candidates, stage_candidates
from .result import SolveResult, finish

__all__ = ["solve", "SolveResult", "SOLVERS", "warm_start_schedule", "stage_candidates", "count_candidates",
           "Candidates", "MAX_INTERVALS", "MAX_SEED"]

#: Solver names :func:`solve` accepts; ``"milp:NAME"`` picks a PuLP solver by name.
SOLVERS = ("cpsat", "milp", "astar", "portfolio")

#: Largest number of (candidate, GPU) pairs a CP-SAT model may have.
MAX_INTERVALS = 400_000

#: Largest ``seed``: CP-SAT, HiGHS and CBC take a 32-bit signed seed.
MAX_SEED = 2**31 - 1

#: Heuristics tried by ``warm_start="auto"``, when :mod:`hios_opt.heuristics` exists.
WARM_ALGORITHMS = ("sequential", "heft", "hios-mr", "hios-lp")

#: Rough seconds per ops**2 of each warm-start heuristic on a 2-core machine
#: (from benchmarks/results/heuristics_speed.csv, rounded up): "auto" skips a
#: heuristic whose estimate would run past the solve's deadline.
_WARM_SECONDS_PER_OPS2 = {"sequential": 0.0, "heft": 1e-8, "hios-mr": 5e-7, "hios-lp": 5e-7}


def _sequential(graph: OpGraph, platform: Platform) -> Schedule:
    return Schedule.sequential(graph.topological_order(), gpus=platform.gpus, streams=platform.streams,
                               algorithm="sequential", graph_name=graph.name)


def _heuristic(graph: OpGraph, platform: Platform, name: str, cost_model: StageModel | None) -> Schedule:
    from ..heuristics import schedule

    return schedule(graph, platform, name, cost_model=cost_model)


def warm_start_schedule(
    graph: OpGraph,
    platform: Platform,
    warm_start: str | Schedule | None = "auto",
    cost_model: StageModel | None = None,
    deadline: float | None = None,
) -> Schedule | None:
    """The schedule :func:`solve` starts from.

    ``"auto"``: the shortest of the heuristics in :data:`WARM_ALGORITHMS`
    (:func:`hios_opt.heuristics.schedule`), or the sequential schedule when
    that module is not available; with a ``deadline`` (``time.monotonic()``
    seconds) a heuristic whose estimated run time would pass it is skipped, so
    that a warm start never eats the solve's time limit on a large graph; a heuristic name: that heuristic; a
    :class:`Schedule`: itself, validated; ``None``: no warm start.

    >>> from hios_opt import generators, Platform
    >>> s = warm_start_schedule(generators.chain(3), Platform(gpus=2))
    >>> s.algorithm in WARM_ALGORITHMS
    True
    """
    if warm_start is None:
        return None
    if isinstance(warm_start, Schedule):
        evaluate(graph, platform, warm_start, cost_model)  # raises on an invalid schedule
        return warm_start
    if not isinstance(warm_start, str):
        raise OptionError(f"warm_start must be 'auto', a heuristic name, a Schedule or None, got {warm_start!r:.60}")
    try:
        import hios_opt.heuristics  # noqa: F401
        have_heuristics = True
    except ImportError:
        have_heuristics = False
    if warm_start != "auto":
        if warm_start == "sequential" and not have_heuristics:
            return _sequential(graph, platform)
        if not have_heuristics:
            raise AlgorithmError(f"warm start {warm_start!r} needs hios_opt.heuristics, which is not available; "
                                 "use 'auto', 'sequential', a Schedule or None")
        return _heuristic(graph, platform, warm_start, cost_model)
    best, best_span = _sequential(graph, platform), math.inf
    best_span = evaluate(graph, platform, best, cost_model).makespan
    if have_heuristics:
        for name in WARM_ALGORITHMS:
            estimate = _WARM_SECONDS_PER_OPS2[name] * graph.n_ops ** 2
            if deadline is not None and time.monotonic() + estimate > deadline:
                continue
            try:
                sched = _heuristic(graph, platform, name, cost_model)
                span = evaluate(graph, platform, sched, cost_model).makespan
            except HiosError:
                continue
            if span < best_span:
                best, best_span = sched, span
    return best


def cpsat_candidates(graph: OpGraph, platform: Platform, cost_model: StageModel | None) -> Candidates:
    """The stage candidates of a CP-SAT model; :class:`ProblemTooLargeError`
    when the model would pass :data:`MAX_INTERVALS`."""
    from .cpsat import uniform_links

    cands = stage_candidates(graph, platform.streams, cost_model)
    gpus = min(platform.gpus, graph.n_ops) if uniform_links(graph, platform) else platform.gpus
    if len(cands) * gpus > MAX_INTERVALS:
        raise ProblemTooLargeError(
            f"the CP-SAT model of graph {graph.name!r} would have {len(cands):,} stage candidates x "
            f"{gpus} GPUs = {len(cands) * gpus:,} optional intervals (limit {MAX_INTERVALS:,}); use "
            "streams=1, fewer GPUs or a smaller graph"
        )
    return cands


def _grid(graph: OpGraph, platform: Platform, cost_model: StageModel | None, resolution_ms: float | None,
          cands: Candidates) -> float:
    """The CP-SAT time grid: the caller's (refused when too fine for the
    model's integers), or :func:`~hios_opt.exact.cpsat.auto_resolution`."""
    from .cpsat import auto_resolution, check_ticks

    if resolution_ms is None:
        return auto_resolution(graph, platform, cost_model)
    check_ticks(graph, cands, float(resolution_ms))
    return float(resolution_ms)


def _check_options(solver: Any, time_limit: Any, workers: Any, seed: Any, resolution_ms: Any) -> None:
    if not isinstance(solver, str) or not (solver in SOLVERS or solver.startswith("milp:")):
        raise AlgorithmError(f"unknown solver {solver!r}; valid: 'cpsat', 'milp', 'astar', 'portfolio', or "
                             "'milp:NAME' with a PuLP solver name such as 'milp:PULP_CBC_CMD'")
    if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(time_limit, (int, float))
                                   or math.isnan(time_limit) or time_limit <= 0):
        raise OptionError(f"time_limit must be a number of seconds > 0 (or None for no limit), got {time_limit!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise OptionError(f"workers must be an integer >= 1 (or None: all cores), got {workers!r}")
    check_int(seed, "seed", min_value=0, max_value=MAX_SEED)
    if resolution_ms is not None and (isinstance(resolution_ms, bool) or not isinstance(resolution_ms, (int, float))
                                      or not math.isfinite(resolution_ms) or resolution_ms <= 0):
        raise OptionError(f"resolution_ms must be a finite number > 0 (or None: automatic), got {resolution_ms!r}")


def solve(
    graph: OpGraph,
    platform: Platform,
    solver: str = "cpsat",
    *,
    time_limit: float | None = 60.0,
    workers: int | None = None,
    seed: int = 0,
    warm_start: str | Schedule | None = "auto",
    cost_model: StageModel | None = None,
    log: bool = False,
    resolution_ms: float | None = None,
) -> SolveResult:
    """Solve the scheduling problem exactly, or as far as the time limit allows.

    Parameters
    ----------
    graph, platform
        The problem (DESIGN.md section 1).
    solver : str
        ``"cpsat"`` (OR-Tools CP-SAT, :mod:`hios_opt.exact.cpsat`), ``"milp"``
        (the MILP of :mod:`hios_opt.exact.milp`, built with PuLP and solved
        by HiGHS), ``"milp:NAME"`` for another PuLP solver (``"milp:cbc"``
        for PuLP's bundled CBC, ``"milp:GLPK_CMD"``, ``"milp:glpk"`` ...),
        ``"astar"``: the best-first search of :mod:`hios_opt.exact.astar`
        (one thread, searching forward and backward in time in turns; far
        ahead of the models on 2 GPUs with 2 streams, behind CP-SAT with one
        stream or on 4+ GPUs), or ``"portfolio"``: CP-SAT and the A* search
        at once, sharing the best schedule; the first proof ends both
        (:mod:`hios_opt.exact.portfolio`).
    time_limit : float or None
        Seconds for the whole call (warm start and model building included);
        ``None``: no limit. On expiry the best schedule so far is returned with
        status ``"feasible"`` (or ``"unknown"`` when there is none).
    workers : int, optional
        Search threads (CP-SAT) or threads (MILP solver); default: all cores
        (HiGHS: its own choice). The A* search is single-threaded; the
        portfolio gives it one thread and CP-SAT the others (at least one).
        With two, CP-SAT's tree search is an LP-heavy one, which proves
        optimality far sooner here than its default
        (:data:`~hios_opt.exact.cpsat.TWO_THREAD_PORTFOLIO`); its
        large-neighbourhood search keeps the other thread.
    seed : int
        Random seed of the solver, ``0 .. MAX_SEED`` (``2**31 - 1``: the
        solvers take 32-bit seeds).
    warm_start : "auto", heuristic name, Schedule or None
        Start from this schedule (see :func:`warm_start_schedule`); its
        makespan bounds the search from above.
    cost_model : StageModel, optional
        Stage-latency model (default: measured table, analytic fallback).
    log : bool
        Print the solver's log (A*: its progress every 2 s).
    resolution_ms : float, optional
        CP-SAT time grid in ms; durations and delays are rounded down to it,
        so the proven bound holds for the real problem. Default
        (:func:`~hios_opt.exact.cpsat.auto_resolution`): 1 µs, or finer when
        the graph's times are so short that 1 µs would blur the answer by
        more than 0.01 %.

    Returns
    -------
    SolveResult

    Raises
    ------
    AlgorithmError
        Unknown solver name.
    OptionError
        An option out of range (``time_limit <= 0`` ...).
    SolverError
        The solver is not installed or failed.
    ProblemTooLargeError
        The model would not fit (the message says how large and what to change).
    KeyboardInterrupt is not raised: Ctrl-C ends the search and the best
    schedule so far is returned (``interrupted=True``).

    Examples
    --------
    >>> import hios_opt as ho
    >>> g = ho.generators.fork_join(2, comm_ms=0.5)   # branch 1 and join on GPU 1: 1 + 0.5 + 4 + 1
    >>> r = solve(g, ho.Platform(gpus=2), time_limit=10, workers=1)
    >>> r.status, r.makespan_ms, r.gap
    ('optimal', 6.5, 0.0)
    >>> r.schedule.lower_bound_ms
    6.5
    """
    started = time.monotonic()
    _check_options(solver, time_limit, workers, seed, resolution_ms)
    if cost_model is not None and not isinstance(cost_model, StageModel):
        raise OptionError(f"cost_model must be a StageModel, got {type(cost_model).__name__}")
    deadline = started + (time_limit if time_limit is not None else 1e9)
    name = solver
    warm: Schedule | None = None
    # A Ctrl-C is also recorded, so that one whose KeyboardInterrupt is lost
    # (raised inside a finalizer or gc callback) still stops the search.
    with ctrl_c_scope() as pressed:
        try:
            if solver == "cpsat":
                from .cpsat import solve_cpsat

                cands = cpsat_candidates(graph, platform, cost_model)
                grid = _grid(graph, platform, cost_model, resolution_ms, cands)
                warm = warm_start_schedule(graph, platform, warm_start, cost_model, deadline)
                return solve_cpsat(graph, platform, cands, warm=warm, deadline=deadline, started=started,
                                   time_limit=time_limit, workers=workers, seed=seed, log=log,
                                   resolution_ms=grid, cost_model=cost_model)
            if solver == "astar":
                from .astar import solve_astar

                cands = stage_candidates(graph, platform.streams, cost_model)
                warm = warm_start_schedule(graph, platform, warm_start, cost_model, deadline)
                return solve_astar(graph, platform, cands, warm=warm, deadline=deadline, started=started,
                                   time_limit=time_limit, cost_model=cost_model, log=log)
            if solver == "portfolio":
                from .portfolio import solve_portfolio

                cands = stage_candidates(graph, platform.streams, cost_model)
                refused = None
                try:
                    cp_cands: Candidates | None = cpsat_candidates(graph, platform, cost_model)
                except ProblemTooLargeError as exc:
                    cp_cands, refused = None, f"CP-SAT model too large: {exc}"
                grid = _grid(graph, platform, cost_model, resolution_ms, cands)
                warm = warm_start_schedule(graph, platform, warm_start, cost_model, deadline)
                return solve_portfolio(graph, platform, cands, cp_cands, warm=warm, deadline=deadline,
                                       started=started, time_limit=time_limit, workers=workers, seed=seed, log=log,
                                       resolution_ms=grid, cost_model=cost_model, refused=refused)
            from .milp import check_size, default_backend, pulp_solver, solve_milp

            backend = pulp_solver(solver.split(":", 1)[1] if ":" in solver else default_backend())
            name = f"milp:{backend}"
            cands = stage_candidates(graph, platform.streams, cost_model)
            check_size(graph, platform, cands)
            warm = warm_start_schedule(graph, platform, warm_start, cost_model, deadline)
            return solve_milp(graph, platform, cands, backend, warm=warm, deadline=deadline, started=started,
                              time_limit=time_limit, workers=workers, seed=seed, log=log, cost_model=cost_model)
        except KeyboardInterrupt:
            # Ctrl-C outside the solver's own search: the warm start, if any.
            return _interrupted(graph, platform, cost_model, name, warm, started, time_limit)
        except Exception:
            # A Ctrl-C that a library turned into another error: pybind11
            # reports a KeyboardInterrupt raised while it converts a call's
            # arguments as a TypeError ("incompatible function arguments"),
            # seen when Ctrl-C landed in PuLP's building of the HiGHS model.
            if pressed.is_set():
                return _interrupted(graph, platform, cost_model, name, warm, started, time_limit)
            raise


def _interrupted(graph: OpGraph, platform: Platform, cost_model: StageModel | None, solver: str,
                 warm: Schedule | None, started: float, time_limit: float | None) -> SolveResult:
    """The result of a solve cut short by Ctrl-C before the solver ran."""
    return finish(graph, platform, cost_model, solver=solver, solver_status="INTERRUPTED", schedules=[warm],
                  solver_bound_ms=None, warm=warm, wall_time_s=time.monotonic() - started, interrupted=True,
                  time_limit_s=time_limit)
