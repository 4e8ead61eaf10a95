"""The MILP model of the problem, built with PuLP and solved by HiGHS
(default, in process through ``highspy``), CBC (bundled with PuLP,
``"milp:cbc"``) or any other PuLP solver by name.

The same problem as :mod:`hios_opt.exact.cpsat`, in continuous time (no
time grid), with big-M disjunctions instead of intervals: :func:`solve_milp`
builds and solves it, and its Notes give the model, the big-M values, the
bound's tolerance and what happens when CBC fails. Times are in ms, or in a
power of ten of ms (:func:`time_unit`), since the solvers' tolerances are
absolute. ``benchmarks/results/exact_summary.md`` compares HiGHS and CBC.
"""

from __future__ import annotations

import math
import os
import re
import signal
import time
from typing import Any

from ..bounds import lower_bound
from ..errors import AlgorithmError, ProblemTooLargeError, SolverError
from ..evaluate import evaluate
from ..graph import OpGraph, longest_paths
from ..platform import Platform
from ..schedules import Schedule, Stage
from ..timing import edge_delays
from .candidates import Candidates
from .grid import coarse_enough, grid_data, ramps, relabel_gpus
from .interrupt import run_stoppable
from .loadbound import load_bound
from .readback import stages_in_order
from .request import SolveRequest
from .result import SolveResult, finish

__all__ = ["solve_milp", "pulp_solver", "check_size", "time_unit", "MAX_VARIABLES", "MS_RANGE", "ALIASES"]

# CBC takes a 32-bit seed and 0 means its own default: seeds go to 1 .. 2**31 - 1.
MAX_CBC_SEED = 2**31 - 1

#: Largest number of MILP variables :func:`check_size` lets through.
MAX_VARIABLES = 200_000

#: Sequential makespans (ms) for which the MILP's time unit is 1 ms (see :func:`time_unit`).
MS_RANGE = (1.0, 1e6)

# Time grid (in time units) on which the redundant load bound is computed, rounding down.
_FINE_MS = 1e-6

#: Short names of PuLP solvers (``"highs"``: the in-process HiGHS of the
#: ``highspy`` package, else the ``highs`` command).
ALIASES = {
    "cbc": "PULP_CBC_CMD", "glpk": "GLPK_CMD", "highs": "HiGHS", "gurobi": "GUROBI_CMD",
    "cplex": "CPLEX_CMD", "scip": "SCIP_CMD", "xpress": "XPRESS", "copt": "COPT_CMD", "mosek": "MOSEK",
}

#: What ``solver="milp"`` runs: HiGHS (``highspy``, a dependency) when it can
#: be loaded, else PuLP's bundled CBC.
DEFAULT_BACKENDS = ("HiGHS", "PULP_CBC_CMD")


def default_backend() -> str:
    """The PuLP solver behind ``solver="milp"``: the first of
    :data:`DEFAULT_BACKENDS` that is available.

    >>> default_backend() in DEFAULT_BACKENDS
    True
    """
    try:
        import pulp
    except ImportError as exc:  # pragma: no cover - pulp is a dependency
        raise SolverError(f"PuLP is not installed ({exc}); pip install pulp") from None
    available = pulp.listSolvers(onlyAvailable=True)
    return next((name for name in DEFAULT_BACKENDS if name in available), DEFAULT_BACKENDS[-1])


def pulp_solver(name: str) -> str:
    """Check that the PuLP solver ``name`` (or an alias from :data:`ALIASES`)
    exists and is available; return its PuLP name.

    >>> pulp_solver("cbc")
    'PULP_CBC_CMD'
    """
    try:
        import pulp
    except ImportError as exc:  # pragma: no cover - pulp is a dependency
        raise SolverError(f"PuLP is not installed ({exc}); pip install pulp") from None
    known = {s.lower(): s for s in pulp.listSolvers()}
    available = pulp.listSolvers(onlyAvailable=True)
    wanted = ALIASES.get(name.lower(), name)
    if wanted == "HiGHS" and wanted not in available and "HiGHS_CMD" in available:
        wanted = "HiGHS_CMD"  # no highspy, but the highs command
    real = known.get(wanted.lower())
    if real is None:
        raise AlgorithmError(f"unknown MILP solver {name!r}; PuLP knows: {', '.join(sorted(known.values()))}")
    if real not in available:
        raise SolverError(f"MILP solver {real} is not available on this machine (not installed or no licence); "
                          f"available: {', '.join(available) or 'none'}")
    return real


