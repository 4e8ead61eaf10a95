"""Every exact solver against brute force on random tiny problems with the
awkward data that real profiles bring: measured stage tables (pairs and
triples, some faster than their slowest op), zero-latency ops, zero and
tiny delays, per-link bandwidths, other contention models; and every
heuristic's schedule is judged by the evaluator and is never below the optimum.

A wider run of this search (1,800 problems) found the cases kept in
``test_exact_agreement.test_found_by_random_search``.
"""

from __future__ import annotations

import itertools
import random

import pytest

import hios_opt as ho
from hios_opt import Op, OpGraph, Platform, evaluate
from hios_opt.costs import AnalyticModel
from hios_opt.exact import solve
from hios_opt.exact.brute import brute_force

from .support.graphs import small_graph

SOLVERS = ["cpsat", "milp", "milp:cbc", "astar", "portfolio"]


def random_problem(seed: int) -> tuple[OpGraph, Platform, AnalyticModel | None]:
    rnd = random.Random(seed)
    shape = small_graph(seed)
    if shape.n_ops > 7:
        shape = ho.generators.random_layered(7, 9, 3, 0.5, seed)
    ids = list(shape.ids)
    latency = {v: rnd.choice([0.0, 0.5, 1.0, 2.0, rnd.uniform(0.1, 5.0)]) for v in ids}
    ops = [Op(v, latency[v], utilization=rnd.choice([1.0, 0.5, rnd.uniform(0.05, 1.0)]),
              output_bytes=rnd.randint(1, 4) * 1_000_000) for v in ids]
    by_bytes = rnd.random() < 0.3
    edges = [(e.src, e.dst) if by_bytes else (e.src, e.dst, rnd.choice([0.0, 0.3, 1.0, rnd.uniform(0.0, 4.0)]))
             for e in shape.edges]
    plain = OpGraph(ops, edges)
    table = {}
    for size, share in ((2, 0.5), (3, 0.3)):
        for group in itertools.combinations(ids, size):
            if plain.independent([plain.index(v) for v in group]) and rnd.random() < share:
                longest = max(latency[v] for v in group)
                table[frozenset(group)] = rnd.choice([longest * rnd.uniform(0.5, 1.0),
                                                      sum(latency[v] for v in group) * rnd.uniform(0.5, 1.2),
                                                      rnd.uniform(0.0, 6.0)])
    graph = OpGraph(ops, edges, stage_latency_ms=table, name=f"random{seed}")
    gpus, streams = rnd.choice([1, 2, 2, 3, 4]), rnd.choice([1, 2, 2, 3])
    if by_bytes and gpus > 1 and rnd.random() < 0.7:
        links = tuple(tuple(1.0 if a == b else rnd.choice([0.25, 1.0, 4.0]) for b in range(gpus))
                      for a in range(gpus))
        platform = Platform(gpus=gpus, streams=streams, bandwidth_matrix_gbps=links)
    else:
        platform = Platform(gpus=gpus, streams=streams)
    model = AnalyticModel(alpha=rnd.choice([0.0, 0.25, 1.0])) if rnd.random() < 0.4 else None
    return graph, platform, model


@pytest.mark.parametrize("seed", range(80))
def test_random_problem(seed):
    graph, platform, model = random_problem(seed)
    optimum = brute_force(graph, platform, model).makespan_ms
    tol = 1e-9 * max(1.0, optimum)
    for name in ho.algorithms():
        s = ho.schedule(graph, platform, name, cost_model=model)
        assert evaluate(graph, platform, s, model).makespan == pytest.approx(s.makespan_ms, abs=1e-12), name
        assert s.makespan_ms >= optimum - tol, name
    for k, solver in enumerate(SOLVERS):
        warm = "auto" if (seed + k) % 2 else None
        r = solve(graph, platform, solver, time_limit=30, workers=1, warm_start=warm, cost_model=model)
        assert r.status == "optimal", (solver, r)
        assert optimum - tol <= r.makespan_ms <= optimum + r.tolerance_ms + tol, (solver, r, optimum)
        assert r.lower_bound_ms <= optimum + tol, (solver, r, optimum)
        assert evaluate(graph, platform, r.schedule, model).makespan == pytest.approx(r.makespan_ms, abs=1e-12)
