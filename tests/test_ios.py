"""IOS: exact on small graphs (against a brute force over every stage
sequence), pruning, partitioning, options."""

from __future__ import annotations

import math
import random
from itertools import combinations

import pytest

from hios_opt import OpGraph, Platform, Schedule, Stage, evaluate, generators, lower_bound
from hios_opt.costs import AnalyticModel, StageModel, default_model
from hios_opt.errors import OptionError
from hios_opt.heuristics.ios import ios

from .support.graphs import small_random_graph


def brute_force(graph: OpGraph, streams: int, model: StageModel | None = None) -> tuple[float, list[list[int]]]:
    """Shortest one-GPU schedule by trying every sequence of stages: at each
    step any non-empty set of at most ``streams`` ready ops (ops whose
    predecessors have all run; ready ops never depend on each other) may form
    the next stage. On one GPU the makespan is the sum of the stage latencies."""
    cost = default_model(model)
    n = graph.n_ops
    best: list = [math.inf, []]

    def explore(done: frozenset[int], elapsed: float, stages: list[list[int]]) -> None:
        if len(done) == n:
            if elapsed < best[0]:
                best[0], best[1] = elapsed, [list(s) for s in stages]
            return
        ready = [v for v in range(n) if v not in done and all(u in done for u in graph.pred[v])]
        for size in range(1, min(streams, len(ready)) + 1):
            for stage in combinations(ready, size):
                stages.append(list(stage))
                explore(done | set(stage), elapsed + cost.stage_latency(graph, list(stage)), stages)
                stages.pop()

    explore(frozenset(), 0.0, [])
    return best[0], best[1]


def tiny_graphs():
    yield generators.diamond()
    yield generators.fork_join(branches=3, utilization=0.5)
    yield generators.wide_layer(width=5)
    yield generators.chain(5)
    rng = random.Random(23)
    for _ in range(25):
        yield small_random_graph(rng, max_ops=7)


@pytest.mark.parametrize("streams", [1, 2])
def test_unpruned_ios_equals_the_brute_force_optimum(streams):
    p = Platform(gpus=1, streams=streams)
    rng = random.Random(streams)
    for g in tiny_graphs():
        assert g.n_ops <= 7
        model = AnalyticModel(rng.choice([0.0, 0.3, 0.5, 1.0]))
        best, stages = brute_force(g, streams, model)
        # the brute force's own best sequence is a schedule the evaluator agrees with
        witness = Schedule([Stage(0, tuple(g.ids[v] for v in st)) for st in stages], streams=streams)
        assert math.isclose(evaluate(g, p, witness, model).makespan, best, abs_tol=1e-9)
        s = ios(g, p, prune=False, cost_model=model)
        assert math.isclose(s.makespan_ms, best, abs_tol=1e-9), g.name
        assert s.makespan_ms == evaluate(g, p, s, model).makespan


def test_one_stream_is_sequential():
    g = generators.inception_block()
    s = ios(g, Platform(gpus=1, streams=1))
    assert math.isclose(s.makespan_ms, g.total_latency_ms)


def test_hand_checked_inception_block_pairs():
    # Two streams on one GPU: every stage of 2 ops saves
    # t1 + t2 - [0.5(t1 + t2) + 0.5 max(t1 u1 + t2 u2, t1, t2)]; IOS must find at
    # least the saving of pairing the two long branches b2_3x3 (2.4, u .9) and
    # b3_5x5 (1.8, u .8): 4.2 - (2.1 + 0.5 * 3.6) = 0.3.
    g = generators.inception_block()
    s = ios(g, Platform(gpus=1, streams=2))
    assert s.makespan_ms <= g.total_latency_ms - 0.3 + 1e-9
    assert max(len(st.ops) for st in s.stages) == 2


def test_pruning_and_partitioning():
    g = generators.random_layered(40, 80, 6, ccr=0.5, seed=3)
    p = Platform(gpus=2, streams=3)
    full = ios(g, p, max_part_size=12, prune=False)
    pruned = ios(g, p, max_part_size=12, max_group_size=2)
    small = ios(g, p, max_part_size=3)
    for s in (full, pruned, small):
        assert s.makespan_ms == evaluate(g, p, s).makespan
        assert s.makespan_ms >= lower_bound(g, Platform(gpus=1, streams=3)) - 1e-9
        assert set(s.placement.values()) == {0}  # IOS uses one GPU
    assert full.meta["parts"] == 4 and small.meta["parts"] == 14
    assert max(len(st.ops) for st in pruned.stages) <= 2
    assert full.makespan_ms <= pruned.makespan_ms + 1e-9  # more endings can only help


def test_options_are_checked():
    g = generators.diamond()
    p = Platform(streams=2)
    with pytest.raises(OptionError, match="max_part_size must be >= 1"):
        ios(g, p, max_part_size=0)
    with pytest.raises(OptionError, match="max_part_size must be <= 24"):
        ios(g, p, max_part_size=30)
    with pytest.raises(OptionError, match="max_group_size must be <= 2"):
        ios(g, p, max_group_size=3)
    with pytest.raises(OptionError, match="prune must be True or False"):
        ios(g, p, prune="yes")


def test_deterministic_and_fields():
    g = generators.random_layered(30, 60, 5, seed=9)
    p = Platform(gpus=3, streams=2)
    s = ios(g, p)
    assert (s.algorithm, s.graph_name, s.gpus, s.streams) == ("ios", g.name, 3, 2)
    assert s.to_dict() == ios(g, p).to_dict()
