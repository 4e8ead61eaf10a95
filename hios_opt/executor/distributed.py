"""Distributed backend: one ``torch.distributed`` rank per logical GPU.

Every rank re-creates the model, traces it, compiles the *same* plan, and
runs the operators of its own logical GPU with the shared
:class:`~hios_opt.executor.cuda.StreamEngine` (CUDA streams on GPUs with
NCCL; synchronous CPU streams with gloo). A value that crosses GPUs is sent
with ``isend`` right after it is produced and received by its first consumer
on the other rank, in the plan's production order. Rank 0's wall time from a
barrier to having every output is the latency.

Launch from Python with :func:`run_distributed` (``world_size`` local ranks
spawned with ``torch.multiprocessing``), or with ``torchrun --nproc-per-node
K -m hios_opt.executor.distributed --model zoo:squeezenet --schedule s.json``
(:func:`main`). What a rank receives, and why the exchange cannot deadlock,
is in the Notes of :func:`run_distributed`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import importlib
import os
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from hios_opt.errors import DeviceError, ExecutorError
from hios_opt.executor.cuda import CudaStreams, StreamEngine, SyncStreams
from hios_opt.executor.plan import Plan, PlannedOp, RemoteInput, check_timeout, compile
from hios_opt.executor.records import Measurement, op_timings
from hios_opt.trace import TracedGraph, map_tensors, trace

__all__ = ["ModelSpec", "run_distributed", "run_rank", "main"]

_COMM_ERRORS = ("Connection closed", "Connection reset", "DistBackendError", "Broken pipe", "timed out",
                "Timed out", "ECONNRESET", "connection", "Socket")


@dataclass(frozen=True)
class ModelSpec:
    """A picklable recipe a spawned rank uses to re-create the model.

    Parameters
    ----------
    factory : callable
        Returns the ``nn.Module`` (module-level function or
        ``functools.partial`` of one, so that it pickles).
    example_input : Tensor or tuple of Tensor
        Input used for tracing.
    granularity : str
        Passed to :func:`hios_opt.trace.trace`.
    name : str, optional
        Model name.

    Examples
    --------
    >>> import functools, torch
    >>> from torch import nn
    >>> spec = ModelSpec(functools.partial(nn.Linear, 4, 2), torch.zeros(1, 4))
    >>> [op.id for op in spec.build().ops]
    ['linear']
    """

    factory: Callable[[], nn.Module]
    example_input: Any
    granularity: str = "block"
    name: str | None = None

    def build(self) -> TracedGraph:
        """Create, seed-independent, the module and trace it."""
        module = self.factory()
        module.eval()
        return trace(module, self.example_input, granularity=self.granularity, name=self.name)


# --------------------------------------------------------------- transport
class _DistTransport:
    """Ordered point-to-point transfers between ranks (see module docstring)."""

    def __init__(self, plan: Plan, rank: int, device: torch.device) -> None:
        self.plan = plan
        self.rank = rank
        self.device = device
        self.pending: list[tuple[Any, torch.Tensor]] = []
        self.fetched_by_0 = {r.value for s in plan.steps if s.gpu == 0 for r in s.fetch}
        self.send_to: dict[str, list[int]] = {}
        for (src, dst), values in plan.transfers.items():
            if src == rank:
                for value in values:
                    self.send_to.setdefault(value, []).append(dst)
        self.reset()

    def reset(self) -> None:
        self.cursor: dict[int, int] = {}
        self.received: dict[tuple[int, str], torch.Tensor] = {}
        self.sent: set[str] = set()

    def _buffer(self, value: str, device: torch.device) -> torch.Tensor:
        meta = self.plan.traced.value_meta[value]
        return torch.empty(tuple(meta.shape), dtype=meta.dtype, device=device)

    def _receive_until(self, src: int, value: str, device: torch.device) -> torch.Tensor:
        order = self.plan.transfers.get((src, self.rank), ())
        while (src, value) not in self.received:
            position = self.cursor.get(src, 0)
            if position >= len(order):
                raise ExecutorError(f"rank {self.rank} expects {value!r} from rank {src}, which is not planned")
            name = order[position]
            buffer = self._buffer(name, device)
            dist.recv(buffer, src=src)
            self.received[(src, name)] = buffer
            self.cursor[src] = position + 1
        return self.received.pop((src, value))

    def fetch(self, remote: RemoteInput, gpu: int, device: torch.device) -> Any:
        return self._receive_until(remote.src_gpu, remote.value, device)

    def publish(self, step: PlannedOp, env: dict[tuple[int, str], Any]) -> None:
        outputs = set(self.plan.output_gpu)
        for value in step.outputs:
            for dst in self.send_to.get(value, ()):
                if dst == 0 and value in outputs and value not in self.fetched_by_0:
                    continue  # a pure model output: sent in finish(), after all planned transfers
                self._send(env[(step.gpu, value)], dst)
            self.sent.add(value)

    def _send(self, value: Any, dst: int) -> None:
        if not isinstance(value, torch.Tensor):
            raise ExecutorError(f"only tensors can cross ranks, got {type(value).__name__}")
        tensor = value.contiguous()
        self.pending.append((dist.isend(tensor, dst=dst), tensor))

    def finish(self, env: dict[tuple[int, str], Any]) -> None:
        if self.rank == 0:
            for (src, dst), values in self.plan.transfers.items():
                if dst == 0:
                    for value in values:
                        if value in self.plan.output_gpu and (0, value) not in env:
                            env[(0, value)] = self._receive_until(src, value, self.device)
        else:
            for value in self.plan.transfers.get((self.rank, 0), ()):
                if value in self.plan.output_gpu and value not in self.fetched_by_0:
                    self._send(env[(self.rank, value)], 0)
        for work, _ in self.pending:
            work.wait()
        self.pending.clear()
        self.reset()


# ------------------------------------------------------------------- ranks
def _check_distributable(plan: Plan) -> None:
    traced = plan.traced
    crossing = {v for values in plan.transfers.values() for v in values}
    for value in sorted(crossing):
        if value not in traced.value_meta:
            raise ExecutorError(
                f"value {value!r} crosses logical GPUs but is not a single tensor; "
                "the distributed backend sends tensors only (place its producer and consumers together)"
            )


def run_rank(
    rank: int,
    world_size: int,
    plan: Plan,
    inputs: tuple[Any, ...],
    *,
    device: torch.device,
    warmup: int = 1,
    repeat: int = 5,
    fault_injection: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Run ``plan`` as ``rank`` of an initialised process group.

    Every rank calls it with the same plan and inputs. Returns, on rank 0, a
    dict with ``outputs``, ``latencies_ms`` and ``op_times`` (of every timed
    run, all ranks merged); ``None`` on other ranks.
    """
    _check_distributable(plan)
    api = CudaStreams() if device.type == "cuda" else SyncStreams()
    transport = _DistTransport(plan, rank, device)
    engine = StreamEngine(plan, {rank: device}, api, local_gpus={rank}, transport=transport)
    inputs = tuple(x.to(device) if isinstance(x, torch.Tensor) else x for x in inputs)
    _check_inputs(plan.traced, inputs)
    fault = dict(fault_injection or {})
    latencies: list[float] = []
    times: list[dict[str, tuple[float, float]]] = []
    outputs: Any = None
    with torch.no_grad():
        for i in range(warmup + repeat):
            dist.barrier()
            if fault.get("rank") == rank and i == int(fault.get("run", 0)):
                _inject(fault, rank)
            origin = api.event(True)
            start = time.perf_counter()
            origin.record(engine.streams[(rank, 0)])
            env, op_events = engine.run(inputs)
            engine.synchronize()
            if rank == 0:
                outputs = engine.outputs(env)
            latency_ms = (time.perf_counter() - start) * 1e3
            if i >= warmup:
                latencies.append(latency_ms)
                times.append({op: (origin.elapsed_time(a), origin.elapsed_time(b)) for op, (a, b) in op_events.items()})
    gathered: list[Any] | None = [None] * world_size if rank == 0 else None
    dist.gather_object(times, gathered, dst=0)
    if rank != 0:
        return None
    assert gathered is not None
    merged: list[dict[str, tuple[float, float]]] = [{} for _ in times]
    for per_rank in gathered:
        for k, run_times in enumerate(per_rank or []):
            merged[k].update(run_times)
    return {"outputs": outputs, "latencies_ms": latencies, "op_times": merged}


