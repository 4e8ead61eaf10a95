"""The schedule an exact solve starts from: the best heuristic, or the caller's."""

from __future__ import annotations

import time

from ..costs import StageModel
from ..errors import HiosError, OptionError
from ..evaluate import evaluate
from ..graph import OpGraph
from ..heuristics import schedule
from ..platform import Platform
from ..schedules import Schedule
from .incumbent import Incumbent

__all__ = ["warm_start_schedule", "WARM_ALGORITHMS"]

#: Heuristics tried by ``warm_start="auto"``, in this order (ETF and Sufferage are
#: often shorter than the others where they win: docs/heuristics.md).
WARM_ALGORITHMS = ("sequential", "heft", "hios-mr", "hios-lp", "etf", "sufferage")

#: Rough seconds per ops**2 of each warm-start heuristic on a 2-core machine
#: (from benchmarks/results/heuristics_speed.csv, rounded up): "auto" skips a
#: heuristic whose estimate would run past the solve's deadline.
_WARM_SECONDS_PER_OPS2 = {"sequential": 0.0, "heft": 1e-8, "hios-mr": 5e-7, "hios-lp": 5e-7, "etf": 3e-7,
                          "sufferage": 2e-7}


def warm_start_schedule(
    graph: OpGraph,
    platform: Platform,
    warm_start: str | Schedule | None = "auto",
    cost_model: StageModel | None = None,
    deadline: float | None = None,
    incumbent: Incumbent | None = None,
) -> Schedule | None:
    """The schedule :func:`hios_opt.exact.solve` starts from.

    ``"auto"``: the shortest of the heuristics in :data:`WARM_ALGORITHMS`;
    with a ``deadline`` (``time.monotonic()`` seconds) a heuristic whose
    estimated run time would pass it is skipped, so that a warm start never
    eats the solve's time limit on a large graph. A heuristic name: that
    heuristic. A :class:`Schedule`: itself, validated. ``None``: no warm start.
    Each schedule made is offered to ``incumbent`` as soon as it exists, so
    that a Ctrl-C during the warm start still returns the best so far.

    >>> from hios_opt import generators, Platform
    >>> s = warm_start_schedule(generators.chain(3), Platform(gpus=2))
    >>> s.algorithm in WARM_ALGORITHMS
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
    for name in WARM_ALGORITHMS:
        estimate = _WARM_SECONDS_PER_OPS2[name] * graph.n_ops ** 2
        if best is not None and deadline is not None and time.monotonic() + estimate > deadline:
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
