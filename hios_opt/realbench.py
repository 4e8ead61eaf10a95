"""Predicted versus measured: schedule a real model, run every plan, compare.

:func:`bench_real` closes the loop between the scheduling problem and the
hardware. For one zoo model it traces the model, measures its costs with the
cached profiler (or takes a given graph), schedules it with each algorithm
(heuristics by name, ``"exact"`` through :func:`hios_opt.solve`), runs every
plan on the shared executor (:func:`hios_opt.executor.run`), interleaving the
plans round by round so that a change of machine load hits them alike, checks
each plan's outputs against the plain forward pass, and returns one row per
algorithm: the evaluator's prediction, the measured median, the speedup over
the sequential plan and the prediction error.

How logical GPUs map onto the CPU or the visible GPUs is in the Notes of
:func:`bench_real`; :func:`logical_device_note` names a run's mapping in one line.
"""

from __future__ import annotations

import copy
import math
import os
import statistics
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

import hios_opt
from hios_opt.checks import spelling
from hios_opt.devices import check_device as check_device_of
from hios_opt.errors import CoverageError, DeviceError, GraphError, OptionError
from hios_opt.evaluate import evaluate
from hios_opt.graph import OpGraph
from hios_opt.heuristics import algorithms as known
from hios_opt.platform import Platform
from hios_opt.results import HEURISTIC_STATUS, prediction_error, result_frame, result_row
from hios_opt.schedules import Schedule

__all__ = [
    "bench_real", "run_schedule", "ScheduleRun", "DEFAULT_ALGORITHMS", "ModelRun", "prepare_model", "check_device",
    "device_map_for", "resolve_timing", "logical_device_note", "profile_graph", "predict_ms", "outputs_match", "tolerance", "measure_handoff_ms",
]

#: Algorithms :func:`bench_real` runs by default (``"exact"`` is CP-SAT with a time limit).
DEFAULT_ALGORITHMS = ("sequential", "hios-lp", "exact")

#: ``torch.allclose`` tolerances per device type for "outputs equal the forward pass".
TOLERANCES = {"cpu": (1e-4, 1e-5), "cuda": (1e-3, 1e-4)}


@dataclass
class ModelRun:
    """A zoo model ready to run: the module, its input, its trace, its forward output.

    Attributes
    ----------
    name : str
        Zoo name.
    input_size, batch_size : int
        Input height (= width) and batch.
    module : torch.nn.Module
        The model, on ``device`` (a copy on ``cuda:0``; the trace keeps the
        CPU parameters).
    inputs : torch.Tensor
        One input batch, on ``device``.
    traced : TracedGraph
        Its trace (built on the CPU; the executor moves parameters itself).
    reference : Any
        ``module(inputs)`` under ``torch.no_grad()``: what every plan must return.
    device : str
        ``"cpu"`` or ``"cuda"``.
    """

    name: str
    input_size: int
    batch_size: int
    module: Any
    inputs: Any
    traced: Any
    reference: Any
    device: str


def check_device(device: str) -> str:
    """Normalise ``device`` to ``"cpu"`` or ``"cuda"``; fail if it is not usable.

    The device itself is checked by :func:`hios_opt.devices.check_device`.

    Raises
    ------
    DeviceError
        ``"cuda"`` without a visible GPU, or another device than cpu and cuda.

    Examples
    --------
    >>> check_device("CPU")
    'cpu'
    """
    text = str(device).strip().lower()
    if text not in ("cpu", "cuda"):
        raise DeviceError(f"unknown device {device!r}; use cpu or cuda")
    return check_device_of(text).type


def resolve_timing(device: str, cuda_graph: bool, timing: str | None) -> str:
    """The profile timing for a run on ``device``: ``timing``, or by default
    ``"kernel"`` for CUDA-graph replays and ``"launch"`` otherwise.

    Raises
    ------
    OptionError
        CUDA graphs or kernel timing requested off CUDA, or an unknown timing.

    Examples
    --------
    >>> resolve_timing("cuda", True, None), resolve_timing("cpu", False, None)
    ('kernel', 'launch')
    """
    if cuda_graph and device != "cuda":
        raise OptionError(f"CUDA graphs (--cuda-graph) need device cuda, not {device}")
    if timing is None:
        return "kernel" if cuda_graph else "launch"
    if timing not in ("launch", "kernel"):
        raise OptionError(f"timing must be 'launch' or 'kernel', got {timing!r}")
    if timing == "kernel" and device != "cuda":
        raise OptionError(f"kernel timing (--timing kernel) separates kernels from launches on cuda only, not {device}")
    return timing


