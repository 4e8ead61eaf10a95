"""HIOS-MR: per-op min-finish-time mapping, then the intra-GPU pass.

Reference: "HIOS: A Hierarchical Inter-Operator Scheduler for Real-Time
Inference of DAG-Structured Deep Learning Models on Multiple GPUs", IEEE
CLUSTER 2023 (the authors' second inter-GPU mapping).

Ops are taken in latest-start order (a topological order); each goes to the
GPU where it would finish first, given the GPUs and finish times of its
predecessors and the time each GPU becomes free (ties: the lowest GPU
index). Each GPU then runs its ops in that order, and the intra-GPU sliding
window merges independent neighbours into concurrent stages.
"""

from __future__ import annotations

from ..costs import StageModel
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from ..timing import edge_delays
from .common import check_flag, check_problem, priority_order, resolve_window
from .intra import finish_mapping

__all__ = ["hios_mr", "min_finish_mapping"]

_TOL = 1e-9


def min_finish_mapping(graph: OpGraph, platform: Platform, order: list[int] | None = None
                       ) -> tuple[list[int], float]:
    """GPU of each op index under the min-finish-time rule, and the makespan
    of that mapping with one op per stage.

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=5.0)
    >>> min_finish_mapping(g, Platform(gpus=2))   # 1 + 4 + 4 + 1: a move costs 5 ms twice
    ([0, 0, 0, 0], 10.0)
    """
    ready_times = edge_delays(graph, platform).ready_times
    if order is None:
        order = priority_order(graph, platform)
    n_gpus = platform.gpus
    free = [0.0] * n_gpus
    finish = [0.0] * graph.n_ops
    gpu_of = [-1] * graph.n_ops
    lat, in_edges, edge_src = graph.latency, graph.in_edges, graph.edge_src
    for v in order:
        best_k, best_f = 0, 0.0
        ready = ready_times(in_edges[v], edge_src, finish, gpu_of)
        for k in range(n_gpus):
            start = max(free[k], ready[k])
            f = start + lat[v]
            if k == 0 or f < best_f - _TOL * max(1.0, best_f):
                best_k, best_f = k, f
        gpu_of[v] = best_k
        finish[v] = best_f
        free[best_k] = best_f
    return gpu_of, max(finish)


def hios_mr(
    graph: OpGraph,
    platform: Platform,
    *,
    window: int | None = None,
    cost_model: StageModel | None = None,
    intra: bool = True,
) -> Schedule:
    """Schedule ``graph`` on ``platform`` with HIOS-MR.

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
        ``algorithm="hios-mr"``, ``makespan_ms`` from :func:`~hios_opt.evaluate`.

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=0.5)
    >>> s = hios_mr(g, Platform(gpus=2))     # fork, branch0 on GPU 0; branch1, join on GPU 1
    >>> s.makespan_ms, s.placement                # 1 + 0.5 + 4 + 1
    (6.5, {'fork': 0, 'branch0': 0, 'branch1': 1, 'join': 1})
    """
    check_problem(graph, platform, cost_model)
    w = resolve_window(window, platform)
    check_flag(intra, "intra")
    order = priority_order(graph, platform)
    gpu_of, mapping_makespan = min_finish_mapping(graph, platform, order)
    per_gpu: list[list[list[int]]] = [[] for _ in range(platform.gpus)]
    for v in order:
        per_gpu[gpu_of[v]].append([v])
    return finish_mapping(graph, platform, per_gpu, "hios-mr", cost_model, w, intra,
                          {"mapping_makespan_ms": mapping_makespan})
