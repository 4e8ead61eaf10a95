"""The CUDA backend on a real GPU: streams, events, copies, CUDA graphs, the
GPU profiler and bench-real. Skipped on machines without CUDA (CI has none);
the same engine runs on CPU streams in ``test_executor.py`` everywhere.

Two logical GPUs share one physical device where the machine has only one,
which exercises the multi-GPU event logic on a single GPU; the cross-device
copy path needs two devices and is skipped below that.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import torch
import torch.fx
from torch import nn

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

import hios_opt.models as zoo  # noqa: E402
from hios_opt import Platform, Schedule, Stage, algorithms, schedule  # noqa: E402
from hios_opt.errors import ExecutorError, OpExecutionError  # noqa: E402
from hios_opt.executor import CudaExecutor, compile, run  # noqa: E402
from hios_opt.profile import _independent_pairs, measure_costs  # noqa: E402
from hios_opt.realbench import TOLERANCES, bench_real  # noqa: E402
from hios_opt.trace import trace  # noqa: E402

from .support.nets import _FAULT, Faulty  # noqa: E402  (the model whose "explode" op raises when armed)

RTOL, ATOL = TOLERANCES["cuda"]
SHAPES = [(1, 1), (1, 2), (2, 1), (2, 2), (3, 2)]


def _options(name: str) -> dict:
    return {"variant": "mobile", "num_cells": 2} if name == "nasnet" else {}


def _one_device(gpus: int) -> dict[int, str]:
    return {k: "cuda:0" for k in range(gpus)}


@pytest.fixture(scope="module", params=zoo.names())
def zoo_case(request):
    name = request.param
    size = max(zoo.info(name).min_input_size, 64)
    model = zoo.get(name, input_size=size, **_options(name))
    x = model.example_input()
    traced = trace(model, x, name=name)
    gpu_model = copy.deepcopy(model).to("cuda:0")
    with torch.no_grad():
        expected = gpu_model(x.to("cuda:0"))
    return name, traced, x.to("cuda:0"), expected


def test_every_algorithm_and_shape_matches_forward_on_cuda(zoo_case):
    name, traced, x, expected = zoo_case
    graph = traced.to_opgraph()
    checked = 0
    for gpus, streams in SHAPES:
        platform = Platform(gpus=gpus, streams=streams)
        for algorithm in algorithms():
            plan = compile(traced, schedule(graph, platform, algorithm), _one_device(gpus))
            m = run(plan, (x,), backend="cuda", warmup=1, repeat=2)
            assert m.outputs.device == x.device
            assert torch.allclose(m.outputs, expected, rtol=RTOL, atol=ATOL), (name, algorithm, gpus, streams)
            checked += 1
    assert checked == len(SHAPES) * len(algorithms())


def test_cuda_graph_replay_matches_forward(zoo_case):
    name, traced, x, expected = zoo_case
    graph = traced.to_opgraph()
    for gpus, streams in ((1, 1), (1, 3), (2, 2)):
        sched = schedule(graph, Platform(gpus=gpus, streams=streams), "hios-lp")
        m = run(compile(traced, sched, _one_device(gpus)), (x,), backend="cuda", warmup=1, repeat=3, cuda_graph=True)
        assert m.meta["cuda_graph"] is True
        assert torch.allclose(m.outputs, expected, rtol=RTOL, atol=ATOL), (name, gpus, streams)


def test_cuda_graph_replays_new_inputs_and_rejects_new_shapes():
    torch.manual_seed(0)
    model = zoo.get("inception_v3", input_size=75)
    x = model.example_input()
    traced = trace(model, x, name="inception_v3")
    gpu_model = copy.deepcopy(model).to("cuda:0")
    sched = schedule(traced.to_opgraph(), Platform(gpus=2, streams=2), "hios-lp")
    executor = CudaExecutor(compile(traced, sched, _one_device(2)), cuda_graph=True)
    for _ in range(3):  # each replay must read the new input, not the captured one
        xi = torch.randn_like(x).to("cuda:0")
        with torch.no_grad():
            want = gpu_model(xi)
        assert torch.allclose(executor(xi).outputs, want, rtol=RTOL, atol=ATOL)
    with pytest.raises(ExecutorError, match="shape"):
        executor(torch.randn(1, 3, 80, 80, device="cuda:0"))


def test_event_times_respect_every_dependency():
    """On real streams the recorded times must obey the graph: no op starts before its producers end."""
    model = zoo.get("inception_v3", input_size=75)
    x = model.example_input().to("cuda:0")
    traced = trace(model, x.cpu(), name="inception_v3")
    graph = traced.to_opgraph()
    for gpus, streams in ((1, 2), (2, 2), (3, 3)):
        sched = schedule(graph, Platform(gpus=gpus, streams=streams), "hios-lp")
        plan = compile(traced, sched, _one_device(gpus))
        m = run(plan, (x,), backend="cuda", warmup=1, repeat=3)
        times = {t.op: t for t in m.op_timings}
        assert set(times) == set(traced.ids)
        for t in times.values():
            assert t.end_ms >= t.start_ms >= 0.0
        for op in traced.ids:
            for pred in traced.predecessors(op):
                # same device, so one clock; events resolve to about 0.5 us
                assert times[op].start_ms >= times[pred].end_ms - 1e-3, (op, pred, gpus, streams)


def test_memory_is_released_between_runs():
    model = zoo.get("randwire", input_size=64)
    x = model.example_input().to("cuda:0")
    traced = trace(model, x.cpu(), name="randwire")
    sched = schedule(traced.to_opgraph(), Platform(gpus=2, streams=3), "hios-lp")
    executor = CudaExecutor(compile(traced, sched, _one_device(2)), timing=False)
    executor(x)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    peaks = []
    for _ in range(5):
        out = executor(x).outputs
        torch.cuda.synchronize()
        del out
        peaks.append(torch.cuda.memory_allocated())
    assert max(peaks) <= base + (1 << 20), (base, peaks)  # nothing accumulates run over run


# ----------------------------------------------------------------- faults
def test_op_error_names_the_op_and_the_engine_recovers():
    torch.manual_seed(0)
    model = Faulty().eval()
    x = torch.randn(2, 4)
    traced = trace(model, x)
    faulty = next(op for op in traced.ids if "explode" in op)
    plan = compile(traced, Schedule.from_gpu_lists([[traced.ids[0]], list(traced.ids[1:])]), _one_device(2))
    executor = CudaExecutor(plan)
    xs = x.to("cuda:0")
    _FAULT["armed"] = True
    try:
        with pytest.raises(OpExecutionError, match=faulty):
            executor(xs)
    finally:
        _FAULT["armed"] = False
    with torch.no_grad():
        want = copy.deepcopy(model).to("cuda:0")(xs)
    assert torch.allclose(executor(xs).outputs, want, rtol=RTOL, atol=ATOL)


@torch.fx.wrap
def spin_tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh behind a ~20 ms spin kernel: its stream lags far behind the host."""
    if x.is_cuda:  # traced on the CPU
        torch.cuda._sleep(40_000_000)
    return torch.tanh(x)


