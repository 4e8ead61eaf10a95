"""Compile a schedule of a traced model into an executable plan.

A :class:`Plan`, built by :func:`compile`, is what every backend runs
(threads on CPU, CUDA streams, ``torch.distributed`` ranks). It fixes, once
and for all, a global order of the operators, each operator's GPU, stream,
waits and cross-GPU copies (a :class:`PlannedOp`), the last reader of every
value on every GPU (so memory can be freed), and the values that cross each
ordered pair of GPUs in production order (what a distributed rank sends and
receives). Why that order is safe to enqueue is in the Notes of :class:`Plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from hios_opt.checks import check_number
from hios_opt.errors import CoverageError, ExecutorError, ScheduleError
from hios_opt.evaluate import evaluate
from hios_opt.graph import OpGraph
from hios_opt.platform import Platform
from hios_opt.schedules import Schedule
from hios_opt.timing import stage_order
from hios_opt.trace import TracedGraph

__all__ = ["RemoteInput", "PlannedOp", "PlanStage", "Plan", "compile", "check_timeout", "MAX_TIMEOUT_S"]

#: Longest timeout (s) an executor accepts: a week. Beyond it, waits
#: overflowed (1e30 s: OverflowError and SIGABRT on the CPU backend; gloo
#: takes milliseconds in a C int, 24.8 days at most).
MAX_TIMEOUT_S = 7 * 24 * 3600.0


def check_timeout(timeout_s: Any, name: str = "timeout_s") -> float:
    """``timeout_s`` as a float in ``(0, MAX_TIMEOUT_S]``, else :class:`ExecutorError`.

    >>> check_timeout(30)
    30.0
    """
    return check_number(timeout_s, name, min_value=0, include_min=False, max_value=MAX_TIMEOUT_S,
                        error=ExecutorError, expected=f"a number of seconds in (0, {MAX_TIMEOUT_S:g}]")


@dataclass(frozen=True)
class RemoteInput:
    """An input of an operator produced on another logical GPU.

    Attributes
    ----------
    value : str
        The fx value.
    producer : str
        The operator producing it.
    src_gpu : int
        The producer's logical GPU.
    fetcher : str
        The operator on the consumer's GPU that copies it there (the first
        consumer in the global order; may be the consumer itself).
    """

    value: str
    producer: str
    src_gpu: int
    fetcher: str


@dataclass(frozen=True)
class PlannedOp:
    """One operator of a :class:`Plan`, with everything a backend needs.

    Attributes
    ----------
    index : int
        Position in the plan's global order.
    op : str
        Operator id.
    gpu, stream : int
        Logical GPU and stream (position in its stage).
    stage : int
        Index of its stage in ``schedule.stages``.
    inputs, outputs : tuple of str
        fx values read and produced (as in :class:`~hios_opt.trace.TracedOp`).
    wait_local : tuple of str
        Operators on the same GPU but another stream to wait for.
    remote : tuple of RemoteInput
        Inputs produced on other GPUs.
    free : tuple of (int, str)
        ``(gpu, value)`` copies whose last reader, in the global order, is
        this operator (model outputs are never freed).
    """

    index: int
    op: str
    gpu: int
    stream: int
    stage: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    wait_local: tuple[str, ...]
    remote: tuple[RemoteInput, ...]
    free: tuple[tuple[int, str], ...]

    @property
    def fetch(self) -> tuple[RemoteInput, ...]:
        """Remote inputs this operator copies onto its GPU itself."""
        return tuple(r for r in self.remote if r.fetcher == self.op)


@dataclass(frozen=True)
class PlanStage:
    """A stage of the schedule as the plan runs it.

    Attributes
    ----------
    index : int
        Index in ``schedule.stages``.
    gpu : int
        Logical GPU.
    ops : tuple of str
        Its operators; the op at position ``k`` runs on stream ``k``.
    position : int
        Its position among the stages of its GPU.
    """

    index: int
    gpu: int
    ops: tuple[str, ...]
    position: int


@dataclass
class Plan:
    """An executable plan: a schedule bound to a traced model.

    Built by :func:`compile`; run it with :func:`hios_opt.executor.run`.

    Attributes
    ----------
    traced : TracedGraph
        The model.
    schedule : Schedule
        The schedule it runs.
    steps : tuple of PlannedOp
        Every operator, in the global order.
    stages : tuple of PlanStage
        The schedule's stages (schedule order).
    gpus : tuple of int
        Logical GPUs that hold at least one operator, ascending.
    streams : int
        Largest stage size (streams used per GPU; at most ``schedule.streams``).
    device_map : dict of int to torch.device, or None
        Logical GPU -> physical device, as given to :func:`compile`.
    readers : dict of str to int
        Number of operators that read each value (any GPU).
    transfers : dict of (int, int) to tuple of str
        ``(src_gpu, dst_gpu)`` -> values crossing, in production order; model
        outputs made off GPU 0 come last, bound for GPU 0.
    output_gpu : dict of str to int
        Logical GPU holding each model-output value (``-1``: a model input).
    barrier : bool
        Whether a stage waits for the whole previous stage on its GPU.

    Notes
    -----
    The *global order* is the schedule's stages in a topological order of the
    stage graph (consecutive stages of one GPU, and producer stage -> consumer
    stage for every edge), the ops of a stage in stream order. A backend that
    enqueues work from one host thread (CUDA, a distributed rank) follows it, so
    every event is recorded before anyone waits on it. Each operator waits for
    its same-GPU producers on other streams and, with ``barrier=True``, the
    previous stage on its GPU (the stage semantics of the problem contract,
    docs/design.md section 1); an input made on another GPU is copied by its
    first consumer there in the global order, and later consumers wait for that
    copy. Model outputs go to GPU 0 last in ``transfers``.
    """

    traced: TracedGraph
    schedule: Schedule
    steps: tuple[PlannedOp, ...]
    stages: tuple[PlanStage, ...]
    gpus: tuple[int, ...]
    streams: int
    device_map: dict[int, torch.device] | None
    readers: dict[str, int]
    transfers: dict[tuple[int, int], tuple[str, ...]]
    output_gpu: dict[str, int]
    barrier: bool = True
    _by_op: dict[str, PlannedOp] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_op = {step.op: step for step in self.steps}

    def __repr__(self) -> str:
        return (
            f"Plan(model={self.traced.name!r}, ops={len(self.steps)}, stages={len(self.stages)}, "
            f"gpus={list(self.gpus)}, streams={self.streams}, "
            f"transfers={sum(len(v) for v in self.transfers.values())})"
        )

    def step(self, op_id: str) -> PlannedOp:
        """The planned operator ``op_id``."""
        return self._by_op[op_id]

    def workers(self) -> dict[tuple[int, int], list[PlannedOp]]:
        """``(gpu, stream)`` -> its operators in execution order."""
        out: dict[tuple[int, int], list[PlannedOp]] = {}
        for step in self.steps:
            out.setdefault((step.gpu, step.stream), []).append(step)
        return out

    def describe(self) -> str:
        """A readable listing: per GPU, per stage, the ops and their waits."""
        lines = [repr(self)]
        for gpu in self.gpus:
            lines.append(f"GPU {gpu}:")
            for stage in (s for s in self.stages if s.gpu == gpu):
                parts = []
                for op in stage.ops:
                    step = self.step(op)
                    extra = [f"wait {','.join(step.wait_local)}"] if step.wait_local else []
                    extra += [f"from GPU {r.src_gpu}: {r.value}" for r in step.remote]
                    parts.append(f"s{step.stream}:{op}" + (f" ({'; '.join(extra)})" if extra else ""))
                lines.append(f"  stage {stage.position}: " + "  ".join(parts))
        return "\n".join(lines)


def compile(
    traced: TracedGraph,
    schedule: Schedule,
    device_map: Mapping[int, str | int | torch.device] | None = None,
    *,
    barrier: bool = True,
) -> Plan:
    """Bind ``schedule`` to ``traced`` and fix everything a backend needs.

    Parameters
    ----------
    traced : TracedGraph
        The model, from :func:`hios_opt.trace.trace`.
    schedule : Schedule
        A schedule of ``traced.to_opgraph()`` (same op ids), from any
        algorithm or by hand.
    device_map : mapping of int to device, optional
        Logical GPU -> physical device (``"cuda:1"``, ``1``, ``"cpu"``). Two
        logical GPUs may share one device. Default: chosen by the backend
        (CPU: ``"cpu"``; CUDA: logical GPU ``k`` on ``cuda:k``).
    barrier : bool
        A stage starts only when the previous stage on its GPU has ended (the
        schedule semantics of docs/design.md section 1). ``False`` keeps only the
        data dependencies.

    Returns
    -------
    Plan

    Raises
    ------
    CoverageError
        The schedule misses an operator of the model, names an unknown one, or
        places one twice (the message names them).
    ScheduleError
        Any other invalid schedule (stage too large, dependent ops in a stage,
        GPU out of range, deadlock), as :func:`hios_opt.evaluate` reports it.
    ExecutorError
        A bad ``device_map``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from hios_opt import Schedule
    >>> from hios_opt.trace import trace
    >>> net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> traced = trace(net, torch.zeros(1, 4))
    >>> plan = compile(traced, Schedule.from_gpu_lists([["_0"], ["_2"]]))
    >>> plan.step("_2").remote[0].value   # _1 (linear+relu) crosses to GPU 1
    '_1'
    >>> plan.transfers                    # ... and the model output comes back to GPU 0
    {(0, 1): ('_1',), (1, 0): ('_2',)}
    """
    if not isinstance(traced, TracedGraph):
        raise ExecutorError(f"compile() needs a TracedGraph, got {type(traced).__name__}")
    _check_coverage(traced, schedule)
    # the schedule's own gpus/streams are the limits: a stage beyond them is an error
    graph = traced.to_opgraph()
    evaluate(graph, Platform(gpus=schedule.gpus, streams=schedule.streams), schedule)
    stages = _plan_stages(schedule)
    order = _stage_order(graph, schedule)
    steps = _plan_ops(traced, schedule, stages, order, barrier)
    gpus = tuple(sorted({st.gpu for st in stages}))
    readers: dict[str, int] = {}
    for step in steps:
        for value in step.inputs:
            readers[value] = readers.get(value, 0) + 1
    gpu_of = {step.op: step.gpu for step in steps}
    fetched_on: dict[str, set[int]] = {}
    for step in steps:
        for r in step.fetch:
            fetched_on.setdefault(r.value, set()).add(step.gpu)
    transfers: dict[tuple[int, int], list[str]] = {}
    for step in steps:
        for value in step.outputs:
            for dst in sorted(fetched_on.get(value, ())):
                transfers.setdefault((step.gpu, dst), []).append(value)
    output_gpu: dict[str, int] = {}
    for value in traced.output_values:
        producer = traced.producer(value)
        output_gpu[value] = -1 if producer is None else gpu_of[producer]
        if output_gpu[value] > 0 and value not in transfers.get((output_gpu[value], 0), ()):
            transfers.setdefault((output_gpu[value], 0), []).append(value)
    return Plan(
        traced=traced,
        schedule=schedule,
        steps=steps,
        stages=stages,
        gpus=gpus,
        streams=max(len(st.ops) for st in schedule.stages),
        device_map=_normalize_device_map(device_map, gpus),
        readers=readers,
        transfers={k: tuple(v) for k, v in transfers.items()},
        output_gpu=output_gpu,
        barrier=barrier,
    )


def _check_coverage(traced: TracedGraph, schedule: Any) -> None:
    stages = getattr(schedule, "stages", None)
    if stages is None:
        raise ScheduleError(f"expected a Schedule, got {type(schedule).__name__}")
    if not stages:
        raise CoverageError(f"the schedule is empty but model {traced.name!r} has {len(traced.ops)} op(s)")
    known = set(traced.ids)
    placed = [op for st in stages for op in st.ops]
    unknown = [op for op in placed if op not in known]
    missing = [op for op in traced.ids if op not in set(placed)]
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"names {len(unknown)} op(s) that model {traced.name!r} does not have: {_some(unknown)}")
        if missing:
            parts.append(f"leaves {len(missing)} op(s) of model {traced.name!r} unplaced: {_some(missing)}")
        graph_name = getattr(schedule, "graph_name", "?")
        raise CoverageError(f"schedule (for graph {graph_name!r}) " + "; ".join(parts))


def _some(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(repr(x) for x in items[:limit])
    return shown + (f" ... (+{len(items) - limit} more)" if len(items) > limit else "")


def _plan_stages(schedule: Schedule) -> tuple[PlanStage, ...]:
    count: dict[int, int] = {}
    out = []
    for index, stage in enumerate(schedule.stages):
        position = count.get(stage.gpu, 0)
        count[stage.gpu] = position + 1
        out.append(PlanStage(index, int(stage.gpu), tuple(stage.ops), position))
    return tuple(out)


def _stage_order(graph: OpGraph, schedule: Schedule) -> list[int]:
    """Topological order of the stage graph (the timing kernel's
    :func:`~hios_opt.timing.stage_order`), ties broken by schedule position."""
    index = graph.id_index
    return stage_order(graph, [st.gpu for st in schedule.stages],
                       [[index[op] for op in st.ops] for st in schedule.stages])


def _plan_ops(
    traced: TracedGraph,
    schedule: Schedule,
    stages: tuple[PlanStage, ...],
    order: list[int],
    barrier: bool,
) -> tuple[PlannedOp, ...]:
    gpu_of: dict[str, int] = {}
    stream_of: dict[str, int] = {}
    stage_of: dict[str, int] = {}
    for stage in stages:
        for k, op in enumerate(stage.ops):
            gpu_of[op], stream_of[op], stage_of[op] = stage.gpu, k, stage.index
    previous: dict[int, PlanStage | None] = {}
    prev_stage_of: dict[int, PlanStage | None] = {}
    for stage in stages:
        prev_stage_of[stage.index] = previous.get(stage.gpu)
        previous[stage.gpu] = stage

    sequence = [op for s in order for op in stages[s].ops]
    fetcher: dict[tuple[int, str], str] = {}
    last_reader: dict[tuple[int, str], int] = {}
    for position, op_id in enumerate(sequence):
        gpu = gpu_of[op_id]
        for value in traced.op(op_id).inputs:
            producer = traced.producer(value)
            src = gpu if producer is None else gpu_of[producer]
            last_reader[(gpu, value)] = position
            if src != gpu:
                fetcher.setdefault((gpu, value), op_id)
                last_reader[(src, value)] = position
    outputs = set(traced.output_values)
    frees_at: dict[int, list[tuple[int, str]]] = {}
    for key, position in last_reader.items():
        if key[1] not in outputs:
            frees_at.setdefault(position, []).append(key)

    steps = []
    for position, op_id in enumerate(sequence):
        traced_op = traced.op(op_id)
        gpu, stream = gpu_of[op_id], stream_of[op_id]
        waits: list[str] = []
        remote: list[RemoteInput] = []
        for value in traced_op.inputs:
            producer = traced.producer(value)
            if producer is None:
                continue
            if gpu_of[producer] == gpu:
                if stream_of[producer] != stream and producer not in waits:
                    waits.append(producer)
            else:
                remote.append(RemoteInput(value, producer, gpu_of[producer], fetcher[(gpu, value)]))
        before = prev_stage_of[stage_of[op_id]]
        if barrier and before is not None:
            waits += [p for k, p in enumerate(before.ops) if k != stream and p not in waits]
        steps.append(
            PlannedOp(
                index=position,
                op=op_id,
                gpu=gpu,
                stream=stream,
                stage=stage_of[op_id],
                inputs=traced_op.inputs,
                outputs=traced_op.outputs,
                wait_local=tuple(waits),
                remote=tuple(remote),
                free=tuple(sorted(frees_at.get(position, ()))),
            )
        )
    return tuple(steps)


def _normalize_device_map(
    device_map: Mapping[int, str | int | torch.device] | None, gpus: tuple[int, ...]
) -> dict[int, torch.device] | None:
    if device_map is None:
        return None
    if not isinstance(device_map, Mapping):
        raise ExecutorError(f"device_map must map logical GPU -> device, got {type(device_map).__name__}")
    out: dict[int, torch.device] = {}
    for gpu, device in device_map.items():
        try:
            out[int(gpu)] = torch.device(f"cuda:{device}" if isinstance(device, int) else device)
        except (RuntimeError, TypeError, ValueError) as exc:
            raise ExecutorError(f"device_map[{gpu!r}] = {device!r} is not a device: {exc}") from None
    missing = [g for g in gpus if g not in out]
    if missing:
        raise ExecutorError(f"device_map has no device for logical GPU(s) {missing}")
    return out
