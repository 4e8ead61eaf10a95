"""Ctrl-C during an exact solve: run the search in a helper thread that
Ctrl-C stops cleanly, and never lose the Ctrl-C."""

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
