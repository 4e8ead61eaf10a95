"""The registry: names, option checks, and every algorithm's invariants on
hundreds of random graphs."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hios_opt
from hios_opt import Platform, Schedule, evaluate, generators, lower_bound
from hios_opt.costs import AnalyticModel
from hios_opt.errors import AlgorithmError, OptionError, ScheduleError
from hios_opt.heuristics import algorithm_options, algorithms, schedule

from .support.graphs import small_random_graph

NAMES = ["sequential", "ios", "heft", "cpop", "etf", "dls", "mcp", "fcp", "flb", "minmin", "maxmin", "duplex",
         "sufferage", "hios-mr", "hios-lp"]
#: The classic list schedulers: a mapping, then the intra-GPU pass.
CLASSIC = ["cpop", "etf", "dls", "mcp", "fcp", "flb", "minmin", "maxmin", "duplex", "sufferage"]


def test_names_and_lazy_top_level():
    assert algorithms() == NAMES
    assert hios_opt.algorithms() == NAMES
    assert hios_opt.schedule is schedule
    assert algorithm_options("ios") == ["max_group_size", "max_part_size", "prune"]
    assert algorithm_options("heft") == []
    assert all(algorithm_options(name) == ["intra", "window"] for name in CLASSIC)
    assert algorithm_options("best") == ["algorithms", "intra", "time_limit", "window"]


def test_names_are_forgiving_about_case_and_underscores():
    g = generators.diamond()
    assert schedule(g, Platform(gpus=2), "HIOS_LP").algorithm == "hios-lp"


def test_unknown_algorithm_lists_the_valid_names():
    with pytest.raises(AlgorithmError, match="unknown algorithm 'hios'; valid: sequential, ios, heft, cpop, .*, hios-lp, best"):
        schedule(generators.diamond(), Platform(), "hios")
    with pytest.raises(AlgorithmError, match="must be a name"):
        schedule(generators.diamond(), Platform(), None)


@pytest.mark.parametrize(("algorithm", "options", "message"), [
    ("hios-lp", {"window": 0}, "window must be >= 1"),
    ("hios-lp", {"window": 3}, "window 3 is larger than the 2 stream"),
    ("hios-mr", {"window": 2.0}, "window must be an integer"),
    ("hios-lp", {"prune": False}, "hios-lp does not take option 'prune'; it takes: intra, window"),
    ("heft", {"window": 2}, "heft does not take option 'window'; it takes: no options"),
    ("sequential", {"intra": True}, "sequential does not take option 'intra'"),
    ("ios", {"window": 2}, "ios does not take option 'window'"),
    ("ios", {"max_part_size": 100}, "max_part_size must be <= 24"),
    ("etf", {"window": 3}, "window 3 is larger than the 2 stream"),
    ("mcp", {"prune": True}, "mcp does not take option 'prune'; it takes: intra, window"),
    ("duplex", {"intra": 1}, "intra must be True or False"),
    ("best", {"time_limit": 0}, "time_limit must be a number of seconds > 0"),
    ("best", {"algorithms": []}, "algorithms of 'best' is empty"),
    ("best", {"algorithms": ["best"]}, "cannot include 'best' itself"),
    ("best", {"depth": 3}, "best does not take option 'depth'"),
])
def test_bad_options_name_the_option(algorithm, options, message):
    with pytest.raises(OptionError, match=message):
        schedule(generators.diamond(), Platform(gpus=2, streams=2), algorithm, **options)


def test_bad_problem_arguments():
    g = generators.diamond()
    with pytest.raises(ScheduleError, match="expected an OpGraph"):
        schedule("diamond", Platform())
    with pytest.raises(ScheduleError, match="expected a Platform"):
        schedule(g, {"gpus": 2})
    with pytest.raises(OptionError, match="cost_model must be a stage-latency model"):
        schedule(g, Platform(), cost_model=0.5)
    with pytest.raises(OptionError, match="intra must be True or False"):
        schedule(g, Platform(streams=2), "hios-lp", intra="no")


def test_every_algorithm_on_hundreds_of_random_graphs():
    rng = random.Random(2023)
    for i in range(250):
        g = small_random_graph(rng, max_ops=24)
        p = Platform(gpus=rng.randint(1, 4), streams=rng.randint(1, 3))
        model = AnalyticModel(rng.choice([0.0, 0.5, 1.0]))
        bound = lower_bound(g, p, model)
        # The classic list schedulers share one engine, each has its own random test: 1 graph in 3.
        for name in (n for n in NAMES if n not in CLASSIC or i % 3 == 0):
            s = schedule(g, p, name, cost_model=model)
            assert isinstance(s, Schedule) and s.algorithm == name
            assert (s.graph_name, s.gpus, s.streams) == (g.name, p.gpus, p.streams)
            assert evaluate(g, p, s, model).makespan == s.makespan_ms
            assert s.makespan_ms >= bound - 1e-9, name


@settings(max_examples=40)
@given(st.integers(3, 40), st.integers(1, 4), st.integers(1, 3), st.sampled_from([0.0, 0.3, 1.2]),
       st.integers(0, 10**6))
def test_same_input_same_schedule(n, gpus, streams, ccr, seed):
    layers = max(1, min(5, n - 2))
    for edges in range(2 * n, 0, -1):  # fewer edges until the layering allows them
        try:
            g = generators.random_layered(n, edges, layers, ccr, seed)
            break
        except OptionError:
            continue
    p = Platform(gpus=gpus, streams=streams)
    for name in NAMES:
        assert schedule(g, p, name).to_dict() == schedule(g, p, name).to_dict()


def test_one_gpu_hios_lp_maps_like_sequential():
    rng = random.Random(1)
    for _ in range(30):
        g = small_random_graph(rng)
        p = Platform(gpus=1, streams=rng.randint(1, 3))
        assert schedule(g, p, "hios-lp").placement == schedule(g, p, "sequential").placement


@pytest.mark.parametrize("name", CLASSIC)
def test_classic_schedulers_merge_with_several_streams(name):
    # Four independent 1 ms ops (u = 0.5) between a source and a sink on one GPU with 2 streams:
    # the mapping runs them one by one (0.5 + 4 + 0.5); the intra-GPU pass pairs them
    # (two stages of 0.5 * 2 + 0.5 * 1 = 1.5 ms): 0.5 + 3 + 0.5. intra=False keeps the mapping.
    g = generators.wide_layer(width=4)
    p = Platform(gpus=1, streams=2)
    merged, alone = schedule(g, p, name), schedule(g, p, name, intra=False)
    assert alone.makespan_ms == 5.0 and all(len(st.ops) == 1 for st in alone.stages)
    assert merged.makespan_ms == 4.0 and merged.meta["merges"] == 2
    assert schedule(g, p, name, window=1).makespan_ms == 5.0
