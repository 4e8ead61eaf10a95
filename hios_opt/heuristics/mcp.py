"""MCP: Modified Critical Path.

Reference: M.-Y. Wu and D. D. Gajski, IEEE TPDS 1(3), 1990,
doi:10.1109/71.80160; as described in Y.-K. Kwok and I. Ahmad, ACM
Computing Surveys 31(4), 1999, doi:10.1145/344588.344618.

Each op gets the list of its ALAP time (:func:`~hios_opt.heuristics.common.latest_start`)
followed by its children's, ascending (:func:`alap_lists`); ops are ordered
by these lists, lexicographically (ties: topological order), and the first
op of that order whose producers are all placed goes to the GPU where it can
start first (the lowest index on a tie). Picking among ready ops keeps the
order topological even where zero-latency ops make ALAP times equal.

Variant: *insertion*, as published. Tie lists hold the children (Kwok and
Ahmad's reading; all descendants would cost ``O(V^2)`` memory).
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush

from ..costs import StageModel
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .common import check_flag, check_problem, latest_start, resolve_window
from .intra import finish_mapping
from .listing import GpuTimelines, ReadyList

__all__ = ["mcp", "alap_lists"]


def alap_lists(graph: OpGraph, platform: Platform) -> list[tuple[float, ...]]:
    """MCP's key of each op: its ALAP time, then its children's in
    ascending order.

    Examples
    --------
    >>> from hios_opt import generators
    >>> alap_lists(generators.diamond(comm_ms=0.5), Platform(gpus=2))
    [(0.0, 1.5, 2.5), (2.5, 5.0), (1.5, 5.0), (5.0,)]
    """
    alap = latest_start(graph, platform)
    return [(alap[v], *sorted(alap[w] for w in graph.succ[v])) for v in range(graph.n_ops)]


def mcp(
    graph: OpGraph,
    platform: Platform,
    *,
    window: int | None = None,
    cost_model: StageModel | None = None,
    intra: bool = True,
) -> Schedule:
    """Schedule ``graph`` with MCP, then the intra-GPU pass.

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
        ``algorithm="mcp"``, ``makespan_ms`` from :func:`~hios_opt.evaluate`.

    Examples
    --------
    ALAP order ``a`` (0), ``c`` (1.5), ``b`` (2.5), ``d`` (5): ``c`` starts
    first on GPU 0 (at 1), ``b`` on GPU 1 (at 1.5), ``d`` on GPU 0 at
    ``max(4, 3.5 + 0.5)``:

    >>> from hios_opt import generators
    >>> s = mcp(generators.diamond(comm_ms=0.5), Platform(gpus=2))
    >>> s.makespan_ms, s.placement["b"], s.placement["c"]
    (5.0, 1, 0)
    """
    check_problem(graph, platform, cost_model)
    w = resolve_window(window, platform)
    check_flag(intra, "intra")
    keys = alap_lists(graph, platform)
    position = graph.topo_position
    timelines = GpuTimelines(graph, platform)
    ready_list = ReadyList(graph)
    heap = [(keys[v], position[v], v) for v in ready_list.initial()]
    heapify(heap)
    while heap:
        _, _, v = heappop(heap)
        k, t, i = timelines.earliest(v, insertion=True)
        timelines.place(v, k, t, i)
        for u in ready_list.done(v):
            heappush(heap, (keys[u], position[u], u))
    return finish_mapping(graph, platform, timelines.per_gpu(), "mcp", cost_model, w, intra)
