"""Measured profiling: op, pair and link costs, clamping, the cache."""

from __future__ import annotations

import json

import pytest
import torch

from hios_opt import Platform, Schedule, Stage, evaluate
from hios_opt.errors import ProfileError
from hios_opt.profile import LinkModel, cache_path, measure_costs, measure_link
from hios_opt.trace import trace
from tests.test_executor import build


@pytest.fixture
def traced():
    model, inputs = build("diamond")
    return trace(model, inputs)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HIOS_OPT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


FAST = {"warmup": 1, "repeat": 3, "progress": False, "link": LinkModel("cpu", "cpu", 5.0, 0.01, ())}


def test_measured_graph(traced, private_cache) -> None:
    graph = measure_costs(traced, **FAST)
    assert tuple(graph.ids) == traced.ids
    assert all(op.latency_ms > 0 and 0 < op.utilization <= 1 for op in graph.ops)
    meta = graph.meta
    assert meta["source"] == "measured" and meta["device"] == "cpu" and meta["granularity"] == "block"
    assert meta["batch_size"] == 1 and meta["input_size"] == 12 and meta["torch_version"] == torch.__version__
    assert {"date", "device_name", "clamped_groups", "measured_pairs", "link"} <= set(meta)
    # b and c are the only independent pair of the diamond
    assert meta["measured_pairs"] == 1
    (pair, latency), = graph.stage_table.items()
    b, c = graph.index("b"), graph.index("c")
    assert pair == frozenset({b, c})
    assert latency >= max(graph.latency[b], graph.latency[c])  # clamped when noise says less
    assert graph.op("a").utilization == 1.0  # in no pair: the conservative default
    edge = next(e for e in graph.edges if (e.src, e.dst) == ("cat", "d"))
    assert edge.comm_ms == pytest.approx(0.01 + edge.bytes / 5e6)
    # the measured graph is a valid problem
    schedule = Schedule([Stage(0, ("a",)), Stage(0, ("b", "c")), Stage(0, ("cat",)), Stage(0, ("d",))], streams=2)
    assert evaluate(graph, Platform(streams=2), schedule).makespan > 0


def test_clamping_is_counted(traced, monkeypatch) -> None:
    import hios_opt.profile as profile

    monkeypatch.setattr(profile._Timer, "pair", lambda self, fa, fb: 0.0)  # "faster than its members"
    graph = measure_costs(traced, cache=False, **FAST)
    assert graph.meta["clamped_groups"] == 1
    (latency,) = graph.stage_table.values()
    assert latency == max(graph.op("b").latency_ms, graph.op("c").latency_ms)
    # perfect overlap: rho = (max - a*sum) / ((1-a)*sum) with a = 0.5, the same for both members
    t_b, t_c = graph.op("b").latency_ms, graph.op("c").latency_ms
    rho = (max(t_b, t_c) - 0.5 * (t_b + t_c)) / (0.5 * (t_b + t_c))
    expected = min(1.0, max(profile.MIN_UTILIZATION, rho))
    assert graph.op("b").utilization == pytest.approx(expected) == graph.op("c").utilization


def test_cache_roundtrip(traced, private_cache) -> None:
    first = measure_costs(traced, **FAST)
    path = cache_path(traced, "cpu")
    assert path.parent == private_cache and path.exists()
    assert json.loads(path.read_text())["meta"]["source"] == "measured"
    second = measure_costs(traced, **FAST)
    assert second.ops == first.ops and second.meta == first.meta
    assert cache_path(traced, "cpu", pairs=False) != path
    other = trace(build("diamond")[0], torch.zeros(1, 3, 16, 16))
    assert cache_path(other, "cpu") != path  # another input shape


def test_no_cache_no_pairs(traced, private_cache) -> None:
    graph = measure_costs(traced, cache=False, pairs=False, **FAST)
    assert not graph.stage_table and graph.meta["measured_pairs"] == 0
    assert not private_cache.exists()


def test_max_pairs_prefers_close_depths() -> None:
    model, inputs = build("inception")
    traced = trace(model, inputs)
    graph = measure_costs(traced, cache=False, max_pairs=3, **FAST)
    assert graph.meta["measured_pairs"] == 3 == len(graph.stage_table)


def test_measure_link() -> None:
    link = measure_link("cpu", sizes=(1 << 12, 1 << 14, 1 << 16), warmup=1, repeat=3)
    assert link.bandwidth_gbps > 0 and link.latency_ms >= 0 and len(link.samples) == 3
    assert link.transfer_ms(1 << 20) > link.transfer_ms(0)
    assert set(link.to_dict()) == {"device_a", "device_b", "bandwidth_gbps", "latency_ms", "samples"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_profile_without_gpu(traced) -> None:
    with pytest.raises(ProfileError, match="CUDA"):
        measure_costs(traced, "cuda:0", **FAST)
    with pytest.raises(ProfileError, match="CUDA"):
        measure_link("cpu", "cuda:0")


def test_failing_op_raises_profile_error(private_cache) -> None:
    from tests.test_executor import _FAULT, Faulty

    model = Faulty().eval()
    traced = trace(model, torch.randn(2, 4))
    _FAULT["armed"] = True
    try:
        with pytest.raises(ProfileError, match="explode"):
            measure_costs(traced, cache=False, **FAST)
    finally:
        _FAULT["armed"] = False
