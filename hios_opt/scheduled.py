"""From a model to a faster model in one call: :func:`optimize`.

``optimize(model, example_inputs)`` traces the model, measures its costs on
the device (or estimates them for a named GPU), finds the best schedule
within a time limit (:mod:`hios_opt.autoschedule`), compiles it and returns
a :class:`ScheduledModule`, an ``nn.Module`` whose ``forward`` runs the plan:
one CUDA-graph replay on a GPU, worker threads on a CPU.

**Never slower**: the plan is timed against the plain forward and the
sequential plan on the device; unless a plan beats the plain forward by
``margin``, the module runs the plain forward, warns
(:class:`~hios_opt.errors.NotFasterWarning`) and keeps the numbers in its
:class:`Decision`. A module saves as JSON (never pickled code) and loads for
the same model, re-checked where the hardware differs.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import math
import os
import statistics
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hios_opt import _torch  # noqa: F401  (first: without torch, an error naming the [torch] extra)

# isort: split
import torch
from torch import nn

from hios_opt import __version__
from hios_opt._io import check_header, read_json, require, write_json_atomic
from hios_opt.autoschedule import DEFAULT_SOLVER, best_schedule, check_solver
from hios_opt.checks import canonical_name, check_int, check_number, shorten
from hios_opt.devices import check_device, device_kind
from hios_opt.errors import (
    DeviceError,
    FormatError,
    InputMismatchError,
    ModelMismatchError,
    NotFasterWarning,
    OptionError,
    TraceError,
)
from hios_opt.estimate import estimate_costs as estimate_graph_costs
from hios_opt.estimate import get_device
from hios_opt.evaluate import evaluate
from hios_opt.executor.cpu import CpuExecutor
from hios_opt.executor.cuda import CudaExecutor
from hios_opt.executor.plan import compile
from hios_opt.graph import OpGraph
from hios_opt.platform import MAX_GPUS, MAX_STREAMS, Platform
from hios_opt.profile import measure_costs
from hios_opt.realbench import check_graph, measure_handoff_ms, outputs_match
from hios_opt.results import result_frame, result_row
from hios_opt.schedules import Schedule
from hios_opt.trace import TracedGraph, trace

__all__ = [
    "optimize", "ScheduledModule", "Decision", "decide", "DEFAULT_SOLVER", "DEFAULT_TIME_LIMIT_S", "DEFAULT_MARGIN",
    "MODES", "MODULE_FORMAT", "time_calls",
]

#: Seconds :func:`optimize` gives the schedule search by default.
DEFAULT_TIME_LIMIT_S = 10.0
#: A plan must beat the plain forward by this share to be used (0.03: 3 % faster).
DEFAULT_MARGIN = 0.03
#: What a :class:`ScheduledModule` runs: the schedule's plan, the sequential plan, or the plain forward.
MODES = ("scheduled", "sequential", "forward")
#: What a call with inputs of another shape does: raise, or run the plain forward.
ON_NEW_SHAPE = ("error", "forward")
MODULE_FORMAT = "hios-opt/scheduled-module"
MODULE_VERSION = 1
_ESTIMATE_DTYPES = {torch.float16: "fp16", torch.bfloat16: "bf16", torch.float32: "fp32"}


# ------------------------------------------------------------------ decision
@dataclass(frozen=True)
class Decision:
    """What a :class:`ScheduledModule` runs, and the measurements behind it.

    Attributes
    ----------
    mode : {"scheduled", "sequential", "forward"}
        The schedule's plan, the sequential plan (one op after another,
        replayed as a CUDA graph on a GPU), or the model's plain forward.
    reason : str
        One sentence with the numbers.
    forward_ms, scheduled_ms : float
        Median latency of the plain forward and of the schedule's plan.
    sequential_ms : float or None
        Median latency of the sequential plan (None when the schedule is sequential).
    margin : float
        The share a plan had to gain.
    device, device_kind : str
        Where it was measured (``"cuda:0"``, ``"cuda:NVIDIA H100 80GB HBM3"``).
    runs : int
        Timed runs of each candidate.
    date : str
        When (UTC, ISO 8601).
    """

    mode: str
    reason: str
    forward_ms: float
    scheduled_ms: float
    sequential_ms: float | None
    margin: float
    device: str
    device_kind: str
    runs: int
    date: str

    @property
    def measured_ms(self) -> float:
        """The median latency of what runs."""
        return {"scheduled": self.scheduled_ms, "sequential": self.sequential_ms,
                "forward": self.forward_ms}[self.mode] or math.nan

    @property
    def speedup(self) -> float:
        """Plain forward latency / latency of what runs (1.0 in mode ``"forward"``)."""
        return self.forward_ms / self.measured_ms

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, source: str) -> Decision:
        where = f"{source}: decision"
        mode = require(data, "mode", where, str)
        if mode not in MODES:
            raise FormatError(f"{where}: field 'mode' must be one of {', '.join(MODES)}, got {mode!r:.40}")
        sequential = data.get("sequential_ms")
        return cls(mode, require(data, "reason", where, str), float(require(data, "forward_ms", where, float)),
                   float(require(data, "scheduled_ms", where, float)),
                   None if sequential is None else float(sequential), float(require(data, "margin", where, float)),
                   require(data, "device", where, str), require(data, "device_kind", where, str),
                   require(data, "runs", where, int), require(data, "date", where, str))


def decide(forward_ms: float, scheduled_ms: float, sequential_ms: float | None, margin: float) -> tuple[str, str]:
    """``(mode, reason)``: the fastest plan that beats the plain forward by
    ``margin``, else the plain forward. The sequential plan is preferred to
    the schedule's only when it is faster by ``margin`` too.

    >>> decide(10.0, 8.0, 9.0, 0.03)[0], decide(10.0, 9.9, 9.9, 0.03)[0], decide(10.0, 9.0, 7.0, 0.03)[0]
    ('scheduled', 'forward', 'sequential')
    """
    limit = forward_ms * (1.0 - margin)
    scheduled_ok = scheduled_ms <= limit
    if sequential_ms is not None and sequential_ms <= limit and (
            not scheduled_ok or sequential_ms <= scheduled_ms * (1.0 - margin)):
        return "sequential", (f"the sequential plan ({sequential_ms:.4g} ms) beats the schedule's plan "
                              f"({scheduled_ms:.4g} ms) and the plain forward ({forward_ms:.4g} ms)")
    if scheduled_ok:
        return "scheduled", (f"the schedule's plan takes {scheduled_ms:.4g} ms against {forward_ms:.4g} ms for the "
                             f"plain forward ({forward_ms / scheduled_ms:.3g}x)")
    seq = "" if sequential_ms is None else f" (sequential plan {sequential_ms:.4g} ms)"
    return "forward", (f"the schedule's plan takes {scheduled_ms:.4g} ms{seq} against {forward_ms:.4g} ms for the "
                       f"plain forward: not {margin:.0%} faster, so the module runs the plain forward")


# ------------------------------------------------------------------- helpers
def _as_inputs(example_inputs: Any) -> tuple[Any, ...]:
    if isinstance(example_inputs, (tuple, list)):
        return tuple(example_inputs)
    return (example_inputs,)


def _first_tensor(values: Sequence[Any]) -> torch.Tensor | None:
    return next((v for v in values if isinstance(v, torch.Tensor)), None)


def _signature(inputs: Sequence[Any]) -> list[dict[str, Any]]:
    """The inputs' shapes and dtypes (tensors) or values (JSON scalars)."""
    out: list[dict[str, Any]] = []
    for k, value in enumerate(inputs):
        if isinstance(value, torch.Tensor):
            out.append({"shape": list(value.shape), "dtype": str(value.dtype).removeprefix("torch.")})
        elif value is None or isinstance(value, (bool, int, float, str)):
            out.append({"value": value})
        else:
            raise OptionError(f"example input #{k} is a {type(value).__name__}; a scheduled module takes tensors "
                              "and plain numbers or strings")
    return out


