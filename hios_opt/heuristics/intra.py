"""The intra-GPU sliding-window pass of HIOS.

Given where every op runs, :func:`intra_gpu` walks each GPU's op order
(latest start time first) with a window of ``w`` ops; the ops of the window
that are mutually independent are tried as one stage (they run concurrently,
one stream each), and the merge is kept only when the evaluated makespan does
not grow and the schedule stays free of deadlock (:func:`sliding_window`).
Usable after any mapping: HIOS-LP, HIOS-MR, HEFT, or a hand-made one
(:func:`finish_mapping`).

Reference: the intra-GPU stage of the HIOS paper (IEEE CLUSTER 2023).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..checks import is_int
from ..costs import StageModel
from ..errors import CoverageError, GpuIndexError, ScheduleError
from ..evaluate import evaluate
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from ..timing import StageTimeline
from .common import check_problem, finish_schedule, priority_order, resolve_window

__all__ = ["intra_gpu", "sliding_window", "finish_mapping"]

_TOL = 1e-9


def sliding_window(timeline: StageTimeline, window: int) -> int:
    """Run the sliding-window merges on ``timeline`` in place; returns the
    number of merges kept.

    For each GPU in turn, for each stage ``a`` in order: the window holds
    ``window`` ops from ``a``'s first op on; every later one-op stage in it
    whose op is independent of the group and of every op it would jump over
    joins the group (up to ``streams`` ops). The merge is tried, and on
    refusal (growth or deadlock) shorter groups are tried, longest first.

    Notes
    -----
    Re-evaluating the whole schedule for every window would cost
    ``O(V * (V + E))``; the pass edits a
    :class:`~hios_opt.timing.editable.StageTimeline`, which re-times only
    what a merge changes and detects deadlock exactly (its Notes say how).
    The final makespan is still :func:`hios_opt.evaluate.evaluate`'s.

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.wide_layer(width=4)     # src, w0..w3 (1 ms, u = 0.5), dst
    >>> tl = StageTimeline(g, Platform(gpus=1, streams=2), [[[v] for v in g.topo]])
    >>> sliding_window(tl, 2), tl.makespan     # two pairs of 1.5 ms instead of 2
    (2, 4.0)
    """
    graph = timeline.graph
    related = graph.related_to_any  # linear memory on large graphs
    streams = timeline.platform.streams
    limit = min(window, streams)
    merges = 0
    if limit < 2:
        return 0
    ops, nxt = timeline.ops, timeline.next
    for k in range(timeline.platform.gpus):
        a = timeline.first[k]
        while a >= 0:
            group = ops[a]
            size = len(group)
            if size < limit:
                busy = list(group)  # the group, then the ops jumped over or taken
                candidates: list[int] = []
                in_window = size
                t = nxt[a]
                while t >= 0 and in_window < window:
                    t_ops = ops[t]
                    in_window += len(t_ops)
                    if in_window > window:
                        break
                    v = t_ops[0]
                    if len(t_ops) == 1 and size + len(candidates) < limit and not related(v, busy):
                        candidates.append(t)
                        busy.append(v)
                    else:
                        busy.extend(t_ops)
                    t = nxt[t]
                for j in range(len(candidates), 0, -1):
                    result = timeline.try_merge(a, candidates[:j])
                    if result is not None and result[0] <= timeline.makespan + _TOL * max(1.0, timeline.makespan):
                        timeline.commit(*result)
                        merges += 1
                        break
            a = nxt[a]
    return merges


def _per_gpu_from(graph: OpGraph, platform: Platform, schedule_or_mapping: Any,
                  cost_model: StageModel | None) -> tuple[list[list[list[int]]], str]:
    if isinstance(schedule_or_mapping, Schedule):
        evaluate(graph, platform, schedule_or_mapping, cost_model)  # validates; raises on any fault
        index = graph.id_index
        per_gpu: list[list[list[int]]] = [[] for _ in range(platform.gpus)]
        for st in schedule_or_mapping.stages:
            per_gpu[st.gpu].append([index[op] for op in st.ops])
        return per_gpu, schedule_or_mapping.algorithm
    if not isinstance(schedule_or_mapping, Mapping):
        raise ScheduleError(
            f"expected a Schedule or a mapping op id -> GPU, got {type(schedule_or_mapping).__name__}"
        )
    gpu_of = [-1] * graph.n_ops
    for op_id, gpu in schedule_or_mapping.items():
        v = graph.index(op_id)
        if not is_int(gpu) or not 0 <= gpu < platform.gpus:
            raise GpuIndexError(f"op {op_id!r} is mapped to GPU {gpu!r}, but the platform has GPUs "
                                f"0..{platform.gpus - 1}")
        gpu_of[v] = gpu
    missing = [graph.ids[v] for v in range(graph.n_ops) if gpu_of[v] < 0]
    if missing:
        raise CoverageError(f"the mapping leaves {len(missing)} op(s) without a GPU: "
                            f"{', '.join(map(repr, missing[:8]))}")
    per_gpu = [[] for _ in range(platform.gpus)]
    for v in priority_order(graph, platform):
        per_gpu[gpu_of[v]].append([v])
    return per_gpu, "intra-gpu"


def intra_gpu(
    graph: OpGraph,
    platform: Platform,
    schedule_or_mapping: Schedule | Mapping[str, int],
    *,
    window: int | None = None,
    cost_model: StageModel | None = None,
) -> Schedule:
    """Merge independent neighbouring ops of each GPU into concurrent stages.

    Parameters
    ----------
    graph, platform
        The problem.
    schedule_or_mapping : Schedule or mapping op id -> GPU
        A schedule (its per-GPU stage order is the starting point; existing
        multi-op stages are kept) or a mapping (each GPU's ops are then
        ordered by latest start time, one op per stage).
    window : int, optional
        Number of consecutive ops tried together, ``1 .. streams``
        (default ``min(2, streams)``; 1 leaves the schedule as it is).
    cost_model : StageModel, optional
        Stage-latency model (default: measured table, analytic fallback).

    Returns
    -------
    Schedule
        Never slower than the input: a merge is kept only when the evaluated
        makespan does not grow. ``meta["merges"]`` counts the merges kept.

    Raises
    ------
    OptionError
        ``window`` out of range.
    ScheduleError
        An invalid input schedule or mapping (the message names the op).

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.diamond()          # a(1) -> b(2), c(3) -> d(1); u(b) = u(c) = 0.8
    >>> s = intra_gpu(g, Platform(gpus=1, streams=2), {"a": 0, "b": 0, "c": 0, "d": 0})
    >>> s.makespan_ms, [st.ops for st in s.stages]   # 1 + (0.5*5 + 0.5*4) + 1
    (6.5, [('a',), ('c', 'b'), ('d',)])
    """
    check_problem(graph, platform, cost_model)
    w = resolve_window(window, platform)
    per_gpu, algorithm = _per_gpu_from(graph, platform, schedule_or_mapping, cost_model)
    timeline = StageTimeline(graph, platform, per_gpu, cost_model)
    merges = sliding_window(timeline, w)
    return finish_schedule(graph, platform, timeline.per_gpu(), algorithm, cost_model,
                           {"window": w, "merges": merges})


def finish_mapping(
    graph: OpGraph,
    platform: Platform,
    per_gpu: Sequence[Sequence[Sequence[int]]],
    algorithm: str,
    cost_model: StageModel | None,
    window: int,
    intra: bool,
    meta: dict[str, Any] | None = None,
) -> Schedule:
    """The last step of every mapping heuristic: the sliding window (when
    ``intra`` and ``window > 1``) on per-GPU stage lists, then
    :func:`~hios_opt.heuristics.common.finish_schedule`. ``meta`` gets
    ``window``, ``intra``, ``merges`` and ``mapping_makespan_ms`` (the
    makespan before the pass), then the caller's entries.

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.wide_layer(width=2)    # src -> w0, w1 (1 ms, u = 0.5) -> dst
    >>> s = finish_mapping(g, Platform(gpus=1, streams=2), [[[0], [1], [2], [3]]], "by-hand", None, 2, True)
    >>> s.makespan_ms, s.meta["merges"], s.meta["mapping_makespan_ms"]
    (2.5, 1, 3.0)
    """
    merges = 0
    before = None
    if intra and window > 1:
        timeline = StageTimeline(graph, platform, per_gpu, cost_model)
        before = timeline.makespan
        merges = sliding_window(timeline, window)
        per_gpu = timeline.per_gpu()
    info: dict[str, Any] = {"window": window, "intra": bool(intra), "merges": merges, "mapping_makespan_ms": before}
    info.update(meta or {})
    schedule = finish_schedule(graph, platform, per_gpu, algorithm, cost_model, info)
    if before is None:  # no pass: the schedule is the mapping
        schedule.meta["mapping_makespan_ms"] = schedule.makespan_ms
    return schedule
