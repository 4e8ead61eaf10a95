"""Baselines: the sequential schedule and HEFT."""

from __future__ import annotations

import math
import random

from hios_opt import Edge, Op, OpGraph, Platform, evaluate, generators, lower_bound
from hios_opt.heuristics.baselines import heft, sequential
from hios_opt.heuristics.common import upward_rank

from .support.graphs import small_random_graph


def test_sequential_is_the_sum_of_latencies_in_topological_order():
    g = generators.inception_block()
    s = sequential(g, Platform(gpus=3, streams=2))
    assert s.ops == g.topological_order()
    assert set(s.placement.values()) == {0} and all(len(st.ops) == 1 for st in s.stages)
    assert math.isclose(s.makespan_ms, g.total_latency_ms)
    assert (s.algorithm, s.gpus, s.streams) == ("sequential", 3, 2)


def test_heft_diamond_by_hand():
    # c = 0.5. Upward ranks: d = 1, b = 2 + .5 + 1 = 3.5, c = 3 + .5 + 1 = 4.5, a = 1 + .5 + 4.5 = 6.
    # a -> GPU 0 [0, 1]. c: GPU 0 [1, 4] vs GPU 1 [1.5, 4.5] -> GPU 0.
    # b: GPU 0 [4, 6] vs GPU 1 [1.5, 3.5] -> GPU 1.
    # d: GPU 0 starts max(4, 3.5 + .5) = 4, ends 5; GPU 1 starts 4.5 -> GPU 0. Makespan 5.
    g = generators.diamond(comm_ms=0.5)
    assert upward_rank(g, Platform(gpus=2)) == (6.0, 3.5, 4.5, 1.0)
    s = heft(g, Platform(gpus=2))
    assert s.placement == {"a": 0, "c": 0, "b": 1, "d": 0}
    assert s.makespan_ms == 5.0


def test_heft_fork_join_by_hand():
    # c = 0.5: branch1 goes to GPU 1 (ends 5.5 < 9), join to GPU 1 (6.5 < 7).
    g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=0.5)
    s = heft(g, Platform(gpus=2))
    assert s.placement == {"fork": 0, "branch0": 0, "branch1": 1, "join": 1}
    assert s.makespan_ms == 6.5
    # c = 5: moving costs more than it saves, everything stays on GPU 0.
    g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=5.0)
    s = heft(g, Platform(gpus=2))
    assert set(s.placement.values()) == {0} and s.makespan_ms == 10.0


def test_heft_inserts_into_a_gap():
    # p(4) -> j(2) with c = 0, q(3) -> j with c = 3, and an independent s(1); 2 GPUs.
    # Ranks: j = 2, p = 4 + 0 + 2 = 6, q = 3 + 3 + 2 = 8, s = 1: order q, p, j, s.
    # q -> GPU 0 [0, 3]. p: GPU 0 [3, 7] vs GPU 1 [0, 4] -> GPU 1.
    # j: GPU 0 from max(3, 4 + 0) = 4 to 6 vs GPU 1 from max(3 + 3, 4) = 6 -> GPU 0 [4, 6],
    # leaving GPU 0 idle in [3, 4]. s: the gap gives [3, 4] on GPU 0 (EFT 4) against
    # [4, 5] on GPU 1: s is inserted between q and j.
    ops = [Op("p", 4.0), Op("q", 3.0), Op("j", 2.0), Op("s", 1.0)]
    g = OpGraph(ops, [Edge("p", "j", 0.0), Edge("q", "j", 3.0)], name="gap")
    s = heft(g, Platform(gpus=2))
    assert [st.ops[0] for st in s.gpu_stages(0)] == ["q", "s", "j"]
    assert s.placement["p"] == 1
    assert s.makespan_ms == 6.0


def test_heft_random_graphs():
    rng = random.Random(4)
    for _ in range(80):
        g = small_random_graph(rng)
        p = Platform(gpus=rng.randint(1, 4), streams=rng.randint(1, 2))
        s = heft(g, p)
        assert s.makespan_ms == evaluate(g, p, s).makespan
        assert s.makespan_ms >= lower_bound(g, p) - 1e-9
        assert all(len(st.ops) == 1 for st in s.stages)
        if p.gpus == 1:
            assert math.isclose(s.makespan_ms, g.total_latency_ms)
        assert s.to_dict() == heft(g, p).to_dict()
