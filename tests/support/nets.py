"""Small torch nets for the executor, trace, profile and distributed tests.

``Faulty`` runs its right branch through ``explode``, an operator that raises
(or stalls) while a test arms it through ``_FAULT``.
"""

from __future__ import annotations

import random
import time

import torch
import torch.fx
from torch import nn

from hios_opt import Schedule, Stage
from hios_opt.trace import TracedGraph

# --------------------------------------------------------------- test nets
_FAULT = {"armed": False, "sleep_s": 0.0}


@torch.fx.wrap
def explode(x: torch.Tensor) -> torch.Tensor:
    """An operator that raises (or stalls) when a test arms it."""
    if _FAULT["armed"]:
        raise RuntimeError("boom")
    if _FAULT["sleep_s"]:
        time.sleep(_FAULT["sleep_s"])
    return x * 1.0


class Diamond(nn.Module):
    """a -> (b, c) -> cat -> d."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, padding=1)
        self.c = nn.Conv2d(8, 8, 1)
        self.d = nn.Conv2d(16, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.a(x))
        return self.d(torch.cat([self.b(y), self.c(y)], 1))


class ConvBN(nn.Module):
    def __init__(self, cin: int, cout: int, k: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """A stem, an Inception block of four branches, a classifier head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = ConvBN(3, 8, 3)
        self.b1 = ConvBN(8, 4, 1)
        self.b2 = nn.Sequential(ConvBN(8, 4, 1), ConvBN(4, 6, 3))
        self.b3 = nn.Sequential(ConvBN(8, 2, 1), ConvBN(2, 4, 3), ConvBN(4, 4, 3))
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)
        self.b4 = ConvBN(8, 4, 1)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(18, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        y = torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(self.pool(x))], 1)
        return self.head(y)


class TwoInTwoOut(nn.Module):
    """Two inputs, a residual add, a tuple output."""

    def __init__(self) -> None:
        super().__init__()
        self.f = nn.Linear(6, 6)
        self.g = nn.Linear(6, 6)
        self.h = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = self.f(x) + self.g(z)
        return self.h(torch.relu(u)), u


class Faulty(nn.Module):
    """Two branches; the right one goes through ``explode``."""

    def __init__(self) -> None:
        super().__init__()
        self.left = nn.Linear(4, 4)
        self.right = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.left(x) + explode(self.right(x))


def build(net: str) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    if net == "diamond":
        return Diamond().eval(), (torch.randn(1, 3, 12, 12),)
    if net == "inception":
        model = Inception().eval()
        with torch.no_grad():  # non-trivial BatchNorm statistics
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 1.5)
        return model, (torch.randn(2, 3, 10, 10),)
    if net == "two":
        return TwoInTwoOut().eval(), (torch.randn(2, 6), torch.randn(2, 6))
    raise KeyError(net)



def random_schedule(traced: TracedGraph, gpus: int, streams: int, seed: int = 0) -> Schedule:
    """A random valid schedule: ready ops grouped (up to ``streams``) on random GPUs.

    Ops whose predecessors are all placed are mutually independent, so every
    stage is an antichain, and stages are appended in a topological order, so
    no deadlock is possible.
    """
    rng = random.Random(seed)
    placed: set[str] = set()
    stages: list[Stage] = []
    while len(placed) < len(traced.ops):
        ready = [op for op in traced.ids if op not in placed and set(traced.predecessors(op)) <= placed]
        rng.shuffle(ready)
        group = ready[: rng.randint(1, min(streams, len(ready)))]
        stages.append(Stage(rng.randrange(gpus), tuple(group)))
        placed |= set(group)
    return Schedule(stages, gpus=gpus, streams=streams, algorithm=f"random-{seed}", graph_name=traced.name)


def assert_same(actual, expected, atol: float = 1e-5) -> None:
    if isinstance(expected, torch.Tensor):
        assert isinstance(actual, torch.Tensor)
        assert actual.shape == expected.shape
        assert torch.allclose(actual, expected, rtol=1e-4, atol=atol), (actual - expected).abs().max()
    else:
        assert type(actual) is type(expected) and len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_same(a, e, atol)
