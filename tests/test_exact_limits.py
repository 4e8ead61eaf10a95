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