def _inject(fault: Mapping[str, Any], rank: int) -> None:
    mode = fault.get("mode", "raise")
    if mode == "raise":
        raise RuntimeError(f"injected fault on rank {rank}")
    if mode == "exit":
        os._exit(int(fault.get("code", 3)))
    if mode == "hang":
        time.sleep(3600)
    raise ExecutorError(f"unknown fault mode {mode!r}")


def _check_inputs(traced: TracedGraph, inputs: tuple[Any, ...]) -> None:
    for name, value, example in zip(traced.input_names, inputs, traced.example_inputs):
        if isinstance(example, torch.Tensor) and (
            not isinstance(value, torch.Tensor) or value.shape != example.shape or value.dtype != example.dtype
        ):
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ExecutorError(
                f"input {name!r}: the distributed backend needs the traced shape "
                f"{tuple(example.shape)} ({example.dtype}), got {got}"
            )


def _rank_device(rank: int, dist_backend: str, device_map: Mapping[int, Any] | None) -> torch.device:
    if device_map is not None and rank in device_map:
        device = torch.device(device_map[rank])
    elif dist_backend == "nccl":
        device = torch.device("cuda", rank % max(torch.cuda.device_count(), 1))
    else:
        device = torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def _spawned_rank(
    rank: int,
    world_size: int,
    port: int,
    spec: Any,
    schedule: Any,
    inputs: tuple[Any, ...],
    options: dict[str, Any],
    result_path: str,
) -> None:
    os.environ.setdefault("GLOO_SOCKET_IFNAME", _loopback_interface())
    threads = options.get("threads_per_rank")
    torch.set_num_threads(int(threads) if threads else max(1, (os.cpu_count() or 1) // world_size))
    if options.get("fault_injection", {}).get("when") == "start" and options["fault_injection"].get("rank") == rank:
        _inject(options["fault_injection"], rank)
    dist.init_process_group(
        options["dist_backend"],
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=options["timeout_s"]),
    )
    try:
        traced = spec.build() if isinstance(spec, ModelSpec) else spec
        device = _rank_device(rank, options["dist_backend"], options.get("device_map"))
        plan = compile(traced, schedule, options.get("device_map"), barrier=options.get("barrier", True))
        result = run_rank(
            rank,
            world_size,
            plan,
            inputs,
            device=device,
            warmup=options["warmup"],
            repeat=options["repeat"],
            fault_injection=options.get("fault_injection"),
        )
        if result is not None:
            result["outputs"] = _to_cpu(result["outputs"])
            torch.save(result, result_path)
    finally:
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def _to_cpu(value: Any) -> Any:
    return map_tensors(value, lambda t: t.detach().cpu())


def _loopback_interface() -> str:
    names = [name for _, name in socket.if_nameindex()]
    return "lo" if "lo" in names else next((n for n in names if n.startswith("lo")), "lo")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- launcher
def run_distributed(
    traced_or_model_spec: TracedGraph | ModelSpec | Plan,
    schedule: Any = None,
    inputs: Any = None,
    *,
    world_size: int | None = None,
    dist_backend: str | None = None,
    device_map: Mapping[int, Any] | None = None,
    warmup: int = 1,
    repeat: int = 5,
    timeout_s: float = 120.0,
    threads_per_rank: int | None = None,
    fault_injection: Mapping[str, Any] | None = None,
    start_method: str = "forkserver",
) -> Measurement:
    """Spawn one local rank per logical GPU, run the plan, gather on rank 0.

    Parameters
    ----------
    traced_or_model_spec : TracedGraph, ModelSpec or Plan
        What each rank re-creates the model from (see Notes).
    schedule : Schedule, optional
        The schedule to run (taken from the plan when a Plan is given).
    inputs : Tensor or sequence of Tensor, optional
        Model inputs, with the traced shapes (default: the example inputs).
    world_size : int, optional
        Number of ranks (default: the number of logical GPUs of the schedule).
    dist_backend : {"gloo", "nccl"}, optional
        Default: ``"nccl"`` if CUDA is available, else ``"gloo"``.
    device_map : mapping, optional
        Rank -> device (default: ``cpu`` for gloo, ``cuda:rank`` for nccl).
    warmup, repeat : int
        Untimed and timed runs.
    timeout_s : float
        Bound on the whole call (spawn, rendezvous, runs, shutdown); also the
        process-group timeout of every collective and receive.
    threads_per_rank : int, optional
        ``torch.set_num_threads`` in each rank (default: cores / world size).
    fault_injection : mapping, optional
        **Testing only.** ``{"rank": r, "mode": "raise" | "exit" | "hang",
        "run": i}`` makes rank ``r`` fail at the start of run ``i``
        (``"when": "start"`` fails before the rendezvous).
    start_method : {"forkserver", "spawn"}
        How ranks start. ``"forkserver"`` (default) forks them from a helper
        process that imported torch once (it lives as long as this process),
        so that a call costs well under a second after the first; ``"spawn"``
        starts fresh interpreters (seconds per call, nothing left running).

    Returns
    -------
    Measurement
        ``backend="distributed"``; outputs on the CPU.

    Raises
    ------
    ExecutorError
        A rank failed (the message names it and its error), the call timed
        out (the message names the ranks still running), or the schedule needs
        more ranks than ``world_size``. No rank process is left running.

    Notes
    -----
    *What a spawned rank receives* (it must re-create the model): a
    :class:`~hios_opt.trace.TracedGraph`, which pickles as *(original module,
    example inputs, granularity, name)* and is re-traced in the rank, so its
    module's class must be importable there (define it at module level, not
    inside a function); or a :class:`ModelSpec`, a picklable factory (e.g.
    ``functools.partial(hios_opt.models.get, "squeezenet", input_size=32)``) plus
    an example input; or a :class:`~hios_opt.executor.plan.Plan`, whose traced
    graph and schedule are used.

    *Rendezvous.* The ranks meet on ``127.0.0.1`` on a free port, gloo bound
    to the loopback interface, and are waited for under one deadline.

    *Why no deadlock is possible.* Between each pair of ranks values travel in
    the plan's production order (``plan.transfers``), and a receiver that needs
    a later value first receives the earlier ones, so no tags are needed (NCCL
    has none) and every receive is matched by a send already posted or to come.

    Examples
    --------
    >>> import functools, torch
    >>> from torch import nn
    >>> from hios_opt import Schedule
    >>> spec = ModelSpec(functools.partial(nn.Linear, 4, 2), torch.zeros(1, 4))
    >>> m = run_distributed(spec, Schedule.sequential(["linear"]), torch.ones(1, 4),
    ...                     world_size=1, repeat=2)   # doctest: +SKIP
    >>> m.outputs.shape                                # doctest: +SKIP
    torch.Size([1, 2])
    """
    started = time.perf_counter()
    barrier = True
    if isinstance(traced_or_model_spec, Plan):
        plan = traced_or_model_spec
        barrier = plan.barrier
        schedule = plan.schedule if schedule is None else schedule
        traced = plan.traced
        device_map = device_map if device_map is not None else (
            {g: str(d) for g, d in plan.device_map.items()} if plan.device_map else None
        )
        spec: Any = traced
    elif isinstance(traced_or_model_spec, ModelSpec):
        spec = traced_or_model_spec
        traced = spec.build()
    elif isinstance(traced_or_model_spec, TracedGraph):
        spec = traced = traced_or_model_spec
    else:
        raise ExecutorError(
            f"run_distributed needs a TracedGraph, ModelSpec or Plan, got {type(traced_or_model_spec).__name__}"
        )
    if schedule is None:
        raise ExecutorError("run_distributed needs a schedule")
    plan = compile(traced, schedule, barrier=barrier)  # validate before spawning anything
    _check_distributable(plan)
    needed = max(plan.gpus) + 1
    world_size = needed if world_size is None else int(world_size)
    if world_size < needed:
        raise ExecutorError(f"the schedule uses logical GPUs up to {needed - 1}; world_size={world_size} is too small")
    if dist_backend is None:
        dist_backend = "nccl" if torch.cuda.is_available() else "gloo"
    if dist_backend not in ("gloo", "nccl"):
        raise ExecutorError(f"dist_backend must be 'gloo' or 'nccl', got {dist_backend!r}")
    if dist_backend == "nccl" and not torch.cuda.is_available():
        raise DeviceError("dist_backend='nccl' needs CUDA, which is not available; use 'gloo'")
    args = traced.example_inputs if inputs is None else _as_inputs(inputs)
    _check_inputs(traced, args)
    options = {
        "dist_backend": dist_backend,
        "device_map": dict(device_map) if device_map else None,
        "warmup": int(warmup),
        "repeat": int(repeat),
        "timeout_s": check_timeout(timeout_s),
        "threads_per_rank": threads_per_rank,
        "fault_injection": dict(fault_injection) if fault_injection else {},
        "barrier": barrier,
    }
    import torch.multiprocessing as mp

    if start_method not in ("forkserver", "spawn"):
        raise ExecutorError(f"start_method must be 'forkserver' or 'spawn', got {start_method!r}")
    if start_method == "forkserver":
        import multiprocessing

        # ShapeProp imports sympy through symbolic_shapes on first use: preload it too.
        preload = ["torch", "torch.fx.experimental.symbolic_shapes", __name__]
        multiprocessing.get_context("forkserver").set_forkserver_preload(preload)
    with tempfile.TemporaryDirectory(prefix="hios-dist-") as tmp:
        result_path = os.path.join(tmp, "result.pt")
        context = mp.start_processes(
            _spawned_rank,
            args=(world_size, _free_port(), spec, schedule, args, options, result_path),
            nprocs=world_size,
            join=False,
            start_method=start_method,
        )
        try:
            _join(context, started + timeout_s, timeout_s)
        finally:
            _reap(context)
        if not os.path.exists(result_path):
            raise ExecutorError("rank 0 finished without writing its result")
        result = torch.load(result_path, weights_only=False)
    latencies = result["latencies_ms"]
    median_index = int(np.argsort(latencies)[len(latencies) // 2])
    return Measurement(
        outputs=result["outputs"],
        latencies_ms=latencies,
        backend="distributed",
        model=traced.name,
        op_timings=op_timings(plan, result["op_times"][median_index]),
        meta={"world_size": world_size, "dist_backend": dist_backend, "wall_s": time.perf_counter() - started},
    )


def _as_inputs(inputs: Any) -> tuple[Any, ...]:
    if isinstance(inputs, Sequence) and not isinstance(inputs, (str, bytes)):
        return tuple(inputs)
    return (inputs,)


def _join(context: Any, deadline: float, timeout_s: float) -> None:
    from torch.multiprocessing import ProcessExitedException, ProcessRaisedException

    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            alive = [i for i, p in enumerate(context.processes) if p.is_alive()]
            raise ExecutorError(
                f"distributed run timed out after {timeout_s:g} s; rank(s) {alive} still running"
            )
        try:
            if context.join(timeout=min(left, 0.2), grace_period=0.5):
                return
        except (ProcessRaisedException, ProcessExitedException) as exc:
            raise ExecutorError(_failure_message(context, exc)) from None


def _failure_message(context: Any, exc: Exception) -> str:
    """Name the rank that failed first; secondary communication errors last."""
    failures: list[tuple[bool, int, str]] = []
    for rank, process in enumerate(context.processes):
        process.join(0.5)
        text = ""
        path = context.error_files[rank]
        if path and os.path.exists(path) and os.path.getsize(path) > 0:
            import pickle

            with open(path, "rb") as fh, contextlib.suppress(Exception):
                text = _last_line(pickle.load(fh))
        elif process.exitcode not in (None, 0, -15, -9):
            text = f"exited with code {process.exitcode}"
        if text:
            failures.append((any(marker in text for marker in _COMM_ERRORS), rank, text))
    if not failures:
        return f"a rank failed: {_last_line(str(exc))}"
    failures.sort()
    first = failures[0]
    message = f"rank {first[1]} failed: {first[2]}"
    if len(failures) > 1:
        message += " (then " + "; ".join(f"rank {r}: {t}" for _, r, t in failures[1:]) + ")"
    return message


def _last_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[-1] if lines else str(text)


def _reap(context: Any) -> None:
    """Leave no rank behind: terminate, then kill, whatever still runs."""
    for process in context.processes:
        if process.is_alive():
            process.terminate()
    for process in context.processes:
        process.join(2.0)
        if process.is_alive():
            process.kill()
            process.join(2.0)
    for path in context.error_files:
        with contextlib.suppress(OSError):
            if path:
                os.unlink(path)


# ----------------------------------------------------------------- torchrun
def _load_factory(spec: str, input_size: int | None, batch_size: int) -> tuple[nn.Module, torch.Tensor]:
    if spec.startswith("zoo:"):
        import hios_opt.models as zoo

        name = spec[4:]
        kwargs: dict[str, Any] = {"batch_size": batch_size}
        if input_size is not None:
            kwargs["input_size"] = input_size
        model = zoo.get(name, **kwargs)
        return model, model.example_input()
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ExecutorError(f"--model must be 'zoo:NAME' or 'package.module:factory', got {spec!r}")
    factory: Any = functools.reduce(getattr, attr.split("."), importlib.import_module(module_name))
    model = factory()
    size = input_size or 32
    return model.eval(), torch.randn(batch_size, 3, size, size, generator=torch.Generator().manual_seed(0))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``torchrun ... -m hios_opt.executor.distributed``.

    Each rank reads ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/``MASTER_PORT``
    from the environment (torchrun sets them), builds the model, traces it,
    loads the schedule, runs it, and rank 0 prints the latency (and saves the
    outputs with ``--output``).

    Examples
    --------
    ``torchrun --standalone --nproc-per-node 2 -m hios_opt.executor.distributed
    --model zoo:squeezenet --input-size 32 --schedule sched.json``
    """
    parser = argparse.ArgumentParser(prog="python -m hios_opt.executor.distributed", description=main.__doc__)
    parser.add_argument("--model", required=True, help="zoo:NAME or package.module:factory")
    parser.add_argument("--schedule", required=True, help="schedule JSON of the traced model")
    parser.add_argument("--input-size", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--granularity", default="block", choices=("block", "module"))
    parser.add_argument("--backend", default=None, choices=("gloo", "nccl"))
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--output", default=None, help="rank 0 saves the outputs here (torch.save)")
    args = parser.parse_args(argv)
    from hios_opt import Schedule

    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    backend = args.backend or ("nccl" if torch.cuda.is_available() else "gloo")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(_free_port()) if world_size == 1 else "29500")
    if backend == "gloo":
        os.environ.setdefault("GLOO_SOCKET_IFNAME", _loopback_interface())
    torch.manual_seed(0)
    model, example = _load_factory(args.model, args.input_size, args.batch_size)
    traced = trace(model, example, granularity=args.granularity)
    schedule = Schedule.load(args.schedule)
    dist.init_process_group(
        backend, rank=rank, world_size=world_size, timeout=datetime.timedelta(seconds=args.timeout)
    )
    try:
        plan = compile(traced, schedule)
        device = _rank_device(rank, backend, None)
        result = run_rank(rank, world_size, plan, traced.example_inputs, device=device,
                          warmup=args.warmup, repeat=args.repeat)
        if result is not None:
            lat = result["latencies_ms"]
            print(
                f"{traced.name}: {len(plan.steps)} ops on {world_size} rank(s) [{backend}], "
                f"median {float(np.median(lat)):.3f} ms over {len(lat)} runs"
            )
            if args.output:
                torch.save(_to_cpu(result["outputs"]), args.output)
    except Exception:
        traceback.print_exc()
        return 1
    finally:
        with contextlib.suppress(Exception):
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
