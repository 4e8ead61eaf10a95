"""Earliest start and end of every stage, and the order stages can run in.

The start rule of the problem contract (``docs/design.md``, section 1): a
stage starts when the previous stage on its GPU has ended and every input
of every op in it is ready (an input from the same GPU when its producer's
stage ends; from another GPU the edge's delay later); it lasts its stage
latency; the makespan is the latest end.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, Any

from ..costs import StageModel, default_model
from ..errors import CoverageError, DeadlockError, InvalidCostError
from .delays import EdgeDelays, edge_delays

if TYPE_CHECKING:
    from ..graph import OpGraph
    from ..platform import Platform

__all__ = ["SimResult", "simulate", "stage_dependencies", "stage_order"]


@dataclass(frozen=True)
class SimResult:
    """Raw result of :func:`simulate`, by stage index."""

    makespan: float
    start: list[float]
    end: list[float]
    latency: list[float]


def simulate(
    graph: OpGraph,
    platform: Platform,
    stage_gpu: Sequence[int],
    stage_ops: Sequence[Sequence[int]],
    cost_model: StageModel | None = None,
    *,
    partial: bool = False,
    stage_latency: Sequence[float] | None = None,
    delays: EdgeDelays | None = None,
) -> SimResult:
    """Timeline of stages given as op indices, in O(V + E + stages).

    Stages of one GPU run in list order. With ``partial=True`` ops that are in
    no stage are ignored (edges touching them impose nothing); otherwise the
    caller guarantees that every op is in exactly one stage. Raises
    :class:`DeadlockError` when no execution exists. ``stage_latency`` may be
    passed to reuse latencies already computed, and ``delays`` to time on
    other numbers than the platform's (a solver's integer grid; times are
    floats, exact for integers below 2**53).

    Examples
    --------
    >>> from hios_opt import Platform, generators
    >>> g = generators.diamond()                      # a -> {b, c} -> d
    >>> simulate(g, Platform(), [0, 0, 0, 0], [[0], [1], [2], [3]]).makespan
    7.0
    """
    n_stages = len(stage_ops)
    stage_of = [-1] * graph.n_ops
    for s, ops in enumerate(stage_ops):
        for v in ops:
            stage_of[v] = s
    if stage_latency is None:
        cost = default_model(cost_model)
        lat_solo = graph.latency
        stage_latency = [
            lat_solo[ops[0]] if len(ops) == 1 else cost.stage_latency(graph, ops) for ops in stage_ops
        ]
    if delays is None:
        delays = edge_delays(graph, platform)
    uniform = delays.uniform
    comm = delays.cross if uniform else ()
    between = delays.between
    # Dependencies between stages as (consumer stage, delay) lists: one flat
    # pass over the edges, then one over the stages for the per-GPU order.
    out_deps: list[list[tuple[int, Any]]] = [[] for _ in range(n_stages)]
    indegree = [0] * n_stages
    zero = 0.0
    for e, (u, v) in enumerate(zip(graph.edge_src, graph.edge_dst)):
        su = stage_of[u]
        sv = stage_of[v]
        if su == sv:
            if su < 0 and not partial:
                raise CoverageError(f"op indices {u} and {v} are in no stage")
            continue  # both unplaced, or dependent ops in one stage (rejected by evaluate())
        if su < 0 or sv < 0:
            if partial:
                continue
            raise CoverageError(f"op index {u if su < 0 else v} is in no stage")
        gu = stage_gpu[su]
        gv = stage_gpu[sv]
        if gu == gv:
            delay = zero
        elif uniform:
            delay = comm[e]
        else:
            delay = between(e, gu, gv)
        out_deps[su].append((sv, delay))
        indegree[sv] += 1
    last_on_gpu: dict[int, int] = {}
    for s, gpu in enumerate(stage_gpu):
        prev = last_on_gpu.get(gpu)
        if prev is not None:
            out_deps[prev].append((s, zero))
            indegree[s] += 1
        last_on_gpu[gpu] = s
    ready = [zero] * n_stages
    start = [zero] * n_stages
    end = [zero] * n_stages
    queue = [s for s in range(n_stages) if indegree[s] == 0]
    done = 0
    makespan = zero
    while queue:
        s = queue.pop()
        done += 1
        t0 = ready[s]
        t1 = t0 + stage_latency[s]
        start[s] = t0
        end[s] = t1
        if t1 > makespan:
            makespan = t1
        for t, delay in out_deps[s]:
            r = t1 + delay
            if r > ready[t]:
                ready[t] = r
            indegree[t] -= 1
            if indegree[t] == 0:
                queue.append(t)
    if done < n_stages:
        raise DeadlockError(_deadlock_message(out_deps, indegree, stage_gpu, stage_ops, graph))
    if not math.isfinite(makespan):
        s = min(range(n_stages), key=lambda k: (math.isfinite(end[k]), start[k]))
        raise InvalidCostError(
            f"stage #{s} (gpu {stage_gpu[s]}: {', '.join(graph.ids[v] for v in stage_ops[s])}) ends at "
            f"{end[s]} ms: the costs of graph {graph.name!r} on this platform overflow a float"
        )
    return SimResult(makespan, start, end, list(stage_latency))


def _deadlock_message(out_deps: list[list[tuple[int, Any]]], indegree: list[int], stage_gpu: Sequence[int],
                      stage_ops: Sequence[Sequence[int]], graph: OpGraph) -> str:
    stuck = {s for s, d in enumerate(indegree) if d > 0}
    waits_on: dict[int, int] = {}
    for s in stuck:
        for t, _ in out_deps[s]:
            if t in stuck:
                waits_on.setdefault(t, s)
    node = min(stuck)
    seen: dict[int, int] = {}
    walk: list[int] = []
    while node not in seen:
        seen[node] = len(walk)
        walk.append(node)
        node = waits_on[node]
    cycle = walk[seen[node]:]
    ids = graph.ids

    def label(s: int) -> str:
        return f"stage #{s} (gpu {stage_gpu[s]}: {', '.join(ids[v] for v in stage_ops[s])})"

    parts = [label(s) for s in cycle]
    return "deadlock: the stage order contradicts the dependencies; " + " waits for ".join(
        parts + [label(cycle[0])]
    )


def stage_dependencies(graph: OpGraph, stage_gpu: Sequence[int], stage_ops: Sequence[Sequence[int]], *,
                       chain: bool = True) -> list[set[int]]:
    """What each stage waits for, as successor sets by stage index: an arc
    from every producer's stage to its consumer's stage and, with ``chain``,
    from each stage to the next one on its GPU (list order)."""
    stage_of = [-1] * graph.n_ops
    for s, ops in enumerate(stage_ops):
        for v in ops:
            stage_of[v] = s
    succ: list[set[int]] = [set() for _ in range(len(stage_ops))]
    for u, v in zip(graph.edge_src, graph.edge_dst):
        su, sv = stage_of[u], stage_of[v]
        if su != sv and su >= 0 and sv >= 0:
            succ[su].add(sv)
    if chain:
        last_on_gpu: dict[int, int] = {}
        for s, gpu in enumerate(stage_gpu):
            if gpu in last_on_gpu:
                succ[last_on_gpu[gpu]].add(s)
            last_on_gpu[gpu] = s
    return succ


def stage_order(graph: OpGraph, stage_gpu: Sequence[int], stage_ops: Sequence[Sequence[int]], *,
                key: Callable[[int], Any] | None = None, chain: bool = True) -> list[int]:
    """A topological order of :func:`stage_dependencies`: among the stages
    whose dependencies are all done, the one with the least ``key`` (default:
    the stage index) comes first (Kahn's algorithm with a heap, as
    :func:`networkx.lexicographical_topological_sort` orders).

    Raises
    ------
    DeadlockError
        The stages wait for each other in a cycle.

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.diamond()                      # a -> {b, c} -> d
    >>> stage_order(g, [0, 1, 0, 1], [[3], [1], [0], [2]])   # d waits for b, c; b, c wait for a
    Traceback (most recent call last):
    ...
    hios_opt.errors.DeadlockError: the stages wait for each other in a cycle
    >>> stage_order(g, [0, 1, 1, 0], [[0], [2], [1], [3]], chain=False)
    [0, 1, 2, 3]
    """
    succ = stage_dependencies(graph, stage_gpu, stage_ops, chain=chain)
    indegree = [0] * len(succ)
    for targets in succ:
        for t in targets:
            indegree[t] += 1
    rank = key if key is not None else (lambda s: s)
    ready = [(rank(s), s) for s in range(len(succ)) if indegree[s] == 0]
    heapify(ready)
    order: list[int] = []
    while ready:
        _, s = heappop(ready)
        order.append(s)
        for t in succ[s]:
            indegree[t] -= 1
            if indegree[t] == 0:
                heappush(ready, (rank(t), t))
    if len(order) < len(succ):
        raise DeadlockError("the stages wait for each other in a cycle")
    return order
