"""Compare schedulers on one problem: one row per algorithm.

:func:`compare` runs heuristics (and optionally an exact solver) on the same
graph and platform and tabulates makespan, speedup over the sequential
schedule, ratio to the lower bound of :func:`hios_opt.bounds.lower_bound`,
and scheduling time. With ``exact=`` the solver starts from the best
heuristic schedule, and every row gets its gap to the solver's proven bound.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

from .bounds import lower_bound
from .costs import StageModel
from .errors import AlgorithmError, OptionError
from .graph import OpGraph
from .heuristics import BEST, algorithm_options, schedule
from .heuristics import algorithms as heuristics
from .heuristics.common import check_problem
from .platform import Platform

__all__ = ["compare", "COLUMNS"]

#: Columns of :func:`compare`'s table (``gap`` and ``status`` only with ``exact``).
COLUMNS = ("algorithm", "makespan_ms", "speedup", "bound_ratio", "time_s", "gap", "status")


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
        canonical = name.strip().lower().replace("_", "-")
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
        heuristic schedule, and add the ``gap`` and ``status`` columns.
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
        One row per algorithm: ``algorithm``, ``makespan_ms``, ``speedup``
        (sequential makespan / makespan), ``bound_ratio`` (makespan / lower
        bound), ``time_s`` (scheduling wall time); with ``exact``, ``gap``
        (``(makespan - proven bound) / proven bound``, every row) and
        ``status`` (the exact row's solver status). ``df.attrs`` holds the
        lower bound, the sequential makespan and the schedules by algorithm.

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
    >>> [(row.algorithm, row.makespan_ms, round(row.speedup, 3)) for row in df.itertuples()]
    [('sequential', 10.0, 1.0), ('heft', 6.5, 1.538), ('hios-lp', 7.0, 1.429)]
    """
    import pandas as pd

    check_problem(graph, platform, cost_model)
    names = _names(algorithms)
    for key in options:
        takers = [n for n in names if key in algorithm_options(n)]
        if not takers:
            raise OptionError(f"none of {', '.join(names)} takes option {key!r}")
    if exact is not None:
        from .exact import SOLVERS

        if not isinstance(exact, str) or not (exact in SOLVERS or exact.startswith("milp:")):
            raise AlgorithmError(f"unknown exact solver {exact!r}; valid: {', '.join(SOLVERS)}, milp:NAME")
        if (isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or math.isnan(time_limit)
                or time_limit <= 0):
            raise OptionError(f"time_limit must be a number of seconds > 0, got {time_limit!r}")
    bound = lower_bound(graph, platform, cost_model)
    schedules = {}
    times = {}
    for name in names:
        mine = {k: v for k, v in options.items() if k in algorithm_options(name)}
        started = time.perf_counter()
        schedules[name] = schedule(graph, platform, name, cost_model=cost_model, **mine)
        times[name] = time.perf_counter() - started
    if "sequential" in schedules:
        sequential_ms = schedules["sequential"].makespan_ms
    else:
        sequential_ms = schedule(graph, platform, "sequential", cost_model=cost_model).makespan_ms
    rows: list[dict[str, Any]] = []
    for name in names:
        span = schedules[name].makespan_ms
        rows.append({"algorithm": name, "makespan_ms": span, "speedup": _ratio(sequential_ms, span),
                     "bound_ratio": _ratio(span, bound), "time_s": times[name]})
    exact_bound = None
    if exact is not None:
        from .exact import solve

        best = min(schedules.values(), key=lambda s: s.makespan_ms)
        result = solve(graph, platform, exact, time_limit=time_limit, warm_start=best, cost_model=cost_model)
        label = f"exact-{exact}"
        span = result.makespan_ms if result.makespan_ms is not None else math.nan
        rows.append({"algorithm": label, "makespan_ms": span, "speedup": _ratio(sequential_ms, span),
                     "bound_ratio": _ratio(span, bound), "time_s": result.wall_time_s, "status": result.status})
        if result.schedule is not None:
            schedules[label] = result.schedule
        exact_bound = result.lower_bound_ms
        for row in rows:
            row["gap"] = _ratio(row["makespan_ms"] - exact_bound, exact_bound)
            row.setdefault("status", None)
    columns = [c for c in COLUMNS if exact is not None or c not in ("gap", "status")]
    df = pd.DataFrame(rows, columns=columns)
    df.attrs.update({"graph": graph.name, "gpus": platform.gpus, "streams": platform.streams,
                     "lower_bound_ms": bound, "sequential_ms": sequential_ms, "exact_lower_bound_ms": exact_bound,
                     "schedules": schedules})
    return df


def _ratio(a: float, b: float) -> float:
    if b == 0 or math.isnan(a) or math.isnan(b):
        return math.nan
    return a / b