def tolerance(device: str) -> tuple[float, float]:
    """``(rtol, atol)`` used to compare a plan's outputs with the forward pass.

    Examples
    --------
    >>> tolerance("cpu")
    (0.0001, 1e-05)
    """
    return TOLERANCES["cuda" if str(device).startswith("cuda") else "cpu"]


def outputs_match(outputs: Any, reference: Any, device: str) -> tuple[bool, float]:
    """Whether ``outputs`` equal ``reference`` (``torch.allclose`` at :func:`tolerance`).

    Returns ``(equal, largest absolute difference)``; nested tuples, lists
    and dicts are compared leaf by leaf.

    Examples
    --------
    >>> import torch
    >>> outputs_match(torch.ones(2), torch.ones(2) + 1e-7, "cpu")[0]
    True
    """
    from hios_opt.trace import iter_tensors

    rtol, atol = tolerance(device)
    got, want = list(iter_tensors(outputs)), list(iter_tensors(reference))
    if len(got) != len(want):
        return False, math.inf
    ok, worst = True, 0.0
    for a, b in zip(got, want):
        if a.shape != b.shape:
            return False, math.inf
        a, b = a.detach().cpu().float(), b.detach().cpu().float()
        worst = max(worst, float((a - b).abs().max()) if a.numel() else 0.0)
        ok = ok and bool(a.isfinite().all() == b.isfinite().all()) and bool(a.allclose(b, rtol=rtol, atol=atol))
    return ok, worst


def prepare_model(
    model: str,
    *,
    input_size: int | None = None,
    batch_size: int = 1,
    device: str = "cpu",
    granularity: str = "block",
    options: Mapping[str, Any] | None = None,
) -> ModelRun:
    """Build a zoo model, trace it and compute its plain forward output.

    Parameters
    ----------
    model : str
        Zoo name (see :func:`hios_opt.models.names`).
    input_size : int, optional
        Input height (= width); default the model's.
    batch_size : int
        Batch size.
    device : {"cpu", "cuda"}
        Where the reference forward pass runs.
    granularity : {"block", "module"}
        Trace granularity; must be the one the schedule's graph was made at.
    options : mapping, optional
        Model options (``version``, ``setting`` ...).

    Returns
    -------
    ModelRun

    Examples
    --------
    >>> run = prepare_model("squeezenet", input_size=48)
    >>> run.traced.name, len(run.traced.ops) > 10, tuple(run.reference.shape)
    ('squeezenet', True, (1, 1000))
    """
    import torch

    import hios_opt.models as zoo
    from hios_opt.trace import trace

    device = check_device(device)
    info = zoo.info(model)
    size = info.default_input_size if input_size is None else int(input_size)
    module = zoo.get(info.name, input_size=size, batch_size=batch_size, **dict(options or {}))
    example = module.example_input()
    traced = trace(module, example, granularity=granularity, name=info.name)
    if device == "cuda":  # the trace keeps the CPU parameters; the executor places its own copies
        module = copy.deepcopy(module).to("cuda:0")
        example = example.to("cuda:0")
    inputs = example
    with torch.no_grad():
        reference = module(inputs)
    return ModelRun(info.name, size, batch_size, module, inputs, traced, reference, device)


def device_map_for(gpus: Sequence[int] | int, device: str) -> dict[int, str]:
    """Logical GPU -> physical device: everything on the CPU, or ``cuda:(k mod N)``.

    Examples
    --------
    >>> device_map_for(2, "cpu")
    {0: 'cpu', 1: 'cpu'}
    """
    ids = range(gpus) if isinstance(gpus, int) else gpus
    if device == "cpu":
        return {int(k): "cpu" for k in ids}
    import torch

    count = max(torch.cuda.device_count(), 1)
    return {int(k): f"cuda:{int(k) % count}" for k in ids}


