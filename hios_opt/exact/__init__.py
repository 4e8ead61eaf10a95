"""Exact schedules: the optimum, or a schedule with a proven lower bound.

:func:`solve` runs one of the registered solvers (:data:`SOLVERS`): CP-SAT
(:mod:`.cpsat`), the MILP (:mod:`.milp`), the A* search (:mod:`.astar`) or
the portfolio (:mod:`.portfolio`), each warm-started from the best heuristic
and judged by :func:`hios_opt.evaluate`; it returns a :class:`SolveResult`
with the status, the best schedule, the proven bound and the gap.
:func:`deadline_check` asks CP-SAT whether a schedule fits a deadline;
:mod:`.brute` solves tiny instances by enumeration, and :mod:`.benchmarks`
reads public instances with known optima.

>>> import hios_opt as ho
>>> r = ho.solve(ho.generators.diamond(), ho.Platform(gpus=2, streams=2), time_limit=10, workers=1)
>>> r.status, r.makespan_ms, r.lower_bound_ms      # b on GPU 1: a(1) + c(3) + d(1)
('optimal', 5.0, 5.0)
"""

from __future__ import annotations

from .candidates import Candidates, count_candidates, stage_candidates
from .cpsat import MAX_INTERVALS
from .deadline import DeadlineCheck, deadline_check
from .incumbent import Incumbent, SolveProgress
from .registry import SOLVERS, SolverSpec, register_solver, solver_names
from .request import MAX_SEED, SolveRequest
from .result import STATUSES, SolveResult
from .solve import solve
from .warm import WARM_SHARE, warm_algorithms, warm_start_schedule

__all__ = ["solve", "SolveResult", "SolveProgress", "SolveRequest", "Incumbent", "SOLVERS", "STATUSES",
           "SolverSpec", "register_solver", "solver_names", "warm_start_schedule", "warm_algorithms", "WARM_SHARE",
           "stage_candidates", "count_candidates", "Candidates", "MAX_INTERVALS", "MAX_SEED", "deadline_check",
           "DeadlineCheck"]