def _fingerprint(traced: TracedGraph) -> list[dict[str, Any]]:
    """Per op: id, kind, output shape, FLOPs and the ops (or inputs) it reads."""
    return [
        {"id": op.id, "kind": op.kind, "shape": None if op.shape is None else list(op.shape), "flops": op.flops,
         "reads": sorted({traced.producer(v) or f"input:{v}" for v in op.inputs})}
        for op in traced.ops
    ]


def _digest(fingerprint: list[dict[str, Any]]) -> str:
    return hashlib.sha1(json.dumps(fingerprint, sort_keys=True).encode("utf-8")).hexdigest()[:10]


def _describe(entry: Mapping[str, Any]) -> str:
    return f"{entry['id']!r} ({entry['kind']}, output {entry['shape']}, reads {', '.join(entry['reads'])})"


def first_difference(saved: Sequence[Mapping[str, Any]], traced: TracedGraph) -> str | None:
    """None when ``traced`` has the ops of ``saved`` (a fingerprint), else a
    sentence naming the first op that differs."""
    now = _fingerprint(traced)
    for k, (a, b) in enumerate(zip(saved, now)):
        if dict(a) != b:
            return f"op #{k} differs: saved {_describe(a)}, model {_describe(b)}"
    if len(saved) != len(now):
        k = min(len(saved), len(now))
        extra = f"saved op {_describe(saved[k])}" if len(saved) > k else f"model op {_describe(now[k])}"
        return f"the saved graph has {len(saved)} ops, the model {len(now)}; the first unmatched is {extra}"
    return None


