"""What an exact solve returns: status, schedule, makespan, proven bound, gap."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ..bounds import best_bound
from ..costs import StageModel
from ..evaluate import evaluate
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .incumbent import RELATIVE_TOLERANCE, Incumbent

__all__ = ["SolveResult", "STATUSES", "RELATIVE_TOLERANCE", "finish", "with_incumbent"]

#: Possible values of :attr:`SolveResult.status`.
STATUSES = ("optimal", "feasible", "infeasible", "unknown")


@dataclass
class SolveResult:
    """Outcome of :func:`hios_opt.exact.solve`.

    Attributes
    ----------
    status : str
        ``"optimal"``: ``makespan_ms - lower_bound_ms <= tolerance_ms``, the
        schedule is proven optimal (``tolerance_ms`` is ``1e-6`` relative,
        plus, when CP-SAT proved its integer model optimal, the rounding of
        the schedule to its time grid: see :mod:`hios_opt.exact.cpsat`). ``"feasible"``: a schedule, not
        proven optimal (time limit or interruption). ``"infeasible"``: the
        solver proved that no schedule exists (cannot happen for a valid
        graph). ``"unknown"``: no schedule was found.
    schedule : Schedule or None
        The best schedule, with ``makespan_ms``, ``status``,
        ``lower_bound_ms`` and ``gap`` filled.
    makespan_ms : float or None
        :func:`hios_opt.evaluate`'s makespan of ``schedule``.
    lower_bound_ms : float
        Proven lower bound on every schedule's makespan (at least
        :func:`hios_opt.bounds.best_bound`).
    gap : float or None
        ``(makespan_ms - lower_bound_ms) / lower_bound_ms``; ``None`` without
        a schedule or when the bound is 0.
    wall_time_s : float
        Wall-clock time of the whole solve (model building included).
    solver : str
        ``"cpsat"`` or ``"milp:<PuLP solver name>"``.
    solver_status : str
        The solver's own status word.
    stats : dict
        Solver statistics (CP-SAT: branches, conflicts, booleans ...,
        ``static_bound_ms``, the model's bound before the search; MILP:
        nodes, variables, constraints), plus model sizes, and
        ``static_bounds``: every bound of :func:`hios_opt.bounds.best_bound`
        by name, which gave the largest, and those skipped (too large or too
        slow for the instance) with the reason.
    warm_start : str or None
        Algorithm of the warm-start schedule, when one was used.
    warm_start_makespan_ms : float or None
        Its makespan.
    tolerance_ms : float
        Largest ``makespan_ms - lower_bound_ms`` still called optimal.
    interrupted : bool
        True when the solve was cut short by ``KeyboardInterrupt`` (Ctrl-C).
    time_limit_s : float
        The time limit the solve ran under.

    Examples
    --------
    >>> r = SolveResult("feasible", None, 10.0, 8.0, 0.25, 1.5, "cpsat", "FEASIBLE")
    >>> r
    SolveResult(status='feasible', makespan=10 ms, bound=8 ms, gap=25.00%, solver='cpsat', time=1.50 s)
    >>> r.to_dict()["gap"]
    0.25
    """

    status: str
    schedule: Schedule | None
    makespan_ms: float | None
    lower_bound_ms: float
    gap: float | None
    wall_time_s: float
    solver: str
    solver_status: str
    stats: dict[str, Any] = field(default_factory=dict)
    warm_start: str | None = None
    warm_start_makespan_ms: float | None = None
    tolerance_ms: float = 0.0
    interrupted: bool = False
    time_limit_s: float | None = None

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"

    def __repr__(self) -> str:
        span = "?" if self.makespan_ms is None else f"{self.makespan_ms:.6g} ms"
        gap = "?" if self.gap is None else f"{100 * self.gap:.2f}%"
        extra = ", interrupted" if self.interrupted else ""
        return (f"SolveResult(status={self.status!r}, makespan={span}, bound={self.lower_bound_ms:.6g} ms, "
                f"gap={gap}, solver={self.solver!r}, time={self.wall_time_s:.2f} s{extra})")

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>"
                       for k, v in self.to_dict().items() if k not in ("schedule", "stats"))
        return f"<table>{rows}</table>"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the schedule as its JSON object)."""
        return {
            "status": self.status,
            "makespan_ms": self.makespan_ms,
            "lower_bound_ms": self.lower_bound_ms,
            "gap": self.gap,
            "wall_time_s": self.wall_time_s,
            "solver": self.solver,
            "solver_status": self.solver_status,
            "warm_start": self.warm_start,
            "warm_start_makespan_ms": self.warm_start_makespan_ms,
            "tolerance_ms": self.tolerance_ms,
            "interrupted": self.interrupted,
            "time_limit_s": self.time_limit_s,
            "stats": dict(self.stats),
            "schedule": None if self.schedule is None else self.schedule.to_dict(),
        }


