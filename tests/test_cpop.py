"""CPOP: priorities, the critical path, hand-computed schedules, invariants."""

from __future__ import annotations

from hios_opt import Platform, generators
from hios_opt.heuristics.cpop import cpop, critical_path_ops

from .support.graphs import kwok_ahmad
from .support.schedules import check_list_scheduler, timeline_of


def test_diamond_by_hand():
    # Priorities rank_u + rank_d (c = 0.5): a 6 + 0, b 3.5 + 1.5, c 4.5 + 1.5, d 1 + 5: |CP| = 6,
    # the path a -> c -> d on GPU 0. b (off the path): GPU 0 from 4 (after c), GPU 1 from 1.5
    # -> GPU 1 [1.5, 3.5]; d on GPU 0 at max(4, 3.5 + .5) = 4.
    g = generators.diamond(comm_ms=0.5)
    s = cpop(g, Platform(gpus=2))
    assert timeline_of(g, Platform(gpus=2), s) == {"a": (0, 0.0), "b": (1, 1.5), "c": (0, 1.0), "d": (0, 4.0)}
    assert s.makespan_ms == 5.0 and s.meta["critical_path"] == ["a", "c", "d"]


def test_textbook_example():
    # Kwok and Ahmad's DAG, 3 GPUs. rank_u (b-levels) 23, 15, 14, 15, 5, 10, 11, 10, 1 plus
    # rank_d (t-levels) 0, 6, 3, 3, 3, 10, 12, 8, 22: priorities 23, 21, 17, 18, 8, 20, 23, 18, 23.
    # The critical path n1 -> n7 -> n9 (23) goes to P0; the others to their earliest finish, by insertion.
    # n1 P0 [0, 2]. n2 (21): P0 ends 5, P1 9 -> P0 [2, 5].
    # n7 (23, ready now): P0 from max(2 + 0, 5) = 5 -> [5, 9].
    # n6 (20): P0 ends 13, P1 and P2 end 6 + 4 = 10 -> P1 [6, 10].
    # n4 (18): P0 13, P1 (the gap 0..6 is too short after its data at 3) 14, P2 3 + 4 = 7 -> P2 [3, 7].
    # n3 (17): P1's gap 3..6 holds it -> P1 [3, 6], before n6.
    # n8 (18): data at max(6 + 1, 7 + 1) = 8 on P0, 8 on P1 (ends 14 after n6), max(7, 6 + 1) = 7
    #   on P2 -> P2 [7, 11].
    # n9 (23) on P0: data max(10 + 5, 9, 11 + 5) = 16 -> [16, 17].
    # n5 (8): P0's gap 9..16 holds it from 9 (ends 14), P1 ends 15, P2 16 -> P0 [9, 14].
    g, p = kwok_ahmad(), Platform(gpus=3)
    priority, path = critical_path_ops(g, p)
    assert priority == [23.0, 21.0, 17.0, 18.0, 8.0, 20.0, 23.0, 18.0, 23.0]
    assert [g.ids[v] for v in path] == ["n1", "n7", "n9"]
    s = cpop(g, p)
    assert timeline_of(g, p, s) == {
        "n1": (0, 0.0), "n2": (0, 2.0), "n7": (0, 5.0), "n6": (1, 6.0), "n4": (2, 3.0), "n3": (1, 3.0),
        "n8": (2, 7.0), "n9": (0, 16.0), "n5": (0, 9.0)}
    assert s.makespan_ms == 17.0


def test_one_critical_path_even_when_several_tie():
    # Two branches of 4 ms: both are critical; CPOP keeps one of them (branch0, the first)
    # with fork and join on GPU 0, and branch1 runs on GPU 1 (1 + 0.5 + 4 + 0.5 + 1 = 7 < 10).
    g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=0.5)
    s = cpop(g, Platform(gpus=2))
    assert s.meta["critical_path"] == ["fork", "branch0", "join"]
    assert s.placement == {"fork": 0, "branch0": 0, "branch1": 1, "join": 0}
    assert s.makespan_ms == 7.0


def test_invariants_on_random_graphs():
    check_list_scheduler(cpop, "cpop")
