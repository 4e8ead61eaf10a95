"""The intra-GPU sliding-window pass of HIOS.

Given where every op runs, walk each GPU's op order (latest start time
first) with a window of ``w`` ops; the ops of the window that are mutually
independent are tried as one stage (they run concurrently, one stream each),
and the merge is kept only when the evaluated makespan does not grow and the
schedule stays free of deadlock. Usable after any mapping: HIOS-LP, HIOS-MR,
HEFT, or a hand-made one.

Reference: the intra-GPU stage of "HIOS: A Hierarchical Inter-Operator
Scheduler for Real-Time Inference of DAG-Structured Deep Learning Models on
Multiple GPUs", IEEE CLUSTER 2023.

Speed. Re-evaluating the whole schedule for every window would cost
``O(V * (V + E))``. The pass keeps a timeline of the stages together with a
topological order of them (``key``) and re-times only what a merge changes:
the merged stage, the stages whose GPU predecessor changed, and then, in key
order, every stage whose inputs moved, stopping where end times stop
changing. A merge that pulls an op ahead of one of its producers' stages in
that order re-sorts only the stretch of the order between the two stages
(every new dependency lies inside it, so a cycle there is exactly a
deadlock). The final makespan is still :func:`hios_opt.evaluate.evaluate`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from heapq import heapify, heappop, heappush
from typing import Any

from ..costs import StageModel, default_model
from ..errors import CoverageError, GpuIndexError, ScheduleError
from ..evaluate import edge_comm, evaluate
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .common import check_problem, finish_schedule, priority_order, resolve_window

__all__ = ["intra_gpu", "sliding_window", "StageTimeline"]

_TOL = 1e-9


class StageTimeline:
    """A schedule under edit: stages as op-index lists, per-GPU chains, a
    topological order of the stages (``key``) and their end times.

    Used by :func:`intra_gpu`; exposed for tests (its numbers must equal
    :func:`hios_opt.evaluate.simulate`'s). Ops never change GPU here, so the
    delay of every edge is fixed when the timeline is built.

    Parameters
    ----------
    per_gpu : list of list of list of int
        ``per_gpu[k]`` = the stages of GPU ``k`` in order, each a list of op
        indices. Must be a valid, deadlock-free schedule.
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
        comm = edge_comm(graph, platform)
        op_gpu = [self.gpu[s] for s in self.stage_of]
        edge_src = graph.edge_src

        def delay(e: int, v: int) -> float:
            a, b = op_gpu[edge_src[e]], op_gpu[v]
            if a == b:
                return 0.0
            return comm[e] if platform.uniform else platform.comm_ms(graph, e, a, b)

        #: (producer, delay) of every input of each op
        self.inputs = [tuple((edge_src[e], delay(e, v)) for e in graph.in_edges[v]) for v in range(graph.n_ops)]
        lat_solo = graph.latency
        self.lat = [lat_solo[ops[0]] if len(ops) == 1 else self.cost.stage_latency(graph, ops) for ops in self.ops]
        self.end = [0.0] * len(self.ops)
        self.seq = self._initial_order()
        self.key = [0] * len(self.ops)
        for k, s in enumerate(self.seq):
            self.key[s] = k
        self.makespan = max((self.end[s] for s in self.last if s >= 0), default=0.0)

    def _initial_order(self) -> list[int]:
        # Kahn's algorithm, releasing stages by start time: the order is a
        # topological order of the stage dependencies and close to execution
        # order, which keeps later re-sorts short.
        n_stages = len(self.ops)
        indegree = [0] * n_stages
        outs: list[list[tuple[int, float]]] = [[] for _ in range(n_stages)]
        for s in range(n_stages):
            if self.prev[s] >= 0:
                outs[self.prev[s]].append((s, 0.0))
                indegree[s] += 1
            for v in self.ops[s]:
                for u, d in self.inputs[v]:
                    outs[self.stage_of[u]].append((s, d))
                    indegree[s] += 1
        ready = [0.0] * n_stages
        heap = [(0.0, s) for s in range(n_stages) if indegree[s] == 0]
        order: list[int] = []
        end = self.end
        while heap:
            t0, s = heappop(heap)
            order.append(s)
            t1 = t0 + self.lat[s]
            end[s] = t1
            for t, d in outs[s]:
                r = t1 + d
                if r > ready[t]:
                    ready[t] = r
                indegree[t] -= 1
                if indegree[t] == 0:
                    heappush(heap, (ready[t], t))
        if len(order) < n_stages:
            raise ScheduleError("the schedule given to the intra-GPU pass has a deadlock")
        return order

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


def sliding_window(timeline: StageTimeline, window: int) -> int:
    """Run the sliding-window merges on ``timeline`` in place; returns the
    number of merges kept.

    For each GPU in turn, for each stage ``a`` in order: the window holds
    ``window`` ops from ``a``'s first op on; every later one-op stage in it
    whose op is independent of the group and of every op it would jump over
    joins the group (up to ``streams`` ops). The merge is tried, and on
    refusal (growth or deadlock) shorter groups are tried, longest first.

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.wide_layer(width=4)     # src, w0..w3 (1 ms, u = 0.5), dst
    >>> tl = StageTimeline(g, Platform(gpus=1, streams=2), [[[v] for v in g.topo]])
    >>> sliding_window(tl, 2), tl.makespan     # two pairs of 1.5 ms instead of 2
    (2, 4.0)
    """
    graph = timeline.graph
    related = graph.related_to_any  # linear memory on large graphs
    streams = timeline.platform.streams
    limit = min(window, streams)
    merges = 0
    if limit < 2:
        return 0
    ops, nxt = timeline.ops, timeline.next
    for k in range(timeline.platform.gpus):
        a = timeline.first[k]
        while a >= 0:
            group = ops[a]
            size = len(group)
            if size < limit:
                busy = list(group)  # the group, then the ops jumped over or taken
                candidates: list[int] = []
                in_window = size
                t = nxt[a]
                while t >= 0 and in_window < window:
                    t_ops = ops[t]
                    in_window += len(t_ops)
                    if in_window > window:
                        break
                    v = t_ops[0]
                    if len(t_ops) == 1 and size + len(candidates) < limit and not related(v, busy):
                        candidates.append(t)
                        busy.append(v)
                    else:
                        busy.extend(t_ops)
                    t = nxt[t]
                for j in range(len(candidates), 0, -1):
                    result = timeline.try_merge(a, candidates[:j])
                    if result is not None and result[0] <= timeline.makespan + _TOL * max(1.0, timeline.makespan):
                        timeline.commit(*result)
                        merges += 1
                        break
            a = nxt[a]
    return merges


def _per_gpu_from(graph: OpGraph, platform: Platform, schedule_or_mapping: Any,
                  cost_model: StageModel | None) -> tuple[list[list[list[int]]], str]:
    if isinstance(schedule_or_mapping, Schedule):
        evaluate(graph, platform, schedule_or_mapping, cost_model)  # validates; raises on any fault
        index = graph.id_index
        per_gpu: list[list[list[int]]] = [[] for _ in range(platform.gpus)]
        for st in schedule_or_mapping.stages:
            per_gpu[st.gpu].append([index[op] for op in st.ops])
        return per_gpu, schedule_or_mapping.algorithm
    if not isinstance(schedule_or_mapping, Mapping):
        raise ScheduleError(
            f"expected a Schedule or a mapping op id -> GPU, got {type(schedule_or_mapping).__name__}"
        )
    gpu_of = [-1] * graph.n_ops
    for op_id, gpu in schedule_or_mapping.items():
        v = graph.index(op_id)
        if isinstance(gpu, bool) or not isinstance(gpu, int) or not 0 <= gpu < platform.gpus:
            raise GpuIndexError(f"op {op_id!r} is mapped to GPU {gpu!r}, but the platform has GPUs "
                                f"0..{platform.gpus - 1}")
        gpu_of[v] = gpu
    missing = [graph.ids[v] for v in range(graph.n_ops) if gpu_of[v] < 0]
    if missing:
        raise CoverageError(f"the mapping leaves {len(missing)} op(s) without a GPU: "
                            f"{', '.join(map(repr, missing[:8]))}")
    per_gpu = [[] for _ in range(platform.gpus)]
    for v in priority_order(graph, platform):
        per_gpu[gpu_of[v]].append([v])
    return per_gpu, "intra-gpu"


def intra_gpu(
    graph: OpGraph,
    platform: Platform,
    schedule_or_mapping: Schedule | Mapping[str, int],
    *,
    window: int | None = None,
    cost_model: StageModel | None = None,
) -> Schedule:
    """Merge independent neighbouring ops of each GPU into concurrent stages.

    Parameters
    ----------
    graph, platform
        The problem.
    schedule_or_mapping : Schedule or mapping op id -> GPU
        A schedule (its per-GPU stage order is the starting point; existing
        multi-op stages are kept) or a mapping (each GPU's ops are then
        ordered by latest start time, one op per stage).
    window : int, optional
        Number of consecutive ops tried together, ``1 .. streams``
        (default ``min(2, streams)``; 1 leaves the schedule as it is).
    cost_model : StageModel, optional
        Stage-latency model (default: measured table, analytic fallback).

    Returns
    -------
    Schedule
        Never slower than the input: a merge is kept only when the evaluated
        makespan does not grow. ``meta["merges"]`` counts the merges kept.

    Raises
    ------
    OptionError
        ``window`` out of range.
    ScheduleError
        An invalid input schedule or mapping (the message names the op).

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.diamond()          # a(1) -> b(2), c(3) -> d(1); u(b) = u(c) = 0.8
    >>> s = intra_gpu(g, Platform(gpus=1, streams=2), {"a": 0, "b": 0, "c": 0, "d": 0})
    >>> s.makespan_ms, [st.ops for st in s.stages]   # 1 + (0.5*5 + 0.5*4) + 1
    (6.5, [('a',), ('c', 'b'), ('d',)])
    """
    check_problem(graph, platform, cost_model)
    w = resolve_window(window, platform)
    per_gpu, algorithm = _per_gpu_from(graph, platform, schedule_or_mapping, cost_model)
    timeline = StageTimeline(graph, platform, per_gpu, cost_model)
    merges = sliding_window(timeline, w)
    return finish_schedule(graph, platform, timeline.per_gpu(), algorithm, cost_model,
                           {"window": w, "merges": merges})
