"""DLS: hand-computed schedules and the invariants of a list scheduler."""

from __future__ import annotations

from hios_opt import Platform, generators
from hios_opt.heuristics.dls import dls

from .support.graphs import kwok_ahmad
from .support.schedules import check_list_scheduler, timeline_of


def test_diamond_by_hand():
    # DL(v, k) = static level - start. a -> GPU 0 [0, 1]. DL(c, 0) = 4 - 1 = 3 beats
    # DL(b, 0) = 3 - 1 = 2 -> c on GPU 0 [1, 4]. DL(b, 1) = 3 - 1.5 beats DL(b, 0) = 3 - 4
    # -> b on GPU 1 [1.5, 3.5]. d: GPU 0 at max(4, 3.5 + .5) = 4.
    g = generators.diamond(comm_ms=0.5)
    s = dls(g, Platform(gpus=2))
    assert timeline_of(g, Platform(gpus=2), s) == {"a": (0, 0.0), "b": (1, 1.5), "c": (0, 1.0), "d": (0, 4.0)}
    assert s.makespan_ms == 5.0


def test_textbook_example():
    # Kwok and Ahmad's DAG, 3 GPUs; static levels n1..n9 = 11, 8, 8, 9, 5, 5, 5, 5, 1.
    # n1 -> P0 [0, 2].
    # Starts at 2 on P0: DL n2 = 8 - 2 = 6, n3 = 6, n4 = 9 - 2 = 7, n5 = 3 -> n4 P0 [2, 6].
    # n3: 8 - 3 (P1) = 5; n2: 8 - 6 = 2; n5: 5 - 3 = 2 -> n3 P1 [3, 6].
    # n2: 8 - 6 = 2, n5: 5 - 3 (P2) = 2: tie, n2 first in topological order -> P0 [6, 9].
    # n5: 2; n8: 5 - 7 = -2; n6, n7: 5 - 9 = -4 -> n5 P2 [3, 8].
    # n8: 5 - 7 (P1) = -2 beats n6, n7 (-4) -> P1 [7, 11].
    # n6, n7: 5 - 9 on P0, a tie -> n6 P0 [9, 13]; n7: P1 at max(11, 12) = 12 -> [12, 16].
    # n9: P1 at max(16, 13 + 5, 11 + 5) = 18 -> [18, 19].
    g, p = kwok_ahmad(), Platform(gpus=3)
    s = dls(g, p)
    assert timeline_of(g, p, s) == {
        "n1": (0, 0.0), "n4": (0, 2.0), "n3": (1, 3.0), "n5": (2, 3.0), "n2": (0, 6.0), "n8": (1, 7.0),
        "n6": (0, 9.0), "n7": (1, 12.0), "n9": (1, 18.0)}
    assert s.makespan_ms == 19.0


def test_invariants_on_random_graphs():
    check_list_scheduler(dls, "dls")
