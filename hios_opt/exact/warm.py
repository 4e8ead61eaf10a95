"""The schedule an exact solve starts from: the best heuristic, or the caller's."""

from __future__ import annotations

import time

from ..costs import StageModel
from ..errors import HiosError, OptionError
from ..evaluate import evaluate
from ..graph import OpGraph
from ..heuristics import algorithms, schedule
from ..heuristics.best import LEFT_OUT, estimated_seconds
from ..platform import Platform
from ..schedules import Schedule
from .incumbent import Incumbent

__all__ = ["warm_start_schedule", "warm_algorithms", "WARM_SHARE"]

#: Share of the time limit the ``"auto"`` warm start may take (the cheapest
#: heuristic always runs).
WARM_SHARE = 0.2


def warm_algorithms(graph: OpGraph, platform: Platform) -> list[str]:
    """The heuristics ``"auto"`` tries, cheapest first by
    :func:`hios_opt.heuristics.best.estimated_seconds`: every registered one
    but those whose schedule another gives (Duplex)."""
    names = [n for n in algorithms() if n not in LEFT_OUT]
    return sorted(names, key=lambda n: (estimated_seconds(n, graph, platform), names.index(n)))


def warm_start_schedule(
    graph: OpGraph,
    platform: Platform,
    warm_start: str | Schedule | None = "auto",
    cost_model: StageModel | None = None,
    deadline: float | None = None,
    incumbent: Incumbent | None = None,
) -> Schedule | None:
    """The schedule :func:`hios_opt.exact.solve` starts from.

    ``"auto"``: the shortest schedule of every heuristic
    (:func:`warm_algorithms`, cheapest first); with a ``deadline``
    (``time.monotonic()`` seconds) a heuristic whose estimated run time
    would take the warm start past :data:`WARM_SHARE` of the time left is
    skipped, so that a warm start never eats the solve's time limit on a
    large graph. A heuristic name: that
    heuristic. A :class:`Schedule`: itself, validated. ``None``: no warm start.
    Each schedule made is offered to ``incumbent`` as soon as it exists, so
    that a Ctrl-C during the warm start still returns the best so far.

    >>> from hios_opt import generators, Platform
    >>> s = warm_start_schedule(generators.chain(3), Platform(gpus=2))
    >>> s.algorithm in warm_algorithms(generators.chain(3), Platform(gpus=2))
    True
    """
    if warm_start is None:
        return None

    def offer(sched: Schedule) -> float:
        span = evaluate(graph, platform, sched, cost_model).makespan  # raises on an invalid schedule
        if incumbent is not None:
            incumbent.offer(sched, span, f"warm start ({sched.algorithm})")
        return span

    if isinstance(warm_start, Schedule):
        offer(warm_start)
        return warm_start
    if not isinstance(warm_start, str):
        raise OptionError(f"warm_start must be 'auto', a heuristic name, a Schedule or None, got {warm_start!r:.60}")
    if warm_start != "auto":
        sched = schedule(graph, platform, warm_start, cost_model=cost_model)
        offer(sched)
        return sched
    best: Schedule | None = None
    best_span = float("inf")
    started = time.monotonic()
    budget = None if deadline is None else WARM_SHARE * max(0.0, deadline - started)
    for name in warm_algorithms(graph, platform):
        estimate = estimated_seconds(name, graph, platform)
        if best is not None and budget is not None and time.monotonic() - started + estimate > budget:
            continue
        try:
            sched = schedule(graph, platform, name, cost_model=cost_model)
            span = offer(sched)
        except HiosError:
            if best is None:
                raise
            continue
        if span < best_span:
            best, best_span = sched, span
    return best
