"""HIOS-LP: hand-checked mappings, the incremental partial timeline, termination."""

from __future__ import annotations

import math
import random

import pytest

from hios_opt import Edge, Op, OpGraph, Platform, evaluate, generators, lower_bound, simulate
from hios_opt.errors import OptionError
from hios_opt.heuristics.common import priority_order
from hios_opt.heuristics.hios_lp import hios_lp, longest_path_mapping
from hios_opt.timing import PartialTimeline

from .support.graphs import small_random_graph


# ------------------------------------------------------------- hand-checked
def test_fork_join_splits_the_branches_when_communication_is_cheap():
    # fork(1) -> branch0(4), branch1(4) -> join(1), c = 0.5, 2 GPUs, 1 stream.
    # Path 1 = fork -> branch0 -> join (7 with comm), all on GPU 0 (tie: lowest index).
    # Path 2 = fork -> branch1 -> join; branch1 on GPU 0: 1 + 4 + 4 + 1 = 10;
    # on GPU 1: starts 1 + 0.5, ends 5.5, join at max(5, 5.5 + 0.5) = 6, ends 7.
    g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=0.5)
    s = hios_lp(g, Platform(gpus=2, streams=1))
    assert s.placement == {"fork": 0, "branch0": 0, "branch1": 1, "join": 0}
    assert s.makespan_ms == 7.0


def test_fork_join_keeps_the_branches_together_when_communication_is_dear():
    # c = 5: branch1 on GPU 1 ends 1 + 5 + 4 = 10, join at 10 + 5 = 15, ends 16;
    # on GPU 0 everything runs back to back: 1 + 4 + 4 + 1 = 10.
    g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=5.0)
    s = hios_lp(g, Platform(gpus=2, streams=1))
    assert set(s.placement.values()) == {0}
    assert s.makespan_ms == 10.0


def test_diamond_reaches_the_critical_path():
    # a(1) -> b(2), c(3) -> d(1), c = 0.5. Path 1 = a -> c -> d (1+.5+3+.5+1 = 6) on GPU 0.
    # Path 2 = a -> b -> d: b on GPU 1 starts 1.5, ends 3.5; d waits for max(4, 3.5+.5) = 4,
    # ends 5 = the critical path a + c + d, so the lower bound is met.
    g = generators.diamond(comm_ms=0.5)
    p = Platform(gpus=2, streams=1)
    s = hios_lp(g, p)
    assert s.placement == {"a": 0, "c": 0, "b": 1, "d": 0}
    assert s.makespan_ms == 5.0 == lower_bound(g, p)


def test_intra_pass_merges_the_diamond_on_one_gpu():
    # One GPU, two streams: a, then {c, b} as one stage (0.5*5 + 0.5*max(0.8*5, 3) = 4.5), then d.
    g = generators.diamond()
    s = hios_lp(g, Platform(gpus=1, streams=2))
    assert [st.ops for st in s.stages] == [("a",), ("c", "b"), ("d",)]
    assert s.makespan_ms == 6.5
    assert s.meta["mapping_makespan_ms"] == 7.0 and s.meta["merges"] == 1
    off = hios_lp(g, Platform(gpus=1, streams=2), intra=False)
    assert off.makespan_ms == 7.0 and len(off.stages) == 4


def test_schedule_fields():
    g = generators.inception_block()
    s = hios_lp(g, Platform(gpus=3, streams=2), window=2)
    assert (s.algorithm, s.graph_name, s.gpus, s.streams) == ("hios-lp", g.name, 3, 2)
    assert s.makespan_ms == evaluate(g, Platform(gpus=3, streams=2), s).makespan
    assert {"window", "intra", "paths", "merges", "mapping_makespan_ms"} <= set(s.meta)


# ----------------------------------------------------------------- mapping
def test_one_gpu_mapping_is_the_sequential_mapping():
    rng = random.Random(7)
    for _ in range(40):
        g = small_random_graph(rng)
        gpu_of, timeline, _ = longest_path_mapping(g, Platform(gpus=1))
        assert gpu_of == [0] * g.n_ops
        assert math.isclose(timeline.makespan, g.total_latency_ms)
        s = hios_lp(g, Platform(gpus=1, streams=1))
        assert set(s.placement.values()) == {0}
        assert math.isclose(s.makespan_ms, g.total_latency_ms)