def _random_inputs(signature: Sequence[Mapping[str, Any]], device: torch.device) -> tuple[Any, ...]:
    """Inputs of the shapes and dtypes of ``signature``: standard normal
    floats (seed 0), zero integers, the recorded plain values."""
    generator = torch.Generator().manual_seed(0)
    out: list[Any] = []
    for k, want in enumerate(signature):
        if not isinstance(want, Mapping) or not ("shape" in want or "value" in want):
            raise FormatError(f"input #{k} of the saved signature is malformed: {shorten(want)}")
        if "shape" not in want:
            out.append(want["value"])
            continue
        dtype = getattr(torch, str(want.get("dtype")), None)
        if not isinstance(dtype, torch.dtype):
            raise FormatError(f"input #{k} of the saved signature has an unknown dtype {shorten(want.get('dtype'))}")
        if dtype.is_floating_point or dtype.is_complex:
            value = torch.randn(want["shape"], generator=generator).to(dtype)
        else:
            value = torch.zeros(want["shape"], dtype=dtype)
        out.append(value.to(device))
    return tuple(out)


def _concrete(device: torch.device) -> torch.device:
    """``cuda`` without an index: the current GPU."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def _device_map(device: torch.device, gpus: int) -> dict[int, str]:
    """Logical GPU -> device: all on ``device``, or, for ``"cuda"`` without an
    index on a machine with several GPUs, logical GPU ``k`` on ``cuda:(k mod N)``."""
    if device.type == "cuda" and device.index is None:
        count = torch.cuda.device_count()
        if gpus > 1 and count > 1:
            return {k: f"cuda:{k % count}" for k in range(gpus)}
        return {k: f"cuda:{torch.cuda.current_device()}" for k in range(gpus)}
    return {k: str(device) for k in range(gpus)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _is_sequential(schedule: Schedule) -> bool:
    return len({st.gpu for st in schedule.stages}) == 1 and all(len(st.ops) == 1 for st in schedule.stages)


class _Runner:
    """One compiled plan on its device: a CUDA-graph replay (all logical GPUs
    on one device), the CUDA stream engine (several devices), or CPU threads."""

    def __init__(self, traced: TracedGraph, schedule: Schedule, device: torch.device, threads: int | None) -> None:
        device_map = _device_map(device, schedule.gpus)
        self.plan = compile(traced, schedule, device_map)
        self.executor: Any
        if device.type == "cuda":
            one_device = len(set(device_map.values())) == 1
            self.kind = "cuda-graph" if one_device else "cuda-streams"
            self.executor = CudaExecutor(self.plan, timing=False, cuda_graph=one_device, synchronize=False,
                                         output_device=device_map[0])
        else:
            self.kind = "cpu-threads"
            self.executor = CpuExecutor(self.plan, intra_op_threads=threads)

    def __call__(self, inputs: Sequence[Any]) -> Any:
        return self.executor(*inputs).outputs

    def close(self) -> None:
        if isinstance(self.executor, CpuExecutor):
            self.executor.close()


def time_calls(fns: Mapping[str, Callable[[], Any]], device: torch.device | str, warmup: int,
               repeat: int) -> dict[str, float]:
    """Median milliseconds of each function, from ``repeat`` timed calls
    after ``warmup`` untimed ones. The functions run in turns (up to five
    rounds, each starting with the next function), so that a change of load
    on the machine, and the cost of following another function, hit them
    alike; on a GPU each call is timed between two device synchronisations.

    >>> sorted(time_calls({"a": lambda: None, "b": lambda: None}, "cpu", 0, 3))
    ['a', 'b']
    """
    device = torch.device(device)
    rounds = min(repeat, 5)
    per_round = math.ceil(repeat / rounds)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    _sync(device)
    names = list(fns)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:  # each round starts with another one
            fn = fns[name]
            for _ in range(per_round):
                _sync(device)
                start = time.perf_counter()
                fn()
                _sync(device)
                samples[name].append((time.perf_counter() - start) * 1e3)
    return {name: float(statistics.median(values)) for name, values in samples.items()}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return value


# --------------------------------------------------------------------- costs
def _check_costs(costs: Any) -> Any:
    """``"measure"``, ``"estimate:<gpu>"`` (checked), an OpGraph, or a path to a graph file."""
    if isinstance(costs, OpGraph):
        return costs
    if isinstance(costs, str):
        text = costs.strip().lower()
        if text == "measure":
            return "measure"
        if text.startswith("estimate:"):
            get_device(text)  # an unknown GPU fails here, listing the valid ones
            return text
    if isinstance(costs, (str, os.PathLike)):
        if not Path(costs).is_file():
            raise OptionError(f"costs must be 'measure', 'estimate:GPU' (v100, a100, h100, h200), an OpGraph or "
                              f"a graph file; there is no file {shorten(str(costs), 80)}")
        return OpGraph.load(costs)
    raise OptionError(f"costs must be 'measure', 'estimate:GPU', an OpGraph or a graph file, got "
                      f"{type(costs).__name__}")


def _costs(traced: TracedGraph, costs: Any, device: torch.device, gpus: int, threads: int | None, *, max_pairs: int,
           cache: bool, timing: str) -> OpGraph:
    if isinstance(costs, OpGraph):
        check_graph(costs, traced)
        return costs
    if costs.startswith("estimate:"):
        param = next((p for p in traced.graph_module.parameters() if p.is_floating_point()), None)
        dtype = _ESTIMATE_DTYPES.get(param.dtype if param is not None else torch.float32, "fp32")
        return estimate_graph_costs(traced, costs, dtype=dtype)
    graph = measure_costs(traced, device, max_pairs=max_pairs, progress=False, cache=cache,
                          link=gpus > 1 and device.type == "cuda", threads=threads if device.type == "cpu" else None,
                          timing=timing)
    if device.type == "cpu" and gpus > 1:  # logical GPUs share memory: an edge costs one thread hand-off
        handoff = measure_handoff_ms()
        graph = graph.with_costs(comm_ms={(e.src, e.dst): handoff for e in graph.edges},
                                 meta={**graph.meta, "comm": "thread hand-off", "handoff_ms": handoff})
    return graph


# ----------------------------------------------------------- ScheduledModule
class ScheduledModule(nn.Module):
    """A model whose forward pass runs a schedule: what :func:`optimize` returns.

    Call it like the model (positional inputs of the shapes it was
    scheduled for); it returns what the model returns. It is inference only:
    it runs under ``torch.no_grad()``, refuses ``.train()``, and stays on the
    device it was measured on (``.to()`` raises; optimize again, or
    :meth:`load` onto another device).

    Attributes
    ----------
    model : torch.nn.Module
        The model (on the device).
    traced : TracedGraph
        Its trace.
    graph : OpGraph
        The costs the schedule was made with.
    schedule : Schedule
        The best schedule found (what runs in mode ``"scheduled"``).
    decision : Decision
        What runs, and the measurements behind it (:attr:`mode` for short).
    device : torch.device
        Where it runs.
    settings : dict
        The arguments of :func:`optimize` (gpus, streams, solver, ...).
    note : str
        Why the exact solver did not run or did not help, if so.
    """

    def __init__(self, model: nn.Module, traced: TracedGraph, graph: OpGraph, schedule: Schedule,
                 device: torch.device, settings: Mapping[str, Any], rows: Sequence[Mapping[str, Any]],
                 signature: list[dict[str, Any]], note: str = "") -> None:
        super().__init__()
        self.model = model
        self.traced = traced
        self.graph = graph
        self.schedule = schedule
        self.device = device
        self.settings = dict(settings)
        self._rows = [dict(r) for r in rows]
        self._signature = signature
        self.note = note
        self._lock = threading.Lock()
        self._runner: _Runner | None = None
        self._warned_shape = False
        self.decision: Decision = Decision("forward", "not measured yet", math.nan, math.nan, None, 0.0, str(device),
                                           "", 0, "")

    # ------------------------------------------------------------- running
    @property
    def mode(self) -> str:
        """``"scheduled"``, ``"sequential"`` or ``"forward"``: what :meth:`forward` runs."""
        return self.decision.mode

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        """Run the model on ``inputs`` the way :attr:`decision` chose.

        Raises
        ------
        InputMismatchError
            Keyword inputs, another number of inputs, or a tensor of another
            shape, dtype or device than the module was scheduled for (unless
            ``on_new_shape="forward"``, which runs the plain forward for them).
        """
        if kwargs:
            raise InputMismatchError(f"pass the inputs positionally ({', '.join(self.traced.input_names)}); got "
                                     f"keyword(s) {', '.join(sorted(kwargs))}")
        with torch.no_grad():
            if self.decision.mode == "forward" or self._runner is None:
                return self.model(*inputs)
            problem = self._mismatch(inputs)
            if problem is not None:
                if self.settings.get("on_new_shape") == "forward":
                    if not self._warned_shape:
                        self._warned_shape = True
                        warnings.warn(f"{problem}; running the plain forward for such inputs", stacklevel=2)
                    return self.model(*inputs)
                raise InputMismatchError(
                    f"{problem}. Call hios_opt.optimize() for these inputs, or pass on_new_shape='forward' to run "
                    "the plain forward for them")
            with self._lock:  # one run at a time: the executor's buffers are shared
                return self._runner(inputs)

    def _mismatch(self, inputs: Sequence[Any]) -> str | None:
        names = self.traced.input_names
        if len(inputs) != len(self._signature):
            return f"the module takes {len(self._signature)} input(s) ({', '.join(names)}), got {len(inputs)}"
        for k, (value, want) in enumerate(zip(inputs, self._signature)):
            label = f"input {names[k]!r}" if k < len(names) else f"input #{k}"
            if "shape" in want:
                if not isinstance(value, torch.Tensor):
                    return f"{label} must be a tensor, got {type(value).__name__}"
                dtype = str(value.dtype).removeprefix("torch.")
                if list(value.shape) != want["shape"] or dtype != want["dtype"]:
                    return (f"{label} has shape {list(value.shape)} and dtype {dtype}, but the module was scheduled "
                            f"for shape {want['shape']} and dtype {want['dtype']}")
                if value.device != self._input_device:
                    return f"{label} is on {value.device}, but the module runs on {self._input_device}"
            elif value != want["value"]:
                return f"{label} is {shorten(value)}, but the module was scheduled for {shorten(want['value'])}"
        return None

    @property
    def _input_device(self) -> torch.device:
        return _concrete(self.device)

    # ------------------------------------------------------------ measuring
    def recheck(self, inputs: Sequence[Any] | None = None, *, margin: float | None = None, warmup: int | None = None,
                repeat: int | None = None) -> Decision:
        """Time the plans against the plain forward on this device again and
        decide anew (the schedule stays); returns the new :attr:`decision`.

        Parameters
        ----------
        inputs : sequence, optional
            Inputs to time with (default: random ones of the scheduled shapes).
        margin, warmup, repeat : optional
            Override :func:`optimize`'s settings.
        """
        margin = self.settings["margin"] if margin is None else check_number(
            margin, "margin", min_value=0.0, max_value=1.0, include_max=False)
        warmup = self.settings["warmup"] if warmup is None else check_int(warmup, "warmup", min_value=0)
        repeat = self.settings["repeat"] if repeat is None else check_int(repeat, "repeat", min_value=1)
        inputs = self._example_inputs() if inputs is None else _as_inputs(inputs)
        self.close()
        threads = self.settings.get("threads")
        with torch.no_grad():
            runner = _Runner(self.traced, self.schedule, self.device, threads)
            reference = self.model(*inputs)
            ok, diff = outputs_match(runner(inputs), reference, self.device.type)
            candidates: dict[str, Callable[[], Any]] = {
                "forward": lambda: self.model(*inputs), "scheduled": lambda: runner(inputs)}
            sequential: _Runner | None = None
            if not _is_sequential(self.schedule):
                order = Schedule.sequential(self.traced.ids, algorithm="sequential", graph_name=self.graph.name)
                sequential = _Runner(self.traced, order, self.device, None)
                sequential(inputs)
                candidates["sequential"] = lambda: sequential(inputs)
            times = time_calls(candidates, self.device, warmup, repeat)
        mode, reason = decide(times["forward"], times["scheduled"], times.get("sequential"), margin)
        if not ok:
            mode = "forward"
            reason = (f"the plan's outputs differ from the plain forward's (max |diff| {diff:.3g}; a model that is "
                      "not deterministic?), so the module runs the plain forward")
        keep = {"scheduled": runner, "sequential": sequential}.get(mode)
        for candidate in (runner, sequential):
            if candidate is not None and candidate is not keep:
                candidate.close()
        self._runner = keep
        self.decision = Decision(mode, reason, times["forward"], times["scheduled"], times.get("sequential"), margin,
                                 str(self.device), device_kind(self._input_device), repeat, _now())
        return self.decision

    def _example_inputs(self) -> tuple[Any, ...]:
        return _random_inputs(self._signature, self._input_device)

    def close(self) -> None:
        """Stop the plan's worker threads (CPU); the module then runs the plain forward."""
        if self._runner is not None:
            self._runner.close()
            self._runner = None
            self.decision = Decision("forward", "closed", self.decision.forward_ms, self.decision.scheduled_ms,
                                     self.decision.sequential_ms, self.decision.margin, self.decision.device,
                                     self.decision.device_kind, self.decision.runs, self.decision.date)

    # ------------------------------------------------------------- reporting
    def report(self) -> Any:
        """One table in the package's result schema (:mod:`hios_opt.results`).

        One row per schedule the search made (predicted makespan, bound, gap,
        speedup over sequential, status, time), the measured latency of the
        plans that ran and of the plain forward (row ``"forward"``), and two
        extra columns: ``measured_speedup`` (plain forward / measured) and
        ``used`` (what :meth:`forward` runs). ``df.attrs`` holds the decision.
        """
        d = self.decision
        measured = {"scheduled": d.scheduled_ms, "sequential": d.sequential_ms}
        rows = []
        for row in self._rows:
            row = dict(row)
            which = "scheduled" if row.get("chosen") else "sequential" if row["algorithm"] == "sequential" else None
            ms = measured.get(which) if which else None
            if which == "sequential" and ms is None and _is_sequential(self.schedule):
                ms, which = d.scheduled_ms, "scheduled"
            if ms is not None and not math.isnan(ms):
                row = result_row(**{**row, "predicted_ms": row["makespan_ms"], "measured_ms": ms})
                row["measured_speedup"] = d.forward_ms / ms
            row["used"] = which == d.mode
            rows.append(row)
        first = self._rows[0] if self._rows else {}
        rows.append(result_row(graph=first.get("graph", self.graph.name), ops=self.graph.n_ops,
                               gpus=self.schedule.gpus, streams=self.schedule.streams, algorithm="forward",
                               status="reference", measured_ms=d.forward_ms, measured_speedup=1.0,
                               used=d.mode == "forward"))
        return result_frame(rows, mode=d.mode, reason=d.reason, device=d.device, device_kind=d.device_kind,
                            margin=d.margin, runs=d.runs, date=d.date)

    def __repr__(self) -> str:
        d = self.decision
        return (f"ScheduledModule(model={type(self.model).__name__}, ops={self.graph.n_ops}, "
                f"schedule={self.schedule.algorithm} on {self.schedule.gpus} GPU(s) x {self.schedule.streams} "
                f"stream(s), device={self.device}, mode={d.mode!r}: {d.measured_ms:.4g} ms against "
                f"{d.forward_ms:.4g} ms for the plain forward)")

    # ----------------------------------------------------- module contract
    def train(self, mode: bool = True) -> ScheduledModule:
        if mode:
            raise OptionError("a ScheduledModule is for inference; train the model itself, then optimize() it again")
        return super().train(False)

    def _apply(self, fn: Any, recurse: bool = True) -> ScheduledModule:
        raise DeviceError(f"a ScheduledModule stays on {self.device}, where it was measured; to run elsewhere, "
                          "call hios_opt.optimize(model, inputs, device=...) again or "
                          "ScheduledModule.load(directory, model, device=...)")

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("a ScheduledModule is not pickled; use .save(directory) and "
                        "ScheduledModule.load(directory, model)")

    # ----------------------------------------------------------------- files
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``module.json``, ``schedule.json`` and ``graph.json`` (the
        costs) into ``directory`` (created if needed), each atomically;
        ``module.json`` last. No code is pickled: :meth:`load` needs the model.

        Returns
        -------
        pathlib.Path
            The directory.
        """
        folder = Path(directory)
        if folder.exists() and not folder.is_dir():
            raise OptionError(f"cannot save into {str(folder)!r}: it is a file, not a directory")
        folder.mkdir(parents=True, exist_ok=True)
        self.schedule.save(folder / "schedule.json")
        self.graph.save(folder / "graph.json")
        settings = {k: v for k, v in self.settings.items() if k != "costs"}
        costs = self.settings.get("costs")
        write_json_atomic(folder / "module.json", _jsonable({
            "format": MODULE_FORMAT, "version": MODULE_VERSION,
            "model": type(self.model).__name__, "name": self.traced.name, "granularity": self.traced.granularity,
            "inputs": self._signature, "ops": _fingerprint(self.traced),
            "settings": {**settings, "costs": costs if isinstance(costs, str) else "graph"},
            "decision": self.decision.to_dict(), "rows": self._rows, "note": self.note,
            "hios_opt_version": __version__, "torch_version": torch.__version__, "saved": _now(),
        }))
        return folder

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        model: nn.Module,
        *,
        device: str | torch.device | None = None,
        recheck: bool | None = None,
        reprofile: bool = False,
    ) -> ScheduledModule:
        """Bind a saved schedule to ``model`` again.

        Parameters
        ----------
        directory : path
            What :meth:`save` wrote.
        model : torch.nn.Module
            The same model (same architecture and input shapes; the weights
            may differ). It is traced and compared with the saved graph.
        device : str or torch.device, optional
            Where to run (default: the saved device if it exists here, else
            the CPU).
        recheck : bool, optional
            Time the plans against the plain forward again. Default: only
            when the device kind (the CPU, or the GPU's model) differs from
            the one the decision was measured on.
        reprofile : bool
            Where the kind differs (or ``recheck=True``): measure the costs on
            this device and search a schedule again (with the saved
            settings), as :func:`optimize` does.

        Raises
        ------
        ModelMismatchError
            The model's traced graph differs from the saved one; the message
            names the first op that differs.
        FormatError
            A missing or malformed file.
        """
        folder = Path(directory)
        source = str(folder / "module.json")
        data = check_header(read_json(folder / "module.json"), MODULE_FORMAT, MODULE_VERSION, source)
        signature = require(data, "inputs", source, list)
        saved_ops = require(data, "ops", source, list)
        settings = dict(require(data, "settings", source, dict))
        decision = Decision.from_dict(require(data, "decision", source, dict), source)
        schedule = Schedule.load(folder / "schedule.json")
        graph = OpGraph.load(folder / "graph.json")
        if device is None:
            try:
                target = check_device(decision.device)
            except DeviceError:
                target = torch.device("cpu")
        else:
            target = check_device(device)
        if not isinstance(model, nn.Module):
            raise OptionError(f"load() needs the model (a torch.nn.Module), got {type(model).__name__}")
        inputs = _random_inputs(signature, _concrete(target))
        model, inputs = _on_device(model, inputs, target)
        try:
            traced = trace(model, inputs, granularity=require(data, "granularity", source, str),
                           name=require(data, "model", source, str))
        except TraceError as exc:
            shapes = [want.get("shape") for want in signature if isinstance(want, Mapping) and "shape" in want]
            raise ModelMismatchError(f"model {type(model).__name__!r} does not run on the saved inputs ({shapes}) "
                                     f"of {str(folder)!r}: {exc}") from exc
        problem = first_difference(saved_ops, traced)
        if problem is not None:
            raise ModelMismatchError(f"model {type(model).__name__!r} does not match the schedule saved in "
                                     f"{str(folder)!r}: {problem}")
        traced.name = require(data, "name", source, str)
        kind_here = device_kind(_concrete(target))
        again = recheck if recheck is not None else kind_here != decision.device_kind
        if again and reprofile:
            known = set(optimize.__kwdefaults__ or ()) - {"costs", "device"}
            return optimize(model, inputs, **{k: v for k, v in settings.items() if k in known}, device=target,
                            costs="measure")
        module = cls(model, traced, graph, schedule, target, {**settings, "costs": graph},
                     require(data, "rows", source, list), signature, note=str(data.get("note", "")))
        if again:
            module.recheck(inputs)
        else:
            module._runner = None
            if decision.mode != "forward":
                order = schedule if decision.mode == "scheduled" else Schedule.sequential(
                    traced.ids, algorithm="sequential", graph_name=graph.name)
                with torch.no_grad():
                    module._runner = _Runner(traced, order, target, settings.get("threads"))
                    module._runner(inputs)  # capture (CUDA graph) and warm up
            module.decision = decision
        return module


def _on_device(model: nn.Module, inputs: tuple[Any, ...], device: torch.device) -> tuple[nn.Module, tuple[Any, ...]]:
    """The model and inputs on ``device`` (the model copied when it is elsewhere)."""
    tensors = list(model.parameters()) + list(model.buffers())
    target = _concrete(device)
    if any(t.device != target for t in tensors):
        model = copy.deepcopy(model).to(target)
    inputs = tuple(x.to(target) if isinstance(x, torch.Tensor) else x for x in inputs)
    return model, inputs


# -------------------------------------------------------------------- optimize
def optimize(
    model: nn.Module,
    example_inputs: Any,
    *,
    gpus: int = 1,
    streams: int = 2,
    device: str | torch.device | None = None,
    solver: str | None = DEFAULT_SOLVER,
    time_limit: float = DEFAULT_TIME_LIMIT_S,
    costs: Any = "measure",
    margin: float = DEFAULT_MARGIN,
    warmup: int = 3,
    repeat: int = 20,
    threads: int | None = None,
    granularity: str = "block",
    max_pairs: int = 200,
    cache: bool = True,
    on_new_shape: str = "error",
    seed: int = 0,
    warn: bool = True,
) -> ScheduledModule:
    """Schedule ``model`` for ``example_inputs`` and return a module that runs the schedule.

    Parameters
    ----------
    model : torch.nn.Module
        In eval mode, traceable by :func:`torch.fx.symbolic_trace`.
    example_inputs : Tensor or tuple
        The inputs the module will be called with (their shapes, dtypes and
        device are what it accepts).
    gpus, streams : int
        The platform: logical GPUs and streams per GPU. On one physical GPU
        (or a CPU) several logical GPUs share it.
    device : str or torch.device, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:k"`` (default: the inputs' device).
        ``"cuda"`` with ``gpus > 1`` on a machine with several GPUs puts
        logical GPU ``k`` on ``cuda:(k mod N)``; otherwise every logical GPU
        shares the device and the plan is replayed as one CUDA graph.
    solver : str or None
        The exact solver (one of :data:`hios_opt.exact.SOLVERS`; default
        :data:`hios_opt.autoschedule.DEFAULT_SOLVER`), warm-started from the
        best heuristic; None: heuristics only
        (:func:`hios_opt.autoschedule.best_schedule`).
    time_limit : float
        Seconds for the schedule search.
    costs : "measure", "estimate:GPU", OpGraph or path
        Measure the ops on ``device`` (:func:`hios_opt.profile.measure_costs`,
        cached; kernel timing on a GPU), estimate them for a named GPU
        (``"estimate:h100"``), or take a graph of this model's ops.
    margin : float
        Share by which a plan must beat the plain forward to be used.
    warmup, repeat : int
        Untimed and timed runs of each candidate in the final check.
    threads : int, optional
        CPU: intra-op threads of each plan worker and of the profile
        (default: torch's count divided by ``gpus * streams``).
    granularity : {"block", "module"}
        Trace granularity (:func:`hios_opt.trace.trace`).
    max_pairs : int
        Concurrent pairs the profiler measures.
    cache : bool
        Use the profile cache (keyed by a digest of the traced graph).
    on_new_shape : {"error", "forward"}
        A call with inputs of another shape raises
        :class:`~hios_opt.errors.InputMismatchError` (default) or runs the
        plain forward (warning once).
    seed : int
        Solver seed.
    warn : bool
        Warn (:class:`~hios_opt.errors.NotFasterWarning`) when the module
        falls back to the plain forward.

    Returns
    -------
    ScheduledModule

    Raises
    ------
    TraceError
        The model cannot be traced (the message names the line).
    DeviceError
        A device that does not exist (the message lists those that do).
    OptionError, AlgorithmError
        A bad argument (named), the model in training mode, an unknown solver.
    GraphError
        ``costs`` is a graph of another model.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> class TwoBranch(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.a, self.b = nn.Linear(64, 64), nn.Linear(64, 64)
    ...     def forward(self, x):
    ...         return self.a(x) + self.b(x)
    >>> net, x = TwoBranch().eval(), torch.randn(8, 64)
    >>> fast = optimize(net, x, costs="estimate:h100", solver=None, repeat=3, warn=False)
    >>> fast.mode in ("scheduled", "sequential", "forward"), torch.allclose(fast(x), net(x), atol=1e-6)
    (True, True)
    >>> list(fast.report().algorithm)[-1]
    'forward'
    """
    if not isinstance(model, nn.Module):
        raise OptionError(f"optimize() needs a torch.nn.Module, got {type(model).__name__}")
    if model.training:
        raise OptionError(f"model {type(model).__name__!r} is in training mode; optimize() schedules inference: "
                          "call model.eval() first")
    gpus = check_int(gpus, "gpus", min_value=1, max_value=MAX_GPUS)
    streams = check_int(streams, "streams", min_value=1, max_value=MAX_STREAMS)
    solver = check_solver(solver)
    time_limit = check_number(time_limit, "time_limit", min_value=0, include_min=False,
                              expected="a number of seconds > 0")
    margin = check_number(margin, "margin", min_value=0.0, max_value=1.0, include_max=False)
    warmup = check_int(warmup, "warmup", min_value=0)
    repeat = check_int(repeat, "repeat", min_value=1)
    threads = check_int(threads, "threads", min_value=1, none_ok=True)
    max_pairs = check_int(max_pairs, "max_pairs", min_value=0)
    granularity = canonical_name(granularity, ("block", "module"), what="granularity", error=OptionError)
    on_new_shape = canonical_name(on_new_shape, ON_NEW_SHAPE, what="on_new_shape", error=OptionError)
    costs = _check_costs(costs)
    inputs = _as_inputs(example_inputs)
    signature = _signature(inputs)
    if device is None:
        first = _first_tensor(inputs)
        device = first.device if first is not None else "cpu"
    target = check_device(device)
    if target.type == "cpu" and threads is None:
        threads = max(1, torch.get_num_threads() // (gpus * streams))
    model, inputs = _on_device(model, inputs, target)
    traced = trace(model, inputs, granularity=granularity, name=type(model).__name__)
    traced.name = f"{traced.name}-{_digest(_fingerprint(traced))}"
    one_device = len(set(_device_map(target, gpus).values())) == 1
    timing = "kernel" if target.type == "cuda" and one_device else "launch"
    graph = _costs(traced, costs, target, gpus, threads, max_pairs=max_pairs, cache=bool(cache), timing=timing)
    platform = Platform(gpus=gpus, streams=streams)
    search = best_schedule(graph, platform, solver, time_limit=time_limit, seed=seed)
    evaluate(graph, platform, search.schedule)  # every schedule passes the evaluator before it runs
    settings = {"gpus": gpus, "streams": streams, "solver": solver, "time_limit": time_limit,
                "costs": costs, "margin": margin, "warmup": warmup, "repeat": repeat, "threads": threads,
                "granularity": granularity, "max_pairs": max_pairs, "cache": bool(cache),
                "on_new_shape": on_new_shape, "seed": seed, "warn": warn}
    module = ScheduledModule(model, traced, graph, search.schedule, target, settings, search.rows, signature,
                             note=search.note)
    decision = module.recheck(inputs)
    if decision.mode == "forward" and warn:
        warnings.warn(NotFasterWarning(f"optimize({type(model).__name__}): {decision.reason}"), stacklevel=2)
    return module
