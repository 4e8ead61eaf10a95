"""The operator graph: a DAG of operators with profiled costs.

An :class:`OpGraph` is immutable once built and validated. Algorithms work on
integer op indices (``0 .. n-1``, in the order the ops were given) through the
plain tuples it exposes (:attr:`OpGraph.latency`, :attr:`OpGraph.pred`, ...);
users work with op ids (strings). Graph quantities that several algorithms need
(topological order, levels, reachability) are computed once and cached.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from heapq import heapify, heappop, heappush
from typing import Any

from ._bundled import resolve
from ._io import check_finite_tree, check_header, finite, read_json, require, write_json_atomic
from .checks import check_int, is_int, is_number, shorten
from .errors import (
    CycleError,
    DuplicateOpError,
    EmptyGraphError,
    FormatError,
    GraphError,
    InvalidCostError,
    SelfLoopError,
    UnknownOpError,
)
from .reach import ReachIndex

# Longest op id (as repr) in a message: a culprit of megabytes makes no line of megabytes.
_ID_CHARS = 200

__all__ = ["Op", "Edge", "OpGraph", "longest_paths", "GRAPH_FORMAT", "GRAPH_VERSION", "REACH_BITS_MAX_OPS"]

GRAPH_FORMAT = "hios-opt/graph"
GRAPH_VERSION = 1

#: Largest graph whose reachability queries build the ``n^2 / 8``-byte
#: bitsets (2 MiB at 4096 ops); larger graphs use a linear-memory
#: :class:`~hios_opt.reach.ReachIndex`. Both answer exactly the same.
REACH_BITS_MAX_OPS = 4096

# Up to this many ops, independent() asks each pair; above, one search.
_PAIRWISE_MAX = 8

# Byte counts are int64 everywhere else (torch, numpy, solvers); a larger one
# is a corrupt file, and it would overflow the float transfer-time arithmetic.
_MAX_BYTES = 2**63 - 1


@dataclass(frozen=True)
class Op:
    """One operator.

    Parameters
    ----------
    id : str
        Unique name of the operator.
    latency_ms : float
        Time when it runs alone on one GPU (>= 0; zero only for placeholders).
    utilization : float
        Share of the GPU it keeps busy, in (0, 1]; used by the analytic
        contention model.
    output_bytes : int
        Size of its output tensor.
    kind, flops, shape
        Optional descriptive fields (operator type, FLOP count, output shape).
    """

    id: str
    latency_ms: float
    utilization: float = 1.0
    output_bytes: int = 0
    kind: str | None = None
    flops: int | None = None
    shape: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Edge:
    """A data dependency ``src -> dst``.

    ``comm_ms`` is the time to move the tensor to another GPU; when it is
    ``None`` the platform derives it from ``bytes`` (or, when that is also
    ``None``, from the producer's ``output_bytes``).
    """

    src: str
    dst: str
    comm_ms: float | None = None
    bytes: int | None = None


def _as_op(item: Any, position: int) -> Op:
    if isinstance(item, Op):
        op = item
    elif isinstance(item, Mapping):
        op = _op_from_dict(item, f"op #{position}")
    elif isinstance(item, tuple) and len(item) in (2, 3):
        op = Op(*item)
    else:
        raise GraphError(f"op #{position}: expected an Op, a dict or an (id, latency_ms) tuple, got {item!r:.60}")
    return _checked_op(op, position)


def _checked_op(op: Op, position: int) -> Op:
    if not isinstance(op.id, str) or not op.id:
        raise GraphError(f"op #{position}: id must be a non-empty string, got {shorten(op.id, _ID_CHARS)}")
    where = f"op {shorten(op.id, _ID_CHARS)}"
    latency = finite(op.latency_ms, f"{where}: latency_ms")
    util = finite(op.utilization, f"{where}: utilization", minimum=0.0, strict=True)
    if util > 1.0:
        raise InvalidCostError(f"{where}: utilization is {util:g}, it must be in (0, 1]")
    out_bytes: object = op.output_bytes  # what the caller gave, checked below
    if isinstance(out_bytes, float) and out_bytes.is_integer():
        out_bytes = int(out_bytes)
    out_bytes = check_int(out_bytes, f"{where}: output_bytes", min_value=0, max_value=_MAX_BYTES,
                          expected="an integer in [0, 2**63 - 1]", error=InvalidCostError)
    flops = op.flops
    if flops is not None:
        if (not is_number(flops) or flops < 0
                or (isinstance(flops, float) and not math.isfinite(flops))):
            raise InvalidCostError(f"{where}: flops must be a number >= 0, got {flops!r:.40}")
        flops = int(flops)
    shape = op.shape
    if shape is not None:
        if not isinstance(shape, (list, tuple)) or not all(
            is_int(d) and d >= 0 for d in shape
        ):
            raise GraphError(f"{where}: shape must be a list of integers >= 0, got {shape!r:.60}")
        shape = tuple(shape)
    if op.kind is not None and not isinstance(op.kind, str):
        raise GraphError(f"{where}: kind must be a string, got {op.kind!r:.40}")
    if (latency, util, out_bytes, flops, shape) == (
        op.latency_ms, op.utilization, op.output_bytes, op.flops, op.shape,
    ) and type(op.latency_ms) is float and type(op.utilization) is float:
        return op
    return Op(op.id, latency, util, out_bytes, op.kind, flops, shape)


def _as_edge(item: Any, position: int) -> Edge:
    if isinstance(item, Edge):
        edge = item
    elif isinstance(item, Mapping):
        edge = _edge_from_dict(item, f"edge #{position}")
    elif isinstance(item, tuple) and len(item) in (2, 3, 4):
        edge = Edge(*item)
    else:
        raise GraphError(f"edge #{position}: expected an Edge, a dict or a (src, dst[, comm_ms]) tuple, got {item!r:.60}")
    name = f"edge {shorten(edge.src, _ID_CHARS)} -> {shorten(edge.dst, _ID_CHARS)}"
    comm = edge.comm_ms
    if comm is not None:
        comm = finite(comm, f"{name}: comm_ms")
    nbytes: object = edge.bytes  # what the caller gave, checked below
    if nbytes is not None:
        if isinstance(nbytes, float) and nbytes.is_integer():
            nbytes = int(nbytes)
        nbytes = check_int(nbytes, f"{name}: bytes", min_value=0, max_value=_MAX_BYTES,
                           expected="an integer in [0, 2**63 - 1]", error=InvalidCostError)
    if comm is edge.comm_ms and nbytes is edge.bytes:
        return edge
    return Edge(edge.src, edge.dst, comm, nbytes)


def _op_from_dict(d: Mapping[str, Any], where: str) -> Op:
    d = dict(d)
    op_id = require(d, "id", where, str)
    where = f"op {shorten(op_id, _ID_CHARS)}"
    known = {"id", "latency_ms", "utilization", "output_bytes", "kind", "flops", "shape"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise FormatError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
    return Op(
        id=op_id,
        latency_ms=require(d, "latency_ms", where),
        utilization=d.get("utilization", 1.0),
        output_bytes=d.get("output_bytes", 0),
        kind=d.get("kind"),
        flops=d.get("flops"),
        shape=d.get("shape"),
    )


def _edge_from_dict(d: Mapping[str, Any], where: str) -> Edge:
    d = dict(d)
    src = require(d, "src", where, str)
    dst = require(d, "dst", where, str)
    known = {"src", "dst", "comm_ms", "bytes"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise FormatError(f"edge {src!r} -> {dst!r}: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
    return Edge(src, dst, d.get("comm_ms"), d.get("bytes"))


def longest_paths(
    graph: OpGraph,
    op_weight: Sequence[Any],
    edge_weight: Sequence[Any] | None = None,
    *,
    direction: str = "head",
) -> list[Any]:
    """Longest weighted path lengths, one per op.

    Parameters
    ----------
    graph : OpGraph
    op_weight : sequence
        Weight of each op (by op index).
    edge_weight : sequence, optional
        Weight of each edge (by edge index), added between two ops; none by default.
    direction : {"head", "tail"}
        ``"head"``: the longest path from a source *to* each op, the op's own
        weight excluded (its earliest start if every op had its own GPU and
        edges cost ``edge_weight``). ``"tail"``: the longest path from each
        op to a sink, the op's own weight included.

    Returns
    -------
    list
        By op index, in the weights' type (0 where no path adds anything).

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.diamond()                      # a(1) -> b(2), c(3) -> d(1)
    >>> longest_paths(g, g.latency), longest_paths(g, g.latency, direction="tail")
    ([0.0, 1.0, 1.0, 4.0], [5.0, 3.0, 4.0, 1.0])
    >>> longest_paths(g, g.latency, [0.5] * g.n_edges, direction="tail")[0]   # a + 0.5 + c + 0.5 + d
    6.0
    """
    n = graph.n_ops
    zero = op_weight[0] * 0 if n else 0  # 0 or 0.0, as the weights
    level: list[Any] = [zero] * n
    edge_src, edge_dst = graph.edge_src, graph.edge_dst
    if direction == "head":
        in_edges = graph.in_edges
        for v in graph.topo:
            best: Any = zero
            for e in in_edges[v]:
                u = edge_src[e]
                t = level[u] + op_weight[u]
                if edge_weight is not None:
                    t += edge_weight[e]
                if t > best:
                    best = t
            level[v] = best
        return level
    if direction != "tail":
        raise ValueError(f"direction must be 'head' or 'tail', got {direction!r}")
    out_edges = graph.out_edges
    for u in reversed(graph.topo):
        best = zero
        for e in out_edges[u]:
            t = level[edge_dst[e]]
            if edge_weight is not None:
                t += edge_weight[e]
            if t > best:
                best = t
        level[u] = op_weight[u] + best
    return level


@dataclass(frozen=True, eq=False)
class _Topology:
    pred: tuple[tuple[int, ...], ...]
    succ: tuple[tuple[int, ...], ...]
    in_edges: tuple[tuple[int, ...], ...]
    out_edges: tuple[tuple[int, ...], ...]
    topo: tuple[int, ...]
    position: tuple[int, ...] = field(default=())


class OpGraph:
    """A validated DAG of operators.

    Parameters
    ----------
    ops : iterable of Op, dict or (id, latency_ms[, utilization]) tuples
    edges : iterable of Edge, dict or (src, dst[, comm_ms[, bytes]]) tuples
    name : str
        Name of the graph (schedules refer to it).
    meta : dict, optional
        Free-form provenance (source, device, batch size ...); JSON values only.
    stage_latency_ms : mapping, optional
        Measured latencies of concurrent groups: ``{frozenset({"b", "c"}): 2.1}``.
        Keys have at least two op ids.

    Raises
    ------
    DuplicateOpError, UnknownOpError, SelfLoopError, CycleError,
    InvalidCostError, EmptyGraphError, GraphError

    Examples
    --------
    >>> g = OpGraph([Op("a", 1.0), Op("b", 2.0), Op("c", 3.0)],
    ...             [Edge("a", "b"), Edge("a", "c", comm_ms=0.5)], name="vee")
    >>> g.n_ops, g.n_edges, g.topological_order()
    (3, 2, ['a', 'b', 'c'])
    >>> g.successors("a")
    ['b', 'c']
    """

    def __init__(
        self,
        ops: Iterable[Op | Mapping[str, Any] | tuple],
        edges: Iterable[Edge | Mapping[str, Any] | tuple] = (),
        *,
        name: str = "graph",
        meta: Mapping[str, Any] | None = None,
        stage_latency_ms: Mapping[Any, float] | Iterable[Mapping[str, Any]] | None = None,
    ) -> None:
        if not isinstance(name, str):
            raise GraphError(f"graph name must be a string, got {name!r:.40}")
        self.name = name
        self.meta: dict[str, Any] = dict(meta or {})
        op_list = [_as_op(item, i) for i, item in enumerate(ops)]
        if not op_list:
            raise EmptyGraphError(f"graph {name!r} has no operator")
        index: dict[str, int] = {}
        for i, op in enumerate(op_list):
            if op.id in index:
                raise DuplicateOpError(f"duplicate op id {shorten(op.id, _ID_CHARS)} (ops #{index[op.id]} and #{i})")
            index[op.id] = i
        self._ops = tuple(op_list)
        self._index = index
        edge_list = [_as_edge(item, i) for i, item in enumerate(edges)]
        seen: set[tuple[int, int]] = set()
        src_idx: list[int] = []
        dst_idx: list[int] = []
        for edge in edge_list:
            for end in (edge.src, edge.dst):
                if end not in index:
                    raise UnknownOpError(f"edge {shorten(edge.src, _ID_CHARS)} -> {shorten(edge.dst, _ID_CHARS)}: "
                                         f"unknown op {shorten(end, _ID_CHARS)}")
            if edge.src == edge.dst:
                raise SelfLoopError(f"edge {edge.src!r} -> {edge.dst!r} is a self-loop")
            key = (index[edge.src], index[edge.dst])
            if key in seen:
                raise GraphError(f"duplicate edge {edge.src!r} -> {edge.dst!r}")
            seen.add(key)
            src_idx.append(key[0])
            dst_idx.append(key[1])
        self._edges = tuple(edge_list)
        #: producer / consumer op index of each edge
        self.edge_src: tuple[int, ...] = tuple(src_idx)
        self.edge_dst: tuple[int, ...] = tuple(dst_idx)
        #: solo latency of each op (ms), by op index
        self.latency: tuple[float, ...] = tuple(op.latency_ms for op in op_list)
        #: utilization of each op, by op index
        self.utilization: tuple[float, ...] = tuple(op.utilization for op in op_list)
        self._topology = self._build_topology()
        self.stage_table: dict[frozenset[int], float] = self._parse_stage_table(stage_latency_ms)
        self._check_totals()

    # ------------------------------------------------------------------ build
    def _build_topology(self) -> _Topology:
        n = len(self._ops)
        pred: list[list[int]] = [[] for _ in range(n)]
        succ: list[list[int]] = [[] for _ in range(n)]
        in_edges: list[list[int]] = [[] for _ in range(n)]
        out_edges: list[list[int]] = [[] for _ in range(n)]
        for e, (u, v) in enumerate(zip(self.edge_src, self.edge_dst)):
            succ[u].append(v)
            pred[v].append(u)
            out_edges[u].append(e)
            in_edges[v].append(e)
        indegree = [len(p) for p in pred]
        # Kahn's algorithm with a heap keeps the order deterministic: among
        # ready ops the one given first comes first.
        ready = [i for i in range(n) if indegree[i] == 0]
        heapify(ready)
        order: list[int] = []
        while ready:
            u = heappop(ready)
            order.append(u)
            for v in succ[u]:
                indegree[v] -= 1
                if indegree[v] == 0:
                    heappush(ready, v)
        if len(order) < n:
            raise CycleError(f"graph {self.name!r} has a cycle: {' -> '.join(self._find_cycle(succ, indegree))}")
        position = [0] * n
        for k, u in enumerate(order):
            position[u] = k
        return _Topology(
            tuple(map(tuple, pred)), tuple(map(tuple, succ)), tuple(map(tuple, in_edges)),
            tuple(map(tuple, out_edges)), tuple(order), tuple(position),
        )

    def _check_totals(self) -> None:
        # Each cost is finite, but a makespan adds many of them: when their sum
        # overflows to infinity, no schedule of this graph has a finite makespan.
        ids = self.ids
        comm = {f"edge {e.src!r} -> {e.dst!r}": e.comm_ms for e in self._edges if e.comm_ms is not None}
        stage = {"stage_latency_ms entry {" + ", ".join(ids[i] for i in sorted(k)) + "}": v
                 for k, v in self.stage_table.items()}
        for label, values in (("latency_ms", {f"op {i!r}": t for i, t in zip(ids, self.latency)}),
                              ("comm_ms", comm), ("stage_latency_ms", stage)):
            if not math.isfinite(sum(values.values())):
                culprit = max(values, key=values.__getitem__)
                raise InvalidCostError(
                    f"graph {self.name!r}: the sum of all {label} overflows a float; the largest is "
                    f"{culprit} ({values[culprit]:.6g} ms); costs must be far below 1e308 ms"
                )

    def _find_cycle(self, succ: list[list[int]], indegree: list[int]) -> list[str]:
        # Every op left with indegree > 0 lies on or behind a cycle; walking
        # backwards along remaining predecessors must revisit an op.
        remaining = {i for i, d in enumerate(indegree) if d > 0}
        pred_left: dict[int, int] = {}
        for u in remaining:
            for v in succ[u]:
                if v in remaining:
                    pred_left.setdefault(v, u)
        start = next(iter(sorted(remaining)))
        seen: dict[int, int] = {}
        walk: list[int] = []
        node = start
        while node not in seen:
            seen[node] = len(walk)
            walk.append(node)
            node = pred_left[node]
        cycle = walk[seen[node]:][::-1]
        first = cycle.index(min(cycle))  # start at the op given first, for stable messages
        cycle = cycle[first:] + cycle[:first]
        cycle.append(cycle[0])
        return [self._ops[i].id for i in cycle]

    def _parse_stage_table(self, table: Any) -> dict[frozenset[int], float]:
        if not table:
            return {}
        items: list[tuple[Any, Any]]
        if isinstance(table, Mapping):
            items = list(table.items())
        else:
            items = []
            for k, entry in enumerate(table):
                where = f"stage_latency_ms entry #{k}"
                items.append((require(entry, "ops", where, list), require(entry, "latency_ms", where)))
                unknown = sorted(set(entry) - {"ops", "latency_ms"})
                if unknown:
                    raise FormatError(f"{where}: unknown field {unknown[0]!r} (known: latency_ms, ops)")
        out: dict[frozenset[int], float] = {}
        for ops, latency in items:
            if isinstance(ops, str) or not isinstance(ops, Iterable):
                raise GraphError(f"stage_latency_ms: key {ops!r:.40} must be a set of op ids")
            ids = list(ops)
            label = "{" + ", ".join(map(str, ids)) + "}"
            for op_id in ids:
                if not isinstance(op_id, str) or op_id not in self._index:
                    raise UnknownOpError(f"stage_latency_ms entry {label}: unknown op {op_id!r:.40}")
            key = frozenset(self._index[i] for i in ids)
            if len(key) < 2:
                raise GraphError(
                    f"stage_latency_ms entry {label}: a measured group needs at least two distinct ops "
                    "(a single op's latency is its latency_ms)"
                )
            if key in out:
                raise GraphError(f"stage_latency_ms entry {label} appears twice")
            out[key] = finite(latency, f"stage_latency_ms entry {label}")
        return out

    # --------------------------------------------------------------- accessors
    @property
    def ops(self) -> tuple[Op, ...]:
        """The operators, in index order."""
        return self._ops

    @property
    def edges(self) -> tuple[Edge, ...]:
        """The edges, in the order given."""
        return self._edges

    @cached_property
    def ids(self) -> tuple[str, ...]:
        """Op ids in index order (built once: ``graph.ids[v]`` in a loop is O(1))."""
        return tuple(op.id for op in self._ops)

    @property
    def n_ops(self) -> int:
        return len(self._ops)

    @property
    def n_edges(self) -> int:
        return len(self._edges)

    def __len__(self) -> int:
        return len(self._ops)

    def __contains__(self, op_id: object) -> bool:
        return op_id in self._index

    def __repr__(self) -> str:
        return f"OpGraph(name={self.name!r}, ops={self.n_ops}, edges={self.n_edges})"

    def index(self, op_id: str) -> int:
        """Integer index of ``op_id``; raises :class:`UnknownOpError`."""
        try:
            return self._index[op_id]
        except (KeyError, TypeError):
            raise UnknownOpError(f"unknown op {op_id!r} in graph {self.name!r}") from None

    @property
    def id_index(self) -> Mapping[str, int]:
        """Read-only mapping op id -> index."""
        return self._index

    def op(self, op_id: str) -> Op:
        return self._ops[self.index(op_id)]

    @property
    def pred(self) -> tuple[tuple[int, ...], ...]:
        """Predecessor indices of each op."""
        return self._topology.pred

    @property
    def succ(self) -> tuple[tuple[int, ...], ...]:
        """Successor indices of each op."""
        return self._topology.succ

    @property
    def in_edges(self) -> tuple[tuple[int, ...], ...]:
        """Incoming edge indices of each op."""
        return self._topology.in_edges

    @property
    def out_edges(self) -> tuple[tuple[int, ...], ...]:
        """Outgoing edge indices of each op."""
        return self._topology.out_edges

    @property
    def topo(self) -> tuple[int, ...]:
        """A topological order of op indices (deterministic)."""
        return self._topology.topo

    @property
    def topo_position(self) -> tuple[int, ...]:
        """Position of each op index in :attr:`topo`."""
        return self._topology.position

    def predecessors(self, op_id: str) -> list[str]:
        return [self._ops[i].id for i in self.pred[self.index(op_id)]]

    def successors(self, op_id: str) -> list[str]:
        return [self._ops[i].id for i in self.succ[self.index(op_id)]]

    def topological_order(self) -> list[str]:
        return [self._ops[i].id for i in self.topo]

    def sources(self) -> list[str]:
        return [op.id for i, op in enumerate(self._ops) if not self.pred[i]]

    def sinks(self) -> list[str]:
        return [op.id for i, op in enumerate(self._ops) if not self.succ[i]]

    @cached_property
    def edge_bytes(self) -> tuple[int, ...]:
        """Bytes each edge moves: its ``bytes``, else its producer's ``output_bytes``."""
        ops = self._ops
        return tuple(e.bytes if e.bytes is not None else ops[self.edge_src[k]].output_bytes
                     for k, e in enumerate(self._edges))

    @property
    def total_latency_ms(self) -> float:
        """Sum of solo latencies: the sequential makespan on one stream."""
        return math.fsum(self.latency)

    # ------------------------------------------------------- graph quantities
    @cached_property
    def descendants_bits(self) -> tuple[int, ...]:
        """Reachability as bitsets: bit ``j`` of entry ``i`` is set when there
        is a path of length >= 1 from op ``i`` to op ``j``.

        They take ``n^2 / 8`` bytes (13 MiB at 10,000 ops): the queries below
        (:meth:`reaches`, :meth:`depends`, :meth:`independent`) use them only
        up to :data:`REACH_BITS_MAX_OPS` ops (or when they are already
        computed) and a linear-memory :class:`~hios_opt.reach.ReachIndex`
        above, so the evaluator and the heuristics never build them on a large
        graph."""
        n = self.n_ops
        bits = [0] * n
        succ = self.succ
        for u in reversed(self.topo):
            b = 0
            for v in succ[u]:
                b |= bits[v] | (1 << v)
            bits[u] = b
        return tuple(bits)

    @cached_property
    def ancestors_bits(self) -> tuple[int, ...]:
        """Bit ``j`` of entry ``i`` is set when there is a path from ``j`` to ``i``
        (``n^2 / 8`` bytes, like :attr:`descendants_bits`)."""
        n = self.n_ops
        bits = [0] * n
        pred = self.pred
        for v in self.topo:
            b = 0
            for u in pred[v]:
                b |= bits[u] | (1 << u)
            bits[v] = b
        return tuple(bits)

    @cached_property
    def reach_index(self) -> ReachIndex:
        """The linear-memory reachability labels (a few integers per op) that
        answer :meth:`reaches` on graphs above :data:`REACH_BITS_MAX_OPS` ops."""
        return ReachIndex(self.succ, self.topo, self.topo_position)

    def _reach_bits(self) -> tuple[int, ...] | None:
        # The bitsets when they exist or are small enough to build; None above
        # the threshold (read at call time, so tests can lower it).
        bits = self.__dict__.get("descendants_bits")
        if bits is None and self.n_ops <= REACH_BITS_MAX_OPS:
            bits = self.descendants_bits
        return bits

    def reaches(self, u: int, v: int) -> bool:
        """True when there is a path of length >= 1 from op index ``u`` to ``v``.

        Exact for any size, in linear memory (see :attr:`descendants_bits`).

        Examples
        --------
        >>> from hios_opt import generators
        >>> g = generators.diamond()            # a -> {b, c} -> d
        >>> g.reaches(0, 3), g.reaches(3, 0), g.reaches(1, 2)
        (True, False, False)
        """
        bits = self._reach_bits()
        if bits is not None:
            return bool((bits[u] >> v) & 1)
        return self.reach_index.reaches(u, v)

    def depends(self, a: int, b: int) -> bool:
        """True when op indices ``a`` and ``b`` are connected by a path."""
        bits = self._reach_bits()
        if bits is not None:
            return bool((bits[a] >> b) & 1 or (bits[b] >> a) & 1)
        index = self.reach_index
        return index.reaches(a, b) or index.reaches(b, a)

    def related_to_any(self, v: int, op_indices: Iterable[int]) -> bool:
        """True when a path (either way) joins op index ``v`` and one of the
        given op indices."""
        bits = self._reach_bits()
        if bits is not None:
            mask = 0
            others = list(op_indices)
            for u in others:
                mask |= 1 << u
            return bool(bits[v] & mask) or any((bits[u] >> v) & 1 for u in others)
        index = self.reach_index
        return any(index.reaches(v, u) or index.reaches(u, v) for u in op_indices)

    def independent(self, op_indices: Iterable[int]) -> bool:
        """True when no two of the given op indices are connected by a path."""
        members = list(op_indices)
        bits = self._reach_bits()
        if bits is not None:
            mask = 0
            for i in members:
                mask |= 1 << i
            return all(not (bits[i] & mask) for i in members)
        if len(members) <= _PAIRWISE_MAX:
            return self.dependent_pair(members) is None
        return not self._path_among(members)

    def dependent_pair(self, op_indices: Iterable[int]) -> tuple[int, int] | None:
        """The first pair ``(a, b)`` of the given op indices, in nested-loop
        order (``a`` outer, both in the order given), with a path ``a -> b``;
        ``None`` when no path joins two of them."""
        members = list(op_indices)
        bits = self._reach_bits()
        if bits is not None:
            return next(((a, b) for a in members for b in members if (bits[a] >> b) & 1), None)
        index = self.reach_index
        return next(((a, b) for a in members for b in members if index.reaches(a, b)), None)

    def _path_among(self, members: list[int]) -> bool:
        # One forward search from all members at once, for large sets: a
        # member is entered exactly when another member (or itself, impossible
        # in a DAG) reaches it. Ops past the last member's topological
        # position cannot lead back to a member.
        inside = set(members)
        position, succ = self.topo_position, self.succ
        horizon = max(position[v] for v in members)
        seen: set[int] = set()
        stack = list(inside)
        while stack:
            w = stack.pop()
            for x in succ[w]:
                if x in inside:
                    return True
                if x not in seen and position[x] < horizon:
                    seen.add(x)
                    stack.append(x)
        return False

    def top_level(self, comm: Sequence[float] | None = None) -> tuple[float, ...]:
        """Earliest start of each op if every op had its own GPU: the longest
        path (latencies, plus ``comm[e]`` on each edge when given) from a source
        to the op, excluding the op itself."""
        return tuple(longest_paths(self, self.latency, comm, direction="head"))

    def bottom_level(self, comm: Sequence[float] | None = None) -> tuple[float, ...]:
        """Longest path from each op to a sink, including the op's latency
        (and ``comm[e]`` on each edge when given)."""
        return tuple(longest_paths(self, self.latency, comm, direction="tail"))

    def critical_path_ms(self, comm: Sequence[float] | None = None) -> float:
        """Length of the longest path (without communication by default)."""
        return max(self.bottom_level(comm))

    def longest_path(self, comm: Sequence[float] | None = None) -> list[str]:
        """Op ids of one longest path (ties broken by op index)."""
        bottom = self.bottom_level(comm)
        start = max(range(self.n_ops), key=lambda i: (bottom[i], -i))
        path = [start]
        while self.out_edges[path[-1]]:
            u = path[-1]
            want = bottom[u] - self.latency[u]
            for e in self.out_edges[u]:
                v = self.edge_dst[e]
                if math.isclose(bottom[v] + (comm[e] if comm is not None else 0.0), want, rel_tol=1e-12, abs_tol=1e-12):
                    path.append(v)
                    break
            else:  # pragma: no cover - bottom levels are consistent by construction
                break
        return [self._ops[i].id for i in path]

    # ---------------------------------------------------------------- derived
    def with_costs(
        self,
        latency_ms: Mapping[str, float] | None = None,
        *,
        utilization: Mapping[str, float] | None = None,
        comm_ms: Mapping[tuple[str, str], float] | None = None,
        stage_latency_ms: Mapping[Any, float] | None = None,
        meta: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> OpGraph:
        """A copy with some costs replaced (ops not named keep theirs)."""
        latency_ms = latency_ms or {}
        utilization = utilization or {}
        for op_id in list(latency_ms) + list(utilization):
            self.index(op_id)
        ops = [
            Op(op.id, latency_ms.get(op.id, op.latency_ms), utilization.get(op.id, op.utilization),
               op.output_bytes, op.kind, op.flops, op.shape)
            for op in self._ops
        ]
        edges = list(self._edges)
        if comm_ms:
            pos = {(e.src, e.dst): k for k, e in enumerate(edges)}
            for key, value in comm_ms.items():
                if key not in pos:
                    raise UnknownOpError(f"with_costs: no edge {key[0]!r} -> {key[1]!r}")
                old = edges[pos[key]]
                edges[pos[key]] = Edge(old.src, old.dst, value, old.bytes)
        table = (
            stage_latency_ms if stage_latency_ms is not None
            else {frozenset(self._ops[i].id for i in k): v for k, v in self.stage_table.items()}
        )
        return OpGraph(ops, edges, name=name or self.name, meta=dict(meta) if meta is not None else self.meta,
                       stage_latency_ms=table)

    # -------------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        """The graph JSON object of docs/design.md section 5."""
        ops = []
        for op in self._ops:
            d: dict[str, Any] = {"id": op.id, "latency_ms": op.latency_ms, "utilization": op.utilization,
                                 "output_bytes": op.output_bytes}
            if op.kind is not None:
                d["kind"] = op.kind
            if op.flops is not None:
                d["flops"] = op.flops
            if op.shape is not None:
                d["shape"] = list(op.shape)
            ops.append(d)
        edges = []
        for edge in self._edges:
            d = {"src": edge.src, "dst": edge.dst}
            if edge.comm_ms is not None:
                d["comm_ms"] = edge.comm_ms
            if edge.bytes is not None:
                d["bytes"] = edge.bytes
            edges.append(d)
        out: dict[str, Any] = {
            "format": GRAPH_FORMAT, "version": GRAPH_VERSION, "name": self.name, "meta": self.meta,
            "ops": ops, "edges": edges,
        }
        if self.stage_table:
            out["stage_latency_ms"] = [
                {"ops": [self._ops[i].id for i in sorted(k)], "latency_ms": v}
                for k, v in sorted(self.stage_table.items(), key=lambda kv: sorted(kv[0]))
            ]
        return out

    @classmethod
    def from_dict(cls, data: Any, source: str = "graph") -> OpGraph:
        """Build a graph from its JSON object, validating everything."""
        check_header(data, GRAPH_FORMAT, GRAPH_VERSION, source)
        known = {"format", "version", "name", "meta", "ops", "edges", "stage_latency_ms"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FormatError(f"{source}: unknown field {unknown[0]!r}")
        ops = require(data, "ops", source, list)
        edges = data.get("edges", [])
        if not isinstance(edges, list):
            raise FormatError(f"{source}: field 'edges' must be a list")
        meta = data.get("meta", {})
        if not isinstance(meta, dict):
            raise FormatError(f"{source}: field 'meta' must be an object")
        check_finite_tree(meta, f"{source}: field 'meta'")
        name = data.get("name", "graph")
        if not isinstance(name, str):
            raise FormatError(f"{source}: field 'name' must be a string")
        table = data.get("stage_latency_ms")
        if table is not None and not isinstance(table, list):
            raise FormatError(f"{source}: field 'stage_latency_ms' must be a list")
        for k, op in enumerate(ops):
            if not isinstance(op, dict):
                raise FormatError(f"{source}: op #{k} must be an object")
        for k, edge in enumerate(edges):
            if not isinstance(edge, dict):
                raise FormatError(f"{source}: edge #{k} must be an object")
        return cls(ops, edges, name=name, meta=meta, stage_latency_ms=table)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> OpGraph:
        """Read a graph JSON file (see docs/design.md section 5); a name
        relative to the bundled data folder, such as
        ``"models/inception_v3_299_h100.json"``, reads that bundled graph
        (:mod:`hios_opt.data`) unless a file of that name exists."""
        path = resolve(path)
        return cls.from_dict(read_json(path), str(path))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the graph JSON file atomically."""
        write_json_atomic(path, self.to_dict())

    def to_networkx(self) -> Any:
        """A ``networkx.DiGraph`` with op fields as node attributes."""
        import networkx as nx

        g: nx.DiGraph[str] = nx.DiGraph(name=self.name, meta=dict(self.meta))
        for op in self._ops:
            g.add_node(op.id, latency_ms=op.latency_ms, utilization=op.utilization, output_bytes=op.output_bytes,
                       kind=op.kind, flops=op.flops, shape=op.shape)
        for edge in self._edges:
            g.add_edge(edge.src, edge.dst, comm_ms=edge.comm_ms, bytes=edge.bytes)
        return g

    @classmethod
    def from_networkx(cls, g: Any, *, name: str | None = None) -> OpGraph:
        """Build from a ``networkx.DiGraph`` whose nodes carry ``latency_ms``
        (and optionally the other :class:`Op` fields) and whose edges may carry
        ``comm_ms`` / ``bytes``."""
        ops = []
        for node, attrs in g.nodes(data=True):
            if "latency_ms" not in attrs:
                raise GraphError(f"node {node!r} has no 'latency_ms' attribute")
            ops.append(Op(str(node), attrs["latency_ms"], attrs.get("utilization", 1.0), attrs.get("output_bytes", 0),
                          attrs.get("kind"), attrs.get("flops"), attrs.get("shape")))
        edges = [Edge(str(u), str(v), a.get("comm_ms"), a.get("bytes")) for u, v, a in g.edges(data=True)]
        return cls(ops, edges, name=name or g.graph.get("name") or "graph", meta=g.graph.get("meta"))
