"""The time limit holds on a graph far too large to solve: the warm start
skips heuristics that would not finish in time, and the model is not built."""

import time

from hios_opt import Platform, evaluate, generators, solve


def test_time_limit_holds_on_ten_thousand_ops():
    graph = generators.random_layered(10_000, 20_000, 200, 0.5, seed=0)
    platform = Platform(gpus=4, streams=1)
    started = time.monotonic()
    result = solve(graph, platform, "cpsat", time_limit=5, workers=1)
    elapsed = time.monotonic() - started
    assert elapsed < 5 + 3.0, elapsed  # margin for a loaded 2-core machine
    assert result.status in ("feasible", "unknown")
    assert result.schedule is not None
    assert evaluate(graph, platform, result.schedule).makespan == result.makespan_ms
    assert result.lower_bound_ms <= result.makespan_ms


def _forbid_bitsets(monkeypatch):
    from hios_opt.graph import OpGraph

    def refuse(self):
        raise AssertionError("reachability bitsets built")

    for name in ("descendants_bits", "ancestors_bits"):
        monkeypatch.setattr(OpGraph, name, property(refuse))


def test_large_graph_refused_without_quadratic_memory(monkeypatch):
    # 2 streams on 20,000 ops: refused from a count that needs no bitsets
    # (ops of one level are pairwise independent).
    import pytest

    from hios_opt.errors import ProblemTooLargeError
    from hios_opt.exact.candidates import count_candidates

    _forbid_bitsets(monkeypatch)
    graph = generators.random_layered(20_000, 40_000, 400, 0.5, seed=0)
    assert count_candidates(graph, 2, limit=100_000) > 100_000
    assert count_candidates(graph, 1) == 20_000
    with pytest.raises(ProblemTooLargeError, match="streams=1"):
        solve(graph, Platform(gpus=4, streams=2), "cpsat", time_limit=5, workers=1)


def test_one_stream_solve_of_a_large_graph_builds_no_bitsets(monkeypatch):
    _forbid_bitsets(monkeypatch)
    graph = generators.random_layered(5_000, 10_000, 100, 0.5, seed=1)
    platform = Platform(gpus=2, streams=1)
    result = solve(graph, platform, "cpsat", time_limit=4, workers=1)
    assert result.schedule is not None
    assert evaluate(graph, platform, result.schedule).makespan == result.makespan_ms
