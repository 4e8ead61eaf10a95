"""DLS: Dynamic Level Scheduling.

Reference: G. C. Sih and E. A. Lee, IEEE TPDS 4(2), 1993, doi:10.1109/71.207593.

The *dynamic level* of a ready op ``v`` on GPU ``k`` is
``DL(v, k) = SL(v) - max(DA(v, k), TF(k))``: its static level (the longest
path of latencies from ``v`` to a sink, ``v`` included) minus the time it
could start on ``k`` (data arrive at ``DA``, the GPU is free at ``TF``). DLS
schedules the (op, GPU) pair of the highest dynamic level; on identical GPUs
the heterogeneity, descendant and resource terms are 0. Ties go to the earlier
op in topological order and the lowest GPU index.

Variant: *append* (non-insertion), as published: ``TF(k)`` is when the last
op placed on ``k`` ends. The data-arrival times are the timing kernel's.
"""

from __future__ import annotations

from ..costs import StageModel
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .common import check_flag, check_problem, resolve_window, static_level
from .intra import finish_mapping
from .listing import greedy_pairs

__all__ = ["dls"]


def dls(
    graph: OpGraph,
    platform: Platform,
    *,
    window: int | None = None,
    cost_model: StageModel | None = None,
    intra: bool = True,
) -> Schedule:
    """Schedule ``graph`` with DLS, then the intra-GPU pass.

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
        ``algorithm="dls"``, ``makespan_ms`` from :func:`~hios_opt.evaluate`.

    Examples
    --------
    Static levels: ``a`` 5, ``c`` 4, ``b`` 3, ``d`` 1. After ``a`` (GPU 0,
    ends at 1): ``DL(c, 0) = 4 - 1 = 3`` beats ``DL(b, 0) = 3 - 1 = 2``, so
    ``c`` runs on GPU 0 until 4; then ``DL(b, 1) = 3 - 1.5`` beats
    ``DL(b, 0) = 3 - 4``, so ``b`` runs on GPU 1 from 1.5 to 3.5; ``d``
    starts at ``max(4, 3.5 + 0.5)`` on GPU 0:

    >>> from hios_opt import generators
    >>> s = dls(generators.diamond(comm_ms=0.5), Platform(gpus=2))
    >>> s.makespan_ms, s.placement
    (5.0, {'a': 0, 'c': 0, 'b': 1, 'd': 0})
    """
    check_problem(graph, platform, cost_model)
    w = resolve_window(window, platform)
    check_flag(intra, "intra")
    level = static_level(graph)
    position = graph.topo_position
    timelines = greedy_pairs(graph, platform, lambda v, first, second: (first - level[v], position[v]))
    return finish_mapping(graph, platform, timelines.per_gpu(), "dls", cost_model, w, intra)
