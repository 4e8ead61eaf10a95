"""Compare schedulers on one problem: one row per algorithm.

:func:`compare` runs heuristics (and optionally an exact solver) on the same
graph and platform and tabulates them in the result schema
(:mod:`hios_opt.results`): makespan, the best lower bound known, the gap to
it, speedup over the sequential schedule, status and scheduling time. The
bound is :func:`hios_opt.bounds.best_bound` alone, or with ``exact=`` the
solver's proven bound (never below it); the solver starts from the best heuristic schedule.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

from .bounds import best_bound
from .checks import check_number, spelling
from .costs import StageModel
from .errors import AlgorithmError, OptionError
from .exact import SOLVERS, solve
from .graph import OpGraph
from .heuristics import BEST, algorithm_options, schedule
from .heuristics import algorithms as heuristics
from .heuristics.common import check_problem
from .platform import Platform
from .results import HEURISTIC_STATUS, gap, result_frame, result_row
from .schedules import known_makespan

__all__ = ["compare", "COLUMNS"]

#: Columns of :func:`compare`'s table (the result schema's problem and result groups).
COLUMNS = ("graph", "ops", "gpus", "streams", "algorithm", "makespan_ms", "lower_bound_ms", "gap", "speedup",
           "status", "time_s")


def all_algorithms() -> list[str]:
    """Every name :func:`compare` accepts: the heuristics and ``"best"``."""
    return [*heuristics(), BEST]


def _names(algorithms: Iterable[str] | str | None) -> list[str]:
    if algorithms is None:
        return heuristics()
    if isinstance(algorithms, str):
        algorithms = [a for a in algorithms.split(",") if a.strip()]
    names = []
    for name in algorithms:
        if not isinstance(name, str):
            raise AlgorithmError(f"algorithm names must be strings, got {name!r:.40}")
        canonical = spelling(name)
        if canonical not in all_algorithms():
            raise AlgorithmError(f"unknown algorithm {name!r}; valid: {', '.join(all_algorithms())}")
        if canonical not in names:
            names.append(canonical)
    if not names:
        raise AlgorithmError(f"no algorithm to compare; valid: {', '.join(all_algorithms())}")
    return names


def compare(
    graph: OpGraph,
    platform: Platform,
    algorithms: Iterable[str] | str | None = None,
    *,
    exact: str | None = None,
    time_limit: float = 10.0,
    cost_model: StageModel | None = None,
    **options: Any,
) -> Any:
    """Run several schedulers on one problem and tabulate the results.

    Parameters
    ----------
    graph, platform
        The problem.
    algorithms : list of str or comma-separated str, optional
        Heuristics to run (default: all of :func:`hios_opt.algorithms`);
        ``"best"`` adds the shortest of them all (its time is that of the
        whole run).
    exact : {"cpsat", "milp", "astar", "portfolio"} or "milp:NAME", optional
        Also run :func:`hios_opt.exact.solve`, warm-started from the best
        heuristic schedule: one more row, and every row's bound and gap
        become the solver's.
    time_limit : float
        Seconds for the exact solver (default 10).
    cost_model : StageModel, optional
        Stage-latency model (default: measured table, analytic fallback).
    **options
        Algorithm options (``window=2``, ``max_part_size=10`` ...), passed to
        every listed algorithm that takes them.

    Returns
    -------
    pandas.DataFrame
        One row per algorithm, in the result schema (:mod:`hios_opt.results`,
        columns :data:`COLUMNS`): the problem (``graph, ops, gpus,
        streams``), ``algorithm`` (``exact-<solver>`` for the solve),
        ``makespan_ms``, ``lower_bound_ms`` (the cheap bound, or the solver's
        proven bound with ``exact``), ``gap`` (``(makespan - bound) /
        bound``), ``speedup`` (sequential makespan / makespan), ``status``
        (``"heuristic"`` or the solver's) and ``time_s``. ``df.attrs`` holds
        the cheap lower bound, the sequential makespan, the solver's bound and
        the schedules by algorithm (pandas drops ``attrs`` on ``concat``; the
        rows keep the problem).

    Raises
    ------
    AlgorithmError
        An unknown algorithm or solver name.
    OptionError
        An option that none of the listed algorithms takes, or out of range.

    Examples
    --------
    >>> from hios_opt import generators, Platform
    >>> g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=0.5)
    >>> df = compare(g, Platform(gpus=2), ["sequential", "heft", "hios-lp"])
    >>> [(row.algorithm, row.makespan_ms, round(row.speedup, 3), round(row.gap, 3)) for row in df.itertuples()]
    [('sequential', 10.0, 1.0, 0.538), ('heft', 6.5, 1.538, 0.0), ('hios-lp', 7.0, 1.429, 0.077)]
    """
    check_problem(graph, platform, cost_model)
    names = _names(algorithms)
    for key in options:
        takers = [n for n in names if key in algorithm_options(n)]
        if not takers:
            raise OptionError(f"none of {', '.join(names)} takes option {key!r}")
    if exact is not None:
        if not isinstance(exact, str) or not (exact in SOLVERS or exact.startswith("milp:")):
            raise AlgorithmError(f"unknown exact solver {exact!r}; valid: {', '.join(SOLVERS)}, milp:NAME")
        check_number(time_limit, "time_limit", min_value=0, include_min=False, finite=False,
                     expected="a number of seconds > 0", limit=None)
    bound = best_bound(graph, platform, cost_model).value_ms
    schedules = {}
    times = {}
    for name in names:
        mine = {k: v for k, v in options.items() if k in algorithm_options(name)}
        started = time.perf_counter()
        schedules[name] = schedule(graph, platform, name, cost_model=cost_model, **mine)
        times[name] = time.perf_counter() - started
    if "sequential" in schedules:
        sequential_ms = known_makespan(schedules["sequential"])
    else:
        sequential_ms = known_makespan(schedule(graph, platform, "sequential", cost_model=cost_model))
    problem = {"graph": graph.name, "ops": graph.n_ops, "gpus": platform.gpus, "streams": platform.streams}
    rows: list[dict[str, Any]] = []
    for name in names:
        span = known_makespan(schedules[name])
        rows.append(result_row(**problem, algorithm=name, makespan_ms=span, lower_bound_ms=bound,
                               speedup=_ratio(sequential_ms, span), status=HEURISTIC_STATUS, time_s=times[name]))
    exact_bound = None
    if exact is not None:
        best = min(schedules.values(), key=known_makespan)
        result = solve(graph, platform, exact, time_limit=time_limit, warm_start=best, cost_model=cost_model)
        label = f"exact-{exact}"
        span = result.makespan_ms if result.makespan_ms is not None else math.nan
        exact_bound = result.lower_bound_ms
        rows.append(result_row(**problem, algorithm=label, makespan_ms=span, lower_bound_ms=exact_bound,
                               speedup=_ratio(sequential_ms, span), status=result.status, time_s=result.wall_time_s))
        if result.status == "optimal":
            rows[-1]["gap"] = 0.0  # proven: the bound meets the makespan within the solver's tolerance
        if result.schedule is not None:
            schedules[label] = result.schedule
        for row in rows[:-1]:  # every row against the best bound known: the solver's
            row["lower_bound_ms"] = exact_bound
            row["gap"] = gap(row["makespan_ms"], exact_bound)
    df = result_frame(rows, graph=graph.name, gpus=platform.gpus, streams=platform.streams, lower_bound_ms=bound,
                      sequential_ms=sequential_ms, exact_lower_bound_ms=exact_bound, schedules=schedules)
    return df


def _ratio(a: float, b: float) -> float:
    if b == 0 or math.isnan(a) or math.isnan(b):
        return math.nan
    return a / b