def time_unit(sequential_ms: float) -> float:
    """Milliseconds per unit of the MILP's times: 1, unless the sequential
    makespan lies outside :data:`MS_RANGE`; then the power of ten that puts
    it between 1,000 and 10,000 units.

    The solvers' tolerances are absolute (about 1e-7), so a model in ms
    whose times are tiny (a few ns) or huge (1e8 ms and more) got wrong
    "optimal" answers, and coefficients of 1e300 broke them.

    >>> time_unit(12.5), time_unit(2e-5), time_unit(3e300)
    (1.0, 1e-08, 1e+297)
    """
    if not sequential_ms > 0 or MS_RANGE[0] <= sequential_ms <= MS_RANGE[1]:
        return 1.0
    return float(f"1e{math.floor(math.log10(sequential_ms)) - 3}")


def _independent_pairs(graph: OpGraph) -> list[tuple[int, int]]:
    desc = graph.descendants_bits
    n = graph.n_ops
    return [(u, v) for u in range(n) for v in range(u + 1, n) if not (desc[u] >> v) & 1 and not (desc[v] >> u) & 1]


def check_size(graph: OpGraph, platform: Platform, cands: Candidates) -> int:
    """Estimated number of MILP variables; raises :class:`ProblemTooLargeError`
    above :data:`MAX_VARIABLES`."""
    gpus = min(platform.gpus, graph.n_ops) if edge_delays(graph, platform).uniform else platform.gpus
    n = graph.n_ops
    pairs = n * (n - 1) // 2
    estimate = len(cands) * gpus + 2 * pairs + graph.n_edges + n + 1
    if estimate > MAX_VARIABLES:
        raise ProblemTooLargeError(
            f"the MILP model of graph {graph.name!r} would have about {estimate:,} variables "
            f"(limit {MAX_VARIABLES:,}); use the CP-SAT solver, streams=1 or a smaller graph"
        )
    return estimate


