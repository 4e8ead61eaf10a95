"""optimize() and the torch.compile backend on a real GPU: CUDA-graph replay
of a ScheduledModule, measured kernel-timed costs, saving on the GPU and
loading on the CPU (and back). Skipped without CUDA (CI has none); the CPU
side is test_scheduled.py and test_dynamo.py."""

from __future__ import annotations

import pytest
import torch
from torch import nn

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

import hios_opt.models as zoo  # noqa: E402
import hios_opt.scheduled as scheduled  # noqa: E402
from hios_opt import dynamo  # noqa: E402
from hios_opt.errors import DeviceError, InputMismatchError  # noqa: E402
from hios_opt.realbench import TOLERANCES  # noqa: E402
from hios_opt.scheduled import MODES, ScheduledModule, optimize  # noqa: E402

RTOL, ATOL = TOLERANCES["cuda"]
FAST = {"costs": "estimate:h100", "solver": None, "repeat": 5, "warmup": 2, "warn": False}


def _close(a, b) -> bool:
    return torch.allclose(a, b, rtol=RTOL, atol=ATOL)


@pytest.fixture
def plan_wins(monkeypatch):
    monkeypatch.setattr(scheduled, "time_calls", lambda fns, device, warmup, repeat: {
        "forward": 10.0, "scheduled": 5.0, "sequential": 9.0})


@pytest.fixture(scope="module", params=["squeezenet", "inception_v3", "vit_moe"])
def model_case(request):
    name = request.param
    model = zoo.get(name, input_size=max(zoo.info(name).min_input_size, 64)).to("cuda:0")
    return name, model, model.example_input().to("cuda:0")


def test_cuda_graph_replay_of_a_scheduled_module(model_case, plan_wins) -> None:
    name, model, x = model_case
    for gpus, streams in ((1, 2), (1, 3), (2, 2)):
        fast = optimize(model, x, gpus=gpus, streams=streams, **FAST)
        assert fast.mode == "scheduled" and fast._runner.kind == "cuda-graph"
        outputs = []
        for _ in range(3):  # each replay reads its own input and returns its own output
            xi = torch.randn_like(x)
            out = fast(xi)
            assert out.device == x.device and _close(out, model(xi)), (name, gpus, streams)
            outputs.append((xi, out))
        for xi, out in outputs:
            assert _close(out, model(xi))


def test_real_decision_with_kernel_timed_costs(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HIOS_OPT_CACHE", str(tmp_path))
    model = zoo.get("inception_v3", input_size=128).to("cuda:0")
    x = model.example_input().to("cuda:0")
    fast = optimize(model, x, costs="measure", solver="portfolio", time_limit=5, max_pairs=50, warn=False)
    assert fast.graph.meta["timing"] == "kernel" and fast.mode in MODES
    assert fast.decision.device_kind.startswith("cuda:")
    df = fast.report()
    assert df.loc[df.algorithm == "forward", "measured_ms"].item() > 0
    assert df.measured_ms.notna().sum() >= 2
    assert _close(fast(x), model(x))


def test_save_on_the_gpu_load_on_the_cpu_and_back(tmp_path, plan_wins) -> None:
    model = zoo.get("squeezenet", input_size=64).to("cuda:0")
    x = model.example_input().to("cuda:0")
    folder = optimize(model, x, **FAST).save(tmp_path / "saved")
    cpu_model = zoo.get("squeezenet", input_size=64)  # the zoo's weights are seeded: the same model
    on_cpu = ScheduledModule.load(folder, cpu_model, device="cpu")
    assert on_cpu.decision.device_kind == "cpu" and on_cpu.device == torch.device("cpu")
    with torch.no_grad():
        assert _close(on_cpu(x.cpu()), cpu_model(x.cpu()))
    back = ScheduledModule.load(folder, zoo.get("squeezenet", input_size=64))
    assert back.device.type == "cuda" and back.mode == "scheduled" and back._runner.kind == "cuda-graph"


def test_inputs_on_another_device_are_refused(plan_wins) -> None:
    model = zoo.get("squeezenet", input_size=32).to("cuda:0")
    x = model.example_input().to("cuda:0")
    fast = optimize(model, x, **FAST)
    with pytest.raises(InputMismatchError, match="is on cpu, but the module runs on cuda:0"):
        fast(x.cpu())


def test_a_device_that_does_not_exist_lists_those_that_do() -> None:
    model = zoo.get("squeezenet", input_size=32)
    count = torch.cuda.device_count()
    with pytest.raises(DeviceError, match=r"devices here: cpu, cuda:0 \("):
        optimize(model, model.example_input(), device=f"cuda:{count}", **FAST)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_two_gpus_run_the_stream_engine(plan_wins) -> None:
    model = zoo.get("inception_v3", input_size=96).to("cuda:0")
    x = model.example_input().to("cuda:0")
    fast = optimize(model, x, gpus=2, streams=2, device="cuda", **FAST)
    assert fast._runner.kind == "cuda-streams"
    assert _close(fast(x), model(x))


def test_compile_backend_on_the_gpu(plan_wins) -> None:
    torch._dynamo.reset()

    class Branches(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.c = nn.Linear(256, 256), nn.Linear(256, 256), nn.Linear(256, 256)

        def forward(self, x):
            return self.a(x).relu() + self.b(x).tanh() + self.c(x)

    net = Branches().eval().to("cuda:0")
    x = torch.randn(64, 256, device="cuda:0")
    made = []

    def spy(gm, example_inputs, **kwargs):
        run = dynamo.backend(gm, example_inputs, **kwargs)
        made.append(run)
        return run

    options = {"costs": "estimate:h100", "solver": None, "repeat": 3, "fallback": "eager"}
    with torch.no_grad():
        fast = torch.compile(net, backend=spy, options=options)
        for _ in range(3):
            xi = torch.randn_like(x)
            assert _close(fast(xi), net(xi))
    assert made[0].scheduled._runner.kind == "cuda-graph"
