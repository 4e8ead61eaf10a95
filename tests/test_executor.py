"""Executor: plans, the CPU backend, the CUDA engine on CPU streams, run()."""

from __future__ import annotations

import json
import threading
import time

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from hios_opt import Schedule, Stage
from hios_opt.errors import (
    CoverageError,
    DependentStageError,
    DeviceError,
    ExecutorError,
    GpuIndexError,
    OpExecutionError,
    ScheduleError,
)
from hios_opt.executor import CpuExecutor, CudaExecutor, SyncStreams, compile, run
from hios_opt.trace import TracedGraph, trace

from .support.nets import _FAULT, Faulty, assert_same, build, random_schedule


# ------------------------------------------------------ hand-made schedules
def sequential(traced: TracedGraph) -> Schedule:
    return Schedule.sequential(traced.ids, graph_name=traced.name, algorithm="sequential")


def round_robin(traced: TracedGraph, gpus: int) -> Schedule:
    return Schedule(
        [Stage(i % gpus, (op,)) for i, op in enumerate(traced.ids)],
        gpus=gpus, streams=1, algorithm="round-robin", graph_name=traced.name,
    )


@pytest.fixture(scope="module")
def models() -> dict[str, tuple[nn.Module, tuple[torch.Tensor, ...], TracedGraph, object]]:
    out = {}
    for net in ("diamond", "inception", "two"):
        model, inputs = build(net)
        with torch.no_grad():
            expected = model(*inputs)
        out[net] = (model, inputs, trace(model, inputs), expected)
    return out


# ---------------------------------------------------------------- outputs
@pytest.mark.parametrize("net", ["diamond", "inception", "two"])
@pytest.mark.parametrize("gpus,streams", [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2)])
def test_cpu_backend_matches_forward(models, net: str, gpus: int, streams: int) -> None:
    _, inputs, traced, expected = models[net]
    for seed in range(2):
        plan = compile(traced, random_schedule(traced, gpus, streams, seed))
        measurement = run(plan, inputs, backend="cpu", warmup=0, repeat=2)
        assert_same(measurement.outputs, expected)


@pytest.mark.parametrize("net", ["diamond", "inception", "two"])
@pytest.mark.parametrize("gpus,streams", [(1, 2), (2, 2), (3, 1), (3, 2)])
def test_stream_engine_on_cpu_streams_matches_forward(models, net: str, gpus: int, streams: int) -> None:
    _, inputs, traced, expected = models[net]
    schedule = random_schedule(traced, gpus, streams, seed=1)
    plan = compile(traced, schedule, device_map={g: "cpu" for g in range(gpus)})
    executor = CudaExecutor(plan, api=SyncStreams())
    for _ in range(2):
        record = executor(*inputs)
        assert_same(record.outputs, expected)
    assert set(record.op_times) == set(traced.ids)


def test_stream_engine_copy_path(models) -> None:
    """Distinct (CPU) devices per logical GPU: per-device module copies and peer-copy streams."""
    _, inputs, traced, expected = models["inception"]
    plan = compile(traced, random_schedule(traced, 3, 2, seed=4), device_map={g: f"cpu:{g}" for g in range(3)})
    executor = CudaExecutor(plan, api=SyncStreams())
    assert_same(executor(*inputs).outputs, expected)
    engine = executor.engine
    assert len(engine.roots) == 3 and engine.roots[torch.device("cpu:0")] is not traced.graph_module
    assert engine.copy_streams and all(src != dst for src, dst in engine.copy_streams)


class _RecordingStreams(SyncStreams):
    """CPU streams that remember every ``record_stream`` call."""

    def __init__(self) -> None:
        self.recorded: list[tuple[torch.Tensor, object]] = []

    def record_stream(self, tensor: torch.Tensor, stream: object) -> None:
        self.recorded.append((tensor, stream))


