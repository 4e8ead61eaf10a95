"""Duplex: the shorter of the MinMin and MaxMin schedules.

Reference: T. D. Braun et al., "A Comparison of Eleven Static Heuristics for
Mapping a Class of Independent Tasks onto Heterogeneous Distributed
Computing Systems", Journal of Parallel and Distributed Computing 61(6),
2001, doi:10.1006/jpdc.2000.1714.

Runs :func:`~hios_opt.heuristics.minmin.min_min` and
:func:`~hios_opt.heuristics.minmin.max_min` (each with the same intra-GPU
pass) and keeps the shorter final schedule, MinMin on a tie. Variant:
*append*, as both of them.
"""

from __future__ import annotations

from ..costs import StageModel
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .minmin import max_min, min_min

__all__ = ["duplex"]


def duplex(
    graph: OpGraph,
    platform: Platform,
    *,
    window: int | None = None,
    cost_model: StageModel | None = None,
    intra: bool = True,
) -> Schedule:
    """Schedule ``graph`` with Duplex: MinMin and MaxMin, the shorter wins.

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
        Run the intra-GPU pass after each mapping (default True).

    Returns
    -------
    Schedule
        ``algorithm="duplex"``; ``meta["chosen"]`` is ``"minmin"`` or
        ``"maxmin"`` and ``meta["makespans_ms"]`` holds both makespans.

    Examples
    --------
    >>> from hios_opt import generators
    >>> s = duplex(generators.diamond(comm_ms=0.5), Platform(gpus=2))
    >>> s.makespan_ms, s.meta["chosen"], s.meta["makespans_ms"]
    (5.0, 'maxmin', {'minmin': 5.5, 'maxmin': 5.0})
    """
    low = min_min(graph, platform, window=window, cost_model=cost_model, intra=intra)
    high = max_min(graph, platform, window=window, cost_model=cost_model, intra=intra)
    assert low.makespan_ms is not None and high.makespan_ms is not None
    chosen = high if high.makespan_ms < low.makespan_ms else low
    chosen.meta = {**chosen.meta, "chosen": chosen.algorithm,
                   "makespans_ms": {"minmin": low.makespan_ms, "maxmin": high.makespan_ms}}
    chosen.algorithm = "duplex"
    return chosen
