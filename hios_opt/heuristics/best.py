"""``"best"``: run the heuristics that fit a time budget, keep the shortest.

No list heuristic wins everywhere (``docs/heuristics.md`` has the tables),
and most of them take milliseconds, so :func:`best_of` runs each heuristic of
the registry whose estimated time (:func:`estimated_seconds`) still fits
``time_limit``, cheapest first, and returns the schedule of the smallest
makespan (the evaluator's), the earliest in
:func:`~hios_opt.heuristics.algorithms`'s order on a tie. The cheapest one
always runs, so there is always a schedule; without ``time_limit`` every
heuristic runs, IOS included. ``duplex`` is left out: it is the better of
``minmin`` and ``maxmin``, which both run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from ..checks import check_bool, check_number
from ..costs import StageModel
from ..errors import OptionError
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .common import check_problem, resolve_window
from .registry import BEST, algorithm_options, canonical, run
from .registry import algorithms as registered

__all__ = ["best_of", "BEST", "estimated_seconds", "SECONDS_PER_WORK", "BASE_SECONDS"]

#: Heuristics that ``best`` never runs: their schedule is one that others give.
LEFT_OUT = frozenset({"duplex"})

#: Seconds per unit of ``ops * (ops + edges) * gpus`` (see :func:`estimated_seconds`).
SECONDS_PER_WORK = {
    "sequential": 2e-8,
    "ios": 8e-6,
    "heft": 1e-8,
    "cpop": 3e-8,
    "etf": 7e-8,
    "dls": 7e-8,
    "mcp": 4e-8,
    "fcp": 4e-8,
    "flb": 3e-8,
    "minmin": 5e-8,
    "maxmin": 5e-8,
    "duplex": 1e-7,
    "sufferage": 5e-8,
    "hios-mr": 4e-8,
    "hios-lp": 6e-8,
}

_SINGLE_GPU = frozenset({"sequential", "ios"})

#: Seconds every call takes whatever the size (checks, the evaluation, the intra-GPU pass's setup).
BASE_SECONDS = 2e-3


def estimated_seconds(name: str, graph: OpGraph, platform: Platform) -> float:
    """Rough seconds that heuristic ``name`` takes on this problem.

    Notes
    -----
    The estimate is ``BASE_SECONDS + SECONDS_PER_WORK[name] * ops * (ops +
    edges) * gpus`` seconds (one GPU for the single-GPU ``sequential`` and
    ``ios``), with constants twice those measured on the HIOS paper's random
    graphs of 400 ops on 4 GPUs with 2 streams, on a shared 2-core machine
    (the speed table of ``benchmarks/bench_classic.py``). Time grows more
    slowly than that with size, so the estimates are high on large graphs:
    :func:`best_of` may skip a heuristic that would have fit, never run one
    that does not.

    Examples
    --------
    >>> from hios_opt import generators
    >>> estimated_seconds("etf", generators.diamond(), Platform(gpus=2)) < 3e-3
    True
    """
    gpus = 1 if name in _SINGLE_GPU else platform.gpus
    return BASE_SECONDS + SECONDS_PER_WORK[name] * graph.n_ops * (graph.n_ops + graph.n_edges) * gpus


def best_of(
    graph: OpGraph,
    platform: Platform,
    *,
    time_limit: float | None = None,
    algorithms: Iterable[str] | None = None,
    window: int | None = None,
    intra: bool = True,
    cost_model: StageModel | None = None,
) -> Schedule:
    """The shortest schedule among the heuristics that fit ``time_limit``.

    Parameters
    ----------
    graph, platform
        The problem.
    time_limit : float, optional
        Seconds; a heuristic whose estimated time would take the run past it
        is skipped (the cheapest always runs). ``None``: run them all.
    algorithms : iterable of str, optional
        The candidates (default: every registered heuristic but ``duplex``).
    window, intra
        The intra-GPU pass of every heuristic that has one (see
        :func:`~hios_opt.heuristics.hios_lp`).
    cost_model : StageModel, optional
        Stage-latency model (default: measured table, analytic fallback).

    Returns
    -------
    Schedule
        The winner's schedule with ``algorithm="best"``. ``meta["winner"]``
        names the heuristic, ``meta["makespans_ms"]`` and ``meta["times_s"]``
        give every candidate's makespan and run time (in run order),
        ``meta["skipped"]`` the candidates left out for time with their
        estimated seconds, and ``meta["winner_meta"]`` the winner's own meta.

    Raises
    ------
    OptionError
        ``time_limit`` not a positive number, an empty ``algorithms``, or a
        ``window`` out of range.
    AlgorithmError
        An unknown name in ``algorithms``.

    Examples
    --------
    >>> from hios_opt import generators
    >>> s = best_of(generators.diamond(comm_ms=0.5), Platform(gpus=2), algorithms=["sequential", "heft", "minmin"])
    >>> s.algorithm, s.makespan_ms, s.meta["winner"], s.meta["makespans_ms"]
    ('best', 5.0, 'heft', {'sequential': 7.0, 'heft': 5.0, 'minmin': 5.5})
    """
    check_problem(graph, platform, cost_model)
    check_number(time_limit, "time_limit", min_value=0, include_min=False, none_ok=True,
                 expected="a number of seconds > 0")
    check_bool(intra, "intra")
    resolve_window(window, platform)
    if algorithms is None:
        names = [n for n in registered() if n not in LEFT_OUT]
    else:
        if isinstance(algorithms, str):
            algorithms = [algorithms]
        names = []
        for given in algorithms:
            name = canonical(given)
            if name == BEST:
                raise OptionError("algorithms of 'best' cannot include 'best' itself")
            if name not in names:
                names.append(name)
        if not names:
            raise OptionError("algorithms of 'best' is empty; give at least one heuristic")
    estimates = {name: estimated_seconds(name, graph, platform) for name in names}
    rank = {name: i for i, name in enumerate(registered())}
    run_order = sorted(names, key=lambda n: (estimates[n], rank[n]))
    started = time.perf_counter()
    results: dict[str, Schedule] = {}
    times: dict[str, float] = {}
    skipped: dict[str, float] = {}
    for name in run_order:
        elapsed = time.perf_counter() - started
        if results and time_limit is not None and elapsed + estimates[name] > time_limit:
            skipped[name] = estimates[name]
            continue
        options: dict[str, Any] = {}
        if "window" in algorithm_options(name):
            options = {"window": window, "intra": intra}
        t0 = time.perf_counter()
        results[name] = run(graph, platform, name, cost_model=cost_model, **options)
        times[name] = time.perf_counter() - t0
    winner = min(results, key=lambda n: (results[n].makespan_ms, rank[n]))
    chosen = results[winner]
    chosen.meta = {"winner": winner, "makespans_ms": {n: s.makespan_ms for n, s in results.items()},
                   "times_s": times, "skipped": skipped, "winner_meta": chosen.meta}
    chosen.algorithm = BEST
    return chosen
