"""Every zoo model, every heuristic's schedule, K in {1, 2, 3}, S in {1, 2}:
the executor's outputs equal the model's plain forward pass (CPU backend);
and every heuristic's 2-GPU plan on two gloo ranks (distributed backend)."""

from __future__ import annotations

import functools

import pytest
import torch

import hios_opt.models as zoo
from hios_opt import Platform, algorithms, schedule
from hios_opt.executor import compile, run
from hios_opt.executor.distributed import ModelSpec, run_distributed
from hios_opt.trace import trace

# Outputs go through the same kernels in another order of launches; float32
# results agree to rounding.
ATOL, RTOL = 1e-4, 1e-4
SHAPES = [(k, s) for k in (1, 2, 3) for s in (1, 2)]


def _options(name: str) -> dict:
    return {"variant": "mobile", "num_cells": 2} if name == "nasnet" else {}


@pytest.fixture(scope="module", params=zoo.names())
def zoo_case(request):
    torch.set_num_threads(1)
    name = request.param
    factory = functools.partial(zoo.get, name, input_size=max(zoo.info(name).min_input_size, 32), **_options(name))
    model = factory()
    x = model.example_input()
    with torch.no_grad():
        expected = model(x)
    traced = trace(model, x, name=name)
    return name, traced, x, expected, factory


@pytest.mark.slow
def test_every_algorithm_and_shape_matches_forward(zoo_case):
    name, traced, x, expected, _ = zoo_case
    graph = traced.to_opgraph()
    checked = 0
    for gpus, streams in SHAPES:
        platform = Platform(gpus=gpus, streams=streams)
        for algorithm in algorithms():
            plan = compile(traced, schedule(graph, platform, algorithm))
            out = run(plan, (x,), warmup=0, repeat=1, timeout_s=120).outputs
            assert torch.allclose(out, expected, atol=ATOL, rtol=RTOL), (name, algorithm, gpus, streams)
            checked += 1
    assert checked == len(SHAPES) * len(algorithms())


@pytest.mark.slow
def test_two_gloo_ranks_match_forward(zoo_case):
    name, traced, x, expected, factory = zoo_case
    graph = traced.to_opgraph()
    # Each rank re-creates the model from its recipe (weights are seeded).
    spec = ModelSpec(factory, x, name=name)
    for algorithm in algorithms():
        plan_schedule = schedule(graph, Platform(gpus=2, streams=2), algorithm)
        result = run_distributed(spec, plan_schedule, (x,), world_size=2, warmup=0, repeat=1, timeout_s=120)
        assert torch.allclose(result.outputs, expected, atol=ATOL, rtol=RTOL), (name, algorithm)
