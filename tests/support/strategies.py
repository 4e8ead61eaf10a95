"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from hios_opt import OpGraph, Platform

from .graphs import layered_graph


@st.composite
def layered_graphs(draw, max_nodes: int = 30, ccrs: tuple[float, ...] = (0.0, 0.1, 1.0, 5.0, 50.0),
                   min_edges_offset: int = -1):
    """Random layered graphs of 3 to ``max_nodes`` ops, a CCR from ``ccrs``,
    and ``n + min_edges_offset`` to ``2 n`` edges (moved to the nearest count
    the layering allows, see :func:`.graphs.layered_graph`)."""
    n = draw(st.integers(3, max_nodes))
    layers = draw(st.integers(1, max(1, min(6, n - 2))))
    ccr = draw(st.sampled_from(list(ccrs)))
    seed = draw(st.integers(0, 10_000))
    edges = draw(st.integers(n + min_edges_offset, 2 * n))
    return layered_graph(n, edges, layers, ccr, seed)


odd_ids = st.text(min_size=1, max_size=8)  # unicode, spaces, quotes, escapes
latencies = st.one_of(st.floats(0.0, 1e3), st.sampled_from([0.0, 5e-324, 1e-300, 0.1, 1 / 3, 1e12, 2.0**-1074]))
utilizations = st.one_of(st.floats(1e-9, 1.0), st.sampled_from([5e-324, 1e-300, 0.5, 1.0]))
comms = st.one_of(st.none(), st.floats(0.0, 1e3), st.sampled_from([0.0, 5e-324, 1e12]))


@st.composite
def odd_graphs(draw, max_nodes: int = 10):
    """Random DAGs with odd ids and extreme but valid numbers; edges go from
    lower to higher position, so the graph is acyclic by construction."""
    ids = draw(st.lists(odd_ids, min_size=1, max_size=max_nodes, unique=True))
    n = len(ids)
    ops = []
    for i in ids:
        op: dict[str, Any] = {"id": i, "latency_ms": draw(latencies), "utilization": draw(utilizations),
                              "output_bytes": draw(st.integers(0, 2**63 - 1))}
        if draw(st.booleans()):
            op["kind"] = draw(odd_ids)
            op["flops"] = draw(st.integers(0, 10**30))
            op["shape"] = draw(st.lists(st.integers(0, 2**31), max_size=4))
        ops.append(op)
    pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=2 * n)) if pairs else []
    edges = []
    for a, b in chosen:
        edge: dict[str, Any] = {"src": ids[a], "dst": ids[b]}
        comm = draw(comms)
        if comm is not None:
            edge["comm_ms"] = comm
        if draw(st.booleans()):
            edge["bytes"] = draw(st.integers(0, 2**40))
        edges.append(edge)
    meta = draw(st.dictionaries(odd_ids, st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=False,
                                                                                          allow_infinity=False),
                                                   odd_ids, st.none(), st.booleans()), max_size=3))
    data = {"format": "hios-opt/graph", "version": 1, "name": draw(odd_ids), "meta": meta, "ops": ops,
            "edges": edges}
    graph = OpGraph.from_dict(data)
    # a few measured groups of independent pairs
    independent = [(a, b) for a in range(n) for b in range(a + 1, n) if not graph.depends(a, b)]
    if independent and draw(st.booleans()):
        groups = draw(st.lists(st.sampled_from(independent), unique=True, max_size=3))
        data["stage_latency_ms"] = [{"ops": [ids[a], ids[b]], "latency_ms": draw(latencies)} for a, b in groups]
        graph = OpGraph.from_dict(data)
    return graph


#: 1 to 4 GPUs, 1 to 3 streams, default links
plain_platforms = st.builds(Platform, gpus=st.integers(1, 4), streams=st.integers(1, 3))

#: 1 to 4 GPUs, 1 to 3 streams, slow to fast links, with or without latency
platforms = st.builds(Platform, gpus=st.integers(1, 4), streams=st.integers(1, 3),
                      bandwidth_gbps=st.sampled_from([0.5, 16.0, 300.0]), latency_us=st.sampled_from([0.0, 10.0]))
