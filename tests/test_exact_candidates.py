"""Stage candidates: enumeration, counting, dominance pruning, size limits."""

from __future__ import annotations

import time
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hios_opt import Op, OpGraph, Platform, generators
from hios_opt.costs import AnalyticModel
from hios_opt.errors import OptionError, ProblemTooLargeError
from hios_opt.exact import count_candidates, solve, stage_candidates

from .support.graphs import small_graph


def antichains(graph: OpGraph, streams: int) -> set[tuple[int, ...]]:
    out = set()
    for size in range(1, streams + 1):
        for ops in combinations(range(graph.n_ops), size):
            if graph.independent(ops):
                out.add(ops)
    return out


@settings(max_examples=40)
@given(seed=st.integers(0, 10_000), streams=st.integers(1, 4))
def test_count_and_enumeration_match_brute_force(seed, streams):
    g = small_graph(seed)
    expected = antichains(g, streams)
    assert count_candidates(g, streams) == len(expected)
    cands = stage_candidates(g, streams, prune=False)
    assert set(cands.ops) == expected
    assert cands.enumerated == len(expected) and cands.pruned == 0
    for c, ops in enumerate(cands.ops):
        assert cands.latency_ms[c] == pytest.approx(AnalyticModel().stage_latency(g, list(ops)))
        for v in ops:
            assert c in cands.by_op[v]


def test_singletons_first_and_by_op():
    g = generators.diamond()
    cands = stage_candidates(g, 3)
    assert cands.ops[:4] == ((0,), (1,), (2,), (3,))
    assert cands.by_op[1] == (1, 4) and cands.by_op[0] == (0,)
    assert cands.multi and "kept" in repr(cands)


def test_unit_utilization_prunes_every_group():
    # L({a, b}) = t_a + t_b when u = 1: concurrency gains nothing.
    g = generators.wide_layer(5, utilization=1.0)
    cands = stage_candidates(g, 3)
    assert len(cands) == g.n_ops and not cands.multi
    assert cands.pruned == count_candidates(g, 3) - g.n_ops


def test_measured_table_decides_pruning():
    ops = [Op("s", 1.0), Op("a", 2.0, 0.5), Op("b", 2.0, 0.5), Op("c", 2.0, 0.5)]
    edges = [("s", "a"), ("s", "b"), ("s", "c")]
    slow = OpGraph(ops, edges, stage_latency_ms={frozenset({"a", "b"}): 4.5})
    kept = {tuple(slow.ids[v] for v in c) for c in stage_candidates(slow, 2).ops}
    assert ("a", "b") not in kept and ("a", "c") in kept
    # A triple is dropped when some split is no slower: {a, c} + {b} here.
    fast = OpGraph(ops, edges, stage_latency_ms={frozenset({"a", "c"}): 2.0, frozenset({"a", "b", "c"}): 4.0})
    kept = {tuple(fast.ids[v] for v in c) for c in stage_candidates(fast, 3).ops}
    assert ("a", "b", "c") not in kept and ("a", "c") in kept


def test_too_many_candidates_raise_quickly():
    g = generators.wide_layer(300)
    t0 = time.perf_counter()
    with pytest.raises(ProblemTooLargeError, match="streams=1"):
        stage_candidates(g, 4)
    with pytest.raises(ProblemTooLargeError):
        solve(g, Platform(gpus=2, streams=4), time_limit=5)
    with pytest.raises(ProblemTooLargeError):
        solve(g, Platform(gpus=2, streams=4), "milp", time_limit=5)
    assert time.perf_counter() - t0 < 5.0
    assert count_candidates(g, 4, limit=1000) > 1000


def test_bad_streams():
    with pytest.raises(OptionError):
        stage_candidates(generators.diamond(), 0)
    with pytest.raises(OptionError):
        stage_candidates(generators.diamond(), 2, max_candidates=0)
