"""The best schedule the package can find within a time limit.

:func:`best_schedule` runs every heuristic, then an exact solver
(:data:`DEFAULT_SOLVER`, through :func:`hios_opt.solve`) warm-started from
the best of them with the time that is left, and keeps the shorter schedule.
Every candidate comes back as a row of the result schema
(:mod:`hios_opt.results`), each with the best bound known at the end.
:func:`hios_opt.optimize` and the ``torch.compile`` backend schedule through
it. No torch here.

>>> from hios_opt import Platform, generators
>>> found = best_schedule(generators.fork_join(2, comm_ms=0.5), Platform(gpus=2), time_limit=5)
>>> found.schedule.makespan_ms, found.rows[-1]["status"]
(6.5, 'optimal')
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from .bounds import best_bound
from .checks import canonical_name, check_number
from .errors import ProblemTooLargeError, SolverError
from .evaluate import evaluate
from .exact import SOLVERS as EXACT_SOLVERS
from .exact import solve
from .graph import OpGraph
from .heuristics import algorithms, schedule
from .platform import Platform
from .results import HEURISTIC_STATUS, result_row
from .schedules import Schedule, known_makespan

__all__ = ["DEFAULT_SOLVER", "SOLVERS", "Search", "best_schedule", "check_solver"]

#: The exact solver :func:`best_schedule` uses unless told otherwise: CP-SAT
#: and the A* search side by side, each strong where the other is weak.
DEFAULT_SOLVER = "portfolio"

#: Solver names :func:`best_schedule` accepts: those of :mod:`hios_opt.exact`'s registry
#: (and ``"milp:NAME"``, and None for heuristics only).
SOLVERS = EXACT_SOLVERS

#: A solver's schedule replaces the best heuristic's only when it is shorter by more than this (relative).
_BETTER = 1e-9


@dataclass
class Search:
    """What :func:`best_schedule` found.

    Attributes
    ----------
    schedule : Schedule
        The shortest schedule, with the evaluator's ``makespan_ms``.
    algorithm : str
        Who made it: a heuristic's name or ``"exact-<solver>"``.
    rows : list of dict
        One result-schema row per candidate (heuristics in
        :func:`hios_opt.algorithms` order, then the solver), with an extra
        column ``chosen``.
    lower_bound_ms : float
        The best lower bound known: the larger of the solver's proven bound
        and :func:`hios_opt.bounds.best_bound` (given a tenth of the time).
    note : str
        Why the solver did not run or did not help, if so.
    """

    schedule: Schedule
    algorithm: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    lower_bound_ms: float = math.nan
    note: str = ""


def check_solver(solver: Any) -> str | None:
    """The canonical solver name, or None (heuristics only).

    >>> check_solver(" CPSAT"), check_solver("milp:cbc"), check_solver(None)
    ('cpsat', 'milp:cbc', None)
    """
    if solver is None:
        return None
    if isinstance(solver, str) and solver.strip().lower().startswith("milp:"):
        return solver.strip()
    return canonical_name(solver, SOLVERS, what="solver")


def best_schedule(
    graph: OpGraph,
    platform: Platform,
    solver: str | None = DEFAULT_SOLVER,
    *,
    time_limit: float = 10.0,
    seed: int = 0,
    workers: int | None = None,
) -> Search:
    """The shortest schedule of ``graph`` on ``platform`` found within ``time_limit``.

    Parameters
    ----------
    graph, platform
        The problem.
    solver : str or None
        A solver of :data:`SOLVERS` (``"cpsat"``, ``"milp"`` or
        ``"milp:NAME"``, ``"astar"``, ``"lns"``, ``"portfolio"``: the
        default, :data:`DEFAULT_SOLVER`), or None for the heuristics alone.
    time_limit : float
        Seconds for the whole search; the solver gets what the heuristics
        left (at least a tenth of it).
    seed, workers : int
        Passed to :func:`hios_opt.solve`.

    Returns
    -------
    Search

    Raises
    ------
    AlgorithmError
        An unknown solver name (the message lists the valid ones).
    OptionError
        A time limit that is not a positive number.
    """
    solver = check_solver(solver)
    time_limit = check_number(time_limit, "time_limit", min_value=0, include_min=False,
                              expected="a number of seconds > 0")
    started = time.monotonic()
    bound = best_bound(graph, platform, time_limit=time_limit / 10).value_ms
    made: list[tuple[str, Schedule, float, str]] = []
    for name in algorithms():
        began = time.monotonic()
        sched = schedule(graph, platform, name)
        made.append((name, sched, time.monotonic() - began, HEURISTIC_STATUS))
    best_name, best = min(((n, s) for n, s, _, _ in made), key=lambda item: known_makespan(item[1]))
    note = ""
    if solver is not None:
        left = max(time_limit - (time.monotonic() - started), time_limit / 10)
        began = time.monotonic()
        name = f"exact-{solver}"
        try:
            result = solve(graph, platform, solver, time_limit=left, seed=seed, workers=workers, warm_start=best)
        except (ProblemTooLargeError, SolverError) as exc:
            note = f"{solver} did not run: {exc}"
        else:
            bound = max(bound, result.lower_bound_ms)
            if result.schedule is not None:
                made.append((name, result.schedule, time.monotonic() - began, str(result.status)))
                if known_makespan(result.schedule) < known_makespan(best) * (1 - _BETTER):
                    best_name, best = name, result.schedule
                else:
                    note = f"{solver} found nothing shorter than {best_name} in {left:.3g} s ({result.status})"
            else:
                note = f"{solver} found no schedule in {left:.3g} s ({result.status})"
    sequential_ms = next(known_makespan(s) for n, s, _, _ in made if n == "sequential")
    rows = [
        result_row(graph=graph.name, ops=graph.n_ops, gpus=platform.gpus, streams=platform.streams, algorithm=name,
                   makespan_ms=sched.makespan_ms, lower_bound_ms=bound, speedup=sequential_ms / known_makespan(sched),
                   status=status, time_s=seconds, chosen=name == best_name)
        for name, sched, seconds, status in made
    ]
    if best.makespan_ms is None:  # pragma: no cover - every algorithm sets it
        best.makespan_ms = evaluate(graph, platform, best).makespan
    return Search(best, best_name, rows, bound, note)