class CrossRead(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = x * 2.0  # logical GPU 0
        e = spin_tanh(x) + a  # logical GPU 1 reads a, long after the host dropped GPU 0's reference
        b = x * 3.0  # logical GPU 0 again: the allocator would like a's block for b
        return e, b - 1.0


def test_shared_device_memory_is_not_reused_under_a_late_reader():
    x = torch.randn(1 << 22, device="cuda:0")
    traced = trace(CrossRead(), x.cpu())
    ops = traced.ids
    mul = ops[0]
    tail = [op for op in ops if op != mul]
    # GPU 0: a, then b; GPU 1: the spin and the add, enqueued between them
    stages = [Stage(0, (mul,))] + [Stage(1, (op,)) for op in tail[:-1]] + [Stage(0, (tail[-1],))]
    plan = compile(traced, Schedule(stages, gpus=2), _one_device(2))
    assert [s.op for s in plan.steps][-1] == tail[-1]
    executor = CudaExecutor(plan, timing=False)
    for _ in range(3):
        e, c = executor(x).outputs
        assert torch.allclose(e, torch.tanh(x) + 2 * x, rtol=RTOL, atol=ATOL)
        assert torch.allclose(c, 3 * x - 1, rtol=RTOL, atol=ATOL)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="peer copies need two GPUs")
def test_cross_device_copies():
    model = zoo.get("inception_v3", input_size=75)
    x = model.example_input()
    traced = trace(model, x, name="inception_v3")
    sched = schedule(traced.to_opgraph(), Platform(gpus=2, streams=2), "hios-lp")
    plan = compile(traced, sched, {0: "cuda:0", 1: "cuda:1"})
    with torch.no_grad():
        want = copy.deepcopy(model).to("cuda:0")(x.to("cuda:0"))
    m = run(plan, (x.to("cuda:0"),), backend="cuda", warmup=1, repeat=2)
    assert plan.transfers and torch.allclose(m.outputs, want, rtol=RTOL, atol=ATOL)


