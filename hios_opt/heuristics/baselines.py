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

import math

from ..costs import StageModel
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .common import check_problem, finish_schedule, upward_rank
from .listing import TOL, GpuTimelines, earliest_gap

__all__ = ["sequential", "heft"]


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
    rank = upward_rank(graph, platform)
    position = graph.topo_position
    timelines = GpuTimelines(graph, platform)
    lat = graph.latency
    starts, ends = timelines.starts, timelines.ends
    for v in sorted(range(graph.n_ops), key=lambda v: (-rank[v], position[v])):
        ready = timelines.ready(v)
        best = None
        limit = math.inf  # "earlier than best" by more than float noise, as listing.earlier
        for k in range(platform.gpus):
            # GpuTimelines.start_on with insertion, inlined: this loop is HEFT's whole cost
            t, i = earliest_gap(starts[k], ends[k], ready[k], lat[v])
            f = t + lat[v]
            if f < limit:
                best = (f, k, t, i)
                limit = f - TOL * max(1.0, abs(f))
        assert best is not None
        _, k, t, i = best
        timelines.place(v, k, t, i)
    return finish_schedule(graph, platform, timelines.per_gpu(), "heft", cost_model)
