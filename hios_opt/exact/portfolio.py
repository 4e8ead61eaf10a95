"""CP-SAT and the A* search side by side, sharing the best schedule.

The exact methods are strong on different problems (README, reach table):
the A* search (:mod:`hios_opt.exact.astar`) proves 2-GPU x 2-stream
instances that the CP-SAT model (:mod:`hios_opt.exact.cpsat`) does not close
in minutes, and CP-SAT proves one-stream and 4-GPU instances that the A*
search does not. ``solve(..., solver="portfolio")`` runs both at once, so
that one call gets the better of the two without knowing which that is:

* CP-SAT runs in a helper thread (its search is C++ and releases the GIL)
  with ``workers - 1`` threads (at least one), the A* search in the calling
  thread; both start from the same warm start;
* every solution CP-SAT finds is judged by :func:`hios_opt.evaluate` and
  offered to an :class:`Exchange`; the A* search cuts with the shortest
  makespan in it (a state whose bound reaches it cannot lead to a better
  schedule, whoever found that one);
* the first to prove the optimum stops the other; at the time limit both
  stop;
* the result is the shortest schedule of either (and of the warm start),
  with the larger of the two proven bounds: each is a valid lower bound on
  every schedule, so their maximum is too.

The two searches run at the same time, so which schedule of equal makespan
comes back (and, cut short, which bound) can vary from run to run; use
``"cpsat"`` with ``workers=1`` or ``"astar"`` for byte-identical answers.

``stats["proved_by"]`` says which search closed the gap (``None``: neither,
or only together: the larger bound met the shorter schedule);
``stats["cpsat"]`` and ``stats["astar"]`` hold each one's status, bound,
makespan, time and statistics.

>>> import hios_opt as ho
>>> g = ho.generators.fork_join(2, comm_ms=0.5)
>>> r = ho.solve(g, ho.Platform(gpus=2), "portfolio", time_limit=10, workers=2)
>>> r.status, r.makespan_ms, r.solver
('optimal', 6.5, 'portfolio')
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from ..costs import StageModel
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .candidates import Candidates
from .result import SolveResult, finish

__all__ = ["Exchange", "solve_portfolio"]


class Exchange:
    """What the searches of a portfolio share: the shortest schedule found
    (with :func:`hios_opt.evaluate`'s makespan) and the order to stop.

    ``best_ms`` and ``stopping`` are plain attributes, read without the lock
    on every step of the A* search (a stale read only delays a cut).

    >>> x = Exchange()
    >>> x.offer(None, 5.0), x.offer(None, 7.0), x.best_ms
    (True, False, 5.0)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.best_ms = math.inf
        self.best: Schedule | None = None
        self.stopping = False
        self._stoppers: list[Callable[[], Any]] = []

    def offer(self, schedule: Schedule | None, makespan_ms: float) -> bool:
        """Keep ``schedule`` if it is shorter than the best so far; whether it was."""
        with self._lock:
            if makespan_ms < self.best_ms:
                self.best_ms, self.best = makespan_ms, schedule
                return True
            return False

    def add_stopper(self, stop: Callable[[], Any]) -> None:
        """``stop()`` is called by :meth:`stop` (a solver's own stop request)."""
        with self._lock:
            self._stoppers.append(stop)

    def stop(self) -> None:
        """Tell every search to end soon with its best solution; may be
        called again (a search that had not started yet when first told)."""
        self.stopping = True
        with self._lock:
            stoppers = list(self._stoppers)
        for stop in stoppers:
            stop()


def _summary(result: SolveResult) -> dict[str, Any]:
    """One solver's part of the portfolio's statistics."""
    return {"status": result.status, "solver_status": result.solver_status, "makespan_ms": result.makespan_ms,
            "lower_bound_ms": result.lower_bound_ms, "gap": result.gap, "wall_time_s": result.wall_time_s,
            "stats": dict(result.stats)}


def solve_portfolio(
    graph: OpGraph,
    platform: Platform,
    cands: Candidates,
    cpsat_cands: Candidates | None,
    *,
    warm: Schedule | None,
    deadline: float,
    started: float,
    time_limit: float | None,
    workers: int | None = None,
    seed: int = 0,
    log: bool = False,
    resolution_ms: float = 0.001,
    cost_model: StageModel | None = None,
    refused: str | None = None,
) -> SolveResult:
    """Run CP-SAT and the A* search together; see the module docstring.

    Use :func:`hios_opt.exact.solve`, which validates the options, builds the
    candidates and the warm start, and calls this. ``cpsat_cands`` is None
    when the CP-SAT model would be too large (``refused`` says why): the A*
    search then runs alone, and ``stats["cpsat"]`` says so.
    """
    from .astar import solve_astar
    from .cpsat import solve_cpsat

    exchange = Exchange()
    threads = workers if workers is not None else (os.cpu_count() or 1)
    outcome: dict[str, Any] = {}

    def run_cpsat() -> None:
        try:
            result = solve_cpsat(graph, platform, cpsat_cands, warm=warm, deadline=deadline, started=started,
                                 time_limit=time_limit, workers=max(1, threads - 1), seed=seed, log=log,
                                 resolution_ms=resolution_ms, cost_model=cost_model, exchange=exchange)
            outcome["cpsat"] = result
            if result.schedule is not None:
                exchange.offer(result.schedule, result.makespan_ms)
            if result.status == "optimal":
                exchange.stopping = True  # the A* search ends at its next step
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc
            exchange.stopping = True

    helper = None
    if cpsat_cands is not None:
        from ortools.sat.python import cp_model  # noqa: F401  (imported here, not first in the helper thread)

        helper = threading.Thread(target=run_cpsat, name="hios-opt-portfolio-cpsat", daemon=True)
        helper.start()
    try:
        astar = solve_astar(graph, platform, cands, warm=warm, deadline=deadline, started=started,
                            time_limit=time_limit, cost_model=cost_model, log=log, exchange=exchange)
    finally:
        # The A* search has ended (proof, time, Ctrl-C or an error): so does CP-SAT.
        while helper is not None and helper.is_alive():
            exchange.stop()
            helper.join(0.1)
    if "error" in outcome:
        raise outcome["error"]
    cpsat: SolveResult | None = outcome.get("cpsat")
    bounds = [astar.lower_bound_ms] + ([cpsat.lower_bound_ms] if cpsat is not None else [])
    schedules = [astar.schedule, exchange.best, warm] + ([cpsat.schedule] if cpsat is not None else [])
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
        "cpsat_workers": max(1, threads - 1) if cpsat is not None else 0,
    }
    return finish(graph, platform, cost_model, solver="portfolio",
                  solver_status="OPTIMAL" if proved_by else astar.solver_status,
                  schedules=schedules, solver_bound_ms=max(bounds), slack_ms=slack, stats=stats, warm=warm,
                  wall_time_s=time.monotonic() - started, interrupted=astar.interrupted, time_limit_s=time_limit)
