"""Duplex: the shorter of MinMin and MaxMin."""

from __future__ import annotations

from hios_opt import Platform, generators
from hios_opt.heuristics.duplex import duplex
from hios_opt.heuristics.minmin import max_min, min_min

from .support.graphs import kwok_ahmad
from .support.schedules import check_list_scheduler


def test_diamond_and_textbook_by_hand():
    # Diamond (c = 0.5): MinMin 5.5, MaxMin 5 (tests/test_minmin.py) -> MaxMin's schedule.
    s = duplex(generators.diamond(comm_ms=0.5), Platform(gpus=2))
    assert (s.algorithm, s.makespan_ms, s.meta["chosen"]) == ("duplex", 5.0, "maxmin")
    assert s.meta["makespans_ms"] == {"minmin": 5.5, "maxmin": 5.0}
    # Kwok and Ahmad's DAG on 3 GPUs: MinMin 17, MaxMin 21 -> MinMin's schedule.
    g, p = kwok_ahmad(), Platform(gpus=3)
    s = duplex(g, p)
    assert (s.makespan_ms, s.meta["chosen"]) == (17.0, "minmin")
    assert s.stages == min_min(g, p).stages


def test_always_the_shorter():
    from .support.graphs import small_graph

    for seed in range(30):
        g = small_graph(seed)
        p = Platform(gpus=1 + seed % 4, streams=1 + seed % 2)
        s = duplex(g, p)
        assert s.makespan_ms == min(min_min(g, p).makespan_ms, max_min(g, p).makespan_ms)


def test_invariants_on_random_graphs():
    check_list_scheduler(duplex, "duplex", same_mapping=False)