def _gap(makespan: float | None, bound: float) -> float | None:
    if makespan is None or bound <= 0:
        return 0.0 if makespan == 0 else None
    return max(0.0, (makespan - bound) / bound)


def finish(
    graph: OpGraph,
    platform: Platform,
    cost_model: StageModel | None,
    *,
    solver: str,
    solver_status: str,
    schedules: Iterable[Schedule | None],
    solver_bound_ms: float | None,
    proven_infeasible: bool = False,
    slack_ms: float = 0.0,
    stats: dict[str, Any] | None = None,
    warm: Schedule | None = None,
    wall_time_s: float,
    interrupted: bool = False,
    time_limit_s: float | None = None,
) -> SolveResult:
    """Assemble a :class:`SolveResult` from what a solver produced.

    Every schedule in ``schedules`` (solver solutions and the warm start) is
    evaluated with :func:`hios_opt.evaluate`; the shortest is returned. The
    bound is the larger of ``solver_bound_ms`` and the cheap
    :func:`~hios_opt.bounds.best_bound` (every bound of :mod:`hios_opt.bounds`),
    never above the makespan found.
    ``slack_ms`` is the largest difference between the makespan and the bound
    that rounding alone (time resolution, solver tolerances) can explain; it
    is added to the float tolerance that decides ``"optimal"``.
    """
    best: Schedule | None = None
    best_span = math.inf
    for sched in schedules:
        if sched is None:
            continue
        span = evaluate(graph, platform, sched, cost_model).makespan
        if span < best_span:
            best, best_span = sched, span
    static = best_bound(graph, platform, cost_model)
    bound = static.value_ms
    if solver_bound_ms is not None and math.isfinite(solver_bound_ms):
        bound = max(bound, solver_bound_ms)
    makespan = None if best is None else best_span
    if makespan is not None:
        bound = min(bound, makespan)
    tolerance = RELATIVE_TOLERANCE * max(1.0, makespan or 0.0) + slack_ms
    if makespan is None:
        status = "infeasible" if proven_infeasible else "unknown"
    elif makespan - bound <= tolerance:
        status = "optimal"
    else:
        status = "feasible"
    gap = _gap(makespan, bound)
    if best is not None:
        meta = dict(best.meta)
        if best is warm:
            meta["found_by"] = f"warm start ({warm.algorithm})"
        best = replace(best, algorithm=solver.split(":")[0], graph_name=graph.name, gpus=platform.gpus,
                       streams=platform.streams, makespan_ms=makespan, status=status, lower_bound_ms=bound,
                       gap=gap, meta=meta)
    warm_span = None
    if warm is not None:
        warm_span = evaluate(graph, platform, warm, cost_model).makespan
    return SolveResult(
        status=status, schedule=best, makespan_ms=makespan, lower_bound_ms=bound, gap=gap,
        wall_time_s=wall_time_s, solver=solver, solver_status=solver_status,
        stats={**(stats or {}), "static_bounds": {"best": static.best, "parts": dict(static.parts),
                                                  "skipped": dict(static.skipped)}},
        warm_start=None if warm is None else warm.algorithm, warm_start_makespan_ms=warm_span,
        tolerance_ms=tolerance, interrupted=interrupted, time_limit_s=time_limit_s,
    )


def with_incumbent(result: SolveResult, graph: OpGraph, platform: Platform, cost_model: StageModel | None,
                   incumbent: Incumbent, warm: Schedule | None) -> SolveResult:
    """``result``, improved by what the solve's incumbent holds: a shorter
    schedule (one its callback was shown) or a larger proven bound (each
    bound a search reported is valid for every schedule, so the largest is).
    The same ``result`` when neither is better."""
    shorter = incumbent.best is not None and (result.makespan_ms is None or incumbent.best_ms < result.makespan_ms)
    higher = incumbent.bound_ms > result.lower_bound_ms and (result.makespan_ms is None
                                                              or result.lower_bound_ms < result.makespan_ms)
    slack = max(0.0, result.tolerance_ms - RELATIVE_TOLERANCE * max(1.0, result.makespan_ms or 0.0))
    looser = incumbent.slack_ms > slack and result.status == "feasible"
    if not (shorter or higher or looser):
        return result
    slack = max(slack, incumbent.slack_ms)
    return finish(graph, platform, cost_model, solver=result.solver, solver_status=result.solver_status,
                  schedules=[result.schedule, incumbent.best], solver_bound_ms=max(result.lower_bound_ms,
                                                                                   incumbent.bound_ms),
                  slack_ms=slack, stats=result.stats, warm=warm, wall_time_s=result.wall_time_s,
                  interrupted=result.interrupted, time_limit_s=result.time_limit_s)
