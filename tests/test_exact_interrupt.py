"""run_stoppable: the helper thread that Ctrl-C stops, shared by CP-SAT and HiGHS."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from hios_opt.exact.interrupt import run_stoppable

pytestmark = [pytest.mark.skipif(os.name != "posix", reason="needs SIGINT"), pytest.mark.usefixtures("python_sigint")]


def _search(flag: threading.Event, limit: float = 20.0):
    """A stand-in for a solver: runs until stopped (or its time limit)."""
    def work() -> str:
        return "stopped" if flag.wait(limit) else "time limit"
    return work


def test_ctrl_c_stops_the_work_and_is_reported():
    flag = threading.Event()
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    value, pressed = run_stoppable(_search(flag), flag.set, "test")
    assert (value, pressed) == ("stopped", True)
    assert time.monotonic() - t0 < 5
    # The previous handler is back: the next Ctrl-C raises KeyboardInterrupt.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.0)


def test_stop_is_repeated_until_the_work_returns():
    # A stop request that comes before the search has started is lost by
    # some solvers: run_stoppable repeats it.
    calls = []
    started = threading.Event()

    def work() -> int:
        time.sleep(0.5)           # not searching yet: early stops are ignored
        started.set()
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(calls)

    def stop() -> None:
        if started.is_set():
            calls.append(time.monotonic())

    timer = threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    value, pressed = run_stoppable(work, stop, "test")
    assert pressed and value == 3


def test_without_ctrl_c_and_errors():
    assert run_stoppable(lambda: 42, lambda: None, "test") == (42, False)

    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_stoppable(fail, lambda: None, "test")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_from_another_thread_no_handler_is_installed():
    out = {}

    def body() -> None:
        out["result"] = run_stoppable(lambda: "done", lambda: None, "test")
        out["handler"] = signal.getsignal(signal.SIGINT)

    t = threading.Thread(target=body)
    t.start()
    t.join(10)
    assert out == {"result": ("done", False), "handler": signal.default_int_handler}


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_lost_keyboard_interrupt_still_stops_the_search():
    # A KeyboardInterrupt raised inside a gc callback is printed and dropped
    # by CPython; inside ctrl_c_scope the Ctrl-C is recorded anyway, and the
    # search that follows stops at once instead of running to its limit.
    import gc
    import warnings

    from hios_opt.exact.interrupt import ctrl_c_scope

    def slow_callback(phase, info):
        if phase == "start":
            time.sleep(0.5)  # the Ctrl-C lands here

    flag = threading.Event()
    with ctrl_c_scope():
        gc.callbacks.append(slow_callback)
        timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                timer.start()
                gc.collect()       # KeyboardInterrupt raised in the callback: lost
        finally:
            gc.callbacks.remove(slow_callback)
            timer.cancel()
        t0 = time.monotonic()
        value, pressed = run_stoppable(_search(flag), flag.set, "test")
    assert (value, pressed) == ("stopped", True)
    assert time.monotonic() - t0 < 5
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _ctrl_c_turned_into(error: Exception):
    """A stand-in for a C++ binding that catches the KeyboardInterrupt of a
    Ctrl-C raised while it converts its arguments, and raises another error."""
    def build(*args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(2.0)
        except KeyboardInterrupt:
            raise error from None
        raise AssertionError("no Ctrl-C came")
    return build


def test_ctrl_c_that_a_binding_turns_into_another_error(monkeypatch):
    # pybind11 reports a KeyboardInterrupt raised during argument conversion
    # as "TypeError: incompatible function arguments"; seen when Ctrl-C landed
    # in PuLP's building of the HiGHS model. The solve still ends as
    # interrupted, with the warm start.
    import pulp

    from hios_opt import Platform, evaluate, generators
    from hios_opt.exact import solve

    g = generators.inception_block()
    p = Platform(gpus=2, streams=2)
    monkeypatch.setattr(pulp.HiGHS, "buildSolverModel",
                        _ctrl_c_turned_into(TypeError("addRow(): incompatible function arguments")))
    r = solve(g, p, "milp", time_limit=30, workers=1)
    assert r.interrupted and r.status == "feasible"
    assert r.makespan_ms == evaluate(g, p, r.schedule).makespan
    assert r.makespan_ms == r.warm_start_makespan_ms  # the warm start, as for any Ctrl-C before the search


def test_other_errors_are_not_taken_for_ctrl_c(monkeypatch):
    import pulp

    from hios_opt import Platform, generators
    from hios_opt.exact import solve

    def broken(*args, **kwargs):
        raise TypeError("a real bug")

    monkeypatch.setattr(pulp.HiGHS, "buildSolverModel", broken)
    with pytest.raises(TypeError, match="a real bug"):
        solve(generators.diamond(), Platform(gpus=2, streams=2), "milp", time_limit=30, workers=1)
