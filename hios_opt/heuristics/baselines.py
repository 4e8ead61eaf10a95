"""Baselines: the sequential schedule and HEFT.

* :func:`sequential`: every op on GPU 0, one op per stage, in topological
  order. Its makespan is the sum of the latencies: what "speedup" is
  measured against.
* :func:`heft`: Heterogeneous Earliest Finish Time, H. Topcuoglu, S. Hariri
  and M.-Y. Wu, "Performance-Effective and Low-Complexity Task Scheduling
  for Heterogeneous Computing", IEEE TPDS 13(3), 2002,
  doi:10.1109/71.993206. Ops by decreasing upward rank (latency plus
  cross-GPU delay along the longest path to a sink), each placed on the GPU
  where it finishes first, allowing insertion into an idle gap between ops
  already placed there; one op at a time per GPU (one stream).
"""

from __future__ import annotations

from bisect import bisect_right

from ..costs import StageModel
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from ..timing import edge_delays
from .common import check_problem, finish_schedule, upward_rank

__all__ = ["sequential", "heft"]

_TOL = 1e-9


def sequential(graph: OpGraph, platform: Platform, *, cost_model: StageModel | None = None) -> Schedule:
    """One GPU, one op at a time, in topological order.

    Examples
    --------
    >>> from hios_opt import generators
    >>> sequential(generators.diamond(), Platform(gpus=2, streams=2)).makespan_ms   # 1 + 2 + 3 + 1
    7.0
    """
    check_problem(graph, platform, cost_model)
    return finish_schedule(graph, platform, [[[v] for v in graph.topo]], "sequential", cost_model)


def _earliest_gap(starts: list[float], ends: list[float], ready: float, duration: float) -> tuple[float, int]:
    """Earliest start ``t >= ready`` of a ``duration``-long op between the busy
    intervals ``[starts[i], ends[i]]`` (sorted, disjoint), and the index where
    it goes, so that the list stays in time order."""
    i = bisect_right(ends, ready)  # intervals over by ``ready`` leave no gap after it
    t = ready
    while i < len(starts):
        if t + duration <= starts[i]:
            return t, i
        if ends[i] > t:
            t = ends[i]
        i += 1
    return t, i


def heft(graph: OpGraph, platform: Platform, *, cost_model: StageModel | None = None) -> Schedule:
    """HEFT on ``platform.gpus`` identical GPUs with one stream each.

    Parameters
    ----------
    graph, platform
        The problem; only one stream per GPU is used.
    cost_model : StageModel, optional
        Used by the final evaluation (stages hold one op, so it does not
        change the result).

    Returns
    -------
    Schedule
        ``algorithm="heft"``; each GPU runs its ops in HEFT's start-time order,
        and ``makespan_ms`` is :func:`~hios_opt.evaluate`'s number (never more
        than HEFT's own estimate, since the evaluator starts every op as soon
        as that order allows).

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=0.5)
    >>> heft(g, Platform(gpus=2)).makespan_ms    # branch1 and join on GPU 1: 1 + 0.5 + 4 + 1
    6.5
    """
    check_problem(graph, platform, cost_model)
    ready_times = edge_delays(graph, platform).ready_times
    rank = upward_rank(graph, platform)
    position = graph.topo_position
    order = sorted(range(graph.n_ops), key=lambda v: (-rank[v], position[v]))
    n_gpus = platform.gpus
    starts: list[list[float]] = [[] for _ in range(n_gpus)]
    ends: list[list[float]] = [[] for _ in range(n_gpus)]
    slots: list[list[int]] = [[] for _ in range(n_gpus)]
    finish = [0.0] * graph.n_ops
    gpu_of = [-1] * graph.n_ops
    lat, in_edges, edge_src = graph.latency, graph.in_edges, graph.edge_src
    for v in order:
        best = None
        ready = ready_times(in_edges[v], edge_src, finish, gpu_of)
        for k in range(n_gpus):
            t, i = _earliest_gap(starts[k], ends[k], ready[k], lat[v])
            f = t + lat[v]
            if best is None or f < best[0] - _TOL * max(1.0, best[0]):
                best = (f, k, t, i)
        f, k, t, i = best
        starts[k].insert(i, t)
        ends[k].insert(i, f)
        slots[k].insert(i, v)
        finish[v] = f
        gpu_of[v] = k
    per_gpu = [[[v] for v in slots[k]] for k in range(n_gpus)]
    return finish_schedule(graph, platform, per_gpu, "heft", cost_model)
