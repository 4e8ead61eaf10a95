"""Measure operator, stage and transfer costs of a traced model on a device.

:func:`measure_costs` turns a :class:`~hios_opt.trace.TracedGraph` into an
:class:`~hios_opt.graph.OpGraph` whose costs were *measured*: op latencies
from forward-order sweeps, the latencies of concurrent pairs (hence the
utilizations) and a link curve for the edges (:func:`measure_link`).
``timing="launch"`` times what the eager executor pays, ``"kernel"`` what a
CUDA-graph replay pays. Results are cached as graph JSON under
``$HIOS_OPT_CACHE`` (default ``~/.cache/hios_opt``, :func:`cache_path`),
keyed by model, input shape, batch, device, granularity, threads, the pair
options and the method version.

How each quantity is measured, and why, is in the Notes of
:func:`measure_costs`.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import functools
import hashlib
import itertools
import json
import os
import platform as _platform
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hios_opt import _torch  # noqa: F401  (first: without torch, an error naming the [torch] extra)

# isort: split
import numpy as np
import torch
from tqdm.auto import tqdm

from hios_opt.errors import ProfileError
from hios_opt.graph import OpGraph
from hios_opt.platform import Link
from hios_opt.trace import TracedGraph, map_tensors

__all__ = ["LinkModel", "measure_costs", "measure_link", "cache_dir", "cache_path", "device_name"]

MIN_UTILIZATION = 0.01
#: ``sweep_median_ms / op_sum_ms`` above this means the profile was taken under load (warned).
LOAD_WARNING_RATIO = 1.5
#: 2: op latencies from forward-order sweeps (1: hot loops); thread count in the key.
CACHE_VERSION = 2

T = TypeVar("T")

#: ``timing`` values of :func:`measure_costs`.
TIMINGS = ("launch", "kernel")


@dataclass(frozen=True, kw_only=True)
class LinkModel(Link):
    """A measured :class:`~hios_opt.platform.Link`: the fitted transfer-time
    curve between two devices.

    Attributes
    ----------
    bandwidth_gbps, latency_us : float
        The fit ``ms = latency_us / 1e3 + bytes / (bandwidth_gbps * 1e6)``.
    device_a, device_b : str
        Source and destination.
    samples : tuple of (int, float)
        ``(bytes, median ms)`` measurements behind the fit.

    Examples
    --------
    >>> link = LinkModel(bandwidth_gbps=10.0, latency_us=10.0, device_a="cpu", device_b="cpu", samples=())
    >>> round(link.transfer_ms(1_000_000), 6)
    0.11
    """

    device_a: str
    device_b: str
    samples: tuple[tuple[int, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"device_a": self.device_a, "device_b": self.device_b, "bandwidth_gbps": self.bandwidth_gbps,
                "latency_us": self.latency_us, "samples": [list(s) for s in self.samples]}


# ------------------------------------------------------------------ helpers
def device_name(device: str | torch.device) -> str:
    """A human-readable name of ``device`` (GPU model, CPU model).

    Examples
    --------
    >>> isinstance(device_name("cpu"), str)
    True
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return _platform.processor() or _platform.machine() or "cpu"


def cache_dir() -> Path:
    """The profile cache directory: ``$HIOS_OPT_CACHE`` or ``~/.cache/hios_opt``."""
    return Path(os.environ.get("HIOS_OPT_CACHE") or Path.home() / ".cache" / "hios_opt")


def _input_shapes(traced: TracedGraph) -> list[list[int]]:
    return [list(x.shape) for x in traced.example_inputs if isinstance(x, torch.Tensor)]