class _CrossRead(nn.Module):
    """``a`` is made on one logical GPU and read on another, after a slow op there."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = x * 2.0
        d = torch.tanh(x)
        e = d + a
        b = x * 3.0
        return e, b - 1.0


def test_shared_device_reader_is_recorded_on_the_producers_memory() -> None:
    """Two logical GPUs on one device: the reader on the other GPU uses the producer's own
    memory, so it must be recorded on it (``record_stream``); otherwise the allocator may hand
    the block to the producer's stream once the host drops it, while the reader still waits."""
    x = torch.randn(64)
    traced = trace(_CrossRead(), x)
    mul, tanh, add, mul_1 = traced.ids
    sched = Schedule([Stage(0, (mul,)), Stage(1, (tanh,)), Stage(1, (add,)), Stage(0, (mul_1,))], gpus=2)
    plan = compile(traced, sched, {0: "cpu", 1: "cpu"})
    assert [s.op for s in plan.steps] == [mul, tanh, add, mul_1]  # the producer's copy is dropped before mul_1
    api = _RecordingStreams()
    executor = CudaExecutor(plan, api=api)
    e, c = executor(x).outputs
    assert torch.allclose(e, torch.tanh(x) + 2 * x) and torch.allclose(c, 3 * x - 1)
    reader = executor.engine.streams[(1, 0)]
    on_reader = [t for t, stream in api.recorded if stream is reader]
    assert len(on_reader) == 1 and torch.equal(on_reader[0], 2 * x)


@pytest.mark.parametrize("schedule_kind", ["sequential", "round_robin"])
def test_fixed_schedules_match_forward(models, schedule_kind: str) -> None:
    _, inputs, traced, expected = models["inception"]
    schedule = sequential(traced) if schedule_kind == "sequential" else round_robin(traced, 3)
    assert_same(run(compile(traced, schedule), inputs, warmup=0, repeat=1).outputs, expected)


def test_without_barrier_matches_forward(models) -> None:
    _, inputs, traced, expected = models["inception"]
    plan = compile(traced, random_schedule(traced, 2, 2, seed=3), barrier=False)
    assert all(not set(s.wait_local) - set(traced.predecessors(s.op)) for s in plan.steps)
    assert_same(run(plan, inputs, warmup=0, repeat=2).outputs, expected)


def test_heuristic_schedules_run(models) -> None:
    from hios_opt import Platform, heuristics

    _, inputs, traced, expected = models["inception"]
    graph = traced.to_opgraph()
    for algorithm in ("sequential", "hios-lp"):
        schedule = heuristics.schedule(graph, Platform(gpus=2, streams=2), algorithm=algorithm)
        assert_same(run(compile(traced, schedule), inputs, warmup=0, repeat=1).outputs, expected)


# ------------------------------------------------------------------- plans
def test_plan_structure(models) -> None:
    _, _, traced, _ = models["diamond"]
    schedule = Schedule(
        [Stage(0, ("a",)), Stage(0, ("b", "c")), Stage(1, ("cat",)), Stage(1, ("d",))], gpus=2, streams=2
    )
    plan = compile(traced, schedule)
    assert [s.op for s in plan.steps] == ["a", "b", "c", "cat", "d"]
    assert plan.step("c").stream == 1 and plan.step("c").wait_local == ("a",)
    assert plan.step("b").wait_local == ()  # same stream as a: program order
    remote = plan.step("cat").remote
    assert {(r.value, r.src_gpu, r.fetcher) for r in remote} == {("b", 0, "cat"), ("c", 0, "cat")}
    assert plan.transfers == {(0, 1): ("b", "c"), (1, 0): ("d",)}
    freed = [key for s in plan.steps for key in s.free]
    assert sorted(freed) == sorted({(0, "x"), (0, "relu"), (0, "b"), (0, "c"), (1, "b"), (1, "c"), (1, "cat")})
    assert "GPU 1" in plan.describe()


def test_plan_fetch_once_per_gpu(models) -> None:
    _, _, traced, _ = models["diamond"]
    plan = compile(traced, Schedule([Stage(0, ("a",)), Stage(1, ("b",)), Stage(1, ("c",)),
                                     Stage(0, ("cat",)), Stage(0, ("d",))], gpus=2))
    fetchers = {(r.value, r.fetcher) for s in plan.steps for r in s.remote}
    assert fetchers == {("relu", "b"), ("b", "cat"), ("c", "cat")}
    assert plan.transfers[(0, 1)] == ("relu",)


def test_schedule_of_another_graph(models) -> None:
    _, _, traced, _ = models["diamond"]
    other = Schedule.sequential(["a", "b", "c", "zz", "d"])
    with pytest.raises(CoverageError, match="'zz'") as info:
        compile(traced, other)
    assert "'cat'" in str(info.value)  # the missing op is named too
    with pytest.raises(CoverageError, match="'cat'"):
        compile(traced, Schedule.sequential(["a", "b", "c", "d"]))


