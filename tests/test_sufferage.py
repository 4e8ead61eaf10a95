"""Sufferage: hand-computed schedules and the invariants of a list scheduler."""

from __future__ import annotations

from hios_opt import Platform, generators
from hios_opt.heuristics.sufferage import sufferage

from .support.graphs import kwok_ahmad
from .support.schedules import check_list_scheduler, timeline_of


def test_diamond_by_hand():
    # a -> GPU 0 [0, 1]. b ends at 3 on GPU 0 or 3.5 on GPU 1 (sufferage 0.5), c at 4 or 4.5 (0.5):
    # a tie, c has the larger upward rank -> GPU 0 [1, 4]. b: GPU 1 [1.5, 3.5]. d: GPU 0 at 4.
    g, p = generators.diamond(comm_ms=0.5), Platform(gpus=2)
    s = sufferage(g, p)
    assert timeline_of(g, p, s) == {"a": (0, 0.0), "b": (1, 1.5), "c": (0, 1.0), "d": (0, 4.0)}
    assert s.makespan_ms == 5.0


def test_textbook_example():
    # Kwok and Ahmad's DAG, 3 GPUs; sufferage = second-earliest start - earliest (the latency is the
    # same everywhere); ties by bottom level (23, 15, 14, 15, 5, 10, 11, 10, 1), then topological order.
    # n1 P0 [0, 2]. n2: 2 on P0, 6 elsewhere (4); n3, n4, n5: 2 against 3 (1) -> n2 P0 [2, 5].
    # n7 (ready): 5 on P0, 12 elsewhere (7); n6 5 against 6 (1); n3, n4, n5 3 and 3 (0) -> n7 P0 [5, 9].
    # All 0 now (n3, n4, n5: 3 on P1 and P2; n6: 6 on P1 and P2) -> n4 (15) P1 [3, 7].
    # n3, n5: 3 on P2, next 7 on P1 (4); n6: 6 against 7 (1) -> n3 (14) P2 [3, 6].
    # n5: 6 (P2) against 7 (1); n6: the same (1); n8: 7 (P1) against 8 (1) -> n6 (10, before n8) P2 [6, 10].
    # n5: 7 (P1) against 9 (2); n8: 7 (P1) against 9 (2) -> n8 (10) P1 [7, 11].
    # n5: 9 (P0) against 10 (1); n9: 15 (P1) against 16 (1) -> n5 (5) P0 [9, 14]; n9 P1 [15, 16].
    g, p = kwok_ahmad(), Platform(gpus=3)
    s = sufferage(g, p)
    assert timeline_of(g, p, s) == {
        "n1": (0, 0.0), "n2": (0, 2.0), "n7": (0, 5.0), "n4": (1, 3.0), "n3": (2, 3.0), "n6": (2, 6.0),
        "n8": (1, 7.0), "n5": (0, 9.0), "n9": (1, 15.0)}
    assert s.makespan_ms == 16.0


def test_one_gpu_is_a_topological_order_by_rank():
    # With one GPU every sufferage is 0: ops go by upward rank, which is what HEFT does there.
    from hios_opt.heuristics.baselines import heft

    g, p = kwok_ahmad(), Platform(gpus=1)
    assert sufferage(g, p).makespan_ms == heft(g, p).makespan_ms == g.total_latency_ms


def test_invariants_on_random_graphs():
    check_list_scheduler(sufferage, "sufferage")
