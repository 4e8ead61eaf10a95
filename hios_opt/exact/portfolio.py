"""CP-SAT, the improvement search and the A* search side by side.

The A* search (:mod:`hios_opt.exact.astar`) proves 2-GPU x 2-stream
instances that the CP-SAT model does not close, CP-SAT proves one-stream
and 4-GPU instances that the A* search does not, and neither improves the
schedules of graphs with hundreds of ops, where the improvement search
(:mod:`hios_opt.exact.lns`) does. ``solve(..., solver="portfolio")`` runs
them together (:func:`solve_portfolio`, whose Notes say how they share time,
schedules and bounds).

>>> import hios_opt as ho
>>> g = ho.generators.fork_join(2, comm_ms=0.5)
>>> r = ho.solve(g, ho.Platform(gpus=2), "portfolio", time_limit=10, workers=2)
>>> r.status, r.makespan_ms, r.solver
('optimal', 6.5, 'portfolio')
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .astar import solve_astar
from .candidates import Candidates
from .cpsat import solve_cpsat
from .lns import solve_lns
from .request import SolveRequest
from .result import SolveResult, finish

__all__ = ["solve_portfolio", "ASTAR_MAX_OPS", "ASTAR_MAX_OPS_TWO_GPUS", "LNS_SHARE"]

#: Graphs with more ops than this are beyond the A* search's reach (it
#: proves 30-op 2 x 2 instances; its states grow with the downsets and the
#: GPUs): the portfolio gives its thread to the improvement search for the
#: whole time. On 2 GPUs the reach is :data:`ASTAR_MAX_OPS_TWO_GPUS`
#: (Inception-v3's 124 ops are proven there in about 20 s).
ASTAR_MAX_OPS = 40
ASTAR_MAX_OPS_TWO_GPUS = 150

#: Share of the time the improvement search runs first (within the A*
#: search's reach), so that the A* search starts from a shorter schedule.
LNS_SHARE = 0.15


def _summary(result: SolveResult) -> dict[str, Any]:
    """One solver's part of the portfolio's statistics."""
    return {"status": result.status, "solver_status": result.solver_status, "makespan_ms": result.makespan_ms,
            "lower_bound_ms": result.lower_bound_ms, "gap": result.gap, "wall_time_s": result.wall_time_s,
            "stats": dict(result.stats)}


def solve_portfolio(request: SolveRequest, cands: Candidates | None, cpsat_cands: Candidates | None,
                    refused: str | None = None) -> SolveResult:
    """Run CP-SAT, the improvement search and the A* search together for
    ``request``.

    Use :func:`hios_opt.exact.solve`, which validates the options, builds the
    candidates and the warm start, and calls this. ``cpsat_cands`` is None
    when the CP-SAT model would be too large, and ``cands`` too when even
    the stage candidates would be (``refused`` says why): the other
    searches run without it, and ``stats["cpsat"]`` says so.

    Notes
    -----
    CP-SAT runs in a helper thread with ``workers - 1`` threads (at least
    one); the calling thread runs the improvement search first (for
    :data:`LNS_SHARE` of the time, or all of it beyond the A* search's reach,
    :data:`ASTAR_MAX_OPS` ops), then the A* search. All start from the same
    warm start and share the solve's
    :class:`~hios_opt.exact.incumbent.Incumbent` (each cuts with the others'
    schedules); the first proof stops the others. The result is the shortest
    schedule found with the largest proven bound: each bound is valid, so
    their maximum is. The searches race, so among schedules of equal makespan
    which one comes back can vary; ``stats["proved_by"]`` says which search
    closed the gap.
    """
    incumbent = request.incumbent
    warm = request.warm
    cpsat_workers = max(1, request.threads - 1)
    outcome: dict[str, Any] = {}

    def run_cpsat() -> None:
        try:
            assert cpsat_cands is not None
            result = solve_cpsat(request, cpsat_cands, workers=cpsat_workers)
            outcome["cpsat"] = result
            if result.schedule is not None and result.makespan_ms is not None:
                incumbent.offer(result.schedule, result.makespan_ms, "cpsat")
            if result.status == "optimal":
                incumbent.stopping = True  # the A* search ends at its next step
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc
            incumbent.stopping = True

    helper = None
    if cpsat_cands is not None:
        helper = threading.Thread(target=run_cpsat, name="hios-opt-portfolio-cpsat", daemon=True)
        helper.start()
    reach = cands is not None and request.graph.n_ops <= (
        ASTAR_MAX_OPS_TWO_GPUS if request.platform.gpus <= 2 else ASTAR_MAX_OPS)
    astar: SolveResult | None = None
    try:
        until = None if not reach else time.monotonic() + LNS_SHARE * request.remaining()
        lns = solve_lns(request, until=until)
        if reach and cands is not None and not incumbent.stopping and not lns.interrupted and not incumbent.closed():
            astar = solve_astar(request, cands)
    finally:
        # The A* search has ended (proof, time, Ctrl-C or an error): so does CP-SAT.
        while helper is not None and helper.is_alive():
            incumbent.stop()
            helper.join(0.1)
    if "error" in outcome:
        raise outcome["error"]
    cpsat: SolveResult | None = outcome.get("cpsat")
    bounds = [r.lower_bound_ms for r in (astar, cpsat) if r is not None]
    schedules = [lns.schedule, incumbent.best, warm] + [r.schedule for r in (astar, cpsat) if r is not None]
    # CP-SAT's grid rounding counts as tolerance only when CP-SAT's own proof decides.
    slack = cpsat.stats.get("grid_slack_ms", 0.0) if cpsat is not None and cpsat.status == "optimal" else 0.0
    # The A* search's own result may say "feasible" after a proof: when it
    # ran out of states to expand, the best schedule (maybe CP-SAT's) is optimal.
    proved_by = [name for name, proved in (("astar", astar is not None and astar.solver_status == "OPTIMAL"),
                                           ("cpsat", cpsat is not None and cpsat.status == "optimal")) if proved]
    stats: dict[str, Any] = {
        "proved_by": proved_by[0] if len(proved_by) == 1 else ("both" if proved_by else None),
        "lns": _summary(lns),
        "astar": _summary(astar) if astar is not None else {"status": "not run", "reason": (
            f"{request.graph.n_ops} ops on {request.platform.gpus} GPUs: beyond the A* search's reach"
            if not reach else "stopped before it")},
        "cpsat": _summary(cpsat) if cpsat is not None else {"status": "not run", "reason": refused},
        "cpsat_workers": cpsat_workers if cpsat is not None else 0,
    }
    main = astar if astar is not None else lns
    return finish(request.graph, request.platform, request.cost_model, solver="portfolio",
                  solver_status="OPTIMAL" if proved_by else main.solver_status,
                  schedules=schedules, solver_bound_ms=max(bounds, default=None), slack_ms=slack, stats=stats,
                  warm=warm, wall_time_s=request.elapsed(), interrupted=main.interrupted or lns.interrupted,
                  time_limit_s=request.time_limit)
