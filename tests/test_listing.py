"""What the list schedulers share: gaps, GPU timelines, the ready list and
the greedy (op, GPU) choice, checked against brute force."""

from __future__ import annotations

import random

import pytest

from hios_opt import Platform, generators
from hios_opt.heuristics.common import static_level, upward_rank
from hios_opt.heuristics.listing import GpuTimelines, ReadyList, earliest_gap, first_gpu, greedy_pairs

from .support.graphs import small_random_graph


def test_earliest_gap():
    starts, ends = [0.0, 3.0], [1.0, 4.0]
    assert earliest_gap(starts, ends, 0.5, 1.5) == (1.0, 1)   # fits in the 1..3 gap
    assert earliest_gap(starts, ends, 0.5, 2.5) == (4.0, 2)   # too long: after the last op
    assert earliest_gap(starts, ends, 0.0, 1.0) == (1.0, 1)
    assert earliest_gap([], [], 2.0, 1.0) == (2.0, 0)
    assert earliest_gap(starts, ends, 5.0, 0.0) == (5.0, 2)
    assert earliest_gap([2.0], [3.0], 0.0, 2.0) == (0.0, 0)   # before the first op


def test_first_gpu_ignores_float_noise():
    assert first_gpu([1.0, 1.0 - 1e-13, 2.0]) == 0
    assert first_gpu([1.0, 0.5]) == 1


def test_timelines_append_and_insert():
    # diamond, c = 0.5: a on GPU 0 [0, 1], c on GPU 0 [1, 4]; b's data are on GPU 0 at 1, on
    # GPU 1 at 1.5. Appended on GPU 0 it starts at 4 (no gap there either); on GPU 1 at 1.5.
    g = generators.diamond(comm_ms=0.5)
    tl = GpuTimelines(g, Platform(gpus=2))
    tl.place(0, 0, 0.0)
    tl.place(2, 0, 1.0)
    assert tl.ready(1) == [1.0, 1.5]
    assert tl.start_on(1, 0, 1.0, insertion=False) == (4.0, 2)
    assert tl.start_on(1, 1, 1.5, insertion=True) == (1.5, 0)
    assert tl.earliest(1, insertion=True) == (1, 1.5, 0)
    tl.place(1, 1, 1.5)
    assert tl.free == [4.0, 3.5] and tl.order == [0, 2, 1] and tl.makespan == 4.0
    assert tl.per_gpu() == [[[0], [2]], [[1]]]


def test_timelines_insert_keeps_time_order():
    g = generators.wide_layer(width=3)
    tl = GpuTimelines(g, Platform(gpus=1))
    tl.place(0, 0, 0.0)
    tl.place(1, 0, 3.0)
    t, i = tl.start_on(2, 0, 0.5, insertion=True)
    assert (t, i) == (0.5, 1)
    tl.place(2, 0, t, i)
    assert tl.slots == [[0, 2, 1]] and tl.free == [4.0]


def test_ready_list():
    ready = ReadyList(generators.diamond())
    assert ready.initial() == [0]
    assert ready.done(0) == [1, 2] and ready.done(1) == [] and ready.done(2) == [3]


def _brute_force_key(timelines, v, n_gpus):
    ready = timelines.ready(v)
    starts = [max(timelines.free[k], ready[k]) for k in range(n_gpus)]
    k1 = first_gpu(starts)
    others = [starts[k] for k in range(n_gpus) if k != k1]
    return starts[k1], (min(others) if others else starts[k1]), k1


def _key(kind, g, p):
    level, rank, pos, lat = static_level(g), upward_rank(g, p), g.topo_position, g.latency
    return {
        "etf": lambda v, first, second: (first, -level[v], pos[v]),
        "sufferage": lambda v, first, second: (first - second, -rank[v], pos[v]),
        "maxmin-rounds": lambda v, first, second: (-(first + lat[v]), -rank[v], pos[v]),
    }[kind]


@pytest.mark.parametrize("kind", ["etf", "sufferage", "maxmin-rounds"])
def test_greedy_pairs_takes_the_smallest_key_at_every_step(kind):
    # Replay the placement order; at each step recompute every candidate's (first, second)
    # from scratch, and check the op placed had the smallest key, on its earliest GPU.
    rng = random.Random(11)
    for _ in range(25):
        g = small_random_graph(rng)
        p = Platform(gpus=rng.randint(1, 4))
        key = _key(kind, g, p)
        rounds = kind.endswith("rounds")
        timelines = greedy_pairs(g, p, key, rounds=rounds)
        replay = GpuTimelines(g, p)
        ready = ReadyList(g)
        candidates, held = set(ready.initial()), set()
        for v in timelines.order:
            if not candidates:
                candidates, held = held, set()
            scored = {u: _brute_force_key(replay, u, p.gpus) for u in candidates}
            best = min(candidates, key=lambda u: key(u, scored[u][0], scored[u][1]))
            assert best == v
            assert timelines.gpu_of[v] == scored[v][2]
            replay.place(v, scored[v][2], scored[v][0])
            candidates.remove(v)
            (held if rounds else candidates).update(ready.done(v))
        assert replay.finish == timelines.finish
