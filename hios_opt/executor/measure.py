"""Run a plan several times and report what was measured.

:func:`run` is the one entry point for every backend. It warms up, repeats,
and returns a :class:`Measurement`: the outputs of the last run, every run's
latency (median, p10, p90), and the per-operator and per-stage timeline of
the median run, exportable as a Chrome trace (``chrome://tracing`` or
Perfetto).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hios_opt.errors import ExecutorError
from hios_opt.executor.plan import Plan, check_timeout

__all__ = ["OpTiming", "StageRecord", "Measurement", "run", "BACKENDS"]

BACKENDS = ("cpu", "cuda", "distributed")


@dataclass(frozen=True)
class OpTiming:
    """When one operator ran (ms from the start of its run)."""

    op: str
    gpu: int
    stream: int
    stage: int
    start_ms: float
    end_ms: float


@dataclass(frozen=True)
class StageRecord:
    """When one stage ran: from its first op's start to its last op's end."""

    stage: int
    gpu: int
    ops: tuple[str, ...]
    start_ms: float
    end_ms: float

    @property
    def latency_ms(self) -> float:
        return self.end_ms - self.start_ms


@dataclass
class Measurement:
    """Measured latency of a plan, with the outputs and a timeline.

    Attributes
    ----------
    outputs : Any
        Model outputs of the last run.
    latencies_ms : list of float
        Latency of every measured run (warm-up runs excluded).
    backend : str
        ``"cpu"``, ``"cuda"`` or ``"distributed"``.
    model : str
        Traced model name.
    op_timings : tuple of OpTiming
        Per-operator timeline of the median run (empty when not recorded).
    meta : dict
        Backend details (devices, world size, threads ...).

    Examples
    --------
    >>> m = Measurement(None, [3.0, 1.0, 2.0], "cpu", "demo")
    >>> m.median_ms, m.runs
    (2.0, 3)
    """

    outputs: Any
    latencies_ms: list[float]
    backend: str
    model: str
    op_timings: tuple[OpTiming, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        return len(self.latencies_ms)

    @property
    def median_ms(self) -> float:
        return float(np.median(self.latencies_ms))

    @property
    def p10_ms(self) -> float:
        return float(np.percentile(self.latencies_ms, 10))

    @property
    def p90_ms(self) -> float:
        return float(np.percentile(self.latencies_ms, 90))

    @property
    def mean_ms(self) -> float:
        return float(np.mean(self.latencies_ms))

    @property
    def stage_timings(self) -> tuple[StageRecord, ...]:
        """Per-stage start/end of the median run, in stage order."""
        by_stage: dict[int, list[OpTiming]] = {}
        for t in self.op_timings:
            by_stage.setdefault(t.stage, []).append(t)
        return tuple(
            StageRecord(
                stage=s,
                gpu=items[0].gpu,
                ops=tuple(t.op for t in sorted(items, key=lambda t: t.stream)),
                start_ms=min(t.start_ms for t in items),
                end_ms=max(t.end_ms for t in items),
            )
            for s, items in sorted(by_stage.items())
        )

    def __repr__(self) -> str:
        if not self.latencies_ms:
            return f"Measurement(backend={self.backend!r}, model={self.model!r}, runs=0)"
        return (
            f"Measurement(backend={self.backend!r}, model={self.model!r}, runs={self.runs}, "
            f"median={self.median_ms:.3f} ms, p10={self.p10_ms:.3f} ms, p90={self.p90_ms:.3f} ms)"
        )

    def to_dataframe(self, level: str = "op") -> Any:
        """A pandas DataFrame of the ``"op"``, ``"stage"`` or ``"run"`` timings."""
        import pandas as pd

        if level == "op":
            return pd.DataFrame([t.__dict__ for t in self.op_timings])
        if level == "stage":
            return pd.DataFrame(
                [{**s.__dict__, "latency_ms": s.latency_ms} for s in self.stage_timings]
            )
        if level == "run":
            return pd.DataFrame({"latency_ms": self.latencies_ms})
        raise ValueError(f"level must be 'op', 'stage' or 'run', got {level!r}")

    def to_chrome_trace(self, path: str | os.PathLike[str]) -> None:
        """Write the median run's timeline in Chrome trace-event JSON.

        One process per logical GPU, one thread per stream; stages are drawn
        as spans on an extra ``stages`` thread of each GPU.
        """
        from hios_opt._io import write_json_atomic

        events: list[dict[str, Any]] = []
        gpus = sorted({t.gpu for t in self.op_timings})
        for gpu in gpus:
            events.append({"name": "process_name", "ph": "M", "pid": gpu, "args": {"name": f"GPU {gpu}"}})
            events.append({"name": "thread_name", "ph": "M", "pid": gpu, "tid": -1, "args": {"name": "stages"}})
        for t in self.op_timings:
            events.append(
                {
                    "name": t.op, "cat": "op", "ph": "X", "pid": t.gpu, "tid": t.stream,
                    "ts": t.start_ms * 1e3, "dur": max(t.end_ms - t.start_ms, 0.0) * 1e3,
                    "args": {"stage": t.stage},
                }
            )
        for s in self.stage_timings:
            events.append(
                {
                    "name": f"stage {s.stage}", "cat": "stage", "ph": "X", "pid": s.gpu, "tid": -1,
                    "ts": s.start_ms * 1e3, "dur": s.latency_ms * 1e3, "args": {"ops": list(s.ops)},
                }
            )
        write_json_atomic(
            path,
            {
                "traceEvents": events,
                "displayTimeUnit": "ms",
                "otherData": {"model": self.model, "backend": self.backend, "median_ms": self.median_ms},
            },
        )


def op_timings(plan: Plan, times: dict[str, tuple[float, float]]) -> tuple[OpTiming, ...]:
    """Attach GPU, stream and stage to raw ``op -> (start, end)`` times."""
    out = []
    for step in plan.steps:
        if step.op in times:
            start, end = times[step.op]
            out.append(OpTiming(step.op, step.gpu, step.stream, step.stage, float(start), float(end)))
    return tuple(sorted(out, key=lambda t: (t.start_ms, t.gpu, t.stream)))


def run(
    plan: Plan,
    inputs: Any,
    *,
    backend: str = "cpu",
    warmup: int = 2,
    repeat: int = 10,
    timeout_s: float = 120.0,
    **options: Any,
) -> Measurement:
    """Run ``plan`` on ``inputs`` ``warmup + repeat`` times and measure it.

    Parameters
    ----------
    plan : Plan
        From :func:`hios_opt.executor.compile`.
    inputs : Tensor or sequence of Tensor
        Model inputs.
    backend : {"cpu", "cuda", "distributed"}
        Threads on the CPU, CUDA streams in one process, or one
        ``torch.distributed`` rank per logical GPU.
    warmup, repeat : int
        Untimed and timed runs.
    timeout_s : float
        Bound on the whole call (every wait of the cpu backend and every
        rank of the distributed one respects it; the cuda backend checks it
        between runs, since queued kernels cannot be interrupted).
    **options
        Passed to the backend (:class:`~hios_opt.executor.cuda.CudaExecutor`:
        ``cuda_graph``, ``timing``, ``output_device``, ``api``;
        :func:`~hios_opt.executor.distributed.run_distributed`: ``world_size``,
        ``dist_backend``, ``threads_per_rank`` ...).

    Returns
    -------
    Measurement

    Raises
    ------
    OpExecutionError
        An operator raised (named in the message).
    DeviceError
        The backend's devices are unavailable (e.g. CUDA without a GPU).
    ExecutorError
        Timeout, unknown backend, a failed rank.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from hios_opt import Schedule
    >>> from hios_opt.trace import trace
    >>> from hios_opt.executor.plan import compile
    >>> net = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
    >>> traced = trace(net, torch.zeros(1, 8))
    >>> plan = compile(traced, Schedule.sequential(traced.ids))
    >>> m = run(plan, torch.ones(1, 8), warmup=1, repeat=3)
    >>> m.runs, torch.allclose(m.outputs, net(torch.ones(1, 8)))
    (3, True)
    """
    if backend not in BACKENDS:
        raise ExecutorError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if warmup < 0 or repeat < 1:
        raise ExecutorError(f"need warmup >= 0 and repeat >= 1, got warmup={warmup}, repeat={repeat}")
    timeout_s = check_timeout(timeout_s)
    args = _as_inputs(inputs)
    if backend == "distributed":
        from hios_opt.executor.distributed import run_distributed

        return run_distributed(plan, inputs=args, warmup=warmup, repeat=repeat, timeout_s=timeout_s, **options)
    deadline = time.perf_counter() + timeout_s
    if backend == "cpu":
        from hios_opt.executor.cpu import CpuExecutor

        unknown = sorted(set(options) - {"intra_op_threads"})
        if unknown:
            raise ExecutorError(f"the cpu backend takes only intra_op_threads, got {unknown}")
        with CpuExecutor(plan, timeout_s=timeout_s, **options) as executor:
            records = [executor(*args, timeout_s=_left(deadline)) for _ in range(warmup + repeat)]
        meta: dict[str, Any] = {
            "device": "cpu", "workers": len(plan.workers()), "intra_op_threads": executor.intra_op_threads
        }
    else:
        from hios_opt.executor.cuda import CudaExecutor

        executor = CudaExecutor(plan, **options)
        records = []
        for _ in range(warmup + repeat):
            if time.perf_counter() > deadline:
                raise ExecutorError(f"run() exceeded timeout_s={timeout_s:g}")
            records.append(executor(*args))
        meta = {"devices": {g: str(d) for g, d in executor.devices.items()}, "cuda_graph": executor.cuda_graph}
    timed = records[warmup:]
    latencies = [r.latency_ms for r in timed]
    median_run = timed[int(np.argsort(latencies)[len(latencies) // 2])]
    return Measurement(
        outputs=timed[-1].outputs,
        latencies_ms=latencies,
        backend=backend,
        model=plan.traced.name,
        op_timings=op_timings(plan, median_run.op_times),
        meta=meta,
    )


def _left(deadline: float) -> float:
    left = deadline - time.perf_counter()
    if left <= 0:
        raise ExecutorError("run() exceeded its timeout")
    return left


def _as_inputs(inputs: Any) -> tuple[Any, ...]:
    if isinstance(inputs, Sequence) and not isinstance(inputs, (str, bytes)):
        return tuple(inputs)
    return (inputs,)
