"""Ctrl-C during an exact solve, all of it: run the search in a helper
thread that Ctrl-C stops cleanly, and never lose the Ctrl-C.

The solvers' searches run through :func:`run_stoppable` (CP-SAT through
:func:`run_interruptible`); :func:`hios_opt.exact.solve` wraps the whole call
in :func:`ctrl_c_scope` and turns a Ctrl-C outside any search (or one that a
binding turned into another error) into an interrupted result.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

# The Ctrl-C record of the solve running in the main thread (None: none).
_seen: threading.Event | None = None


def _restore(previous: Any) -> None:
    signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


@contextmanager
def ctrl_c_scope() -> Iterator[threading.Event]:
    """Within this block (main thread), Ctrl-C raises ``KeyboardInterrupt``
    as usual and is also recorded in the event it yields; :func:`run_stoppable`
    inside the block stops its search at once when a Ctrl-C was recorded
    before it started.

    CPython prints and drops a ``KeyboardInterrupt`` raised while the main
    thread runs a finalizer or a gc callback ("Exception ignored in ..."); the
    solve would then run on to its time limit. Re-entrant; does nothing in
    other threads (only the main thread receives Ctrl-C).
    """
    global _seen
    if threading.current_thread() is not threading.main_thread() or _seen is not None:
        yield _seen if _seen is not None else threading.Event()
        return
    seen = threading.Event()

    def on_sigint(signum: int, frame: Any) -> None:
        seen.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    _seen = seen
    try:
        yield seen
    finally:
        _seen = None
        _restore(previous)


def run_stoppable(work: Callable[[], T], stop: Callable[[], Any], name: str) -> tuple[T | None, bool]:
    """``work()`` in a helper thread; Ctrl-C meanwhile calls ``stop()``,
    which must make ``work`` return soon (with its best solution so far).
    Returns ``work``'s result and whether Ctrl-C was pressed; an exception
    of ``work`` is raised here.

    Called from the main thread, this installs a SIGINT handler that only
    records the Ctrl-C (and restores the previous handler afterwards). The
    default handler raises ``KeyboardInterrupt`` wherever the main thread
    happens to be, and when that is a finalizer or a callback from C the
    exception is printed as "Exception ignored" and lost: the search would
    then run on to its time limit. Inside :func:`ctrl_c_scope`, a Ctrl-C
    recorded before the search started stops it at once. ``stop()`` is
    called again every 0.1 s until ``work`` returns, in case the first call
    came before the search had started.
    """
    main = threading.current_thread() is threading.main_thread()
    pressed = _seen if main and _seen is not None else threading.Event()
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # pragma: no cover - re-raised below
            outcome["error"] = exc
        finally:
            done.set()

    def on_sigint(signum: int, frame: Any) -> None:
        pressed.set()

    previous: Any = None
    if main:
        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        worker = threading.Thread(target=target, name=name, daemon=True)
        worker.start()
        while not done.wait(0.1):
            if pressed.is_set():
                stop()
    finally:
        if main:
            _restore(previous)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value"), pressed.is_set()


def run_interruptible(solver: Any, model: Any, callback: Any = None) -> tuple[int | None, bool]:
    """``solver.solve(model, callback)`` that Ctrl-C stops cleanly.

    CP-SAT's own SIGINT handler is not async-signal-safe: it logs (allocates)
    inside the handler, and a Ctrl-C that lands while the solver is in
    ``malloc`` deadlocks the process for good (seen in presolve). So CP-SAT is
    told not to catch SIGINT, the search runs in a helper thread, and Ctrl-C
    calls :meth:`CpSolver.stop_search`, which ends the search as a time limit
    would, with the best solution so far (:func:`run_stoppable`).
    Returns the status code (``None`` if the solver returned none) and
    whether the search was interrupted.
    """
    solver.parameters.catch_sigint_signal = False
    return run_stoppable(lambda: solver.solve(model, callback), solver.stop_search, "hios-opt-cpsat")


