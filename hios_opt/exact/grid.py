"""The exact solvers' integer time grid: the instance in ticks.

CP-SAT works on integers, so every duration and delay becomes a whole
number of *ticks* of ``resolution_ms``, rounded down (:func:`to_ticks`); the
bounds proven on the grid hold for the real problem (:func:`grid_data`'s
Notes give the argument). :func:`grid_timeline` times a schedule on the
grid with the timing kernel, and :func:`rounding_slack` says how much of a
gap the grid alone explains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..bounds import lower_bound
from ..checks import shorten
from ..costs import StageModel
from ..errors import DeadlockError, OptionError
from ..evaluate import evaluate
from ..graph import OpGraph, longest_paths
from ..platform import Platform
from ..schedules import Schedule, Stage
from ..timing import EdgeDelays, edge_delays, simulate
from .candidates import Candidates

__all__ = ["GridData", "grid_data", "to_ticks", "auto_resolution", "coarse_enough", "check_ticks", "relabel_gpus",
           "warm_stages", "grid_timeline", "rounding_slack", "ramps", "DEFAULT_RESOLUTION_MS", "MAX_TICKS",
           "GRID_TOLERANCE"]

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


def auto_resolution(graph: OpGraph, platform: Platform, cost_model: StageModel | None = None) -> float:
    """The default CP-SAT time grid (ms): 1 µs, or the largest finer power of
    ten for which rounding cannot blur the answer by more than
    :data:`GRID_TOLERANCE` of the makespan.

    A schedule's real and grid makespans differ by less than ``2 * ops * r``
    (see :func:`grid_data`), so ``r`` is chosen with
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
class GridData:
    """The instance on the time grid (one tick is ``unit_ms``).

    ``dur``: each candidate's duration; ``delays``: the edges' delays
    (:class:`~hios_opt.timing.EdgeDelays` in ticks); ``head`` / ``tail``:
    each op's least start and least time from its start to the end
    (:func:`~hios_opt.graph.longest_paths` of the least durations, no
    delays); ``gpus``: the GPUs modelled (at most one per op when they are
    interchangeable); ``exact``: every value lies on the grid.
    """

    gpus: int
    uniform: bool
    dur: list[int]
    delays: EdgeDelays
    head: list[int] = field(default_factory=list)
    tail: list[int] = field(default_factory=list)
    unit_ms: float = 0.001
    exact: bool = False

    def delay(self, e: int, a: int, b: int) -> int:
        """Edge ``e``'s delay from GPU ``a`` to ``b``, in ticks (0 on one GPU)."""
        return int(self.delays.between(e, a, b))  # ticks: EdgeDelays holds ints here, 0.0 on one GPU

    def min_delay(self, e: int) -> int:
        """Edge ``e``'s least delay between two distinct GPUs, in ticks."""
        return int(self.delays.lowest(e))

    def no_delays(self) -> bool:
        """Whether every delay is 0 on the grid."""
        return not any(self.delays.values())


