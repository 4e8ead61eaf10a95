"""The one evaluator: validates a schedule and computes its timeline.

:func:`evaluate` checks a :class:`~hios_opt.schedules.Schedule` of op ids
against its graph and platform (every op once, stages of independent ops
that fit the streams, GPUs that exist, no deadlock) and times it with the
timing kernel's :func:`~hios_opt.timing.simulate` (the start rule of
``docs/design.md``, section 1). Every algorithm's reported makespan is this
module's number. ``simulate`` is re-exported here: the same computation on
op indices, without the id checks, for algorithms that time many candidate
(possibly partial) schedules.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .checks import is_int
from .costs import StageModel
from .errors import (
    CoverageError,
    DependentStageError,
    GpuIndexError,
    ScheduleError,
    StageSizeError,
)
from .graph import OpGraph
from .platform import Platform
from .schedules import Schedule
from .timing import SimResult, edge_delays, simulate

__all__ = ["evaluate", "simulate", "Timeline", "StageTiming", "Transfer", "SimResult"]


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
        delays = edge_delays(self.graph, self.platform)
        gpu = self.op_gpu
        end = self.op_end
        out = []
        for e, edge in enumerate(self.graph.edges):
            a, b = gpu[edge.src], gpu[edge.dst]
            if a != b:
                t0 = end[edge.src]
                out.append(Transfer(edge.src, edge.dst, a, b, t0, t0 + delays.between(e, a, b)))
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
        if not is_int(gpu) or not 0 <= gpu < k_gpus:
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
