"""FLB: Fast Load Balancing.

Reference: A. Radulescu and A. J. C. van Gemund, ICPP 1999,
doi:10.1109/ICPP.1999.797442.

At each step FLB schedules the ready op that can start the earliest, like
ETF, but looks at two GPUs per op only, which it keeps in priority queues
(``O(V (log V + K))`` here, against ETF's scan of every pair): the op's
*enabling* GPU, where its inputs are ready first, and the GPU that is idle
first. The queues, their tie rules and how FLB relates to ETF are in the
Notes of :func:`flb_mapping`.

Variant: *append* (non-insertion), as published. Ready times come from the
timing kernel.
"""

from __future__ import annotations

from heapq import heappop, heappush

from ..costs import StageModel
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .common import check_flag, check_problem, resolve_window, upward_rank
from .intra import finish_mapping
from .listing import GpuTimelines, ReadyList, earlier, first_gpu

__all__ = ["flb", "flb_mapping"]

_WAITING, _EP, _NON_EP, _PLACED = 0, 1, 2, 3


def flb(
    graph: OpGraph,
    platform: Platform,
    *,
    window: int | None = None,
    cost_model: StageModel | None = None,
    intra: bool = True,
) -> Schedule:
    """Schedule ``graph`` with FLB, then the intra-GPU pass.

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
        ``algorithm="flb"``, ``makespan_ms`` from :func:`~hios_opt.evaluate`.

    Examples
    --------
    After ``a`` (GPU 0, ends at 1), ``b`` and ``c`` are EP ops of GPU 0 with
    ``EMT = 1``; ``c`` wins the tie (bottom level 4.5 against 3.5) and runs
    on GPU 0. ``b`` (``LMT = 1.5 < PRT(0) = 4``) moves to the non-EP queue
    and starts at 1.5 on idle GPU 1:

    >>> from hios_opt import generators
    >>> s = flb(generators.diamond(comm_ms=0.5), Platform(gpus=2))
    >>> s.makespan_ms, s.placement["b"], s.placement["c"]
    (5.0, 1, 0)
    """
    check_problem(graph, platform, cost_model)
    w = resolve_window(window, platform)
    check_flag(intra, "intra")
    timelines = flb_mapping(graph, platform)
    return finish_mapping(graph, platform, timelines.per_gpu(), "flb", cost_model, w, intra)


def flb_mapping(graph: OpGraph, platform: Platform) -> GpuTimelines:
    """FLB's mapping (``order``: the order in which it placed the ops).

    Notes
    -----
    * an op's *enabling* GPU ``EP`` is where its inputs are ready first (the
      GPU its last message comes from); ``EMT`` is that time and ``LMT``, the
      last message arrival time, when they are all ready anywhere;
    * an *EP op* (``LMT >= PRT(EP)``, ``PRT`` being when a GPU is free) waits in
      its enabling GPU's queue, sorted by ``EMT``; it starts earliest there;
    * any other ready op waits in the *non-EP* queue, sorted by ``LMT``; it
      starts earliest on the GPU that is idle first;
    * the head of the best EP queue and the head of the non-EP queue on the
      first idle GPU are compared, and the one that starts earlier is placed
      (the EP op on a tie). When a GPU's ``PRT`` passes an EP op's ``LMT`` that
      op moves to the non-EP queue.

    Ties inside a queue go to the larger bottom level (the upward rank), then
    to the earlier op in topological order. With a uniform link every op starts
    as early as ETF would start it (the paper's argument); the two differ in
    their tie rules and on link matrices.

    Examples
    --------
    >>> from hios_opt import generators
    >>> timelines = flb_mapping(generators.diamond(comm_ms=0.5), Platform(gpus=2))
    >>> timelines.order, timelines.gpu_of
    ([0, 2, 1, 3], [0, 1, 0, 0])
    """
    rank = upward_rank(graph, platform)
    position = graph.topo_position
    timelines = GpuTimelines(graph, platform)
    prt = timelines.free
    ready_list = ReadyList(graph)
    n_gpus = platform.gpus
    state = [_WAITING] * graph.n_ops
    inputs: dict[int, list[float]] = {}
    lmt = [0.0] * graph.n_ops
    ep_queue: list[list[tuple[float, float, int, int]]] = [[] for _ in range(n_gpus)]  # (EMT, -rank, pos, op)
    lmt_queue: list[list[tuple[float, int, int]]] = [[] for _ in range(n_gpus)]  # (LMT, pos, op): EP ops by LMT
    non_ep: list[tuple[float, float, int, int]] = []  # (LMT, -rank, pos, op)

    def to_non_ep(v: int) -> None:
        state[v] = _NON_EP
        heappush(non_ep, (lmt[v], -rank[v], position[v], v))

    def arrive(v: int) -> None:
        ready = inputs[v] = timelines.ready(v)
        lmt[v] = max(ready)
        if not graph.in_edges[v]:
            to_non_ep(v)
            return
        ep = first_gpu(ready)
        if earlier(lmt[v], prt[ep]):
            to_non_ep(v)
        else:
            state[v] = _EP
            heappush(ep_queue[ep], (ready[ep], -rank[v], position[v], v))
            heappush(lmt_queue[ep], (lmt[v], position[v], v))

    def head(queue: list, wanted: int) -> int:
        while queue and state[queue[0][-1]] != wanted:
            heappop(queue)
        return queue[0][-1] if queue else -1

    for v in ready_list.initial():
        arrive(v)
    for _ in range(graph.n_ops):
        best = None  # (start, GPU, op, EP queue or None)
        for k in range(n_gpus):
            v = head(ep_queue[k], _EP)
            if v >= 0:
                start = max(prt[k], inputs[v][k])
                if best is None or earlier(start, best[0]):
                    best = (start, k, v, ep_queue[k])
        v = head(non_ep, _NON_EP)
        if v >= 0:
            k = first_gpu(prt)
            start = max(prt[k], inputs[v][k])
            if best is None or earlier(start, best[0]):
                best = (start, k, v, non_ep)
        assert best is not None, "FLB has no ready op: the graph would have a cycle"
        start, k, v, queue = best
        heappop(queue)
        state[v] = _PLACED
        del inputs[v]
        timelines.place(v, k, start)
        moving = lmt_queue[k]
        while moving and (state[moving[0][-1]] != _EP or earlier(moving[0][0], prt[k])):
            _, _, u = heappop(moving)
            if state[u] == _EP:
                to_non_ep(u)
        for u in ready_list.done(v):
            arrive(u)
    return timelines
