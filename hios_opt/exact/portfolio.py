"""CP-SAT and the A* search side by side, sharing the best schedule.

The A* search (:mod:`hios_opt.exact.astar`) proves 2-GPU x 2-stream
instances that the CP-SAT model does not close, and CP-SAT proves
one-stream and 4-GPU instances that the A* search does not.
``solve(..., solver="portfolio")`` runs both at once: CP-SAT in a helper
thread with ``workers - 1`` threads (at least one), the A* search in the
calling thread, both from the same warm start and sharing the solve's
:class:`~hios_opt.exact.incumbent.Incumbent` (the A* search cuts with
CP-SAT's schedules); the first proof stops the other; the result is the
shortest schedule of either with the larger of the two proven bounds (each
is valid, so their maximum is). The searches race, so among schedules of
equal makespan which one comes back can vary; ``stats["proved_by"]`` says
which search closed the gap.

>>> import hios_opt as ho
>>> g = ho.generators.fork_join(2, comm_ms=0.5)
>>> r = ho.solve(g, ho.Platform(gpus=2), "portfolio", time_limit=10, workers=2)
>>> r.status, r.makespan_ms, r.solver
('optimal', 6.5, 'portfolio')
"""

from __future__ import annotations

import threading
from typing import Any

from .astar import solve_astar
from .candidates import Candidates
from .cpsat import solve_cpsat
from .request import SolveRequest
from .result import SolveResult, finish

__all__ = ["solve_portfolio"]


def _summary(result: SolveResult) -> dict[str, Any]:
    """One solver's part of the portfolio's statistics."""
    return {"status": result.status, "solver_status": result.solver_status, "makespan_ms": result.makespan_ms,
            "lower_bound_ms": result.lower_bound_ms, "gap": result.gap, "wall_time_s": result.wall_time_s,
            "stats": dict(result.stats)}


def solve_portfolio(request: SolveRequest, cands: Candidates, cpsat_cands: Candidates | None,
                    refused: str | None = None) -> SolveResult:
    """Run CP-SAT and the A* search together for ``request``; see the module
    docstring.

    Use :func:`hios_opt.exact.solve`, which validates the options, builds the
    candidates and the warm start, and calls this. ``cpsat_cands`` is None
    when the CP-SAT model would be too large (``refused`` says why): the A*
    search then runs alone, and ``stats["cpsat"]`` says so.
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
    try:
        astar = solve_astar(request, cands)
    finally:
        # The A* search has ended (proof, time, Ctrl-C or an error): so does CP-SAT.
        while helper is not None and helper.is_alive():
            incumbent.stop()
            helper.join(0.1)
    if "error" in outcome:
        raise outcome["error"]
    cpsat: SolveResult | None = outcome.get("cpsat")
    bounds = [astar.lower_bound_ms] + ([cpsat.lower_bound_ms] if cpsat is not None else [])
    schedules = [astar.schedule, incumbent.best, warm] + ([cpsat.schedule] if cpsat is not None else [])
    # CP-SAT's grid rounding counts as tolerance only when CP-SAT's own proof decides.
    slack = cpsat.stats.get("grid_slack_ms", 0.0) if cpsat is not None and cpsat.status == "optimal" else 0.0
    # The A* search's own result may say "feasible" after a proof: when it
    # ran out of states to expand, the best schedule (maybe CP-SAT's) is optimal.
    proved_by = [name for name, proved in (("astar", astar.solver_status == "OPTIMAL"),
                                           ("cpsat", cpsat is not None and cpsat.status == "optimal")) if proved]
    stats: dict[str, Any] = {
        "proved_by": proved_by[0] if len(proved_by) == 1 else ("both" if proved_by else None),
        "astar": _summary(astar),
        "cpsat": _summary(cpsat) if cpsat is not None else {"status": "not run", "reason": refused},
        "cpsat_workers": cpsat_workers if cpsat is not None else 0,
    }
    return finish(request.graph, request.platform, request.cost_model, solver="portfolio",
                  solver_status="OPTIMAL" if proved_by else astar.solver_status,
                  schedules=schedules, solver_bound_ms=max(bounds), slack_ms=slack, stats=stats, warm=warm,
                  wall_time_s=request.elapsed(), interrupted=astar.interrupted, time_limit_s=request.time_limit)
