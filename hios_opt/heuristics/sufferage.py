"""Sufferage: the op that would suffer most from losing its best GPU goes first.

Reference: M. Maheswaran, S. Ali, H. J. Siegel, D. Hensgen and R. F. Freund,
JPDC 59(2), 1999, doi:10.1006/jpdc.1999.1581.

The *sufferage* of a ready op is its second-earliest completion time over
the GPUs minus its earliest (0 with one GPU). At each step the ready op of
the largest sufferage goes to the GPU where it finishes first (the lowest
index on a tie); ties between ops go to the larger upward rank, then to the
earlier op in topological order.

Variant: one op at a time, as used for DAGs (the paper's batch mode is for
independent tasks arriving over time); *append* (non-insertion). Ready
times come from the timing kernel.
"""

from __future__ import annotations

from ..costs import StageModel
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .common import check_flag, check_problem, resolve_window, upward_rank
from .intra import finish_mapping
from .listing import greedy_pairs

__all__ = ["sufferage"]


def sufferage(
    graph: OpGraph,
    platform: Platform,
    *,
    window: int | None = None,
    cost_model: StageModel | None = None,
    intra: bool = True,
) -> Schedule:
    """Schedule ``graph`` with Sufferage, then the intra-GPU pass.

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
        ``algorithm="sufferage"``, ``makespan_ms`` from :func:`~hios_opt.evaluate`.

    Examples
    --------
    After ``a`` (GPU 0, ends at 1), ``b`` would end at 3 on GPU 0 or 3.5 on
    GPU 1 (sufferage 0.5), ``c`` at 4 or 4.5 (0.5): a tie, won by ``c``'s
    larger upward rank; ``c`` takes GPU 0, and ``b`` (now 3.5 on GPU 1
    against 6) GPU 1:

    >>> from hios_opt import generators
    >>> s = sufferage(generators.diamond(comm_ms=0.5), Platform(gpus=2))
    >>> s.makespan_ms, s.placement["b"], s.placement["c"]
    (5.0, 1, 0)
    """
    check_problem(graph, platform, cost_model)
    w = resolve_window(window, platform)
    check_flag(intra, "intra")
    rank = upward_rank(graph, platform)
    position = graph.topo_position
    # The latency is the same on every GPU, so completion times differ as start times do.
    timelines = greedy_pairs(graph, platform, lambda v, first, second: (first - second, -rank[v], position[v]))
    return finish_mapping(graph, platform, timelines.per_gpu(), "sufferage", cost_model, w, intra)
