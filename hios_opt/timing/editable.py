"""A complete schedule under edit (stage merges), timed incrementally.

The intra-GPU pass merges one-op stages into concurrent stages and asks
what each merge does to the makespan. :class:`StageTimeline` keeps the
stages, their per-GPU chains, a topological order of them and their end
times, and re-times only what a merge changes (its Notes say how, and why
deadlock detection is exact); its numbers are
:func:`hios_opt.timing.simulate`'s (a test checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, Any

from ..costs import StageModel, default_model
from ..errors import DeadlockError, ScheduleError
from .delays import edge_delays
from .stages import simulate, stage_order

if TYPE_CHECKING:
    from ..graph import OpGraph
    from ..platform import Platform

__all__ = ["StageTimeline"]


class StageTimeline:
    """A schedule under edit: stages as op-index lists, per-GPU chains, a
    topological order of the stages (``key``) and their end times.

    Used by :func:`hios_opt.heuristics.intra_gpu`; its numbers equal
    :func:`~hios_opt.timing.simulate`'s. Ops never change GPU here, so the
    delay of every edge is fixed when the timeline is built.

    Parameters
    ----------
    per_gpu : list of list of list of int
        ``per_gpu[k]`` = the stages of GPU ``k`` in order, each a list of op
        indices. Must be a valid, deadlock-free schedule.

    Notes
    -----
    Re-evaluating the whole schedule for every merge would cost
    ``O(V * (V + E))``. Only the merged stage, the stages whose GPU predecessor
    changed, and then, in topological order, the stages whose inputs moved are
    re-timed, stopping where end times stop changing. A merge that pulls an op
    ahead of one of its producers' stages in that order re-sorts only the
    stretch of the order between the two stages (every new dependency lies
    inside it, so a cycle there is exactly a deadlock).
    """

    def __init__(self, graph: OpGraph, platform: Platform, per_gpu: Sequence[Sequence[Sequence[int]]],
                 cost_model: StageModel | None = None) -> None:
        self.graph = graph
        self.platform = platform
        self.cost = default_model(cost_model)
        n_gpus = platform.gpus
        self.ops: list[list[int]] = []
        self.gpu: list[int] = []
        self.prev: list[int] = []
        self.next: list[int] = []
        self.first = [-1] * n_gpus
        self.last = [-1] * n_gpus
        self.stage_of = [-1] * graph.n_ops
        for k, stages in enumerate(per_gpu):
            for st in stages:
                s = len(self.ops)
                self.ops.append(list(st))
                self.gpu.append(k)
                self.prev.append(self.last[k])
                self.next.append(-1)
                if self.last[k] >= 0:
                    self.next[self.last[k]] = s
                else:
                    self.first[k] = s
                self.last[k] = s
                for v in st:
                    self.stage_of[v] = s
        self.delays = delays = edge_delays(graph, platform)
        op_gpu = [self.gpu[s] for s in self.stage_of]
        edge_src = graph.edge_src
        between = delays.between
        #: (producer, delay) of every input of each op
        self.inputs = [tuple((edge_src[e], between(e, op_gpu[edge_src[e]], op_gpu[v])) for e in graph.in_edges[v])
                       for v in range(graph.n_ops)]
        lat_solo = graph.latency
        self.lat = [lat_solo[ops[0]] if len(ops) == 1 else self.cost.stage_latency(graph, ops) for ops in self.ops]
        try:
            sim = simulate(graph, platform, self.gpu, self.ops, stage_latency=self.lat, delays=delays)
            # A topological order of the stages, close to execution order
            # (by start time), which keeps later re-sorts short.
            self.seq = stage_order(graph, self.gpu, self.ops, key=lambda s: (sim.start[s], s))
        except DeadlockError:
            raise ScheduleError("the schedule given to the intra-GPU pass has a deadlock") from None
        self.end = list(sim.end)
        self.key = [0] * len(self.ops)
        for k, s in enumerate(self.seq):
            self.key[s] = k
        self.makespan = max((self.end[s] for s in self.last if s >= 0), default=0.0)

    def per_gpu(self) -> list[list[list[int]]]:
        """The current stages, per GPU, in order."""
        out = []
        for k in range(self.platform.gpus):
            stages = []
            s = self.first[k]
            while s >= 0:
                stages.append(list(self.ops[s]))
                s = self.next[s]
            out.append(stages)
        return out

    # ------------------------------------------------------------ tentative
    def try_merge(self, a: int, ys: Sequence[int]) -> tuple[float, dict[str, Any]] | None:
        """Makespan if the one-op stages ``ys`` (later on ``a``'s GPU) were
        merged into stage ``a``, and the change to :meth:`commit`; ``None``
        when the merge would deadlock. The caller guarantees that the merged
        ops are mutually independent and that none depends on an op it
        jumps over on this GPU."""
        graph = self.graph
        g = self.gpu[a]
        moved_ops = [self.ops[y][0] for y in ys]
        members = self.ops[a] + moved_ops
        new_lat = self.cost.stage_latency(graph, members)
        yset = set(ys)
        prev, nxt, ops, lat, stage_of, key = self.prev, self.next, self.ops, self.lat, self.stage_of, self.key
        nprev: dict[int, int] = {}
        nnext: dict[int, int] = {}
        last = self.last[g]
        for y in ys:
            p = nprev.get(y, prev[y])
            n = nnext.get(y, nxt[y])
            nnext[p] = n
            if n >= 0:
                nprev[n] = p
            else:
                last = p
        moved = dict.fromkeys(moved_ops, a)
        lo = key[a]
        newkey: dict[int, int] = {}
        keyl = key
        if any(key[stage_of[u]] > lo for v in moved_ops for u, _ in self.inputs[v]):
            sorted_keys = self._resort(a, ys, yset, nprev, moved, members)
            if sorted_keys is None:
                return None
            newkey = sorted_keys
            keyl = key[:]
            for s, k in newkey.items():
                keyl[s] = k
        # Apply the change in place for the propagation, undo it afterwards.
        saved_prev = {s: prev[s] for s in nprev}
        saved_next = {s: nxt[s] for s in nnext}
        saved_stage = {v: stage_of[v] for v in moved_ops}
        saved_ops, saved_lat = ops[a], lat[a]
        for s, p in nprev.items():
            prev[s] = p
        for s, n in nnext.items():
            nxt[s] = n
        for v in moved_ops:
            stage_of[v] = a
        ops[a], lat[a] = members, new_lat
        try:
            fin = self._propagate(a, nprev, yset, moved_ops, keyl)
        finally:
            for s, p in saved_prev.items():
                prev[s] = p
            for s, n in saved_next.items():
                nxt[s] = n
            for v, s in saved_stage.items():
                stage_of[v] = s
            ops[a], lat[a] = saved_ops, saved_lat
        makespan = 0.0
        for k, s in enumerate(self.last):
            if k == g:
                s = last
            if s >= 0 and fin[s] > makespan:
                makespan = fin[s]
        change = {"a": a, "ys": list(ys), "members": members, "lat": new_lat, "nprev": nprev, "nnext": nnext,
                  "last": last, "newkey": newkey, "end": fin}
        return makespan, change

    def _propagate(self, a: int, nprev: dict[int, int], yset: set[int], moved_ops: list[int],
                   keyl: list[int]) -> list[float]:
        # Re-time, in key order, only the stages whose inputs changed: stage
        # a, the stages whose GPU predecessor changed, the consumers of the
        # moved ops, then the dependents of every stage whose end moved.
        prev, nxt, ops, lat, stage_of = self.prev, self.next, self.ops, self.lat, self.stage_of
        inputs, succ = self.inputs, self.graph.succ
        fin = self.end[:]
        queued: dict[int, int] = {keyl[a]: a}
        for s in nprev:
            if s not in yset:
                queued[keyl[s]] = s
        for v in moved_ops:
            for w in succ[v]:
                queued[keyl[stage_of[w]]] = stage_of[w]
        heap = list(queued)
        heapify(heap)
        while heap:
            t = queued[heappop(heap)]
            p = prev[t]
            st = fin[p] if p >= 0 else 0.0
            t_ops = ops[t]
            for v in t_ops:
                for u, d in inputs[v]:
                    r = fin[stage_of[u]] + d
                    if r > st:
                        st = r
            en = st + lat[t]
            if en != fin[t]:
                fin[t] = en
                n = nxt[t]
                if n >= 0:
                    k = keyl[n]
                    if k not in queued:
                        queued[k] = n
                        heappush(heap, k)
                for v in t_ops:
                    for w in succ[v]:
                        s = stage_of[w]
                        k = keyl[s]
                        if k not in queued:
                            queued[k] = s
                            heappush(heap, k)
        return fin

    def _resort(self, a: int, ys: Sequence[int], yset: set[int], nprev: dict[int, int], moved: dict[int, int],
                members: list[int]) -> dict[int, int] | None:
        # Every dependency the merge adds points into stage a from a stage
        # whose key lies in [key(a), max key(ys)], and none leaves that
        # stretch backwards: re-sorting the stretch suffices, and a cycle in
        # it is exactly a deadlock.
        lo = self.key[a]
        hi = max(self.key[y] for y in ys)
        stretch = [s for s in self.seq[lo:hi + 1] if s >= 0 and s not in yset]
        inside = set(stretch)
        indegree = dict.fromkeys(stretch, 0)
        outs: dict[int, list[int]] = {s: [] for s in stretch}
        stage_of = self.stage_of
        for t in stretch:
            p = nprev.get(t, self.prev[t])
            if p in inside:
                outs[p].append(t)
                indegree[t] += 1
            for v in (members if t == a else self.ops[t]):
                for u, _ in self.inputs[v]:
                    su = moved.get(u, stage_of[u])
                    if su in inside:
                        outs[su].append(t)
                        indegree[t] += 1
        key = self.key
        heap = [(key[s], s) for s in stretch if indegree[s] == 0]
        order: list[int] = []
        while heap:
            _, s = heappop(heap)
            order.append(s)
            for t in outs[s]:
                indegree[t] -= 1
                if indegree[t] == 0:
                    heappush(heap, (key[t], t))
        if len(order) < len(stretch):
            return None
        return {s: lo + k for k, s in enumerate(order)}

    def commit(self, makespan: float, change: dict[str, Any]) -> None:
        """Apply a change returned by :meth:`try_merge`."""
        a = change["a"]
        members = change["members"]
        self.ops[a] = members
        self.lat[a] = change["lat"]
        for y in change["ys"]:
            self.seq[self.key[y]] = -1
            self.ops[y] = []
        for v in members:
            self.stage_of[v] = a
        for s, p in change["nprev"].items():
            self.prev[s] = p
        for s, n in change["nnext"].items():
            self.next[s] = n
        self.last[self.gpu[a]] = change["last"]
        newkey = change["newkey"]
        if newkey:
            lo = min(newkey.values())
            hi = max(self.key[s] for s in newkey)
            for k in range(lo, hi + 1):
                self.seq[k] = -1
            for s, k in newkey.items():
                self.seq[k] = s
                self.key[s] = k
        self.end = change["end"]
        self.makespan = makespan
