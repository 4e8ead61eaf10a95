"""Run a solver's search in a helper thread that Ctrl-C stops cleanly."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


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
    then run on to its time limit. ``stop()`` is called again every 0.1 s
    until ``work`` returns, in case the first call came before the search
    had started.
    """
    pressed = threading.Event()
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
    main = threading.current_thread() is threading.main_thread()
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
            signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value"), pressed.is_set()
