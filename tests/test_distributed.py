"""Distributed backend: gloo ranks on the CPU, faults, timeouts.

Ranks start from a forkserver that imports torch once, so after the first
test each launch costs well under a second; the suite keeps the launches few.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hios_opt.errors import ExecutorError
from hios_opt.executor import compile, run
from hios_opt.executor.distributed import ModelSpec, run_distributed
from hios_opt.trace import trace

from .support.nets import Inception, assert_same, build, random_schedule

pytestmark = pytest.mark.slow


def _rank_processes() -> list[int]:
    """Pids of live processes forked by this process's forkserver (the ranks)."""
    me = str(os.getpid())
    servers, children = set(), {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        state, ppid = fields[0], fields[1]
        if state == "Z":
            continue
        if ppid == me and b"forkserver" in cmdline:
            servers.add(entry.name)
        children.setdefault(ppid, []).append(int(entry.name))
    return [pid for server in servers for pid in children.get(server, [])]


@pytest.fixture(scope="module")
def inception():
    model, inputs = build("inception")
    with torch.no_grad():
        expected = model(*inputs)
    return model, inputs, trace(model, inputs), expected


@pytest.mark.parametrize("gpus,streams", [(1, 1), (1, 2), (2, 1), (2, 2)])
def test_two_gloo_ranks_match_forward(inception, gpus: int, streams: int) -> None:
    _, inputs, traced, expected = inception
    schedule = random_schedule(traced, gpus, streams, seed=gpus * 10 + streams)
    m = run_distributed(traced, schedule, inputs, world_size=2, warmup=0, repeat=2, timeout_s=60)
    assert_same(m.outputs, expected)
    assert m.backend == "distributed" and m.runs == 2 and m.meta["world_size"] == 2
    assert {t.op for t in m.op_timings} == set(traced.ids)


def test_three_ranks_and_plan_input(inception) -> None:
    _, inputs, traced, expected = inception
    plan = compile(traced, random_schedule(traced, 3, 2, seed=7))
    m = run(plan, inputs, backend="distributed", warmup=0, repeat=1, timeout_s=60)
    assert_same(m.outputs, expected)
    assert m.meta["world_size"] == 3


def test_model_spec_with_tuple_outputs() -> None:
    model, inputs = build("two")
    with torch.no_grad():
        expected = model(*inputs)
    spec = ModelSpec(functools.partial(_two_in_two_out), inputs)
    traced = spec.build()
    schedule = random_schedule(traced, 2, 1, seed=1)
    m = run_distributed(spec, schedule, inputs, warmup=0, repeat=1, timeout_s=60)
    assert_same(m.outputs, expected)


def _two_in_two_out():
    return build("two")[0]


@pytest.mark.parametrize("mode", ["raise", "exit"])
def test_dead_rank_raises_executor_error(inception, mode: str) -> None:
    _, inputs, traced, _ = inception
    schedule = random_schedule(traced, 2, 1, seed=2)
    start = time.perf_counter()
    with pytest.raises(ExecutorError, match="rank 1 failed") as info:
        run_distributed(traced, schedule, inputs, world_size=2, repeat=1, timeout_s=30,
                        fault_injection={"rank": 1, "mode": mode})
    assert time.perf_counter() - start < 30
    assert ("injected fault" if mode == "raise" else "exited with code 3") in str(info.value)
    assert not _rank_processes()


def test_hung_rank_times_out(inception) -> None:
    _, inputs, traced, _ = inception
    schedule = random_schedule(traced, 2, 1, seed=2)
    start = time.perf_counter()
    with pytest.raises(ExecutorError, match="timed out after 4 s"):
        run_distributed(traced, schedule, inputs, world_size=2, repeat=1, timeout_s=4,
                        fault_injection={"rank": 0, "mode": "hang"})
    assert time.perf_counter() - start < 10
    assert not _rank_processes()


def test_bad_arguments(inception) -> None:
    _, inputs, traced, _ = inception
    schedule = random_schedule(traced, 3, 1, seed=0)
    with pytest.raises(ExecutorError, match="world_size=2 is too small"):
        run_distributed(traced, schedule, inputs, world_size=2)
    with pytest.raises(ExecutorError, match="traced shape"):
        run_distributed(traced, schedule, torch.zeros(1, 3, 10, 10))
    with pytest.raises(ExecutorError, match="needs a TracedGraph"):
        run_distributed(Inception(), schedule, inputs)


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not installed")
def test_torchrun_entry_point(tmp_path) -> None:
    import hios_opt.models as zoo

    size = zoo.info("squeezenet").min_input_size
    model = zoo.get("squeezenet", input_size=size)
    traced = trace(model, model.example_input())
    path = tmp_path / "schedule.json"
    random_schedule(traced, 2, 2, seed=0).save(path)
    out = tmp_path / "out.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "hios_opt.executor.distributed", "--model", "zoo:squeezenet", "--input-size", str(size),
           "--schedule", str(path), "--repeat", "2", "--output", str(out), "--timeout", "60"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "median" in result.stdout
    with torch.no_grad():
        expected = model(model.example_input())
    assert_same(torch.load(out), expected, atol=1e-4)
