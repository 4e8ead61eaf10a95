"""MinMin and MaxMin: the op that can finish first (MinMin) or last
(MaxMin), each on the GPU where it finishes first.

References: O. H. Ibarra and C. E. Kim, JACM 24(2), 1977,
doi:10.1145/322003.322011; T. D. Braun et al., JPDC 61(6), 2001,
doi:10.1006/jpdc.2000.1714 (which also defines Duplex, :mod:`.duplex`); for
workflows, J. Blythe et al., IEEE CCGrid 2005, doi:10.1109/CCGRID.2005.1558639.

Both were defined for independent tasks; on a DAG, as Blythe et al. do, a
*round* maps the ops ready when it begins, MinMin the one of the smallest
minimum completion time first, MaxMin the largest
(:func:`completion_mapping`, whose Notes give the rules and ties).

Variant: *append* (non-insertion), in rounds (``rounds=False`` lets an op
join the candidates as soon as it is ready).
"""

from __future__ import annotations

from ..costs import StageModel
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .common import check_flag, check_problem, resolve_window, upward_rank
from .intra import finish_mapping
from .listing import GpuTimelines, greedy_pairs

__all__ = ["min_min", "max_min", "completion_mapping"]


def completion_mapping(graph: OpGraph, platform: Platform, largest: bool, rounds: bool = True) -> GpuTimelines:
    """The MinMin (``largest=False``) or MaxMin (``largest=True``) mapping,
    in rounds or (``rounds=False``) with each op a candidate once ready.

    Notes
    -----
    A *round* takes the ops ready when it begins (every producer placed) and
    maps them all; ops that become ready meanwhile wait for the next round.
    Within a round, each op's minimum completion time (MCT) is the earliest it
    can finish over the GPUs (inputs from the timing kernel); MinMin maps the op
    of the *smallest* MCT, MaxMin the one of the *largest*, on the GPU that gives
    it (the lowest index on a tie), and the MCTs of the others are updated. Ties
    between ops go to the larger upward rank (longest path to a sink with
    communication), then to the earlier op in topological order. An op starts
    after the last op already on its GPU (append).

    Examples
    --------
    >>> from hios_opt import generators
    >>> tl = completion_mapping(generators.diamond(comm_ms=0.5), Platform(gpus=2), largest=False)
    >>> tl.per_gpu(), tl.makespan      # b first (MCT 3 on GPU 0), then c (MCT 4.5 on GPU 1)
    ([[[0], [1]], [[2], [3]]], 5.5)
    """
    rank = upward_rank(graph, platform)
    lat = graph.latency
    position = graph.topo_position
    sign = -1.0 if largest else 1.0
    return greedy_pairs(graph, platform,
                        lambda v, first, second: (sign * (first + lat[v]), -rank[v], position[v]), rounds=rounds)


def _run(graph: OpGraph, platform: Platform, name: str, largest: bool, window: int | None,
         cost_model: StageModel | None, intra: bool) -> Schedule:
    check_problem(graph, platform, cost_model)
    w = resolve_window(window, platform)
    check_flag(intra, "intra")
    timelines = completion_mapping(graph, platform, largest)
    return finish_mapping(graph, platform, timelines.per_gpu(), name, cost_model, w, intra)


def min_min(
    graph: OpGraph,
    platform: Platform,
    *,
    window: int | None = None,
    cost_model: StageModel | None = None,
    intra: bool = True,
) -> Schedule:
    """Schedule ``graph`` with MinMin, then the intra-GPU pass.

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
        ``algorithm="minmin"``, ``makespan_ms`` from :func:`~hios_opt.evaluate`.

    Examples
    --------
    >>> from hios_opt import generators
    >>> min_min(generators.diamond(comm_ms=0.5), Platform(gpus=2)).makespan_ms
    5.5
    """
    return _run(graph, platform, "minmin", False, window, cost_model, intra)


def max_min(
    graph: OpGraph,
    platform: Platform,
    *,
    window: int | None = None,
    cost_model: StageModel | None = None,
    intra: bool = True,
) -> Schedule:
    """Schedule ``graph`` with MaxMin, then the intra-GPU pass.

    Parameters and result as :func:`min_min` (``algorithm="maxmin"``).

    Examples
    --------
    >>> from hios_opt import generators
    >>> max_min(generators.diamond(comm_ms=0.5), Platform(gpus=2)).makespan_ms   # c first, then b
    5.0
    """
    return _run(graph, platform, "maxmin", True, window, cost_model, intra)
