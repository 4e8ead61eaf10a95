"""torch.compile(model, backend="hios_opt"): scheduled graphs, and the
fallback (with one log line) wherever scheduling cannot help."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from torch import nn

import hios_opt.scheduled as scheduled
from hios_opt import dynamo
from hios_opt.scheduled import ScheduledModule

OPTIONS = {"costs": "estimate:h100", "solver": None, "repeat": 2, "warmup": 0, "fallback": "eager"}


class Branches(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Linear(16, 16)
        self.a, self.b = nn.Linear(16, 16), nn.Linear(16, 16)
        self.norm = nn.LayerNorm(16)

    def forward(self, x):
        y = torch.relu(self.stem(x))
        return self.norm(torch.tanh(self.a(y)) + self.b(y))


class Chain(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8))

    def forward(self, x):
        return self.layers(x)


class InPlace(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x):
        y = self.a(x)
        w = self.b(y)
        y.add_(1)
        return w + y


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.fixture
def plan_wins(monkeypatch):
    monkeypatch.setattr(scheduled, "time_calls", lambda fns, device, warmup, repeat: {
        "forward": 10.0, "scheduled": 5.0, "sequential": 9.0})


def _compile(model, **options):
    return torch.compile(model, backend=dynamo.backend, options={**OPTIONS, **options})


def test_a_graph_is_scheduled_and_equals_the_model(plan_wins, caplog) -> None:
    torch.manual_seed(0)
    net, x = Branches().eval(), torch.randn(4, 16)
    fast = _compile(net)
    with caplog.at_level(logging.INFO, logger="hios_opt.dynamo"), torch.no_grad():
        for _ in range(3):
            xi = torch.randn_like(x)
            assert torch.allclose(fast(xi), net(xi), atol=1e-6)
    runs = [r.message for r in caplog.records if "runs" in r.message]
    assert len(runs) == 1 and "schedule's plan" in runs[0]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_by_name(plan_wins) -> None:
    dynamo.register()
    dynamo.register()  # twice is harmless
    net, x = Branches().eval(), torch.randn(2, 16)
    fast = torch.compile(net, backend="hios_opt", options=OPTIONS)
    with torch.no_grad():
        assert torch.allclose(fast(x), net(x), atol=1e-6)


def test_the_entry_point_is_declared() -> None:
    tomllib = pytest.importorskip("tomllib")
    data = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert data["project"]["entry-points"]["torch_dynamo_backends"] == {"hios_opt": "hios_opt.dynamo:backend"}


def _one_fallback(caplog, needle: str) -> None:
    lines = [r.message for r in caplog.records if r.name == "hios_opt.dynamo" and r.levelno == logging.WARNING]
    assert len(lines) == 1, lines
    assert needle in lines[0] and "goes to the 'eager' backend" in lines[0]


@pytest.mark.parametrize(("model", "needle"), [
    (Chain, "depend on each other in a chain"),
    (InPlace, "modifies 'linear' in place"),
])
def test_graphs_that_cannot_be_scheduled_fall_back(model, needle, caplog) -> None:
    net, x = model().eval(), torch.randn(2, 8)
    with caplog.at_level(logging.WARNING, logger="hios_opt.dynamo"), torch.no_grad():
        assert torch.allclose(_compile(net)(x), net(x), atol=1e-6)
    _one_fallback(caplog, needle)


def test_autograd_falls_back_and_gradients_flow(caplog) -> None:
    net, x = Branches().eval(), torch.randn(2, 16)
    with caplog.at_level(logging.WARNING, logger="hios_opt.dynamo"):
        out = _compile(net)(x)
    out.sum().backward()
    assert net.a.weight.grad is not None
    _one_fallback(caplog, "torch.no_grad()")


def test_dynamic_shapes_fall_back(caplog) -> None:
    net = Branches().eval()
    fast = torch.compile(net, backend=dynamo.backend, dynamic=True, options=OPTIONS)
    with caplog.at_level(logging.WARNING, logger="hios_opt.dynamo"), torch.no_grad():
        for rows in (3, 5):
            x = torch.randn(rows, 16)
            assert torch.allclose(fast(x), net(x), atol=1e-6)
    _one_fallback(caplog, "dynamic shapes")


def test_not_faster_falls_back(monkeypatch, caplog) -> None:
    monkeypatch.setattr(scheduled, "time_calls", lambda fns, device, warmup, repeat: {
        "forward": 1.0, "scheduled": 5.0, "sequential": 9.0})
    net, x = Branches().eval(), torch.randn(2, 16)
    with caplog.at_level(logging.WARNING, logger="hios_opt.dynamo"), torch.no_grad():
        assert torch.allclose(_compile(net)(x), net(x), atol=1e-6)
    _one_fallback(caplog, "runs the plain forward")


def test_other_parameters_run_unscheduled(plan_wins, caplog) -> None:
    first, second = Branches().eval(), Branches().eval()
    apply = torch.compile(lambda model, x: model(x), backend=dynamo.backend, options=OPTIONS)
    x = torch.randn(2, 16)
    with caplog.at_level(logging.WARNING, logger="hios_opt.dynamo"), torch.no_grad():
        assert torch.allclose(apply(first, x), first(x), atol=1e-6)
        assert torch.allclose(apply(second, x), second(x), atol=1e-6)
        assert torch.allclose(apply(first, x), first(x), atol=1e-6)
    changed = [r.message for r in caplog.records if "changed" in r.message]
    assert len(changed) == 1 and "runs unscheduled" in changed[0]


def test_unknown_option_is_refused() -> None:
    net, x = Branches().eval(), torch.randn(2, 16)
    with pytest.raises(Exception, match="unknown option 'stream'.*valid: gpus, streams"), torch.no_grad():
        _compile(net, stream=2)(x)


def test_backend_returns_a_scheduled_module(plan_wins) -> None:
    gm = torch.fx.symbolic_trace(Branches().eval())
    x = torch.randn(2, 16)
    run = dynamo.backend(gm, [x], options=OPTIONS)
    assert isinstance(run.scheduled, ScheduledModule) and run.scheduled.mode == "scheduled"
    with torch.no_grad():
        assert torch.allclose(run(x), gm(x), atol=1e-6)


@pytest.mark.parametrize("name", ["squeezenet", pytest.param("inception_v3", marks=pytest.mark.slow),
                                  pytest.param("vit_moe", marks=pytest.mark.slow)])
def test_zoo_graphs_group_into_the_ops_trace_makes(name, plan_wins) -> None:
    import hios_opt.models as zoo
    from hios_opt.trace import trace

    model = zoo.get(name, input_size=max(zoo.info(name).min_input_size, 32))
    x = model.example_input()
    made: list[ScheduledModule] = []

    def spy(gm, example_inputs, **kwargs):
        run = dynamo.backend(gm, example_inputs, **kwargs)
        made.append(run.scheduled)
        return run

    with torch.no_grad():
        assert torch.allclose(torch.compile(model, backend=spy, options=OPTIONS)(x), model(x), atol=1e-4)
    assert len(made) == 1 and made[0].graph.n_ops == len(trace(model, x).ops)


def test_separate_query_key_value_projections_are_parallel_ops(plan_wins) -> None:
    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q, self.k, self.v, self.out = (nn.Linear(32, 32) for _ in range(4))

        def forward(self, x):
            q, k, v = (p(x).unflatten(-1, (4, 8)).transpose(1, 2) for p in (self.q, self.k, self.v))
            return self.out(torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2))

    net, x = Attention().eval(), torch.randn(2, 10, 32)
    made: list[ScheduledModule] = []

    def spy(gm, example_inputs, **kwargs):
        run = dynamo.backend(gm, example_inputs, **kwargs)
        made.append(run.scheduled)
        return run

    with torch.no_grad():
        assert torch.allclose(torch.compile(net, backend=spy, options=OPTIONS)(x), net(x), atol=1e-6)
    graph = made[0].graph
    projections = [op.id for op in graph.ops if op.kind.startswith("linear")][:3]
    assert len(projections) == 3 and graph.independent(graph.index(op) for op in projections)
    assert any(len(stage.ops) > 1 for stage in made[0].schedule.stages)
