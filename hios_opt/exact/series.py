"""A lower bound from exact solves of the pieces between series points.

A graph with series points (ops that every other op is an ancestor or a
descendant of; :mod:`hios_opt.bounds.series`) splits into pieces whose
bounds add up (:func:`hios_opt.bounds.series_bound`, whose Notes give the
argument). Each piece is a small problem: Inception-v3's 124 ops fall into
pieces of at most 14, which CP-SAT proves in a fraction of a second each,
and the sum of their optima is a bound far above any static one.
:func:`exact_series_bound` solves the pieces within a budget; a piece that
is too large or out of time contributes its proven bound or its static one.
The improvement search and the portfolio start with it
(:func:`hios_opt.exact.solve`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

from ..bounds import best_bound, series_bound, series_points, series_segments
from ..costs import StageModel, default_model
from ..errors import ProblemTooLargeError
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule, Stage

__all__ = ["exact_series_bound", "glue", "PieceResult", "SERIES_SHARE", "MAX_PIECE_OPS", "MIN_PIECE_SECONDS"]

#: Share of a solve's time (after the warm start) the pieces may take.
SERIES_SHARE = 0.1

#: Pieces with more ops than this keep their static bound (their exact
#: solve would take the whole budget and rarely end).
MAX_PIECE_OPS = 60

#: Least time limit of one piece's solve.
MIN_PIECE_SECONDS = 0.2


class PieceResult(NamedTuple):
    """What a piece's solve gives :func:`exact_series_bound`."""

    #: A proven lower bound on the makespan of every schedule of the piece.
    bound_ms: float
    #: Whether the piece's best schedule is proven optimal (within ``slack_ms``).
    proven: bool
    #: The piece's best schedule found, or None.
    schedule: Schedule | None
    #: How far the bound may sit below the optimum by rounding alone.
    slack_ms: float = 0.0


def exact_series_bound(graph: OpGraph, platform: Platform, cost_model: StageModel | None, *,
                       budget_s: float, solve_piece: Callable[[OpGraph, float | None], PieceResult]
                       ) -> tuple[float | None, Schedule | None, dict[str, Any]]:
    """The series bound with each piece's bound from ``solve_piece(sub,
    seconds)``, and the schedule glued from the pieces' schedules.

    ``solve_piece(sub, seconds)`` returns a :class:`PieceResult`: a proven
    lower bound on the makespan of every schedule of ``sub`` (an exact
    solver's, on the same platform and cost model), whether it is the
    optimum, the best schedule of ``sub`` found (or None), and the bound's
    rounding slack; ``seconds=None`` asks only for a schedule (a
    heuristic's), with the bound of :func:`hios_opt.bounds.best_bound`. Pieces beyond
    :data:`MAX_PIECE_OPS` ops, those whose solve would start with less than
    :data:`MIN_PIECE_SECONDS` left of ``budget_s``, and those the solver
    refuses (:class:`ProblemTooLargeError`) are asked that way.

    Returns ``(bound, schedule, stats)``: ``bound`` and ``schedule`` are
    None when the graph has fewer than two pieces with ops between their
    ends (nothing to gain); ``schedule`` (see :func:`glue`; not yet
    evaluated) is None when a piece has none. ``stats`` counts the pieces
    proven optimal, bounded only, and left to their static bound, the
    seconds, and ``slack_ms``: the sum of the pieces' rounding slacks, by
    which the bound may sit below the optimum.
    """
    started = time.monotonic()
    model = default_model(cost_model)
    points = series_points(graph) if graph.n_ops > 1 else ()
    segments = series_segments(graph, points)
    pieces = [p for p in segments if len(p) > 2]
    stats: dict[str, Any] = {"pieces": len(pieces), "largest": max(map(len, pieces), default=0),
                             "proven": 0, "bounded": 0, "static": 0, "slack_ms": 0.0}
    if len(pieces) < 2:
        stats["skipped"] = "fewer than two pieces between series points"
        return None, None, stats
    solvable = sum(len(p) <= MAX_PIECE_OPS for p in pieces)
    end = started + budget_s
    schedules: list[Schedule | None] = []  # of the pieces, in order (series_bound asks in order)

    def piece_bound(sub: OpGraph) -> float:
        nonlocal solvable
        static = best_bound(sub, platform, model).value_ms
        seconds: float | None = None
        if sub.n_ops <= MAX_PIECE_OPS:
            seconds = (end - time.monotonic()) / max(1, solvable)
            solvable -= 1
            if seconds < MIN_PIECE_SECONDS:
                seconds = None
        try:
            found = solve_piece(sub, seconds)
        except ProblemTooLargeError:
            seconds, found = None, solve_piece(sub, None)
        schedules.append(found.schedule)
        stats["static" if seconds is None else "proven" if found.proven else "bounded"] += 1
        if found.bound_ms <= static:
            return static
        stats["slack_ms"] += found.slack_ms
        return found.bound_ms

    bound = series_bound(graph, model, piece_bound, points=points)
    stats["seconds"] = time.monotonic() - started
    stats["bound_ms"] = bound
    parts: list[Schedule | None] = []
    solved = iter(schedules)
    for piece in segments:
        if len(piece) > 2:
            parts.append(next(solved))
        else:  # one op, or two joined by an edge: one GPU, one after the other
            parts.append(Schedule([Stage(0, (graph.ids[v],)) for v in piece], gpus=platform.gpus,
                                  streams=platform.streams))
    complete = [p for p in parts if p is not None]
    glued = glue(graph, platform, segments, complete) if len(complete) == len(parts) else None
    return bound, glued, stats


def glue(graph: OpGraph, platform: Platform, segments: list[tuple[int, ...]], parts: list[Schedule]) -> Schedule:
    """One schedule of ``graph`` from schedules of its pieces
    (:func:`hios_opt.bounds.series_segments`; consecutive pieces share their
    series point).

    Each piece's GPUs are relabelled (two swapped) so that its first op, the
    series point it shares with the piece before, sits on the GPU it has
    there; its other stages follow the earlier pieces' on every GPU.

    Notes
    -----
    A piece's ops other than its first depend on that first op (a series
    point), so they start after it ends, when every stage of the earlier
    pieces has ended; and no edge joins two pieces except through their
    shared series point. The glued schedule's evaluation is therefore each
    piece's own, shifted: its makespan is ``sum(piece makespans) -
    sum(t(c))``, which meets :func:`hios_opt.bounds.series_bound` when every
    piece is optimal, provided the relabelling changes no delay (uniform
    links, or a link matrix symmetric under the swap); otherwise the
    evaluator says how long it is.
    """
    stages: list[Stage] = []
    where: dict[str, int] = {}
    for k, (piece, part) in enumerate(zip(segments, parts)):
        shared = graph.ids[piece[0]] if k else None
        swap: dict[int, int] = {}
        if shared is not None:
            mine, theirs = part.gpu_of(shared), where[shared]
            swap = {mine: theirs, theirs: mine}
        for st in part.stages:
            if shared is not None and shared in st.ops:
                continue  # placed with the piece before (a series point's stage holds it alone)
            gpu = swap.get(st.gpu, st.gpu)
            stages.append(Stage(gpu, st.ops))
            for op in st.ops:
                where[op] = gpu
    return Schedule(stages, gpus=platform.gpus, streams=platform.streams, algorithm="series",
                    graph_name=graph.name)
