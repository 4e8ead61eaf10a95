"""What the classic list schedulers share: GPU timelines, the ready list and
the greedy choice of an (op, GPU) pair.

A list scheduler places one op at a time on one of ``K`` GPUs that run one op
at a time (``P | prec, c_ij | Cmax``); the intra-GPU pass may merge ops into
concurrent stages afterwards. :class:`GpuTimelines` holds each GPU's busy
intervals and the earliest start of an op on a GPU, appended or inserted into
the first idle gap long enough (:func:`earliest_gap`), with input ready times
from the timing kernel (:meth:`hios_opt.timing.EdgeDelays.ready_times`);
:class:`ReadyList` knows which ops have every producer placed; and
:func:`greedy_pairs` is the loop of ETF, DLS, MinMin, MaxMin and Sufferage:
take the ready op of the smallest key and put it on the GPU where it starts
first.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from heapq import heappop, heappush

from ..graph import OpGraph
from ..platform import Platform
from ..timing import edge_delays

__all__ = ["TOL", "earlier", "earliest_gap", "GpuTimelines", "ReadyList", "greedy_pairs", "first_gpu"]

#: Relative tolerance of "strictly earlier" between two times.
TOL = 1e-9


def earlier(a: float, b: float) -> bool:
    """``a`` is earlier than ``b`` by more than float noise.

    >>> earlier(1.0, 2.0), earlier(1.0, 1.0 + 1e-12)
    (True, False)
    """
    return a < b - TOL * max(1.0, abs(b))


def earliest_gap(starts: list[float], ends: list[float], ready: float, duration: float) -> tuple[float, int]:
    """Earliest start ``t >= ready`` of a ``duration``-long op between the busy
    intervals ``[starts[i], ends[i]]`` (sorted, disjoint), and the index where
    it goes, so that the list stays in time order.

    >>> earliest_gap([0.0, 3.0], [1.0, 4.0], 0.5, 1.5)    # fits in the gap 1..3
    (1.0, 1)
    >>> earliest_gap([0.0, 3.0], [1.0, 4.0], 0.5, 2.5)    # too long: after the last op
    (4.0, 2)
    """
    i = bisect_right(ends, ready)  # intervals over by ``ready`` leave no gap after it
    t = ready
    while i < len(starts):
        if t + duration <= starts[i]:
            return t, i
        if ends[i] > t:
            t = ends[i]
        i += 1
    return t, i


def first_gpu(times: list[float]) -> int:
    """Index of the smallest time, the lowest index among those within float
    noise of it.

    >>> first_gpu([3.0, 1.0, 1.0 + 1e-13, 0.5 + 1.0])
    1
    """
    best = 0
    for k in range(1, len(times)):
        if earlier(times[k], times[best]):
            best = k
    return best


class GpuTimelines:
    """The GPUs of a list schedule under construction, one op at a time each.

    Attributes
    ----------
    finish, gpu_of : list
        Per op index: its finish time and GPU (``-1`` while unplaced).
    free : list of float
        Per GPU: when its last op ends (0.0 while empty).
    order : list of int
        The ops in the order they were placed.

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.diamond(comm_ms=0.5)            # a(1) -> b(2), c(3) -> d(1)
    >>> tl = GpuTimelines(g, Platform(gpus=2))
    >>> tl.place(0, 0, 0.0)
    >>> tl.ready(1)                                    # b's input: on GPU 0 at 1, on GPU 1 at 1.5
    [1.0, 1.5]
    >>> tl.place(1, 1, 1.5); tl.start_on(2, 1, tl.ready(2)[1], insertion=False)
    (3.5, 1)
    """

    def __init__(self, graph: OpGraph, platform: Platform) -> None:
        self.graph = graph
        n_gpus = platform.gpus
        self.n_gpus = n_gpus
        self.starts: list[list[float]] = [[] for _ in range(n_gpus)]
        self.ends: list[list[float]] = [[] for _ in range(n_gpus)]
        self.slots: list[list[int]] = [[] for _ in range(n_gpus)]
        self.free = [0.0] * n_gpus
        self.finish = [0.0] * graph.n_ops
        self.gpu_of = [-1] * graph.n_ops
        self.order: list[int] = []
        self._ready_times = edge_delays(graph, platform).ready_times
        self._in_edges, self._edge_src = graph.in_edges, graph.edge_src

    def ready(self, v: int) -> list[float]:
        """When every input of op ``v`` is on each GPU (the timing kernel's
        ready times; producers not placed yet impose nothing)."""
        return self._ready_times(self._in_edges[v], self._edge_src, self.finish, self.gpu_of)

    def start_on(self, v: int, k: int, ready: float, insertion: bool) -> tuple[float, int]:
        """Earliest start of op ``v`` on GPU ``k`` once its inputs are there at
        ``ready``, and its position in the GPU's order: after the GPU's last
        op, or with ``insertion`` in the first idle gap that fits it."""
        if not insertion:
            free = self.free[k]
            return (free if free > ready else ready), len(self.slots[k])
        return earliest_gap(self.starts[k], self.ends[k], ready, self.graph.latency[v])

    def place(self, v: int, k: int, start: float, index: int | None = None) -> None:
        """Put op ``v`` on GPU ``k`` from ``start``, at ``index`` in the GPU's
        order (default: last)."""
        finish = start + self.graph.latency[v]
        if index is None or index == len(self.slots[k]):
            self.starts[k].append(start)
            self.ends[k].append(finish)
            self.slots[k].append(v)
            self.free[k] = finish
        else:
            self.starts[k].insert(index, start)
            self.ends[k].insert(index, finish)
            self.slots[k].insert(index, v)
        self.finish[v] = finish
        self.gpu_of[v] = k
        self.order.append(v)

    def earliest(self, v: int, insertion: bool, ready: list[float] | None = None) -> tuple[int, float, int]:
        """The GPU where op ``v`` starts first (the lowest index on a tie),
        its start there and its position in that GPU's order."""
        if ready is None:
            ready = self.ready(v)
        best = None
        for k in range(self.n_gpus):
            t, i = self.start_on(v, k, ready[k], insertion)
            if best is None or earlier(t, best[1]):
                best = (k, t, i)
        assert best is not None
        return best

    def per_gpu(self) -> list[list[list[int]]]:
        """Each GPU's ops in start order, one op per stage."""
        return [[[v] for v in slots] for slots in self.slots]

    @property
    def makespan(self) -> float:
        return max((ends[-1] for ends in self.ends if ends), default=0.0)


