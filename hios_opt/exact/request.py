"""One exact solve's question and settings, checked once and passed whole.

:func:`hios_opt.exact.solve` turns its keyword arguments into a
:class:`SolveRequest`; every solver reads what it needs from it (the problem,
the time it has left, threads, seed, the warm start, the shared
:class:`~hios_opt.exact.incumbent.Incumbent`) instead of ten repeated
keywords.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..checks import check_int, check_number
from ..costs import StageModel
from ..errors import OptionError
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .incumbent import Incumbent, SolveProgress

__all__ = ["SolveRequest", "check_options", "MAX_SEED"]

#: Largest ``seed``: CP-SAT, HiGHS and CBC take a 32-bit signed seed.
MAX_SEED = 2**31 - 1


def check_options(time_limit: Any, workers: Any, seed: Any, resolution_ms: Any) -> None:
    """The options every solver shares, or :class:`OptionError` naming the one at fault."""
    check_number(time_limit, "time_limit", min_value=0, include_min=False, finite=False, none_ok=True,
                 expected="a number of seconds > 0 (or None for no limit)")
    check_int(workers, "workers", min_value=1, none_ok=True, expected="an integer >= 1 (or None: all cores)")
    check_int(seed, "seed", min_value=0, max_value=MAX_SEED)
    check_number(resolution_ms, "resolution_ms", min_value=0, include_min=False, none_ok=True,
                 expected="a finite number > 0 (or None: automatic)")


@dataclass
class SolveRequest:
    """A checked solve: the problem, the limits, and what the solvers share.

    ``deadline`` is a :func:`time.monotonic` time (the whole call must end
    near it); ``warm`` is the schedule the search starts from (set by
    :func:`~hios_opt.exact.solve` once the warm start has run);
    ``incumbent`` collects every schedule and bound found; ``options`` are
    the solver's own (checked by the solver).
    """

    graph: OpGraph
    platform: Platform
    cost_model: StageModel | None = None
    time_limit: float | None = 60.0
    workers: int | None = None
    seed: int = 0
    log: bool = False
    resolution_ms: float | None = None
    callback: Callable[[SolveProgress], Any] | None = None
    started: float = field(default_factory=time.monotonic)
    options: dict[str, Any] = field(default_factory=dict)
    warm: Schedule | None = None
    incumbent: Incumbent = field(init=False)

    def __post_init__(self) -> None:
        check_options(self.time_limit, self.workers, self.seed, self.resolution_ms)
        if self.cost_model is not None and not isinstance(self.cost_model, StageModel):
            raise OptionError(f"cost_model must be a StageModel, got {type(self.cost_model).__name__}")
        if self.callback is not None and not callable(self.callback):
            raise OptionError(f"callback must be callable (or None), got {type(self.callback).__name__}")
        self.incumbent = Incumbent(self.callback, self.started)

    @property
    def deadline(self) -> float:
        return self.started + (self.time_limit if self.time_limit is not None else 1e9)

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def threads(self) -> int:
        """Threads the solve may use: ``workers``, or every core."""
        return self.workers if self.workers is not None else (os.cpu_count() or 1)

    def stopped(self) -> bool:
        """Whether the deadline has passed or the searches were told to stop."""
        return self.incumbent.stopping or time.monotonic() >= self.deadline

    @property
    def has_time_limit(self) -> bool:
        return self.time_limit is not None and math.isfinite(self.time_limit)
