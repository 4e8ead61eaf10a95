"""CPOP: Critical Path On a Processor.

Reference: H. Topcuoglu, S. Hariri and M.-Y. Wu, IEEE TPDS 13(3), 2002,
doi:10.1109/71.993206 (the paper of HEFT, :func:`~hios_opt.heuristics.heft`).

The priority of an op is ``rank_u + rank_d`` (upward plus downward rank, op
latencies and cross-GPU delays along both). The ops of one critical path,
those whose priority equals the longest path's length followed from an entry
op (:func:`critical_path_ops`), all go to GPU 0 (the GPUs are identical); the
ready op of the highest priority is scheduled next (ties: topological order),
and an op off the critical path goes to the GPU where it finishes first.

Variant: *insertion*, as published: an op may fill an idle gap between ops
already on a GPU. Each GPU then runs its ops in start order, merged by the
intra-GPU pass when the platform has several streams.
"""

from __future__ import annotations

import math
from heapq import heapify, heappop, heappush

from ..costs import StageModel
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .common import check_flag, check_problem, downward_rank, resolve_window, upward_rank
from .intra import finish_mapping
from .listing import GpuTimelines, ReadyList

__all__ = ["cpop", "critical_path_ops"]

#: The critical-path GPU (every GPU runs every op equally fast).
CP_GPU = 0


def _on_cp(value: float, length: float) -> bool:
    return math.isclose(value, length, rel_tol=1e-9, abs_tol=1e-12)


def critical_path_ops(graph: OpGraph, platform: Platform) -> tuple[list[float], list[int]]:
    """CPOP's priorities (``rank_u + rank_d`` by op index) and its critical
    path: from the first entry op of priority ``|CP|``, the first successor of
    priority ``|CP|``, until an exit op.

    Examples
    --------
    >>> from hios_opt import generators
    >>> priority, path = critical_path_ops(generators.diamond(comm_ms=0.5), Platform(gpus=2))
    >>> priority, path        # a -> c -> d: 1 + 0.5 + 3 + 0.5 + 1
    ([6.0, 5.0, 6.0, 6.0], [0, 2, 3])
    """
    up = upward_rank(graph, platform)
    down = downward_rank(graph, platform)
    priority = [u + d for u, d in zip(up, down)]
    length = max(priority)
    position = graph.topo_position
    entries = [v for v in graph.topo if not graph.in_edges[v]]
    v = min((v for v in entries if _on_cp(priority[v], length)), key=position.__getitem__)
    path = [v]
    edge_dst = graph.edge_dst
    while graph.out_edges[v]:
        on_cp = [edge_dst[e] for e in graph.out_edges[v] if _on_cp(priority[edge_dst[e]], length)]
        if not on_cp:  # pragma: no cover - a critical op's longest continuation is critical
            break
        v = min(on_cp, key=position.__getitem__)
        path.append(v)
    return priority, path


def cpop(
    graph: OpGraph,
    platform: Platform,
    *,
    window: int | None = None,
    cost_model: StageModel | None = None,
    intra: bool = True,
) -> Schedule:
    """Schedule ``graph`` with CPOP, then the intra-GPU pass.

    Parameters
    ----------
    graph, platform
        The problem.
    window : int, optional
        Window of the intra-GPU pass, ``1 .. streams`` (default
        ``min(2, streams)``).
    cost_model : StageModel, optional
        Stage-latency model (default: measured table, analytic fallback).
    intra : bool
        Run the intra-GPU pass after the mapping (default True).

    Returns
    -------
    Schedule
        ``algorithm="cpop"``; ``meta["critical_path"]`` lists the ops kept on
        GPU 0.

    Examples
    --------
    The critical path ``a -> c -> d`` stays on GPU 0; ``b`` runs on GPU 1
    (ends at ``1.5 + 2``) and its output reaches GPU 0 at 4, when ``c`` ends:

    >>> from hios_opt import generators
    >>> s = cpop(generators.diamond(comm_ms=0.5), Platform(gpus=2))
    >>> s.makespan_ms, s.placement["b"], s.meta["critical_path"]
    (5.0, 1, ['a', 'c', 'd'])
    """
    check_problem(graph, platform, cost_model)
    w = resolve_window(window, platform)
    check_flag(intra, "intra")
    priority, path = critical_path_ops(graph, platform)
    on_path = set(path)
    position = graph.topo_position
    timelines = GpuTimelines(graph, platform)
    ready_list = ReadyList(graph)
    heap = [(-priority[v], position[v], v) for v in ready_list.initial()]
    heapify(heap)
    while heap:
        _, _, v = heappop(heap)
        ready = timelines.ready(v)
        if v in on_path:
            k = CP_GPU
            t, i = timelines.start_on(v, k, ready[k], insertion=True)
        else:
            k, t, i = timelines.earliest(v, insertion=True, ready=ready)  # earliest start = earliest finish
        timelines.place(v, k, t, i)
        for u in ready_list.done(v):
            heappush(heap, (-priority[u], position[u], u))
    return finish_mapping(graph, platform, timelines.per_gpu(), "cpop", cost_model, w, intra,
                          {"critical_path": [graph.ids[v] for v in path]})
