"""Reading a solver's solution back as a :class:`~hios_opt.schedules.Schedule`."""

from __future__ import annotations

from typing import Any

from ..errors import DeadlockError
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule, Stage
from ..timing import stage_order
from .candidates import Candidates

__all__ = ["stages_in_order", "deal"]


def stages_in_order(graph: OpGraph, platform: Platform, cands: Candidates, dur: list,
                    chosen: list[tuple[int, int, Any]], algorithm: str) -> Schedule:
    """The schedule made of the chosen ``(gpu, candidate, start)`` stages: per
    GPU in order of start (then end), except where a dependency says
    otherwise. ``dur`` is each candidate's duration, in the solver's unit.

    The stages are put in one global order, the sorted one wherever it is a
    topological order of the stages' dependencies, and each GPU runs its
    stages in that order; as every GPU sequence and every edge then points
    forward, the evaluator never finds a deadlock. Ties need this: a
    zero-length stage and its consumer start together, and a MILP
    solution, exact only up to the solver's feasibility tolerance, may
    even start the consumer a few nanoseconds *before* its producer.
    """
    ids = graph.ids
    pos = graph.topo_position
    rows = sorted(chosen, key=lambda r: (r[2], r[2] + dur[r[1]], r[0], min(pos[v] for v in cands.ops[r[1]])))
    try:  # the earliest-sorted ready stage first
        order = stage_order(graph, [r[0] for r in rows], [cands.ops[r[1]] for r in rows], chain=False)
    except DeadlockError:  # pragma: no cover - chosen stages that depend on each other both ways
        order = list(range(len(rows)))  # the evaluator names the cycle
    stages = [Stage(rows[i][0], tuple(ids[v] for v in cands.ops[rows[i][1]])) for i in order]
    return Schedule(stages, gpus=platform.gpus, streams=platform.streams, algorithm=algorithm,
                    graph_name=graph.name)


def deal(chosen: list[tuple[int, int, int]], gpus: int, dur: list[int]) -> list[tuple[int, int, int]]:
    """Give each stage of a pooled solution (at most K overlapping, positive
    lengths) a GPU: by start time, to a GPU whose last stage has ended."""
    free_at = [0] * gpus
    out = []
    for _, c, start in sorted(chosen, key=lambda r: (r[2], r[2] + dur[r[1]])):
        k = next(k for k in range(gpus) if free_at[k] <= start)
        free_at[k] = start + dur[c]
        out.append((k, c, start))
    return out
