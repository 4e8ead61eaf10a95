"""The one evaluator: validates a schedule and computes its timeline.

Semantics (docs/design.md section 1): a stage starts when the previous stage on
its GPU has ended and every input of every op in it is ready (an input from
the same GPU when its producer's stage ends; from another GPU ``c(u, v)``
later); it lasts ``L(stage)``; all its ops finish at its end; the makespan is
the latest stage end. Every algorithm's reported makespan is this module's
number.

:func:`evaluate` works on a :class:`~hios_opt.schedule.Schedule` of op ids.
:func:`simulate` is the same computation on op indices, without the id
checks, for algorithms that evaluate many candidate (possibly partial)
schedules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .costs import StageModel, default_model
from .errors import (
    CoverageError,
    DeadlockError,
    DependentStageError,
    GpuIndexError,
    InvalidCostError,
    ScheduleError,
    StageSizeError,
)
from .graph import OpGraph
from .platform import Platform
from .schedules import Schedule

__all__ = ["evaluate", "simulate", "edge_comm", "Timeline", "StageTiming", "Transfer", "SimResult"]


def edge_comm(graph: OpGraph, platform: Platform) -> tuple[float, ...]:
    """Cross-GPU delay of each edge under ``platform``'s uniform link, cached
    on the graph (graphs are immutable and platforms hashable)."""
    cache: dict[Platform, tuple[float, ...]] = graph.__dict__.setdefault("_edge_comm_cache", {})
    key = platform.with_(gpus=1, streams=1) if platform.uniform else platform
    comm = cache.get(key)
    if comm is None:
        comm = platform.edge_comm(graph)
        cache[key] = comm
    return comm


@dataclass(frozen=True)
class SimResult:
    """Raw result of :func:`simulate`, by stage index."""

    makespan: float
    start: list[float]
    end: list[float]
    latency: list[float]


def simulate(
    graph: OpGraph,
    platform: Platform,
    stage_gpu: Sequence[int],
    stage_ops: Sequence[Sequence[int]],
    cost_model: StageModel | None = None,
    *,
    partial: bool = False,
    stage_latency: Sequence[float] | None = None,
) -> SimResult:
    """Timeline of stages given as op indices, in O(V + E + stages).

    Stages of one GPU run in list order. With ``partial=True`` ops that are in
    no stage are ignored (edges touching them impose nothing); otherwise the
    caller guarantees that every op is in exactly one stage. Raises
    :class:`DeadlockError` when no execution exists. ``stage_latency`` may be
    passed to reuse latencies already computed.

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.diamond()                      # a -> {b, c} -> d
    >>> simulate(g, Platform(), [0, 0, 0, 0], [[0], [1], [2], [3]]).makespan
    7.0
    """
    cost = default_model(cost_model)
    n_stages = len(stage_ops)
    stage_of = [-1] * graph.n_ops
    for s, ops in enumerate(stage_ops):
        for v in ops:
            stage_of[v] = s
    lat_solo = graph.latency
    if stage_latency is None:
        stage_latency = [
            lat_solo[ops[0]] if len(ops) == 1 else cost.stage_latency(graph, ops) for ops in stage_ops
        ]
    uniform = platform.uniform
    comm = edge_comm(graph, platform) if uniform else None
    # Dependencies between stages as (consumer stage, delay) lists: one flat
    # pass over the edges, then one over the stages for the per-GPU order.
    out_deps: list[list[tuple[int, float]]] = [[] for _ in range(n_stages)]
    indegree = [0] * n_stages
    for e, (u, v) in enumerate(zip(graph.edge_src, graph.edge_dst)):
        su = stage_of[u]
        sv = stage_of[v]
        if su == sv:
            if su < 0 and not partial:
                raise CoverageError(f"op indices {u} and {v} are in no stage")
            continue  # both unplaced, or dependent ops in one stage (rejected by evaluate())
        if su < 0 or sv < 0:
            if partial:
                continue
            raise CoverageError(f"op index {u if su < 0 else v} is in no stage")
        gu = stage_gpu[su]
        gv = stage_gpu[sv]
        if gu == gv:
            delay = 0.0
        elif uniform:
            delay = comm[e]
        else:
            delay = platform.comm_ms(graph, e, gu, gv)
        out_deps[su].append((sv, delay))
        indegree[sv] += 1
    last_on_gpu: dict[int, int] = {}
    for s, gpu in enumerate(stage_gpu):
        prev = last_on_gpu.get(gpu)
        if prev is not None:
            out_deps[prev].append((s, 0.0))
            indegree[s] += 1
        last_on_gpu[gpu] = s
    ready = [0.0] * n_stages
    start = [0.0] * n_stages
    end = [0.0] * n_stages
    queue = [s for s in range(n_stages) if indegree[s] == 0]
    done = 0
    makespan = 0.0
    while queue:
        s = queue.pop()
        done += 1
        t0 = ready[s]
        t1 = t0 + stage_latency[s]
        start[s] = t0
        end[s] = t1
        if t1 > makespan:
            makespan = t1
        for t, delay in out_deps[s]:
            r = t1 + delay
            if r > ready[t]:
                ready[t] = r
            indegree[t] -= 1
            if indegree[t] == 0:
                queue.append(t)
    if done < n_stages:
        raise DeadlockError(_deadlock_message(out_deps, indegree, stage_gpu, stage_ops, graph))
    if not math.isfinite(makespan):
        s = min(range(n_stages), key=lambda k: (math.isfinite(end[k]), start[k]))
        raise InvalidCostError(
            f"stage #{s} (gpu {stage_gpu[s]}: {', '.join(graph.ids[v] for v in stage_ops[s])}) ends at "
            f"{end[s]} ms: the costs of graph {graph.name!r} on this platform overflow a float"
        )
    return SimResult(makespan, start, end, list(stage_latency))


def _deadlock_message(out_deps, indegree, stage_gpu, stage_ops, graph) -> str:
    stuck = {s for s, d in enumerate(indegree) if d > 0}
    waits_on: dict[int, int] = {}
    for s in stuck:
        for t, _ in out_deps[s]:
            if t in stuck:
                waits_on.setdefault(t, s)
    node = min(stuck)
    seen: dict[int, int] = {}
    walk: list[int] = []
    while node not in seen:
        seen[node] = len(walk)
        walk.append(node)
        node = waits_on[node]
    cycle = walk[seen[node]:]
    ids = graph.ids

    def label(s: int) -> str:
        return f"stage #{s} (gpu {stage_gpu[s]}: {', '.join(ids[v] for v in stage_ops[s])})"

    parts = [label(s) for s in cycle]
    return "deadlock: the stage order contradicts the dependencies; " + " waits for ".join(
        parts + [label(cycle[0])]
    )


# --------------------------------------------------------------------- results
@dataclass(frozen=True)
class StageTiming:
    index: int
    gpu: int
    ops: tuple[str, ...]
    start: float
    end: float

    @property
    def latency(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Transfer:
    """A cross-GPU tensor move: ready at ``start`` on ``src_gpu``, usable at
    ``end`` on ``dst_gpu``."""

    src: str
    dst: str
    src_gpu: int
    dst_gpu: int
    start: float
    end: float


class Timeline:
    """The evaluated schedule: stage and op times, makespan, per-GPU busy time.

    ``op_start[v]`` and ``op_end[v]`` are the start and end of ``v``'s stage
    (every op of a stage finishes at the stage's end); ``op_stream[v]`` is its
    position in the stage.
    """

    def __init__(self, graph: OpGraph, platform: Platform, schedule: Schedule, sim: SimResult,
                 stage_ops: list[list[int]], stage_gpu: list[int]) -> None:
        self.graph = graph
        self.platform = platform
        self.schedule = schedule
        self.makespan: float = sim.makespan
        self._sim = sim
        self._stage_ops = stage_ops
        self._stage_gpu = stage_gpu

    def __repr__(self) -> str:
        return (f"Timeline(makespan={self.makespan:.6g} ms, stages={len(self._stage_ops)}, "
                f"gpus={self.platform.gpus}, streams={self.platform.streams})")

    @cached_property
    def stages(self) -> list[StageTiming]:
        ids = self.graph.ids
        return [
            StageTiming(s, self._stage_gpu[s], tuple(ids[v] for v in ops), self._sim.start[s], self._sim.end[s])
            for s, ops in enumerate(self._stage_ops)
        ]

    @cached_property
    def _op_fields(self) -> tuple[dict[str, int], dict[str, int], dict[str, float], dict[str, float]]:
        ids = self.graph.ids
        gpu, stream, start, end = {}, {}, {}, {}
        for s, ops in enumerate(self._stage_ops):
            for k, v in enumerate(ops):
                gpu[ids[v]] = self._stage_gpu[s]
                stream[ids[v]] = k
                start[ids[v]] = self._sim.start[s]
                end[ids[v]] = self._sim.end[s]
        return gpu, stream, start, end

    @property
    def op_gpu(self) -> dict[str, int]:
        return self._op_fields[0]

    @property
    def op_stream(self) -> dict[str, int]:
        return self._op_fields[1]

    @property
    def op_start(self) -> dict[str, float]:
        return self._op_fields[2]

    @property
    def op_end(self) -> dict[str, float]:
        return self._op_fields[3]

    @cached_property
    def busy_ms(self) -> list[float]:
        """Sum of stage latencies on each GPU."""
        busy = [0.0] * self.platform.gpus
        for s, gpu in enumerate(self._stage_gpu):
            busy[gpu] += self._sim.latency[s]
        return busy

    @property
    def idle_ms(self) -> list[float]:
        """Makespan minus busy time on each GPU."""
        return [self.makespan - b for b in self.busy_ms]

    @cached_property
    def transfers(self) -> list[Transfer]:
        """Every edge whose producer and consumer sit on different GPUs."""
        g, p = self.graph, self.platform
        gpu = self.op_gpu
        end = self.op_end
        out = []
        for e, edge in enumerate(g.edges):
            a, b = gpu[edge.src], gpu[edge.dst]
            if a != b:
                t0 = end[edge.src]
                out.append(Transfer(edge.src, edge.dst, a, b, t0, t0 + p.comm_ms(g, e, a, b)))
        return out

    def to_dataframe(self, level: str = "op") -> Any:
        """A pandas DataFrame with one row per op (``level="op"``) or per
        stage (``level="stage"``)."""
        import pandas as pd

        if level == "stage":
            return pd.DataFrame(
                [{"stage": st.index, "gpu": st.gpu, "ops": ", ".join(st.ops), "start_ms": st.start,
                  "end_ms": st.end, "latency_ms": st.latency} for st in self.stages]
            )
        if level != "op":
            raise ScheduleError(f"level must be 'op' or 'stage', got {level!r}")
        gpu, stream, start, end = self._op_fields
        rows = [
            {"op": op, "gpu": gpu[op], "stream": stream[op], "start_ms": start[op], "end_ms": end[op],
             "latency_ms": self.graph.op(op).latency_ms}
            for op in sorted(gpu, key=lambda o: (start[o], gpu[o], stream[o]))
        ]
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        return f"<p>{self!r}</p>" + self.to_dataframe("stage")._repr_html_()


# ------------------------------------------------------------------- evaluate
def evaluate(
    graph: OpGraph,
    platform: Platform,
    schedule: Schedule,
    cost_model: StageModel | None = None,
) -> Timeline:
    """Validate ``schedule`` for ``graph`` on ``platform`` and compute its timeline.

    Parameters
    ----------
    graph, platform, schedule
        The problem and the plan. The platform's ``gpus`` and ``streams`` are
        the limits checked (the schedule's own fields are informational).
    cost_model
        Stage-latency model; default: the graph's measured table with the
        analytic contention model (alpha 0.5) as fallback.

    Returns
    -------
    Timeline
        ``.makespan`` is the number every algorithm reports.

    Raises
    ------
    CoverageError
        An op is missing, placed twice, or unknown to the graph.
    StageSizeError, DependentStageError, GpuIndexError, DeadlockError

    Examples
    --------
    >>> from hios_opt import generators, Schedule, Stage
    >>> g = generators.diamond()   # a(1) -> b(2, u=0.8), c(3, u=0.8) -> d(1)
    >>> s = Schedule([Stage(0, ("a",)), Stage(0, ("b", "c")), Stage(0, ("d",))], streams=2)
    >>> evaluate(g, Platform(gpus=1, streams=2), s).makespan  # 1 + (0.5*5 + 0.5*max(4.0, 3)) + 1
    6.5
    """
    if not isinstance(schedule, Schedule):
        raise ScheduleError(f"expected a Schedule, got {type(schedule).__name__}")
    stage_ops: list[list[int]] = []
    stage_gpu: list[int] = []
    try:
        _check_stages(graph, platform, schedule, stage_ops, stage_gpu)
        sim = simulate(graph, platform, stage_gpu, stage_ops, cost_model)
    except DependentStageError:
        raise
    except Exception:
        # A stage whose ops are joined only through ops of other stages
        # passes the cheap check and ends in a deadlock (or in whatever error
        # comes first); the full check below runs on this error path only.
        dependent = _first_dependent_stage(graph, stage_ops, stage_gpu)
        if dependent is None:
            raise
        raise dependent from None
    return Timeline(graph, platform, schedule, sim, stage_ops, stage_gpu)


def _check_stages(graph: OpGraph, platform: Platform, schedule: Schedule, stage_ops: list[list[int]],
                  stage_gpu: list[int]) -> None:
    """Validate the stages and fill ``stage_ops`` / ``stage_gpu`` (op indices).

    Antichains. Checking that no *path* joins two ops of a stage needs
    reachability (``n^2 / 8`` bytes as bitsets); this checks only the
    *edges* inside each stage, in O(V + E), and :func:`evaluate` relies on
    the stage simulation for the rest: when ops ``a`` and ``b`` of stage
    ``S`` are joined by a path whose inner ops lie outside ``S``, the first
    inner op's stage waits for ``S`` and ``S`` waits for the last inner op's
    stage, and the stages along the path link the two (an edge inside one of
    them is caught here): a cycle among stages, hence a deadlock, which
    :func:`simulate` always detects. On any error, :func:`evaluate` looks
    for the first stage with a dependent pair (:meth:`OpGraph.dependent_pair`,
    exact in linear memory) and reports it instead, so the error and its
    message are those of a full check stage by stage.
    """
    index = graph.id_index
    succ = graph.succ
    n = graph.n_ops
    placed = [False] * n
    stage_of = [-1] * n
    k_gpus, k_streams = platform.gpus, platform.streams
    unknown: list[str] = []
    for s, stage in enumerate(schedule.stages):
        gpu = stage.gpu
        if isinstance(gpu, bool) or not isinstance(gpu, int) or not 0 <= gpu < k_gpus:
            raise GpuIndexError(
                f"stage #{s} ({', '.join(map(str, stage.ops))}) is on GPU {gpu!r}, "
                f"but the platform has GPUs 0..{k_gpus - 1}"
            )
        if not stage.ops:
            raise ScheduleError(f"stage #{s} on GPU {gpu} is empty")
        if len(stage.ops) > k_streams:
            raise StageSizeError(
                f"stage #{s} on GPU {gpu} holds {len(stage.ops)} ops ({', '.join(stage.ops)}) "
                f"but the platform has {k_streams} stream(s) per GPU"
            )
        ops = []
        for op_id in stage.ops:
            v = index.get(op_id) if isinstance(op_id, str) else None
            if v is None:
                unknown.append(str(op_id))
                continue
            if placed[v]:
                raise CoverageError(f"op {op_id!r} is placed twice (again in stage #{s} on GPU {gpu})")
            placed[v] = True
            ops.append(v)
        if len(ops) > 1:
            for v in ops:
                stage_of[v] = s
            if any(stage_of[w] == s for v in ops for w in succ[v]):
                dependent = _first_dependent_stage(graph, stage_ops + [ops], stage_gpu + [gpu])
                assert dependent is not None  # an edge inside stage s is a dependent pair
                raise dependent
        stage_ops.append(ops)
        stage_gpu.append(gpu)
    if unknown:
        raise CoverageError(
            f"schedule names {len(unknown)} op(s) that graph {graph.name!r} does not have: "
            f"{_some(unknown)}"
        )
    missing = [graph.ids[v] for v in range(n) if not placed[v]]
    if missing:
        raise CoverageError(f"schedule leaves {len(missing)} op(s) of graph {graph.name!r} unplaced: {_some(missing)}")


def _first_dependent_stage(graph: OpGraph, stage_ops: list[list[int]],
                           stage_gpu: list[int]) -> DependentStageError | None:
    """The error for the first stage (in schedule order) holding two ops
    joined by a path, naming the first such pair in stage order."""
    for s, ops in enumerate(stage_ops):
        if len(ops) > 1:
            pair = graph.dependent_pair(ops)
            if pair is not None:
                return DependentStageError(
                    f"stage #{s} on GPU {stage_gpu[s]}: ops {graph.ids[pair[0]]!r} and {graph.ids[pair[1]]!r} "
                    "depend on each other and cannot run concurrently"
                )
    return None


def _some(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(x) for x in items[:limit])
    return shown + (f" ... (+{len(items) - limit} more)" if len(items) > limit else "")


def makespans_close(a: float, b: float, tol: float = 1e-6) -> bool:
    """Float comparison used when a solver's objective is checked against the
    evaluator."""
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)