def logical_device_note(gpus: int, streams: int, device: str, threads: int | None, backend: str | None = None) -> str:
    """One line saying how ``gpus`` logical GPUs map onto this machine.

    ``backend="distributed"`` describes one ``torch.distributed`` rank (a
    process) per logical GPU instead of worker threads.

    Examples
    --------
    >>> print(logical_device_note(2, 1, "cpu", 1, backend="distributed"))  # doctest: +ELLIPSIS
    logical GPU k -> rank k, a process on cpu (gloo), 1 intra-op thread each, sharing ... core(s); ...
    >>> print(logical_device_note(2, 2, "cpu", 1))  # doctest: +ELLIPSIS
    logical GPUs 0-1 -> cpu: one worker thread per (GPU, stream), up to 4, 1 intra-op thread each, sharing ... core(s); shared memory: a cross-GPU edge costs one thread hand-off
    """

    cores = os.cpu_count() or 1
    if backend == "distributed":
        where = "a process on cpu (gloo)" if device == "cpu" else "a process on its GPU (nccl)"
        per = "cores / ranks" if threads is None else f"{threads}"
        return (f"logical GPU k -> rank k, {where}, {per} intra-op thread{'' if threads == 1 else 's'} each, "
                f"sharing {cores} core(s); cross-GPU values travel by send/recv")
    if device == "cpu":
        per = "the executor's default" if threads is None else f"{threads}"
        plural = "" if threads == 1 else "s"
        return (
            f"logical GPUs 0-{gpus - 1} -> cpu: one worker thread per (GPU, stream), up to {gpus * streams}, "
            f"{per} intra-op thread{plural} each, sharing {cores} core(s); "
            "shared memory: a cross-GPU edge costs one thread hand-off"
        )
    import torch

    count = torch.cuda.device_count()
    mapping = ", ".join(f"{k}->cuda:{k % max(count, 1)}" for k in range(gpus))
    shared = " (several logical GPUs share one device)" if gpus > count else ""
    return f"logical GPUs {mapping}{shared}; {streams} stream(s) each"


def measure_handoff_ms(rounds: int = 200) -> float:
    """Median one-way latency of waking another thread with a ``threading.Event`` (ms).

    What a cross-GPU edge costs the CPU executor: the consumer's worker
    waits on the producer's event.

    Examples
    --------
    >>> 0 < measure_handoff_ms(rounds=20) < 50
    True
    """

    ping, pong = threading.Event(), threading.Event()

    def echo() -> None:
        for _ in range(rounds):
            if not ping.wait(5.0):
                return
            ping.clear()
            pong.set()

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        ping.set()
        pong.wait(5.0)
        pong.clear()
        samples.append((time.perf_counter() - start) * 1e3 / 2)
    thread.join(5.0)
    return float(statistics.median(samples))


def profile_graph(
    run: ModelRun,
    *,
    threads: int | None = 1,
    max_pairs: int | None = 200,
    repeat: int = 10,
    warmup: int = 3,
    cache: bool = True,
    progress: bool = False,
    timing: str = "launch",
) -> Any:
    """Measure (or load from the cache) the costs of ``run``'s model on its device.

    On the CPU the logical GPUs share memory and the executor copies nothing,
    so every edge costs one thread hand-off (:func:`measure_handoff_ms`); on
    a GPU the measured link prices the edges.

    Examples
    --------
    >>> g = profile_graph(prepare_model("squeezenet", input_size=48), max_pairs=0, repeat=2, warmup=1,
    ...                   cache=False)
    >>> g.meta["method"], len({e.comm_ms for e in g.edges}), g.meta["comm"]
    ('forward-sweep', 1, 'thread hand-off')
    """
    from hios_opt.profile import measure_costs

    device = "cuda:0" if run.device == "cuda" else "cpu"
    graph = measure_costs(
        run.traced, device, warmup=warmup, repeat=repeat, pairs=max_pairs != 0, max_pairs=max_pairs,
        progress=progress, cache=cache, link=run.device == "cuda", threads=threads, timing=timing,
    )
    if run.device == "cpu":
        handoff = measure_handoff_ms()
        graph = graph.with_costs(comm_ms={(e.src, e.dst): handoff for e in graph.edges},
                                 meta={**graph.meta, "comm": "thread hand-off", "handoff_ms": handoff})
    return graph