def _parse_cbc_log(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, pattern in (("result", r"^Result - (.+)$"), ("objective", r"^Objective value:\s+(\S+)"),
                         ("bound", r"^Lower bound:\s+(\S+)"), ("nodes", r"^Enumerated nodes:\s+(\d+)"),
                         ("iterations", r"^Total iterations:\s+(\d+)")):
        found = re.findall(pattern, text, flags=re.MULTILINE)
        if found:
            value = found[-1].strip()
            try:
                out[key] = int(value) if key in ("nodes", "iterations") else (
                    value if key == "result" else float(value))
            except ValueError:
                pass
    return out


def solve_milp(request: SolveRequest, cands: Candidates, backend: str) -> SolveResult:
    """Build and solve the MILP for ``request`` (warm start:
    ``request.warm``) with the PuLP solver ``backend``; see Notes. The
    solution found is offered to ``request.incumbent`` (with
    the evaluator's makespan) and the bound raised, when the solver has
    ended (PuLP gives no hook into a running solver).

    Use :func:`hios_opt.exact.solve`, which validates the options, builds the
    candidates and the warm start, and calls this.

    Notes
    -----
    *Variables.*

    - ``x[c, k]`` binary: candidate ``c`` is a stage on GPU ``k``;
      ``z[c] = Σ_k x[c, k]``, ``y[v, k] = Σ_{c ∋ v} x[c, k]``;
    - ``T[v] >= 0``: start of op ``v``'s stage;
      ``E[v] = T[v] + Σ_{c ∋ v} L(c) z[c]``: its end;
    - for each *independent* pair ``{u, v}`` (no path between them):
      ``q[u, v]`` binary (same GPU), ``o[u, v]`` and ``o[v, u]`` binary (same GPU,
      different stages, ``u``'s first / ``v``'s first);
      ``s[u, v] = Σ_{c ⊇ {u, v}} z[c]`` (same stage);
    - for each edge: ``same[e]`` binary (producer and consumer on one GPU);
    - ``Cmax``, minimised.

    *Constraints.*

    - *cover*: ``Σ_{c ∋ v} z[c] = 1``;
    - *same GPU* (independent pairs): ``q >= y[u, k] + y[v, k] - 1`` for every ``k``;
    - *no overlap* on one GPU unless in one stage: ``o[u, v] + o[v, u] = q - s``,
      ``E[u] <= T[v] + M (1 - o[u, v])`` and ``E[v] <= T[u] + M' (1 - o[v, u])``;
    - *stage*: ``|T[u] - T[v]| <= M'' (1 - s)``;
    - *precedence*, edge ``u -> v`` with delay ``c``: ``T[v] >= E[u]`` and
      ``T[v] >= E[u] + c (1 - same)``, with ``same <= 1 - y[u, k] + y[v, k]``
      (``same`` can be 1 only when both ops share a GPU); with a link matrix,
      ``T[v] >= E[u] + c(a, b) (y[u, a] + y[v, b] - 1)`` for every pair ``a != b``;
    - *makespan*: ``Cmax >= E[v]`` for every sink, ``Cmax <= UB``;
    - *symmetry* (uniform link): ``y[v, k] <= Σ_{u before v} y[u, k - 1]`` in
      topological order (valid as in :class:`~hios_opt.exact.cpsat.CpsatModel`);
    - redundant, for the LP bound: ``used[k] >= y[v, k]`` and
      ``Cmax >= Σ_c L(c) x[c, k] + a (used[k] - Σ_sources y) + b (used[k] - Σ_sinks y)``
      per GPU (busy time plus forced idle), ``Cmax >=``
      :func:`hios_opt.exact.loadbound.load_bound` and
      :func:`hios_opt.bounds.lower_bound`.

    Big-M values come from the upper bound ``UB``, the warm start's makespan (or
    the sequential makespan): with ``Cmax <= UB`` every ``T[v]`` lies in
    ``[head(v), UB - tail(v)]`` (longest paths of minimal stage durations before
    and after ``v``), so ``M = max E[u] - min T[v] = UB - tail(u) + dmin(u) - head(v)``
    is the smallest value that makes a relaxed disjunction inactive.

    When every latency and delay is a multiple of a step ``g >= 1 µs`` (integer
    weights), the optimal makespan is one too (a semi-active schedule's times are
    sums of data), so CBC stops once its bound is within ``g`` of the incumbent
    (``gapAbs``) and the bound is rounded up to the grid.

    The bound is the solver's best bound (HiGHS: its ``mip_dual_bound``; CBC:
    read from its log; other solvers: the objective, when they report an
    optimum), valid up to the solvers' numerical tolerances (integrality and
    feasibility 1e-7 to 1e-6, with big-M coefficients of the order of ``UB``);
    ``tolerance_ms`` allows ``1e-6 * UB``. HiGHS is asked for a relative gap of
    ``1e-7`` (its default, ``1e-4``, would stop before the proof this module calls
    ``"optimal"``).

    CBC runs as a child process (:mod:`hios_opt.exact.cbc`) that keeps the
    time limit (it is stopped at the deadline, since it looks at neither its
    clock nor Ctrl-C while it preprocesses), never outlives the solve and
    leaves no file behind. When its time runs out before it has a solution
    (CBC 2.10 then may also crash or call the model infeasible), the warm
    start is returned (``solver_status="TIME_LIMIT"``); a CBC that fails
    otherwise gives the warm start with ``solver_status="SOLVER_FAILED"`` and
    ``stats["solver_error"]``, or a :class:`~hios_opt.errors.SolverError`
    without one. CBC 2.10 may also crash when its time limit expires while it
    reads a MIP start; the warm start is then returned
    (``solver_status="SOLVER_FAILED"``).
    """
    import pulp

    graph, platform, cost_model, warm = request.graph, request.platform, request.cost_model, request.warm
    deadline, started, time_limit = request.deadline, request.started, request.time_limit
    workers, seed, log = request.workers, request.seed, request.log
    uniform = edge_delays(graph, platform).uniform
    n, K = graph.n_ops, (min(platform.gpus, graph.n_ops) if uniform else platform.gpus)
    sequential_ms = math.fsum(graph.latency)
    unit = time_unit(sequential_ms)  # every time of the model is in this many ms
    lat = [d / unit for d in cands.latency_ms]
    has_multi = [len(cands.by_op[v]) > 1 for v in range(n)]
    dmin = [min(lat[c] for c in cands.by_op[v]) for v in range(n)]
    head = longest_paths(graph, dmin)
    tail = longest_paths(graph, dmin, direction="tail")

    if warm is not None and uniform:
        warm = relabel_gpus(graph, warm)
    warm_split = _split_to_candidates(graph, cands, warm) if warm is not None else None
    if warm_split is not None and max(st.gpu for st in warm_split.stages) >= K:
        warm_split = None
    ub = sequential_ms / unit
    warm_timeline = None
    if warm_split is not None:
        warm_timeline = evaluate(graph, platform, warm_split, cost_model)
        ub = min(ub, warm_timeline.makespan / unit)
    # No bound exceeds a known makespan: one that does (by a float rounding,
    # the warm start optimal and the bound summed in another order) would
    # make the warm start infeasible.
    best_known = ub
    # Slack at the solvers' feasibility tolerance (1e-7): the warm start must
    # stay feasible, and where it is optimal, a Cmax <= UB tighter than that
    # tolerance made HiGHS's presolve call the model infeasible.
    ub = ub * (1 + 1e-7) + 1e-7
    # A stage or delay longer than UB cannot be part of a schedule the model
    # allows; capped just past it, a huge one (1e300 ms, or a bandwidth of
    # 1e-300 GB/s) stays out of the solver's arithmetic, with the same answer.
    cap = 2 * ub + 1.0
    lat = [min(d, cap) for d in lat]

    prob = pulp.LpProblem("hios_exact", pulp.LpMinimize)
    # -- variables
    T = [pulp.LpVariable(f"T{v}", lowBound=head[v], upBound=max(head[v], ub - tail[v])) for v in range(n)]
    x: list[list[Any]] = []
    for c, ops in enumerate(cands.ops):
        if K == 1 and len(ops) == 1 and not has_multi[ops[0]]:
            x.append([1])
        else:
            x.append([pulp.LpVariable(f"x{c}_{k}", cat="Binary") for k in range(K)])
    z = [pulp.lpSum(xs) for xs in x]
    y = [[pulp.lpSum(x[c][k] for c in cands.by_op[v]) for k in range(K)] for v in range(n)]
    E = [T[v] + pulp.lpSum(lat[c] * z[c] for c in cands.by_op[v]) for v in range(n)]
    fine = grid_data(graph, platform, cands, coarse_enough(_FINE_MS * unit, sequential_ms))
    ramp_in, ramp_out = (a * fine.unit_ms / unit for a in ramps(graph, fine))
    lower = load_bound(graph, cands, fine, min(2.0, 0.1 * max(0.0, deadline - time.monotonic())),
                       math.floor(ub * unit / fine.unit_ms)) * fine.unit_ms / unit
    lower = min(best_known, max(lower, max(head[v] + tail[v] for v in range(n)),
                                lower_bound(graph, platform, cost_model) / unit))
    # All data on a grid of `step` units: so is the optimal (semi-active)
    # makespan, and any bound may be rounded up to the grid.
    step = fine.unit_ms / unit if fine.exact and fine.unit_ms >= 1e-3 * unit else None
    if step is not None:
        lower = min(best_known, math.ceil(lower / step - 1e-9) * step)
    cmax = pulp.LpVariable("Cmax", lowBound=lower, upBound=ub)
    prob += cmax

    # -- cover
    for v in range(n):
        if has_multi[v] or K > 1:
            prob += pulp.lpSum(z[c] for c in cands.by_op[v]) == 1, f"cover{v}"

    # -- stage sequencing on one GPU (independent pairs)
    together: dict[tuple[int, int], list[int]] = {}
    for c, ops in enumerate(cands.ops):
        for i, u in enumerate(ops):
            for v in ops[i + 1:]:
                together.setdefault((u, v), []).append(c)
    pairs = _independent_pairs(graph)
    q: dict[tuple[int, int], Any] = {}
    o: dict[tuple[int, int], Any] = {}
    for u, v in pairs:
        if K > 1:
            q[u, v] = pulp.LpVariable(f"q{u}_{v}", cat="Binary")
            for k in range(K):
                prob += q[u, v] >= y[u][k] + y[v][k] - 1
            same_gpu = q[u, v]
        else:
            same_gpu = 1
        # o[u, v] = 1: same GPU, different stages, u's first. Exactly one order
        # holds for two ops that share a GPU but not a stage.
        s = pulp.lpSum(z[c] for c in together.get((u, v), ()))
        m_uv = max(0.0, ub - tail[u] + dmin[u] - head[v])
        m_vu = max(0.0, ub - tail[v] + dmin[v] - head[u])
        o[u, v] = pulp.LpVariable(f"o{u}_{v}", cat="Binary")
        o[v, u] = pulp.LpVariable(f"o{v}_{u}", cat="Binary")
        prob += o[u, v] + o[v, u] == same_gpu - s
        prob += E[u] <= T[v] + m_uv * (1 - o[u, v])
        prob += E[v] <= T[u] + m_vu * (1 - o[v, u])
        if (u, v) in together:
            span_u = max(0.0, ub - tail[u] - head[v])
            span_v = max(0.0, ub - tail[v] - head[u])
            prob += T[u] - T[v] <= span_u * (1 - s)
            prob += T[v] - T[u] <= span_v * (1 - s)

    # -- precedence with cross-GPU delays
    delays = edge_delays(graph, platform)
    comm = [min(d / unit, cap) for d in delays.cross] if uniform else []  # per edge, uniform delays only
    same: dict[int, Any] = {}
    for e in range(graph.n_edges):
        u, v = graph.edge_src[e], graph.edge_dst[e]
        prob += T[v] >= E[u]
        if K == 1:
            continue
        if uniform:
            if comm[e] > 0:
                same[e] = pulp.LpVariable(f"same{e}", cat="Binary")
                for k in range(K):
                    prob += same[e] <= 1 - y[u][k] + y[v][k]
                prob += T[v] >= E[u] + comm[e] * (1 - same[e])
        else:
            for a in range(K):
                for b in range(K):
                    delay = min(delays.between(e, a, b) / unit, cap)
                    if a != b and delay > 0:
                        prob += T[v] >= E[u] + delay * (y[u][a] + y[v][b] - 1)

    # -- makespan, and redundant load constraints: each used GPU is busy at
    # most Cmax minus its forced idle time (see loadbound.load_bound)
    for v in range(n):
        if not graph.succ[v]:
            prob += cmax >= E[v]
    sources = [v for v in range(n) if not graph.pred[v]]
    sinks = [v for v in range(n) if not graph.succ[v]]
    used: list[Any] = []
    for k in range(K):
        busy = pulp.lpSum(lat[c] * x[c][k] for c in range(len(cands)))
        if K == 1:
            prob += cmax >= busy
            continue
        used.append(pulp.LpVariable(f"used{k}", cat="Binary"))
        for v in range(n):
            prob += used[k] >= y[v][k]
        prob += cmax >= busy + ramp_in * (used[k] - pulp.lpSum(y[v][k] for v in sources)) + ramp_out * (
            used[k] - pulp.lpSum(y[v][k] for v in sinks))

    # -- symmetry
    if uniform and K > 1:
        topo = graph.topo
        prob += y[topo[0]][0] == 1
        for i in range(1, n):
            v = topo[i]
            for k in range(1, K):
                prob += y[v][k] <= pulp.lpSum(y[u][k - 1] for u in topo[:i])

    n_vars = len(prob.variables())
    n_cons = len(prob.constraints)

    # -- warm start
    if warm_split is not None and warm_timeline is not None:
        _set_warm_values(graph, cands, warm_split, warm_timeline, T, x, q, o, same, used, cmax, K, unit)

    remaining = deadline - time.monotonic()
    if time_limit is not None and remaining < 0.2 and warm is not None:
        # Building the model used the time: answer with the warm start.
        stats = {"candidates": len(cands), "candidates_pruned": cands.pruned, "gpus_modelled": K,
                 "variables": n_vars, "constraints": n_cons, "big_m_ub_ms": ub * unit, "time_unit_ms": unit}
        return finish(graph, platform, cost_model, solver=f"milp:{backend}", solver_status="NOT_STARTED",
                      schedules=[warm], solver_bound_ms=lower * unit, stats=stats, warm=warm,
                      wall_time_s=time.monotonic() - started, time_limit_s=time_limit)
    remaining = max(1.0, remaining)
    run = {"HiGHS": _run_highs, "PULP_CBC_CMD": _run_cbc}.get(backend, _run_pulp)
    status_name, info, interrupted, failure, has_solution = run(
        prob, backend, time_limit=remaining if time_limit is not None else None, workers=workers, seed=seed,
        log=log, gap_abs=0.999 * step if step is not None else None, warm=warm_split is not None,
        deadline=deadline - _finish_seconds(n_vars) if time_limit is not None else None)
    if failure is not None:
        if warm is None:
            raise SolverError(failure)
        # The solver failed; the warm start is still a valid answer.
        info["solver_error"] = failure

    schedules: list[Schedule | None] = [warm]
    bound_ms: float | None = None
    if has_solution:
        found = _extract(graph, platform, cands, T, x, K, lat)
        schedules.append(found)
        request.incumbent.offer(found, evaluate(graph, platform, found, cost_model).makespan, f"milp:{backend}")
        objective = pulp.value(prob.objective)
        if prob.sol_status == pulp.LpSolutionOptimal and "bound" not in info:
            bound_ms = objective
        elif "bound" in info:
            bound_ms = info["bound"]
        if bound_ms is not None and step is not None:
            bound_ms = math.ceil(bound_ms / step - 1e-6) * step
        if bound_ms is not None:
            bound_ms *= unit
    elif not interrupted and failure is None and prob.status == pulp.LpStatusInfeasible:
        raise SolverError(
            f"{backend} says the MILP of graph {graph.name!r} is infeasible, yet a sequential schedule always "
            "exists: this is a bug in hios_opt.exact.milp (or a numerical failure), please report it"
        )
    stats = {"candidates": len(cands), "candidates_pruned": cands.pruned, "gpus_modelled": K,
             "variables": n_vars, "constraints": n_cons, "big_m_ub_ms": ub * unit, "time_unit_ms": unit, **info}
    # The solvers' tolerances (integrality 1e-7 and primal feasibility 1e-7
    # times big-M of order UB) bound how far the objective they prove may sit
    # below the evaluated makespan.
    slack = 1e-6 * ub * unit
    request.incumbent.raise_bound(bound_ms)
    return finish(
        graph, platform, cost_model, solver=f"milp:{backend}", solver_status=status_name, schedules=schedules,
        solver_bound_ms=bound_ms, slack_ms=slack, stats=stats, warm=warm,
        wall_time_s=time.monotonic() - started, interrupted=interrupted, time_limit_s=time_limit,
    )


def _finish_seconds(variables: int) -> float:
    """Rough seconds to read a solution of this many variables back and
    judge it (2-core machine, rounded up): CBC is stopped this long before
    the solve's deadline."""
    return 0.05 + 2e-5 * variables


def _run_cbc(prob: Any, backend: str, *, time_limit: float | None, workers: int | None, seed: int, log: bool,
             gap_abs: float | None, warm: bool, deadline: float | None
             ) -> tuple[str, dict[str, Any], bool, str | None, bool]:
    """Solve with PuLP's bundled CBC, run by :func:`hios_opt.exact.cbc.run_cbc`
    (a child that never outlives the solve, stopped at ``deadline``; its
    files in a folder removed on every way out); its log gives the bound and
    node count. Same arguments and returns as :func:`_run_pulp`."""
    import pulp

    from .cbc import run_cbc

    kwargs: dict[str, Any] = {"msg": bool(log), "gapRel": 1e-7, "options": [f"randomCbcSeed {seed % MAX_CBC_SEED + 1}"]}
    if workers is not None and workers > 1:
        # One worker: CBC's serial search (no -threads). The bundled CBC 2.10.3
        # with "-threads 1" sometimes waits 10 s for a worker thread that never
        # starts ("Thread 0 used 0 times, waiting to start 10.0"; coin-or/Cbc#640).
        kwargs["threads"] = workers
    if gap_abs is not None:
        kwargs["gapAbs"] = gap_abs  # a bound within one step of the incumbent proves it
    solver = pulp.getSolver(backend, **kwargs)
    if not solver.available():
        raise SolverError(f"{backend}: the CBC executable {solver.path} cannot be run")
    run = run_cbc(prob, solver, warm=warm, deadline=deadline)
    if log:
        print(run.log, end="" if run.log.endswith("\n") else "\n")
    info = _parse_cbc_log(run.log)
    if run.killed:
        info["killed"] = True
    if run.solution and prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        if run.interrupted:
            return "INTERRUPTED", info, True, None, True
        name = "Optimal" if prob.sol_status == pulp.LpSolutionOptimal else info.get("result", "Feasible")
        return name, info, False, None, True
    if run.interrupted or run.out_of_time or run.killed:
        # Stopped (by Ctrl-C, the deadline or its own limit) before it had a
        # solution: the warm start, if any, is the answer. (CBC calls the
        # model infeasible, or crashes, when its limit ends its preprocessing.)
        name = "INTERRUPTED" if run.interrupted else "TIME_LIMIT"
        return name, info, run.interrupted, None, False
    if run.solution:
        return pulp.LpStatus.get(prob.status, str(prob.status)), info, False, None, False
    tail = " | ".join(line.strip() for line in run.log.strip().splitlines()[-4:])
    failure = (f"{backend} failed (exit status {run.returncode}) without a solution"
               + (f"; its log ends: {tail}" if tail else ""))
    return "SOLVER_FAILED", info, False, failure, False


def _run_pulp(prob: Any, backend: str, *, time_limit: float | None, workers: int | None, seed: int, log: bool,
              gap_abs: float | None, warm: bool, deadline: float | None = None
              ) -> tuple[str, dict[str, Any], bool, str | None, bool]:
    """Solve with another PuLP solver (GLPK, SCIP, a commercial one ...).
    Returns the status word, statistics, whether Ctrl-C cut it short, a
    failure message (or ``None``) and whether a solution came back."""
    import pulp

    # A relative gap of 1e-7: commercial solvers stop at 1e-4 by default and
    # would call that "optimal" (their objective is then taken as the bound).
    kwargs: dict[str, Any] = {"msg": bool(log), "gapRel": 1e-7}
    if time_limit is not None:
        kwargs["timeLimit"] = time_limit
    if workers is not None:
        kwargs["threads"] = workers
    if gap_abs is not None:
        kwargs["gapAbs"] = gap_abs  # a bound within one step of the incumbent proves it
    if warm:
        kwargs["warmStart"] = True
    try:
        solver = pulp.getSolver(backend, **kwargs)
    except TypeError:  # a solver class without some of these options
        for option in ("warmStart", "threads", "gapRel", "gapAbs"):
            kwargs.pop(option, None)
        solver = pulp.getSolver(backend, **kwargs)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            prob.solve(solver)
        except pulp.PulpSolverError as exc:
            errors.append(exc)

    # The *_CMD solvers run as a child process; Ctrl-C is passed on to it
    # as SIGINT. (A Ctrl-C typed in a terminal reaches it directly too.)
    _, interrupted = run_stoppable(work, _interrupt_solver_processes, "hios-opt-milp")
    info: dict[str, Any] = {}
    if errors and not interrupted:
        return "SOLVER_FAILED", info, False, f"{backend} failed: {str(errors[0]).split(', use msg=True')[0]}", False
    if interrupted:
        found = not errors and prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
        return "INTERRUPTED", info, True, None, found
    if prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        return ("Optimal" if prob.sol_status == pulp.LpSolutionOptimal else "Feasible"), info, False, None, True
    return pulp.LpStatus.get(prob.status, str(prob.status)), info, False, None, False


def _interrupt_solver_processes() -> None:
    """Send SIGINT to this process's solver children (Linux: found in
    ``/proc``; elsewhere nothing is sent and the solver runs to its limit
    unless the terminal's Ctrl-C reached it)."""
    me = os.getpid()
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return
    for entry in entries:
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                name, _, rest = fh.read().partition(" (")[2].rpartition(") ")
            if int(rest.split()[1]) == me and name.lower().startswith(("cbc", "glpsol", "highs", "scip")):
                os.kill(int(entry), signal.SIGINT)
        except (OSError, ValueError, IndexError):
            continue


def _run_highs(prob: Any, backend: str, *, time_limit: float | None, workers: int | None, seed: int, log: bool,
               gap_abs: float | None, warm: bool, deadline: float | None = None
               ) -> tuple[str, dict[str, Any], bool, str | None, bool]:
    """Solve with HiGHS in this process (PuLP builds the model, ``highspy``
    solves it); same arguments and returns as :func:`_run_pulp`
    (``backend`` is ``"HiGHS"``).

    Unlike PuLP's own call this gives HiGHS the warm start (the variables'
    initial values, a complete solution), reads the proven bound
    (``mip_dual_bound``) and node count, and lets Ctrl-C stop the search
    cleanly: HiGHS runs in a helper thread and an interrupt callback ends it,
    keeping the best solution so far.
    """
    import highspy
    import pulp

    solver = pulp.getSolver("HiGHS", msg=bool(log), timeLimit=time_limit, gapRel=1e-7, gapAbs=gap_abs,
                            threads=workers, random_seed=seed)
    solver.createAndConfigureSolver(prob)
    solver.buildSolverModel(prob)
    h = prob.solverModel
    if warm:
        columns = prob.variables()
        values = [v.varValue if v.varValue is not None else (v.lowBound or 0.0) for v in columns]
        h.setSolution(len(values), list(range(len(values))), values)
    # Ctrl-C asks HiGHS's interrupt callback to stop. (Not highspy's own
    # startSolve/wait: their locks are shared by every Highs object, and a
    # Ctrl-C that lands inside them left the next solve refusing to start.)
    h.HandleUserInterrupt = True
    began = time.monotonic()
    _, interrupted = run_stoppable(h.run, h.cancelSolve, "hios-opt-highs")
    model_status = h.getModelStatus()
    retried = False
    if model_status == highspy.HighsModelStatus.kInfeasible and not interrupted:
        # The model always has a solution (every op in one sequence), so this
        # is HiGHS's presolve misjudging bounds that are tight to within its
        # tolerances (seen with zero-latency ops): solve again without it.
        retried = True
        h.setOptionValue("presolve", "off")
        if time_limit is not None:
            h.setOptionValue("time_limit", max(1.0, time_limit - (time.monotonic() - began)))
        if warm:
            h.setSolution(len(values), list(range(len(values))), values)
        _, interrupted = run_stoppable(h.run, h.cancelSolve, "hios-opt-highs")
        model_status = h.getModelStatus()
    found = h.getInfo().primal_solution_status == 2  # kSolutionStatusFeasible
    info: dict[str, Any] = {"result": h.modelStatusToString(model_status), "nodes": int(h.getInfo().mip_node_count)}
    if retried:
        info["presolve_off_retry"] = True
    if any(v.cat == pulp.LpInteger for v in prob.variables()):
        bound = h.getInfo().mip_dual_bound
        if math.isfinite(bound):
            info["bound"] = bound
    # (no integer variable, e.g. a chain on one GPU: HiGHS solved an LP and
    # has no MIP bound; an optimal LP's objective is the bound, set by the caller)
    if found:
        status, sol_status = solver.findSolutionValues(prob)
        prob.assignStatus(status, sol_status)
    elif model_status == highspy.HighsModelStatus.kInfeasible:
        prob.assignStatus(pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible)
    name = "INTERRUPTED" if interrupted else ("Optimal" if model_status == highspy.HighsModelStatus.kOptimal
                                              else info["result"])
    return name, info, interrupted, None, found


def _split_to_candidates(graph: OpGraph, cands: Candidates, schedule: Schedule) -> Schedule:
    """The schedule with every stage that is not a candidate (pruned as
    dominated) split into singletons, in topological order."""
    index = {frozenset(ops) for ops in cands.ops}
    pos = graph.topo_position
    stages: list[Stage] = []
    for st in schedule.stages:
        members = frozenset(graph.index(op) for op in st.ops)
        if members in index:
            stages.append(st)
        else:
            stages.extend(Stage(st.gpu, (graph.ids[v],)) for v in sorted(members, key=pos.__getitem__))
    return Schedule(stages, gpus=schedule.gpus, streams=schedule.streams, algorithm=schedule.algorithm,
                    graph_name=schedule.graph_name)


def _set_warm_values(graph, cands, schedule, timeline, T, x, q, o, same, used, cmax, K, unit) -> None:
    index = {frozenset(ops): c for c, ops in enumerate(cands.ops)}
    start = timeline.op_start
    gpu = timeline.op_gpu
    ids = graph.ids
    for st in schedule.stages:
        c = index[frozenset(graph.index(op) for op in st.ops)]
        for k in range(K):
            if not isinstance(x[c][k], int):
                x[c][k].setInitialValue(1 if st.gpu == k else 0)
    chosen = {index[frozenset(graph.index(op) for op in st.ops)] for st in schedule.stages}
    for c in range(len(cands)):
        if c not in chosen:
            for k in range(K):
                if not isinstance(x[c][k], int):
                    x[c][k].setInitialValue(0)
    for v in range(graph.n_ops):
        T[v].setInitialValue(_within(T[v], start[ids[v]] / unit))
    for (u, v), var in q.items():
        var.setInitialValue(1 if gpu[ids[u]] == gpu[ids[v]] else 0)
    stage_of = {op: k for k, st in enumerate(schedule.stages) for op in st.ops}
    for (u, v), var in o.items():
        a, b = ids[u], ids[v]
        first = gpu[a] == gpu[b] and stage_of[a] != stage_of[b] and start[a] <= start[b]
        var.setInitialValue(1 if first else 0)
    for e, var in same.items():
        var.setInitialValue(1 if gpu[ids[graph.edge_src[e]]] == gpu[ids[graph.edge_dst[e]]] else 0)
    for k, var in enumerate(used):
        var.setInitialValue(1 if k in set(gpu.values()) else 0)
    cmax.setInitialValue(_within(cmax, timeline.makespan / unit))


def _within(var: Any, value: float) -> float:
    """``value`` moved into ``var``'s bounds when it lies outside them by
    float noise: a start's head is a sum of scaled latencies, the warm
    start's value a scaled sum, and the two can differ in the last bit."""
    low, up = var.lowBound, var.upBound
    if low is not None and value < low and value >= low - 1e-9 * max(1.0, abs(low)):
        return low
    if up is not None and value > up and value <= up + 1e-9 * max(1.0, abs(up)):
        return up
    return value


def _extract(graph: OpGraph, platform: Platform, cands: Candidates, T, x, K: int, lat: list[float]) -> Schedule:
    chosen = []
    for c, ops in enumerate(cands.ops):
        for k in range(K):
            value = x[c][k] if isinstance(x[c][k], int) else x[c][k].varValue
            if value is not None and value > 0.5:
                start = T[ops[0]].varValue or 0.0
                chosen.append((k, c, round(start, 9)))
    return stages_in_order(graph, platform, cands, [round(d, 9) for d in lat], chosen, "milp")
