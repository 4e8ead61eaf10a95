"""FCP: Fast Critical Path.

Reference: A. Radulescu and A. J. C. van Gemund, ICS 1999,
doi:10.1145/305138.305162, and IEEE TPDS 13(6), 2002,
doi:10.1109/TPDS.2002.1011417.

Ops are taken by decreasing bottom level (the upward rank), but only ``K``
ready ops (``K`` GPUs) are kept sorted; further ready ops wait in a FIFO.
An op is placed on one of two GPUs only: its *enabling* GPU (where its inputs
are ready first) or the GPU that becomes idle first, whichever starts it
earlier (the enabling GPU on a tie, the lowest index among equally idle GPUs).

Variant: *append* (non-insertion), as published. Ready times come from the
timing kernel; each GPU runs its ops in FCP's order, merged by the intra-GPU
pass when the platform has several streams.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush

from ..costs import StageModel
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .common import check_flag, check_problem, resolve_window, upward_rank
from .intra import finish_mapping
from .listing import GpuTimelines, ReadyList, earlier, first_gpu

__all__ = ["fcp"]


def fcp(
    graph: OpGraph,
    platform: Platform,
    *,
    window: int | None = None,
    cost_model: StageModel | None = None,
    intra: bool = True,
) -> Schedule:
    """Schedule ``graph`` with FCP, then the intra-GPU pass.

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
        ``algorithm="fcp"``, ``makespan_ms`` from :func:`~hios_opt.evaluate`.

    Examples
    --------
    ``c`` (bottom level 4.5) goes before ``b`` (3.5), on GPU 0, its enabling
    GPU; ``b`` then starts earlier on idle GPU 1 (1.5) than on GPU 0 (4);
    ``d`` starts on GPU 0 at ``max(4, 3.5 + 0.5)``:

    >>> from hios_opt import generators
    >>> s = fcp(generators.diamond(comm_ms=0.5), Platform(gpus=2))
    >>> s.makespan_ms, s.placement["b"]
    (5.0, 1)
    """
    check_problem(graph, platform, cost_model)
    w = resolve_window(window, platform)
    check_flag(intra, "intra")
    rank = upward_rank(graph, platform)
    position = graph.topo_position
    timelines = GpuTimelines(graph, platform)
    free = timelines.free
    ready_list = ReadyList(graph)
    capacity = platform.gpus
    sorted_part: list[tuple[float, int, int]] = []
    waiting: deque[int] = deque()

    def add(v: int) -> None:
        if len(sorted_part) < capacity:
            heappush(sorted_part, (-rank[v], position[v], v))
        else:
            waiting.append(v)

    for v in ready_list.initial():
        add(v)
    while sorted_part:
        _, _, v = heappop(sorted_part)
        if waiting:
            u = waiting.popleft()
            heappush(sorted_part, (-rank[u], position[u], u))
        ready = timelines.ready(v)
        k = first_gpu(free)
        start = max(free[k], ready[k])
        if graph.in_edges[v]:
            enabling = first_gpu(ready)
            at = max(free[enabling], ready[enabling])
            if not earlier(start, at):
                k, start = enabling, at
        timelines.place(v, k, start)
        for u in ready_list.done(v):
            add(u)
    return finish_mapping(graph, platform, timelines.per_gpu(), "fcp", cost_model, w, intra)