def test_invalid_schedules(models) -> None:
    _, _, traced, _ = models["diamond"]
    with pytest.raises(DependentStageError):
        compile(traced, Schedule([Stage(0, ("a", "b")), Stage(0, ("c",)), Stage(0, ("cat",)), Stage(0, ("d",))],
                                 streams=2))
    with pytest.raises(ScheduleError):  # d before cat on one GPU: deadlock
        compile(traced, Schedule.sequential(["a", "b", "c", "d", "cat"]))
    with pytest.raises(ExecutorError, match="device_map"):
        compile(traced, round_robin(traced, 2), device_map={0: "cpu"})
    with pytest.raises(GpuIndexError):  # a stage beyond the schedule's own GPU count
        compile(traced, Schedule([Stage(0, (op,)) for op in traced.ids[:-1]] + [Stage(1, ("d",))], gpus=1))


@settings(max_examples=40)
@given(gpus=st.integers(1, 3), streams=st.integers(1, 3), seed=st.integers(0, 10_000), barrier=st.booleans())
def test_plan_invariants(models, gpus: int, streams: int, seed: int, barrier: bool) -> None:
    _, _, traced, _ = models["inception"]
    plan = compile(traced, random_schedule(traced, gpus, streams, seed), barrier=barrier)
    position = {s.op: s.index for s in plan.steps}
    assert [s.index for s in plan.steps] == list(range(len(traced.ops)))
    freed: list[tuple[int, str]] = []
    for step in plan.steps:
        for op in step.wait_local:  # every event is recorded before anyone waits on it
            assert position[op] < step.index and plan.step(op).gpu == step.gpu != -1
            assert plan.step(op).stream != step.stream
        for remote in step.remote:
            assert position[remote.producer] < step.index and remote.src_gpu != step.gpu
            fetcher = plan.step(remote.fetcher)
            assert fetcher.gpu == step.gpu and position[remote.fetcher] <= step.index
            assert remote.value in plan.transfers[(remote.src_gpu, step.gpu)]
        for pred in traced.predecessors(step.op):
            assert position[pred] < step.index
        freed += step.free
    assert len(freed) == len(set(freed))
    outputs = set(traced.output_values)
    copies = {(s.gpu, v) for s in plan.steps for v in s.inputs}
    copies |= {(plan.step(traced.producer(v)).gpu, v) for (_, v) in list(copies) if traced.producer(v)}
    assert set(freed) == {c for c in copies if c[1] not in outputs}


# -------------------------------------------------------------- devices
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_gpu_raises_device_error(models) -> None:
    _, inputs, traced, _ = models["diamond"]
    plan = compile(traced, sequential(traced))
    with pytest.raises(DeviceError, match="CUDA is not available"):
        run(plan, inputs, backend="cuda")
    with pytest.raises(DeviceError):
        CudaExecutor(plan)


def test_missing_cuda_device_raises_device_error(models, monkeypatch) -> None:
    _, _, traced, _ = models["diamond"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    plan = compile(traced, round_robin(traced, 3))
    with pytest.raises(DeviceError, match="cuda:2"):
        CudaExecutor(plan)
    plan = compile(traced, round_robin(traced, 2), device_map={0: "cuda:0", 1: "cuda:7"})
    with pytest.raises(DeviceError, match="cuda:7"):
        CudaExecutor(plan)


def test_cpu_backend_rejects_gpu_device_map(models) -> None:
    _, _, traced, _ = models["diamond"]
    plan = compile(traced, sequential(traced), device_map={0: "cuda:0"})
    with pytest.raises(DeviceError):
        CpuExecutor(plan)


# ----------------------------------------------------------------- faults
@pytest.fixture
def faulty():
    torch.manual_seed(0)
    model = Faulty().eval()
    x = torch.randn(2, 4)
    traced = trace(model, x)
    yield model, x, traced
    _FAULT.update(armed=False, sleep_s=0.0)


def _hios_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("hios-gpu") and t.is_alive()]


@pytest.mark.parametrize("gpus,streams", [(1, 1), (2, 2)])
def test_op_that_raises(faulty, gpus: int, streams: int) -> None:
    _, x, traced = faulty
    assert "explode" in traced.ids
    plan = compile(traced, random_schedule(traced, gpus, streams, seed=0))
    _FAULT["armed"] = True
    start = time.perf_counter()
    with pytest.raises(OpExecutionError, match="'explode'") as info:
        run(plan, (x,), warmup=0, repeat=3, timeout_s=20)
    assert time.perf_counter() - start < 5
    assert "boom" in str(info.value)
    assert not _hios_threads()  # all workers stopped and joined


def test_op_that_raises_in_stream_engine(faulty) -> None:
    _, x, traced = faulty
    plan = compile(traced, random_schedule(traced, 2, 2, seed=0), device_map={0: "cpu", 1: "cpu"})
    _FAULT["armed"] = True
    with pytest.raises(OpExecutionError, match="'explode'"):
        CudaExecutor(plan, api=SyncStreams())(x)


