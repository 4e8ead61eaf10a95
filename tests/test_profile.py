"""Measured profiling: op, pair and link costs, clamping, the cache."""

from __future__ import annotations

import json

import pytest
import torch

from hios_opt import Platform, Schedule, Stage, evaluate
from hios_opt.errors import ProfileError
from hios_opt.profile import LinkModel, cache_path, measure_costs, measure_link
from hios_opt.trace import trace

from .support.nets import build


@pytest.fixture
def traced():
    model, inputs = build("diamond")
    return trace(model, inputs)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HIOS_OPT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


FAST = {"warmup": 1, "repeat": 3, "progress": False, "link": LinkModel(bandwidth_gbps=5.0, latency_us=10.0, device_a="cpu", device_b="cpu")}


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
    t_b, t_c = graph.op("b").latency_ms, graph.op("c").latency_ms
    # clamped to the slowest member (in hot-loop terms, then rescaled to sweep terms), never below it
    assert max(t_b, t_c) <= latency <= t_b + t_c
    # the utilization reproduces the table entry with the graph's own latencies, the same for both members
    rho = (latency - 0.5 * (t_b + t_c)) / (0.5 * (t_b + t_c))
    expected = min(1.0, max(profile.MIN_UTILIZATION, rho))
    assert graph.op("b").utilization == pytest.approx(expected) == graph.op("c").utilization


def test_pairs_rescaled_to_sweep_conditions(traced, monkeypatch) -> None:
    import hios_opt.profile as profile

    # hot loop: members 1 ms each alone, 1.5 ms together; the sweep decides t(b), t(c)
    monkeypatch.setattr(profile._Timer, "solo", lambda self, fn: 1.0)
    monkeypatch.setattr(profile._Timer, "pair", lambda self, fa, fb: 1.5)
    graph = measure_costs(traced, cache=False, **FAST)
    t_b, t_c = graph.op("b").latency_ms, graph.op("c").latency_ms
    (latency,) = graph.stage_table.values()
    assert latency == pytest.approx(max(0.75 * (t_b + t_c), max(t_b, t_c)))
    if latency > max(t_b, t_c):  # not clamped: rho is the hot-loop ratio, (1.5/2 - 0.5) / 0.5
        assert graph.meta["clamped_groups"] == 0
        assert graph.op("b").utilization == pytest.approx(0.5)


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


def test_kernel_timing_is_cuda_only_and_keyed_apart(traced) -> None:
    with pytest.raises(ProfileError, match="CUDA devices only"):
        measure_costs(traced, "cpu", timing="kernel", **FAST)
    with pytest.raises(ProfileError, match="timing must be one of launch, kernel"):
        measure_costs(traced, "cpu", timing="gpu", **FAST)
    assert cache_path(traced, "cuda:0", timing="kernel") != cache_path(traced, "cuda:0")
    assert cache_path(traced, "cuda:0", timing="launch") == cache_path(traced, "cuda:0")  # earlier caches stay valid
    assert measure_costs(traced, "cpu", cache=False, **FAST).meta["timing"] == "wall"


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
    assert link.bandwidth_gbps > 0 and link.latency_us >= 0 and len(link.samples) == 3
    assert link.transfer_ms(1 << 20) > link.transfer_ms(0)
    assert set(link.to_dict()) == {"device_a", "device_b", "bandwidth_gbps", "latency_us", "samples"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_profile_without_gpu(traced) -> None:
    with pytest.raises(ProfileError, match="CUDA"):
        measure_costs(traced, "cuda:0", **FAST)
    with pytest.raises(ProfileError, match="CUDA"):
        measure_link("cpu", "cuda:0")


def test_failing_op_raises_profile_error(private_cache) -> None:
    from .support.nets import _FAULT, Faulty

    model = Faulty().eval()
    traced = trace(model, torch.randn(2, 4))
    _FAULT["armed"] = True
    try:
        with pytest.raises(ProfileError, match="explode"):
            measure_costs(traced, cache=False, **FAST)
    finally:
        _FAULT["armed"] = False


# Profile accuracy: the sum of op latencies must match a forward pass. A chain of 16 Linear(1024, 1024)
# layers holds 4 MB of weights per op and 64 MB in all: more than the caches of the 2-core CI machine (2 MB
# L2 per core, 32 MB L3), so an op timed in a hot loop finds its weights in cache and one timed inside a
# forward pass does not. Hot loops (cache version 1) summed to 0.27-0.35x the forward pass there; forward
# sweeps sum to 1.0-1.1x. The forward time is the minimum of 15 runs (the load-robust estimate on a shared
# machine). Tolerance: [0.8, 1.5]. The check is retried, and skipped when every attempt says (through the
# profile's own sweep/op-sum ratio) that other processes held the cores.
RATIO_TOLERANCE = (0.8, 1.5)


def test_op_latencies_sum_to_the_forward_pass() -> None:
    import time
    import warnings

    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Linear(1024, 1024) for _ in range(16)]).eval()
    x = torch.randn(1, 1024)
    traced = trace(model, x, name="big_chain")

    def forward_min_ms(runs: int = 15) -> float:
        best = float("inf")
        with torch.no_grad():
            model(x)
            for _ in range(runs):
                start = time.perf_counter()
                model(x)
                best = min(best, (time.perf_counter() - start) * 1e3)
        return best

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    attempts = []
    try:
        for _ in range(3):
            forward = forward_min_ms()
            with warnings.catch_warnings(record=True) as caught:  # a busy machine is reported, not raised
                warnings.simplefilter("always")
                graph = measure_costs(traced, warmup=2, repeat=7, pairs=False, cache=False, link=False,
                                      progress=False, threads=1)
            forward = min(forward, forward_min_ms())
            ratio = graph.total_latency_ms / forward
            busy = graph.meta["sweep_median_ms"] > 1.2 * graph.meta["op_sum_ms"] or bool(caught)
            attempts.append((round(ratio, 3), busy))
            if RATIO_TOLERANCE[0] <= ratio <= RATIO_TOLERANCE[1]:
                assert graph.meta["method"] == "forward-sweep" and graph.meta["threads"] == 1
                return
    finally:
        torch.set_num_threads(threads)
    if all(busy for _, busy in attempts):
        pytest.skip(f"machine too busy for a timing check: (ratio, busy) per attempt {attempts}")
    pytest.fail(f"sum of op latencies / forward time outside {RATIO_TOLERANCE}: (ratio, busy) {attempts}")
