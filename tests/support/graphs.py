"""Graph builders shared by the tests.

:func:`hios_opt.generators.random_layered` refuses an edge count that the
layering cannot hold (too many edges for few wide layers, too few to link
them). :func:`layered_graph` walks the edge count to the first feasible one,
so a builder never fails on a random draw.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from hios_opt import OpGraph, generators
from hios_opt.errors import OptionError


def layered_graph(nodes: int, edges: int, layers: int, ccr: float, seed: int,
                  counts: Iterable[int] | None = None) -> OpGraph:
    """``random_layered(nodes, count, layers, ccr, seed)`` for the first
    feasible ``count`` of ``counts``; by default the nearest one to ``edges``,
    walking up to ``nodes**2`` first, then down."""
    if counts is None:
        counts = [*range(edges, nodes * nodes), *range(edges - 1, 1, -1)]
    for count in counts:
        try:
            return generators.random_layered(nodes, count, layers, ccr, seed)
        except OptionError:
            continue
    raise AssertionError("no feasible edge count")


def small_random_graph(rng: random.Random, max_ops: int = 30) -> OpGraph:
    """A random layered graph of 3 to ``max_ops`` ops drawn from ``rng``, with
    about ``2 n`` edges (fewer until the layering allows them)."""
    n = rng.randint(3, max_ops)
    layers = rng.randint(1, max(1, min(6, n - 2)))
    ccr = rng.choice([0.0, 0.2, 1.0, 5.0])
    seed = rng.randrange(10**6)
    return layered_graph(n, 2 * n, layers, ccr, seed, counts=range(2 * n, 0, -1))


def small_graph(seed: int) -> OpGraph:
    """A layered graph of 4 to 8 ops, a function of ``seed`` alone."""
    nodes = 4 + seed % 5
    layers = 1 + seed % min(3, nodes - 2)
    start = nodes - 1 + seed % 4
    return layered_graph(nodes, start, layers, 0.5, seed, counts=[*range(start, nodes * nodes), *range(2, start)])


def tiny(seed: int, ccr: float) -> OpGraph:
    """:func:`small_graph` cut to at most 7 ops, each edge costing ``ccr``
    times its consumer's latency: small enough for brute force."""
    g = small_graph(seed)
    if g.n_ops > 7:
        g = generators.random_layered(7, 9, 3, ccr, seed)
    comm = {(e.src, e.dst): ccr * g.op(e.dst).latency_ms for e in g.edges}
    return g.with_costs(comm_ms=comm)


#: 60 tiny exact cases ``(seed, gpus, streams, ccr)``: K in {1, 2, 3} x S in
#: {1, 2} x CCR in {0, 0.5, 2}, graphs of 4 to 7 ops (see :func:`tiny`).
TINY_CASES = [(seed, 1 + seed % 3, 1 + (seed // 3) % 2, (0.0, 0.5, 2.0)[(seed // 6) % 3]) for seed in range(60)]


def paper_graph(ops: int, seed: int = 0) -> OpGraph:
    """The paper's random layered graphs: ``2 ops`` edges, ``ops // 6`` layers, CCR 0.5."""
    return generators.random_layered(ops, 2 * ops, max(2, ops // 6), 0.5, seed)


def kwok_ahmad() -> OpGraph:
    """The nine-task DAG of Kwok and Ahmad's survey ("Static Scheduling
    Algorithms for Allocating Directed Task Graphs to Multiprocessors", ACM
    Computing Surveys 31(4), 1999, Fig. 1), the textbook example of list
    scheduling with communication: weights n1..n9 = 2, 3, 3, 4, 5, 4, 4, 4, 1;
    edge costs on the edges. Its critical path n1 -> n7 -> n9 is
    2 + 10 + 4 + 6 + 1 = 23; b-levels (with communication) 23, 15, 14, 15, 5,
    10, 11, 10, 1; static levels (without) 11, 8, 8, 9, 5, 5, 5, 5, 1."""
    from hios_opt import Edge, Op

    weights = [2, 3, 3, 4, 5, 4, 4, 4, 1]
    edges = [(1, 2, 4), (1, 3, 1), (1, 4, 1), (1, 5, 1), (1, 7, 10), (2, 6, 1), (2, 7, 1), (3, 8, 1), (4, 8, 1),
             (6, 9, 5), (7, 9, 6), (8, 9, 5)]
    return OpGraph([Op(f"n{i + 1}", float(w)) for i, w in enumerate(weights)],
                   [Edge(f"n{u}", f"n{v}", float(c)) for u, v, c in edges], name="kwok-ahmad")
