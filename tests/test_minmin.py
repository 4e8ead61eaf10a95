"""MinMin and MaxMin: hand-computed schedules, rounds, invariants."""

from __future__ import annotations

from hios_opt import Edge, Op, OpGraph, Platform, generators
from hios_opt.heuristics.minmin import completion_mapping, max_min, min_min

from .support.graphs import kwok_ahmad
from .support.schedules import check_list_scheduler, timeline_of


def test_diamond_by_hand():
    # a -> GPU 0 [0, 1]. Round {b, c}: MCT(b) = 1 + 2 = 3 (GPU 0), MCT(c) = 4 (GPU 0).
    # MinMin: b first -> GPU 0 [1, 3]; then c: GPU 0 ends 6, GPU 1 1.5 + 3 = 4.5 -> GPU 1 [1.5, 4.5];
    #   d: GPU 0 at max(3, 4.5 + .5) = 5, GPU 1 at max(4.5, 3 + .5) = 4.5 -> GPU 1, ends 5.5.
    # MaxMin: c first -> GPU 0 [1, 4]; b: GPU 0 ends 6, GPU 1 3.5 -> GPU 1 [1.5, 3.5];
    #   d: GPU 0 at max(4, 3.5 + .5) = 4 -> ends 5.
    g, p = generators.diamond(comm_ms=0.5), Platform(gpus=2)
    s = min_min(g, p)
    assert timeline_of(g, p, s) == {"a": (0, 0.0), "b": (0, 1.0), "c": (1, 1.5), "d": (1, 4.5)}
    assert s.makespan_ms == 5.5
    s = max_min(g, p)
    assert timeline_of(g, p, s) == {"a": (0, 0.0), "b": (1, 1.5), "c": (0, 1.0), "d": (0, 4.0)}
    assert s.makespan_ms == 5.0


def test_textbook_example_minmin():
    # Kwok and Ahmad's DAG, 3 GPUs. Round 1: n1 P0 [0, 2].
    # Round 2 {n2, n3, n4, n5}, MCTs 5, 5, 6, 7 (all on P0): n2 and n3 tie, n2 has the larger
    #   bottom level (15 > 14) -> P0 [2, 5]. Now n3 6 (P1), n4 7 (P1), n5 8 (P1) -> n3 P1 [3, 6].
    #   n4 7 (P2), n5 8 (P2) -> n4 P2 [3, 7]. n5: P0 5 + 5 = 10, P1 11, P2 12 -> P0 [5, 10].
    # Round 3 {n6, n7, n8}: n6 10 (P1: max(6, 5 + 1) + 4), n7 14 (P0: max(10, 5) + 4),
    #   n8 11 (P2: max(7, 6 + 1) + 4) -> n6 P1 [6, 10]; n8 11 -> P2 [7, 11];
    #   n7: P0 14, P1 max(10, 12) + 4 = 16, P2 16 -> P0 [10, 14].
    # Round 4: n9 on P0 at max(14, 10 + 5, 14, 11 + 5) = 16 -> [16, 17].
    g, p = kwok_ahmad(), Platform(gpus=3)
    s = min_min(g, p)
    assert timeline_of(g, p, s) == {
        "n1": (0, 0.0), "n2": (0, 2.0), "n3": (1, 3.0), "n4": (2, 3.0), "n5": (0, 5.0), "n6": (1, 6.0),
        "n8": (2, 7.0), "n7": (0, 10.0), "n9": (0, 16.0)}
    assert s.makespan_ms == 17.0


def test_textbook_example_maxmin():
    # Round 2 {n2, n3, n4, n5}, MCTs 5, 5, 6, 7: n5 the largest -> P0 [2, 7]. Then n2 9 (P1: 6 + 3),
    #   n3 6 (P1), n4 7 (P1) -> n2 P1 [6, 9]; n3 6 (P2), n4 7 (P2) -> n4 P2 [3, 7];
    #   n3: P0 7 + 3 = 10, P1 12, P2 10 -> P0 (the lower index) [7, 10].
    # Round 3: n6 13 (P1: 9 + 4), n7 14 (P0: max(10, 2 + 0, 9 + 1) + 4), n8 14 (P0: max(10, 7 + 1) + 4):
    #   n7 and n8 tie, n7 has the larger bottom level (11 > 10) -> P0 [10, 14]. n6 13 (P1),
    #   n8 15 (P1: max(9, 11) + 4, P2 the same) -> n8 P1 [11, 15]. n6: P2 max(7, 10) + 4 = 14 -> P2 [10, 14].
    # Round 4: n9 at max(14 + 5, 14 + 6, 15 + 5) = 20 everywhere -> P0 [20, 21].
    g, p = kwok_ahmad(), Platform(gpus=3)
    s = max_min(g, p)
    assert timeline_of(g, p, s) == {
        "n1": (0, 0.0), "n5": (0, 2.0), "n2": (1, 6.0), "n4": (2, 3.0), "n3": (0, 7.0), "n7": (0, 10.0),
        "n8": (1, 11.0), "n6": (2, 10.0), "n9": (0, 20.0)}
    assert s.makespan_ms == 21.0


def test_ops_ready_during_a_round_wait_for_the_next():
    # s -> x (1 ms) -> y (1 ms), s -> z (5 ms) on one GPU. Round {x, z}: MinMin maps x (MCT 2),
    # then z (7); y, ready since x was mapped, waits for the next round: order s x z y.
    # Without rounds y (MCT 3) joins at once and beats z: order s x y z.
    g = OpGraph([Op("s", 1.0), Op("x", 1.0), Op("y", 1.0), Op("z", 5.0)],
                [Edge("s", "x", 0.0), Edge("x", "y", 0.0), Edge("s", "z", 0.0)])
    p = Platform(gpus=1)
    assert completion_mapping(g, p, largest=False).slots == [[0, 1, 3, 2]]
    assert completion_mapping(g, p, largest=False, rounds=False).slots == [[0, 1, 2, 3]]


def test_invariants_on_random_graphs():
    check_list_scheduler(min_min, "minmin")
    check_list_scheduler(max_min, "maxmin", seed=1)