def test_terminates_on_isolated_and_zero_cost_ops():
    # Isolated ops, zero latencies and zero comm make many equal and empty
    # paths: the candidate rule must still place every op and stop.
    ops = [Op("iso1", 0.0), Op("a", 0.0), Op("b", 1.0), Op("c", 0.0), Op("iso2", 2.0), Op("d", 0.0)]
    edges = [Edge("a", "b", 0.0), Edge("b", "c", 0.0), Edge("a", "c", 0.0), Edge("c", "d", 0.0)]
    g = OpGraph(ops, edges, name="zeros")
    for gpus in (1, 2, 3):
        p = Platform(gpus=gpus, streams=2)
        s = hios_lp(g, p)
        assert s.makespan_ms == evaluate(g, p, s).makespan
        assert sorted(s.ops) == sorted(g.ids)
    no_edges = OpGraph([Op(f"x{i}", float(i)) for i in range(5)], name="no-edges")
    s = hios_lp(no_edges, Platform(gpus=3))
    assert s.meta["paths"] == 5
    assert s.makespan_ms == 4.0  # x4 alone on one GPU; the others fit beside it
    single = OpGraph([Op("only", 1.5)], name="one")
    assert hios_lp(single, Platform(gpus=4, streams=4)).makespan_ms == 1.5


def test_paths_cover_every_edge_or_place_an_op_each_round():
    rng = random.Random(3)
    for _ in range(30):
        g = small_random_graph(rng)
        _, _, paths = longest_path_mapping(g, Platform(gpus=3))
        assert 1 <= paths <= g.n_edges + g.n_ops


# ------------------------------------------------- incremental partial timeline
def test_partial_timeline_matches_simulate():
    rng = random.Random(11)
    for _ in range(60):
        g = small_random_graph(rng)
        p = Platform(gpus=rng.randint(1, 4), streams=1)
        order = priority_order(g, p)
        tl = PartialTimeline(g, p, order)
        unplaced = list(range(g.n_ops))
        rng.shuffle(unplaced)
        while unplaced:
            m = rng.randint(1, 3)
            new = sorted(unplaced[:m], key=tl.pos.__getitem__)
            unplaced = unplaced[m:]
            gpu = rng.randrange(p.gpus)
            span, finish = tl.try_place(new, gpu)
            # an abandoned candidate reports infinity, never a wrong number
            assert tl.try_place(new, gpu, bound=span) == (math.inf, []) or span == tl.makespan
            tl.commit(new, gpu, span, finish)
            placed = [v for v in order if tl.gpu_of[v] >= 0]
            sim = simulate(g, p, [tl.gpu_of[v] for v in placed], [[v] for v in placed], partial=True)
            assert math.isclose(sim.makespan, span, abs_tol=1e-9)
            for k, v in enumerate(placed):
                assert math.isclose(sim.end[k], finish[v], abs_tol=1e-9)


def test_non_uniform_links_are_evaluated_per_pair():
    # GPU 0 <-> 1 fast, GPU 0 <-> 2 slow: the byte-sized edges make the choice.
    ops = [Op("src", 1.0, output_bytes=10_000_000), Op("x", 4.0, output_bytes=10_000_000),
           Op("y", 4.0, output_bytes=10_000_000), Op("dst", 1.0)]
    g = OpGraph(ops, [Edge("src", "x"), Edge("src", "y"), Edge("x", "dst"), Edge("y", "dst")], name="links")
    bw = ((1.0, 100.0, 1.0), (100.0, 1.0, 1.0), (1.0, 1.0, 1.0))
    p = Platform(gpus=3, streams=1, bandwidth_matrix_gbps=bw)
    s = hios_lp(g, p)
    assert s.makespan_ms == evaluate(g, p, s).makespan
    assert 2 not in s.placement.values()


# ------------------------------------------------------------------- checks
def test_window_must_fit_the_streams():
    g = generators.diamond()
    with pytest.raises(OptionError, match="window 3 is larger than the 2 stream"):
        hios_lp(g, Platform(streams=2), window=3)
    with pytest.raises(OptionError, match="window must be >= 1"):
        hios_lp(g, Platform(streams=2), window=0)
    assert hios_lp(g, Platform(streams=1)).meta["window"] == 1  # the default adapts


def test_deterministic():
    g = generators.random_layered(120, 240, 10, ccr=0.6, seed=5)
    p = Platform(gpus=4, streams=2)
    assert hios_lp(g, p).to_dict() == hios_lp(g, p).to_dict()


def test_never_below_the_lower_bound_and_intra_never_hurts():
    rng = random.Random(5)
    for _ in range(60):
        g = small_random_graph(rng)
        p = Platform(gpus=rng.randint(1, 4), streams=rng.randint(1, 3))
        s = hios_lp(g, p)
        assert s.makespan_ms == evaluate(g, p, s).makespan
        assert s.makespan_ms >= lower_bound(g, p) - 1e-9
        assert s.makespan_ms <= s.meta["mapping_makespan_ms"] + 1e-6 * max(1.0, s.makespan_ms)