class ReadyList:
    """Counts the unplaced producers of each op; :meth:`done` returns the ops
    that an op's placement makes ready.

    >>> from hios_opt import generators
    >>> ready = ReadyList(generators.diamond())
    >>> ready.initial(), ready.done(0), ready.done(1), ready.done(2)
    ([0], [1, 2], [], [3])
    """

    def __init__(self, graph: OpGraph) -> None:
        self.graph = graph
        self.waiting = [len(edges) for edges in graph.in_edges]

    def initial(self) -> list[int]:
        """The ops without producers, in topological order."""
        return [v for v in self.graph.topo if not self.waiting[v]]

    def done(self, v: int) -> list[int]:
        """Mark ``v`` placed; the ops that became ready, in edge order."""
        out = []
        waiting, edge_dst = self.waiting, self.graph.edge_dst
        for e in self.graph.out_edges[v]:
            w = edge_dst[e]
            waiting[w] -= 1
            if not waiting[w]:
                out.append(w)
        return out


def greedy_pairs(
    graph: OpGraph,
    platform: Platform,
    key: Callable[[int, float, float], tuple],
    *,
    rounds: bool = False,
) -> GpuTimelines:
    """Place every op, one at a time: among the ready ops, the one with the
    smallest ``key(v, first, second)``, on the GPU where it starts first
    (appended after that GPU's last op; the lowest index on a tie).

    ``first`` is the op's earliest start over the GPUs, ``second`` its
    earliest start on any other GPU (``first`` again with one GPU). Keys
    must be tuples that differ between any two ops (end them with the op's
    topological position).

    With ``rounds``, the candidates are those of a *round*: the ops ready
    when it began. Ops that become ready during a round wait for the next
    one (how MinMin and MaxMin map a workflow, one set of independent
    tasks after another).

    Speed: an op's input-ready times are fixed once it is ready, and placing
    an op delays only the GPU it lands on, so an op's ``first`` and ``second``
    change only when that GPU was one of its two best. Only those ops are
    re-keyed (stale heap entries are skipped), which costs
    ``O(V * R * K)`` in the worst case (``R`` ready ops, ``K`` GPUs) and
    much less in practice.
    """
    timelines = GpuTimelines(graph, platform)
    ready_list = ReadyList(graph)
    n_gpus = platform.gpus
    free = timelines.free
    inputs: dict[int, list[float]] = {}  # ready op -> its input-ready time on each GPU
    best_two: dict[int, tuple[int, int]] = {}  # ready op -> (its best GPU, its second best)
    watchers: list[set[int]] = [set() for _ in range(n_gpus)]
    version = [0] * graph.n_ops
    heap: list[tuple[tuple, int, int]] = []

    def rekey(v: int) -> None:
        ready = inputs[v]
        k1 = k2 = -1
        t1 = t2 = math.inf
        for k in range(n_gpus):
            t = free[k] if free[k] > ready[k] else ready[k]
            if k1 < 0 or earlier(t, t1):
                k2, t2 = k1, t1
                k1, t1 = k, t
            elif k2 < 0 or earlier(t, t2):
                k2, t2 = k, t
        old = best_two.get(v)
        if old is not None:
            for k in old:
                if k >= 0:
                    watchers[k].discard(v)
        best_two[v] = (k1, k2)
        watchers[k1].add(v)
        if k2 >= 0:
            watchers[k2].add(v)
        version[v] += 1
        heappush(heap, (key(v, t1, t2 if k2 >= 0 else t1), version[v], v))

    def arrive(v: int) -> None:
        inputs[v] = timelines.ready(v)
        rekey(v)

    for v in ready_list.initial():
        arrive(v)
    held: list[int] = []  # ops that wait for the next round
    while heap or held:
        if not heap:
            for w in sorted(held, key=graph.topo_position.__getitem__):
                arrive(w)
            held.clear()
            continue
        _, ver, v = heappop(heap)
        if ver != version[v] or v not in inputs:
            continue
        k = best_two[v][0]
        ready = inputs.pop(v)
        for g in best_two.pop(v):
            if g >= 0:
                watchers[g].discard(v)
        start = free[k] if free[k] > ready[k] else ready[k]
        timelines.place(v, k, start)
        for w in sorted(watchers[k]):
            rekey(w)
        if rounds:
            held.extend(ready_list.done(v))
        else:
            for w in ready_list.done(v):
                arrive(w)
    return timelines
