"""HIOS-MR: hand-checked mappings and the usual invariants."""

from __future__ import annotations

import random

import pytest

from hios_opt import Platform, evaluate, generators, lower_bound
from hios_opt.errors import OptionError
from hios_opt.heuristics.hios_mr import hios_mr, min_finish_mapping

from .support.graphs import small_random_graph


def test_fork_join_cheap_communication_splits_and_moves_the_join():
    # Latest-start order: fork, branch0, branch1, join (c = 0.5, 2 GPUs, 1 stream).
    # fork -> GPU 0 (ends 1). branch0: GPU 0 ends 5, GPU 1 ends 1.5 + 4 = 5.5 -> GPU 0.
    # branch1: GPU 0 ends 9, GPU 1 ends 5.5 -> GPU 1.
    # join: GPU 0 starts max(5, 5.5 + 0.5) = 6, ends 7; GPU 1 starts max(5.5, 5 + 0.5), ends 6.5 -> GPU 1.
    g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=0.5)
    s = hios_mr(g, Platform(gpus=2, streams=1))
    assert s.placement == {"fork": 0, "branch0": 0, "branch1": 1, "join": 1}
    assert s.makespan_ms == 6.5


def test_fork_join_dear_communication_keeps_everything_together():
    # c = 5: branch1 on GPU 1 would end 1 + 5 + 4 = 10 > 9 on GPU 0; join then
    # ends 10 on GPU 0 against 9 + 5 + 1 = 15 elsewhere.
    g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=5.0)
    gpu_of, span = min_finish_mapping(g, Platform(gpus=2))
    assert gpu_of == [0, 0, 0, 0] and span == 10.0
    assert hios_mr(g, Platform(gpus=2)).makespan_ms == 10.0


def test_ties_go_to_the_lowest_gpu():
    g = generators.chain(3, comm_ms=0.0)
    s = hios_mr(g, Platform(gpus=4))
    assert set(s.placement.values()) == {0}


def test_intra_pass_and_fields():
    g = generators.wide_layer(width=4)
    p = Platform(gpus=1, streams=2)
    s = hios_mr(g, p)
    assert (s.algorithm, s.graph_name, s.gpus, s.streams) == ("hios-mr", g.name, 1, 2)
    assert s.makespan_ms == 4.0 and s.meta["mapping_makespan_ms"] == 5.0  # two pairs save 0.5 ms each
    assert hios_mr(g, p, intra=False).makespan_ms == 5.0
    with pytest.raises(OptionError, match="window"):
        hios_mr(g, p, window=3)


def test_random_graphs():
    rng = random.Random(8)
    for _ in range(60):
        g = small_random_graph(rng)
        p = Platform(gpus=rng.randint(1, 4), streams=rng.randint(1, 3))
        s = hios_mr(g, p)
        assert s.makespan_ms == evaluate(g, p, s).makespan
        assert s.makespan_ms >= lower_bound(g, p) - 1e-9
        assert s.makespan_ms <= s.meta["mapping_makespan_ms"] + 1e-6 * max(1.0, s.makespan_ms)
        assert s.to_dict() == hios_mr(g, p).to_dict()
