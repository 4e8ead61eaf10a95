"""Edge delays: how long an edge's tensor takes from one GPU to another.

The one place where a platform's link model meets a graph's edges. An edge
with its own ``comm_ms`` keeps that value between every pair of distinct
GPUs; otherwise it moves ``bytes`` (or its producer's ``output_bytes``)
over the pair's :class:`~hios_opt.platform.Link`. On one GPU the delay is 0.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import PlatformError

if TYPE_CHECKING:
    from ..graph import OpGraph
    from ..platform import Platform

__all__ = ["EdgeDelays", "edge_delays"]


class EdgeDelays:
    """Cross-GPU delay of every edge of one graph on one platform (ms, or
    any unit after :meth:`mapped`).

    Attributes
    ----------
    uniform : bool
        True when no edge's delay depends on the pair of GPUs (a uniform
        link, or every edge with its own ``comm_ms``): the GPUs are then
        interchangeable.
    cross : tuple of float
        Per edge, its delay between two distinct GPUs when ``uniform``;
        with a link matrix, the slowest pair's (an upper value, used by
        heuristics' priorities).
    gpus : int
        The number of GPUs the delays are defined for.

    Examples
    --------
    >>> from hios_opt import Platform, generators
    >>> d = edge_delays(generators.diamond(comm_ms=0.5), Platform(gpus=2))
    >>> d.uniform, d.cross, d.between(0, 0, 1), d.between(0, 1, 1)
    (True, (0.5, 0.5, 0.5, 0.5), 0.5, 0.0)
    """

    __slots__ = ("uniform", "gpus", "n_edges", "_cross", "_make_cross", "_pair", "__weakref__")

    def __init__(self, cross: Sequence[float] | Callable[[], Sequence[float]], gpus: int,
                 pair: Callable[[int, int, int], float] | None, n_edges: int | None = None) -> None:
        # With a link matrix, ``cross`` (a priority value) is made on first use:
        # timing a schedule needs only the pairs it uses.
        self._cross: tuple[float, ...] | None = None if callable(cross) else tuple(cross)
        self._make_cross = cross if callable(cross) else None
        self.gpus = gpus
        self.uniform = pair is None
        self._pair = pair
        if self._cross is None:
            assert n_edges is not None, "a cross made on first use needs n_edges"
            self.n_edges = n_edges
        else:
            self.n_edges = len(self._cross)

    @property
    def cross(self) -> tuple[float, ...]:
        if self._cross is None:
            assert self._make_cross is not None
            self._cross = tuple(self._make_cross())
        return self._cross

    def between(self, e: int, a: int, b: int) -> float:
        """Delay of edge ``e`` when its producer runs on GPU ``a`` and its
        consumer on GPU ``b`` (0 when ``a == b``)."""
        if a == b:
            return 0.0
        if self._pair is None:
            return self.cross[e]
        return self._pair(e, a, b)

    def lowest(self, e: int) -> float:
        """The least delay of edge ``e`` over pairs of distinct GPUs (0 with one GPU)."""
        if self._pair is None:
            return self.cross[e] if self.gpus > 1 else self.cross[e] * 0
        k = self.gpus
        return min((self._pair(e, a, b) for a in range(k) for b in range(k) if a != b), default=self._pair(e, 0, 0))

    def matrix(self, e: int, gpus: int | None = None) -> tuple[tuple[float, ...], ...]:
        """``gpus x gpus`` table of edge ``e``'s delays (default: all GPUs)."""
        k = self.gpus if gpus is None else gpus
        return tuple(tuple(self.between(e, a, b) for b in range(k)) for a in range(k))

    def mapped(self, f: Callable[[float], Any]) -> EdgeDelays:
        """The same delays with ``f`` applied to each (e.g. onto a solver's
        integer time grid); a link matrix is tabulated for every pair."""
        if self._pair is None:
            return EdgeDelays([f(x) for x in self.cross], self.gpus, None)
        k = self.gpus
        table = [[[f(self._pair(e, a, b)) if a != b else f(0.0) for b in range(k)] for a in range(k)]
                 for e in range(self.n_edges)]
        return EdgeDelays(lambda: [f(x) for x in self.cross], k, lambda e, a, b: table[e][a][b], self.n_edges)

    def values(self) -> list[float]:
        """Every delay between distinct GPUs (per edge; per pair with a matrix)."""
        if self._pair is None:
            return list(self.cross)
        k = self.gpus
        return [self._pair(e, a, b) for e in range(self.n_edges) for a in range(k) for b in range(k) if a != b]

    def ready_times(self, in_edges: Sequence[int], edge_src: Sequence[int], finish: Sequence[float],
                    gpu_of: Sequence[int]) -> list[float]:
        """:meth:`ready_time` on every GPU at once (a list by GPU), in
        ``O(inputs + gpus)`` with uniform delays: an input counts with its
        delay everywhere but on its own GPU, so each GPU needs only the best
        delayed input of another GPU and the latest input of its own."""
        k_gpus = self.gpus
        pair = self._pair
        if pair is not None:
            return [self.ready_time(in_edges, edge_src, finish, gpu_of, k) for k in range(k_gpus)]
        cross = self.cross
        best, best_gpu, second = 0.0, -1, 0.0  # the two latest delayed inputs from two distinct GPUs
        local: dict[int, float] = {}
        for e in in_edges:
            u = edge_src[e]
            g = gpu_of[u]
            if g < 0:
                continue
            f = finish[u]
            if f > local.get(g, 0.0):
                local[g] = f
            r = f + cross[e]
            if g == best_gpu:
                if r > best:
                    best = r
            elif r > best:
                best, best_gpu, second = r, g, best
            elif r > second:
                second = r
        ready = [best] * k_gpus
        if best_gpu >= 0:
            ready[best_gpu] = second
        for g, f in local.items():
            if f > ready[g]:
                ready[g] = f
        return ready

    def ready_time(self, in_edges: Sequence[int], edge_src: Sequence[int], finish: Sequence[float],
                   gpu_of: Sequence[int], k: int) -> float:
        """When every input of an op (its ``in_edges``) is on GPU ``k``: the
        latest producer finish plus its delay to ``k``; producers with no GPU
        yet (``gpu_of[u] < 0``) impose nothing; 0.0 without inputs.

        This is the start rule's "inputs ready" term, for heuristics that
        place one op at a time.
        """
        ready = 0.0
        pair = self._pair
        for e in in_edges:
            u = edge_src[e]
            g = gpu_of[u]
            if g < 0:
                continue
            r = finish[u]
            if g != k:
                r += self.cross[e] if pair is None else pair(e, g, k)
            if r > ready:
                ready = r
        return ready