# -------------------------------------------------------------- profiler
@pytest.mark.parametrize("timing", ["launch", "kernel"])
def test_profile_on_cuda(timing, tmp_path):
    model = zoo.get("squeezenet", input_size=64)
    traced = trace(model, model.example_input(), name="squeezenet")
    g = measure_costs(traced, "cuda:0", warmup=2, repeat=5, max_pairs=20, progress=False,
                      cache_directory=tmp_path, timing=timing)
    assert g.meta["timing"] == timing and g.meta["device"] == "cuda:0"
    assert all(op.latency_ms > 0 for op in g.ops)
    expected_pairs = min(20, len(_independent_pairs(traced)))
    assert expected_pairs > 0 and g.meta["measured_pairs"] == expected_pairs == len(g.stage_table)
    for group, ms in g.stage_table.items():  # a pair never beats its slowest member (clamped if noise says so)
        assert ms >= max(g.ops[i].latency_ms for i in group) - 1e-9
    assert g.meta["link"]["bandwidth_gbps"] > 0
    if timing == "kernel":
        assert g.meta["lead_ms"] > 0 and g.meta["uncovered_regions"] == 0
        scale, plain = g.meta["event_scale"], g.meta["plain_sweep_ms"]
        assert 0 < scale <= 1 and plain > 0 and g.meta["plain_sweep"] == "cuda-graph"
        if scale < 1:  # the op times were scaled to add up to the sweep without events
            assert g.total_latency_ms == pytest.approx(plain, rel=1e-6)
    again = measure_costs(traced, "cuda:0", warmup=2, repeat=5, max_pairs=20, progress=False,
                          cache_directory=tmp_path, timing=timing)
    assert again.to_dict() == g.to_dict()  # from the cache, keyed by timing


def test_kernel_timing_is_below_launch_timing():
    """At batch 1 a small model is launch-bound: its kernels alone take less than its launches."""
    model = zoo.get("squeezenet", input_size=64)
    traced = trace(model, model.example_input(), name="squeezenet")
    sums = {}
    for timing in ("launch", "kernel"):
        g = measure_costs(traced, "cuda:0", warmup=2, repeat=7, pairs=False, progress=False, cache=False,
                          link=False, timing=timing)
        sums[timing] = g.total_latency_ms
    assert sums["kernel"] < sums["launch"], sums


# ------------------------------------------------------------ bench-real
@pytest.mark.parametrize("cuda_graph", [False, True])
def test_bench_real_on_cuda(cuda_graph):
    df = bench_real("squeezenet", input_size=64, gpus=1, streams=2, device="cuda",
                    algorithms="sequential,ios,hios-lp", repeat=6, rounds=2, max_pairs=20, cache=False,
                    cuda_graph=cuda_graph)
    assert list(df.algorithm) == ["sequential", "ios", "hios-lp"]
    assert bool(df.outputs_ok.all()) and bool((df.measured_ms > 0).all())
    assert df.attrs["cuda_graph"] is cuda_graph
    assert df.attrs["graph_meta"]["timing"] == ("kernel" if cuda_graph else "launch")


def test_cli_run_on_cuda(tmp_path):
    out = tmp_path / "s.json"
    graph = tmp_path / "g.json"
    env_cmd = [sys.executable, "-m", "hios_opt"]
    subprocess.run(env_cmd + ["profile", "squeezenet", "--input-size", "64", "--device", "cuda", "--max-pairs", "10",
                              "--timing", "kernel", "--no-cache", "-q", "-o", str(graph)], check=True)
    assert json.loads(graph.read_text())["meta"]["timing"] == "kernel"
    subprocess.run(env_cmd + ["schedule", str(graph), "--gpus", "1", "--streams", "2", "-o", str(out)], check=True)
    done = subprocess.run(env_cmd + ["run", "squeezenet", "--input-size", "64", "--device", "cuda", "--schedule",
                                     str(out), "--graph", str(graph), "--cuda-graph", "--json"],
                          check=True, capture_output=True, text=True)
    report = json.loads(done.stdout)
    assert report["outputs_ok"] and report["cuda_graph"] and report["median_ms"] > 0