def test_stuck_op_times_out(faulty) -> None:
    _, x, traced = faulty
    plan = compile(traced, sequential(traced))
    _FAULT["sleep_s"] = 1.0
    start = time.perf_counter()
    with CpuExecutor(plan, timeout_s=0.3) as executor:
        with pytest.raises(ExecutorError, match="did not finish"):
            executor(x)
        with pytest.raises(ExecutorError, match="timed out before"):
            executor(x)
    assert time.perf_counter() - start < 0.95
    for thread in _hios_threads():  # the stuck worker ends when its op returns
        thread.join(5)
    assert not _hios_threads()


def test_executor_reuse_and_close(models) -> None:
    _, inputs, traced, expected = models["diamond"]
    executor = CpuExecutor(compile(traced, random_schedule(traced, 2, 2)))
    for _ in range(3):
        assert_same(executor(*inputs).outputs, expected)
    executor.close()
    executor.close()
    assert not _hios_threads()
    with pytest.raises(ExecutorError, match="closed"):
        executor(*inputs)


def test_an_executor_nobody_closed_ends_its_workers_when_collected(models) -> None:
    _, inputs, traced, expected = models["diamond"]
    executor = CpuExecutor(compile(traced, random_schedule(traced, 2, 2)))
    assert_same(executor(*inputs).outputs, expected)
    workers = _hios_threads()
    assert workers
    del executor  # the workers hold no reference to it: it is collected, and its __del__ stops them
    for thread in workers:
        thread.join(5)
    assert not _hios_threads()


def test_run_rejects_bad_arguments(models) -> None:
    _, inputs, traced, _ = models["diamond"]
    plan = compile(traced, sequential(traced))
    with pytest.raises(ExecutorError, match="unknown backend"):
        run(plan, inputs, backend="tpu")
    with pytest.raises(ExecutorError):
        run(plan, inputs, repeat=0)
    with pytest.raises(TypeError, match="takes 1 input"):
        run(plan, (inputs[0], inputs[0]))


# ------------------------------------------------------------ measurement
def test_measurement_report(models, tmp_path) -> None:
    _, inputs, traced, _ = models["inception"]
    schedule = random_schedule(traced, 2, 2, seed=5)
    plan = compile(traced, schedule)
    m = run(plan, inputs, warmup=1, repeat=5)
    assert m.runs == 5 and m.p10_ms <= m.median_ms <= m.p90_ms
    assert {t.op for t in m.op_timings} == set(traced.ids)
    stages = m.stage_timings
    assert len(stages) == len(schedule.stages)
    for record in stages:
        assert record.latency_ms >= 0
        assert set(record.ops) == set(schedule.stages[record.stage].ops)
    # stages of one GPU do not overlap (barrier semantics)
    for gpu in (0, 1):
        mine = [s for s in stages if s.gpu == gpu]
        for before, after in zip(mine, mine[1:]):
            assert after.start_ms >= before.end_ms - 1e-6
    path = tmp_path / "trace.json"
    m.to_chrome_trace(path)
    events = json.loads(path.read_text())["traceEvents"]
    assert sum(e.get("cat") == "op" for e in events) == len(traced.ids)
    assert len(m.to_dataframe("stage")) == len(schedule.stages)
    assert "median=" in repr(m)


# --------------------------------------------------------------- the zoo
def _zoo_cases() -> list[tuple[str, dict]]:
    try:
        import hios_opt.models as zoo
    except ImportError:
        return []
    return [(name, {"variant": "mobile"} if name == "nasnet" else {}) for name in zoo.names()]


@pytest.mark.slow
@pytest.mark.parametrize("name,options", _zoo_cases())
def test_zoo_model_runs(name: str, options: dict) -> None:
    import hios_opt.models as zoo

    model = zoo.get(name, input_size=zoo.info(name).min_input_size, **options)
    x = model.example_input()
    with torch.no_grad():
        expected = model(x)
    traced = trace(model, x, name=name)
    plan = compile(traced, random_schedule(traced, 2, 2, seed=0))
    assert_same(run(plan, (x,), warmup=0, repeat=1).outputs, expected, atol=1e-4)
    if name == "squeezenet":
        devices = {0: "cpu", 1: "cpu", 2: "cpu"}
        engine = CudaExecutor(compile(traced, random_schedule(traced, 3, 2, seed=1), devices), api=SyncStreams())
        assert_same(engine(x).outputs, expected, atol=1e-4)
