"""hios_opt.optimize() and ScheduledModule on the CPU: outputs, the
never-slower decision, the report, saving and loading, and bad input.
(The CUDA side, CUDA-graph replay included, is in test_scheduled_cuda.py.)"""

from __future__ import annotations

import json
import pickle
import warnings

import pytest
import torch
from torch import nn

import hios_opt as ho
import hios_opt.models as zoo
import hios_opt.scheduled as scheduled
from hios_opt.errors import (
    AlgorithmError,
    DeviceError,
    FormatError,
    GraphError,
    InputMismatchError,
    ModelMismatchError,
    NotFasterWarning,
    OptionError,
    ProfileError,
    TraceError,
)
from hios_opt.results import COLUMNS
from hios_opt.scheduled import ScheduledModule, decide, optimize

FAST = {"costs": "estimate:h100", "solver": None, "repeat": 3, "warmup": 1, "warn": False}


class Diamond(nn.Module):
    """x -> stem -> (left, right) -> add: two independent branches."""

    def __init__(self, width: int = 32, hidden: int = 32) -> None:
        super().__init__()
        self.stem = nn.Linear(width, width)
        self.left = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, width))
        self.right = nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Linear(width, width))

    def forward(self, x):
        y = torch.relu(self.stem(x))
        return self.left(y) + self.right(y)


