"""A partial mapping under construction, one op per stage, timed incrementally.

HIOS-LP places a path of ops at a time and asks, for each GPU, what the
makespan of the placed ops would be. :class:`PartialTimeline` answers by
re-timing only what a placement can delay; its times are those of
:func:`hios_opt.timing.simulate` with ``partial=True`` (a test checks it).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .delays import edge_delays

if TYPE_CHECKING:
    from ..graph import OpGraph
    from ..platform import Platform

__all__ = ["PartialTimeline"]


class PartialTimeline:
    """Timeline of a partial mapping, one op per stage, each GPU's ops in a
    fixed global order (a topological order, e.g. latest start first).

    Edges that touch an unplaced op impose nothing, exactly as
    ``simulate(..., partial=True)`` (an unplaced op's finish is ``-inf``).
    :meth:`try_place` answers "what would the makespan be with these ops on
    GPU ``k``" by re-timing the placed ops from the first new one onwards in
    the global order, and stops as soon as no later op can change (past
    every consumer and GPU successor of a changed op). Placing ops only adds
    constraints, so no time ever decreases: a candidate whose makespan
    reaches ``bound`` is abandoned at once.
    """

    def __init__(self, graph: OpGraph, platform: Platform, order: Sequence[int]) -> None:
        self.graph = graph
        self.platform = platform
        self.delays = delays = edge_delays(graph, platform)
        comm = delays.cross
        edge_src = graph.edge_src
        #: (producer, delay, edge) of every input of each op
        self.inputs = [tuple((edge_src[e], comm[e], e) for e in graph.in_edges[v]) for v in range(graph.n_ops)]
        self.at = list(order)
        self.pos = [0] * graph.n_ops
        for p, v in enumerate(order):
            self.pos[v] = p
        #: the position of the last consumer of each op
        self.last_consumer = [max((self.pos[w] for w in graph.succ[v]), default=-1) for v in range(graph.n_ops)]
        self.gpu_of = [-1] * graph.n_ops
        self.finish = [-math.inf] * graph.n_ops
        self.placed: list[int] = []  # positions of placed ops, sorted
        self.gpu_pos: list[list[int]] = [[] for _ in range(platform.gpus)]
        self.makespan = 0.0

    def try_place(self, new_ops: Sequence[int], k: int, bound: float = math.inf) -> tuple[float, list[float]]:
        """Makespan and finish times (a new list, by op index) if the
        unplaced ``new_ops`` (sorted by position) were put on GPU ``k``;
        ``(inf, [])`` as soon as the makespan would reach ``bound``."""
        pos, at, gpu_of, gpu_pos = self.pos, self.at, self.gpu_of, self.gpu_pos
        inputs, lat, last_consumer = self.inputs, self.graph.latency, self.last_consumer
        uniform = self.delays.uniform
        between = self.delays.between
        new_pos = [pos[x] for x in new_ops]
        first = new_pos[0]
        sweep = self.placed[bisect_left(self.placed, first):]
        for p in new_pos:
            insort(sweep, p)
        end = sweep[-1]
        ready = []
        for on_gpu in gpu_pos:
            j = bisect_left(on_gpu, first)
            ready.append(self.finish[at[on_gpu[j - 1]]] if j else 0.0)
        fin = self.finish[:]
        horizon = new_pos[-1]
        for x in new_ops:
            gpu_of[x] = k
        try:
            for p in sweep:
                if p > horizon:
                    break
                y = at[p]
                g = gpu_of[y]
                st = ready[g]
                for u, c, e in inputs[y]:
                    r = fin[u]
                    if gpu_of[u] != g:
                        r += c if uniform or gpu_of[u] < 0 else between(e, gpu_of[u], g)
                    if r > st:
                        st = r
                f = st + lat[y]
                ready[g] = f
                if f != fin[y]:
                    if f >= bound:
                        return math.inf, []
                    fin[y] = f
                    if horizon < end:
                        if last_consumer[y] > horizon:
                            horizon = last_consumer[y]
                        on_gpu = gpu_pos[g]
                        j = bisect_right(on_gpu, p)
                        if j < len(on_gpu) and on_gpu[j] > horizon:
                            horizon = on_gpu[j]
        finally:
            for x in new_ops:
                gpu_of[x] = -1
        return max(self.makespan, max(ready)), fin

    def commit(self, new_ops: Sequence[int], k: int, makespan: float, finish: list[float]) -> None:
        """Apply a placement evaluated by :meth:`try_place`."""
        for x in new_ops:
            self.gpu_of[x] = k
            insort(self.gpu_pos[k], self.pos[x])
            insort(self.placed, self.pos[x])
        self.finish = finish
        self.makespan = makespan
