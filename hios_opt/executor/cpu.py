"""CPU backend: threads stand in for GPUs and streams.

:class:`CpuExecutor` runs one worker thread per (logical GPU, stream), each
running that stream's operators in plan order; a ``threading.Event`` per
operator stands in for its CUDA event. All logical GPUs share the host
memory, so a cross-GPU input costs no copy, and values are freed when their
last reader has run (reference counts, since readers on different threads
finish in any order). Every wait has a timeout and checks an abort flag: an
operator that raises stops the others at their next wait and the run raises
:class:`~hios_opt.errors.OpExecutionError`; an operator that never returns
is abandoned (a daemon thread) and the run raises
:class:`~hios_opt.errors.ExecutorError` after ``timeout_s``.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from hios_opt.errors import DeviceError, ExecutorError, OpExecutionError
from hios_opt.executor.plan import Plan, check_timeout

__all__ = ["CpuExecutor", "RunRecord"]

_POLL_S = 0.02


@dataclass
class RunRecord:
    """What one run of a plan produced.

    Attributes
    ----------
    outputs : Any
        The model outputs.
    latency_ms : float
        Wall time of the run, inputs bound to outputs collected.
    op_times : dict of str to (float, float)
        Operator -> (start, end) in ms from the start of the run.
    """

    outputs: Any
    latency_ms: float
    op_times: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Work:
    """One step as a worker runs it, with its synchronisation precomputed."""

    op: str
    inputs: tuple[str, ...]
    waits: tuple[str, ...]  # ops on other workers to wait for
    signal: bool  # another worker waits for this op
    free_local: tuple[str, ...]  # values whose readers all ran on this worker, last one now
    free_shared: tuple[str, ...]  # values read on several workers: reference counted


def _work_lists(plan: Plan) -> dict[tuple[int, int], list[_Work]]:
    workers = plan.workers()
    worker_of = {step.op: key for key, steps in workers.items() for step in steps}
    readers: dict[str, set[tuple[int, int]]] = {}
    last: dict[str, str] = {}
    for step in plan.steps:
        for value in step.inputs:
            readers.setdefault(value, set()).add(worker_of[step.op])
    for steps in workers.values():
        for step in steps:
            for value in step.inputs:
                last[value] = step.op  # per worker order; only used when one worker reads it
    keep = set(plan.traced.output_values)
    waited: set[str] = set()
    out: dict[tuple[int, int], list[_Work]] = {}
    for key, steps in workers.items():
        items = []
        for step in steps:
            waits = tuple(dict.fromkeys(list(step.wait_local) + [r.producer for r in step.remote]))
            waited.update(waits)
            local = tuple(v for v in step.inputs if v not in keep and len(readers[v]) == 1 and last[v] == step.op)
            shared = tuple(v for v in step.inputs if v not in keep and len(readers[v]) > 1)
            items.append(_Work(step.op, step.inputs, waits, False, local, shared))
        out[key] = items
    return {
        key: [_Work(w.op, w.inputs, w.waits, w.op in waited, w.free_local, w.free_shared) for w in items]
        for key, items in out.items()
    }


class _RunState:
    def __init__(
        self, plan: Plan, env: dict[str, Any], n_workers: int, timeout_s: float, signaled: frozenset[str]
    ) -> None:
        self.env = env
        self.done = {op: threading.Event() for op in signaled}
        self.remaining_reads = dict(plan.readers)
        self.refs_lock = threading.Lock()
        self.abort = threading.Event()
        self.all_done = threading.Event()
        self.error: BaseException | None = None
        self.failed_op: str | None = None
        self.workers_left = n_workers
        self.count_lock = threading.Lock()
        self.times: dict[str, tuple[float, float]] = {}
        self.current: list[str | None] = [None] * n_workers
        self.t0 = time.perf_counter()
        self.deadline = self.t0 + timeout_s

    def fail(self, op: str, exc: BaseException) -> None:
        with self.count_lock:
            if self.error is None:
                self.error, self.failed_op = exc, op
        self.abort.set()

    def worker_finished(self) -> None:
        with self.count_lock:
            self.workers_left -= 1
            if self.workers_left == 0:
                self.all_done.set()

    def wait_for(self, op: str, waiter: str) -> bool:
        event = self.done[op]
        while not event.wait(_POLL_S):
            if self.abort.is_set():
                return False
            if time.perf_counter() > self.deadline:
                self.fail(waiter, ExecutorError(f"op {waiter!r} timed out waiting for op {op!r}"))
                return False
        return not self.abort.is_set()

    def release(self, values: tuple[str, ...]) -> None:
        with self.refs_lock:
            for value in values:
                left = self.remaining_reads[value] - 1
                self.remaining_reads[value] = left
                if left == 0:
                    self.env.pop(value, None)


class CpuExecutor:
    """Run a :class:`~hios_opt.executor.plan.Plan` on the CPU with threads.

    The worker threads are started once and reused by every call, so that a
    measurement does not time thread creation. Use it as a context manager
    (or call :meth:`close`) to join them.

    Parameters
    ----------
    plan : Plan
        The compiled plan; its ``device_map``, if any, must name only ``cpu``.
    timeout_s : float
        Upper bound of one run; every wait inside a run respects it.
    intra_op_threads : int, optional
        ``torch.set_num_threads`` inside each worker (the setting is per
        thread). Default: the caller's thread count divided by the number of
        workers, at least 1, so that concurrent streams do not oversubscribe
        the cores (a sequential plan keeps every thread).

    Raises
    ------
    DeviceError
        If the plan maps a logical GPU to a non-CPU device.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from hios_opt import Schedule
    >>> from hios_opt.trace import trace
    >>> from hios_opt.executor.plan import compile
    >>> net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    >>> traced = trace(net, torch.zeros(1, 4))
    >>> plan = compile(traced, Schedule.from_gpu_lists([["_0"], ["_2"]]))
    >>> x = torch.randn(1, 4)
    >>> with CpuExecutor(plan) as ex:
    ...     torch.allclose(ex(x).outputs, net(x))
    True
    """

    def __init__(self, plan: Plan, *, timeout_s: float = 60.0, intra_op_threads: int | None = None) -> None:
        if plan.device_map is not None:
            bad = {g: str(d) for g, d in plan.device_map.items() if d.type != "cpu"}
            if bad:
                raise DeviceError(f"the CPU backend runs on 'cpu' only; device_map asks for {bad}")
        self.plan = plan
        self.timeout_s = check_timeout(timeout_s)
        plan.traced.prepare()
        self._lists = _work_lists(plan)
        self._signaled = frozenset(w.op for items in self._lists.values() for w in items if w.signal)
        if intra_op_threads is None:
            intra_op_threads = max(1, torch.get_num_threads() // max(len(self._lists), 1))
        self.intra_op_threads = int(intra_op_threads)
        self._queues: dict[tuple[int, int], queue.SimpleQueue[_RunState | None]] = {}
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._broken = False
        for slot, (key, items) in enumerate(self._lists.items()):
            q: queue.SimpleQueue[_RunState | None] = queue.SimpleQueue()
            thread = threading.Thread(
                target=_worker, args=(plan.traced.run_op, self.intra_op_threads, slot, q, items),
                name=f"hios-gpu{key[0]}-stream{key[1]}", daemon=True
            )
            self._queues[key] = q
            self._threads.append(thread)
            thread.start()

    def __enter__(self) -> CpuExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort; close() is the contract
        if not getattr(self, "_closed", True):
            for q in self._queues.values():
                q.put(None)

    def close(self, timeout_s: float | None = None) -> None:
        """Stop and join the worker threads (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for q in self._queues.values():
            q.put(None)
        deadline = time.perf_counter() + (self.timeout_s if timeout_s is None else timeout_s)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.perf_counter()))

    def __call__(self, *inputs: Any, timeout_s: float | None = None) -> RunRecord:
        """Run the plan once on ``inputs``; return outputs, latency and op times.

        ``timeout_s`` overrides the executor's bound for this run.

        Raises
        ------
        OpExecutionError
            An operator raised (the message names it).
        ExecutorError
            The run exceeded ``timeout_s``, or the executor is closed.
        """
        if self._closed:
            raise ExecutorError("this CpuExecutor is closed")
        if self._broken:
            raise ExecutorError("this CpuExecutor timed out before; a worker may still be stuck")
        traced = self.plan.traced
        env = traced.bind_inputs(*inputs)
        limit = self.timeout_s if timeout_s is None else check_timeout(timeout_s)
        state = _RunState(self.plan, env, len(self._queues), limit, self._signaled)
        for q in self._queues.values():
            q.put(state)
        if not state.all_done.wait(limit):
            state.fail("?", ExecutorError(f"run exceeded timeout_s={limit:g}"))
            state.all_done.wait(min(1.0, limit))
            self._broken = not state.all_done.is_set()
            raise ExecutorError(
                f"plan for {traced.name!r} did not finish within {limit:g} s "
                f"(an operator may be stuck; running: {self._running(state)})"
            )
        if state.error is not None:
            if isinstance(state.error, ExecutorError):
                raise state.error
            raise OpExecutionError(
                f"op {state.failed_op!r} raised {type(state.error).__name__}: {state.error}"
            ) from state.error
        outputs = traced.collect_outputs(env)
        latency_ms = (time.perf_counter() - state.t0) * 1e3
        times = {op: ((a - state.t0) * 1e3, (b - state.t0) * 1e3) for op, (a, b) in state.times.items()}
        return RunRecord(outputs, latency_ms, times)

    @staticmethod
    def _running(state: _RunState) -> str:
        return ", ".join(op for op in state.current if op) or "none"


def _worker(run_op: Any, intra_op_threads: int, slot: int, jobs: queue.SimpleQueue[_RunState | None],
            items: list[_Work]) -> None:
    """One worker thread's loop. It holds no reference to its executor, so that an
    executor nobody closed is still collected, and its ``__del__`` ends the workers."""
    clock = time.perf_counter
    torch.set_grad_enabled(False)  # grad mode and thread count are per thread
    torch.set_num_threads(intra_op_threads)
    while True:
        state = jobs.get()
        if state is None:
            return
        env, times, done, current = state.env, state.times, state.done, state.current
        try:
            for work in items:
                if state.abort.is_set():
                    break
                if work.waits and not all(state.wait_for(op, work.op) for op in work.waits):
                    break
                current[slot] = work.op
                start = clock()
                try:
                    run_op(work.op, env)
                except BaseException as exc:  # noqa: BLE001 - reported to the caller
                    state.fail(work.op, exc)
                    break
                times[work.op] = (start, clock())
                current[slot] = None
                if work.signal:
                    done[work.op].set()
                for value in work.free_local:
                    del env[value]
                if work.free_shared:
                    state.release(work.free_shared)
        finally:
            state.worker_finished()
