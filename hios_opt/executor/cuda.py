"""CUDA backend: one process, N devices, one CUDA stream per (GPU, stream).

:class:`StreamEngine` enqueues a plan from a single host thread, in the
plan's global order: operators on their streams after waiting for their
producers' events, cross-GPU inputs copied once per destination GPU, memory
freed after the last reader, optionally captured into a CUDA graph. Why this
order and these waits are safe is in its Notes.

The engine talks to CUDA through a small stream API (:class:`CudaStreams`).
:class:`SyncStreams` implements it on the CPU with synchronous "streams" (and
checks that no stream waits on an event before it is recorded), so that the
enqueue logic, the copies and the frees run for real on machines without a
GPU; the distributed backend reuses the same engine for its ranks.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import time
from typing import Any, Protocol

import torch
from torch import nn

from hios_opt.errors import DeviceError, ExecutorError
from hios_opt.executor.cpu import RunRecord
from hios_opt.executor.plan import Plan, PlannedOp, RemoteInput
from hios_opt.trace import iter_tensors, map_tensors

__all__ = ["StreamApi", "CudaStreams", "SyncStreams", "StreamEngine", "CudaExecutor", "cuda_devices"]


def _to_device(device: Any, t: torch.Tensor) -> torch.Tensor:
    return t.to(device, non_blocking=True)


class StreamApi(Protocol):
    """What :class:`StreamEngine` needs from a stream implementation."""

    def stream(self, device: torch.device) -> Any: ...
    def event(self, timing: bool = False) -> Any: ...
    def use(self, stream: Any) -> contextlib.AbstractContextManager[Any]: ...
    def record_stream(self, tensor: torch.Tensor, stream: Any) -> None: ...
    def synchronize(self, device: torch.device) -> None: ...
    def follow_current(self, stream: Any) -> None: ...


class CudaStreams:
    """The real thing: ``torch.cuda`` streams and events."""

    def stream(self, device: torch.device) -> torch.cuda.Stream:
        return torch.cuda.Stream(device=device)

    def event(self, timing: bool = False) -> torch.cuda.Event:
        return torch.cuda.Event(enable_timing=timing)

    def use(self, stream: torch.cuda.Stream) -> contextlib.AbstractContextManager[Any]:
        return torch.cuda.stream(stream)

    def record_stream(self, tensor: torch.Tensor, stream: torch.cuda.Stream) -> None:
        tensor.record_stream(stream)

    def synchronize(self, device: torch.device) -> None:
        torch.cuda.synchronize(device)

    def follow_current(self, stream: torch.cuda.Stream) -> None:
        """Make ``stream`` wait for the work already queued on its device's current stream."""
        stream.wait_stream(torch.cuda.current_stream(stream.device))


class _SyncEvent:
    def __init__(self) -> None:
        self.time_s: float | None = None

    def record(self, stream: Any = None) -> None:
        self.time_s = time.perf_counter()

    def elapsed_time(self, end: _SyncEvent) -> float:
        if self.time_s is None or end.time_s is None:
            raise ExecutorError("elapsed_time on an event that was never recorded")
        return (end.time_s - self.time_s) * 1e3

    def synchronize(self) -> None:
        pass


class _SyncStream:
    def __init__(self, device: torch.device) -> None:
        self.device = device

    def wait_event(self, event: _SyncEvent) -> None:
        if event.time_s is None:
            raise ExecutorError("a stream waits on an event that was never recorded (enqueue order bug)")

    def synchronize(self) -> None:
        pass


class SyncStreams:
    """CPU stand-in for :class:`CudaStreams`: every stream runs synchronously.

    Work runs when it is enqueued, so the results are real; events record a
    host timestamp, and waiting on an event that was not recorded yet raises
    (on CUDA that wait would silently do nothing).

    Examples
    --------
    >>> api = SyncStreams()
    >>> s, e = api.stream(torch.device("cpu")), api.event()
    >>> e.record(s); s.wait_event(e)
    """

    def stream(self, device: torch.device) -> _SyncStream:
        return _SyncStream(device)

    def event(self, timing: bool = False) -> _SyncEvent:
        return _SyncEvent()

    def use(self, stream: _SyncStream) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def record_stream(self, tensor: torch.Tensor, stream: _SyncStream) -> None:
        pass

    def synchronize(self, device: torch.device) -> None:
        pass

    def follow_current(self, stream: _SyncStream) -> None:
        pass