def cache_path(
    traced: TracedGraph,
    device: str | torch.device = "cpu",
    *,
    pairs: bool = True,
    max_pairs: int | None = None,
    directory: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    timing: str = "launch",
) -> Path:
    """Where :func:`measure_costs` caches the costs of ``traced`` on ``device``.

    ``threads`` is the intra-op thread count of the measurement (default:
    the caller's ``torch.get_num_threads()``); ``timing`` the CUDA timing
    mode (``"launch"`` or ``"kernel"``).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from hios_opt.trace import trace
    >>> traced = trace(nn.Sequential(nn.Linear(2, 2)), torch.zeros(1, 2), name="tiny")
    >>> cache_path(traced, directory="/tmp/c").name.startswith("tiny-block-cpu-1x2-")
    True
    """
    shapes = _input_shapes(traced)
    key = {
        "version": CACHE_VERSION,
        "model": traced.name,
        "input_shape": shapes,
        "batch": shapes[0][0] if shapes and shapes[0] else None,
        "device": str(torch.device(device)),
        "granularity": traced.granularity,
        "pairs": bool(pairs),
        "max_pairs": max_pairs,
        "threads": int(threads) if threads is not None else torch.get_num_threads(),
        "ops": list(traced.ids),
    }
    if timing != "launch":  # launch-timed keys stay those of earlier caches
        key["timing"] = timing
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    shape = "x".join(map(str, shapes[0])) if shapes else "none"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in traced.name)
    dev = str(torch.device(device)).replace(":", "")
    base = Path(directory) if directory is not None else cache_dir()
    return base / f"{safe}-{traced.granularity}-{dev}-{shape}-{digest}.json"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Lead:
    """A spin kernel that holds a CUDA stream while the host enqueues a timed region.

    :meth:`hold` enqueues ``torch.cuda._sleep`` for :attr:`lead_ms` on the
    current stream; :meth:`covered` says whether a region's host enqueue
    time stayed well inside it, and lengthens the spin when it did not (the
    caller then re-runs the region).
    """

    #: Regions re-run at most this many times with a longer spin.
    RETRIES = 4
    #: The spin never gets shorter than this (ms).
    MIN_MS = 0.2

    def __init__(self, device: torch.device, lead_ms: float = 0.5) -> None:
        self.device = device
        self.lead_ms = lead_ms
        self.short = 0  # regions accepted although their enqueue outlasted the spin
        with torch.cuda.device(device):
            cycles = 1_000_000
            for _ in range(2):  # the first call loads the kernel
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                torch.cuda._sleep(cycles)
                end.record()
                end.synchronize()
            self.cycles_per_ms = cycles / max(float(start.elapsed_time(end)), 1e-3)

    def hold(self) -> None:
        torch.cuda._sleep(int(self.lead_ms * self.cycles_per_ms))

    def region(self, enqueue: Callable[[], T], wait: Callable[[T], None], stream: Any = None) -> T:
        """Enqueue a timed region behind the spin (on ``stream``, default the
        current one), wait for it, and re-run it with a longer spin until the
        spin covered the host's enqueue time; returns what ``enqueue`` returned."""
        attempt = 0
        while True:
            with torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext():
                self.hold()
            start_s = time.perf_counter()
            result = enqueue()
            enqueue_ms = (time.perf_counter() - start_s) * 1e3
            wait(result)
            if self.covered(enqueue_ms, attempt):
                return result
            attempt += 1

    def covered(self, enqueue_ms: float, attempt: int) -> bool:
        if enqueue_ms <= 0.5 * self.lead_ms:
            # follow the regions down again (one slow enqueue must not slow every later region)
            self.lead_ms = max(self.MIN_MS, min(self.lead_ms, 4.0 * enqueue_ms))
            return True
        self.lead_ms = max(2.0 * self.lead_ms, 3.0 * enqueue_ms)
        if attempt + 1 >= self.RETRIES:
            self.short += 1
            return True
        return False


