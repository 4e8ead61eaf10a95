"""FLB: hand-computed schedules, agreement with ETF's start times, invariants."""

from __future__ import annotations

import random

from hios_opt import Platform, generators
from hios_opt.heuristics.flb import flb, flb_mapping
from hios_opt.heuristics.listing import GpuTimelines, ReadyList

from .support.graphs import kwok_ahmad, small_random_graph
from .support.schedules import check_list_scheduler, timeline_of


def test_diamond_by_hand():
    # a -> GPU 0 [0, 1]. b and c: EP ops of GPU 0 (EMT 1, LMT 1.5 >= PRT 1); c first (bottom
    # level 4.5 > 3.5) -> GPU 0 [1, 4]. PRT(0) = 4 passes b's LMT 1.5: b becomes a non-EP op
    # and starts on the first idle GPU 1 at 1.5. d: EP GPU 0 at max(4, 3.5 + .5) = 4.
    g = generators.diamond(comm_ms=0.5)
    s = flb(g, Platform(gpus=2))
    assert timeline_of(g, Platform(gpus=2), s) == {"a": (0, 0.0), "b": (1, 1.5), "c": (0, 1.0), "d": (0, 4.0)}
    assert s.makespan_ms == 5.0


def test_textbook_example():
    # Kwok and Ahmad's DAG, 3 GPUs; bottom levels 23, 15, 14, 15, 5, 10, 11, 10, 1.
    # EP queues sort by EMT, the non-EP queue by LMT, ties by bottom level. Each step compares
    # the best EP op on its EP with the non-EP head on the GPU idle first (the EP op on a tie).
    # n1 (non-EP) -> P0 [0, 2]. n2..n5: EP ops of P0 (EMT 2; LMT 6, 3, 3, 3 >= PRT 2).
    # n2 (EMT 2, bottom level 15, before n4) -> P0 [2, 5]. PRT(P0) = 5 passes the LMT 3 of n3, n4,
    #   n5: they become non-EP. n6 (EMT 5, LMT 6) and n7 (EMT 5, LMT 12) are EP ops of P0.
    # EP head n7 on P0 at 5 against non-EP head n4 (LMT 3, 15) on idle P1 at 3 -> n4 P1 [3, 7].
    # n7 at 5 against n3 (LMT 3, 14) on idle P2 at 3 -> n3 P2 [3, 6]. n8: EP op of P1
    #   (data at 7 there, 8 elsewhere).
    # n7 on P0 at 5, n8 on P1 at 7, n5 on idle P0 at 5: a tie, the EP op wins -> n7 P0 [5, 9];
    #   PRT(P0) = 9 passes n6's LMT 6 -> non-EP.
    # n8 on P1 at 7 against n5 (LMT 3) on idle P2 at 6 -> n5 P2 [6, 11].
    # n8 on P1 at 7 against n6 (LMT 6) on idle P1 at 7: tie, EP op -> n8 P1 [7, 11].
    # n6 on idle P0 at 9 -> [9, 13]. n9: EP P0 (data at max(13, 9, 11 + 5) = 16) -> P0 [16, 17].
    g, p = kwok_ahmad(), Platform(gpus=3)
    s = flb(g, p)
    assert timeline_of(g, p, s) == {
        "n1": (0, 0.0), "n2": (0, 2.0), "n4": (1, 3.0), "n3": (2, 3.0), "n7": (0, 5.0), "n5": (2, 6.0),
        "n8": (1, 7.0), "n6": (0, 9.0), "n9": (0, 16.0)}
    assert s.makespan_ms == 17.0


def test_each_step_starts_the_earliest_ready_op_as_etf_does():
    # The FLB paper's argument: with a uniform link, looking at two GPUs per op (its enabling GPU
    # and the GPU idle first) loses nothing, so every op FLB places starts at the earliest start
    # over every ready op and every GPU, ETF's choice. Replay FLB's placement order and check it.
    rng = random.Random(3)
    for _ in range(40):
        g = small_random_graph(rng)
        p = Platform(gpus=rng.randint(1, 4))
        timelines = flb_mapping(g, p)
        replay = GpuTimelines(g, p)
        ready = ReadyList(g)
        candidates = set(ready.initial())
        for v in timelines.order:
            assert v in candidates
            earliest = min(replay.earliest(u, insertion=False)[1] for u in candidates)
            start = timelines.finish[v] - g.latency[v]
            assert abs(start - earliest) <= 1e-9 * max(1.0, earliest), (g.name, g.ids[v])
            replay.place(v, timelines.gpu_of[v], start)
            candidates.remove(v)
            candidates.update(ready.done(v))


def test_invariants_on_random_graphs():
    check_list_scheduler(flb, "flb")
