"""ETF: Earliest Task First.

Reference: J.-J. Hwang, Y.-C. Chow, F. D. Anger and C.-Y. Lee, SIAM Journal
on Computing 18(2), 1989, doi:10.1137/0218016.

At each step ETF schedules the (ready op, GPU) pair that starts first; ties
go to the higher static level (the longest path of latencies from the op to
a sink), then the earlier op in topological order and the lowest GPU index.

Variant: *append* (non-insertion), as published. Ready times come from the
timing kernel; each GPU runs its ops in ETF's order, merged by the intra-GPU
pass when the platform has several streams.
"""

from __future__ import annotations

from ..costs import StageModel
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .common import check_flag, check_problem, resolve_window, static_level
from .intra import finish_mapping
from .listing import greedy_pairs

__all__ = ["etf"]


def etf(
    graph: OpGraph,
    platform: Platform,
    *,
    window: int | None = None,
    cost_model: StageModel | None = None,
    intra: bool = True,
) -> Schedule:
    """Schedule ``graph`` with ETF, then the intra-GPU pass.

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
        ``algorithm="etf"``, ``makespan_ms`` from :func:`~hios_opt.evaluate`.

    Examples
    --------
    Both branches are ready at 1 ms: ``branch0`` starts at 1 on GPU 0 and
    ``branch1`` at 1.5 on GPU 1 (its input crosses the link); the join waits
    for ``branch1``'s output (5.5 ms, on GPU 1) and ends at 6.5:

    >>> from hios_opt import generators
    >>> g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=0.5)
    >>> s = etf(g, Platform(gpus=2))
    >>> s.makespan_ms, s.placement
    (6.5, {'fork': 0, 'branch0': 0, 'branch1': 1, 'join': 1})
    """
    check_problem(graph, platform, cost_model)
    w = resolve_window(window, platform)
    check_flag(intra, "intra")
    level = static_level(graph)
    position = graph.topo_position
    timelines = greedy_pairs(graph, platform, lambda v, first, second: (first, -level[v], position[v]))
    return finish_mapping(graph, platform, timelines.per_gpu(), "etf", cost_model, w, intra)
