"""Random tiny problems with the awkward data that real profiles bring.

Measured stage tables (pairs and triples, some faster than their slowest
op), zero-latency ops, zero and tiny delays, per-link bandwidths, other
contention models: small enough (at most 7 ops) for brute force.
"""

from __future__ import annotations

import itertools
import random

import hios_opt as ho
from hios_opt import Op, OpGraph, Platform
from hios_opt.costs import AnalyticModel

from .graphs import small_graph


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
