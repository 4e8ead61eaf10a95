"""Is there a schedule within a deadline? CP-SAT's yes (with one) or no.

:func:`deadline_check` cuts the CP-SAT model's horizon at a deadline and
asks for any solution, optionally with some ops' GPUs fixed: just below an
optimum, "infeasible" is a proof of it, and with a known placement it shows
what the placement costs the search (``benchmarks/bench_cpsat_probe.py``).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from ..checks import is_int, is_number
from ..costs import StageModel
from ..errors import GpuIndexError, OptionError
from ..evaluate import evaluate
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .cpsat import TWO_THREAD_PORTFOLIO, CpsatModel, cpsat_candidates
from .grid import auto_resolution, grid_data, to_ticks
from .interrupt import run_interruptible
from .loadbound import load_bound
from .readback import stages_in_order
from .request import check_options

__all__ = ["DeadlineCheck", "deadline_check"]


@dataclass
class DeadlineCheck:
    """Outcome of :func:`deadline_check`.

    ``status``: ``"infeasible"`` (CP-SAT proved that no schedule, with the
    given placement, has a makespan of at most the deadline), ``"feasible"``
    (``schedule`` is one whose makespan on the time grid is within it; its
    real makespan, ``makespan_ms``, exceeds the deadline by at most the
    grid's rounding, less than ``2 * ops * tick_ms``) or ``"unknown"``
    (time limit, or Ctrl-C: then ``interrupted``). ``static`` is true when
    the load bound alone decided.
    """

    status: str
    schedule: Schedule | None
    makespan_ms: float | None
    wall_time_s: float
    tick_ms: float
    static: bool = False
    branches: int = 0
    interrupted: bool = False


def deadline_check(
    graph: OpGraph,
    platform: Platform,
    deadline_ms: float,
    *,
    placement: dict[str, int] | None = None,
    time_limit: float | None = 10.0,
    workers: int | None = None,
    cost_model: StageModel | None = None,
    parameters: dict[str, Any] | None = None,
) -> DeadlineCheck:
    """Is there a schedule of makespan at most ``deadline_ms``? CP-SAT's answer.

    The model of this module with its horizon cut at the deadline (on the
    time grid, rounded down like the durations, so ``"infeasible"`` holds for
    the real-valued problem: see *Time grid* above) and no objective: a
    decision problem. ``placement`` (op id -> GPU, for some or all ops) fixes
    those ops' GPUs (the symmetry-breaking constraints are then left out: they
    could contradict the labels).
    ``time_limit`` (seconds, None: none) and ``workers`` as for
    :func:`hios_opt.exact.solve`; ``parameters``: extra CP-SAT parameters by
    name. Cut just below an
    optimum, ``"infeasible"`` is a CP-SAT proof of it; with the placement of a
    known schedule it checks the search's optima (tests do) and shows what
    the placement costs the search (``benchmarks/bench_cpsat_probe.py``).

    >>> import hios_opt as ho
    >>> g = ho.generators.fork_join(2, comm_ms=0.5)   # optimum 6.5 ms on 2 GPUs
    >>> p = ho.Platform(gpus=2)
    >>> deadline_check(g, p, 6.49, workers=1).status, deadline_check(g, p, 6.5, workers=1).makespan_ms
    ('infeasible', 6.5)
    >>> one_gpu = {op: 0 for op in g.ids}             # everything on GPU 0: sequential
    >>> deadline_check(g, p, 6.5, placement=one_gpu, workers=1).status
    'infeasible'
    """
    started = time.monotonic()
    if not is_number(deadline_ms) or not deadline_ms > 0 or not math.isfinite(deadline_ms):
        raise OptionError(f"deadline_ms must be a finite number of milliseconds > 0, got {deadline_ms!r}")
    check_options(time_limit, workers, 0, None)
    limit = time_limit if time_limit is not None else math.inf
    placement = dict(placement or {})
    for op, k in placement.items():
        graph.index(op)  # UnknownOpError names an op that is not in the graph
        if not is_int(k) or not 0 <= k < platform.gpus:
            raise GpuIndexError(f"placement of op {op!r}: GPU {k!r} is not in 0..{platform.gpus - 1}")
    cands = cpsat_candidates(graph, platform, cost_model)
    data = grid_data(graph, platform, cands, auto_resolution(graph, platform, cost_model))
    unit = data.unit_ms
    cut = to_ticks(deadline_ms, unit)
    back: list[int] | None = None
    if placement and data.uniform:
        # Interchangeable GPUs: number the ones named 0, 1, ... (the model may have
        # fewer GPUs than the platform, never fewer than the ops placed).
        named = sorted(set(placement.values()))
        label = {k: i for i, k in enumerate(named)}
        placement = {op: label[k] for op, k in placement.items()}
        # ... and the answer uses the caller's numbers: back, then the rest in order.
        back = named + [k for k in range(platform.gpus) if k not in label]
    lower = load_bound(graph, cands, data, min(2.0, 0.1 * limit), cut)
    if lower > cut or max(data.head[v] + data.tail[v] for v in range(graph.n_ops)) > cut:
        return DeadlineCheck("infeasible", None, None, time.monotonic() - started, unit, static=True)
    # Fixed GPUs are labels the symmetry breaking could contradict: without it
    # the model is the whole problem, and the placement picks among equals.
    model = CpsatModel(graph, cands, data, cut, lower, symmetry=not placement)
    if placement and model.pooled:
        raise OptionError("placement: without delays the model does not place ops (any dealing of the stages "
                          "to GPUs is as good); leave it out")
    for op, k in placement.items():
        lit = model.y[graph.index(op)][k]
        if lit is not True:
            model.model.add(lit == 1)
    model.model.clear_objective()
    solver = cp_model.CpSolver()
    if time_limit is not None:
        solver.parameters.max_time_in_seconds = max(0.01, limit - (time.monotonic() - started))
    threads = workers if workers is not None else (os.cpu_count() or 1)
    solver.parameters.num_workers = threads
    if threads == 2:
        solver.parameters.subsolvers.extend(TWO_THREAD_PORTFOLIO)
    for key, value in (parameters or {}).items():
        try:
            setattr(solver.parameters, key, value)
        except (AttributeError, TypeError, ValueError) as exc:
            raise OptionError(f"CP-SAT parameter {key}={value!r}: {exc}") from None
    code, interrupted = run_interruptible(solver, model.model)
    if code == cp_model.INFEASIBLE:
        return DeadlineCheck("infeasible", None, None, time.monotonic() - started, unit,
                             branches=solver.num_branches)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        chosen = model.chosen(solver.value, solver.boolean_value)
        if back is not None:
            chosen = [(back[k], c, start) for k, c, start in chosen]
        found = stages_in_order(graph, platform, cands, data.dur, chosen, "cpsat")
        span = evaluate(graph, platform, found, cost_model).makespan
        return DeadlineCheck("feasible", found, span, time.monotonic() - started, unit, branches=solver.num_branches)
    return DeadlineCheck("unknown", None, None, time.monotonic() - started, unit,
                         branches=0 if code is None else solver.num_branches, interrupted=interrupted)