class Transport(Protocol):
    """Moves values between logical GPUs that live in other processes."""

    def fetch(self, remote: RemoteInput, gpu: int, device: torch.device) -> Any: ...
    def publish(self, step: PlannedOp, env: dict[tuple[int, str], Any]) -> None: ...
    def finish(self, env: dict[tuple[int, str], Any]) -> None: ...


def cuda_devices(plan: Plan) -> dict[int, torch.device]:
    """Logical GPU -> CUDA device for ``plan`` (``device_map`` or ``cuda:k``).

    Raises
    ------
    DeviceError
        If CUDA is unavailable or a device index does not exist.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from hios_opt import Schedule
    >>> from hios_opt.trace import trace
    >>> from hios_opt.executor.plan import compile
    >>> traced = trace(nn.Sequential(nn.Linear(2, 2)), torch.zeros(1, 2))
    >>> plan = compile(traced, Schedule.sequential(["_0"]))
    >>> try:
    ...     cuda_devices(plan)
    ... except DeviceError:
    ...     pass  # no GPU here
    """
    if not torch.cuda.is_available():
        raise DeviceError(
            f"CUDA is not available (torch {torch.__version__}, "
            f"built with CUDA {torch.version.cuda or 'none'}); use backend='cpu'"
        )
    count = torch.cuda.device_count()
    if plan.device_map is None:
        devices = {g: torch.device("cuda", g) for g in plan.gpus}
    else:
        devices = {g: plan.device_map[g] for g in plan.gpus}
    for gpu, device in devices.items():
        if device.type != "cuda":
            raise DeviceError(f"logical GPU {gpu} is mapped to {device}, not a CUDA device")
        index = 0 if device.index is None else device.index
        if not 0 <= index < count:
            raise DeviceError(
                f"logical GPU {gpu} needs cuda:{index}, but only {count} CUDA device(s) exist; "
                "pass device_map to share devices"
            )
        devices[gpu] = torch.device("cuda", index)
    return devices


