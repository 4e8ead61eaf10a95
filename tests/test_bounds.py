"""Lower bounds (hios_opt.bounds) never exceed a proven optimum, and the heads
and tails they rest on hold op by op in every schedule."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import hios_opt as ho
from hios_opt import Platform, evaluate, generators
from hios_opt.bounds import (
    best_bound,
    critical_path_bound,
    energy_bound,
    heads,
    lower_bound,
    path_bound,
    tails,
    work_bound,
)
from hios_opt.costs import default_model
from hios_opt.exact.benchmarks import load_directory, read_jsonl
from hios_opt.exact.brute import brute_force

from .support.problems import random_problem
from .support.schedules import random_schedule

DATA = Path(__file__).parent / "data" / "exact"
TOL = 1e-9


def all_bounds(graph, platform, model) -> dict[str, float]:
    return {
        "critical_path": critical_path_bound(graph, model),
        "work": work_bound(graph, platform, model),
        "paths": path_bound(graph, platform, model),
        "energy": energy_bound(graph, platform, model),
        "best": best_bound(graph, platform, model).value_ms,
    }


def check_heads_and_tails(graph, platform, model, schedule) -> None:
    """Every op's stage starts at or after its head and ends at least its
    tail before the makespan, in this (any) schedule."""
    timeline = evaluate(graph, platform, schedule, model)
    head, tail = heads(graph, platform, model), tails(graph, platform, model)
    for v, op in enumerate(graph.ids):
        scale = TOL * max(1.0, timeline.makespan)
        assert timeline.op_start[op] >= head[v] - scale, (op, timeline.op_start[op], head[v])
        assert timeline.makespan - timeline.op_end[op] >= tail[v] - scale, (op, tail[v])


@pytest.mark.parametrize("chunk", range(12))
def test_no_bound_exceeds_the_brute_force_optimum(chunk):
    # 1,200 random tiny problems (100 per chunk): measured stage tables,
    # zero-latency ops, zero delays, link matrices, 1-4 GPUs, 1-3 streams,
    # other contention models.
    above_cheap = 0
    for seed in range(100 * chunk, 100 * (chunk + 1)):
        graph, platform, model = random_problem(seed)
        optimum = brute_force(graph, platform, model)
        tol = TOL * max(1.0, optimum.makespan_ms)
        bounds = all_bounds(graph, platform, model)
        for name, value in bounds.items():
            assert value <= optimum.makespan_ms + tol, (seed, name, value, optimum.makespan_ms)
        check_heads_and_tails(graph, platform, model, optimum)
        check_heads_and_tails(graph, platform, model, random_schedule(graph, platform, seed))
        above_cheap += bounds["best"] > lower_bound(graph, platform, model) + tol
    assert above_cheap > 0  # the new bounds do more than the cheap ones somewhere


def test_paths_bound_counts_transfers_at_a_join():
    # fork -> 2 branches of 4 ms -> join, 5 ms per transfer: splitting the
    # branches costs 1 + 4 + 5 + 1 = 11 > 1 + 4 + 4 + 1 = 10 on one GPU, so no
    # schedule beats 10, while the critical path says 6 and the work 5.
    g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=5.0)
    p = Platform(gpus=2)
    assert critical_path_bound(g) == 6.0 and work_bound(g, p) == 5.0
    assert path_bound(g, p) == 10.0 == ho.solve(g, p, "astar", time_limit=10).makespan_ms
    # cheap transfers: the branches split, and the join waits for one transfer
    g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=0.5)
    assert path_bound(g, p) == 6.5 == ho.solve(g, p, "astar", time_limit=10).makespan_ms


def test_heads_use_the_least_delay_of_a_link_matrix():
    # fork -> a, b -> join with byte-sized edges: links 0 <-> 1 fast, 0 <-> 2 slow.
    g = ho.OpGraph([ho.Op("s", 1.0, output_bytes=8_000_000), ho.Op("a", 4.0, output_bytes=8_000_000),
                    ho.Op("b", 4.0, output_bytes=8_000_000), ho.Op("j", 1.0)],
                   [("s", "a"), ("s", "b"), ("a", "j"), ("b", "j")])
    links = ((8.0, 8.0, 0.5), (8.0, 8.0, 0.5), (0.5, 0.5, 8.0))
    p = Platform(gpus=3, bandwidth_matrix_gbps=links, latency_us=0.0)
    # The head of j lets its remote input take the fastest link (8 MB in 1 ms):
    # a on GPU 0, b and j on GPU 1, a's output arrives at 1 + 4 + 1 = 6.
    assert heads(g, p)[3] == 6.0 and path_bound(g, p) == 7.0
    assert ho.solve(g, p, "astar", time_limit=10).makespan_ms == 7.0
    # Slow links only (16 ms per transfer): both inputs run on the join's GPU.
    slow = Platform(gpus=3, bandwidth_gbps=0.5, latency_us=0.0)
    assert heads(g, slow)[3] == 9.0 and path_bound(g, slow) == 10.0


def test_energy_of_windows_beats_the_work_bound_where_the_ends_are_narrow():
    # a chain of 4 ops, then 8 independent ops, then a chain of 4: on 4 GPUs the
    # 8 wide ops cannot start before the first chain ends, nor end after the
    # last chain starts.
    ops = [ho.Op(f"a{i}", 1.0) for i in range(4)] + [ho.Op(f"w{i}", 2.0) for i in range(8)] + \
          [ho.Op(f"z{i}", 1.0) for i in range(4)]
    edges = [(f"a{i}", f"a{i + 1}", 0.0) for i in range(3)] + [(f"z{i}", f"z{i + 1}", 0.0) for i in range(3)]
    edges += [("a3", f"w{i}", 0.0) for i in range(8)] + [(f"w{i}", "z0", 0.0) for i in range(8)]
    g = ho.OpGraph(ops, edges)
    p = Platform(gpus=4)
    assert work_bound(g, p) == 6.0
    assert energy_bound(g, p) == 12.0   # 4 + 16 / 4 + 4
    assert ho.solve(g, p, "cpsat", time_limit=10, workers=1).makespan_ms == 12.0


def test_best_bound_reports_every_part_and_skips_what_would_not_fit(monkeypatch):
    g = generators.random_layered(60, 120, 8, 0.6, seed=1)
    p = Platform(gpus=4, streams=2)
    report = best_bound(g, p)
    assert set(report.parts) == {"critical_path", "work", "paths", "energy"}
    assert report.value_ms == max(report.parts.values()) == report.parts[report.best]
    assert best_bound(g, p) is report  # cached
    import hios_opt.bounds.best as best

    monkeypatch.setattr(best, "ENERGY_WORK_LIMIT", 1.0)
    small = best_bound(g, Platform(gpus=3, streams=2))
    assert "energy" not in small.parts and "too many" in small.skipped["energy"]


def test_bounds_hold_on_the_public_instances_in_the_repository():
    cases = [c for c in load_directory(DATA) if c.optimum is not None]
    assert len(cases) >= 20
    for case in cases:
        p = case.platform
        for name, value in all_bounds(case.graph, p, None).items():
            assert value <= case.optimum + TOL * case.optimum, (case, name, value)


@pytest.mark.slow
def test_bounds_hold_on_every_public_optimum():
    # Every (graph, processors) case of the public collection in
    # instances.jsonl.gz (STG 50/100/applications, Sinnen, RGPOS): 1,952 with
    # a proven optimum.
    checked = 0
    model = default_model()
    for case in read_jsonl(DATA / "instances.jsonl.gz"):
        if case.optimum is None or case.status is None or not case.status.startswith("optimal"):
            continue
        value = best_bound(case.graph, case.platform, model, time_limit=None).value_ms
        assert math.isfinite(value)
        assert value <= case.optimum * (1 + TOL) + TOL, (case.name, case.processors, value, case.optimum)
        checked += 1
    assert checked >= 1950


def test_solve_reports_its_static_bounds_and_what_it_skipped(monkeypatch):
    import hios_opt.bounds.best as best

    monkeypatch.setattr(best, "ENERGY_WORK_LIMIT", 1.0)
    g = generators.random_layered(30, 60, 5, 0.5, seed=4)
    p = Platform(gpus=3, streams=2)
    r = ho.solve(g, p, "lns", time_limit=5, options={"max_iterations": 50})
    static = r.stats["static_bounds"]
    assert set(static["parts"]) == {"critical_path", "work", "paths"} and "energy" in static["skipped"]
    assert r.lower_bound_ms >= max(static["parts"].values()) - 1e-12
