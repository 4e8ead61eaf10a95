"""Graphs to schedule: the paper's random layered DAGs and small named graphs.

The named graphs are small enough to solve by hand; tests and notebooks use
them. :func:`random_layered` reproduces the HIOS paper's simulation
generator: a DAG with one source and one sink, ``layers`` layers in between,
every layer linked to the next, the remaining edges random forward edges, and
an edge's communication cost equal to CCR times its consumer's latency.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from .checks import check_int, is_number
from .errors import OptionError
from .graph import Edge, Op, OpGraph

__all__ = [
    "MAX_NODES",
    "MAX_EDGES",
    "random_layered",
    "chain",
    "diamond",
    "fork_join",
    "inception_block",
    "wide_layer",
    "NAMED",
    "named",
]


def _check_range(value: Sequence[float], name: str, low: float, high: float | None) -> tuple[float, float]:
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2:
        raise OptionError(f"{name} must be a (low, high) pair, got {value!r}")
    try:
        a, b = float(value[0]), float(value[1])
    except (TypeError, ValueError, OverflowError):
        raise OptionError(f"{name} must be a pair of numbers, got {value!r}") from None
    if not (low <= a <= b) or (high is not None and b > high):
        upper = f" and <= {high:g}" if high is not None else ""
        raise OptionError(f"{name} must satisfy {low:g} <= low <= high{upper}, got ({a:g}, {b:g})")
    return a, b


#: Largest graph :func:`random_layered` makes: about 250 MB of JSON at the
#: upper ends, the size of file hios-opt reads by default.
MAX_NODES = 1_000_000
MAX_EDGES = 2_000_000


def random_layered(
    nodes: int,
    edges: int,
    layers: int,
    ccr: float = 0.5,
    seed: int = 0,
    *,
    latency_range: tuple[float, float] = (0.1, 4.0),
    utilization_range: tuple[float, float] = (0.6, 1.0),
    name: str | None = None,
) -> OpGraph:
    """A random layered DAG like the HIOS paper's simulation graphs.

    Parameters
    ----------
    nodes : int
        Number of ops, source and sink included (>= ``layers + 2``).
    edges : int
        Number of edges. At least the edges that link every op to the next
        layer and from the previous one; at most every forward pair.
    layers : int
        Number of layers between the source and the sink (>= 1).
    ccr : float
        Communication-to-computation ratio: an edge's ``comm_ms`` is
        ``ccr`` times its consumer's latency.
    seed : int
        The same seed gives the same graph.
    latency_range, utilization_range
        Uniform ranges of op latency (ms) and utilization.

    Raises
    ------
    OptionError
        When the parameters cannot be met (the message gives the valid range).

    Examples
    --------
    >>> g = random_layered(20, 40, 4, ccr=0.5, seed=1)
    >>> g.n_ops, g.n_edges, len(g.sources()), len(g.sinks())
    (20, 40, 1, 1)
    """
    for value, label, low, high in ((nodes, "nodes", 3, MAX_NODES), (edges, "edges", 2, MAX_EDGES),
                                    (layers, "layers", 1, MAX_NODES)):
        check_int(value, label, min_value=low)
        if value > high:  # 10**8 nodes ended in a MemoryError after minutes
            raise OptionError(f"{label} must be at most {high:,} (a graph that large would not fit in memory, "
                              f"nor in a file hios-opt reads), got {value:,}")
    if not is_number(ccr) or not ccr >= 0 or ccr == float("inf"):
        raise OptionError(f"ccr must be a finite number >= 0, got {ccr!r}")
    lat_lo, lat_hi = _check_range(latency_range, "latency_range", 0.0, None)
    if lat_lo <= 0:
        raise OptionError(f"latency_range must be positive, got {latency_range!r}")
    util_lo, util_hi = _check_range(utilization_range, "utilization_range", 0.0, 1.0)
    if util_lo <= 0:
        raise OptionError(f"utilization_range must lie in (0, 1], got {utilization_range!r}")
    middle = nodes - 2
    if middle < layers:
        raise OptionError(f"{layers} layers need at least {layers + 2} nodes (one per layer, plus source and sink), got {nodes}")
    rng = random.Random(seed)
    # Layer sizes: one op each, the rest spread at random.
    sizes = [1] * layers
    for _ in range(middle - layers):
        sizes[rng.randrange(layers)] += 1
    levels: list[list[int]] = [[0]]
    next_id = 1
    for size in sizes:
        levels.append(list(range(next_id, next_id + size)))
        next_id += size
    levels.append([next_id])
    level_of = {v: k for k, level in enumerate(levels) for v in level}

    # Minimal linking: every op of layer k+1 gets a producer in layer k and
    # every op of layer k a consumer in layer k+1.
    edge_set: set[tuple[int, int]] = set()
    for k in range(len(levels) - 1):
        upper, lower = levels[k], levels[k + 1]
        m = max(len(upper), len(lower))
        ups = upper + [rng.choice(upper) for _ in range(m - len(upper))]
        downs = lower + [rng.choice(lower) for _ in range(m - len(lower))]
        rng.shuffle(ups)
        for u, v in zip(ups, downs):
            edge_set.add((u, v))
    minimum = len(edge_set)
    total_nodes = nodes
    maximum = sum(
        len(levels[a]) * len(levels[b]) for a in range(len(levels)) for b in range(a + 1, len(levels))
    )
    if edges < minimum or edges > maximum:
        raise OptionError(
            f"cannot make {edges} edges on {total_nodes} nodes in {layers} layers with seed {seed}: "
            f"linking the layers needs {minimum} and forward pairs allow at most {maximum}"
        )
    extra = edges - minimum
    if extra:
        if extra > (maximum - minimum) // 2:
            candidates = [
                (u, v) for u in range(total_nodes) for v in range(total_nodes)
                if level_of[u] < level_of[v] and (u, v) not in edge_set
            ]
            edge_set.update(rng.sample(candidates, extra))
        else:
            while extra:
                u, v = rng.randrange(total_nodes), rng.randrange(total_nodes)
                if level_of[u] > level_of[v]:
                    u, v = v, u
                if level_of[u] < level_of[v] and (u, v) not in edge_set:
                    edge_set.add((u, v))
                    extra -= 1
    latency = [round(rng.uniform(lat_lo, lat_hi), 6) for _ in range(total_nodes)]
    utilization = [round(rng.uniform(util_lo, util_hi), 6) for _ in range(total_nodes)]
    ops = [Op(f"n{v}", latency[v], utilization[v]) for v in range(total_nodes)]
    edge_list = [
        Edge(f"n{u}", f"n{v}", round(ccr * latency[v], 9)) for u, v in sorted(edge_set)
    ]
    meta = {"source": "generated", "generator": "random_layered", "nodes": nodes, "edges": edges,
            "layers": layers, "ccr": ccr, "seed": seed, "latency_range": [lat_lo, lat_hi],
            "utilization_range": [util_lo, util_hi], "device": "analytic"}
    return OpGraph(ops, edge_list, name=name or f"layered-n{nodes}-e{edges}-l{layers}-ccr{ccr:g}-s{seed}", meta=meta)


def _named_meta(name: str) -> dict[str, str]:
    return {"source": "generated", "generator": name, "device": "analytic"}


def chain(length: int = 4, latency_ms: float = 1.0, comm_ms: float = 0.5) -> OpGraph:
    """``length`` ops in a line, each ``latency_ms`` long.

    >>> chain(3).topological_order()
    ['op0', 'op1', 'op2']
    """
    if length < 1:
        raise OptionError(f"length must be >= 1, got {length}")
    ops = [Op(f"op{i}", latency_ms) for i in range(length)]
    edges = [Edge(f"op{i}", f"op{i + 1}", comm_ms) for i in range(length - 1)]
    return OpGraph(ops, edges, name=f"chain{length}", meta=_named_meta("chain"))


def diamond(comm_ms: float = 0.5) -> OpGraph:
    """``a(1) -> b(2), c(3) -> d(1)``; b and c have utilization 0.8.

    On one GPU with one stream the makespan is 7. Merging b and c into one
    stage gives ``L = 0.5*5 + 0.5*max(0.8*5, 3) = 4.5``, so 6.5. On two GPUs
    with c moved away: ``1 + 0.5 + 3 + 0.5 + 1 = 6``.
    """
    ops = [Op("a", 1.0), Op("b", 2.0, 0.8), Op("c", 3.0, 0.8), Op("d", 1.0)]
    edges = [Edge("a", "b", comm_ms), Edge("a", "c", comm_ms), Edge("b", "d", comm_ms), Edge("c", "d", comm_ms)]
    return OpGraph(ops, edges, name="diamond", meta=_named_meta("diamond"))


def fork_join(
    branches: int = 2,
    branch_latency_ms: float = 4.0,
    comm_ms: float = 0.5,
    *,
    utilization: float = 1.0,
    ends_latency_ms: float = 1.0,
) -> OpGraph:
    """``fork -> branch0 .. branch{k-1} -> join``.

    With two branches of 4 ms, ``comm_ms`` c, two GPUs and one stream,
    splitting the branches (the join on the GPU of the branch that receives
    the fork's tensor) gives ``1 + c + 4 + 1`` against ``1 + 8 + 1`` together:
    it pays while ``c < 4``.
    """
    if branches < 1:
        raise OptionError(f"branches must be >= 1, got {branches}")
    ops = [Op("fork", ends_latency_ms)]
    ops += [Op(f"branch{i}", branch_latency_ms, utilization) for i in range(branches)]
    ops.append(Op("join", ends_latency_ms))
    edges = [Edge("fork", f"branch{i}", comm_ms) for i in range(branches)]
    edges += [Edge(f"branch{i}", "join", comm_ms) for i in range(branches)]
    return OpGraph(ops, edges, name=f"fork-join{branches}", meta=_named_meta("fork_join"))


def inception_block(comm_ms: float = 0.3) -> OpGraph:
    """An Inception-like block: four branches between an input and a concat.

    Branches: ``1x1``; ``1x1 -> 3x3``; ``1x1 -> 5x5``; ``pool -> 1x1``. Latencies
    loosely follow the FLOP counts of an Inception-v3 ``Mixed_5b`` block.
    """
    spec = [
        ("input", 0.5, 1.0, "conv"),
        ("b1_1x1", 1.0, 0.5, "conv"),
        ("b2_1x1", 0.8, 0.45, "conv"),
        ("b2_3x3", 2.4, 0.9, "conv"),
        ("b3_1x1", 0.6, 0.4, "conv"),
        ("b3_5x5", 1.8, 0.8, "conv"),
        ("b4_pool", 0.4, 0.3, "pool"),
        ("b4_1x1", 0.7, 0.45, "conv"),
        ("concat", 0.2, 0.2, "concat"),
    ]
    ops = [Op(i, t, u, 0, kind) for i, t, u, kind in spec]
    pairs = [("input", "b1_1x1"), ("input", "b2_1x1"), ("b2_1x1", "b2_3x3"), ("input", "b3_1x1"),
             ("b3_1x1", "b3_5x5"), ("input", "b4_pool"), ("b4_pool", "b4_1x1"), ("b1_1x1", "concat"),
             ("b2_3x3", "concat"), ("b3_5x5", "concat"), ("b4_1x1", "concat")]
    return OpGraph(ops, [Edge(u, v, comm_ms) for u, v in pairs], name="inception-block",
                   meta=_named_meta("inception_block"))


def wide_layer(width: int = 6, latency_ms: float = 1.0, utilization: float = 0.5, comm_ms: float = 0.2) -> OpGraph:
    """``width`` independent ops between a source and a sink: the case where
    stream concurrency pays most (low utilization)."""
    if width < 1:
        raise OptionError(f"width must be >= 1, got {width}")
    ops = [Op("src", 0.5)] + [Op(f"w{i}", latency_ms, utilization) for i in range(width)] + [Op("dst", 0.5)]
    edges = [Edge("src", f"w{i}", comm_ms) for i in range(width)] + [Edge(f"w{i}", "dst", comm_ms) for i in range(width)]
    return OpGraph(ops, edges, name=f"wide{width}", meta=_named_meta("wide_layer"))


NAMED: dict[str, Callable[..., OpGraph]] = {
    "chain": chain,
    "diamond": diamond,
    "fork-join": fork_join,
    "inception-block": inception_block,
    "wide-layer": wide_layer,
}


def named(name: str) -> OpGraph:
    """One of the small named graphs by name (see :data:`NAMED`)."""
    try:
        return NAMED[name]()
    except KeyError:
        raise OptionError(f"unknown named graph {name!r}; valid: {', '.join(NAMED)}") from None
