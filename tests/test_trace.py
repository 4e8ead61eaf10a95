"""Tracing: torch.fx -> operators, FLOPs, bytes, run_op, to_opgraph."""

from __future__ import annotations

import math
import pickle

import pytest
import torch
from torch import nn

from hios_opt import Platform, Schedule, evaluate
from hios_opt.errors import OpExecutionError, ProfileError, TraceError
from hios_opt.trace import ValueRef, trace

from .support.nets import Diamond, Inception, TwoInTwoOut, build


# ------------------------------------------------------- independent counts
def _leaf_calls(model: nn.Module, *inputs: torch.Tensor) -> list[tuple[nn.Module, torch.Tensor, torch.Tensor]]:
    """Every leaf-module call of a forward pass, with its input and output."""
    calls = []
    hooks = [
        m.register_forward_hook(lambda mod, args, out: calls.append((mod, args[0], out)))
        for m in model.modules()
        if not list(m.children())
    ]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return calls


def _module_flops(module: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> int:
    """FLOPs of one module call, by the documented rule, computed independently."""
    if isinstance(module, nn.Conv2d):
        return 2 * out.numel() * module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
    if isinstance(module, nn.Linear):
        return 2 * out.numel() * module.weight.shape[1]
    if isinstance(module, (nn.Flatten, nn.Dropout, nn.Identity)):
        return 0
    return out.numel()


def test_module_granularity_counts_match_leaf_calls() -> None:
    model, (x,) = build("inception")
    traced = trace(model, x, granularity="module")
    calls = _leaf_calls(model, x)
    # one op per leaf-module call, plus the one multi-branch cat (flatten is a module here)
    assert len(traced.ops) == len(calls) + 1
    assert traced.total_flops == sum(_module_flops(m, i, o) for m, i, o in calls)
    kinds = [op.kind for op in traced.ops]
    assert kinds.count("Conv2d") == sum(isinstance(m, nn.Conv2d) for m, _, _ in calls)


def test_block_granularity_fuses_conv_bn_relu() -> None:
    model, (x,) = build("inception")
    traced = trace(model, x)
    convs = [op for op in traced.ops if op.kind.startswith("Conv2d")]
    assert len(convs) == 8 and all(op.kind == "Conv2d+BatchNorm2d+ReLU" for op in convs)
    assert [op.kind for op in traced.ops if not op.kind.startswith("Conv2d")] == [
        "MaxPool2d", "cat", "AdaptiveAvgPool2d", "Linear"
    ]
    # the same FLOPs as module granularity: fusion only regroups nodes
    assert traced.total_flops == trace(model, x, granularity="module").total_flops
    fused = traced.op("b2_0_conv")
    assert fused.nodes == ("b2_0_conv", "b2_0_bn", "b2_0_relu")
    assert fused.module == "b2.0.conv"


def test_diamond_ops_edges_and_bytes() -> None:
    model, (x,) = build("diamond")
    traced = trace(model, x)
    assert traced.ids == ("a", "b", "c", "cat", "d")
    a = traced.op("a")
    assert a.kind == "Conv2d+relu" and a.nodes == ("a", "relu") and a.outputs == ("relu",)
    assert a.shape == (1, 8, 12, 12) and a.output_bytes == 8 * 12 * 12 * 4
    assert a.flops == 2 * 8 * 144 * 3 * 9 + 8 * 144
    assert traced.op("cat").flops == 0 and traced.op("cat").inputs == ("b", "c")
    edges = {(e.src, e.dst): e for e in traced.edges}
    assert set(edges) == {("a", "b"), ("a", "c"), ("b", "cat"), ("c", "cat"), ("cat", "d")}
    assert edges[("cat", "d")].bytes == 16 * 144 * 4 and edges[("a", "b")].values == ("relu",)
    assert traced.predecessors("cat") == ("b", "c") and traced.successors("a") == ("b", "c")
    assert traced.producer("relu") == "a" and traced.producer("x") is None
    assert traced.output_spec == ValueRef("d")


def test_glue_rule() -> None:
    class Glue(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.p = nn.Linear(4, 4)
            self.q = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            flat = x.view(2, 4)             # glue on the model input only: its own op
            y = self.p(flat).relu() * 2     # single-producer glue joins p
            z = self.q(flat)
            return (y + z).flatten()        # two producers: an op; flatten joins it

    traced = trace(Glue(), torch.zeros(8))
    assert traced.ids == ("view", "p", "q", "add")
    assert traced.op("p").nodes == ("p", "relu", "mul")
    assert traced.op("add").nodes == ("add", "flatten")
    assert traced.op("view").flops == 0 and traced.op("add").flops == 8


def test_run_matches_forward_and_tuple_outputs() -> None:
    model, inputs = build("two")
    traced = trace(model, inputs)
    assert traced.input_names == ("x", "z")
    with torch.no_grad():
        expected = model(*inputs)
        got = traced.run(*inputs)
    assert isinstance(got, tuple) and all(torch.allclose(a, b) for a, b in zip(got, expected))
    assert set(traced.output_values) == {"h", "add"}
    env = traced.run(*inputs, keep=True)
    assert set(env) >= {"x", "z", "h"}


def test_run_op_reads_and_writes_env() -> None:
    model, (x,) = build("diamond")
    traced = trace(model, x)
    env = traced.bind_inputs(x)
    traced.run_op("a", env)
    assert set(env) == {"x", "relu"}
    with pytest.raises(OpExecutionError, match="'cat'"):
        traced.run_op("cat", env)  # its inputs are missing
    with pytest.raises(TypeError, match="takes 1 input"):
        traced.bind_inputs(x, x)


def test_run_op_on_another_root() -> None:
    model, (x,) = build("diamond")
    traced = trace(model, x)
    import copy

    twin = copy.deepcopy(traced.graph_module)
    with torch.no_grad():
        twin.a.weight.zero_()
        twin.a.bias.fill_(1.0)
    env = traced.bind_inputs(x)
    traced.run_op("a", env, root=twin)
    assert torch.equal(env["relu"], torch.ones(1, 8, 12, 12))
    env = traced.bind_inputs(x)
    traced.run_op("a", env)
    assert not torch.equal(env["relu"], torch.ones(1, 8, 12, 12))


def test_to_opgraph() -> None:
    model, (x,) = build("inception")
    traced = trace(model, x, name="incep")
    graph = traced.to_opgraph()
    assert graph.name == "incep" and graph.meta["device"] == "flops-proxy"
    assert graph.meta["granularity"] == "block" and graph.meta["batch_size"] == 2
    assert tuple(graph.ids) == traced.ids and len(graph.edges) == len(traced.edges)
    assert all(op.latency_ms > 0 for op in graph.ops)
    conv = graph.op("stem_conv")
    assert math.isclose(conv.latency_ms, max(traced.op("stem_conv").flops / 1e9, 1e-3))
    assert math.isclose(traced.to_opgraph(flops_per_ms=1e6).op("stem_conv").latency_ms, 0.0896)
    assert graph.op("cat").latency_ms == 1e-3
    timed = traced.to_opgraph({op: 1.0 for op in traced.ids}, comm_ms=lambda nbytes: nbytes * 1e-6,
                              meta={"device": "cpu"})
    assert timed.meta["device"] == "cpu" and all(e.comm_ms == e.bytes * 1e-6 for e in timed.edges)
    with pytest.raises(ProfileError, match="stem_conv"):
        traced.to_opgraph({"cat": 1.0})
    # any schedule of the graph evaluates
    assert evaluate(graph, Platform(), Schedule.sequential(graph.topological_order())).makespan > 0


def test_pickle_retraces_the_same_graph() -> None:
    model, (x,) = build("diamond")
    traced = trace(model, x, granularity="module", name="dia")
    twin = pickle.loads(pickle.dumps(traced))
    assert twin.ids == traced.ids and twin.name == "dia" and twin.granularity == "module"
    with torch.no_grad():
        assert torch.allclose(twin.run(x), model(x))


class Branchy(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return x * 2
        return -x


def test_data_dependent_control_flow_raises_trace_error() -> None:
    with pytest.raises(TraceError) as info:
        trace(Branchy(), torch.ones(2))
    message = str(info.value)
    assert "Branchy" in message and "forward" in message and "control flow" in message


def test_bad_inputs_raise_trace_error() -> None:
    with pytest.raises(TraceError, match="example input"):
        trace(Diamond(), torch.zeros(1, 5, 8, 8))
    with pytest.raises(TraceError, match="granularity"):
        trace(Diamond(), torch.zeros(1, 3, 8, 8), granularity="layer")
    with pytest.raises(TraceError, match="nn.Module"):
        trace(lambda x: x, torch.zeros(1))  # type: ignore[arg-type]


def test_inplace_hazard_is_rejected() -> None:
    class Hazard(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)
            self.relu = nn.ReLU(inplace=True)
            self.other = nn.Conv2d(3, 3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            return self.other(y) + self.relu(y)  # relu_ would clobber other's input

    with pytest.raises(TraceError, match="in place"):
        trace(Hazard(), torch.zeros(1, 3, 4, 4), granularity="module")
    # in block granularity the relu joins conv, but other still reads y from outside
    with pytest.raises(TraceError, match="in place"):
        trace(Hazard(), torch.zeros(1, 3, 4, 4))


def test_functional_flops() -> None:
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.randn(5, 3, 3, 3))
            self.m = nn.Parameter(torch.randn(4, 3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.nn.functional.conv2d(x, self.w)        # (1, 5, 4, 4)
            y = torch.nn.functional.max_pool2d(y, 2)         # (1, 5, 2, 2)
            return torch.matmul(y.flatten(2), self.m)        # (1, 5, 4) @ (4, 3)

    model = Functional()
    traced = trace(model, torch.zeros(1, 3, 6, 6))
    flops = {op.id: op.flops for op in traced.ops}
    assert flops == {"conv2d": 2 * (5 * 16) * 27, "max_pool2d": 5 * 4, "matmul": 2 * 15 * 4}
    x = torch.randn(1, 3, 6, 6)
    with torch.no_grad():
        assert torch.allclose(traced.run(x), model(x))


def test_inception_like_edges_are_a_dag() -> None:
    model, (x,) = build("inception")
    traced = trace(model, x)
    position = {op: i for i, op in enumerate(traced.ids)}
    assert all(position[e.src] < position[e.dst] for e in traced.edges)
    assert len(trace(Inception().eval(), x).ops) == len(traced.ops)
    assert isinstance(TwoInTwoOut(), nn.Module)


def test_functional_conv_and_batch_norm_fuse_like_modules() -> None:
    """Graphs captured by torch.compile call F.conv2d and F.batch_norm on parameters: one op, as the modules."""
    import torch.nn.functional as F

    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.bn = nn.BatchNorm2d(4).eval()

        def forward(self, x):
            y = F.conv2d(x, self.conv.weight, self.conv.bias)
            y = F.batch_norm(y, self.bn.running_mean, self.bn.running_var, self.bn.weight, self.bn.bias)
            return torch.relu(y)

    net, x = Functional().eval(), torch.randn(1, 3, 8, 8)
    traced = trace(net, x)
    assert [op.kind for op in traced.ops] == ["conv2d+batch_norm+relu"]
    assert torch.allclose(traced.run(x), net(x))
    assert len(trace(net, x, granularity="module").ops) == 2