def check_graph(graph: Any, traced: Any) -> None:
    """Fail unless ``graph`` has exactly the operators (and input shape) of ``traced``.

    Raises
    ------
    GraphError
        Naming the operators only one of them has, or both input shapes
        when ``graph.meta["input_shape"]`` differs from the traced one.
    """
    shapes = [list(x.shape) for x in traced.example_inputs]
    made_for = graph.meta.get("input_shape")
    if made_for and [list(s) for s in made_for] != shapes:
        raise GraphError(
            f"graph {graph.name!r} was measured at input shape {made_for}, but the model's input is {shapes} "
            "(pass the same --input-size and --batch the graph was made with)"
        )
    have, want = set(graph.ids), set(traced.ids)
    if have != want:
        extra, missing = sorted(have - want), [op for op in traced.ids if op not in have]
        parts = []
        if extra:
            parts.append(f"ops the model lacks: {', '.join(map(repr, extra[:6]))}" + (" ..." if len(extra) > 6 else ""))
        if missing:
            parts.append(f"lacks ops of the model: {', '.join(map(repr, missing[:6]))}"
                         + (" ..." if len(missing) > 6 else ""))
        raise GraphError(
            f"graph {graph.name!r} does not describe the traced model {traced.name!r} "
            f"({traced.granularity} granularity, input {[list(x.shape) for x in traced.example_inputs]}): "
            + "; ".join(parts)
        )


def predict_ms(graph: Any, schedule: Any, platform: Any = None) -> float:
    """The evaluator's makespan of ``schedule`` on ``graph`` (ms).

    The platform defaults to the schedule's own GPUs and streams.

    Examples
    --------
    >>> from hios_opt import Schedule, generators
    >>> predict_ms(generators.diamond(), Schedule.sequential(["a", "b", "c", "d"]))
    7.0
    """

    if platform is None:
        platform = Platform(gpus=schedule.gpus, streams=schedule.streams)
    return float(evaluate(graph, platform, schedule).makespan)


#: Backends :func:`run_schedule` can run a plan on.
BACKENDS = ("cpu", "cuda", "distributed")


@dataclass
class ScheduleRun:
    """What :func:`run_schedule` did: the plan, its prediction and its measurement.

    Attributes
    ----------
    prepared : ModelRun
        The model, its input and its plain forward output.
    schedule : Schedule
        The schedule that ran.
    graph : OpGraph
        The costs of the prediction.
    graph_source : str
        Where they came from (a file, or how they were profiled).
    plan : Plan
        The compiled plan.
    measurement : Measurement
        The executor's measurement (outputs of the last run, latencies).
    predicted_ms : float
        The evaluator's makespan of the schedule on ``graph``.
    outputs_ok : bool
        Whether the outputs equal the plain forward pass (:func:`outputs_match`).
    max_abs_diff : float
        Largest absolute difference from it.
    device, backend : str
        Where the plan ran.
    threads : int or None
        Intra-op threads of each worker (cpu) or rank (distributed).
    granularity : str
        Trace granularity.
    note : str
        :func:`logical_device_note` for the run.
    """

    prepared: ModelRun
    schedule: Any
    graph: Any
    graph_source: str
    plan: Any
    measurement: Any
    predicted_ms: float
    outputs_ok: bool
    max_abs_diff: float
    device: str
    backend: str
    threads: int | None
    granularity: str
    note: str

    @property
    def prediction_error(self) -> float:
        """``(measured - predicted) / predicted`` (:func:`hios_opt.results.prediction_error`)."""

        return prediction_error(self.measurement.median_ms, self.predicted_ms)