def grid_data(graph: OpGraph, platform: Platform, cands: Candidates, r: float) -> GridData:
    """The instance on a grid of ``r`` ms.

    Notes
    -----
    *The bound holds for the real problem.* Every duration and delay ``a``
    (ms) becomes ``floor(a / r)`` ticks. Let ``OPT`` be the real optimum and
    ``B`` a bound a solver proves for the integer model; the reported bound
    is ``r * B``. Take an optimal real schedule: with the same placement,
    stages and order, its earliest start times on the rounded-down data are
    maxima of sums of rounded-down numbers, each at most ``1/r`` times the
    real one, so its integer makespan is ``<= OPT / r``, and it is a solution
    of the integer model (all its candidates exist, or dominance pruning
    replaced them at no cost, which holds after rounding down as well). So
    the integer optimum is ``<= OPT / r`` and ``B`` is at most that. Constant
    lower bounds ``LB <= OPT`` added to the model keep this: cutting it at
    ``floor(LB / r)`` leaves ``B <= max(integer optimum, LB / r) <= OPT / r``.

    A value within ``1e-9`` (relative) of a grid point is taken as that
    point (:func:`to_ticks`), so that decimal data such as ``1.234`` ms is not
    pushed one tick down by binary representation error; the bound is then
    valid up to that relative ``1e-9``, far below the evaluator's float
    tolerance (``1e-6``). When all the ticks share a divisor ``g`` the grid is
    coarsened by ``g`` (exact), so that an integer objective rounds the bound
    up to a reachable value.

    The integers stay in range: the sequential makespan spans at most
    :data:`MAX_TICKS` ticks (:func:`check_ticks`), and a duration or delay
    longer than the sequential makespan, which no schedule within the
    horizon can use, becomes one tick past the horizon (exact: the model's
    solutions and bound are the same).

    A schedule's real and grid makespans differ by less than ``r`` per stage
    and per delay along its critical chain, i.e. less than ``2 * ops * r``
    (:func:`rounding_slack` measures it for one schedule).
    """
    delays = edge_delays(graph, platform)
    uniform = delays.uniform
    gpus = min(platform.gpus, graph.n_ops) if uniform else platform.gpus
    n = graph.n_ops
    check_ticks(graph, cands, r)
    values = list(cands.latency_ms)
    seq_ticks = sum(to_ticks(x, r) for x in values[:n])
    # A duration or delay longer than the sequential makespan becomes
    # "beyond" (None), excluded from the common divisor and set to one tick
    # past the horizon at the end, so that huge values (1e300 ms, a
    # bandwidth of 1e-300 GB/s) never reach the model's integers.
    beyond = seq_ticks + 2

    def tick(x: float) -> int | None:
        return None if x / r > beyond else to_ticks(x, r)

    dur_or_none = [tick(x) for x in values]
    ticked = delays.mapped(tick)
    values.extend(delays.values())
    exact = all(abs(x / r - round(x / r)) <= 1e-9 * max(1.0, x / r) for x in values if not x / r > beyond)
    g = max(1, math.gcd(*(d for d in dur_or_none if d is not None), *(int(d) for d in ticked.values() if d is not None)))
    past = seq_ticks // g + 1  # one tick past the horizon, in the coarse grid

    def coarse(d: float | None) -> int:  # a tick count (int), or 0.0 for one GPU
        return past if d is None else int(d // g)

    dur = [coarse(d) for d in dur_or_none]
    dmin = [min(dur[c] for c in cands.by_op[v]) for v in range(n)]
    return GridData(gpus, uniform, dur, ticked.mapped(coarse), head=longest_paths(graph, dmin),
                    tail=longest_paths(graph, dmin, direction="tail"), unit_ms=r * g, exact=exact)


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


def grid_timeline(graph: OpGraph, cands: Candidates, data: GridData,
                  stages: list[tuple[int, int]]) -> list[int] | None:
    """Earliest start (ticks) of each ``(gpu, candidate)`` stage, the stages of
    one GPU running in list order (:func:`hios_opt.timing.simulate` on the
    grid); ``None`` on a deadlock."""
    try:
        sim = simulate(graph, None, [k for k, _ in stages], [cands.ops[c] for _, c in stages],  # type: ignore[arg-type]
                       stage_latency=[data.dur[c] for _, c in stages], delays=data.delays)
    except DeadlockError:
        return None
    return [int(t) for t in sim.start]


def warm_stages(graph: OpGraph, cands: Candidates, schedule: Schedule) -> list[tuple[int, int]]:
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


def rounding_slack(graph: OpGraph, platform: Platform, cands: Candidates, data: GridData, schedule: Schedule,
                    cost_model: StageModel | None) -> float:
    """Real makespan minus ``r`` times grid makespan of the same schedule:
    how much of the gap the time grid alone explains for it."""
    order = warm_stages(graph, cands, schedule)
    start = grid_timeline(graph, cands, data, order)
    if start is None:  # pragma: no cover - the schedule comes from a valid solution
        return 2 * graph.n_ops * data.unit_ms
    grid = max(s + data.dur[c] for (_, c), s in zip(order, start)) * data.unit_ms
    return max(0.0, evaluate(graph, platform, schedule, cost_model).makespan - grid)


def ramps(graph: OpGraph, data: GridData) -> tuple[int, int]:
    """Idle time (ticks) before the first stage of a GPU that holds no source,
    and after the last stage of a GPU that holds no sink.

    The first stage of such a GPU holds ops whose producers all run on other
    GPUs, so it starts no earlier than ``min over non-sources v of max over
    producers u of (head(u) + dmin(u) + delay(u, v))``; symmetrically at the end.
    """
    n = graph.n_ops
    dmin = [data.tail[v] - max((data.tail[w] for w in graph.succ[v]), default=0) for v in range(n)]
    ramp_in = min((max(data.head[graph.edge_src[e]] + dmin[graph.edge_src[e]] + data.min_delay(e)
                       for e in graph.in_edges[v]) for v in range(n) if graph.pred[v]), default=0)
    ramp_out = min((max(data.min_delay(e) + data.tail[graph.edge_dst[e]] for e in graph.out_edges[v])
                    for v in range(n) if graph.succ[v]), default=0)
    return ramp_in, ramp_out
