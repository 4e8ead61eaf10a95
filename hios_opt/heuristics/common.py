"""Quantities and helpers shared by the heuristics.

Priorities come from the graph's own levels (:meth:`OpGraph.bottom_level`
with the platform's cross-GPU delays, :func:`hios_opt.timing.edge_delays`),
never from a private copy: :func:`upward_rank` (HEFT's rank),
:func:`downward_rank` (CPOP's ``rank_d``), :func:`static_level` (ETF's and
DLS's, latencies alone), :func:`latest_start` (the HIOS paper's LST) and
:func:`priority_order` (ops by latest start, a topological order).

:func:`finish_schedule` turns per-GPU stage lists into a
:class:`~hios_opt.schedules.Schedule` whose ``makespan_ms`` is
:func:`~hios_opt.evaluate.evaluate`'s number, so every heuristic reports the
one evaluator's value (:func:`hios_opt.heuristics.intra.finish_mapping`
runs the intra-GPU pass first).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..checks import check_bool, check_int
from ..costs import StageModel
from ..errors import OptionError, ScheduleError
from ..evaluate import evaluate
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule, Stage
from ..timing import edge_delays, simulate

__all__ = [
    "upward_rank",
    "downward_rank",
    "static_level",
    "latest_start",
    "priority_order",
    "resolve_window",
    "check_flag",
    "check_problem",
    "finish_schedule",
]


def check_problem(graph: Any, platform: Any, cost_model: Any = None) -> None:
    """Reject arguments of the wrong type with a sentence a user understands."""
    if not isinstance(graph, OpGraph):
        raise ScheduleError(f"expected an OpGraph, got {type(graph).__name__}")
    if not isinstance(platform, Platform):
        raise ScheduleError(f"expected a Platform, got {type(platform).__name__}")
    if cost_model is not None and not isinstance(cost_model, StageModel):
        raise OptionError(
            f"cost_model must be a stage-latency model (AnalyticModel, MeasuredModel ...), "
            f"got {type(cost_model).__name__}"
        )


def upward_rank(graph: OpGraph, platform: Platform) -> tuple[float, ...]:
    """HEFT's upward rank: longest path from each op to a sink, op latencies
    plus cross-GPU edge delays, the op itself included.

    Examples
    --------
    >>> from hios_opt import generators
    >>> upward_rank(generators.diamond(comm_ms=0.5), Platform(gpus=2))  # d=1, c=3+0.5+1
    (6.0, 3.5, 4.5, 1.0)
    """
    return graph.bottom_level(edge_delays(graph, platform).cross)


def downward_rank(graph: OpGraph, platform: Platform) -> tuple[float, ...]:
    """CPOP's downward rank: longest path from a source to each op, op
    latencies plus cross-GPU edge delays, the op itself excluded.

    Examples
    --------
    >>> from hios_opt import generators
    >>> downward_rank(generators.diamond(comm_ms=0.5), Platform(gpus=2))  # d: 1 + 0.5 + 3 + 0.5
    (0.0, 1.5, 1.5, 5.0)
    """
    return graph.top_level(edge_delays(graph, platform).cross)


def static_level(graph: OpGraph) -> tuple[float, ...]:
    """Longest path of op latencies from each op to a sink, the op included,
    without communication (the static level of ETF and DLS).

    Examples
    --------
    >>> from hios_opt import generators
    >>> static_level(generators.diamond())    # a: 1 + 3 + 1
    (5.0, 3.0, 4.0, 1.0)
    """
    return graph.bottom_level()


def latest_start(graph: OpGraph, platform: Platform) -> tuple[float, ...]:
    """Latest start time of each op that keeps the critical path (with
    communication) intact: ``CP - upward_rank``.

    Examples
    --------
    >>> from hios_opt import generators
    >>> latest_start(generators.diamond(comm_ms=0.5), Platform(gpus=2))
    (0.0, 2.5, 1.5, 5.0)
    """
    rank = upward_rank(graph, platform)
    critical = max(rank)
    return tuple(critical - r for r in rank)


def priority_order(graph: OpGraph, platform: Platform) -> list[int]:
    """Op indices by latest start time (earliest first), ties by topological
    position; always a topological order.

    Notes
    -----
    It is a topological order: along an edge ``u -> v`` the upward rank of ``u``
    is at least ``t(u) + rank(v)``, so ``u`` never comes after ``v``; ties
    between equal ranks (zero-latency ops) go by topological position.

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.diamond(comm_ms=0.5)
    >>> [g.ids[v] for v in priority_order(g, Platform(gpus=2))]
    ['a', 'c', 'b', 'd']
    """
    rank = upward_rank(graph, platform)
    position = graph.topo_position
    # Sorting on -rank rather than CP - rank avoids a rounding step, so the
    # inequality rank(u) >= rank(v) along an edge survives exactly.
    return sorted(range(graph.n_ops), key=lambda v: (-rank[v], position[v]))


def resolve_window(window: Any, platform: Platform) -> int:
    """The intra-GPU window: ``None`` means ``min(2, streams)``; otherwise an
    integer in ``1 .. streams``.

    >>> resolve_window(None, Platform(streams=1)), resolve_window(3, Platform(streams=4))
    (1, 3)
    """
    if window is None:
        return min(2, platform.streams)
    check_int(window, "window", expected="an integer")
    if window < 1:
        raise OptionError(f"window must be >= 1, got {window}")
    if window > platform.streams:
        raise OptionError(
            f"window {window} is larger than the {platform.streams} stream(s) per GPU; "
            f"a stage cannot hold more ops than there are streams"
        )
    return window


def check_flag(value: Any, name: str) -> bool:
    """A boolean option, or :class:`OptionError` naming it."""
    return check_bool(value, name)


def finish_schedule(
    graph: OpGraph,
    platform: Platform,
    per_gpu: Sequence[Sequence[Sequence[int]]],
    algorithm: str,
    cost_model: StageModel | None = None,
    meta: dict[str, Any] | None = None,
) -> Schedule:
    """Build the :class:`Schedule` for per-GPU stage lists of op indices and
    fill its makespan with :func:`evaluate`'s number.

    Stages are listed by start time (then GPU) so that a schedule file reads
    in execution order; the per-GPU order is the one given.

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.diamond()
    >>> s = finish_schedule(g, Platform(gpus=1, streams=2), [[[0], [1, 2], [3]]], "by-hand")
    >>> s.makespan_ms, s.stages[1].ops
    (6.5, ('b', 'c'))
    """
    stage_gpu = [k for k, stages in enumerate(per_gpu) for _ in stages]
    stage_ops = [list(st) for stages in per_gpu for st in stages]
    sim = simulate(graph, platform, stage_gpu, stage_ops, cost_model)
    order = sorted(range(len(stage_ops)), key=lambda s: (sim.start[s], stage_gpu[s], s))
    ids = graph.ids
    schedule = Schedule(
        [Stage(stage_gpu[s], tuple(ids[v] for v in stage_ops[s])) for s in order],
        gpus=platform.gpus,
        streams=platform.streams,
        algorithm=algorithm,
        graph_name=graph.name,
        meta=dict(meta or {}),
    )
    schedule.makespan_ms = evaluate(graph, platform, schedule, cost_model).makespan
    return schedule

