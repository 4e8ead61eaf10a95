"""MCP: ALAP lists, hand-computed schedules, invariants."""

from __future__ import annotations

from hios_opt import Edge, Op, OpGraph, Platform, generators
from hios_opt.heuristics.mcp import alap_lists, mcp

from .support.graphs import kwok_ahmad
from .support.schedules import check_list_scheduler, timeline_of


def test_diamond_by_hand():
    # ALAP (c = 0.5): a 0, b 2.5, c 1.5, d 5 -> order a, c, b, d. c: GPU 0 at 1; b: GPU 0 at 4,
    # GPU 1 at 1.5 -> GPU 1; d: GPU 0 at max(4, 3.5 + .5) = 4, GPU 1 at max(3.5, 4 + .5) -> GPU 0.
    g = generators.diamond(comm_ms=0.5)
    assert alap_lists(g, Platform(gpus=2)) == [(0.0, 1.5, 2.5), (2.5, 5.0), (1.5, 5.0), (5.0,)]
    s = mcp(g, Platform(gpus=2))
    assert timeline_of(g, Platform(gpus=2), s) == {"a": (0, 0.0), "b": (1, 1.5), "c": (0, 1.0), "d": (0, 4.0)}
    assert s.makespan_ms == 5.0


def test_textbook_example():
    # Kwok and Ahmad's DAG, 3 GPUs. ALAP = 23 - b-level: n1 0, n2 8, n3 9, n4 8, n5 18, n6 13,
    # n7 12, n8 13, n9 22. n2 and n4 tie at 8: their lists (8, 12, 13) and (8, 13) put n2 first;
    # n6 (13, 22) and n8 (13, 22) tie -> topological order. Order: n1 n2 n4 n3 n7 n6 n8 n5 n9,
    # each on the GPU where it starts first, by insertion:
    # n1 P0 [0, 2]; n2 P0 at 2 (6 elsewhere) -> [2, 5]; n4 P0 at 5, P1 at 3 -> P1 [3, 7];
    # n3 P0 5, P1 7, P2 3 -> P2 [3, 6]; n7 P0 at max(2, 5) = 5 (12 elsewhere) -> P0 [5, 9];
    # n6 P0 9, P1 max(7, 6) = 7, P2 max(6, 6) = 6 -> P2 [6, 10];
    # n8 data at 7 on P1 (n4 there, n3 + 1), P0 9, P2 10 -> P1 [7, 11];
    # n5 (data at 3; no idle gap of 5 before it) P0 9, P1 11, P2 10 -> P0 [9, 14];
    # n9 P0 max(14, 10 + 5, 9, 11 + 5) = 16, P1 max(11, 15, 9 + 6, 11) = 15, P2 16 -> P1 [15, 16].
    g, p = kwok_ahmad(), Platform(gpus=3)
    assert [k[0] for k in alap_lists(g, p)] == [0.0, 8.0, 9.0, 8.0, 18.0, 13.0, 12.0, 13.0, 22.0]
    s = mcp(g, p)
    assert timeline_of(g, p, s) == {
        "n1": (0, 0.0), "n2": (0, 2.0), "n4": (1, 3.0), "n3": (2, 3.0), "n7": (0, 5.0), "n6": (2, 6.0),
        "n8": (1, 7.0), "n5": (0, 9.0), "n9": (1, 15.0)}
    assert s.makespan_ms == 16.0


def test_insertion_fills_a_gap():
    # p(4) -> j(2) (c 0), q(3) -> j (c 3), independent s(1); ALAP q 0, p 2, j 6, s 7 on 2 GPUs.
    # q P0 [0, 3]; p P1 [0, 4]; j: P0 at max(3, 4 + 0) = 4, P1 at max(4, 3 + 3) = 6 -> P0 [4, 6],
    # leaving P0 idle in [3, 4]; s fits there -> P0 [3, 4].
    g = OpGraph([Op("p", 4.0), Op("q", 3.0), Op("j", 2.0), Op("s", 1.0)],
                [Edge("p", "j", 0.0), Edge("q", "j", 3.0)], name="gap")
    s = mcp(g, Platform(gpus=2))
    assert [st.ops[0] for st in s.gpu_stages(0)] == ["q", "s", "j"]
    assert s.makespan_ms == 6.0


def test_zero_latency_ops_keep_a_topological_order():
    # a(0) -> b(0) -> c(1): equal ALAP times (0, 0, 0) with c = 0; the ready list keeps a first.
    g = OpGraph([Op("a", 0.0), Op("b", 0.0), Op("c", 1.0)], [Edge("a", "b", 0.0), Edge("b", "c", 0.0)])
    assert mcp(g, Platform(gpus=2)).makespan_ms == 1.0


def test_invariants_on_random_graphs():
    check_list_scheduler(mcp, "mcp")