class TwoInTwoOut(nn.Module):
    """Two inputs, a nested output (a tuple holding a dict)."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x, y):
        return self.a(x), {"sum": self.a(x) + self.b(y), "b": self.b(y)}


class DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:
            return self.lin(x)
        return x


def _same(a, b) -> bool:
    return all(torch.allclose(p, q, atol=1e-5, rtol=1e-4) for p, q in
               zip(torch.utils._pytree.tree_leaves(a), torch.utils._pytree.tree_leaves(b)))


@pytest.fixture(scope="module")
def diamond():
    torch.manual_seed(0)
    net = Diamond().eval()
    return net, torch.randn(4, 32)


@pytest.fixture
def fixed_times(monkeypatch):
    """Replace the final check's timings by given medians, to test the decision's wiring."""

    def use(**times):
        monkeypatch.setattr(scheduled, "time_calls", lambda fns, device, warmup, repeat: {
            name: times[name] for name in fns})
    return use


# ------------------------------------------------------------------ results
def test_outputs_equal_the_forward_and_report_follows_the_schema(diamond) -> None:
    net, x = diamond
    fast = optimize(net, x, **FAST)
    assert isinstance(fast, nn.Module) and fast.mode in scheduled.MODES
    for _ in range(2):
        xi = torch.randn_like(x)
        assert _same(fast(xi), net(xi))
    df = fast.report()
    assert list(df.columns[:len(COLUMNS)]) == [c for c in COLUMNS if c in df.columns]
    assert {"graph", "algorithm", "makespan_ms", "lower_bound_ms", "gap", "speedup", "status",
            "predicted_ms", "measured_ms", "prediction_error"} <= set(df.columns)
    assert list(df.algorithm) == [*ho.algorithms(), "forward"]
    assert df.used.sum() == 1 and df.chosen.sum() == 1
    assert df.loc[df.algorithm == "forward", "measured_ms"].item() == pytest.approx(fast.decision.forward_ms)
    chosen = df[df.chosen == True]  # noqa: E712 - a pandas mask
    assert chosen.predicted_ms.item() == pytest.approx(fast.schedule.makespan_ms)
    assert df.attrs["mode"] == fast.mode and df.attrs["device"] == "cpu"
    assert fast.schedule.makespan_ms == pytest.approx(ho.evaluate(fast.graph, ho.Platform(streams=2),
                                                                  fast.schedule).makespan)


def test_nested_outputs_and_two_inputs(fixed_times) -> None:
    fixed_times(forward=10.0, scheduled=5.0, sequential=9.0)
    torch.manual_seed(1)
    net = TwoInTwoOut().eval()
    x, y = torch.randn(2, 8), torch.randn(2, 8)
    fast = optimize(net, (x, y), **FAST)
    assert fast.mode == "scheduled"
    out, want = fast(x, y), net(x, y)
    assert isinstance(out, tuple) and isinstance(out[1], dict) and set(out[1]) == {"sum", "b"}
    assert _same(out, want)


def test_two_logical_gpus_on_the_cpu(diamond, fixed_times) -> None:
    fixed_times(forward=10.0, scheduled=5.0, sequential=9.0)
    net, x = diamond
    fast = optimize(net, x, gpus=2, streams=1, **FAST)
    assert fast.schedule.gpus == 2 and fast.mode == "scheduled"
    assert _same(fast(x), net(x))


def test_a_moe_model_of_the_zoo(fixed_times) -> None:
    fixed_times(forward=10.0, scheduled=5.0, sequential=9.0)
    model = zoo.get("vit_moe", input_size=32, experts=4)
    x = model.example_input()
    fast = optimize(model, x, **FAST)
    assert fast.schedule.makespan_ms < fast.report().set_index("algorithm").makespan_ms["sequential"]
    assert _same(fast(x), model(x))


# ---------------------------------------------------------------- decision
def test_decide() -> None:
    assert decide(10.0, 8.0, 9.0, 0.03)[0] == "scheduled"
    assert decide(10.0, 9.8, None, 0.03)[0] == "forward"
    assert decide(10.0, 8.0, 5.0, 0.03)[0] == "sequential"
    assert decide(10.0, 8.0, 7.9, 0.03)[0] == "scheduled"  # within the margin: the schedule's plan
    assert decide(10.0, 12.0, 9.0, 0.03)[0] == "sequential"
    mode, reason = decide(10.0, 11.0, 10.5, 0.05)
    assert mode == "forward" and "11 ms" in reason and "10 ms" in reason and "5%" in reason


def test_not_faster_runs_the_plain_forward_and_says_so(diamond, fixed_times) -> None:
    fixed_times(forward=5.0, scheduled=6.0, sequential=5.5)
    net, x = diamond
    with pytest.warns(NotFasterWarning, match="6 ms.*5 ms for the plain forward"):
        fast = optimize(net, x, **{**FAST, "warn": True})
    assert fast.mode == "forward" and fast.decision.speedup == 1.0
    assert fast.decision.forward_ms == 5.0 and fast.decision.scheduled_ms == 6.0
    assert fast.report().set_index("algorithm").used["forward"]
    assert "forward" in repr(fast)
    assert _same(fast(x), net(x))
    other = torch.randn(7, 32)  # the plain forward takes any shape
    assert _same(fast(other), net(other))


def test_sequential_plan_when_it_is_the_fast_one(diamond, fixed_times) -> None:
    fixed_times(forward=10.0, scheduled=9.0, sequential=6.0)
    net, x = diamond
    fast = optimize(net, x, **FAST)
    assert fast.mode == "sequential" and fast.decision.sequential_ms == 6.0
    df = fast.report().set_index("algorithm")
    assert df.used["sequential"] and df.measured_ms["sequential"] == 6.0
    assert _same(fast(x), net(x))


def test_real_measurement_with_a_margin_no_plan_can_meet(diamond) -> None:
    net, x = diamond
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fast = optimize(net, x, **{**FAST, "margin": 0.99, "warn": True})
    assert fast.mode == "forward" and fast.decision.forward_ms > 0 and fast.decision.scheduled_ms > 0
    assert any(issubclass(w.category, NotFasterWarning) for w in caught)


# ------------------------------------------------------------------- costs
def test_measured_costs(diamond, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HIOS_OPT_CACHE", str(tmp_path))
    net, x = diamond
    fast = optimize(net, x, costs="measure", solver=None, repeat=2, warmup=0, max_pairs=2, warn=False)
    assert fast.graph.meta["source"] == "measured"
    assert fast.graph.meta["threads"] == fast.settings["threads"] == max(1, torch.get_num_threads() // 2)
    assert fast.graph.name.startswith("Diamond-")


def test_costs_from_a_graph_and_a_file(diamond, tmp_path) -> None:
    net, x = diamond
    first = optimize(net, x, **FAST)
    path = tmp_path / "costs.json"
    first.graph.save(path)
    for costs in (first.graph, str(path), path):
        again = optimize(net, x, **{**FAST, "costs": costs})
        assert again.schedule.makespan_ms == pytest.approx(first.schedule.makespan_ms)
    other = optimize(TwoInTwoOut().eval(), (torch.randn(2, 8), torch.randn(2, 8)), **FAST).graph
    with pytest.raises(GraphError):
        optimize(net, x, **{**FAST, "costs": other})


@pytest.mark.parametrize(("costs", "error", "message"), [
    ("estimate:p100", ProfileError, "h100"),
    ("no/such/file.json", OptionError, "no file"),
    (3, OptionError, "int"),
])
def test_bad_costs(diamond, costs, error, message) -> None:
    net, x = diamond
    with pytest.raises(error, match=message):
        optimize(net, x, **{**FAST, "costs": costs})


# ------------------------------------------------------------------ solver
def test_exact_solver_warm_started_and_reported(diamond) -> None:
    net, x = diamond
    fast = optimize(net, x, **{**FAST, "solver": "cpsat", "time_limit": 5})
    df = fast.report().set_index("algorithm")
    assert "exact-cpsat" in df.index and df.status["exact-cpsat"] in ("optimal", "feasible")
    assert fast.schedule.makespan_ms <= df.makespan_ms.drop(["forward", "exact-cpsat"]).min() + 1e-12
    assert (df.lower_bound_ms.drop("forward") == df.lower_bound_ms["exact-cpsat"]).all()
    if df.status["exact-cpsat"] == "optimal" and not df.chosen["exact-cpsat"]:
        assert "nothing shorter" in fast.note


def test_unknown_solver_lists_the_valid_ones(diamond) -> None:
    net, x = diamond
    with pytest.raises(AlgorithmError, match="cpsat, milp, astar"):
        optimize(net, x, **{**FAST, "solver": "gurobi"})


# --------------------------------------------------------------- bad input
def test_untraceable_model_names_the_line() -> None:
    with pytest.raises(TraceError, match=r"test_scheduled\.py:\d+"):
        optimize(DataDependent().eval(), torch.randn(2, 4), **FAST)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"device": "cuda:3"}, DeviceError, "devices here: cpu"),
    ({"device": "tpu"}, DeviceError, "devices here: cpu"),
    ({"gpus": 0}, OptionError, "gpus"),
    ({"streams": True}, OptionError, "streams"),
    ({"margin": 1.5}, OptionError, "margin"),
    ({"repeat": 0}, OptionError, "repeat"),
    ({"time_limit": -1}, OptionError, "time_limit"),
    ({"granularity": "layer"}, OptionError, "block, module"),
    ({"on_new_shape": "retrace"}, OptionError, "error, forward"),
])
def test_bad_arguments_name_the_culprit(diamond, kwargs, error, message) -> None:
    if kwargs.get("device") == "cuda:3" and torch.cuda.device_count() > 3:
        pytest.skip("this machine has a cuda:3")
    net, x = diamond
    with pytest.raises(error, match=message):
        optimize(net, x, **{**FAST, **kwargs})


def test_training_mode_and_non_modules_are_refused(diamond) -> None:
    net, x = diamond
    with pytest.raises(OptionError, match="eval"):
        optimize(Diamond().train(), x, **FAST)
    with pytest.raises(OptionError, match="Module"):
        optimize(lambda t: t, x, **FAST)
    assert not net.training


def test_inputs_of_another_shape(diamond, fixed_times) -> None:
    fixed_times(forward=10.0, scheduled=5.0, sequential=9.0)
    net, x = diamond
    fast = optimize(net, x, **FAST)
    with pytest.raises(InputMismatchError, match=r"input 'x' has shape \[5, 32\].*scheduled for shape \[4, 32\]"):
        fast(torch.randn(5, 32))
    with pytest.raises(InputMismatchError, match="dtype float64"):
        fast(x.double())
    with pytest.raises(InputMismatchError, match="takes 1 input"):
        fast(x, x)
    with pytest.raises(InputMismatchError, match="positionally"):
        fast(x=x)
    lenient = optimize(net, x, **{**FAST, "on_new_shape": "forward"})
    other = torch.randn(5, 32)
    with pytest.warns(UserWarning, match="plain forward"):
        assert _same(lenient(other), net(other))
    assert _same(lenient(x), net(x))


def test_module_contract(diamond, fixed_times) -> None:
    fixed_times(forward=10.0, scheduled=5.0, sequential=9.0)
    net, x = diamond
    fast = optimize(net, x, **FAST)
    with pytest.raises(DeviceError, match="optimize"):
        fast.to("cpu")
    with pytest.raises(OptionError, match="inference"):
        fast.train()
    assert fast.eval() is fast
    with pytest.raises(TypeError, match="save"):
        pickle.dumps(fast)
    assert set(fast.state_dict()) == {f"model.{k}" for k in net.state_dict()}
    fast.close()
    assert fast.mode == "forward" and _same(fast(x), net(x))


# ------------------------------------------------------------ save and load
def test_save_and_load_on_the_same_device_keeps_the_decision(diamond, tmp_path, fixed_times) -> None:
    fixed_times(forward=10.0, scheduled=5.0, sequential=9.0)
    net, x = diamond
    fast = optimize(net, x, **FAST)
    folder = fast.save(tmp_path / "saved")
    assert sorted(p.name for p in folder.iterdir()) == ["graph.json", "module.json", "schedule.json"]
    data = json.loads((folder / "module.json").read_text())
    assert data["format"] == "hios-opt/scheduled-module" and data["decision"]["mode"] == "scheduled"
    fixed_times(forward=1.0, scheduled=5.0, sequential=9.0)  # a re-check would now choose the forward
    again = ScheduledModule.load(folder, Diamond().eval())
    assert again.decision == fast.decision and again.mode == "scheduled"
    assert again.schedule.stages == fast.schedule.stages
    fresh = Diamond().eval()  # other weights, same architecture: its own outputs
    assert _same(ScheduledModule.load(folder, fresh)(x), fresh(x))
    assert ScheduledModule.load(folder, Diamond().eval(), recheck=True).mode == "forward"


def test_load_on_another_device_kind_rechecks(diamond, tmp_path, fixed_times, monkeypatch) -> None:
    monkeypatch.setenv("HIOS_OPT_CACHE", str(tmp_path / "cache"))
    fixed_times(forward=10.0, scheduled=5.0, sequential=9.0)
    net, x = diamond
    folder = optimize(net, x, **FAST).save(tmp_path / "gpu")
    data = json.loads((folder / "module.json").read_text())
    data["decision"].update(device="cuda:7", device_kind="cuda:Some GPU")
    (folder / "module.json").write_text(json.dumps(data))
    fixed_times(forward=4.0, scheduled=5.0, sequential=9.0)
    again = ScheduledModule.load(folder, net)
    assert again.device == torch.device("cpu") and again.decision.device_kind == "cpu"
    assert again.mode == "forward" and again.decision.forward_ms == 4.0
    fixed_times(forward=10.0, scheduled=5.0, sequential=9.0)
    remade = ScheduledModule.load(folder, net, reprofile=True)
    assert remade.graph.meta["source"] == "measured" and remade.mode == "scheduled"
    assert _same(remade(x), net(x))


def test_load_refuses_another_model_naming_the_op(diamond, tmp_path) -> None:
    net, x = diamond
    folder = optimize(net, x, **FAST).save(tmp_path / "saved")
    with pytest.raises(ModelMismatchError, match=r"op #1 differs: saved 'left_0'.*output \[4, 32\].*\[4, 64\]"):
        ScheduledModule.load(folder, Diamond(hidden=64).eval())
    with pytest.raises(ModelMismatchError, match=r"saved inputs \(\[\[4, 32\]\]\).*mat1 and mat2"):
        ScheduledModule.load(folder, Diamond(width=16).eval())

    class Activated(Diamond):
        def forward(self, x):
            return torch.relu(super().forward(x))

    with pytest.raises(ModelMismatchError, match=r"op #5 differs: saved 'add' \(add,.*model 'add' \(add\+relu,"):
        ScheduledModule.load(folder, Activated().eval())

    class Deeper(Diamond):
        def __init__(self):
            super().__init__()
            self.extra = nn.Linear(32, 32)

        def forward(self, x):
            return self.extra(super().forward(x))

    with pytest.raises(ModelMismatchError, match=r"6 ops, the model 7; the first unmatched is model op 'extra'"):
        ScheduledModule.load(folder, Deeper().eval())


def test_load_rejects_broken_files(diamond, tmp_path) -> None:
    net, x = diamond
    folder = optimize(net, x, **FAST).save(tmp_path / "saved")
    data = json.loads((folder / "module.json").read_text())
    (folder / "module.json").write_text(json.dumps({**data, "version": 99}))
    with pytest.raises(FormatError, match="version"):
        ScheduledModule.load(folder, net)
    (folder / "module.json").write_text(json.dumps({**data, "decision": {**data["decision"], "mode": "fast"}}))
    with pytest.raises(FormatError, match="mode"):
        ScheduledModule.load(folder, net)
    with pytest.raises(FormatError):
        ScheduledModule.load(tmp_path / "nothing", net)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OptionError, match="not a directory"):
        optimize(net, x, **FAST).save(tmp_path / "file")
