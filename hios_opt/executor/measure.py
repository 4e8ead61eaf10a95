"""Run a plan several times and report what was measured.

:func:`run` is the one entry point for every backend. It warms up, repeats,
and returns a :class:`~hios_opt.executor.records.Measurement`: the outputs
of the last run, every run's latency (median, p10, p90), and the
per-operator and per-stage timeline of the median run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from hios_opt.errors import ExecutorError
from hios_opt.executor.cpu import CpuExecutor
from hios_opt.executor.cuda import CudaExecutor
from hios_opt.executor.distributed import run_distributed
from hios_opt.executor.plan import Plan, check_timeout
from hios_opt.executor.records import Measurement, OpTiming, StageRecord, op_timings

__all__ = ["OpTiming", "StageRecord", "Measurement", "run", "BACKENDS"]

BACKENDS = ("cpu", "cuda", "distributed")


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
        return run_distributed(plan, inputs=args, warmup=warmup, repeat=repeat, timeout_s=timeout_s, **options)
    deadline = time.perf_counter() + timeout_s
    if backend == "cpu":
        unknown = sorted(set(options) - {"intra_op_threads"})
        if unknown:
            raise ExecutorError(f"the cpu backend takes only intra_op_threads, got {unknown}")
        with CpuExecutor(plan, timeout_s=timeout_s, **options) as executor:
            records = [executor(*args, timeout_s=_left(deadline)) for _ in range(warmup + repeat)]
        meta: dict[str, Any] = {
            "device": "cpu", "workers": len(plan.workers()), "intra_op_threads": executor.intra_op_threads
        }
    else:
        engine = CudaExecutor(plan, **options)
        records = []
        for _ in range(warmup + repeat):
            if time.perf_counter() > deadline:
                raise ExecutorError(f"run() exceeded timeout_s={timeout_s:g}")
            records.append(engine(*args))
        meta = {"devices": {g: str(d) for g, d in engine.devices.items()}, "cuda_graph": engine.cuda_graph}
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
