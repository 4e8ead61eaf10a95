"""Series decomposition: a graph cut at the ops every path passes through.

A *series point* is an op on every path from a source to a sink (the
concatenations between Inception-v3's blocks, a SqueezeNet's fire
modules): every other op is its ancestor or its descendant, and no edge
leads past it. Such an op runs alone, and no stage crosses it,
so the makespan is at least the sum of lower bounds on the pieces between
consecutive series points (:func:`series_bound`, whose Notes give the
argument). Each piece is a small problem of its own: the static bounds of
:func:`~hios_opt.bounds.best_bound` give :func:`series_bound`'s default, and
an exact solver on each piece (:mod:`hios_opt.exact.series`) gives far more.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import networkx as nx

from ..costs import StageModel, default_model
from ..graph import OpGraph

__all__ = ["series_points", "series_segments", "induced_subgraph", "series_bound"]


def series_points(graph: OpGraph) -> tuple[int, ...]:
    """The ops on every path from a source to a sink, in topological order.

    With a source joined to every op without inputs and a sink joined from
    every op without outputs, these are the dominators of the sink
    (``networkx.immediate_dominators``). Each is comparable with every op
    (every op lies on some source-sink path, which passes through it), and
    no edge joins one of its ancestors to one of its descendants (that edge
    would lie on a path that avoids it).

    >>> from hios_opt import generators
    >>> g = generators.diamond()          # a -> (b, c) -> d
    >>> [g.ids[v] for v in series_points(g)]
    ['a', 'd']
    """
    n = graph.n_ops
    if n == 0:
        return ()
    source, sink = n, n + 1
    dag: nx.DiGraph[int] = nx.DiGraph()
    dag.add_nodes_from(range(n + 2))
    for v in range(n):
        if not graph.pred[v]:
            dag.add_edge(source, v)
        if not graph.succ[v]:
            dag.add_edge(v, sink)
        dag.add_edges_from((v, w) for w in graph.succ[v])
    idom = nx.immediate_dominators(dag, source)
    points = []
    v = idom[sink]
    while v != source:
        points.append(v)
        v = idom[v]
    position = graph.topo_position
    return tuple(sorted(points, key=lambda u: position[u]))


def series_segments(graph: OpGraph, points: Sequence[int] | None = None) -> list[tuple[int, ...]]:
    """The pieces between consecutive series points, each with the series
    points at its two ends (the first piece starts at the graph's sources,
    the last ends at its sinks), as op indices in topological order.

    Between two consecutive series points ``c < c'`` in the topological
    order lie exactly the ops that descend from ``c`` and lead to ``c'``
    (each is comparable with both, and its position rules out the other
    cases), so the pieces are runs of the topological order; and every edge
    joins two ops of one piece.

    >>> from hios_opt import generators
    >>> [[generators.diamond().ids[v] for v in s] for s in series_segments(generators.diamond())]
    [['a'], ['a', 'b', 'c', 'd'], ['d']]
    """
    if points is None:
        points = series_points(graph)
    topo, position = graph.topo, graph.topo_position
    cuts = [position[c] for c in points]
    segments = []
    start = 0
    for cut in cuts:
        segments.append(tuple(topo[start:cut + 1]))
        start = cut
    segments.append(tuple(topo[start:]))
    return segments


def induced_subgraph(graph: OpGraph, ops: Sequence[int], name: str | None = None) -> OpGraph:
    """The graph on ``ops`` (indices, at least one) with the edges among
    them and the measured stage-table entries whose ops all belong to them.

    >>> from hios_opt import generators
    >>> g = generators.diamond()
    >>> sub = induced_subgraph(g, [0, 1, 3])
    >>> sub.ids, sub.n_edges
    (('a', 'b', 'd'), 2)
    """
    keep = sorted(set(ops))
    inside = set(keep)
    edges = [graph.edges[e] for v in keep for e in graph.out_edges[v] if graph.edge_dst[e] in inside]
    table = {frozenset(graph.ids[v] for v in group): value
             for group, value in graph.stage_table.items() if group <= inside}
    return OpGraph([graph.ops[v] for v in keep], edges, name=name if name is not None else f"{graph.name}[part]",
                   meta=graph.meta, stage_latency_ms=table or None)


def series_bound(graph: OpGraph, cost_model: StageModel | None, segment_bound: Callable[[OpGraph], float], *,
                 points: Sequence[int] | None = None) -> float:
    """``sum(segment_bound(piece)) - sum(t(c))`` over the pieces of
    :func:`series_segments` and the series points ``c``.

    ``segment_bound(sub)`` must return a lower bound on the makespan of
    every schedule of ``sub`` (an :class:`OpGraph`) on the platform and cost
    model at hand: :func:`~hios_opt.bounds.best_bound` offers the static
    bounds of each piece (its part ``"series"``), :mod:`hios_opt.exact.series`
    an exact solve of each. Without a series point the piece is the whole
    graph.

    >>> from hios_opt import generators
    >>> g = generators.diamond()     # a(1) -> b(2), c(3) -> d(1)
    >>> series_bound(g, None, lambda sub: sub.total_latency_ms)   # one GPU: the work
    7.0

    Notes
    -----
    Let ``c1 < ... < cm`` be the series points and take any schedule of
    makespan ``C``. A series point is comparable with every other op, so its
    stage holds it alone and lasts ``t(c) = L({c})``, and no stage holds ops
    of two different pieces except through ``c`` itself (two ops on opposite
    sides of ``c`` are comparable). Restrict the schedule to piece ``i``
    (``c(i)``, the ops between, ``c(i+1)``): its stages are whole stages of
    the schedule, in the same order per GPU, with the same durations (a
    measured entry of a stage is kept with it), and shifted by the start
    ``x(i)`` of ``c(i)`` its start times still meet every constraint of the
    start rule (the stage before on a GPU ends no later, inputs and delays
    are the same). The earliest-start evaluation of the piece is therefore
    no longer, and ``segment_bound(piece) <= end(c(i+1)) - x(i)``. These
    spans cover ``[0, C]`` and overlap exactly on the series points' own
    stages, so ``C >= sum segment_bound(piece) - sum t(c)``. The first and
    last pieces start at the sources and end at the sinks in the same way.
    """
    model = default_model(cost_model)
    if points is None:
        points = series_points(graph)
    alone = [model.stage_latency(graph, [c]) for c in points]
    total = 0.0
    for piece in series_segments(graph, points):
        if len(piece) <= 2 and (len(piece) == 1 or piece[1] in graph.succ[piece[0]]):
            # No op between: one op, or two joined by an edge, whose best is
            # to run one after the other on one GPU (no delay).
            total += math.fsum(model.stage_latency(graph, [v]) for v in piece)
        else:
            total += segment_bound(graph if len(piece) == graph.n_ops else induced_subgraph(graph, piece))
    return max(0.0, total - math.fsum(alone))
