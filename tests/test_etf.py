"""ETF: hand-computed schedules and the invariants of a list scheduler."""

from __future__ import annotations

from hios_opt import Platform, generators
from hios_opt.heuristics.etf import etf

from .support.graphs import kwok_ahmad
from .support.schedules import check_list_scheduler, timeline_of


def test_diamond_by_hand():
    # a -> GPU 0 [0, 1]. b and c start at 1 on GPU 0 (1.5 on GPU 1): a tie won by
    # the higher static level, c (4 against 3) -> GPU 0 [1, 4]. b: GPU 0 at 4,
    # GPU 1 at 1.5 -> GPU 1 [1.5, 3.5]. d: GPU 0 at max(4, 3.5 + .5) = 4 -> [4, 5].
    g = generators.diamond(comm_ms=0.5)
    s = etf(g, Platform(gpus=2))
    assert timeline_of(g, Platform(gpus=2), s) == {"a": (0, 0.0), "b": (1, 1.5), "c": (0, 1.0), "d": (0, 4.0)}
    assert s.makespan_ms == 5.0


def test_textbook_example():
    # Kwok and Ahmad's nine-task DAG on 3 GPUs; static levels
    # n1..n9 = 11, 8, 8, 9, 5, 5, 5, 5, 1. EST = earliest start over the GPUs.
    # n1 -> P0 [0, 2].
    # n2, n3, n4, n5 all start at 2 on P0: tie -> highest static level n4 -> P0 [2, 6].
    # n3 (P1 at 3), n5 (P1 at 3), n2 (6): tie n3/n5 -> n3 (8 > 5) -> P1 [3, 6].
    # n5 (P2 at 3) < n2 (6) -> P2 [3, 8].
    # n2 at 6 on P0 (data there at 2; P1 and P2 get it at 6 too) < n8 at 7 -> P0 [6, 9].
    # n8: data at 7 (n3 on P1 ends 6, n4 on P0 ends 6, + 1); P1 is free at 6 -> P1 [7, 11];
    #   n6 and n7 start at 9 on P0, later.
    # n6 and n7 at 9 on P0: equal static levels, n6 first in topological order -> P0 [9, 13].
    # n7: P0 at 13, P1 at max(11, 2 + 10) = 12 -> P1 [12, 16].
    # n9: P0 max(13, 16 + 6, 11 + 5) = 22, P1 max(13 + 5, 16, 11 + 5) = 18 -> P1 [18, 19].
    g, p = kwok_ahmad(), Platform(gpus=3)
    s = etf(g, p)
    assert timeline_of(g, p, s) == {
        "n1": (0, 0.0), "n4": (0, 2.0), "n3": (1, 3.0), "n5": (2, 3.0), "n2": (0, 6.0), "n8": (1, 7.0),
        "n6": (0, 9.0), "n7": (1, 12.0), "n9": (1, 18.0)}
    assert s.makespan_ms == 19.0


def test_invariants_on_random_graphs():
    check_list_scheduler(etf, "etf")