_CACHE: weakref.WeakKeyDictionary[Any, dict[Any, EdgeDelays]] = weakref.WeakKeyDictionary()


def edge_delays(graph: OpGraph, platform: Platform) -> EdgeDelays:
    """The :class:`EdgeDelays` of ``graph`` on ``platform``, computed once
    per graph and link (graphs are immutable, platforms hashable; the cache
    holds no reference to the graph).

    Raises
    ------
    PlatformError
        An edge's transfer time overflows a float (a bandwidth far too
        small); the message names the edge.
    """
    per_graph = _CACHE.get(graph)
    if per_graph is None:
        per_graph = _CACHE[graph] = {}
    # every field but the streams (which no delay depends on), without building a Platform
    key = (platform.gpus, platform.bandwidth_gbps, platform.latency_us, platform.bandwidth_matrix_gbps,
           platform.latency_matrix_us)
    delays = per_graph.get(key)
    if delays is None:
        delays = per_graph[key] = _build(graph, platform)
    return delays


def _build(graph: OpGraph, platform: Platform) -> EdgeDelays:
    nbytes = graph.edge_bytes
    edges = graph.edges
    k = platform.gpus
    if platform.uniform:
        link = platform.link(0, 1)
        per_byte, fixed = 1.0 / (link.bandwidth_gbps * 1e6), link.latency_us / 1e3
        slowest = link.bandwidth_gbps
    else:
        # The slowest pair: an upper value of every edge's delay.
        worst = max((platform.transfer_ms(1, a, b) for a in range(k) for b in range(k) if a != b), default=0.0)
        fixed = max((platform.transfer_ms(0, a, b) for a in range(k) for b in range(k) if a != b), default=0.0)
        per_byte = worst - fixed
        slowest = min(min(row) for row in platform.bandwidth_matrix_gbps or ((platform.bandwidth_gbps,),))

    def cross() -> list[float]:
        values = [e.comm_ms if e.comm_ms is not None else nbytes[i] * per_byte + fixed for i, e in enumerate(edges)]
        for i, c in enumerate(values):
            if not math.isfinite(c):
                e = edges[i]
                raise PlatformError(
                    f"edge {e.src!r} -> {e.dst!r}: moving {nbytes[i]} bytes takes {c} ms on this link "
                    f"(bandwidth {slowest:g} GB/s); the bandwidth is too small"
                )
        return values

    if platform.uniform or all(e.comm_ms is not None for e in edges):
        return EdgeDelays(cross(), k, None)
    fixed_comm = [e.comm_ms for e in edges]
    transfer = platform.transfer_ms

    def pair(e: int, a: int, b: int) -> float:
        c = fixed_comm[e]
        return c if c is not None else transfer(nbytes[e], a, b)

    return EdgeDelays(cross, k, pair, graph.n_edges)