def run_schedule(
    model: str,
    schedule: Any,
    *,
    input_size: int | None = None,
    batch_size: int = 1,
    device: str = "cpu",
    backend: str | None = None,
    graph: Any = None,
    granularity: str | None = None,
    threads: int | None = 1,
    max_pairs: int | None = 200,
    cache: bool = True,
    progress: bool = False,
    cuda_graph: bool = False,
    timing: str | None = None,
    warmup: int = 2,
    repeat: int = 10,
    timeout_s: float = 300.0,
    model_options: Mapping[str, Any] | None = None,
) -> ScheduleRun:
    """Run one schedule of a zoo model on the executor; predicted against measured.

    Builds and traces the model, binds the schedule to it, takes the costs
    (``graph``, or a cached profile on ``device``), runs the plan and checks
    its outputs against the plain forward pass. ``hios-opt run`` is this
    function and a printout.

    Parameters
    ----------
    model : str
        Zoo model name.
    schedule : Schedule or path
        A schedule of the model's traced graph.
    input_size, batch_size : int
        As for :func:`prepare_model`.
    device : {"cpu", "cuda"}
        Where the model is profiled and runs.
    backend : {"cpu", "cuda", "distributed"}, optional
        Executor backend (default: the device's).
    graph : OpGraph or path, optional
        Costs for the prediction (default: profile on ``device``, cached).
    granularity : {"block", "module"}, optional
        Trace granularity (default: the graph's, else ``"block"``).
    threads : int or None
        Intra-op threads of each worker (cpu), each rank (distributed), and
        of the profile.
    max_pairs, cache, progress, timing
        Profile options (:func:`profile_graph`).
    cuda_graph : bool
        Replay the plan as one CUDA graph (cuda backend).
    warmup, repeat, timeout_s
        As for :func:`hios_opt.executor.run`.
    model_options : mapping, optional
        Zoo model options.

    Returns
    -------
    ScheduleRun

    Raises
    ------
    CoverageError
        The schedule does not cover the traced model (the message says which
        model, size, batch and granularity it was bound to).
    DeviceError, OptionError, GraphError
        A device that is not there, a bad option, costs of another model.

    Examples
    --------
    >>> from hios_opt import Schedule
    >>> prepared = prepare_model("squeezenet", input_size=32)
    >>> sched = Schedule.sequential(prepared.traced.ids)
    >>> done = run_schedule("squeezenet", sched, input_size=32, graph=prepared.traced.to_opgraph(),
    ...                     warmup=0, repeat=2)
    >>> done.outputs_ok, done.measurement.runs
    (True, 2)
    """
    from hios_opt.executor import compile, run

    device = check_device(device)
    backend = (backend or device).strip().lower()
    if backend not in BACKENDS:
        raise OptionError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "cuda":
        check_device("cuda")
    if cuda_graph and backend != "cuda":
        raise OptionError(f"CUDA graphs (--cuda-graph) need the cuda backend, not {backend}")
    timing = resolve_timing(device, cuda_graph, timing)
    if not isinstance(schedule, Schedule):
        schedule = Schedule.load(schedule)
    graph_source = ""
    if graph is not None and not isinstance(graph, OpGraph):
        graph_source = str(graph)
        graph = OpGraph.load(graph)
    if granularity is None and graph is not None:
        granularity = graph.meta.get("granularity")
    granularity = str(granularity or "block").strip().lower()
    if granularity not in ("block", "module"):
        raise OptionError(f"granularity must be one of block, module, got {granularity!r}")
    prepared = prepare_model(model, input_size=input_size, batch_size=batch_size, device=device,
                             granularity=granularity, options=model_options)
    try:
        plan = compile(prepared.traced, schedule, device_map_for(schedule.gpus, device))
    except CoverageError as exc:
        raise CoverageError(
            f"{exc} -- was the schedule made for {prepared.name} at input size {prepared.input_size}, "
            f"batch {prepared.batch_size}, {granularity} granularity?"
        ) from exc
    if graph is None:
        graph = profile_graph(prepared, threads=threads, max_pairs=max_pairs, cache=cache, progress=progress,
                              timing=timing)
        graph_source = f"profiled on {device} ({graph.meta.get('threads')} thread(s), cached)"
        if device == "cuda":
            graph_source = f"profiled on {device} ({timing} timing, cached)"
    else:
        check_graph(graph, prepared.traced)
        graph_source = graph_source or f"graph {graph.name!r}"
    predicted = predict_ms(graph, schedule)
    options: dict[str, Any] = {}
    if backend == "cpu":
        options["intra_op_threads"] = threads
    elif backend == "distributed":
        options["threads_per_rank"] = threads
    elif cuda_graph:
        options["cuda_graph"] = True
    measurement = run(plan, prepared.inputs, backend=backend, warmup=warmup, repeat=repeat, timeout_s=timeout_s,
                      **options)
    ok, diff = outputs_match(measurement.outputs, prepared.reference, device)
    note = logical_device_note(schedule.gpus, schedule.streams, device,
                               threads if backend in ("cpu", "distributed") else None, backend=backend)
    return ScheduleRun(prepared, schedule, graph, graph_source, plan, measurement, predicted, ok, diff, device,
                       backend, threads, granularity, note)


