"""Executor timeouts are bounded (issue #22): ``run --backend cpu --timeout
1e30`` ended in OverflowError and SIGABRT (exit 134), the distributed backend
in "Python int too large to convert to C int". Now any timeout outside
``(0, MAX_TIMEOUT_S]`` is an ExecutorError, checked before anything runs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from hios_opt import Schedule
from hios_opt.cli import main
from hios_opt.errors import ExecutorError
from hios_opt.executor import compile, run
from hios_opt.executor.cpu import CpuExecutor
from hios_opt.executor.plan import MAX_TIMEOUT_S, check_timeout
from hios_opt.trace import trace

BAD = [1e30, math.inf, math.nan, 0, -1.0, True, "60", MAX_TIMEOUT_S * 1.001]


@pytest.fixture(scope="module")
def plan():
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    traced = trace(net, torch.ones(1, 4))
    return compile(traced, Schedule.sequential(traced.ids))


@pytest.mark.parametrize("value", BAD, ids=repr)
def test_check_timeout_refuses(value):
    with pytest.raises(ExecutorError, match=r"timeout_s must be a number of seconds in \(0, 604800\]"):
        check_timeout(value)


def test_check_timeout_accepts_up_to_a_week():
    assert check_timeout(MAX_TIMEOUT_S) == MAX_TIMEOUT_S and check_timeout(1) == 1.0


@pytest.mark.parametrize("backend", ["cpu", "distributed"])
def test_run_refuses_before_running(plan, backend):
    with pytest.raises(ExecutorError, match="timeout_s"):
        run(plan, torch.ones(1, 4), backend=backend, timeout_s=1e30, warmup=0, repeat=1)


def test_cpu_executor_refuses(plan):
    with pytest.raises(ExecutorError, match="timeout_s"):
        CpuExecutor(plan, timeout_s=1e30)
    executor = CpuExecutor(plan, timeout_s=10)
    try:
        with pytest.raises(ExecutorError, match="timeout_s"):
            executor(torch.ones(1, 4), timeout_s=1e30)
        assert executor(torch.ones(1, 4)).outputs is not None  # still usable
    finally:
        executor.close()


@pytest.mark.parametrize("backend", ["cpu", "distributed"])
def test_cli_refuses_up_front(backend, capsys, tmp_path):
    schedule = tmp_path / "never-read.json"
    code = main(["run", "squeezenet", "--input-size", "32", "--schedule", str(schedule), "--backend", backend,
                 "--timeout", "1e30"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--timeout must be a number of seconds" in err
