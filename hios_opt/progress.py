"""Live progress of a solve: elapsed time, best makespan, bound and gap.

:class:`SolveProgressBar` is a solve ``callback`` (see
:func:`hios_opt.exact.solve`) that draws a tqdm bar over the time limit, on
a terminal or in a notebook (``tqdm.auto``), refreshed at least every
second by a ticker thread even when nothing improves, and says where the
best schedule came from. ``solve(..., progress=True)`` uses it.
"""

from __future__ import annotations

import math
import shutil
import sys
import threading
import time
from typing import IO, Any

from tqdm.auto import tqdm

__all__ = ["SolveProgressBar"]

#: Seconds between two refreshes of the bar when nothing improves.
REFRESH_S = 1.0


class SolveProgressBar:
    """A progress bar fed by a solve's callback; use as a context manager.

    >>> with SolveProgressBar(time_limit=1, file=None, disable=True) as bar:
    ...     pass
    """

    def __init__(self, time_limit: float | None, *, file: IO[str] | None = None, disable: bool = False,
                 description: str = "solve") -> None:
        total = time_limit if time_limit is not None and math.isfinite(time_limit) else None
        # A terminal that reports no size (0 x 0) would make tqdm draw nothing.
        size = shutil.get_terminal_size((100, 24))
        self._bar = tqdm(total=total, desc=description, unit="s", file=file if file is not None else sys.stderr,
                         disable=disable, leave=True, ncols=size.columns, nrows=max(2, size.lines),
                         bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total_fmt} s{postfix}"
                         if total is not None else "{desc}: {n:.1f} s{postfix}")
        self._lock = threading.Lock()
        self._elapsed = 0.0
        self._stop = threading.Event()
        self._started_at: float | None = None
        self._ticker = threading.Thread(target=self._tick, name="hios-opt-progress", daemon=True)
        self._ticker.start()

    def __call__(self, event: Any) -> None:
        """The solve callback: ``event`` is a :class:`~hios_opt.exact.SolveProgress`."""
        with self._lock:
            self._advance(event.elapsed_s)
            postfix = {}
            if math.isfinite(event.makespan_ms):
                postfix["best"] = f"{event.makespan_ms:.6g} ms"
            if event.lower_bound_ms > 0:
                postfix["bound"] = f"{event.lower_bound_ms:.6g} ms"
            if math.isfinite(event.gap):
                postfix["gap"] = f"{100 * event.gap:.2f}%"
            if event.source:
                postfix["by"] = event.source
            self._bar.set_postfix(postfix, refresh=True)

    def _advance(self, elapsed: float) -> None:
        if elapsed > self._elapsed:
            step = elapsed - self._elapsed
            if self._bar.total is not None:
                step = min(step, max(0.0, self._bar.total - self._bar.n))
            self._bar.update(step)
            self._elapsed = elapsed

    def _tick(self) -> None:
        start = time.monotonic()
        while not self._stop.wait(REFRESH_S):
            with self._lock:
                self._advance(max(self._elapsed, time.monotonic() - start))
                self._bar.refresh()

    def close(self) -> None:
        self._stop.set()
        self._ticker.join(2 * REFRESH_S)
        with self._lock:
            self._bar.close()

    def __enter__(self) -> SolveProgressBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