def _make_schedules(
    graph: Any, platform: Any, algorithms: Sequence[str], time_limit: float, seed: int
) -> tuple[list[tuple[str, Any, float, str]], float]:
    """``(name, schedule, seconds, status)`` per algorithm, sequential first,
    and the best lower bound known: the exact solver's where one ran, else
    :func:`hios_opt.bounds.lower_bound`."""

    out = []
    bound = hios_opt.lower_bound(graph, platform)
    for name in algorithms:
        started = time.perf_counter()
        if name == "exact" or name.startswith("exact:"):
            solver = name.split(":", 1)[1] if ":" in name else "cpsat"
            result = hios_opt.solve(graph, platform, solver, time_limit=time_limit, seed=seed)
            if result.schedule is None:
                raise OptionError(f"the exact solver found no schedule within {time_limit:g} s "
                                  f"(status {result.status}); raise the time limit")
            bound = max(bound, result.lower_bound_ms)
            out.append((name, result.schedule, time.perf_counter() - started, str(result.status)))
        else:
            sched = hios_opt.schedule(graph, platform, name)
            out.append((name, sched, time.perf_counter() - started, HEURISTIC_STATUS))
    return out, bound


def _normalise_algorithms(algorithms: Sequence[str] | str) -> list[str]:
    if isinstance(algorithms, str):
        algorithms = algorithms.split(",")
    names = [spelling(a) for a in algorithms if a.strip()]
    if not names:
        raise OptionError("no algorithm given")

    valid = set(known())
    for name in names:
        if name != "exact" and not name.startswith("exact:") and name not in valid:
            raise OptionError(f"unknown algorithm {name!r}; valid: {', '.join(known())}, exact, exact:SOLVER")
    if len(set(names)) != len(names):
        raise OptionError(f"an algorithm is named twice in {','.join(names)}")
    if "sequential" not in names:  # the reference of every speedup
        names.insert(0, "sequential")
    return names


