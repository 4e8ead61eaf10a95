"""The CP-SAT model of the problem (placement, stages, order, delays).

:class:`CpsatModel` builds the model on the time grid of
:mod:`hios_opt.exact.grid` (its Notes describe it); :func:`solve_cpsat` warm
starts it, bounds it with :mod:`hios_opt.exact.loadbound`, runs CP-SAT so
that Ctrl-C stops it cleanly (:mod:`hios_opt.exact.interrupt`), and offers
every solution to the solve's incumbent with the evaluator's makespan, so
that the best schedule CP-SAT found is returned even where its grid
objective ranks solutions differently. With two threads CP-SAT's full
search is :data:`TWO_THREAD_PORTFOLIO` (an LP-heavy search), since the warm
start is usually optimal or near it and the time goes into the bound.
"""

from __future__ import annotations

import math
import time
from typing import Any

from ortools.sat.python import cp_model

from ..bounds import lower_bound
from ..costs import StageModel
from ..errors import ProblemTooLargeError, SolverError
from ..evaluate import evaluate
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from ..timing import edge_delays
from .candidates import Candidates, stage_candidates
from .grid import (
    GRID_TOLERANCE,
    GridData,
    auto_resolution,
    grid_data,
    grid_timeline,
    ramps,
    relabel_gpus,
    rounding_slack,
    to_ticks,
    warm_stages,
)
from .interrupt import run_interruptible
from .loadbound import load_bound
from .readback import deal, stages_in_order
from .request import SolveRequest
from .result import SolveResult, finish

__all__ = ["CpsatModel", "solve_cpsat", "cpsat_candidates", "grid_resolution", "MAX_INTERVALS",
           "TWO_THREAD_PORTFOLIO"]

#: Largest number of (candidate, GPU) pairs a CP-SAT model may have.
MAX_INTERVALS = 400_000

# CP-SAT's full search when it has two threads. With two workers CP-SAT runs
# one full tree search (default: "default_lp") and interleaves its LNS and
# first-solution helpers on the other thread; only the first name here is
# used. The warm start is usually optimal or close and the time goes into
# the bound, where "max_lp" (the LP with every cut at every node) proved 4 of
# 5 16-op, 2-GPU x 2-stream graphs in 5-46 s and "default_lp" none in 60 s
# (one took 182 s). Giving the LNS thread to a second full search
# (num_full_subsolvers=2 with objective_shaving or lb_tree_search) proved
# the same four in about the same time.
TWO_THREAD_PORTFOLIO = ("max_lp",)

# Rough cost (s) of building the model, and of CP-SAT's presolve, per optional
# interval or precedence (on this project's 2-core machine: 20,000 ops on 4
# GPUs, 240,000 items, took 4.7 s to build and 23 s to presolve). A solve
# whose model cannot be built and presolved within the time limit is not
# started: CP-SAT would spend the limit in presolve (and may overrun it),
# and the warm start is the answer anyway.
BUILD_SECONDS_PER_ITEM = 3e-5
PRESOLVE_SECONDS_PER_ITEM = 1e-4
# Rough cost (s) of what follows the search, per op + edge (reading the
# solution back, evaluating it and the warm start) and per optional interval
# (CP-SAT's own overrun of its limit on a large model): kept out of the
# solver's time so that the whole call ends near its limit.
FINISH_SECONDS_PER_OP = 1.5e-5
FINISH_SECONDS_PER_ITEM = 5e-6


# Models with more intervals than this have their solutions read back at
# most every 0.2 s while CP-SAT runs (reading one costs time in proportion).
READ_EVERY_SOLUTION_UP_TO = 20_000


def cpsat_candidates(graph: OpGraph, platform: Platform, cost_model: StageModel | None) -> Candidates:
    """The stage candidates of a CP-SAT model; :class:`ProblemTooLargeError`
    when the model would pass :data:`MAX_INTERVALS`."""
    cands = stage_candidates(graph, platform.streams, cost_model)
    gpus = min(platform.gpus, graph.n_ops) if edge_delays(graph, platform).uniform else platform.gpus
    if len(cands) * gpus > MAX_INTERVALS:
        raise ProblemTooLargeError(
            f"the CP-SAT model of graph {graph.name!r} would have {len(cands):,} stage candidates x "
            f"{gpus} GPUs = {len(cands) * gpus:,} optional intervals (limit {MAX_INTERVALS:,}); use "
            "streams=1, fewer GPUs or a smaller graph"
        )
    return cands


