"""What the searches of one solve share: the best schedule, the best bound,
the order to stop, and the caller's progress callback.

Every solver offers the schedules it finds to the solve's :class:`Incumbent`
with :func:`hios_opt.evaluate`'s makespan, and its proven bounds; the
incumbent keeps the shortest schedule and the largest bound, and tells the
caller's ``callback`` about each improvement. The result of a solve is never
worse than a schedule its callback was shown (the incumbent's best is among
the candidates of :func:`~hios_opt.exact.result.finish`). A portfolio's
searches share one incumbent, so that each cuts with the others' best.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..schedules import Schedule

__all__ = ["Incumbent", "SolveProgress", "RELATIVE_TOLERANCE"]

#: Relative tolerance of float comparisons between a makespan and a bound.
RELATIVE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class SolveProgress:
    """One report to a solve's ``callback``.

    Attributes
    ----------
    elapsed_s : float
        Seconds since the solve started.
    makespan_ms : float
        The best makespan so far (``inf`` before the first schedule).
    lower_bound_ms : float
        The best proven bound so far (0.0 before the first).
    schedule : Schedule or None
        The new best schedule when this report is about one; ``None`` when
        only the bound moved.
    source : str
        Who found it: ``"warm start"``, a heuristic's or a solver's name.
    """

    elapsed_s: float
    makespan_ms: float
    lower_bound_ms: float
    schedule: Schedule | None
    source: str

    @property
    def gap(self) -> float:
        """``(makespan - bound) / bound`` (``inf`` without a schedule or bound)."""
        if not math.isfinite(self.makespan_ms) or self.lower_bound_ms <= 0:
            return math.inf
        return max(0.0, (self.makespan_ms - self.lower_bound_ms) / self.lower_bound_ms)


class Incumbent:
    """The best schedule and bound of one solve, shared between threads.

    ``best_ms`` and ``stopping`` are plain attributes, read without the lock
    on every step of a search (a stale read only delays a cut).
    ``callback`` (called under a lock, so never twice at once, from whichever
    thread found the improvement) receives a :class:`SolveProgress`; an
    exception it raises is kept in ``error``, stops the searches, and
    :func:`hios_opt.exact.solve` raises it when they have ended.

    >>> x = Incumbent()
    >>> x.offer(None, 5.0), x.offer(None, 7.0), x.best_ms
    (True, False, 5.0)
    >>> x.raise_bound(4.0), x.raise_bound(3.0), x.bound_ms
    (True, False, 4.0)
    """

    def __init__(self, callback: Callable[[SolveProgress], Any] | None = None, started: float | None = None) -> None:
        self._lock = threading.RLock()
        self.best_ms = math.inf
        self.best: Schedule | None = None
        self.source = ""
        self.bound_ms = 0.0
        #: How far below the optimum ``bound_ms`` may sit by rounding alone
        #: (the time grid of the exact solves it came from).
        self.slack_ms = 0.0
        self.stopping = False
        self._stoppers: list[Callable[[], Any]] = []
        self._callback = callback
        self._started = time.monotonic() if started is None else started
        self.error: BaseException | None = None

    def offer(self, schedule: Schedule | None, makespan_ms: float, source: str = "") -> bool:
        """Keep ``schedule`` (of evaluated makespan ``makespan_ms``) if it is
        shorter than the best so far; whether it was."""
        with self._lock:
            if not makespan_ms < self.best_ms:
                return False
            self.best_ms, self.best, self.source = makespan_ms, schedule, source
            self._report(schedule)
            return True

    def raise_bound(self, bound_ms: float | None) -> bool:
        """Keep a proven lower bound if it is larger than the best so far;
        whether it was."""
        if bound_ms is None or not math.isfinite(bound_ms):
            return False
        with self._lock:
            if not bound_ms > self.bound_ms:
                return False
            self.bound_ms = bound_ms
            self._report(None)
            return True

    def closed(self) -> bool:
        """Whether the best schedule meets the bound (within the relative
        tolerance and ``slack_ms``; no absolute floor, so that times in
        nanoseconds are compared as strictly): nothing is left to search for."""
        return math.isfinite(self.best_ms) and (
            self.best_ms - self.bound_ms <= RELATIVE_TOLERANCE * self.best_ms + self.slack_ms)

    def _report(self, schedule: Schedule | None) -> None:
        if self._callback is None or self.error is not None:
            return
        try:
            self._callback(SolveProgress(time.monotonic() - self._started, self.best_ms, self.bound_ms, schedule,
                                         self.source))
        except BaseException as exc:  # raised by solve() once the searches have stopped
            self.error = exc
            self.stop()

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