def bench_real(
    model: str,
    *,
    input_size: int | None = None,
    batch_size: int = 1,
    gpus: int,
    streams: int = 1,
    device: str = "cpu",
    algorithms: Sequence[str] | str = DEFAULT_ALGORITHMS,
    repeat: int = 10,
    warmup: int = 2,
    rounds: int = 3,
    time_limit: float = 10.0,
    graph: Any = None,
    threads: int | None = 1,
    granularity: str = "block",
    max_pairs: int | None = 200,
    cache: bool = True,
    seed: int = 0,
    progress: bool = False,
    model_options: Mapping[str, Any] | None = None,
    prepared: ModelRun | None = None,
    cuda_graph: bool = False,
    timing: str | None = None,
) -> Any:
    """Schedule a zoo model with several algorithms, run each plan, compare with the prediction.

    Parameters
    ----------
    model : str
        Zoo model name.
    input_size, batch_size : int
        Input height (= width; default the model's) and batch.
    gpus, streams : int
        The platform: ``K`` logical GPUs with ``S`` streams each.
    device : {"cpu", "cuda"}
        Where to profile and run (see the module docstring for the mapping).
    algorithms : sequence of str or comma-separated str
        Heuristic names (:func:`hios_opt.heuristics.algorithms`), ``"exact"``
        (CP-SAT) or ``"exact:milp"``. ``"sequential"`` is added first when
        missing: it is the reference of the speedups.
    repeat, warmup : int
        Timed runs per plan (split over ``rounds``) and untimed runs before.
    rounds : int
        The plans are run in turn, ``rounds`` times, so that load changes on
        a shared machine hit them alike.
    time_limit : float
        Seconds for the exact solver.
    graph : OpGraph or path, optional
        Costs to schedule and predict with (default: profile on ``device``,
        cached). Must have the traced model's op ids.
    threads : int or None
        CPU: intra-op threads of each executor worker *and* of the profile
        (default 1: stable on shared machines); ``None``: the executor's
        default (the caller's threads divided among the workers).
    granularity : {"block", "module"}
        Trace granularity.
    max_pairs : int or None
        Concurrent pairs the profiler measures (0: none; None: all).
    cache : bool
        Use the profile cache.
    seed : int
        Exact solver seed.
    progress : bool
        Show progress bars (tqdm): the profiler's, and one over the plan runs.
    model_options : mapping, optional
        Zoo model options.
    prepared : ModelRun, optional
        A model already built by :func:`prepare_model` (skips building).
    cuda_graph : bool
        CUDA: capture each plan into one CUDA graph and time its replays
        (no Python launch cost, which at batch 1 hides most stream
        concurrency). All logical GPUs must share one device.
    timing : {"launch", "kernel"}, optional
        CUDA profile timing (:func:`hios_opt.profile.measure_costs`); default
        ``"kernel"`` with ``cuda_graph``, else ``"launch"``: each execution
        mode is predicted from the costs it pays.

    Returns
    -------
    pandas.DataFrame
        One row per algorithm in the result schema (:mod:`hios_opt.results`):
        ``graph, ops, gpus, streams, algorithm``, ``makespan_ms`` (the
        evaluator's prediction), ``lower_bound_ms`` (the exact solver's
        bound where one ran, else the cheap bound), ``gap``, ``speedup``
        (predicted, over sequential), ``status`` (``"heuristic"`` or the
        solver's), ``time_s`` (scheduling), ``predicted_ms``,
        ``measured_ms`` (median), ``prediction_error`` (``(measured -
        predicted) / predicted``: positive when the run was slower than
        predicted); then ``measured_speedup`` (over the sequential plan),
        ``p10_ms``, ``p90_ms``, ``runs``, ``stages``, ``gpus_used``,
        ``outputs_ok``, ``max_abs_diff``. ``attrs`` holds the model, device,
        mapping note, threads, tolerance and the graph's profile metadata.

    Raises
    ------
    DeviceError
        ``device="cuda"`` without a GPU.
    OptionError
        An unknown algorithm or a bad count.
    GraphError
        ``graph`` does not match the traced model.

    Notes
    -----
    *Logical GPUs and physical devices.* A schedule for ``K`` GPUs runs
    wherever the machine allows:

    * ``device="cpu"``: every logical GPU maps to the CPU. Each (GPU, stream) of
      the plan is a worker thread with ``threads`` intra-op threads (default 1),
      and the profile is taken with the same count, so that an op costs what it
      will cost inside a worker. All workers share the machine's cores (and the
      Python interpreter lock between operators): ``K x S`` workers on fewer
      cores cannot all run at once, which the prediction (``K`` independent
      GPUs) does not know. The logical GPUs share memory and the executor copies
      nothing between them: a cross-GPU edge costs one thread hand-off (the
      consumer's worker waking up on the producer's event), measured by
      :func:`measure_handoff_ms` and used as every edge's ``comm_ms``.
    * ``device="cuda"``: logical GPU ``k`` runs on ``cuda:(k mod N)`` with ``N``
      visible GPUs; with fewer GPUs than ``K`` several logical GPUs share one.

    Examples
    --------
    >>> df = bench_real("squeezenet", input_size=48, gpus=2, algorithms="sequential,hios-lp",
    ...                 repeat=3, rounds=1, max_pairs=0, cache=False)
    >>> list(df.algorithm), bool((df.measured_ms > 0).all()), bool(df.outputs_ok.all())
    (['sequential', 'hios-lp'], True, True)
    """

    from hios_opt.executor import compile, run

    device = check_device(device)
    for label, value, low in (("gpus", gpus, 1), ("streams", streams, 1), ("repeat", repeat, 1),
                              ("rounds", rounds, 1), ("warmup", warmup, 0)):
        if not isinstance(value, int) or value < low:
            raise OptionError(f"{label} must be an integer >= {low}, got {value!r}")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise OptionError(f"threads must be an integer >= 1 or None, got {threads!r}")
    if not time_limit > 0:
        raise OptionError(f"time_limit must be > 0, got {time_limit!r}")
    timing = resolve_timing(device, cuda_graph, timing)
    names = _normalise_algorithms(algorithms)
    prepared = prepared or prepare_model(model, input_size=input_size, batch_size=batch_size, device=device,
                                         granularity=granularity, options=model_options)
    if graph is None:
        graph = profile_graph(prepared, threads=threads, max_pairs=max_pairs, cache=cache, progress=progress,
                              timing=timing)
    elif not isinstance(graph, OpGraph):
        graph = OpGraph.load(graph)
    check_graph(graph, prepared.traced)
    platform = Platform(gpus=gpus, streams=streams)
    made, bound = _make_schedules(graph, platform, names, time_limit, seed)

    plans = [compile(prepared.traced, sched, device_map_for(sched.gpus, device)) for _, sched, _, _ in made]
    options: dict[str, Any] = {"intra_op_threads": threads} if device == "cpu" and threads is not None else {}
    if device == "cuda":  # latency only: per-op timing events would cost launches of their own
        options = {"cuda_graph": True} if cuda_graph else {"timing": False}
    backend = "cpu" if device == "cpu" else "cuda"
    per_round = max(1, math.ceil(repeat / rounds))
    latencies: list[list[float]] = [[] for _ in plans]
    last_outputs: list[Any] = [None] * len(plans)

    with tqdm(total=rounds * len(plans), desc=f"{prepared.name}: running plans", unit="plan", disable=not progress,
              leave=False) as bar:
        for r in range(rounds):
            for k, plan in enumerate(plans):
                bar.set_postfix_str(f"round {r + 1}/{rounds}, {made[k][0]}", refresh=False)
                m = run(plan, prepared.inputs, backend=backend, warmup=warmup if r == 0 else 1, repeat=per_round,
                        **options)
                latencies[k].extend(m.latencies_ms)
                last_outputs[k] = m.outputs
                bar.update()


    predicted = [predict_ms(graph, sched, platform) for _, sched, _, _ in made]
    measured = [float(np.median(times)) for times in latencies]
    seq = next(k for k, (name, _, _, _) in enumerate(made) if name == "sequential")
    rows = []
    for k, (name, sched, seconds, status) in enumerate(made):
        ok, diff = outputs_match(last_outputs[k], prepared.reference, device)
        rows.append(result_row(
            graph=graph.name, ops=graph.n_ops, gpus=gpus, streams=streams, algorithm=name,
            makespan_ms=predicted[k], lower_bound_ms=bound, speedup=predicted[seq] / predicted[k], status=status,
            time_s=seconds, predicted_ms=predicted[k], measured_ms=measured[k],
            measured_speedup=measured[seq] / measured[k],
            p10_ms=float(np.percentile(latencies[k], 10)), p90_ms=float(np.percentile(latencies[k], 90)),
            runs=len(latencies[k]), stages=len(sched.stages), gpus_used=len({st.gpu for st in sched.stages}),
            outputs_ok=ok, max_abs_diff=diff,
        ))
        if status == "optimal":
            rows[-1]["gap"] = 0.0
    df = result_frame(rows)
    rtol, atol = tolerance(device)
    df.attrs.update({
        "model": prepared.name, "input_size": prepared.input_size, "batch_size": prepared.batch_size,
        "device": device, "backend": backend, "threads": threads, "cuda_graph": cuda_graph,
        "timing": timing if device == "cuda" else "wall",
        "mapping": logical_device_note(gpus, streams, device, threads),
        "rtol": rtol, "atol": atol, "graph": graph.name,
        "graph_meta": {k: graph.meta.get(k) for k in ("source", "device", "method", "timing", "threads", "op_sum_ms",
                                                      "sweep_median_ms", "measured_pairs", "handoff_ms", "date")},
    })
    return df