def grid_resolution(request: SolveRequest) -> float:
    """The CP-SAT time grid of a solve: the caller's, or :func:`~hios_opt.exact.grid.auto_resolution`."""
    if request.resolution_ms is not None:
        return float(request.resolution_ms)
    return auto_resolution(request.graph, request.platform, request.cost_model)


class CpsatModel:
    """The CP-SAT model of the problem and its variables, built top to bottom.

    Notes
    -----
    Data, in integer ticks (:class:`~hios_opt.exact.grid.GridData`): stage
    candidates ``c`` (:mod:`hios_opt.exact.candidates`) with duration ``d_c``,
    edge delays ``δ_e`` (or ``δ_e(a, b)`` for a link matrix), ``K`` GPUs (at
    most one per op when the GPUs are interchangeable).

    Variables: ``x[c, k]`` (candidate ``c`` is a stage on GPU ``k``),
    ``z[c] = Σ_k x[c, k]``; ``T[v]``, the start of the stage holding op ``v``,
    and ``E[v] = T[v] + Σ_{c ∋ v} d_c z[c]``; ``y[v, k] = Σ_{c ∋ v} x[c, k]``;
    ``Cmax``, minimised.

    Constraints: *cover* (each op in exactly one chosen candidate); *stage*
    (the ops of a chosen candidate start together); *GPU sequence* (one
    optional interval per ``(c, k)`` and ``AddNoOverlap`` per GPU; zero-length
    intervals count in it, as a zero-latency stage does in the evaluator);
    *precedence* (``T[v] >= E[u]``, plus ``δ_e`` when ``u`` and ``v`` sit on
    different GPUs: a literal per edge forced by ``y[u, k] ∧ ¬y[v, k]``, or one
    enforced constraint per GPU pair with a link matrix); *makespan*
    (``Cmax >= E[v]`` for every sink); *symmetry* (identical GPUs, uniform
    delays: GPU ``k >= 1`` may hold an op only when GPU ``k - 1`` holds an op
    earlier in topological order; relabelling the GPUs of any schedule by the
    first op they run gives one of the same makespan that satisfies this).

    Redundant constraints, for the bound: a ``Cumulative`` of capacity ``K``
    over the chosen candidates; per GPU, ``Cmax >= busy + forced idle``
    (:func:`~hios_opt.exact.grid.ramps`); ``Cmax >=``
    :func:`~hios_opt.exact.loadbound.load_bound` and the cheap
    :func:`hios_opt.bounds.lower_bound`; domains ``T[v] in [head(v), UB -
    tail(v)]``. Without delays on the grid (and no zero-length stage) the
    placement is dropped and one ``Cumulative`` of capacity ``K`` replaces the
    per-GPU ``NoOverlap``: any set of intervals with at most ``K``
    overlapping can be dealt to ``K`` GPUs (interval graphs are perfect),
    which :func:`~hios_opt.exact.readback.deal` does.

    Where the model is weak: on 2 GPUs x 2 streams from about 20 ops, the
    placement. Its LP relaxation can split every op half and half over the
    GPUs, which costs no delay, so the bound stays at busy time plus forced
    idle (``benchmarks/bench_cpsat_probe.py`` measures it).
    """

    def __init__(self, graph: OpGraph, cands: Candidates, data: GridData, horizon: int, lower: int = 0,
                 symmetry: bool = True) -> None:
        self.graph, self.cands, self.data, self.horizon = graph, cands, data, horizon
        m = self.model = cp_model.CpModel()
        n, capacity = graph.n_ops, data.gpus
        # Without delays the GPUs are interchangeable at every instant: stages
        # only need a Cumulative of capacity K (intervals with at most K
        # overlapping can always be dealt to K GPUs), no placement variables.
        self.pooled = pooled = capacity > 1 and data.no_delays() and min(data.dur) > 0
        K = 1 if pooled else capacity
        self.resources = K
        has_multi = [len(cands.by_op[v]) > 1 for v in range(n)]
        self.has_multi = has_multi

        # -- variables
        self.T = [m.new_int_var(data.head[v], horizon - data.tail[v], f"T{v}") for v in range(n)]
        self.x: list[list[Any]] = []
        self.z: list[Any] = []
        for c, ops in enumerate(cands.ops):
            fixed = len(ops) == 1 and not has_multi[ops[0]]
            if K == 1:
                lit = True if fixed else m.new_bool_var(f"x{c}")
                self.x.append([lit])
                self.z.append(lit)
                continue
            xs = [m.new_bool_var(f"x{c}_{k}") for k in range(K)]
            self.x.append(xs)
            if fixed:
                m.add(sum(xs) == 1)
                self.z.append(True)
            else:
                zc = m.new_bool_var(f"z{c}")
                m.add(sum(xs) == zc)
                self.z.append(zc)
        self.y: list[list[Any]] = []
        self.E: list[Any] = []
        for v in range(n):
            own = cands.by_op[v]
            if not has_multi[v]:
                self.y.append(self.x[v])
                self.E.append(self.T[v] + data.dur[v])
                continue
            if K > 1:
                ys = [m.new_bool_var(f"y{v}_{k}") for k in range(K)]
                for k in range(K):
                    m.add(ys[k] == sum(self.x[c][k] for c in own))
                self.y.append(ys)
            else:
                self.y.append([True])
            dmin = min(data.dur[c] for c in own)
            ev = m.new_int_var(data.head[v] + dmin, horizon - data.tail[v] + dmin, f"E{v}")
            m.add(ev == self.T[v] + sum(data.dur[c] * self.z[c] for c in own))
            self.E.append(ev)

        # -- cover: each op in exactly one chosen candidate
        for v in range(n):
            if has_multi[v]:
                m.add(sum(self.z[c] for c in cands.by_op[v]) == 1)

        # -- stage: the ops of a chosen candidate start together
        for c, ops in enumerate(cands.ops):
            for w in ops[1:]:
                m.add(self.T[w] == self.T[ops[0]]).only_enforce_if(self.z[c])

        # -- GPU sequence: optional intervals, no overlap per GPU
        per_gpu: list[list[Any]] = [[] for _ in range(K)]
        for c, ops in enumerate(cands.ops):
            for k in range(K):
                lit = self.x[c][k]
                if lit is True:
                    iv = m.new_fixed_size_interval_var(self.T[ops[0]], data.dur[c], f"I{c}_{k}")
                else:
                    iv = m.new_optional_fixed_size_interval_var(self.T[ops[0]], data.dur[c], lit, f"I{c}_{k}")
                per_gpu[k].append(iv)
        for k in range(K):
            if pooled:
                m.add_cumulative(per_gpu[k], [1] * len(per_gpu[k]), capacity)
            else:
                m.add_no_overlap(per_gpu[k])
        if K > 1:
            stage_iv = []
            for c, ops in enumerate(cands.ops):
                if self.z[c] is True:
                    stage_iv.append(m.new_fixed_size_interval_var(self.T[ops[0]], data.dur[c], f"S{c}"))
                else:
                    stage_iv.append(
                        m.new_optional_fixed_size_interval_var(self.T[ops[0]], data.dur[c], self.z[c], f"S{c}"))
            m.add_cumulative(stage_iv, [1] * len(stage_iv), K)

        # -- precedence, with a delay across GPUs
        self.diff: dict[int, Any] = {}
        for e in range(graph.n_edges):
            u, v = graph.edge_src[e], graph.edge_dst[e]
            m.add(self.T[v] >= self.E[u])
            if K == 1:
                continue
            if data.uniform:
                delay = data.delay(e, 0, 1)
                if delay > 0:
                    d = m.new_bool_var(f"d{e}")
                    for k in range(K):
                        m.add_bool_or([d, ~self.y[u][k], self.y[v][k]])
                    m.add(self.T[v] >= self.E[u] + delay).only_enforce_if(d)
                    self.diff[e] = d
            else:
                for a in range(K):
                    for b in range(K):
                        delay = data.delay(e, a, b)
                        if a != b and delay > 0:
                            m.add(self.T[v] >= self.E[u] + delay).only_enforce_if([self.y[u][a], self.y[v][b]])

        # -- makespan
        lb = max(lower, max(data.head[v] + data.tail[v] for v in range(n)))
        self.cmax = m.new_int_var(min(lb, horizon), horizon, "Cmax")
        for v in range(n):
            if not graph.succ[v]:
                m.add(self.cmax >= self.E[v])
        # Each GPU is busy at most Cmax, minus the idle time it must have
        # before its first and after its last stage (redundant, for the bound).
        ramp_in, ramp_out = ramps(graph, data)
        sources = [v for v in range(n) if not graph.pred[v]]
        sinks = [v for v in range(n) if not graph.succ[v]]
        self.used: list[Any] = []
        for k in range(K):
            busy = sum(data.dur[c] * (1 if self.x[c][k] is True else self.x[c][k]) for c in range(len(cands.ops)))
            if K == 1:
                m.add(capacity * self.cmax >= busy)
                continue
            used = m.new_bool_var(f"used{k}")
            self.used.append(used)
            m.add_bool_or([self.y[v][k] for v in range(n)] + [~used])
            for v in range(n):
                m.add_implication(self.y[v][k], used)
            idle = (ramp_in * (used - sum(self.y[v][k] for v in sources))
                    + ramp_out * (used - sum(self.y[v][k] for v in sinks)))
            m.add(self.cmax >= busy + idle)
        m.minimize(self.cmax)

        # -- symmetry: GPU k used only after GPU k-1, in topological order
        self.seen: list[list[Any]] = []
        if symmetry and data.uniform and K > 1:
            topo = graph.topo
            m.add(self.y[topo[0]][0] == 1)
            running = [self.y[topo[0]][k] for k in range(K - 1)]
            for v in topo[1:]:
                for k in range(1, K):
                    m.add_implication(self.y[v][k], running[k - 1])
                nxt = []
                for k in range(K - 1):
                    s = m.new_bool_var(f"seen{v}_{k}")
                    m.add_bool_or([~s, running[k], self.y[v][k]])
                    m.add_implication(running[k], s)
                    m.add_implication(self.y[v][k], s)
                    nxt.append(s)
                self.seen.append(nxt)
                running = nxt

    def hint(self, stages: list[tuple[int, int]], start: list[int]) -> None:
        """Hint every variable with the warm-start schedule's values."""
        m, graph, cands, data = self.model, self.graph, self.cands, self.data
        K = self.resources
        if self.pooled:
            stages = [(0, c) for _, c in stages]
        chosen = {c: k for k, c in stages}
        gpu = [0] * graph.n_ops
        t = [0] * graph.n_ops
        end = [0] * graph.n_ops
        for (k, c), s in zip(stages, start):
            for v in cands.ops[c]:
                gpu[v], t[v], end[v] = k, s, s + data.dur[c]
        for v in range(graph.n_ops):
            m.add_hint(self.T[v], t[v])
            if self.has_multi[v]:
                m.add_hint(self.E[v], end[v])
                if K > 1:
                    for k in range(K):
                        m.add_hint(self.y[v][k], gpu[v] == k)
        for c in range(len(cands)):
            for k in range(K):
                if self.x[c][k] is not True:
                    m.add_hint(self.x[c][k], chosen.get(c) == k)
            if self.z[c] is not True and K > 1:
                m.add_hint(self.z[c], c in chosen)
        for e, d in self.diff.items():
            m.add_hint(d, gpu[graph.edge_src[e]] != gpu[graph.edge_dst[e]])
        if self.seen:
            topo = graph.topo
            used = {k for k in range(K - 1) if gpu[topo[0]] == k}
            for v, lits in zip(topo[1:], self.seen):
                if gpu[v] < K - 1:
                    used.add(gpu[v])
                for k, lit in enumerate(lits):
                    m.add_hint(lit, k in used)
        for k, lit in enumerate(self.used):
            m.add_hint(lit, k in gpu)
        m.add_hint(self.cmax, max(end))

    def chosen(self, value, boolean_value) -> list[tuple[int, int, int]]:
        """``(gpu, candidate, start)`` of every chosen stage in a solution."""
        out = []
        for c, ops in enumerate(self.cands.ops):
            for k in range(self.resources):
                lit = self.x[c][k]
                if lit is True or boolean_value(lit):
                    out.append((k, c, value(self.T[ops[0]])))
        if self.pooled:
            out = deal(out, self.data.gpus, self.data.dur)
        return out


