"""Measure operator, stage and transfer costs of a traced model on a device.

:func:`measure_costs` turns a :class:`~hios_opt.trace.TracedGraph` into an
:class:`~hios_opt.graph.OpGraph` whose costs were *measured*:

* **op latency** ``t(v)``: median of ``repeat`` timed runs of the operator
  alone (after ``warmup``), through :meth:`TracedGraph.run_op` on inputs from
  one full forward pass. CUDA: CUDA events; elsewhere ``perf_counter``.
* **stage latency** ``L({a, b})`` of pairs of independent operators run
  concurrently: two CUDA streams on a GPU, two threads elsewhere, released
  together (each CPU thread with half the intra-op threads, as the CPU
  executor gives two streams). The fixed cost of the release (measured with
  two no-ops) is subtracted. A measured ``L`` below ``max(t(a), t(b))`` is noise (nothing
  runs faster than its slowest member, and the evaluator's bounds rely on
  it): it is clamped up, and ``meta["clamped_groups"]`` counts the clamps.
* **utilization** ``u(v)``: the value that makes DESIGN.md's analytic model
  ``L = a*(t_a+t_b) + (1-a)*max(t_a*u_a + t_b*u_b, max t)`` (``a = alpha``,
  0.5) reproduce each measured pair when both members share one
  utilization, ``rho = (L - a*(t_a+t_b)) / ((1-a)*(t_a+t_b))``, then for
  each op the median ``rho`` over its pairs, clamped to ``[0.01, 1]``. Ops
  in no measured pair keep 1.0 (the conservative value).
* **transfer cost** of every edge from a measured link curve
  (:func:`measure_link`: latency + bytes / bandwidth, a least-squares fit
  over copies of several sizes; on the CPU a host memory copy).

Results are cached as graph JSON under ``$HIOS_OPT_CACHE`` (default
``~/.cache/hios_opt``), keyed by model name, input shape, batch size,
device, granularity and the pair options.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import itertools
import json
import os
import platform as _platform
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from hios_opt.errors import ProfileError
from hios_opt.trace import TracedGraph, map_tensors

__all__ = ["LinkModel", "measure_costs", "measure_link", "cache_dir", "cache_path", "device_name"]

MIN_UTILIZATION = 0.01
CACHE_VERSION = 1


@dataclass(frozen=True)
class LinkModel:
    """A measured transfer-time curve between two devices.

    Attributes
    ----------
    device_a, device_b : str
        Source and destination.
    bandwidth_gbps : float
        Fitted bandwidth (GB/s).
    latency_ms : float
        Fitted fixed cost per transfer (ms).
    samples : tuple of (int, float)
        ``(bytes, median ms)`` measurements behind the fit.

    Examples
    --------
    >>> link = LinkModel("cpu", "cpu", bandwidth_gbps=10.0, latency_ms=0.01, samples=())
    >>> round(link.transfer_ms(1_000_000), 6)
    0.11
    """

    device_a: str
    device_b: str
    bandwidth_gbps: float
    latency_ms: float
    samples: tuple[tuple[int, float], ...]

    def transfer_ms(self, nbytes: int) -> float:
        """Predicted time to move ``nbytes``."""
        return self.latency_ms + nbytes / (self.bandwidth_gbps * 1e6)

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(map(list, v)) if k == "samples" else v) for k, v in asdict(self).items()}


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
) -> Path:
    """Where :func:`measure_costs` caches the costs of ``traced`` on ``device``.

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
        "ops": list(traced.ids),
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    shape = "x".join(map(str, shapes[0])) if shapes else "none"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in traced.name)
    dev = str(torch.device(device)).replace(":", "")
    base = Path(directory) if directory is not None else cache_dir()
    return base / f"{safe}-{traced.granularity}-{dev}-{shape}-{digest}.json"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Timer:
    """Times one callable, or two concurrently, on a device."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        if self.cuda:
            self.streams = (torch.cuda.Stream(device=device), torch.cuda.Stream(device=device))
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
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            stream = self.streams[0]
            with torch.cuda.stream(stream):
                start.record(stream)
                fn()
                end.record(stream)
            end.synchronize()
            return float(start.elapsed_time(end))
        start_s = time.perf_counter()
        fn()
        return (time.perf_counter() - start_s) * 1e3

    def pair(self, fa: Callable[[], Any], fb: Callable[[], Any]) -> float:
        if self.cuda:
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
            end.synchronize()
            return float(start.elapsed_time(end))
        return max(self._pair(fa, fb) - self.overhead_ms, 0.0)

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
    >>> link.bandwidth_gbps > 0 and link.latency_ms >= 0
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
        latency_ms=max(float(intercept), 0.0),
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
) -> Any:
    """Measure the costs of ``traced`` on ``device``; return an OpGraph.

    Parameters
    ----------
    traced : TracedGraph
        The model.
    device : str or torch.device
        ``"cpu"`` or ``"cuda:k"``.
    warmup, repeat : int
        Untimed and timed runs of each measurement.
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

    Returns
    -------
    OpGraph
        With ``meta["source"] == "measured"``.

    Raises
    ------
    ProfileError
        An operator fails, or the device is unavailable.

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
    path = cache_path(traced, dev, pairs=pairs, max_pairs=max_pairs, directory=cache_directory)
    if cache and path.exists():
        from hios_opt.graph import OpGraph

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
    env = traced.bind_inputs(*inputs)
    timer = _Timer(dev)
    try:
        with torch.no_grad():
            for op in traced.ops:
                traced.run_op(op.id, env, root=root)
            _sync(dev)

            def runner(op_id: str) -> Callable[[], None]:
                local = {name: env[name] for name in traced.op(op_id).inputs}
                return lambda: traced.run_op(op_id, local, root=root)

            latency: dict[str, float] = {}
            for op in tqdm(traced.ops, desc=f"{traced.name}: ops", disable=not progress, leave=False):
                fn = runner(op.id)
                latency[op.id] = max(_median_time(lambda fn=fn: timer.solo(fn), warmup, repeat), 1e-6)

            table: dict[frozenset[str], float] = {}
            rho: dict[str, list[float]] = {}
            clamped = 0
            measured_pairs = 0
            if pairs:
                candidates = _independent_pairs(traced)
                candidates.sort(key=lambda p: (p[2], -(latency[p[0]] + latency[p[1]])))
                if max_pairs is not None:
                    candidates = candidates[: max(int(max_pairs), 0)]
                for a, b, _ in tqdm(candidates, desc=f"{traced.name}: pairs", disable=not progress, leave=False):
                    fa, fb = runner(a), runner(b)
                    measured = _median_time(lambda fa=fa, fb=fb: timer.pair(fa, fb), warmup, repeat)
                    floor = max(latency[a], latency[b])
                    if measured < floor:
                        clamped += 1
                        measured = floor
                    table[frozenset((a, b))] = measured
                    measured_pairs += 1
                    total = latency[a] + latency[b]
                    value = (measured - alpha * total) / ((1.0 - alpha) * total)
                    for op_id in (a, b):
                        rho.setdefault(op_id, []).append(value)
    except ProfileError:
        raise
    except Exception as exc:
        raise ProfileError(f"profiling {traced.name!r} on {dev} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        timer.close()
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
        "warmup": warmup,
        "repeat": repeat,
        "measured_pairs": measured_pairs,
        "clamped_groups": clamped,
        "utilization_model": {"alpha": alpha, "min": MIN_UTILIZATION},
        "threads": torch.get_num_threads(),
    }
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
