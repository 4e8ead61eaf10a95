"""The brute-force oracle against an even more naive enumeration and by hand."""

from __future__ import annotations

import math
from itertools import product

import pytest

from hios_opt import Op, OpGraph, Platform, Schedule, Stage, evaluate, generators
from hios_opt.errors import ProblemTooLargeError, ScheduleError
from hios_opt.exact.brute import brute_force

from .support.graphs import small_graph
from .support.schedules import random_schedule


def ordered_partitions(items):
    """Every way to cut ``items`` into an ordered list of non-empty blocks."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in ordered_partitions(rest):
        for i in range(len(part)):  # join an existing block
            yield part[:i] + [[first] + part[i]] + part[i + 1:]
        for i in range(len(part) + 1):  # or open a new block anywhere
            yield part[:i] + [[first]] + part[i:]


def naive_optimum(graph: OpGraph, platform: Platform) -> float:
    """Every placement, every ordered partition per GPU, judged by evaluate()."""
    ids = list(graph.ids)
    best = math.inf
    for placement in product(range(platform.gpus), repeat=len(ids)):
        per_gpu = [[op for op, k in zip(ids, placement) if k == g] for g in range(platform.gpus)]
        options = [list(ordered_partitions(ops)) for ops in per_gpu]
        for choice in product(*options):
            stages = [Stage(g, tuple(block)) for g, blocks in enumerate(choice) for block in blocks]
            try:
                span = evaluate(graph, platform, Schedule(stages, gpus=platform.gpus, streams=platform.streams))
            except ScheduleError:
                continue
            best = min(best, span.makespan)
    return best


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("gpus,streams", [(1, 2), (2, 1), (2, 2)])
def test_matches_naive_enumeration(seed, gpus, streams):
    g = small_graph(seed * 5)  # 4 ops: the naive enumeration stays small
    if g.n_ops > 5:
        pytest.skip("naive enumeration too large")
    p = Platform(gpus=gpus, streams=streams)
    assert brute_force(g, p).makespan_ms == pytest.approx(naive_optimum(g, p), rel=1e-9)


def test_naive_enumeration_on_a_link_matrix():
    g = OpGraph([Op("a", 1.0), Op("b", 2.0, 0.5), Op("c", 2.0, 0.5), Op("d", 1.0)],
                [("a", "b", None, 1_000_000), ("a", "c", None, 1_000_000), ("b", "d", None, 1_000_000),
                 ("c", "d", None, 1_000_000)])
    p = Platform(gpus=3, streams=2, bandwidth_matrix_gbps=((1, 1, 0.5), (1, 1, 1), (0.5, 1, 1)))
    assert brute_force(g, p).makespan_ms == pytest.approx(naive_optimum(g, p), rel=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_never_worse_than_random_schedules(seed):
    g = small_graph(seed)
    p = Platform(gpus=1 + seed % 3, streams=1 + seed % 2)
    best = brute_force(g, p)
    assert evaluate(g, p, best).makespan == pytest.approx(best.makespan_ms)
    for k in range(30):
        assert best.makespan_ms <= evaluate(g, p, random_schedule(g, p, 100 * seed + k)).makespan + 1e-9


@pytest.mark.parametrize("comm,expected", [(0.0, 6.0), (0.5, 6.5), (3.0, 9.0), (4.0, 10.0), (9.0, 10.0)])
def test_fork_join_by_hand(comm, expected):
    # fork(1) -> two branches (4) -> join(1) on two GPUs, one stream: run the
    # second branch and the join on GPU 1: 1 + c + 4 + 1, or all on one GPU: 10.
    assert brute_force(generators.fork_join(2, 4.0, comm), Platform(gpus=2)).makespan_ms == expected


def test_partition_by_hand():
    g = OpGraph([Op("a", 3.0), Op("b", 3.0), Op("c", 2.0), Op("d", 2.0), Op("e", 2.0)])
    assert brute_force(g, Platform(gpus=2)).makespan_ms == 6.0  # {3, 3} | {2, 2, 2}
    # Three GPUs: a 3 fits with nothing in 4, so the bound 4 is out of reach.
    assert brute_force(g, Platform(gpus=3)).makespan_ms == 5.0  # {3, 2} | {3, 2} | {2}


def test_diamond_by_hand():
    g = generators.diamond()
    assert brute_force(g, Platform(gpus=1, streams=2)).makespan_ms == 6.5  # b, c merged
    assert brute_force(g, Platform(gpus=2, streams=1)).makespan_ms == 5.0  # b on GPU 1, back by 4.0


def test_refuses_large_graphs():
    with pytest.raises(ProblemTooLargeError):
        brute_force(generators.random_layered(12, 20, 3), Platform())
