"""The CP-SAT model of DESIGN.md section 1 (placement, stages, order, delays).

Model
-----
Data, in integer *ticks* of ``resolution_ms`` (see *Time grid* below):
stage candidates ``c`` (:mod:`hios_opt.exact.candidates`) with duration
``d_c``, edge delays ``δ_e`` (or ``δ_e(a, b)`` for a link matrix), ``K`` GPUs
(at most one per op when the GPUs are interchangeable).

Variables

- ``x[c, k]`` (bool): candidate ``c`` is a stage on GPU ``k``;
  ``z[c] = Σ_k x[c, k]``: it is a stage somewhere;
- ``T[v]`` (int): start of the stage that holds op ``v``;
  ``E[v] = T[v] + Σ_{c ∋ v} d_c z[c]``: its end;
- ``y[v, k] = Σ_{c ∋ v} x[c, k]``: op ``v`` runs on GPU ``k``;
- ``Cmax``: the makespan, minimised.

Constraints, by meaning

- *cover*: for every op, exactly one chosen candidate holds it
  (``Σ_{c ∋ v} z[c] = 1``);
- *stage*: the ops of a chosen candidate start together
  (``z[c] ⇒ T[w] = T[first(c)]``);
- *GPU sequence*: one optional interval ``[T[first(c)], +d_c)`` per
  ``(c, k)``, present iff ``x[c, k]``, and ``AddNoOverlap`` per GPU. Zero-length
  intervals count in CP-SAT's ``NoOverlap`` (they cannot sit strictly inside
  another interval), as a zero-latency stage cannot in the evaluator;
- *precedence*: for each edge ``u -> v``, ``T[v] >= E[u]``, and
  ``T[v] >= E[u] + δ_e`` when ``u`` and ``v`` sit on different GPUs (a literal
  per edge, forced true by ``y[u, k] ∧ ¬y[v, k]``; with a link matrix one
  enforced constraint per GPU pair ``(a, b)``);
- *makespan*: ``Cmax >= E[v]`` for every sink;
- *symmetry* (identical GPUs and a uniform link only): GPU ``k >= 1`` may hold
  an op only when GPU ``k - 1`` holds an op earlier in topological order.
  Relabelling the GPUs of any schedule by the first op they run gives a
  schedule of the same makespan that satisfies this, because then every
  pair of distinct GPUs has the same delays.

Redundant constraints (valid for every schedule, they only strengthen the
bound): a ``Cumulative`` of capacity ``K`` over the chosen candidates; per
GPU, ``Cmax >= busy + forced idle`` (a GPU without a source waits at least
``a`` for its first input, one without a sink at least ``b`` after its last
stage, see :func:`load_bound`); ``Cmax >=`` :func:`load_bound` (least total
busy time over ``m`` used GPUs plus their forced idle, minimised over ``m``)
and ``>=`` :func:`hios_opt.bounds.lower_bound`; domains
``T[v] in [head(v), UB - tail(v)]``.

*No delays* (every delay 0 on the grid, no zero-length stage): placement is
dropped, and one ``Cumulative`` of capacity ``K`` replaces the per-GPU
``NoOverlap``; any set of intervals with at most ``K`` overlapping can be dealt
to ``K`` GPUs (interval graphs are perfect), which :func:`_deal` does.

The heuristic warm start is given as a hint (``AddHint``, every variable) and
its makespan (on the time grid) as the upper bound ``UB`` of ``Cmax``.

Time grid and the validity of the bound
---------------------------------------
CP-SAT works on integers, so every duration and delay ``a`` (ms) becomes
``floor(a / r)`` ticks, ``r = resolution_ms``. Let ``OPT`` be the real optimum
and ``B`` the bound CP-SAT proves for the integer model; the reported bound is
``r * B``. *Claim*: ``r * B <= OPT``. Take an optimal real schedule ``σ``. With
the same placement, stages and order, its earliest start times on the
rounded-down data are maxima of sums of rounded-down numbers, each at most
``1/r`` times the real one, so its integer makespan is ``<= OPT / r``; it is a
solution of the integer model (all candidates of ``σ`` exist, or dominance
pruning replaced them at no cost, which holds after rounding down as well).
So the integer optimum is ``<= OPT / r`` and ``B`` is at most that optimum.
The constant lower bounds added to ``Cmax`` keep this: cutting the integer
model at ``floor(LB / r)`` with ``LB <= OPT`` leaves ``B <= max(integer
optimum, LB / r) <= OPT / r``.

A value within ``1e-9`` (relative) of a grid point is taken as that point,
so that decimal data such as ``2.0`` or ``1.234`` ms is not pushed one tick down
by binary representation error; the bound is then valid up to that relative
``1e-9``, far below the evaluator's float tolerance (``1e-6``). When all the
ticks share a divisor ``g`` the grid is coarsened by ``g`` (exact), so that the
integer objective rounds the bound up to a reachable value (integer-weight
benchmarks then prove ``Cmax >= ceil(...)`` directly).

The grid keeps the model's integers in range: the sequential makespan spans
at most :data:`MAX_TICKS` ticks (:func:`auto_resolution` coarsens the grid for
graphs timed in huge numbers, and a finer ``resolution_ms`` is refused), and a
duration or delay longer than the sequential makespan, which no schedule
within the horizon can use, becomes one tick past the horizon (exact: the
model's solutions and bound are the same).

The returned schedule is read from the integer solution (per GPU, chosen
candidates sorted by start) and its makespan is :func:`hios_opt.evaluate`'s
real value. For the same schedule, real and integer makespans differ by less
than ``r`` per stage and per delay along its critical chain, i.e. less than
``2 * ops * r``. When CP-SAT proves its integer model optimal, the real gap is
exactly that schedule's rounding (its real makespan minus ``r`` times its grid
makespan), which becomes the result's ``tolerance_ms`` (plus ``1e-6``
relative) as long as it is at most :data:`GRID_TOLERANCE` (0.01 %) of the
makespan: ``"optimal"`` then means optimal up to the time grid. A rounding
larger than that (a grid too coarse for the data) is not excused: the answer
stays ``"feasible"``, with ``stats["grid_optimal"]`` true. Without the proof
only the ``1e-6`` relative tolerance applies. With data on the grid (the
public benchmarks) the rounding is 0 and so is the gap. The default grid,
:func:`auto_resolution`, is fine enough that the rounding stays within
:data:`GRID_TOLERANCE`.

Search: with two threads CP-SAT's full tree search is
:data:`TWO_THREAD_PORTFOLIO` (an LP-heavy search) instead of its default
one, since the warm start is usually optimal or near it and the time goes
into the bound; its large-neighbourhood search keeps the other thread. With
one thread or three and more, CP-SAT's own choice.

Where this model is weak: on 2 GPUs x 2 streams from about 20 ops, the
placement. Its LP relaxation can split every op half and half over the
GPUs, which costs no delay, so the bound stays at busy time plus forced
idle, and the search does not close the placements either.
``benchmarks/bench_cpsat_probe.py`` cuts the horizon 0.01 % below the
optimum that the A* search proves and asks CP-SAT to show that nothing fits:
on four 20-op graphs it cannot in 30 s (:func:`deadline_check`), with or
without its stronger scheduling propagators; with every op's GPU fixed to
the optimum's it does in about 0.1 s, with the first three quarters fixed
(topological order) in 0.1-0.3 s, the first half in 2.7-8.9 s, the first
quarter not in 30 s. Its bound ends the minute at the static bound
(``stats["static_bound_ms"]``), 0.3-1.3 % below the optimum there; with one
stream the static bound is the optimum on three of the four graphs.

Ctrl-C: CP-SAT is told not to catch SIGINT (its handler is not
async-signal-safe and can deadlock the process); the search runs in a helper
thread and Ctrl-C in the calling thread stops it (:func:`run_interruptible`):
the best solution so far is returned with ``interrupted=True``.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ..bounds import lower_bound
from ..checks import shorten
from ..costs import StageModel
from ..errors import GpuIndexError, OptionError, SolverError
from ..evaluate import evaluate
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule, Stage
from ..timing import edge_delays
from ._interrupt import run_stoppable
from .candidates import Candidates
from .result import SolveResult, finish

__all__ = ["solve_cpsat", "to_ticks", "uniform_links", "relabel_gpus", "stages_in_order", "load_bound",
           "run_interruptible", "auto_resolution", "deadline_check", "DeadlineCheck", "TWO_THREAD_PORTFOLIO", "GRID_TOLERANCE", "DEFAULT_RESOLUTION_MS",
           "MAX_TICKS", "coarse_enough"]

#: Coarsest time grid (ms) :func:`auto_resolution` picks: 1 microsecond.
DEFAULT_RESOLUTION_MS = 1e-3

#: Most ticks the sequential makespan (the longest horizon a model needs) may
#: span on a time grid. Every sum in the CP-SAT model (busy time over all
#: candidates, forced idle over all sources, ...) then stays below
#: ``2 * MAX_INTERVALS * MAX_TICKS``, far inside CP-SAT's int64.
MAX_TICKS = 10**12

#: Largest share of the makespan that the time grid's rounding may explain
#: in an ``"optimal"`` answer (0.01 %).
GRID_TOLERANCE = 1e-4

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


def to_ticks(value_ms: float, resolution_ms: float) -> int:
    """``value_ms`` in ticks of ``resolution_ms``, rounded down (values within
    1e-9 relative of a grid point snap to it).

    >>> to_ticks(2.0, 0.001), to_ticks(1.234, 0.001), to_ticks(0.0015, 0.001)
    (2000, 1234, 1)
    """
    q = value_ms / resolution_ms
    k = round(q)
    if abs(q - k) <= 1e-9 * max(1.0, abs(q)):
        return int(k)
    return math.floor(q)


def uniform_links(graph: OpGraph, platform: Platform) -> bool:
    """True when every pair of distinct GPUs gives every edge the same delay
    (a uniform link, or every edge with its own ``comm_ms``)."""
    return edge_delays(graph, platform).uniform


def auto_resolution(graph: OpGraph, platform: Platform, cost_model: StageModel | None = None) -> float:
    """The default CP-SAT time grid (ms): 1 µs, or the largest finer power of
    ten for which rounding cannot blur the answer by more than
    :data:`GRID_TOLERANCE` of the makespan.

    A schedule's real and grid makespans differ by less than ``2 * ops * r``
    (see *Time grid* in the module docstring), so ``r`` is chosen with
    ``2 * ops * r <= GRID_TOLERANCE * LB`` (``LB``: the cheap
    :func:`hios_opt.bounds.lower_bound`, at most any makespan). Graphs timed
    in milliseconds get 10 ns; a model whose ops take a few microseconds each
    gets a far finer grid, where 1 µs would have made "optimal" mean "within
    10 %". Data on a coarser common grid (integer benchmarks) loses nothing:
    the grid is then coarsened back to the data's common divisor.

    >>> from hios_opt import generators
    >>> auto_resolution(generators.chain(3, latency_ms=1.0), Platform(gpus=2))
    1e-05
    """
    lb = lower_bound(graph, platform, cost_model)
    if not lb > 0:
        return DEFAULT_RESOLUTION_MS
    finest = GRID_TOLERANCE * lb / (2 * max(1, graph.n_ops))
    sequential = max(math.fsum(graph.latency), lb)
    r = coarse_enough(DEFAULT_RESOLUTION_MS, sequential)
    while r > finest and sequential / (r / 10) <= MAX_TICKS:
        r /= 10
    return coarse_enough(float(f"{r:.0e}"), sequential)


def coarse_enough(resolution_ms: float, sequential_ms: float) -> float:
    """``resolution_ms``, or the next power of ten above it on which
    ``sequential_ms`` spans at most :data:`MAX_TICKS` ticks.

    >>> coarse_enough(0.001, 5.0), coarse_enough(0.001, 1e300)
    (0.001, 1e+288)
    """
    r = resolution_ms
    while sequential_ms / r > MAX_TICKS:
        r = float(f"{r * 10:.0e}")
    return r


@dataclass
class _Data:
    """The instance on the time grid."""

    gpus: int
    uniform: bool
    dur: list[int]                       # per candidate
    delay: list[int]                     # per edge (uniform links)
    delay_pair: list[list[list[int]]]    # per edge, [a][b] (link matrix)
    head: list[int] = field(default_factory=list)
    tail: list[int] = field(default_factory=list)
    unit_ms: float = 0.001               # one tick
    exact: bool = False                  # every value lies on the grid (nothing rounded down)


def _grid_data(graph: OpGraph, platform: Platform, cands: Candidates, r: float) -> _Data:
    uniform = uniform_links(graph, platform)
    gpus = min(platform.gpus, graph.n_ops) if uniform else platform.gpus
    n = graph.n_ops
    check_ticks(graph, cands, r)
    values = list(cands.latency_ms)
    seq_ticks = sum(to_ticks(x, r) for x in values[:n])
    # A duration or delay longer than the sequential makespan is never part
    # of an optimal schedule (nor of any within the horizon): it becomes
    # "beyond" (None), excluded from the grid's common divisor and set to
    # one tick past the horizon at the end, so that huge values (1e300 ms,
    # a bandwidth of 1e-300 GB/s) never reach the model's integers.
    beyond = seq_ticks + 2

    def tick(x: float) -> int | None:
        return None if x / r > beyond else to_ticks(x, r)

    dur_or_none = [tick(x) for x in values]
    delay_or_none: list[int | None] = []
    pair_or_none: list[list[list[int | None]]] = []
    delays = edge_delays(graph, platform)
    if uniform:
        comm = delays.cross
        values.extend(comm)
        delay_or_none = [tick(x) for x in comm]
    else:
        pair = [delays.matrix(e, gpus) for e in range(graph.n_edges)]
        values.extend(d for e in pair for row in e for d in row)
        pair_or_none = [[[tick(d) for d in row] for row in e] for e in pair]
    exact = all(abs(x / r - round(x / r)) <= 1e-9 * max(1.0, x / r) for x in values if not x / r > beyond)
    # Coarsen the grid by the common divisor of all the data: exact, and
    # then the integer objective rounds bounds up to reachable values.
    g = max(1, math.gcd(*(d for d in dur_or_none if d is not None), *(d for d in delay_or_none if d is not None),
                        *(d for e in pair_or_none for row in e for d in row if d is not None)))
    past = seq_ticks // g + 1  # one tick past the horizon, in the coarse grid

    def coarse(d: int | None) -> int:
        return past if d is None else d // g

    dur = [coarse(d) for d in dur_or_none]
    delay = [coarse(d) for d in delay_or_none]
    delay_pair = [[[coarse(d) for d in row] for row in e] for e in pair_or_none]
    data = _Data(gpus, uniform, dur, delay, delay_pair, unit_ms=r * g, exact=exact)
    dmin = [min(dur[c] for c in cands.by_op[v]) for v in range(graph.n_ops)]
    head = [0] * graph.n_ops
    for v in graph.topo:
        head[v] = max((head[u] + dmin[u] for u in graph.pred[v]), default=0)
    tail = [0] * graph.n_ops
    for u in reversed(graph.topo):
        tail[u] = dmin[u] + max((tail[w] for w in graph.succ[u]), default=0)
    data.head, data.tail = head, tail
    return data


def check_ticks(graph: OpGraph, cands: Candidates, resolution_ms: float) -> None:
    """Refuse a time grid on which the sequential makespan would span more
    than :data:`MAX_TICKS` ticks (:class:`OptionError` naming the grid)."""
    sequential = math.fsum(cands.latency_ms[:graph.n_ops])
    if sequential / resolution_ms > MAX_TICKS:
        raise OptionError(
            f"resolution_ms={resolution_ms:g} is too fine for graph {shorten(graph.name, 60)}: its sequential "
            f"makespan of {sequential:g} ms would span {sequential / resolution_ms:.3g} ticks, and CP-SAT takes at "
            f"most {MAX_TICKS:.0e}; use resolution_ms >= {coarse_enough(resolution_ms, sequential):g} or leave it "
            "automatic")


def _edge_delay(data: _Data, e: int, a: int, b: int) -> int:
    if a == b:
        return 0
    return data.delay[e] if data.uniform else data.delay_pair[e][a][b]


# ------------------------------------------------------------ warm start
def relabel_gpus(graph: OpGraph, schedule: Schedule) -> Schedule:
    """The same schedule with GPUs numbered by the first op (in topological
    order) they run: the form the symmetry-breaking constraints allow."""
    gpu_of = schedule.placement
    label: dict[int, int] = {}
    for v in graph.topo:
        g = gpu_of[graph.ids[v]]
        if g not in label:
            label[g] = len(label)
    return Schedule([Stage(label[st.gpu], st.ops) for st in schedule.stages], gpus=schedule.gpus,
                    streams=schedule.streams, algorithm=schedule.algorithm, graph_name=schedule.graph_name)


def _grid_timeline(
    graph: OpGraph, cands: Candidates, data: _Data, stages: list[tuple[int, int]],
) -> list[int] | None:
    """Earliest start (ticks) of each ``(gpu, candidate)`` stage, the stages of
    one GPU running in list order; ``None`` on a deadlock."""
    cand_of = [-1] * graph.n_ops
    for s, (_, c) in enumerate(stages):
        for v in cands.ops[c]:
            cand_of[v] = s
    n = len(stages)
    deps: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    indeg = [0] * n
    last: dict[int, int] = {}
    for s, (k, c) in enumerate(stages):
        if k in last:
            deps[last[k]].append((s, 0))
            indeg[s] += 1
        last[k] = s
        for v in cands.ops[c]:
            for e in graph.in_edges[v]:
                t = cand_of[graph.edge_src[e]]
                deps[t].append((s, _edge_delay(data, e, stages[t][0], k)))
                indeg[s] += 1
    start = [0] * n
    queue = [s for s in range(n) if indeg[s] == 0]
    done = 0
    while queue:
        s = queue.pop()
        done += 1
        end = start[s] + data.dur[stages[s][1]]
        for t, d in deps[s]:
            start[t] = max(start[t], end + d)
            indeg[t] -= 1
            if indeg[t] == 0:
                queue.append(t)
    return start if done == n else None


def _warm_stages(graph: OpGraph, cands: Candidates, schedule: Schedule) -> list[tuple[int, int]]:
    """``(gpu, candidate)`` per stage of ``schedule``; a stage that is not a
    candidate (pruned as dominated) is split into singletons."""
    index = {frozenset(ops): c for c, ops in enumerate(cands.ops)}
    pos = graph.topo_position
    out: list[tuple[int, int]] = []
    for st in schedule.stages:
        members = frozenset(graph.index(op) for op in st.ops)
        c = index.get(members)
        if c is not None:
            out.append((st.gpu, c))
        else:
            out.extend((st.gpu, v) for v in sorted(members, key=pos.__getitem__))
    return out


# ------------------------------------------------------------------ model
def _ramps(graph: OpGraph, data: _Data) -> tuple[int, int]:
    """Idle time (ticks) before the first stage of a GPU that holds no source,
    and after the last stage of a GPU that holds no sink.

    The first stage of such a GPU holds ops whose producers all run on other
    GPUs, so it starts no earlier than ``min over non-sources v of max over
    producers u of (head(u) + dmin(u) + delay(u, v))``; symmetrically at the end.
    """
    n = graph.n_ops
    dmin = [data.tail[v] - max((data.tail[w] for w in graph.succ[v]), default=0) for v in range(n)]
    ramp_in = min((max(data.head[graph.edge_src[e]] + dmin[graph.edge_src[e]] + _min_delay(data, e)
                       for e in graph.in_edges[v]) for v in range(n) if graph.pred[v]), default=0)
    ramp_out = min((max(_min_delay(data, e) + data.tail[graph.edge_dst[e]] for e in graph.out_edges[v])
                    for v in range(n) if graph.succ[v]), default=0)
    return ramp_in, ramp_out


def run_interruptible(solver: Any, model: Any, callback: Any = None) -> tuple[int | None, bool]:
    """``solver.solve(model, callback)`` that Ctrl-C stops cleanly.

    CP-SAT's own SIGINT handler is not async-signal-safe: it logs (allocates)
    inside the handler, and a Ctrl-C that lands while the solver is in
    ``malloc`` deadlocks the process for good (seen in presolve). So CP-SAT is
    told not to catch SIGINT, the search runs in a helper thread, and Ctrl-C
    calls :meth:`CpSolver.stop_search`, which ends the search as a time limit
    would, with the best solution so far (:func:`~hios_opt.exact._interrupt.run_stoppable`).
    Returns the status code (``None`` if the solver returned none) and
    whether the search was interrupted.
    """
    solver.parameters.catch_sigint_signal = False
    return run_stoppable(lambda: solver.solve(model, callback), solver.stop_search, "hios-opt-cpsat")


def cover_bound(cands: Candidates, dur: list[int], time_limit: float, usable: list[bool] | None = None) -> int:
    """Least total duration of a set of candidates that holds every op once
    (a lower bound on the total busy time of any schedule), from a small
    set-partitioning model; the proven bound is used, so a short time limit
    only weakens it. ``usable`` restricts the candidates (singletons are
    always usable)."""
    n = len(cands.by_op)
    if not cands.multi or (usable is not None and not any(usable[n:])):
        return sum(dur[v] for v in range(n))
    from ortools.sat.python import cp_model

    m = cp_model.CpModel()
    keep = [c for c in range(len(cands)) if usable is None or usable[c] or c < n]
    z = {c: m.new_bool_var(f"z{c}") for c in keep}
    for v in range(n):
        m.add_exactly_one(z[c] for c in cands.by_op[v] if c in z)
    m.minimize(sum(dur[c] * z[c] for c in keep))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit)
    solver.parameters.num_workers = 1
    # A short helper solve: let Ctrl-C raise KeyboardInterrupt right after it
    # (the caller then returns its best schedule) rather than be swallowed.
    solver.parameters.catch_sigint_signal = False
    code = solver.solve(m)
    if code == cp_model.OPTIMAL:
        return int(round(solver.objective_value))
    bound = solver.best_objective_bound
    return math.ceil(bound - 1e-9) if math.isfinite(bound) else 0


def load_bound(graph: OpGraph, cands: Candidates, data: _Data, time_limit: float,
               horizon: int | None = None) -> int:
    """Makespan bound (ticks) from busy plus forced idle time.

    If ``m`` GPUs are used, their busy times add up to at least the cover
    bound ``W``; each used GPU without a source idles at least ``a`` before its
    first stage and each without a sink at least ``b`` after its last (see
    :func:`_ramps`), and at most ``#sources`` (``#sinks``) GPUs hold one. So
    ``m * Cmax >= W + max(0, m - #sources) a + max(0, m - #sinks) b``; the bound
    is the least right-hand side over ``m = 1 .. K``, divided by ``m``.

    With groups of ops (``streams > 1``) the bound is sharpened by testing
    makespans ``T`` (binary search up to ``horizon``): a schedule of makespan
    ``T`` can only use a group ``c`` that fits its ops' time windows,
    ``max head + d_c + max tail after <= T``; if even the cover by such groups
    gives a bound above ``T``, no schedule of makespan ``T`` exists. The
    answer is the least ``T`` that passes (every makespan below it fails, and
    the test is monotone in ``T``).
    """
    t_end = time.monotonic() + max(0.0, time_limit)
    a, b = _ramps(graph, data)
    n = graph.n_ops
    n_src = sum(1 for v in range(n) if not graph.pred[v])
    n_snk = sum(1 for v in range(n) if not graph.succ[v])

    def bound(work: int) -> int:
        return min(-((-(work + max(0, m - n_src) * a + max(0, m - n_snk) * b)) // m)
                   for m in range(1, data.gpus + 1))

    lo = bound(cover_bound(cands, data.dur, max(0.01, t_end - time.monotonic())))
    if not cands.multi or horizon is None or lo >= horizon:
        return lo
    dmin = [min(data.dur[c] for c in cands.by_op[v]) for v in range(n)]
    after = [data.tail[v] - dmin[v] for v in range(n)]
    need = [max(data.head[v] for v in ops) + data.dur[c] + max(after[v] for v in ops)
            for c, ops in enumerate(cands.ops)]

    def passes(t: int) -> bool:
        usable = [need[c] <= t for c in range(len(cands))]
        return bound(cover_bound(cands, data.dur, max(0.01, t_end - time.monotonic()), usable)) <= t

    hi = horizon  # some schedule (the warm start) has this makespan: it passes
    while lo < hi and time.monotonic() < t_end:
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _no_delays(data: _Data) -> bool:
    if data.uniform:
        return not any(data.delay)
    return not any(d for e in data.delay_pair for row in e for d in row)


def _deal(chosen: list[tuple[int, int, int]], data: _Data) -> list[tuple[int, int, int]]:
    """Give each stage of a pooled solution (at most K overlapping, positive
    lengths) a GPU: by start time, to a GPU whose last stage has ended."""
    free_at = [0] * data.gpus
    out = []
    for _, c, start in sorted(chosen, key=lambda r: (r[2], r[2] + data.dur[r[1]])):
        k = next(k for k in range(data.gpus) if free_at[k] <= start)
        free_at[k] = start + data.dur[c]
        out.append((k, c, start))
    return out


def _min_delay(data: _Data, e: int) -> int:
    if data.uniform:
        return data.delay[e]
    k = data.gpus
    return min((data.delay_pair[e][a][b] for a in range(k) for b in range(k) if a != b), default=0)


class _Model:
    """The CP-SAT model and its variables, built top to bottom."""

    def __init__(self, graph: OpGraph, cands: Candidates, data: _Data, horizon: int, lower: int = 0,
                 symmetry: bool = True) -> None:
        from ortools.sat.python import cp_model

        self.cp = cp_model
        self.graph, self.cands, self.data, self.horizon = graph, cands, data, horizon
        m = self.model = cp_model.CpModel()
        n, capacity = graph.n_ops, data.gpus
        # Without delays the GPUs are interchangeable at every instant: stages
        # only need a Cumulative of capacity K (intervals with at most K
        # overlapping can always be dealt to K GPUs), no placement variables.
        self.pooled = pooled = capacity > 1 and _no_delays(data) and min(data.dur) > 0
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
                if data.delay[e] > 0:
                    d = m.new_bool_var(f"d{e}")
                    for k in range(K):
                        m.add_bool_or([d, ~self.y[u][k], self.y[v][k]])
                    m.add(self.T[v] >= self.E[u] + data.delay[e]).only_enforce_if(d)
                    self.diff[e] = d
            else:
                for a in range(K):
                    for b in range(K):
                        if a != b and data.delay_pair[e][a][b] > 0:
                            m.add(self.T[v] >= self.E[u] + data.delay_pair[e][a][b]).only_enforce_if(
                                [self.y[u][a], self.y[v][b]])

        # -- makespan
        lb = max(lower, max(data.head[v] + data.tail[v] for v in range(n)))
        self.cmax = m.new_int_var(min(lb, horizon), horizon, "Cmax")
        for v in range(n):
            if not graph.succ[v]:
                m.add(self.cmax >= self.E[v])
        # Each GPU is busy at most Cmax, minus the idle time it must have
        # before its first and after its last stage (redundant, for the bound).
        ramp_in, ramp_out = _ramps(graph, data)
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
            out = _deal(out, self.data)
        return out


def stages_in_order(graph: OpGraph, platform: Platform, cands: Candidates, dur: list,
                    chosen: list[tuple[int, int, Any]], algorithm: str) -> Schedule:
    """The schedule made of the chosen ``(gpu, candidate, start)`` stages: per
    GPU in order of start (then end), except where a dependency says
    otherwise. ``dur`` is each candidate's duration, in the solver's unit.

    The stages are put in one global order, the sorted one wherever it is a
    topological order of the stages' dependencies, and each GPU runs its
    stages in that order; as every GPU sequence and every edge then points
    forward, the evaluator never finds a deadlock. Ties need this: a
    zero-length stage and its consumer start together, and a MILP
    solution, exact only up to the solver's feasibility tolerance, may
    even start the consumer a few nanoseconds *before* its producer.
    """
    ids = graph.ids
    pos = graph.topo_position
    rows = sorted(chosen, key=lambda r: (r[2], r[2] + dur[r[1]], r[0], min(pos[v] for v in cands.ops[r[1]])))
    stage_of = [0] * graph.n_ops
    for i, (_, c, _) in enumerate(rows):
        for v in cands.ops[c]:
            stage_of[v] = i
    needs = nx.DiGraph()
    needs.add_nodes_from(range(len(rows)))
    needs.add_edges_from((stage_of[u], stage_of[v]) for u, v in zip(graph.edge_src, graph.edge_dst)
                         if stage_of[u] != stage_of[v])
    try:
        order = list(nx.lexicographical_topological_sort(needs))  # the earliest-sorted ready stage first
    except nx.NetworkXUnfeasible:  # pragma: no cover - chosen stages that depend on each other both ways
        order = list(range(len(rows)))  # the evaluator names the cycle
    stages = [Stage(rows[i][0], tuple(ids[v] for v in cands.ops[rows[i][1]])) for i in order]
    return Schedule(stages, gpus=platform.gpus, streams=platform.streams, algorithm=algorithm,
                    graph_name=graph.name)


def _rounding_slack(graph: OpGraph, platform: Platform, cands: Candidates, data: _Data, schedule: Schedule,
                    cost_model: StageModel | None) -> float:
    """Real makespan minus ``r`` times grid makespan of the same schedule:
    how much of the gap the time grid alone explains for it."""
    order = _warm_stages(graph, cands, schedule)
    start = _grid_timeline(graph, cands, data, order)
    if start is None:  # pragma: no cover - the schedule comes from a valid solution
        return 2 * graph.n_ops * data.unit_ms
    grid = max(s + data.dur[c] for (_, c), s in zip(order, start)) * data.unit_ms
    return max(0.0, evaluate(graph, platform, schedule, cost_model).makespan - grid)


# ------------------------------------------------------------------ solve
def solve_cpsat(
    graph: OpGraph,
    platform: Platform,
    cands: Candidates,
    *,
    warm: Schedule | None,
    deadline: float,
    started: float,
    time_limit: float,
    workers: int | None = None,
    seed: int = 0,
    log: bool = False,
    resolution_ms: float = 0.001,
    cost_model: StageModel | None = None,
    exchange: Any = None,
) -> SolveResult:
    """Build and solve the CP-SAT model; see the module docstring.

    Use :func:`hios_opt.exact.solve`, which validates the options, builds the
    candidates and the warm start, and calls this. ``exchange``: the
    :class:`~hios_opt.exact.portfolio.Exchange` of a portfolio solve; the
    solutions found are offered to it (with the evaluator's makespan), and
    its ``stop()`` ends the search.
    """
    try:
        from ortools.sat.python import cp_model
    except ImportError as exc:  # pragma: no cover - ortools is a dependency
        if "more than once" in str(exc):
            raise SolverError(f"OR-Tools CP-SAT failed to load earlier in this process ({exc}), e.g. because its "
                              "first import was interrupted; restart the Python process (or kernel)") from None
        raise SolverError(f"OR-Tools CP-SAT is not installed ({exc}); pip install ortools") from None

    data = _grid_data(graph, platform, cands, resolution_ms)
    unit = data.unit_ms
    horizon = sum(data.dur[v] for v in range(graph.n_ops))
    warm_stages: list[tuple[int, int]] | None = None
    warm_start: list[int] | None = None
    if warm is not None:
        if data.uniform:
            warm = relabel_gpus(graph, warm)
        warm_stages = _warm_stages(graph, cands, warm)
        warm_start = _grid_timeline(graph, cands, data, warm_stages)
        if warm_start is not None and max(warm_stages[i][0] for i in range(len(warm_stages))) < data.gpus:
            span = max(s + data.dur[c] for (_, c), s in zip(warm_stages, warm_start))
            horizon = min(horizon, span)
        else:
            warm_stages = None
    items = len(cands) * data.gpus + graph.n_edges * data.gpus
    build_s = BUILD_SECONDS_PER_ITEM * items
    presolve_s = PRESOLVE_SECONDS_PER_ITEM * items
    if warm is not None and time_limit is not None and build_s + presolve_s > deadline - time.monotonic():
        # The model could not be built and presolved in time: answer with the warm start.
        return finish(graph, platform, cost_model, solver="cpsat", solver_status="NOT_STARTED",
                      schedules=[warm], solver_bound_ms=None, warm=warm,
                      stats={"candidates": len(cands), "estimated_build_s": round(build_s, 2),
                             "estimated_presolve_s": round(presolve_s, 2),
                             "note": "model too large to build and presolve within the time limit"},
                      wall_time_s=time.monotonic() - started, time_limit_s=time_limit)
    # Cheap real bounds are valid for the grid model's reported bound too:
    # cutting the grid model below floor(LB / r) keeps r * bound <= optimum.
    lower = max(load_bound(graph, cands, data, min(2.0, 0.1 * max(0.0, deadline - time.monotonic())), horizon),
                to_ticks(lower_bound(graph, platform, cost_model), unit))
    model = _Model(graph, cands, data, horizon, lower)
    if warm_stages is not None and warm_start is not None:
        model.hint(warm_stages, warm_start)

    publish = None
    if exchange is not None:
        def publish(chosen: list[tuple[int, int, int]]) -> None:
            found = stages_in_order(graph, platform, cands, data.dur, chosen, "cpsat")
            exchange.offer(found, evaluate(graph, platform, found, cost_model).makespan)

    keeper = _incumbent(model, publish)
    solver = cp_model.CpSolver()
    if exchange is not None:
        exchange.add_stopper(solver.stop_search)
    params = solver.parameters
    remaining = deadline - time.monotonic()
    reserve = min(0.25 * remaining, FINISH_SECONDS_PER_OP * (graph.n_ops + graph.n_edges)
                  + FINISH_SECONDS_PER_ITEM * len(cands) * data.gpus)
    params.max_time_in_seconds = max(0.01, remaining - reserve)
    if workers is not None:
        params.num_workers = workers
    threads = workers if workers is not None else (os.cpu_count() or 1)
    if threads == 2:
        params.num_workers = 2
        params.subsolvers.extend(TWO_THREAD_PORTFOLIO)
    params.random_seed = seed
    params.log_search_progress = bool(log)
    code, interrupted = run_interruptible(solver, model.model, keeper)

    schedules: list[Schedule | None] = [warm]
    slack = 0.0  # only a grid-optimal solution's rounding counts as tolerance
    bound_ms: float | None = None
    name = "INTERRUPTED" if code is None else solver.status_name(code)
    if code is not None:
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            chosen = model.chosen(solver.value, solver.boolean_value)
            found = stages_in_order(graph, platform, cands, data.dur, chosen, "cpsat")
            schedules.append(found)
            if code == cp_model.OPTIMAL:
                # Proven on the grid: the real gap is this schedule's rounding,
                # which counts as tolerance up to GRID_TOLERANCE of the makespan
                # (a coarser grid proves less: the answer stays "feasible").
                # (The grid makespan, at most the real one, sets the cap.)
                rounding = _rounding_slack(graph, platform, cands, data, found, cost_model)
                slack = min(rounding, GRID_TOLERANCE * solver.objective_value * unit)
        elif keeper.best is not None:
            schedules.append(stages_in_order(graph, platform, cands, data.dur, keeper.best, "cpsat"))
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
        schedules.append(stages_in_order(graph, platform, cands, data.dur, keeper.best, "cpsat"))
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
        wall_time_s=time.monotonic() - started, interrupted=interrupted, time_limit_s=time_limit,
    )


def _incumbent(model: _Model, publish: Any = None) -> Any:
    """A solution callback that keeps the latest solution (at most every
    0.2 s), hands it to ``publish`` (when given) and counts them. It runs in
    CP-SAT's threads, where Ctrl-C never arrives: :func:`run_interruptible`
    handles that in the caller's thread."""
    from ortools.sat.python import cp_model

    class Incumbent(cp_model.CpSolverSolutionCallback):
        def __init__(self) -> None:
            super().__init__()
            self.best: list[tuple[int, int, int]] | None = None
            self.count = 0
            self._stored_at = -math.inf

        def on_solution_callback(self) -> None:
            self.count += 1
            now = time.monotonic()
            if now - self._stored_at >= 0.2:
                self.best = model.chosen(self.value, self.boolean_value)
                self._stored_at = now
                if publish is not None:
                    publish(self.best)

    return Incumbent()


# ------------------------------------------------------- deadline check
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
    from ortools.sat.python import cp_model

    from . import _check_options, cpsat_candidates

    started = time.monotonic()
    if isinstance(deadline_ms, bool) or not isinstance(deadline_ms, (int, float)) or not deadline_ms > 0 \
            or not math.isfinite(deadline_ms):
        raise OptionError(f"deadline_ms must be a finite number of milliseconds > 0, got {deadline_ms!r}")
    _check_options("cpsat", time_limit, workers, 0, None)
    limit = time_limit if time_limit is not None else math.inf
    placement = dict(placement or {})
    for op, k in placement.items():
        graph.index(op)  # UnknownOpError names an op that is not in the graph
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < platform.gpus:
            raise GpuIndexError(f"placement of op {op!r}: GPU {k!r} is not in 0..{platform.gpus - 1}")
    cands = cpsat_candidates(graph, platform, cost_model)
    data = _grid_data(graph, platform, cands, auto_resolution(graph, platform, cost_model))
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
    model = _Model(graph, cands, data, cut, lower, symmetry=not placement)
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
