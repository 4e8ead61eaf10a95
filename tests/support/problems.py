"""Random tiny problems with the awkward data that real profiles bring.

Measured stage tables (pairs and triples, some faster than their slowest
op), zero-latency ops, zero and tiny delays, per-link bandwidths, other
contention models: small enough (at most 7 ops) for brute force
(:func:`random_problem`, and :func:`integer_problem` on whole numbers); the
same kind of data on layered graphs of up to 60 ops (:func:`layered_problem`).
"""

from __future__ import annotations

import itertools
import random

import hios_opt as ho
from hios_opt import Edge, Op, OpGraph, Platform
from hios_opt.costs import AnalyticModel

from .graphs import layered_graph, small_graph


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
    platform = random_platform(rnd, rnd.choice([1, 2, 2, 3, 4]), rnd.choice([1, 2, 2, 3]), by_bytes, 0.7)
    model = AnalyticModel(alpha=rnd.choice([0.0, 0.25, 1.0])) if rnd.random() < 0.4 else None
    return graph, platform, model


def random_platform(rnd: random.Random, gpus: int, streams: int, by_bytes: bool, matrix_share: float) -> Platform:
    """``gpus`` x ``streams``; when delays come from bytes, a random link
    matrix (bandwidths 0.25, 1 or 4) with probability ``matrix_share``."""
    if by_bytes and gpus > 1 and rnd.random() < matrix_share:
        links = tuple(tuple(1.0 if a == b else rnd.choice([0.25, 1.0, 4.0]) for b in range(gpus))
                      for a in range(gpus))
        return Platform(gpus=gpus, streams=streams, bandwidth_matrix_gbps=links)
    return Platform(gpus=gpus, streams=streams)


def layered_problem(seed: int, max_ops: int = 60) -> tuple[OpGraph, Platform, AnalyticModel | None]:
    """A random layered graph of 8 to ``max_ops`` ops on a random platform, with
    the same awkward data as :func:`random_problem` at a larger size: edges
    sized in bytes (their own ``bytes``, or the producer's ``output_bytes``)
    or with their own ``comm_ms``, zero-latency ops, a measured table of some
    independent pairs, 1 to 4 GPUs with uniform or per-link bandwidths (and
    link latencies), 1 to 3 streams."""
    rnd = random.Random(10_000 + seed)
    n = rnd.randint(8, max_ops)
    layers = rnd.randint(1, max(1, min(8, n - 2)))
    shape = layered_graph(n, rnd.randint(n, 3 * n), layers, 0.5, seed)
    ids = list(shape.ids)
    latency = {v: 0.0 if rnd.random() < 0.08 else rnd.uniform(0.05, 4.0) for v in ids}
    ops = [Op(v, latency[v], utilization=rnd.choice([1.0, rnd.uniform(0.05, 1.0)]),
              output_bytes=rnd.randint(0, 8) * 250_000) for v in ids]
    by_bytes = rnd.random() < 0.6
    edges = []
    for e in shape.edges:
        if by_bytes and rnd.random() < 0.9:
            nbytes = rnd.choice([None, 0, rnd.randint(1, 16) * 500_000])
            edges.append(Edge(e.src, e.dst, bytes=nbytes))
        else:
            edges.append(Edge(e.src, e.dst, comm_ms=rnd.choice([0.0, rnd.uniform(0.0, 3.0)])))
    plain = OpGraph(ops, edges)
    table = {}
    for _ in range(rnd.randint(0, 2 * n)):
        group = rnd.sample(range(n), rnd.choice([2, 2, 3]))
        if plain.independent(group):
            longest = max(plain.latency[v] for v in group)
            table[frozenset(ids[v] for v in group)] = rnd.choice([longest * rnd.uniform(0.5, 1.0),
                                                                  rnd.uniform(0.0, 6.0)])
    graph = OpGraph(ops, edges, stage_latency_ms=table, name=f"layered{seed}")
    gpus, streams = rnd.choice([1, 2, 3, 4]), rnd.choice([1, 2, 3])
    if by_bytes and gpus > 1 and rnd.random() < 0.6:
        links = tuple(tuple(16.0 if a == b else rnd.choice([0.5, 2.0, 8.0, 25.0]) for b in range(gpus))
                      for a in range(gpus))
        lat = (tuple(tuple(0.0 if a == b else rnd.choice([0.0, 5.0, 40.0]) for b in range(gpus)) for a in range(gpus))
               if rnd.random() < 0.5 else None)
        platform = Platform(gpus=gpus, streams=streams, bandwidth_matrix_gbps=links, latency_matrix_us=lat)
    else:
        platform = Platform(gpus=gpus, streams=streams, bandwidth_gbps=rnd.choice([2.0, 16.0]),
                            latency_us=rnd.choice([0.0, 10.0]))
    model = AnalyticModel(alpha=rnd.choice([0.0, 0.5, 1.0])) if rnd.random() < 0.3 else None
    return graph, platform, model


def integer_problem(seed: int) -> tuple[OpGraph, Platform, AnalyticModel | None]:
    """:func:`random_problem`'s graph and platform on whole numbers: integer
    latencies (zeros included) and delays (at most 2 ms), unit utilization,
    and every independent group of up to three ops measured (between its
    longest op and the sum of its ops), so that every stage latency is an
    integer: what the exact solvers' time grid holds exactly at a resolution
    of 1 ms (no value lies beyond the grid's horizon, the sequential
    makespan)."""
    graph, platform, _ = random_problem(seed)
    rnd = random.Random(20_000 + seed)
    ops = [Op(op.id, float(rnd.choice([0, 1, 1, 2, 3, 5])), output_bytes=op.output_bytes) for op in graph.ops]
    edges = [Edge(e.src, e.dst, comm_ms=float(rnd.choice([0, 1, 1, 2]))) for e in graph.edges]
    plain = OpGraph(ops, edges)
    table = {}
    for size in (2, 3):
        for group in itertools.combinations(range(plain.n_ops), size):
            if plain.independent(group):
                lat = [int(plain.latency[v]) for v in group]
                table[frozenset(plain.ids[v] for v in group)] = float(rnd.randint(max(lat), sum(lat)))
    return OpGraph(ops, edges, stage_latency_ms=table, name=f"integer{seed}"), platform.with_(
        bandwidth_matrix_gbps=None), None
