"""FCP: hand-computed schedules and the invariants of a list scheduler."""

from __future__ import annotations

from hios_opt import Platform, generators
from hios_opt.heuristics.fcp import fcp

from .support.graphs import kwok_ahmad
from .support.schedules import check_list_scheduler, timeline_of


def test_diamond_by_hand():
    # Bottom levels (c = 0.5): a 6, b 3.5, c 4.5, d 1. c first: its enabling GPU 0 (data at 1)
    # against idle GPU 1 (1.5) -> GPU 0 [1, 4]. b: enabling GPU 0 at 4, idle GPU 1 at 1.5 -> GPU 1.
    # d: enabling GPU 0 (data at max(4, 3.5 + .5) = 4) against GPU 1 (4.5) -> GPU 0 [4, 5].
    g = generators.diamond(comm_ms=0.5)
    s = fcp(g, Platform(gpus=2))
    assert timeline_of(g, Platform(gpus=2), s) == {"a": (0, 0.0), "b": (1, 1.5), "c": (0, 1.0), "d": (0, 4.0)}
    assert s.makespan_ms == 5.0


def test_textbook_example():
    # Kwok and Ahmad's DAG, 3 GPUs; bottom levels 23, 15, 14, 15, 5, 10, 11, 10, 1. Only 3 ready
    # ops are kept sorted, the others wait in a FIFO. Each op goes to its enabling GPU (EP, where
    # its data are first) or to the GPU idle first, whichever starts it first (EP on a tie).
    # n1 -> P0 [0, 2]. Ready: n2, n3, n4 sorted, n5 in the FIFO.
    # n2 (15, before n4 in topological order): EP P0 at 2, idle P1 at 6 -> P0 [2, 5]; n5 moves up;
    #   n6 and n7 become ready and wait in the FIFO.
    # n4 (15): EP P0 at 5, idle P1 at 3 -> P1 [3, 7]; n6 moves up.
    # n3 (14): EP P0 at 5, idle P2 at 3 -> P2 [3, 6]; n7 moves up; n8 ready -> FIFO.
    # n7 (11): data on P0 at max(2, 5) = 5 (both producers there), elsewhere at 12; EP P0 at 5,
    #   the idle-first GPU P0 too -> P0 [5, 9].
    # n6 (10, before n8): EP P0 at 9, idle P2 at 6 -> P2 [6, 10].
    # n8 (10): data at 7 on P1 (EP; n4 local, n3 + 1), idle P1 too -> P1 [7, 11]; n9 ready.
    # n5 (5): EP P0 at 9 (idle first too) -> P0 [9, 14].
    # n9: data on P1 at max(10 + 5, 9 + 6, 11) = 15 (EP), idle P2 at 16 -> P1 [15, 16].
    g, p = kwok_ahmad(), Platform(gpus=3)
    s = fcp(g, p)
    assert timeline_of(g, p, s) == {
        "n1": (0, 0.0), "n2": (0, 2.0), "n4": (1, 3.0), "n3": (2, 3.0), "n7": (0, 5.0), "n6": (2, 6.0),
        "n8": (1, 7.0), "n5": (0, 9.0), "n9": (1, 15.0)}
    assert s.makespan_ms == 16.0


def test_only_as_many_ready_ops_sorted_as_gpus():
    # One GPU: the sorted part holds one op, the others wait in arrival order, so the three
    # branches run in their order of readiness, not by bottom level (w2 is the longest).
    from hios_opt import Edge, Op, OpGraph

    g = OpGraph([Op("s", 1.0), Op("w0", 1.0), Op("w1", 2.0), Op("w2", 3.0)],
                [Edge("s", "w0", 0.0), Edge("s", "w1", 0.0), Edge("s", "w2", 0.0)])
    s = fcp(g, Platform(gpus=1))
    assert s.ops == ["s", "w0", "w1", "w2"]


def test_invariants_on_random_graphs():
    check_list_scheduler(fcp, "fcp")
