"""The zoo's transformer with Soft MoE layers: its math, its size, and that
its experts come out of tracing as parallel branches that a schedule uses."""

from __future__ import annotations

import pytest
import torch

import hios_opt as ho
import hios_opt.models as zoo
from hios_opt.estimate import estimate_costs
from hios_opt.models.vit_moe import SoftMoE, VitMoE
from hios_opt.trace import trace


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_soft_moe_is_the_papers_formula() -> None:
    torch.manual_seed(0)
    moe = SoftMoE(8, 16, experts=3, slots=2).eval()
    x = torch.randn(2, 5, 8)
    logits = x @ moe.phi
    dispatch, combine = logits.softmax(dim=1), logits.softmax(dim=2)
    slots = torch.einsum("bnm,bnd->bmd", dispatch, x)
    outs = torch.cat([moe.experts[i](slots[:, 2 * i:2 * i + 2]) for i in range(3)], dim=1)
    want = torch.einsum("bnm,bmd->bnd", combine, outs)
    with torch.no_grad():
        assert torch.allclose(moe(x), want, atol=1e-6)


def test_tiny_variant_size_and_layout() -> None:
    model = zoo.get("vit_moe", input_size=224)
    assert sum(p.numel() for p in model.parameters()) == 9_265_768
    moes = [m for m in model.modules() if isinstance(m, SoftMoE)]
    assert len(moes) == 3 and all(len(m.experts) == 8 for m in moes)
    assert isinstance(model.blocks[-1].mlp, SoftMoE) and not isinstance(model.blocks[0].mlp, SoftMoE)
    assert model.pos_embed.shape == (1, 14 * 14, 192)


def test_experts_trace_into_independent_branches() -> None:
    model = zoo.get("vit_moe", input_size=32, experts=4)
    traced = trace(model, model.example_input(), name="vit_moe")
    graph = traced.to_opgraph()
    last = [op.id for op in traced.ops if op.id.startswith("blocks_5_mlp_experts_") and op.id.endswith("_0")]
    assert len(last) == 4
    assert graph.independent(graph.index(op) for op in last)
    with torch.no_grad():
        x = torch.randn_like(model.example_input())
        assert torch.allclose(traced.run(x), model(x), atol=1e-6)


def test_two_streams_beat_sequential_on_estimated_h100_costs() -> None:
    model = zoo.get("vit_moe", input_size=224)
    graph = estimate_costs(trace(model, model.example_input(), name="vit_moe"), "h100")
    sequential = ho.schedule(graph, ho.Platform(streams=2), "sequential").makespan_ms
    ios = ho.schedule(graph, ho.Platform(streams=2), "ios").makespan_ms
    assert ios < 0.97 * sequential


def test_patch_size_sets_the_minimum_input() -> None:
    assert tuple(zoo.get("vit_moe", input_size=8, patch_size=8, num_classes=3)(torch.zeros(1, 3, 8, 8)).shape) == (1, 3)
    with pytest.raises(ho.errors.ModelError, match="minimum is 16"):
        VitMoE(input_size=15)