class _Timer:
    """Times one callable, or two concurrently, on a device.

    With ``kernel=True`` (CUDA only) a :class:`_Lead` spin precedes every
    timed region, so that the events time the kernels, not the launches.
    """

    def __init__(self, device: torch.device, kernel: bool = False) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        self.lead: _Lead | None = None
        if self.cuda:
            self.streams = (torch.cuda.Stream(device=device), torch.cuda.Stream(device=device))
            if kernel:
                self.lead = _Lead(device)
        else:
            self.threads = max(1, torch.get_num_threads() // 2)  # as CpuExecutor with two streams
            self._tasks: list[Callable[[], Any] | None] = [None, None]
            self._start = threading.Barrier(3)
            self._end = threading.Barrier(3)
            self._stop = False
            self._errors: list[BaseException] = []
            self._threads = [threading.Thread(target=self._worker, args=(k,), daemon=True) for k in (0, 1)]
            for thread in self._threads:
                thread.start()
            self.overhead_ms = float(np.median([self._pair(_noop, _noop) for _ in range(20)]))

    def close(self) -> None:
        if not self.cuda:
            self._stop = True
            self._start.abort()
            self._end.abort()
            for thread in self._threads:
                thread.join(1.0)

    def _worker(self, k: int) -> None:
        torch.set_grad_enabled(False)
        torch.set_num_threads(self.threads)
        while True:
            try:
                self._start.wait()
            except threading.BrokenBarrierError:
                return
            task = self._tasks[k]
            try:
                if task is not None:
                    task()
            except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
                self._errors.append(exc)
            try:
                self._end.wait()
            except threading.BrokenBarrierError:
                return

    def solo(self, fn: Callable[[], Any]) -> float:
        if self.cuda:
            return self._cuda_region(lambda: self._solo_cuda(fn))
        start_s = time.perf_counter()
        fn()
        return (time.perf_counter() - start_s) * 1e3

    def pair(self, fa: Callable[[], Any], fb: Callable[[], Any]) -> float:
        if self.cuda:
            return self._cuda_region(lambda: self._pair_cuda(fa, fb))
        return max(self._pair(fa, fb) - self.overhead_ms, 0.0)

    def _cuda_region(self, enqueue: Callable[[], tuple[Any, Any]]) -> float:
        """Enqueue a region (behind the lead spin in kernel mode); its event time."""
        if self.lead is None:
            start, end = enqueue()
            end.synchronize()
        else:
            start, end = self.lead.region(enqueue, lambda events: events[1].synchronize(), self.streams[0])
        return float(start.elapsed_time(end))

    def _solo_cuda(self, fn: Callable[[], Any]) -> tuple[Any, Any]:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        stream = self.streams[0]
        with torch.cuda.stream(stream):
            start.record(stream)
            fn()
            end.record(stream)
        return start, end

    def _pair_cuda(self, fa: Callable[[], Any], fb: Callable[[], Any]) -> tuple[Any, Any]:
        s0, s1 = self.streams
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        joined = torch.cuda.Event()
        start.record(s0)
        s1.wait_event(start)
        with torch.cuda.stream(s0):
            fa()
        with torch.cuda.stream(s1):
            fb()
            joined.record(s1)
        s0.wait_event(joined)
        end.record(s0)
        return start, end

    def _pair(self, fa: Callable[[], Any], fb: Callable[[], Any]) -> float:
        self._tasks[0], self._tasks[1] = fa, fb
        self._start.wait()
        start_s = time.perf_counter()
        self._end.wait()
        elapsed = (time.perf_counter() - start_s) * 1e3
        if self._errors:
            raise self._errors.pop()
        return elapsed


def _noop() -> None:
    return None


def _median_time(measure: Callable[[], float], warmup: int, repeat: int) -> float:
    for _ in range(warmup):
        measure()
    return float(np.median([measure() for _ in range(repeat)]))


def _last_uses(traced: TracedGraph) -> list[tuple[str, tuple[str, ...]]]:
    """Each op in topological order, with the values it reads last (not outputs)."""
    last: dict[str, str] = {}
    for op in traced.ops:
        for value in op.inputs:
            last[value] = op.id
    keep = set(traced.output_values)
    dead: dict[str, list[str]] = {}
    for value, op_id in last.items():
        if value not in keep:
            dead.setdefault(op_id, []).append(value)
    return [(op.id, tuple(dead.get(op.id, ()))) for op in traced.ops]


def _sweep_latencies(
    traced: TracedGraph,
    root: torch.nn.Module,
    inputs: tuple[Any, ...],
    device: torch.device,
    warmup: int,
    repeat: int,
    progress: bool,
    lead: _Lead | None = None,
) -> tuple[dict[str, float], float]:
    """Per-op median latency over forward-order sweeps, and the median sweep.

    ``lead`` (CUDA, kernel timing) holds the stream while each sweep is
    enqueued. Returns ``(op -> median ms, median over sweeps of the sweep's
    op sum)``.
    """
    order = _last_uses(traced)
    samples: dict[str, list[float]] = {op_id: [] for op_id, _ in order}
    sweeps: list[float] = []
    cuda = device.type == "cuda"
    clock = time.perf_counter
    run_op = traced.run_op
    for k in tqdm(range(warmup + repeat), desc=f"{traced.name}: sweeps", disable=not progress, leave=False):
        times: dict[str, float] = {}
        if cuda:

            def enqueue() -> list[tuple[str, Any, Any]]:
                env = traced.bind_inputs(*inputs)
                events = []
                for op_id, dead in order:
                    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    start.record()
                    run_op(op_id, env, root=root)
                    end.record()
                    events.append((op_id, start, end))
                    for value in dead:
                        del env[value]
                return events

            def wait(_: Any) -> None:
                torch.cuda.synchronize(device)

            if lead is None:
                events = enqueue()
                wait(events)
            else:
                events = lead.region(enqueue, wait)
            times = {op_id: float(start.elapsed_time(end)) for op_id, start, end in events}
        else:
            env = traced.bind_inputs(*inputs)
            for op_id, dead in order:
                start_s = clock()
                run_op(op_id, env, root=root)
                times[op_id] = (clock() - start_s) * 1e3
                for value in dead:
                    del env[value]
        if k >= warmup:
            for op_id, ms in times.items():
                samples[op_id].append(ms)
            sweeps.append(sum(times.values()))
    latency = {op_id: max(float(np.median(values)), 1e-6) for op_id, values in samples.items()}
    return latency, float(np.median(sweeps))


def _plain_sweep_ms(
    traced: TracedGraph, root: torch.nn.Module, inputs: tuple[Any, ...], device: torch.device, repeat: int, lead: _Lead
) -> tuple[float, str]:
    """Median GPU time of a whole forward-order sweep with no event between the ops (CUDA).

    The sweep is captured into a CUDA graph and its replays are timed (what
    a CUDA-graph plan pays: no launch gaps); where capture fails, the sweep
    is enqueued behind the lead spin instead. Returns ``(ms, how)``.
    """
    order = _last_uses(traced)

    def sweep() -> None:
        env = traced.bind_inputs(*inputs)
        for op_id, dead in order:
            traced.run_op(op_id, env, root=root)
            for value in dead:
                del env[value]

    samples = []
    try:
        side = torch.cuda.Stream(device=device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            sweep()
        torch.cuda.current_stream(device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            sweep()
        for k in range(repeat + 2):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            graph.replay()
            end.record()
            end.synchronize()
            if k >= 2:
                samples.append(float(start.elapsed_time(end)))
        del graph
        return float(np.median(samples)), "cuda-graph"
    except Exception:  # noqa: BLE001 - an op that cannot be captured: time the queued sweep
        torch.cuda.synchronize(device)
    def enqueue() -> tuple[Any, Any]:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        sweep()
        end.record()
        return start, end

    for _ in range(repeat + 1):  # the first one warms the spin's length up
        start, end = lead.region(enqueue, lambda events: torch.cuda.synchronize(device))
        samples.append(float(start.elapsed_time(end)))
    return float(np.median(samples[1:])), "queued"


def _independent_pairs(traced: TracedGraph) -> list[tuple[str, str, int]]:
    """Pairs of ops with no path between them, with their depth difference."""
    ids = traced.ids
    index = {op: i for i, op in enumerate(ids)}
    reach = [0] * len(ids)
    depth = [0] * len(ids)
    for op in ids:
        i = index[op]
        for pred in traced.predecessors(op):
            p = index[pred]
            reach[i] |= reach[p] | (1 << p)
            depth[i] = max(depth[i], depth[p] + 1)
    out = []
    for i, j in itertools.combinations(range(len(ids)), 2):
        if not (reach[j] >> i) & 1 and not (reach[i] >> j) & 1:
            out.append((ids[i], ids[j], abs(depth[i] - depth[j])))
    return out


# --------------------------------------------------------------------- link
def measure_link(
    device_a: str | torch.device = "cpu",
    device_b: str | torch.device | None = None,
    *,
    sizes: tuple[int, ...] = (1 << 12, 1 << 15, 1 << 18, 1 << 20, 1 << 22, 1 << 24),
    warmup: int = 2,
    repeat: int = 7,
) -> LinkModel:
    """Measure the transfer-time curve from ``device_a`` to ``device_b``.

    Copies float32 tensors of each size in ``sizes`` (bytes) and fits
    ``ms = latency + bytes / bandwidth`` by least squares. Between two CPUs
    (or one device and itself) it times a memory copy.

    Examples
    --------
    >>> link = measure_link("cpu", sizes=(1 << 12, 1 << 16), repeat=3)
    >>> link.bandwidth_gbps > 0 and link.latency_us >= 0
    True
    """
    a = torch.device(device_a)
    b = a if device_b is None else torch.device(device_b)
    for device in (a, b):
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ProfileError(f"cannot measure a link to {device}: CUDA is not available")
    samples = []
    for size in sizes:
        src = torch.empty(max(size // 4, 1), dtype=torch.float32, device=a).uniform_()
        dst = torch.empty_like(src, device=b)

        def copy_once(src: torch.Tensor = src, dst: torch.Tensor = dst) -> float:
            _sync(a)
            _sync(b)
            start = time.perf_counter()
            dst.copy_(src)
            _sync(a)
            _sync(b)
            return (time.perf_counter() - start) * 1e3

        samples.append((int(src.numel() * 4), _median_time(copy_once, warmup, repeat)))
    x = np.array([s[0] for s in samples], dtype=float)
    y = np.array([s[1] for s in samples], dtype=float)
    slope, intercept = np.polyfit(x, y, 1) if len(samples) > 1 else (y[0] / x[0], 0.0)
    slope = max(float(slope), 1e-15)
    return LinkModel(
        device_a=str(a),
        device_b=str(b),
        bandwidth_gbps=1.0 / (slope * 1e6),
        latency_us=max(float(intercept), 0.0) * 1e3,
        samples=tuple(samples),
    )


# -------------------------------------------------------------------- costs
def measure_costs(
    traced: TracedGraph,
    device: str | torch.device = "cpu",
    *,
    warmup: int = 3,
    repeat: int = 10,
    pairs: bool = True,
    max_pairs: int | None = None,
    progress: bool = True,
    cache: bool = True,
    cache_directory: str | os.PathLike[str] | None = None,
    link: bool | LinkModel = True,
    alpha: float = 0.5,
    threads: int | None = None,
    timing: str = "launch",
) -> Any:
    """Measure the costs of ``traced`` on ``device``; return an OpGraph.

    Parameters
    ----------
    traced : TracedGraph
        The model.
    device : str or torch.device
        ``"cpu"`` or ``"cuda:k"``.
    warmup, repeat : int
        Untimed and timed forward-order sweeps (op latencies), and untimed
        and timed runs of each pair.
    pairs : bool
        Measure pairs of independent ops run concurrently (fills
        ``stage_latency_ms`` and the utilizations).
    max_pairs : int, optional
        Measure at most this many pairs: those closest in depth first (the
        ones a scheduler is likely to put in one stage), then the longest.
        ``None`` measures every independent pair.
    progress : bool
        Show tqdm progress bars.
    cache : bool
        Read and write the cache (see :func:`cache_path`).
    cache_directory : path, optional
        Cache location (default :func:`cache_dir`).
    link : bool or LinkModel
        Price edges with :func:`measure_link` (``True``), a given curve, or
        not at all (``False``: the platform's link prices them).
    alpha : float
        The analytic model's ``a`` used to derive utilizations.
    threads : int, optional
        Intra-op threads to time every op with (default: the caller's
        ``torch.get_num_threads()``). Use the count each executor worker
        gets, e.g. ``1`` on a shared CPU. Restored afterwards.
    timing : {"launch", "kernel"}
        CUDA only: time what the eager executor pays, launches included
        (``"launch"``), or the kernels alone, what a CUDA-graph replay pays
        (``"kernel"``); see the Notes.

    Returns
    -------
    OpGraph
        With ``meta["source"] == "measured"``, ``meta["method"] ==
        "forward-sweep"``, ``meta["timing"]``, the thread count, and ``meta["op_sum_ms"]`` /
        ``meta["sweep_median_ms"]`` (sum of op latencies, median sweep).

    Raises
    ------
    ProfileError
        An operator fails, or the device is unavailable.

    Notes
    -----
    *Op latency* ``t(v)`` is timed in forward-order sweeps. A sweep runs the
    whole model once, every operator in topological order through
    :meth:`TracedGraph.run_op`, from fresh inputs, freeing each value after its
    last reader as the forward pass does, and times each operator on its own
    (CUDA: an event pair per operator on one stream, read after the sweep;
    elsewhere ``perf_counter``). ``t(v)`` is the median over ``repeat`` sweeps
    (after ``warmup`` sweeps). Each operator is thus timed in the cache state it
    meets when the model (or the executor) really runs: its weights and inputs
    were evicted by the operators before it. Timing one operator in a hot loop
    on the same inputs instead (the method of cache version 1) keeps them in
    cache and underestimates; ``benchmarks/bench_executor.py`` keeps the
    comparison.

    *Threads.* Every op is timed with ``threads`` intra-op threads; give the
    count each executor worker will use (the CPU executor gives each of its
    ``W`` workers ``threads // W``) so that profile and execution agree. The
    count is part of the cache key.

    *Stage latency* ``L({a, b})`` of pairs of independent operators run
    concurrently: two CUDA streams on a GPU, two threads elsewhere, released
    together (each CPU thread with half the intra-op threads, as the CPU
    executor gives two streams). A pair is repeated in a hot loop, so it is
    compared like for like with its members timed alone in the same hot loop
    (``h(a)``, ``h(b)``), and rescaled to sweep conditions:
    ``L = L_hot * (t(a) + t(b)) / (h(a) + h(b))``. The fixed cost of the
    release (measured with two no-ops) is subtracted. A pair measured below
    ``max(h(a), h(b))``, or rescaled below ``max(t(a), t(b))``, is noise
    (nothing runs faster than its slowest member, and the evaluator's bounds
    rely on it): it is clamped up, and ``meta["clamped_groups"]`` counts the
    clamps.

    *Utilization* ``u(v)``: the value that makes the analytic model of the
    problem contract (docs/design.md section 1)
    ``L = a*(t_a+t_b) + (1-a)*max(t_a*u_a + t_b*u_b, max t)`` (``a = alpha``)
    reproduce each measured pair when both members share one utilization,
    ``rho = (L - a*(t_a+t_b)) / ((1-a)*(t_a+t_b))``, then for each op the median
    ``rho`` over its pairs, clamped to ``[0.01, 1]``. Ops in no measured pair
    keep 1.0 (the conservative value).

    *Transfer cost* of every edge from a measured link curve
    (:func:`measure_link`: latency + bytes / bandwidth, a least-squares fit over
    copies of several sizes; on the CPU a host memory copy).

    *Launch time or kernel time (CUDA).* At batch 1 most operators of a CNN run
    for a few microseconds on a modern GPU, less than the host needs to launch
    them through Python. An event pair around an operator then measures the
    launch-bound time: the GPU sits idle between the start event and the first
    kernel while the host is still dispatching. That is what the eager executor
    pays (``timing="launch"``). ``timing="kernel"`` measures what the GPU itself
    needs, which is what a CUDA-graph replay (``run(..., cuda_graph=True)``)
    pays: before each timed region a spin kernel (``torch.cuda._sleep``) holds
    the stream while the host enqueues the whole region, so the timed kernels
    run back to back. The spin is made long enough to cover the host's enqueue
    time, which is checked after every region (a region enqueued slower than
    the spin is re-run with a longer one). The events between the operators cost
    GPU time of their own, and a queued sweep still leaves gaps between kernels
    that a CUDA graph does not. So kernel timing also captures the plain sweep
    (no events) into a CUDA graph, times ``repeat`` replays
    (``meta["plain_sweep"] == "cuda-graph"``; an op that cannot be captured
    falls back to the queued sweep, ``"queued"``), and scales every op time, and
    with them every pair, by ``plain / sum`` (never above 1):
    ``meta["event_scale"]``, next to ``meta["plain_sweep_ms"]``.

    *On a loaded machine* the median of each operator discards the moments
    another process held the core, but a whole forward pass of many operators
    rarely escapes them: the sum of per-op medians is then below the median
    forward (and plan) time, severely so with several intra-op threads, as a
    parallel region waits for its slowest thread. ``meta["sweep_median_ms"]``
    records the median wall time of a whole sweep next to ``meta["op_sum_ms"]``,
    and a ``RuntimeWarning`` is issued when the first exceeds the second by more
    than :data:`LOAD_WARNING_RATIO`; one intra-op thread per worker keeps the two
    close on a shared machine.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from hios_opt.trace import trace
    >>> net = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4)).eval()
    >>> g = measure_costs(trace(net, torch.zeros(1, 16)), warmup=1, repeat=3,
    ...                   progress=False, cache=False, link=False)
    >>> g.meta["source"], all(op.latency_ms > 0 for op in g.ops)
    ('measured', True)
    """
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ProfileError(f"cannot profile on {dev}: CUDA is not available")
    if warmup < 0 or repeat < 1:
        raise ProfileError(f"need warmup >= 0 and repeat >= 1, got {warmup}, {repeat}")
    if not 0.0 <= alpha < 1.0:
        raise ProfileError(f"alpha must be in [0, 1), got {alpha}")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ProfileError(f"threads must be an integer >= 1, got {threads!r}")
    if timing not in TIMINGS:
        raise ProfileError(f"timing must be one of {', '.join(TIMINGS)}, got {timing!r}")
    if timing == "kernel" and dev.type != "cuda":
        raise ProfileError(f"timing='kernel' separates kernels from launches on CUDA devices only, not {dev}")
    n_threads = torch.get_num_threads() if threads is None else threads
    path = cache_path(traced, dev, pairs=pairs, max_pairs=max_pairs, directory=cache_directory, threads=n_threads,
                      timing=timing)
    if cache and path.exists():
        try:
            cached = OpGraph.load(path)
        except Exception:  # noqa: BLE001 - a bad cache file is re-measured
            cached = None
        if cached is not None and tuple(cached.ids) == traced.ids:
            return cached

    root: torch.nn.Module = traced.graph_module
    if dev.type != "cpu":
        root = copy.deepcopy(traced.graph_module).to(dev)
    inputs = tuple(map_tensors(x, lambda t: t.to(dev)) for x in traced.example_inputs)
    caller_threads = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    timer: _Timer | None = None
    lead: _Lead | None = None
    try:
        traced.prepare(root)
        with torch.no_grad(), (torch.cuda.device(dev) if dev.type == "cuda" else contextlib.nullcontext()):
            if timing == "kernel":
                lead = _Lead(dev)
            latency, sweep_ms = _sweep_latencies(traced, root, inputs, dev, warmup, repeat, progress, lead)
            event_scale = 1.0
            if lead is not None:
                # The events between the ops cost GPU time of their own (and keep the GPU from
                # overlapping one kernel's launch with the previous kernel): scale the op times
                # so that they add up to the sweep run without them.
                plain_ms, plain_how = _plain_sweep_ms(traced, root, inputs, dev, repeat, lead)
                event_scale = min(1.0, plain_ms / max(sum(latency.values()), 1e-9))
                latency = {op_id: ms * event_scale for op_id, ms in latency.items()}
                sweep_ms *= event_scale
            table: dict[frozenset[str], float] = {}
            rho: dict[str, list[float]] = {}
            clamped = 0
            measured_pairs = 0
            if pairs:
                timer = _Timer(dev, kernel=timing == "kernel")
                env = traced.bind_inputs(*inputs)
                for op in traced.ops:
                    traced.run_op(op.id, env, root=root)
                _sync(dev)

                def runner(op_id: str) -> Callable[[], None]:
                    local = {name: env[name] for name in traced.op(op_id).inputs}
                    return lambda: traced.run_op(op_id, local, root=root)

                candidates = _independent_pairs(traced)
                candidates.sort(key=lambda p: (p[2], -(latency[p[0]] + latency[p[1]])))
                if max_pairs is not None:
                    candidates = candidates[: max(int(max_pairs), 0)]
                # members timed alone in the same hot loop as the pairs: the like-for-like reference
                hot: dict[str, float] = {}
                members = list(dict.fromkeys(op_id for a, b, _ in candidates for op_id in (a, b)))
                for op_id in tqdm(members, desc=f"{traced.name}: pair members", disable=not progress, leave=False):
                    fn = runner(op_id)
                    hot[op_id] = max(_median_time(functools.partial(timer.solo, fn), warmup, repeat), 1e-6)
                for a, b, _ in tqdm(candidates, desc=f"{traced.name}: pairs", disable=not progress, leave=False):
                    fa, fb = runner(a), runner(b)
                    measured_hot = _median_time(functools.partial(timer.pair, fa, fb), warmup, repeat)
                    total = latency[a] + latency[b]
                    floor_hot, floor = max(hot[a], hot[b]), max(latency[a], latency[b])
                    measured = max(measured_hot, floor_hot) * total / (hot[a] + hot[b])
                    if measured_hot < floor_hot or measured < floor:
                        clamped += 1
                        measured = max(measured, floor)
                    table[frozenset((a, b))] = measured
                    measured_pairs += 1
                    value = (measured - alpha * total) / ((1.0 - alpha) * total)
                    for op_id in (a, b):
                        rho.setdefault(op_id, []).append(value)
    except ProfileError:
        raise
    except Exception as exc:
        raise ProfileError(f"profiling {traced.name!r} on {dev} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if timer is not None:
            timer.close()
        torch.set_num_threads(caller_threads)
    op_sum_ms = float(sum(latency.values()))
    if sweep_ms > LOAD_WARNING_RATIO * op_sum_ms:
        cause = "other processes" + (f", or {n_threads} intra-op threads waiting for each other" if n_threads > 1 else "")
        advice = "on an idle machine" + (" or with threads=1" if n_threads > 1 else "")
        warnings.warn(
            f"profiling {traced.name!r}: a whole sweep took {sweep_ms:.3g} ms (median) but its ops sum to "
            f"{op_sum_ms:.3g} ms; the machine was busy ({cause}), so predictions will be optimistic. "
            f"Profile {advice}.",
            RuntimeWarning,
            stacklevel=2,
        )
    utilization = {
        op_id: float(min(1.0, max(MIN_UTILIZATION, float(np.median(values))))) for op_id, values in rho.items()
    }
    link_model: LinkModel | None
    if link is True:
        link_model = measure_link(dev, _peer_device(dev))
    elif isinstance(link, LinkModel):
        link_model = link
    else:
        link_model = None
    shapes = _input_shapes(traced)
    meta: dict[str, Any] = {
        "source": "measured",
        "device": str(dev),
        "device_name": device_name(dev),
        "torch_version": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": traced.name,
        "input_shape": shapes,
        "input_size": shapes[0][-1] if shapes and shapes[0] else None,
        "batch_size": shapes[0][0] if shapes and shapes[0] else None,
        "granularity": traced.granularity,
        "method": "forward-sweep",
        "timing": timing if dev.type == "cuda" else "wall",
        "warmup": warmup,
        "repeat": repeat,
        "op_sum_ms": op_sum_ms,
        "sweep_median_ms": sweep_ms,
        "measured_pairs": measured_pairs,
        "clamped_groups": clamped,
        "utilization_model": {"alpha": alpha, "min": MIN_UTILIZATION},
        "threads": n_threads,
    }
    if lead is not None:  # kernel timing: the spin that hid the launches, and regions it did not cover
        leads = [lead] + ([timer.lead] if timer is not None and timer.lead is not None else [])
        meta["lead_ms"] = max(x.lead_ms for x in leads)
        meta["uncovered_regions"] = sum(x.short for x in leads)
        meta["plain_sweep_ms"] = plain_ms
        meta["plain_sweep"] = plain_how
        meta["event_scale"] = event_scale
    if link_model is not None:
        meta["link"] = link_model.to_dict()
    graph = traced.to_opgraph(
        latency,
        utilization=utilization,
        stage_latency_ms=table or None,
        comm_ms=None if link_model is None else link_model.transfer_ms,
        meta=meta,
    )
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        graph.save(path)
    return graph


def _peer_device(device: torch.device) -> torch.device:
    if device.type == "cuda" and torch.cuda.device_count() > 1:
        index = 0 if device.index is None else device.index
        return torch.device("cuda", (index + 1) % torch.cuda.device_count())
    return device
