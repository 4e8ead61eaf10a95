"""Anytime improvement of a schedule at any size: local search with exact repairs.

``solve(..., solver="lns")`` starts from the best heuristic schedule (the
warm start) and improves it for as long as it is given. Local moves act on
the ops that decide the makespan (its critical chain: the stages that each
waited for the one before): move an op to another GPU, run it in a stage
with others, take it out of one, or swap two stages of a GPU; each move is
judged by the timing kernel (:func:`hios_opt.timing.simulate`) and accepted
by late acceptance (a move may be worse than the current schedule, never
than the one some steps ago). Every so often a window of the schedule is
re-solved exactly with CP-SAT, the rest held fixed (:mod:`.window`). Every
improvement goes to the solve's incumbent with :func:`hios_opt.evaluate`'s
makespan. With a seed, one worker and an iteration budget the search is
deterministic; under a time limit, how far it gets depends on the machine.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..checks import check_int, check_number
from ..costs import StageModel, default_model
from ..errors import DeadlockError
from ..evaluate import evaluate
from ..graph import OpGraph
from ..heuristics.intra import sliding_window
from ..platform import Platform
from ..schedules import Schedule, Stage
from ..timing import StageTimeline, edge_delays, simulate
from .interrupt import run_stoppable
from .request import SolveRequest
from .result import SolveResult, finish
from .window import repair_window

__all__ = ["solve_lns", "LnsOptions"]

#: Relative tolerance under which two makespans count as equal.
_TOL = 1e-9

#: Largest share of the search's time its exact window repairs may take (on
#: hundreds of ops a repair costs as much as a thousand local moves). Time
#: is counted in work, not read from the clock, so that a run with an
#: iteration budget is the same on every machine: a repair's deterministic
#: time in CP-SAT's units, a move's evaluation in ops and edges.
REPAIR_SHARE = 0.15
#: Rough wall seconds per unit of CP-SAT's deterministic time, and per op or
#: edge of one evaluation (this project's 2-core machine, loaded).
REPAIR_SECONDS = 3.0
EVALUATION_SECONDS = 1.5e-6


@dataclass(frozen=True)
class LnsOptions:
    """Knobs of the search (the defaults are what ``solve`` uses).

    ``history``: late-acceptance length (a move is accepted when no worse than
    the schedule that many steps ago); ``max_iterations``: stop after this many
    moves (``None``: only the time limit; with an iteration budget and one
    worker the search is deterministic); ``repair_every``: moves between two
    exact window repairs (0: none); ``window_ops``: ops in a repaired
    window; ``repair_seconds``: CP-SAT's deterministic time per repair;
    ``merge_every``: moves between two passes of the intra-GPU merging;
    ``kick_after``: moves without a new best before the search restarts from
    the best with ``kick_moves`` random moves.
    """

    history: int = 64
    max_iterations: int | None = None
    repair_every: int = 400
    window_ops: int = 24
    repair_seconds: float = 0.1
    merge_every: int = 200
    kick_after: int = 5000
    kick_moves: int = 3

    def __post_init__(self) -> None:
        check_int(self.history, "history", min_value=1)
        check_int(self.max_iterations, "max_iterations", min_value=1, none_ok=True)
        for name in ("repair_every", "merge_every", "kick_after", "kick_moves"):
            check_int(getattr(self, name), name, min_value=0)
        check_int(self.window_ops, "window_ops", min_value=1)
        check_number(self.repair_seconds, "repair_seconds", min_value=0, include_min=False)


@dataclass
class _Timed:
    """A plan (stages of each GPU, op-index tuples) with its timeline."""

    per_gpu: list[list[tuple[int, ...]]]
    stage_gpu: list[int]
    stage_ops: list[tuple[int, ...]]
    start: list[float]
    end: list[float]
    makespan: float
    where: list[tuple[int, int]] = field(default_factory=list)  # op -> (gpu, position on it)
    stage_of: list[int] = field(default_factory=list)  # op -> flat stage index

    @property
    def cost(self) -> tuple[float, float]:
        # Makespan first; then the sum of stage ends, so that moves that pull
        # work earlier without shortening the makespan yet count as progress.
        return (self.makespan, math.fsum(self.end))


class _Search:
    """The moves and their evaluation for one problem."""

    def __init__(self, graph: OpGraph, platform: Platform, cost_model: StageModel | None, rng: random.Random) -> None:
        self.graph, self.platform, self.cost_model = graph, platform, cost_model
        self.model = default_model(cost_model)
        self.delays = edge_delays(graph, platform)
        self.rng = rng
        self.latency_cache: dict[tuple[int, ...], float] = {}
        self.evaluations = 0
        self.deadlocks = 0

    # ------------------------------------------------------------ timing
    def latency(self, ops: tuple[int, ...]) -> float:
        if len(ops) == 1:
            return self.graph.latency[ops[0]]
        value = self.latency_cache.get(ops)
        if value is None:
            value = self.latency_cache[ops] = self.model.stage_latency(self.graph, ops)
        return value

    def time(self, per_gpu: list[list[tuple[int, ...]]]) -> _Timed | None:
        """The timeline of a plan; ``None`` when it deadlocks."""
        stage_gpu = [k for k, stages in enumerate(per_gpu) for _ in stages]
        stage_ops = [ops for stages in per_gpu for ops in stages]
        self.evaluations += 1
        try:
            sim = simulate(self.graph, self.platform, stage_gpu, stage_ops,
                           stage_latency=[self.latency(ops) for ops in stage_ops], delays=self.delays)
        except DeadlockError:
            self.deadlocks += 1
            return None
        timed = _Timed(per_gpu, stage_gpu, stage_ops, sim.start, sim.end, sim.makespan)
        where = [(0, 0)] * self.graph.n_ops
        stage_of = [0] * self.graph.n_ops
        s = 0
        for k, stages in enumerate(per_gpu):
            for i, ops in enumerate(stages):
                for v in ops:
                    where[v] = (k, i)
                    stage_of[v] = s
                s += 1
        timed.where, timed.stage_of = where, stage_of
        return timed

    def critical(self, t: _Timed) -> list[int]:
        """The critical chain: from the stage that ends last, each stage's
        binding predecessor (its GPU predecessor or an input), back to time 0."""
        graph, delays = self.graph, self.delays
        s = max(range(len(t.end)), key=t.end.__getitem__)
        chain = [s]
        first_of_gpu = {}
        offset = 0
        for k, stages in enumerate(t.per_gpu):
            first_of_gpu[k] = offset
            offset += len(stages)
        seen = {s}
        while t.start[s] > 0:
            target = t.start[s]
            tol = _TOL * max(1.0, target)
            nxt = -1
            k = t.stage_gpu[s]
            if s > first_of_gpu[k] and abs(t.end[s - 1] - target) <= tol:
                nxt = s - 1
            else:
                for v in t.stage_ops[s]:
                    for e in graph.in_edges[v]:
                        u = graph.edge_src[e]
                        su = t.stage_of[u]
                        arrive = t.end[su] + delays.between(e, t.stage_gpu[su], k)
                        if abs(arrive - target) <= tol:
                            nxt = su
                            break
                    if nxt >= 0:
                        break
            if nxt < 0 or nxt in seen:
                break
            chain.append(nxt)
            seen.add(nxt)
            s = nxt
        return chain

    # ------------------------------------------------------------- moves
    def _bounds_on(self, t: _Timed, v: int, k: int, per_gpu: list[list[tuple[int, ...]]]) -> tuple[int, int]:
        """Positions on GPU ``k`` where a stage holding ``v`` may go: after
        every stage there that holds an input of ``v``, before every stage
        that holds one of its consumers."""
        lo, hi = 0, len(per_gpu[k])
        for u in self.graph.pred[v]:
            g, i = t.where[u]
            if g == k:
                lo = max(lo, i + 1)
        for x in self.graph.succ[v]:
            g, i = t.where[x]
            if g == k:
                hi = min(hi, i)
        return lo, hi

    def _ready_on(self, t: _Timed, v: int, k: int) -> float:
        graph = self.graph
        ready = 0.0
        for e in graph.in_edges[v]:
            su = t.stage_of[graph.edge_src[e]]
            ready = max(ready, t.end[su] + self.delays.between(e, t.stage_gpu[su], k))
        return ready

    def _without(self, t: _Timed, v: int) -> tuple[list[list[tuple[int, ...]]], _Timed]:
        """The plan with ``v`` taken out of its stage (the stage disappears
        when it held only ``v``); positions in ``t.where`` are adjusted."""
        k, i = t.where[v]
        per_gpu = [list(stages) for stages in t.per_gpu]
        rest = tuple(x for x in per_gpu[k][i] if x != v)
        if rest:
            per_gpu[k][i] = rest
            return per_gpu, t
        del per_gpu[k][i]
        where = list(t.where)
        for x in range(self.graph.n_ops):
            g, j = where[x]
            if g == k and j > i:
                where[x] = (g, j - 1)
        shifted = _Timed(t.per_gpu, t.stage_gpu, t.stage_ops, t.start, t.end, t.makespan, where, t.stage_of)
        return per_gpu, shifted

    def move(self, t: _Timed, v: int, k: int, merge: bool) -> list[list[tuple[int, ...]]] | None:
        """``v`` on GPU ``k``: alone in a new stage placed by when its inputs
        are ready there, or (``merge``) in a stage of ``k`` near that time."""
        per_gpu, t2 = self._without(t, v)
        lo, hi = self._bounds_on(t2, v, k, per_gpu)
        if lo > hi:
            return None
        ready = self._ready_on(t, v, k)
        stages = per_gpu[k]
        # the first stage of the range that starts at or after the ready time
        pos = hi
        for i in range(lo, hi):
            s = self._flat_index(t, k, stages[i])
            if s is not None and t.start[s] >= ready - _TOL * max(1.0, ready):
                pos = i
                break
        if merge:
            choices = [i for i in (pos - 1, pos) if lo <= i < hi and len(stages[i]) < self.platform.streams]
            choices = [i for i in choices if not self.graph.related_to_any(v, stages[i])]
            if not choices:
                return None
            i = self.rng.choice(choices)
            stages[i] = tuple(sorted(stages[i] + (v,)))
        else:
            stages.insert(pos, (v,))
        return per_gpu

    def _flat_index(self, t: _Timed, k: int, ops: tuple[int, ...]) -> int | None:
        return t.stage_of[ops[0]] if ops else None

    def runs(self, t: _Timed, chain: Sequence[int]) -> list[list[int]]:
        """The critical chain in time order, cut into runs of consecutive
        stages on one GPU (flat stage indices)."""
        out: list[list[int]] = []
        for s in reversed(chain):
            if out and t.stage_gpu[out[-1][-1]] == t.stage_gpu[s]:
                out[-1].append(s)
            else:
                out.append([s])
        return out

    def move_block(self, t: _Timed, block: Sequence[int], k: int,
                   same_gpu: bool = False) -> list[list[tuple[int, ...]]] | None:
        """The stages ``block`` (flat indices, one GPU, in order) moved
        together to GPU ``k`` (or, ``same_gpu``, within their own GPU), kept
        in one piece and in order, placed by when the first one's inputs are
        ready there."""
        k_from = t.stage_gpu[block[0]]
        if same_gpu:
            k = k_from
        elif k == k_from:
            return None
        moving = [t.stage_ops[s] for s in block]
        members = {v for ops in moving for v in ops}
        per_gpu = [list(stages) for stages in t.per_gpu]
        per_gpu[k_from] = [ops for ops in per_gpu[k_from] if ops[0] not in members]
        target = per_gpu[k]
        lo, hi = 0, len(target)
        position = {ops[0]: i for i, ops in enumerate(target)}
        for v in members:
            for u in self.graph.pred[v]:
                if u not in members and t.where[u][0] == k:
                    lo = max(lo, position[t.per_gpu[k][t.where[u][1]][0]] + 1)
            for x in self.graph.succ[v]:
                if x not in members and t.where[x][0] == k:
                    hi = min(hi, position[t.per_gpu[k][t.where[x][1]][0]])
        if lo > hi:
            return None
        ready = max(self._ready_on(t, v, k) for v in moving[0])
        pos = hi
        for i in range(lo, hi):
            if t.start[t.stage_of[target[i][0]]] >= ready - _TOL * max(1.0, ready):
                pos = i
                break
        per_gpu[k] = target[:pos] + moving + target[pos:]
        return per_gpu

    def swap(self, t: _Timed, v: int) -> list[list[tuple[int, ...]]] | None:
        """Swap ``v``'s stage with the one before it on its GPU, when no
        dependency joins them."""
        k, i = t.where[v]
        if i == 0:
            return None
        per_gpu = [list(stages) for stages in t.per_gpu]
        a, b = per_gpu[k][i - 1], per_gpu[k][i]
        if any(self.graph.related_to_any(x, a) for x in b):
            return None
        per_gpu[k][i - 1], per_gpu[k][i] = b, a
        return per_gpu

    def split(self, t: _Timed, v: int) -> list[list[tuple[int, ...]]] | None:
        """Take ``v`` out of its multi-op stage into a stage of its own right
        after it (or before, at random)."""
        k, i = t.where[v]
        if len(t.per_gpu[k][i]) < 2:
            return None
        per_gpu = [list(stages) for stages in t.per_gpu]
        per_gpu[k][i] = tuple(x for x in per_gpu[k][i] if x != v)
        per_gpu[k].insert(i + (1 if self.rng.random() < 0.5 else 0), (v,))
        return per_gpu

    def propose(self, t: _Timed, chain: Sequence[int]) -> list[list[tuple[int, ...]]] | None:
        """One random move on an op of the critical chain (sometimes of any stage)."""
        rng = self.rng
        gpus0 = self.platform.gpus
        if gpus0 > 1 and rng.random() < 0.3:
            # a run of the chain on one GPU, to the GPU of the run before or after it (or any)
            runs = self.runs(t, chain)
            i = rng.randrange(len(runs))
            near = [t.stage_gpu[runs[j][0]] for j in (i - 1, i + 1) if 0 <= j < len(runs)]
            k = rng.choice(near) if near and rng.random() < 0.8 else rng.randrange(gpus0)
            run = runs[i]
            if len(run) > 1 and rng.random() < 0.5:  # part of it
                a = rng.randrange(len(run))
                b = rng.randrange(a, len(run))
                run = run[a:b + 1]
            return self.move_block(t, run, k)
        s = rng.choice(chain) if rng.random() < 0.85 else rng.randrange(len(t.stage_ops))
        v = rng.choice(t.stage_ops[s])
        k_now = t.stage_gpu[s]
        gpus, streams = self.platform.gpus, self.platform.streams
        roll = rng.random()
        if roll < 0.45 and gpus > 1:
            k = rng.randrange(gpus - 1)
            k = k + 1 if k >= k_now else k
            return self.move(t, v, k, merge=streams > 1 and rng.random() < 0.4)
        if roll < 0.55:  # earlier or later on its own GPU, alone or in a stage near when its inputs are ready
            return self.move(t, v, k_now, merge=streams > 1 and rng.random() < 0.5)
        if roll < 0.65:  # a run of the chain as one block, to when its inputs are ready on its GPU
            runs = self.runs(t, chain)
            return self.move_block(t, rng.choice(runs), k_now, same_gpu=True)
        if roll < 0.8:
            return self.swap(t, v)
        if roll < 0.9 and streams > 1:
            return self.split(t, v)
        # back to the GPU of the input it waits for the longest
        inputs = [t.stage_gpu[t.stage_of[u]] for u in self.graph.pred[v]]
        others = [g for g in inputs if g != k_now]
        if not others:
            return None
        return self.move(t, v, rng.choice(others), merge=streams > 1 and rng.random() < 0.3)

    def merged(self, t: _Timed) -> _Timed | None:
        """The intra-GPU merging pass (sliding window of ``streams`` ops) on a plan."""
        if self.platform.streams < 2:
            return None
        per_gpu = [[list(ops) for ops in stages] for stages in t.per_gpu]
        timeline = StageTimeline(self.graph, self.platform, per_gpu, self.cost_model)
        if not sliding_window(timeline, self.platform.streams):
            return None
        return self.time([[tuple(sorted(ops)) for ops in stages] for stages in timeline.per_gpu()])

    def schedule(self, t: _Timed) -> Schedule:
        ids = self.graph.ids
        order = sorted(range(len(t.stage_ops)), key=lambda s: (t.start[s], t.stage_gpu[s], s))
        stages = [Stage(t.stage_gpu[s], tuple(ids[v] for v in t.stage_ops[s])) for s in order]
        return Schedule(stages, gpus=self.platform.gpus, streams=self.platform.streams, algorithm="lns",
                        graph_name=self.graph.name)


def _grid_for(makespan_ms: float) -> float:
    """A time grid for window repairs: a power of ten near 1e-5 of the makespan."""
    if not makespan_ms > 0:
        return 1e-3
    return 10.0 ** math.floor(math.log10(makespan_ms * 1e-5))


def _plan_of(graph: OpGraph, platform: Platform, schedule: Schedule) -> list[list[tuple[int, ...]]]:
    index = graph.id_index
    per_gpu: list[list[tuple[int, ...]]] = [[] for _ in range(platform.gpus)]
    for st in schedule.stages:
        per_gpu[st.gpu].append(tuple(sorted(index[op] for op in st.ops)))
    return per_gpu


def solve_lns(request: SolveRequest, options: LnsOptions | None = None, *,
              until: float | None = None) -> SolveResult:
    """Improve ``request.warm`` (or a sequential schedule) until the time
    limit (or ``until``, a :func:`time.monotonic` time before it), the
    iteration budget, a stop order or Ctrl-C.

    Every new best schedule is offered to ``request.incumbent`` with
    :func:`hios_opt.evaluate`'s makespan; the result is the best of them.
    The bound is the cheap one of :func:`~hios_opt.exact.result.finish` (the
    search proves nothing; ``"portfolio"`` pairs it with the exact searches).
    """
    opts = options or LnsOptions()
    graph, platform, cost_model = request.graph, request.platform, request.cost_model
    incumbent = request.incumbent
    rng = random.Random(request.seed)
    search = _Search(graph, platform, cost_model, rng)
    start_schedule = incumbent.best if incumbent.best is not None else request.warm
    if start_schedule is None:
        start_schedule = Schedule.sequential(graph.topological_order(), gpus=platform.gpus,
                                             streams=platform.streams)
    stats: dict[str, Any] = {"iterations": 0, "accepted": 0, "improvements": 0, "kicks": 0, "merges": 0,
                             "repairs": 0, "repair_improvements": 0}
    best_box: dict[str, Any] = {}
    stop_flag = {"stop": False}

    def offer(t: _Timed) -> None:
        found = search.schedule(t)
        incumbent.offer(found, evaluate(graph, platform, found, cost_model).makespan, "lns")
        best_box["schedule"] = found

    def repair(current: _Timed, chain: Sequence[int], iteration: int) -> _Timed | None:
        """CP-SAT on a window around a random stage of the critical chain."""
        # CP-SAT stops on its deterministic time (the same answer on any machine);
        # the wall-clock cap only guards the solve's own time limit.
        wall = min(10.0 * opts.repair_seconds + 1.0, request.remaining())
        if wall < 0.2:
            return None
        center = current.start[rng.choice(chain)]
        nearest = sorted(range(len(current.stage_ops)), key=lambda s: (abs(current.start[s] - center), s))
        window: list[int] = []
        for s in nearest:
            window.extend(current.stage_ops[s])
            if len(window) >= opts.window_ops:
                break
        stats["repairs"] += 1
        found = repair_window(graph, platform, cost_model, current.per_gpu, current.start, current.end, window,
                              resolution_ms=_grid_for(current.makespan), seconds=opts.repair_seconds,
                              wall_seconds=wall, seed=request.seed + iteration)
        timed = search.time(found.plan) if found is not None else None
        if timed is not None and timed.cost < current.cost:
            stats["repair_improvements"] += 1
            return timed
        return None

    size = graph.n_ops + graph.n_edges

    def run() -> None:
        current = search.time(_plan_of(graph, platform, start_schedule))
        assert current is not None  # a valid schedule never deadlocks
        best = current
        chain, chain_of = search.critical(current), current
        history = [current.cost] * opts.history
        since_best = 0
        iteration = 0
        while not stop_flag["stop"] and not request.stopped() and (until is None or time.monotonic() < until):
            if opts.max_iterations is not None and iteration >= opts.max_iterations:
                break
            if incumbent.closed():
                stats["ended"] = "the best schedule meets the proven bound"
                break
            iteration += 1
            if chain_of is not current:
                chain, chain_of = search.critical(current), current
            plan = search.propose(current, chain)
            candidate = search.time(plan) if plan is not None else None
            if (opts.repair_every and iteration % opts.repair_every == 0
                    and (stats["repairs"] + 1) * opts.repair_seconds * REPAIR_SECONDS
                    <= REPAIR_SHARE * search.evaluations * EVALUATION_SECONDS * size):
                repaired = repair(current, chain, iteration)
                if repaired is not None and repaired.cost < current.cost:
                    candidate = repaired
            if opts.merge_every and iteration % opts.merge_every == 0:
                merged = search.merged(current)
                if merged is not None and merged.cost < current.cost:
                    candidate = merged
                    stats["merges"] += 1
            if candidate is not None:
                slot = iteration % opts.history
                if candidate.cost <= history[slot] or candidate.cost <= current.cost:
                    current = candidate
                    stats["accepted"] += 1
                history[slot] = current.cost
                if current.makespan < best.makespan * (1 - _TOL):
                    best = current
                    since_best = 0
                    stats["improvements"] += 1
                    offer(best)
            since_best += 1
            if opts.kick_after and since_best >= opts.kick_after:
                current = best
                for _ in range(opts.kick_moves):
                    plan = search.propose(current, range(len(current.stage_ops)))
                    kicked = search.time(plan) if plan is not None else None
                    if kicked is not None:
                        current = kicked
                history = [current.cost] * opts.history
                since_best = 0
                stats["kicks"] += 1
        stats["iterations"] = iteration

    _, interrupted = run_stoppable(run, lambda: stop_flag.update(stop=True), "hios-opt-lns")
    stats.update(evaluations=search.evaluations, deadlocks=search.deadlocks)
    return finish(graph, platform, cost_model, solver="lns", solver_status="INTERRUPTED" if interrupted else
                  ("STOPPED" if incumbent.stopping else "TIME_LIMIT"),
                  schedules=[request.warm, best_box.get("schedule")], solver_bound_ms=None, stats=stats,
                  warm=request.warm, wall_time_s=request.elapsed(), interrupted=interrupted,
                  time_limit_s=request.time_limit)
