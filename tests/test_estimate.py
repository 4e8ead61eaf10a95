"""Tests of hios_opt.estimate: the roofline arithmetic, utilization, links, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from hios_opt.errors import HiosError, ProfileError
from hios_opt.estimate import (
    COMPUTE_EFFICIENCY,
    DEVICES,
    LAUNCH_OVERHEAD_US,
    LINKS,
    MEMORY_EFFICIENCY,
    MIN_UTILIZATION,
    estimate_costs,
    estimate_op,
    get_device,
    get_link,
    is_matrix_kind,
    link_platform,
    quantization,
)
from hios_opt.graph import Edge, Op, OpGraph
from hios_opt.trace import trace


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def one_conv():
    """A single 3x3 conv, 64 -> 128 channels, on a 2 x 64 x 56 x 56 input (padding 1)."""
    net = nn.Sequential(nn.Conv2d(64, 128, 3, padding=1)).eval()
    return trace(net, torch.zeros(2, 64, 56, 56), name="conv")


def test_one_conv_is_the_roofline_written_out(one_conv):
    g = estimate_costs(one_conv, "h100", dtype="fp16", link="nvlink4")
    (op,) = g.ops
    # FLOPs: 2 * output elements * C_in * k*k
    out_numel = 2 * 128 * 56 * 56
    flops = 2 * out_numel * 64 * 3 * 3
    assert op.flops == flops and op.shape == (2, 128, 56, 56) and op.kind == "Conv2d"
    # bytes at fp16 (2 bytes per element): input + weights and bias + output
    nbytes = 2 * (2 * 64 * 56 * 56 + (128 * 64 * 3 * 3 + 128) + out_numel)
    assert op.output_bytes == 2 * out_numel
    compute_ms = flops / (989.4e12 * 0.6) * 1e3        # H100 fp16 tensor peak, whole GPU
    memory_ms = nbytes / (3350e9 * 0.8) * 1e3           # H100 HBM3
    # implicit GEMM: M = 2*56*56 = 6272 pixels -> 98 tiles of 64, N = 128 -> 2 tiles;
    # 196 tiles on 132 SMs run in 2 waves of 132 tiles
    quantization = 2 * 132 * 64 * 64 / out_numel
    latency = max(compute_ms * quantization, memory_ms) + 4e-3
    assert compute_ms * quantization > memory_ms
    assert op.latency_ms == pytest.approx(latency, rel=1e-12)
    assert op.utilization == pytest.approx(max(compute_ms, memory_ms) / latency, rel=1e-12)
    assert 0.2 < op.utilization < 0.3
    assert g.meta["device"] == "estimate:h100" and g.meta["source"] == "estimated"
    assert g.meta["dtype"] == "fp16" and g.meta["estimate"]["matrix_tflops"] == 989.4
    assert (COMPUTE_EFFICIENCY, MEMORY_EFFICIENCY, LAUNCH_OVERHEAD_US) == (0.6, 0.8, 4.0)


def test_fp32_uses_cuda_cores_and_four_byte_elements(one_conv):
    g = estimate_costs(one_conv, "v100", dtype="fp32", link=None)
    (op,) = g.ops
    out_numel = 2 * 128 * 56 * 56
    flops = 2 * out_numel * 64 * 9
    nbytes = 4 * (2 * 64 * 3136 + 128 * 64 * 9 + 128 + out_numel)
    quantization = 3 * 80 * 64 * 64 / out_numel          # 196 tiles: 3 waves on 80 SMs
    expected = max(flops / (15.7e12 * 0.6) * quantization, nbytes / (900e9 * 0.8)) * 1e3 + 4e-3
    assert op.latency_ms == pytest.approx(expected, rel=1e-12)
    assert op.output_bytes == 4 * out_numel


def test_efficiency_and_launch_options():
    lat, util = estimate_op(1e9, 0, kind="Linear", device="a100", dtype="bf16", compute_efficiency=1.0,
                            launch_overhead_us=0.0)
    assert util == 1.0 and lat == pytest.approx(1e9 / 312e12 * 1e3)
    lat, _ = estimate_op(0, 1e6, kind="MaxPool2d", device="h200", memory_efficiency=0.5, launch_overhead_us=10)
    assert lat == pytest.approx(1e6 / (4800e9 * 0.5) * 1e3 + 0.01)


def test_utilization_in_unit_interval_for_every_op():
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 300, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(300, 10),
    ).eval()
    traced = trace(net, torch.zeros(1, 3, 32, 32))
    for device in DEVICES:
        g = estimate_costs(traced, device, dtype="fp32")
        assert all(0.0 < op.utilization <= 1.0 for op in g.ops)
        assert all(op.latency_ms > 0 for op in g.ops)
    # a huge bandwidth-bound op keeps the GPU busy; a tiny, launch-bound one is floored
    assert estimate_op(0, 1e9, shape=(64, 256, 128, 128), kind="ReLU", device="v100")[1] > 0.99
    assert estimate_op(0, 0, shape=(1, 10), kind="add", device="v100")[1] == MIN_UTILIZATION
    assert estimate_op(0, 0, kind="add", launch_overhead_us=0)[1] == 1.0


def test_wave_quantization():
    assert quantization((132 * 64, 64), True, 132) == 1.0
    # 133 tiles on 132 SMs: two waves, the second one nearly idle
    assert quantization((133 * 64, 64), True, 132) == pytest.approx(264 / 133)
    assert quantization((1, 10), False, 80) == 80 * 8192 / 10
    assert quantization(None, True, 80) == 1.0
    # latency never falls as the input grows
    sizes = range(1, 400, 7)
    lat = [estimate_op(2 * s * s * 192 * 768, 0, shape=(1, 192, s, s), kind="Conv2d")[0] for s in sizes]
    assert lat == sorted(lat)


def test_edges_get_link_comm_and_dtype_bytes(one_conv):
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3)).eval()
    traced = trace(net, torch.zeros(1, 3, 12, 12))
    g = estimate_costs(traced, "a100", dtype="fp16")
    (edge,) = g.edges
    assert edge.bytes == 8 * 10 * 10 * 2
    assert edge.comm_ms == pytest.approx(edge.bytes / 300e9 * 1e3 + 5e-3)
    assert g.meta["link"]["key"] == "nvlink3" and g.meta["link"]["bandwidth_gbps"] == 300.0
    pcie = estimate_costs(traced, "a100", dtype="fp32", link="pcie3")
    assert pcie.edges[0].bytes == 2 * edge.bytes
    assert pcie.edges[0].comm_ms == pytest.approx(pcie.edges[0].bytes / 15.75e9 * 1e3 + 0.01)
    bare = estimate_costs(traced, "a100", link=None)
    assert bare.edges[0].comm_ms is None and bare.meta["link"] is None
    p = link_platform("pcie5", gpus=2)
    assert p.transfer_ms(63_000_000, 0, 1) == pytest.approx(1.0 + 0.01)


def test_from_opgraph_and_batch_scaling(one_conv):
    g = one_conv.to_opgraph()
    est = estimate_costs(g, "h100", dtype="fp32", link=None)
    assert est.meta["source"] == "estimated" and "estimated_from" not in est.meta
    assert est.meta["model"] == "conv" and est.meta["batch_size"] == 2
    assert "flops_per_ms" not in est.meta
    # from an OpGraph the weights are unknown: a lower bound of the traced estimate
    assert est.ops[0].latency_ms <= estimate_costs(one_conv, "h100", dtype="fp32").ops[0].latency_ms
    big = estimate_costs(one_conv, "h100", batch_size=8)
    assert big.ops[0].flops == 4 * one_conv.ops[0].flops and big.ops[0].shape == (8, 128, 56, 56)
    assert big.meta["batch_size"] == 8 and big.meta["input_shape"] == [[8, 64, 56, 56]]
    manual = OpGraph([Op("a", 1.0, flops=10**6, shape=(1, 64, 8, 8), kind="Conv2d", output_bytes=8192),
                      Op("b", 1.0, kind="add")], [Edge("a", "b")],
                     meta={"dtype": "fp32", "source": "measured", "device": "cpu", "repeat": 5})
    out = estimate_costs(manual, "v100", dtype="fp16")
    assert out.meta["estimated_from"] == "measured" and "repeat" not in out.meta
    assert out.ops[0].output_bytes == 4096 and out.edges[0].bytes == 4096
    assert all(op.latency_ms > 0 for op in out.ops)


def test_unknown_device_lists_valid_ones(one_conv):
    with pytest.raises(ProfileError, match="estimate:v100, estimate:a100, estimate:h100, estimate:h200"):
        estimate_costs(one_conv, "p100")
    with pytest.raises(HiosError, match="valid links: auto, nvlink2"):
        estimate_costs(one_conv, "h100", link="infiniband")
    with pytest.raises(ProfileError, match="valid dtypes: fp32, tf32, fp16, bf16"):
        estimate_costs(one_conv, "h100", dtype="int8")
    with pytest.raises(ProfileError, match="no bf16 tensor cores"):
        estimate_costs(one_conv, "v100", dtype="bf16")
    with pytest.raises(ProfileError, match="batch_size"):
        estimate_costs(one_conv, "h100", batch_size=0)
    with pytest.raises(ProfileError, match="compute_efficiency"):
        estimate_costs(one_conv, "h100", compute_efficiency=1.5)
    with pytest.raises(ProfileError, match="TracedGraph or an OpGraph"):
        estimate_costs("conv.json", "h100")


def test_tables_and_lookups():
    assert get_device("ESTIMATE:H200") is DEVICES["h200"]
    assert get_link("auto", "a100") is LINKS["nvlink3"]
    assert {d.nvlink for d in DEVICES.values()} <= set(LINKS)
    for spec in DEVICES.values():
        assert spec.sms > 0 and spec.memory_gbps > 0 and spec.fp32_tflops > 0
        assert all(v > spec.fp32_tflops for v in spec.tensor_tflops.values())
    # per-direction bandwidths: NVLink n links x 25 GB/s, PCIe x16 doubling per generation
    assert [LINKS[k].bandwidth_gbps for k in ("nvlink2", "nvlink3", "nvlink4")] == [150.0, 300.0, 450.0]
    assert [LINKS[k].bandwidth_gbps for k in ("pcie3", "pcie4", "pcie5")] == [15.75, 31.5, 63.0]
    assert is_matrix_kind("linear") and not is_matrix_kind("cat") and not is_matrix_kind(None)
    assert math.isclose(LINKS["nvlink4"].transfer_ms(450_000_000), 1.005)


def test_zoo_model_estimate_is_fast_and_valid():
    import hios_opt.models as zoo

    model = zoo.get("squeezenet", input_size=64)
    traced = trace(model, model.example_input(), name="squeezenet")
    for device in ("v100", "h100"):
        g = estimate_costs(traced, device)
        assert g.n_ops == len(traced.ops) and g.n_edges == len(traced.edges)
        assert OpGraph.from_dict(g.to_dict()).meta == g.meta
    v100, h100 = (estimate_costs(traced, d).total_latency_ms for d in ("v100", "h100"))
    assert h100 < v100