class StreamEngine:
    """Enqueue a plan onto streams, in the plan's global order.

    Parameters
    ----------
    plan : Plan
        The plan to run.
    devices : dict of int to torch.device
        Device of every local logical GPU.
    api : StreamApi
        :class:`CudaStreams` or :class:`SyncStreams`.
    local_gpus : set of int, optional
        Logical GPUs this process runs (default: all of ``devices``); the
        others are reached through ``transport``.
    transport : Transport, optional
        Required when some logical GPUs are remote (distributed ranks).
    timing : bool
        Record a start and end event around every operator.

    Notes
    -----
    The engine enqueues from a single host thread, in the plan's global order,
    so every event is recorded before any stream waits on it (a CUDA stream
    waiting on a never-recorded event would not wait at all):

    * each operator runs on the stream ``(gpu, stream)`` of its logical GPU,
      after ``wait_event`` on the events of its same-GPU producers (and of the
      previous stage, with ``plan.barrier``);
    * an input made on another GPU is copied by its first consumer there: a copy
      stream on the source device waits for the producer's event, and the
      ``.to(device, non_blocking=True)`` runs with that copy stream current on the
      source device and the consumer's stream current on the destination (this
      is how ATen orders peer copies), then an event marks the copy for the
      other consumers on that GPU;
    * ``record_stream`` keeps a tensor's memory alive for every stream that uses
      it besides the one that allocated it, and host references are dropped after
      the last reader in the plan, so the caching allocator can reuse memory;
    * with ``cuda_graph=True`` the whole multi-stream plan is captured once into
      a CUDA graph (fork/join events from the capture stream) and replayed.
    """

    def __init__(
        self,
        plan: Plan,
        devices: dict[int, torch.device],
        api: StreamApi,
        *,
        local_gpus: set[int] | None = None,
        transport: Transport | None = None,
        timing: bool = True,
    ) -> None:
        self.plan = plan
        self.api = api
        self.devices = devices
        self.local = set(devices) if local_gpus is None else set(local_gpus)
        if self.local != set(plan.gpus) and transport is None:
            raise ExecutorError("some logical GPUs are not local and no transport was given")
        self.transport = transport
        self.timing = timing
        self.roots = self._roots()
        for root in self.roots.values():
            plan.traced.prepare(root)
        self.streams = {
            key: api.stream(devices[key[0]]) for key in plan.workers() if key[0] in self.local
        }
        for gpu in self.local:  # stream 0 carries the inputs even when a GPU runs no op
            self.streams.setdefault((gpu, 0), api.stream(devices[gpu]))
        self.copy_streams: dict[tuple[torch.device, torch.device], Any] = {}
        self._input_readers = {
            gpu: {s.op for s in plan.steps if s.gpu == gpu and set(s.inputs) & set(plan.traced.input_names)}
            for gpu in self.local
        }
        self.capturing = False

    def _roots(self) -> dict[torch.device, nn.Module]:
        gm = self.plan.traced.graph_module
        roots: dict[torch.device, nn.Module] = {}
        for gpu in self.local:
            device = self.devices[gpu]
            if device in roots:
                continue
            if _module_on(gm, device):
                roots[device] = gm
            else:
                roots[device] = copy.deepcopy(gm).to(device)
        return roots

    def run(self, inputs: tuple[Any, ...]) -> tuple[dict[tuple[int, str], Any], dict[str, tuple[Any, Any]]]:
        """Enqueue one run; return the environment and each op's (start, end) events.

        The caller synchronises (see :meth:`synchronize`) before reading.
        """
        plan, api, traced = self.plan, self.api, self.plan.traced
        env: dict[tuple[int, str], Any] = {}
        # alloc: the stream that made a value available on a GPU (the order of its readers there);
        # owner: the stream whose allocation the memory is (the caching allocator's view): every
        # other stream that reads it must be recorded on it, or the memory may be reused under it.
        alloc: dict[tuple[int, str], Any] = {}
        owner: dict[tuple[int, str], Any] = {}
        events: dict[str, Any] = {}
        fetched: dict[tuple[int, str], Any] = {}
        op_events: dict[str, tuple[Any, Any]] = {}
        named = traced.bind_inputs(*inputs)
        input_events: dict[int, Any] = {}
        for gpu in sorted(self.local):
            stream = self.streams[(gpu, 0)]
            device = self.devices[gpu]
            if not self.capturing:  # the inputs may still be in the making on the current stream
                api.follow_current(stream)
            with api.use(stream):
                for name, value in named.items():
                    env[(gpu, name)] = map_tensors(value, functools.partial(_to_device, device))
                    alloc[(gpu, name)] = owner[(gpu, name)] = stream
                event = api.event()
                event.record(stream)
                input_events[gpu] = event
        for step in plan.steps:
            if step.gpu not in self.local:
                continue
            gpu = step.gpu
            stream = self.streams[(gpu, step.stream)]
            root = self.roots[self.devices[gpu]]
            with api.use(stream):
                for op in step.wait_local:
                    stream.wait_event(events[op])
                if step.stream != 0 and step.op in self._input_readers[gpu]:
                    stream.wait_event(input_events[gpu])
                for remote in step.remote:
                    key = (gpu, remote.value)
                    if remote.fetcher == step.op:
                        env[key], fetched[key], shared = self._fetch(remote, step, stream, env, events)
                        alloc[key] = stream
                        # a logical GPU on the producer's device reads the producer's memory itself
                        owner[key] = owner[(remote.src_gpu, remote.value)] if shared else stream
                    elif alloc[key] is not stream:
                        stream.wait_event(fetched[key])
                args = {}
                for value in step.inputs:
                    args[value] = env[(gpu, value)]
                    if owner[(gpu, value)] is not stream and not self.capturing:
                        for tensor in iter_tensors(args[value]):
                            api.record_stream(tensor, stream)
                start = None
                if self.timing:
                    start = api.event(True)
                    start.record(stream)
                traced.run_op(step.op, args, root=root)
                end = api.event(self.timing)
                end.record(stream)
                events[step.op] = end
                op_events[step.op] = (start, end)
                for value in step.outputs:
                    env[(gpu, value)] = args[value]
                    alloc[(gpu, value)] = owner[(gpu, value)] = stream
                if self.transport is not None:
                    self.transport.publish(step, env)
            if not self.capturing:
                for key in step.free:
                    if key[0] in self.local:
                        env.pop(key, None)
        if self.transport is not None:
            self.transport.finish(env)
        return env, op_events

    def _fetch(
        self,
        remote: RemoteInput,
        step: PlannedOp,
        stream: Any,
        env: dict[tuple[int, str], Any],
        events: dict[str, Any],
    ) -> tuple[Any, Any, bool]:
        """The value for ``step``'s GPU, the event that marks it ready there, and whether it is
        the producer's own memory (both logical GPUs on one device)."""
        api = self.api
        shared = False
        dst = self.devices[step.gpu]
        if remote.src_gpu not in self.local:
            assert self.transport is not None
            value = self.transport.fetch(remote, step.gpu, dst)
        else:
            source = env[(remote.src_gpu, remote.value)]
            src = self.devices[remote.src_gpu]
            if src == dst:
                stream.wait_event(events[remote.producer])
                value, shared = source, True
            else:
                copier = self.copy_streams.get((src, dst))
                if copier is None:
                    copier = self.copy_streams[(src, dst)] = api.stream(src)
                copier.wait_event(events[remote.producer])
                with api.use(copier), api.use(stream):
                    value = map_tensors(source, lambda t: t.to(dst, non_blocking=True))
                if not self.capturing:
                    for tensor in iter_tensors(source):
                        api.record_stream(tensor, copier)
        done = api.event()
        done.record(stream)
        return value, done, shared

    def synchronize(self) -> None:
        """Wait until every local device is idle."""
        for device in {self.devices[g] for g in self.local}:
            self.api.synchronize(device)

    def outputs(self, env: dict[tuple[int, str], Any], device: torch.device | None = None) -> Any:
        """The model output from a finished run's environment (local values)."""
        plan = self.plan
        flat: dict[str, Any] = {}
        for value, gpu in plan.output_gpu.items():
            if gpu == -1:
                gpu = min(self.local)
            key = (gpu, value) if (gpu, value) in env else (0, value)
            flat[value] = env[key]
        out = plan.traced.collect_outputs(flat)
        if device is not None:
            out = map_tensors(out, lambda t: t.to(device))
        return out


