"""Cheap lower bounds on the makespan of any schedule.

:func:`critical_path_bound` (the longest chain of minimal stage durations)
and :func:`work_bound` (the minimal total busy time shared by the GPUs) hold
for every schedule of the problem (docs/design.md section 1) and every
stage-latency model in :mod:`hios_opt.costs`; each function's Notes say why.
:func:`lower_bound` is their maximum.
"""

from __future__ import annotations

import math

from ..costs import StageModel, default_model
from ..graph import OpGraph, longest_paths
from ..platform import Platform

__all__ = ["critical_path_bound", "work_bound", "lower_bound"]


def critical_path_bound(graph: OpGraph, cost_model: StageModel | None = None) -> float:
    """Longest path through the minimal stage duration of each op, no comm.

    Notes
    -----
    Valid for every schedule of the problem (docs/design.md section 1) and
    every stage-latency model of :mod:`hios_opt.costs`. Along any path
    ``v1 -> ... -> vm`` each ``v(i+1)`` sits in a later stage than ``vi`` (a
    stage's ops are independent, and a consumer's stage starts after its
    producer's stage ends, plus a non-negative delay). Stages run one after
    the other along the path, and the stage holding ``vi`` lasts at least
    ``min_duration[vi]`` (``t(vi)`` under the analytic model, since
    ``L(S) >= max t``). Communication is ignored, because two ops may share a
    GPU.

    Examples
    --------
    >>> from hios_opt import generators
    >>> critical_path_bound(generators.diamond())   # a(1) + c(3) + d(1)
    5.0
    """
    dur = default_model(cost_model).min_duration(graph)
    head = longest_paths(graph, dur, direction="head")
    return max(h + d for h, d in zip(head, dur))


def work_bound(graph: OpGraph, platform: Platform, cost_model: StageModel | None = None) -> float:
    """Minimal total busy time divided by the number of GPUs.

    Notes
    -----
    Valid for every schedule of the problem (docs/design.md section 1) and
    every stage-latency model of :mod:`hios_opt.costs`. Each GPU is busy for
    the sum of its stage latencies, and ``L(S) >= sum(min_work[v] for v in
    S)``, so the total busy time is at least ``sum(min_work)``. One of ``K``
    GPUs carries at least a ``1/K`` share, and its busy time is at most the
    makespan.

    Examples
    --------
    >>> from hios_opt import generators
    >>> work_bound(generators.diamond(), Platform(gpus=2))   # (1+2+3+1) / 2
    3.5
    """
    work = default_model(cost_model).min_work(graph, platform.streams)
    return math.fsum(work) / platform.gpus


def lower_bound(graph: OpGraph, platform: Platform, cost_model: StageModel | None = None) -> float:
    """The larger of :func:`critical_path_bound` and :func:`work_bound`."""
    return max(critical_path_bound(graph, cost_model), work_bound(graph, platform, cost_model))