def solve_cpsat(request: SolveRequest, cands: Candidates, *, workers: int | None = None) -> SolveResult:
    """Build and solve the CP-SAT model for ``request`` (its warm start is
    ``request.warm``); ``workers`` overrides the request's threads (a
    portfolio keeps one for its other search).

    Every solution is offered to ``request.incumbent`` with
    :func:`hios_opt.evaluate`'s makespan, and CP-SAT's bound as it rises; the
    incumbent's ``stop()`` ends the search. Use :func:`hios_opt.exact.solve`,
    which validates the options, builds the candidates and the warm start,
    and calls this.
    """
    graph, platform, cost_model = request.graph, request.platform, request.cost_model
    incumbent = request.incumbent
    warm = request.warm
    resolution_ms = grid_resolution(request)
    data = grid_data(graph, platform, cands, resolution_ms)
    unit = data.unit_ms
    horizon = sum(data.dur[v] for v in range(graph.n_ops))
    hint_stages: list[tuple[int, int]] | None = None
    hint_start: list[int] | None = None
    if warm is not None:
        if data.uniform:
            warm = relabel_gpus(graph, warm)
        hint_stages = warm_stages(graph, cands, warm)
        hint_start = grid_timeline(graph, cands, data, hint_stages)
        if hint_start is not None and max(k for k, _ in hint_stages) < data.gpus:
            span = max(s + data.dur[c] for (_, c), s in zip(hint_stages, hint_start))
            horizon = min(horizon, span)
        else:
            hint_stages = None
    items = len(cands) * data.gpus + graph.n_edges * data.gpus
    build_s = BUILD_SECONDS_PER_ITEM * items
    presolve_s = PRESOLVE_SECONDS_PER_ITEM * items
    if warm is not None and request.has_time_limit and build_s + presolve_s > request.remaining():
        # The model could not be built and presolved in time: answer with the warm start.
        return finish(graph, platform, cost_model, solver="cpsat", solver_status="NOT_STARTED",
                      schedules=[warm, incumbent.best], solver_bound_ms=None, warm=warm,
                      stats={"candidates": len(cands), "estimated_build_s": round(build_s, 2),
                             "estimated_presolve_s": round(presolve_s, 2),
                             "note": "model too large to build and presolve within the time limit"},
                      wall_time_s=request.elapsed(), time_limit_s=request.time_limit)
    # Cheap real bounds are valid for the grid model's reported bound too:
    # cutting the grid model below floor(LB / r) keeps r * bound <= optimum.
    lower = max(load_bound(graph, cands, data, min(2.0, 0.1 * request.remaining()), horizon),
                to_ticks(lower_bound(graph, platform, cost_model), unit))
    incumbent.raise_bound(lower * unit)
    model = CpsatModel(graph, cands, data, horizon, lower)
    if hint_stages is not None and hint_start is not None:
        model.hint(hint_stages, hint_start)

    def read(chosen: list[tuple[int, int, int]]) -> Schedule:
        return stages_in_order(graph, platform, cands, data.dur, chosen, "cpsat")

    def offer(chosen: list[tuple[int, int, int]]) -> None:
        found = read(chosen)
        incumbent.offer(found, evaluate(graph, platform, found, cost_model).makespan, "cpsat")

    keeper = _SolutionKeeper(model, offer, every_s=0.0 if len(cands) * data.gpus <= READ_EVERY_SOLUTION_UP_TO
                             else 0.2)
    solver = cp_model.CpSolver()
    incumbent.add_stopper(solver.stop_search)

    def on_bound(bound: float) -> None:
        incumbent.raise_bound(math.ceil(bound - 1e-9) * unit)

    solver.best_bound_callback = on_bound
    params = solver.parameters
    remaining = request.remaining()
    reserve = min(0.25 * remaining, FINISH_SECONDS_PER_OP * (graph.n_ops + graph.n_edges)
                  + FINISH_SECONDS_PER_ITEM * len(cands) * data.gpus)
    params.max_time_in_seconds = max(0.01, remaining - reserve)
    threads = workers if workers is not None else request.threads
    if workers is not None or request.workers is not None:
        params.num_workers = threads
    if threads == 2:
        params.num_workers = 2
        params.subsolvers.extend(TWO_THREAD_PORTFOLIO)
    params.random_seed = request.seed
    params.log_search_progress = bool(request.log)
    if incumbent.stopping:
        code, interrupted = None, False
    else:
        code, interrupted = run_interruptible(solver, model.model, keeper)

    schedules: list[Schedule | None] = [warm]
    slack = 0.0  # only a grid-optimal solution's rounding counts as tolerance
    bound_ms: float | None = None
    name = "INTERRUPTED" if code is None else solver.status_name(code)
    if code is not None:
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            found = read(model.chosen(solver.value, solver.boolean_value))
            schedules.append(found)
            if code == cp_model.OPTIMAL:
                # Proven on the grid: the real gap is this schedule's rounding,
                # which counts as tolerance up to GRID_TOLERANCE of the makespan
                # (a coarser grid proves less: the answer stays "feasible").
                rounding = rounding_slack(graph, platform, cands, data, found, cost_model)
                slack = min(rounding, GRID_TOLERANCE * solver.objective_value * unit)
        elif keeper.best is not None:
            schedules.append(read(keeper.best))
        if code == cp_model.INFEASIBLE:
            raise SolverError(
                f"CP-SAT says the model of graph {graph.name!r} is infeasible, yet a sequential schedule "
                "always exists: this is a bug in hios_opt.exact.cpsat, please report it"
            )
        if code == cp_model.MODEL_INVALID:
            raise SolverError(f"CP-SAT rejected the model: {model.model.validate()}")
        bound = solver.best_objective_bound
        if math.isfinite(bound):
            bound_ms = math.ceil(bound - 1e-9) * unit
    elif keeper.best is not None:
        schedules.append(read(keeper.best))
    schedules.append(incumbent.best if incumbent.source == "cpsat" else None)
    stats: dict[str, Any] = {
        "candidates": len(cands), "candidates_pruned": cands.pruned, "gpus_modelled": data.gpus,
        "intervals": len(cands) * data.gpus, "resolution_ms": resolution_ms, "tick_ms": unit, "horizon_ticks": horizon,
        "solutions": keeper.count, "grid_optimal": code == cp_model.OPTIMAL, "grid_slack_ms": slack,
        "static_bound_ms": lower * unit,  # the model's bound before the search (Cmax's lower end)
    }
    if code is not None:
        stats.update(branches=solver.num_branches, conflicts=solver.num_conflicts,
                     booleans=solver.num_booleans, solver_wall_time_s=solver.wall_time,
                     deterministic_time=solver.deterministic_time,
                     objective_ticks=solver.objective_value if code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
                     else None, bound_ticks=solver.best_objective_bound)
    return finish(
        graph, platform, cost_model, solver="cpsat", solver_status=name, schedules=schedules,
        solver_bound_ms=bound_ms, slack_ms=slack, stats=stats, warm=warm,
        wall_time_s=request.elapsed(), interrupted=interrupted, time_limit_s=request.time_limit,
    )


class _SolutionKeeper(cp_model.CpSolverSolutionCallback):
    """Keeps CP-SAT's latest solution, hands it to ``offer`` (at most every
    ``every_s`` seconds) and counts them. It runs in CP-SAT's threads, where
    Ctrl-C never arrives: :func:`~hios_opt.exact.interrupt.run_interruptible`
    handles that in the caller's thread."""

    def __init__(self, model: CpsatModel, offer: Any, every_s: float) -> None:
        super().__init__()
        self.model = model
        self.offer = offer
        self.every_s = every_s
        self.best: list[tuple[int, int, int]] | None = None
        self.count = 0
        self._stored_at = -math.inf

    def on_solution_callback(self) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self._stored_at >= self.every_s:
            self.best = self.model.chosen(self.value, self.boolean_value)
            self._stored_at = now
            self.offer(self.best)