def _module_on(module: nn.Module, device: torch.device) -> bool:
    tensors = list(module.parameters()) + list(module.buffers())
    return all(t.device == device for t in tensors) if tensors else device.type == "cpu"


class CudaExecutor:
    """Run a plan on CUDA devices from one process.

    Parameters
    ----------
    plan : Plan
        The compiled plan. Logical GPU ``k`` runs on ``plan.device_map[k]``,
        by default ``cuda:k``.
    timing : bool
        Record CUDA events around every operator (per-op and per-stage times).
    cuda_graph : bool
        Capture the plan into one CUDA graph on the first call and replay it
        (all logical GPUs must share one device; inputs must keep their shape).
    output_device : str or torch.device, optional
        Where outputs are returned (default: the device of the first input).
    api : StreamApi, optional
        Stream implementation; :class:`SyncStreams` runs the same engine on
        the CPU (testing without a GPU). Default: :class:`CudaStreams`.
    synchronize : bool
        With ``cuda_graph``: wait for each replay before returning (default).
        ``False`` returns as soon as the replay and the copies of its outputs
        are queued on the caller's current stream, as a module's forward
        does (the outputs are then ready for work queued after it on that
        stream; ``latency_ms`` is only the time to queue them).

    Raises
    ------
    DeviceError
        CUDA is unavailable or a mapped device does not exist.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from hios_opt import Schedule
    >>> from hios_opt.trace import trace
    >>> from hios_opt.executor.plan import compile
    >>> net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    >>> traced = trace(net, torch.zeros(1, 4))
    >>> plan = compile(traced, Schedule.from_gpu_lists([["_0"], ["_2"]]), {0: "cpu", 1: "cpu"})
    >>> ex = CudaExecutor(plan, api=SyncStreams())   # same engine, CPU streams
    >>> x = torch.randn(1, 4)
    >>> torch.allclose(ex(x).outputs, net(x))
    True
    """

    def __init__(
        self,
        plan: Plan,
        *,
        timing: bool = True,
        cuda_graph: bool = False,
        output_device: str | torch.device | None = None,
        api: StreamApi | None = None,
        synchronize: bool = True,
    ) -> None:
        if api is None:
            api = CudaStreams()
            devices = cuda_devices(plan)
        else:
            if plan.device_map is None:
                devices = {g: torch.device("cpu") for g in plan.gpus}
            else:
                devices = {g: plan.device_map[g] for g in plan.gpus}
        if cuda_graph:
            if len(set(devices.values())) != 1:
                raise ExecutorError("cuda_graph=True needs every logical GPU on one device")
            if not isinstance(api, CudaStreams):
                raise ExecutorError("cuda_graph=True needs real CUDA streams")
            timing = False  # timing events cannot be captured
        self.plan = plan
        self.api = api
        self.devices = devices
        self.cuda_graph = cuda_graph
        self.synchronize = synchronize
        self.output_device = None if output_device is None else torch.device(output_device)
        self.engine = StreamEngine(plan, devices, api, timing=timing)
        self._graph: Any = None
        self._static_inputs: tuple[Any, ...] | None = None
        self._static_env: dict[tuple[int, str], Any] | None = None

    def __call__(self, *inputs: Any) -> RunRecord:
        """Run the plan once; return outputs, latency and per-op times."""
        inputs = tuple(self.plan.traced.bind_inputs(*inputs).values())
        out_device = self.output_device or _first_device(inputs)
        with torch.no_grad():
            if self.cuda_graph:
                return self._replay(inputs, out_device)
            start = time.perf_counter()
            env, op_events = self.engine.run(inputs)
            self.engine.synchronize()
            outputs = self.engine.outputs(env, out_device)
            latency_ms = (time.perf_counter() - start) * 1e3
        return RunRecord(outputs, latency_ms, self._op_times(op_events))

    def _op_times(self, op_events: dict[str, tuple[Any, Any]]) -> dict[str, tuple[float, float]]:
        if not self.engine.timing or not op_events:
            return {}
        by_device: dict[torch.device, Any] = {}
        for op, (start, _) in op_events.items():
            device = self.devices[self.plan.step(op).gpu]
            first = by_device.get(device)
            if first is None or start.elapsed_time(first) > 0:  # earliest start per device
                by_device[device] = start
        times = {}
        for op, (start, end) in op_events.items():
            origin = by_device[self.devices[self.plan.step(op).gpu]]
            times[op] = (origin.elapsed_time(start), origin.elapsed_time(end))
        return times

    def _replay(self, inputs: tuple[Any, ...], out_device: torch.device | None) -> RunRecord:
        device = next(iter(self.devices.values()))
        if self._graph is None:
            self._capture(inputs, device)
        assert self._static_inputs is not None and self._static_env is not None
        start = time.perf_counter()
        for static, value in zip(self._static_inputs, inputs):
            for dst, src in zip(iter_tensors(static), iter_tensors(value)):
                if dst.shape != src.shape:
                    raise ExecutorError(
                        f"a captured CUDA graph needs inputs of shape {tuple(dst.shape)}, got {tuple(src.shape)}"
                    )
                dst.copy_(src, non_blocking=True)
        self._graph.replay()
        if self.synchronize:
            torch.cuda.synchronize(device)
        outputs = map_tensors(self.engine.outputs(self._static_env), lambda t: t.clone())
        if out_device is not None:
            outputs = map_tensors(outputs, lambda t: t.to(out_device))
        return RunRecord(outputs, (time.perf_counter() - start) * 1e3, {})

    def _capture(self, inputs: tuple[Any, ...], device: torch.device) -> None:
        engine = self.engine
        static = tuple(map_tensors(x, lambda t: t.to(device).clone()) for x in inputs)
        warm = torch.cuda.Stream(device=device)
        warm.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(warm):  # CUDA graphs want a warm-up off the default stream
            for _ in range(2):
                engine.run(static)
        torch.cuda.synchronize(device)
        graph = torch.cuda.CUDAGraph()
        capture = torch.cuda.Stream(device=device)
        engine.capturing = True
        try:
            with torch.cuda.graph(graph, stream=capture):
                fork = torch.cuda.Event()
                fork.record(capture)
                for stream in engine.streams.values():
                    stream.wait_event(fork)
                for stream in engine.copy_streams.values():
                    stream.wait_event(fork)
                env, _ = engine.run(static)
                for stream in list(engine.streams.values()) + list(engine.copy_streams.values()):
                    join = torch.cuda.Event()
                    join.record(stream)
                    capture.wait_event(join)
        finally:
            engine.capturing = False
        self._graph, self._static_inputs, self._static_env = graph, static, env


def _first_device(inputs: tuple[Any, ...]) -> torch.device | None:
    for value in inputs:
        for tensor in iter_tensors(value):
            return tensor.device
    return None
