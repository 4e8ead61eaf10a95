"""bench_real and its helpers: predicted vs measured on a tiny zoo model (SqueezeNet at 32 px)."""

from __future__ import annotations

import math

import pytest
import torch

from hios_opt import Platform, Schedule
from hios_opt.errors import DeviceError, GraphError, OptionError
from hios_opt.realbench import (
    bench_real,
    check_device,
    check_graph,
    device_map_for,
    logical_device_note,
    measure_handoff_ms,
    outputs_match,
    predict_ms,
    prepare_model,
    profile_graph,
    resolve_timing,
)

SIZE = 32
FAST = {"repeat": 3, "rounds": 1, "warmup": 1, "max_pairs": 10}


@pytest.fixture(scope="module", autouse=True)
def one_thread_private_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("HIOS_OPT_CACHE", str(tmp_path_factory.mktemp("cache")))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    mp.undo()


@pytest.fixture(scope="module")
def prepared():
    return prepare_model("squeezenet", input_size=SIZE)


@pytest.fixture(scope="module")
def graph(prepared):
    return profile_graph(prepared, max_pairs=10, repeat=3, warmup=1)


def test_prepare_model(prepared) -> None:
    assert prepared.name == "squeezenet" and prepared.input_size == SIZE and prepared.device == "cpu"
    assert tuple(prepared.inputs.shape) == (1, 3, SIZE, SIZE)
    assert torch.allclose(prepared.traced.run(prepared.inputs), prepared.reference, atol=1e-6)


def test_profiled_graph_matches_the_trace(prepared, graph) -> None:
    check_graph(graph, prepared.traced)
    assert graph.meta["method"] == "forward-sweep" and graph.meta["threads"] == 1
    handoff = graph.meta["handoff_ms"]
    assert 0 < handoff < 50 and all(e.comm_ms == handoff for e in graph.edges)  # cpu: a thread hand-off


def test_bench_real_rows(prepared, graph) -> None:
    df = bench_real("squeezenet", input_size=SIZE, gpus=2, streams=2, algorithms=("sequential", "hios-lp"),
                    graph=graph, prepared=prepared, **FAST)
    assert list(df.algorithm) == ["sequential", "hios-lp"]
    from hios_opt.results import COLUMNS

    assert list(df.columns[:len(COLUMNS)]) == list(COLUMNS)   # the result schema, every column
    assert {"measured_speedup", "p10_ms", "p90_ms", "outputs_ok"} <= set(df)
    assert (df.measured_ms > 0).all() and (df.predicted_ms > 0).all() and df.outputs_ok.all()
    assert (df.runs == 3).all() and (df.gpus == 2).all() and (df.streams == 2).all()
    seq = df.iloc[0]
    assert seq.speedup == 1.0 and seq.measured_speedup == 1.0
    assert seq.predicted_ms == seq.makespan_ms == pytest.approx(graph.total_latency_ms)
    assert (df.status == "heuristic").all() and (df.graph == graph.name).all()
    row = df.iloc[1]
    assert row.prediction_error == pytest.approx((row.measured_ms - row.predicted_ms) / row.predicted_ms)
    assert df.attrs["device"] == "cpu" and "logical GPUs 0-1 -> cpu" in df.attrs["mapping"]
    assert df.attrs["graph_meta"]["method"] == "forward-sweep"


def test_bench_real_exact_and_implicit_sequential(prepared, graph) -> None:
    df = bench_real("squeezenet", input_size=SIZE, gpus=2, algorithms="exact", time_limit=2.0, graph=graph,
                    prepared=prepared, **FAST)
    assert list(df.algorithm) == ["sequential", "exact"]  # the reference of the speedups is added
    exact = df.iloc[1]
    assert exact.status in ("optimal", "feasible") and exact.measured_ms > 0 and exact.outputs_ok
    assert exact.predicted_ms <= df.iloc[0].predicted_ms + 1e-9  # warm-started from the heuristics


def test_bench_real_profiles_when_no_graph_is_given() -> None:
    df = bench_real("squeezenet", input_size=SIZE, gpus=1, algorithms="sequential", **FAST)
    assert len(df) == 1 and df.outputs_ok.all() and df.attrs["graph_meta"]["threads"] == 1


def test_bench_real_rejects_bad_options(prepared, graph) -> None:
    with pytest.raises(OptionError, match="nope"):
        bench_real("squeezenet", input_size=SIZE, gpus=2, algorithms="sequential,nope", graph=graph,
                   prepared=prepared)
    with pytest.raises(OptionError, match="gpus"):
        bench_real("squeezenet", input_size=SIZE, gpus=0, graph=graph, prepared=prepared)
    renamed = graph.with_costs(name="other")
    renamed.meta["input_shape"] = [[1, 3, 48, 48]]
    with pytest.raises(GraphError, match="48"):
        bench_real("squeezenet", input_size=SIZE, gpus=1, graph=renamed, prepared=prepared)


def test_check_graph_names_ops(prepared) -> None:
    from hios_opt import generators

    with pytest.raises(GraphError, match="'a'"):
        check_graph(generators.diamond(), prepared.traced)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_gpu() -> None:
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        check_device("cuda")
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        bench_real("squeezenet", input_size=SIZE, gpus=1, device="cuda")
    with pytest.raises(DeviceError, match="unknown device"):
        check_device("tpu")


def test_helpers() -> None:
    assert outputs_match(torch.ones(3), torch.ones(3) * (1 + 1e-6), "cpu") == (True, pytest.approx(1e-6, rel=0.1))
    ok, diff = outputs_match(torch.ones(3), torch.zeros(3), "cpu")
    assert not ok and diff == 1.0
    assert outputs_match((torch.ones(2),), (torch.ones(3),), "cpu") == (False, math.inf)
    assert device_map_for([0, 2], "cpu") == {0: "cpu", 2: "cpu"}
    assert "4" in logical_device_note(2, 2, "cpu", 1)
    assert 0 < measure_handoff_ms(rounds=10) < 50
    from hios_opt import generators

    g = generators.diamond()
    sched = Schedule.sequential(g.topological_order())
    assert predict_ms(g, sched) == predict_ms(g, sched, Platform()) == 7.0


def test_timing_follows_the_execution_mode() -> None:
    assert resolve_timing("cuda", cuda_graph=True, timing=None) == "kernel"
    assert resolve_timing("cuda", cuda_graph=False, timing=None) == "launch"
    assert resolve_timing("cuda", cuda_graph=True, timing="launch") == "launch"  # asked for explicitly
    assert resolve_timing("cpu", cuda_graph=False, timing=None) == "launch"
    with pytest.raises(OptionError, match="CUDA graphs"):
        resolve_timing("cpu", cuda_graph=True, timing=None)
    with pytest.raises(OptionError, match="kernel timing"):
        resolve_timing("cpu", cuda_graph=False, timing="kernel")
    with pytest.raises(OptionError, match="timing must be"):
        resolve_timing("cuda", cuda_graph=False, timing="wall")
    with pytest.raises(OptionError, match="CUDA graphs"):
        bench_real("squeezenet", input_size=SIZE, gpus=1, cuda_graph=True, cache=False)
