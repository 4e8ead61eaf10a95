"""The public entry point of the exact solvers: :func:`solve`.

It checks the options into a :class:`~hios_opt.exact.request.SolveRequest`,
lets the named solver (:mod:`hios_opt.exact.registry`) check that the
instance fits, runs the warm start, then the solver, all under one Ctrl-C
scope (:mod:`hios_opt.exact.interrupt`): a Ctrl-C anywhere returns the best
schedule so far.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..bounds import best_bound
from ..checks import check_bool
from ..costs import StageModel
from ..errors import OptionError
from ..evaluate import evaluate
from ..graph import OpGraph
from ..platform import Platform
from ..progress import SolveProgressBar
from ..schedules import Schedule
from .incumbent import SolveProgress
from .interrupt import ctrl_c_scope
from .registry import SolverSpec, solver_spec
from .request import SolveRequest, check_options
from .result import RELATIVE_TOLERANCE, SolveResult, finish, with_incumbent
from .series import SERIES_SHARE, PieceResult, exact_series_bound
from .warm import warm_start_schedule

__all__ = ["solve", "SERIES_SOLVERS"]

#: Solvers that start with the bound of :mod:`hios_opt.exact.series` (exact
#: solves of the pieces between series points): those meant for whole models.
SERIES_SOLVERS = frozenset({"portfolio", "lns"})


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
    callback: Callable[[SolveProgress], Any] | None = None,
    options: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> SolveResult:
    """Solve the scheduling problem exactly, or as far as the time limit allows.

    Parameters
    ----------
    graph, platform
        The problem (``docs/design.md``, section 1).
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
        (:func:`~hios_opt.exact.grid.auto_resolution`): 1 µs, or finer when
        the graph's times are so short that 1 µs would blur the answer by
        more than 0.01 %.
    callback : callable, optional
        Called with a :class:`~hios_opt.exact.incumbent.SolveProgress` each
        time the best schedule (the warm start's heuristics first, then the
        solver's) or the proven bound improves; from whichever thread found
        it, never twice at once. The result is never worse than a schedule
        it was shown. An exception it raises stops the solve and is raised.
    progress : bool
        Show a live progress bar (elapsed time, best makespan, bound, gap,
        and who found the best schedule) on a terminal or in a notebook
        (:class:`hios_opt.progress.SolveProgressBar`), besides ``callback``.
    options : mapping, optional
        The solver's own options: for ``"lns"`` the fields of
        :class:`~hios_opt.exact.lns.LnsOptions` (``max_iterations`` gives a
        deterministic run for a seed and one worker). An option the solver
        does not take is an :class:`OptionError` that lists those it takes.

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
    spec, variant = solver_spec(solver)
    check_bool(progress, "progress")
    if not progress:
        return _solve(graph, platform, spec, variant, warm_start,
                      SolveRequest(graph, platform, cost_model, time_limit, workers, seed, log, resolution_ms,
                                   callback, options=_solver_options(spec.name, spec.options, options)))
    check_options(time_limit, workers, seed, resolution_ms)  # before the bar is drawn
    with SolveProgressBar(time_limit, description=f"{solver}: {graph.name}") as bar:
        def both(event: SolveProgress) -> None:
            bar(event)
            if callback is not None:
                callback(event)

        return _solve(graph, platform, spec, variant, warm_start,
                      SolveRequest(graph, platform, cost_model, time_limit, workers, seed, log, resolution_ms,
                                   both, options=_solver_options(spec.name, spec.options, options)))


def _solve(graph: OpGraph, platform: Platform, spec: SolverSpec, variant: str, warm_start: str | Schedule | None,
           request: SolveRequest) -> SolveResult:
    cost_model = request.cost_model
    label = spec.name + (f":{variant}" if variant else "")
    series: dict[str, Any] | None = None
    # A Ctrl-C is also recorded, so that one whose KeyboardInterrupt is lost
    # (raised inside a finalizer or gc callback) still stops the search.
    with ctrl_c_scope() as pressed:
        try:
            prepared, label = spec.prepare(request, variant)
            request.incumbent.raise_bound(best_bound(graph, platform, cost_model,
                                                     time_limit=min(10.0, 0.1 * request.remaining())).value_ms)
            request.warm = warm_start_schedule(graph, platform, warm_start, cost_model, request.deadline,
                                               request.incumbent)
            if spec.name in SERIES_SOLVERS:
                value, glued, series = exact_series_bound(
                    graph, platform, cost_model, budget_s=SERIES_SHARE * request.remaining(),
                    solve_piece=lambda sub, seconds: _piece(request, sub, seconds))
                if glued is not None:
                    request.incumbent.offer(glued, evaluate(graph, platform, glued, cost_model).makespan, "series")
                if value is not None and value > request.incumbent.bound_ms:
                    request.incumbent.slack_ms = series["slack_ms"]
                request.incumbent.raise_bound(value)
            result = spec.run(request, prepared)
            if series is not None:
                result.stats["series"] = series
        except KeyboardInterrupt:
            # Ctrl-C outside the solver's own search: the best schedule so far.
            return _interrupted(request, label)
        except Exception:
            # A Ctrl-C that a library turned into another error: pybind11
            # reports a KeyboardInterrupt raised while it converts a call's
            # arguments as a TypeError ("incompatible function arguments"),
            # seen when Ctrl-C landed in PuLP's building of the HiGHS model.
            if pressed.is_set():
                return _interrupted(request, label)
            raise
    if request.incumbent.error is not None:
        raise request.incumbent.error
    result = with_incumbent(result, graph, platform, cost_model, request.incumbent, request.warm)
    if series is not None and result.status == "optimal" and result.stats.get("proved_by") is None \
            and request.incumbent.closed() and request.incumbent.bound_ms == series.get("bound_ms"):
        result.stats["proved_by"] = "series"
    return result


def _piece(request: SolveRequest, graph: OpGraph, seconds: float | None) -> PieceResult:
    """CP-SAT on one piece of ``request``'s graph (:mod:`hios_opt.exact.series`):
    its proven bound, whether it is the piece's optimum, and its best
    schedule; with ``seconds=None`` only the best heuristic schedule."""
    if seconds is None:
        warm = warm_start_schedule(graph, request.platform, "auto", request.cost_model, request.deadline, None)
        return PieceResult(best_bound(graph, request.platform, request.cost_model).value_ms, False, warm)
    spec, _ = solver_spec("cpsat")
    piece = SolveRequest(graph, request.platform, request.cost_model, seconds, request.threads, request.seed)
    prepared, _ = spec.prepare(piece, "")
    piece.warm = warm_start_schedule(graph, request.platform, "auto", request.cost_model, piece.deadline,
                                     piece.incumbent)
    result = with_incumbent(spec.run(piece, prepared), graph, request.platform, request.cost_model,
                            piece.incumbent, piece.warm)
    if result.interrupted:  # Ctrl-C: the whole solve ends with its best so far
        raise KeyboardInterrupt
    slack = max(0.0, result.tolerance_ms - RELATIVE_TOLERANCE * max(1.0, result.makespan_ms or 0.0))
    return PieceResult(result.lower_bound_ms, result.status == "optimal", result.schedule, slack)


def _solver_options(name: str, accepted: frozenset[str], options: Mapping[str, Any] | None) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise OptionError(f"options must be a mapping of option names to values, got {type(options).__name__}")
    for key in options:
        if key not in accepted:
            takes = ", ".join(sorted(accepted)) if accepted else "no options"
            raise OptionError(f"solver {name!r} does not take option {key!r}; it takes: {takes}")
    return dict(options)


def _interrupted(request: SolveRequest, solver: str) -> SolveResult:
    """The result of a solve cut short by Ctrl-C outside the solver's search:
    the best schedule so far (warm start, or a heuristic it had run)."""
    return finish(request.graph, request.platform, request.cost_model, solver=solver,
                  solver_status="INTERRUPTED", schedules=[request.warm, request.incumbent.best],
                  solver_bound_ms=None, warm=request.warm, wall_time_s=request.elapsed(), interrupted=True,
                  time_limit_s=request.time_limit)
