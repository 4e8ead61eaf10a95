"""Every engine that times a schedule gives the timing kernel's times.

The start rule of ``docs/design.md`` (section 1) lives in
:mod:`hios_opt.timing`; :func:`hios_opt.timing.simulate` is the reference.
Each engine below is checked against it, stage by stage (start and end, to
1e-9 relative), on a few hundred random problems: the tiny ones of
:func:`tests.support.problems.random_problem` (measured stage tables,
zero-latency ops, zero delays, link matrices, other contention models) and
layered graphs of up to 60 ops (:func:`~tests.support.problems.layered_problem`:
edges sized in bytes over per-link bandwidths and link latencies), with
random valid schedules:

1. :func:`hios_opt.evaluate` (every stage's and op's start and end), and
   ``simulate`` itself against a recursive reading of the rule written here
   from the contract's words (its own delays and stage latencies);
2. :class:`~hios_opt.timing.StageTimeline` (the intra-GPU pass): after
   construction, after each ``try_merge`` / ``commit`` of random merges, and
   after :func:`~hios_opt.heuristics.intra.sliding_window`;
3. :class:`~hios_opt.timing.PartialTimeline` (HIOS-LP's mapping): after
   every ``try_place`` on every GPU (with and without a bound) and every
   ``commit``, against ``simulate(..., partial=True)``;
4. the exact solvers' grid timeline (:func:`hios_opt.exact.grid.grid_timeline`):
   exact on integer data at 1 ms, within the grid's rounding on real data;
5. the A* search's transition (``_Search.children``), replaying a schedule
   in the evaluator's start order;
6. :meth:`~hios_opt.timing.EdgeDelays.ready_times` against ``ready_time``
   and against the contract's delays;
7. the LNS's evaluation of a plan (``_Search.time`` of ``_plan_of``).

Each test is split into chunks of seeds that each run in well under 2 s.
"""

from __future__ import annotations

import math
import random

import pytest

from hios_opt import OpGraph, Platform, Schedule, evaluate
from hios_opt.costs import default_model
from hios_opt.errors import DeadlockError
from hios_opt.exact import astar, lns
from hios_opt.exact.candidates import stage_candidates
from hios_opt.exact.grid import grid_data, grid_timeline
from hios_opt.heuristics.common import priority_order
from hios_opt.heuristics.intra import sliding_window
from hios_opt.timing import PartialTimeline, StageTimeline, edge_delays, simulate, stage_order

from .support.problems import integer_problem, layered_problem, random_problem
from .support.schedules import random_schedule

#: Relative tolerance of every comparison (absolute below 1 ms).
TOL = 1e-9
CHUNKS = 4
#: Seeds of the tiny problems (:func:`random_problem`) and of the layered ones.
TINY = range(240)
LAYERED = range(80)


def close(a: float, b: float) -> bool:
    return abs(a - b) <= TOL * max(1.0, abs(a), abs(b))


def assert_close(got: float, want: float, what: str) -> None:
    assert close(got, want), f"{what}: {got!r} != {want!r}"


def chunk_of(seeds: range, chunk: int) -> list[int]:
    return [s for s in seeds if s % CHUNKS == chunk]


def problems(chunk: int, *, layered: bool = True):
    """``(label, graph, platform, cost model)`` of one chunk."""
    for seed in chunk_of(TINY, chunk):
        yield f"random_problem({seed})", *random_problem(seed)
    if layered:
        for seed in chunk_of(LAYERED, chunk):
            yield f"layered_problem({seed})", *layered_problem(seed)


def stage_lists(graph: OpGraph, schedule: Schedule) -> tuple[list[int], list[list[int]]]:
    index = graph.id_index
    return [st.gpu for st in schedule.stages], [[index[op] for op in st.ops] for st in schedule.stages]


def contract_delay(graph: OpGraph, platform: Platform, e: int, a: int, b: int) -> float:
    """Edge ``e``'s delay from GPU ``a`` to ``b`` in the contract's words:
    0 on one GPU, its own ``comm_ms``, else its bytes (or its producer's
    output bytes) over the pair's link."""
    if a == b:
        return 0.0
    edge = graph.edges[e]
    if edge.comm_ms is not None:
        return edge.comm_ms
    nbytes = edge.bytes if edge.bytes is not None else graph.op(edge.src).output_bytes
    return platform.transfer_ms(nbytes, a, b)


def contract_times(graph: OpGraph, platform: Platform, stage_gpu: list[int], stage_ops: list[list[int]],
                   model) -> tuple[list[float], list[float]]:
    """Start and end of every stage by the start rule, read recursively: a
    stage starts at the latest of its GPU predecessor's end and of each
    input's producer end plus the edge's delay; it lasts ``L(stage)``."""
    cost = default_model(model)
    stage_of = {v: s for s, ops in enumerate(stage_ops) for v in ops}
    previous, last = [], {}
    for s, k in enumerate(stage_gpu):
        previous.append(last.get(k, -1))
        last[k] = s
    start: dict[int, float] = {}
    end: dict[int, float] = {}

    def end_of(s: int, visiting: frozenset) -> float:
        if s in end:
            return end[s]
        assert s not in visiting, "deadlock"
        visiting = visiting | {s}
        t = end_of(previous[s], visiting) if previous[s] >= 0 else 0.0
        for v in stage_ops[s]:
            for e in graph.in_edges[v]:
                u = graph.edge_src[e]
                su = stage_of[u]
                if su != s:
                    t = max(t, end_of(su, visiting) + contract_delay(graph, platform, e, stage_gpu[su], stage_gpu[s]))
        start[s] = t
        end[s] = t + cost.stage_latency(graph, list(stage_ops[s]))
        return end[s]

    for s in range(len(stage_ops)):
        end_of(s, frozenset())
    return [start[s] for s in range(len(stage_ops))], [end[s] for s in range(len(stage_ops))]


# ------------------------------------------------------------------ 1. evaluate
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_evaluate_and_simulate_follow_the_start_rule(chunk):
    checked = 0
    for label, graph, platform, model in problems(chunk):
        for k, merge in enumerate((0.0, 0.5, 1.0)):
            schedule = random_schedule(graph, platform, 31 * k + 7, merge)
            stage_gpu, stage_ops = stage_lists(graph, schedule)
            ref = simulate(graph, platform, stage_gpu, stage_ops, model)
            start, end = contract_times(graph, platform, stage_gpu, stage_ops, model)
            timeline = evaluate(graph, platform, schedule, model)
            assert_close(timeline.makespan, ref.makespan, f"{label} merge {merge}: evaluate's makespan")
            assert_close(ref.makespan, max(end), f"{label} merge {merge}: simulate's makespan vs the rule")
            for s, st in enumerate(timeline.stages):
                assert_close(ref.start[s], start[s], f"{label}: simulate's start of stage {s} vs the rule")
                assert_close(ref.end[s], end[s], f"{label}: simulate's end of stage {s} vs the rule")
                assert (st.gpu, st.ops) == (stage_gpu[s], schedule.stages[s].ops)
                assert_close(st.start, ref.start[s], f"{label}: evaluate's start of stage {s}")
                assert_close(st.end, ref.end[s], f"{label}: evaluate's end of stage {s}")
                for op in st.ops:
                    assert_close(timeline.op_start[op], ref.start[s], f"{label}: evaluate's start of op {op}")
                    assert_close(timeline.op_end[op], ref.end[s], f"{label}: evaluate's end of op {op}")
            checked += 1
    assert checked == 3 * (len(chunk_of(TINY, chunk)) + len(chunk_of(LAYERED, chunk)))


# ------------------------------------------------------------ 2. StageTimeline
def chains(tl: StageTimeline) -> list[list[int]]:
    """The live stages (timeline indices) of each GPU, in order."""
    out = []
    for k in range(tl.platform.gpus):
        stages, s = [], tl.first[k]
        while s >= 0:
            stages.append(s)
            s = tl.next[s]
        out.append(stages)
    return out


def check_stage_timeline(tl: StageTimeline, model, what: str) -> None:
    graph, platform = tl.graph, tl.platform
    live = [s for stages in chains(tl) for s in stages]
    assert sorted(v for s in live for v in tl.ops[s]) == list(range(graph.n_ops))
    per_gpu = tl.per_gpu()
    assert [[tl.ops[s] for s in stages] for stages in chains(tl)] == per_gpu
    ref = simulate(graph, platform, [tl.gpu[s] for s in live], [tl.ops[s] for s in live], model)
    for i, s in enumerate(live):
        assert_close(tl.end[s], ref.end[i], f"{what}: end of stage {tl.ops[s]}")
    assert_close(tl.makespan, ref.makespan, f"{what}: makespan")


def random_merge(tl: StageTimeline, rng: random.Random) -> tuple[int, list[int]] | None:
    """A stage ``a`` and later one-op stages of its GPU that may join it as
    ``try_merge`` requires (mutually independent ops, none related to an op
    it jumps over), or None."""
    graph = tl.graph
    gpus = [stages for stages in chains(tl) if len(stages) > 1]
    if not gpus:
        return None
    stages = rng.choice(gpus)
    i = rng.randrange(len(stages) - 1)
    a = stages[i]
    room = tl.platform.streams - len(tl.ops[a])
    busy = list(tl.ops[a])
    ys: list[int] = []
    for t in stages[i + 1:i + 1 + rng.randint(1, 4)]:
        ops = tl.ops[t]
        if len(ys) < room and len(ops) == 1 and not graph.related_to_any(ops[0], busy) and rng.random() < 0.7:
            ys.append(t)
        busy.extend(ops)
    return (a, ys) if ys else None


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_stage_timeline_matches_simulate(chunk):
    tried = deadlocks = windows = 0
    for label, graph, platform, model in problems(chunk):
        rng = random.Random(label)
        for merge in (0.0, 0.5):
            schedule = random_schedule(graph, platform, rng.randrange(10**6), merge)
            per_gpu = [[] for _ in range(platform.gpus)]
            for gpu, ops in zip(*stage_lists(graph, schedule)):
                per_gpu[gpu].append(ops)
            tl = StageTimeline(graph, platform, per_gpu, model)
            check_stage_timeline(tl, model, f"{label} built")
            for _ in range(20 if platform.streams > 1 else 0):
                move = random_merge(tl, rng)
                if move is None:
                    continue
                a, ys = move
                what = f"{label} merge {tl.ops[a]} + {[tl.ops[y] for y in ys]}"
                result = tl.try_merge(a, ys)
                # the schedule the merge would give, timed by the reference
                yset = set(ys)
                stages = [(s, tl.ops[a] + [tl.ops[y][0] for y in ys] if s == a else tl.ops[s])
                          for chain in chains(tl) for s in chain if s not in yset]
                try:
                    ref = simulate(graph, platform, [tl.gpu[s] for s, _ in stages], [ops for _, ops in stages],
                                   model)
                except DeadlockError:
                    assert result is None, f"{what}: try_merge times a merge that deadlocks"
                    deadlocks += 1
                    continue
                assert result is not None, f"{what}: try_merge calls a merge that runs a deadlock"
                makespan, change = result
                assert_close(makespan, ref.makespan, f"{what}: makespan")
                for i, (s, _) in enumerate(stages):
                    assert_close(change["end"][s], ref.end[i], f"{what}: end of stage {s}")
                tried += 1
                if rng.random() < 0.6:
                    tl.commit(makespan, change)
                    check_stage_timeline(tl, model, f"{what} committed")
            if platform.streams > 1:
                sliding_window(tl, rng.randint(2, platform.streams + 1))
                check_stage_timeline(tl, model, f"{label} after sliding_window")
                windows += 1
    assert tried > 150 and deadlocks > 5 and windows > 80, (tried, deadlocks, windows)


# ----------------------------------------------------------- 3. PartialTimeline
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_partial_timeline_matches_simulate(chunk):
    tries = cut = 0
    for label, graph, platform, _ in problems(chunk):
        rng = random.Random(label)
        order = priority_order(graph, platform)
        pos = {v: p for p, v in enumerate(order)}
        pt = PartialTimeline(graph, platform, order)
        gpu_of: dict[int, int] = {}
        unplaced = list(order)
        while unplaced:
            group = sorted(rng.sample(unplaced, min(len(unplaced), rng.randint(1, 4))), key=pos.__getitem__)
            results = []
            for k in range(platform.gpus):
                trial = {**gpu_of, **dict.fromkeys(group, k)}
                placed = sorted(trial, key=pos.__getitem__)
                ref = simulate(graph, platform, [trial[v] for v in placed], [[v] for v in placed], partial=True)
                what = f"{label}: {group} on GPU {k} after {len(gpu_of)} ops"
                makespan, finish = pt.try_place(group, k)
                assert_close(makespan, ref.makespan, f"{what}: makespan")
                for i, v in enumerate(placed):
                    assert_close(finish[v], ref.end[i], f"{what}: finish of op {v}")
                assert all(finish[v] == -math.inf for v in range(graph.n_ops) if v not in trial), what
                bound = ref.makespan * rng.choice([0.5, 0.99, 1.0, 1.01]) + rng.choice([0.0, 1e-3])
                bounded, bounded_finish = pt.try_place(group, k, bound)
                if bounded == math.inf:
                    assert ref.makespan >= bound, f"{what}: cut at bound {bound} below its makespan"
                    cut += 1
                else:
                    assert_close(bounded, ref.makespan, f"{what}, bound {bound}: makespan")
                    assert bounded_finish == finish
                results.append((makespan, k, finish))
                tries += 1
            makespan, k, finish = rng.choice(results) if rng.random() < 0.3 else min(results)
            pt.commit(group, k, makespan, finish)
            gpu_of.update(dict.fromkeys(group, k))
            unplaced = [v for v in unplaced if v not in gpu_of]
            assert pt.gpu_of == [gpu_of.get(v, -1) for v in range(graph.n_ops)]
    assert tries > 800 and cut > 300, (tries, cut)


# -------------------------------------------------------- 4. the exact solvers' grid
def grid_stages(graph: OpGraph, cands, schedule: Schedule) -> list[tuple[int, int]]:
    index = {ops: c for c, ops in enumerate(cands.ops)}
    stage_gpu, stage_ops = stage_lists(graph, schedule)
    return [(k, index[tuple(sorted(ops))]) for k, ops in zip(stage_gpu, stage_ops)]


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_grid_timeline_is_exact_on_integer_data(chunk):
    checked = 0
    for seed in chunk_of(TINY, chunk):
        graph, platform, model = integer_problem(seed)
        cands = stage_candidates(graph, platform.streams, model, prune=False)
        data = grid_data(graph, platform, cands, 1.0)
        assert data.exact, f"integer_problem({seed})"
        for merge in (0.3, 1.0):
            schedule = random_schedule(graph, platform, seed + 1, merge)
            stages = grid_stages(graph, cands, schedule)
            start = grid_timeline(graph, cands, data, stages)
            assert start is not None
            timeline = evaluate(graph, platform, schedule, model)
            for s, ((_, c), st) in enumerate(zip(stages, timeline.stages)):
                what = f"integer_problem({seed}), stage {s}"
                assert_close(start[s] * data.unit_ms, st.start, f"{what}: grid start")
                assert_close((start[s] + data.dur[c]) * data.unit_ms, st.end, f"{what}: grid end")
            checked += 1
    assert checked == 2 * len(chunk_of(TINY, chunk))


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_grid_timeline_rounds_real_data_down(chunk):
    checked = bounded = 0
    cases = [(f"random_problem({seed})", random_problem(seed)) for seed in chunk_of(TINY, chunk)]
    cases += [(f"layered_problem({seed}, 14)", layered_problem(seed, 14)) for seed in chunk_of(LAYERED, chunk)]
    for label, (graph, platform, model) in cases:
        rng = random.Random(label)
        r = rng.choice([0.5, 0.1, 0.013, 1e-3])
        cands = stage_candidates(graph, platform.streams, model, prune=False)
        data = grid_data(graph, platform, cands, r)
        sequential = math.fsum(graph.latency)
        for merge in (0.3, 1.0):
            schedule = random_schedule(graph, platform, rng.randrange(10**6), merge)
            stages = grid_stages(graph, cands, schedule)
            start = grid_timeline(graph, cands, data, stages)
            assert start is not None
            timeline = evaluate(graph, platform, schedule, model)
            # Grid times are maxima of sums of rounded-down values: never
            # later than the real ones, and less than one tick early per
            # stage and per delay of the chain that sets them. A duration
            # or delay longer than the sequential makespan is cut to the
            # grid's horizon, so the lower side holds for schedules that use
            # no such value.
            slack = 2 * graph.n_ops * r
            used = [st.latency for st in timeline.stages] + [t.end - t.start for t in timeline.transfers]
            within = max(used) <= sequential
            for s, ((_, c), st) in enumerate(zip(stages, timeline.stages)):
                what = f"{label} at {r} ms, stage {s}"
                grid_start, grid_end = start[s] * data.unit_ms, (start[s] + data.dur[c]) * data.unit_ms
                assert grid_start <= st.start + TOL * max(1.0, st.start), f"{what}: {grid_start} > {st.start}"
                assert grid_end <= st.end + TOL * max(1.0, st.end), f"{what}: {grid_end} > {st.end}"
                if within:
                    assert grid_start > st.start - slack, f"{what}: {grid_start} <= {st.start} - {slack}"
                    assert grid_end > st.end - slack, f"{what}: {grid_end} <= {st.end} - {slack}"
            bounded += within
            checked += 1
    assert checked == 2 * len(cases) and bounded > len(cases), (checked, bounded)


# ------------------------------------------------------------------ 5. A* search
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_astar_transition_gives_the_evaluators_starts(chunk):
    replayed = 0
    for seed in chunk_of(TINY, chunk):
        for label, (graph, platform, model) in ((f"random_problem({seed})", random_problem(seed)),
                                                (f"integer_problem({seed})", integer_problem(seed))):
            cands = stage_candidates(graph, platform.streams, model, prune=False)
            cand_of = {ops: c for c, ops in enumerate(cands.ops)}
            search = astar._Search(graph, platform, cands, math.inf, math.inf, 10**9)
            search.fill = False  # gap filling may cut a path that is not optimal
            search.begin()
            schedule = random_schedule(graph, platform, seed + 3, 0.7)
            stage_gpu, stage_ops = stage_lists(graph, schedule)
            timeline = evaluate(graph, platform, schedule, model)
            start = [st.start for st in timeline.stages]
            # the evaluator's start order, producers first on ties
            order = stage_order(graph, stage_gpu, stage_ops, key=lambda s: (start[s], s))
            assert all(start[a] <= start[b] for a, b in zip(order, order[1:]))
            label_of: dict[int, int] = {}
            for s in order:  # the search opens the lowest unused GPU when GPUs are interchangeable
                label_of.setdefault(stage_gpu[s], len(label_of) if search.interchangeable else stage_gpu[s])
            state = search.root
            for s in order:
                move = (label_of[stage_gpu[s]], cand_of[tuple(sorted(stage_ops[s]))])
                kids = search.children(state)
                assert kids is not None
                found = [kid for _, kid, _ in kids if kid[9] == move]
                assert len(found) == 1, f"{label}: stage {s} {move} is not a child"
                state = found[0]
                assert_close(state[1], start[s], f"{label}: A* start of stage {s} ({stage_ops[s]})")
                assert_close(state[2][move[0]], timeline.stages[s].end, f"{label}: A* end of stage {s}")
            assert state[0] == search.full
            assert_close(state[3], timeline.makespan, f"{label}: A* makespan")
            replayed += 1
    assert replayed == 2 * len(chunk_of(TINY, chunk))


# ------------------------------------------------------------ 6. EdgeDelays
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_ready_times_equal_ready_time_on_every_gpu(chunk):
    checked = 0
    for label, graph, platform, _ in problems(chunk):
        rng = random.Random(label)
        delays = edge_delays(graph, platform)
        for _ in range(3):
            finish = [rng.choice([0.0, 1.0, rng.uniform(0.0, 10.0)]) for _ in range(graph.n_ops)]
            gpu_of = [rng.randrange(-1, platform.gpus) for _ in range(graph.n_ops)]
            for v in range(graph.n_ops):
                in_edges = graph.in_edges[v]
                ready = delays.ready_times(in_edges, graph.edge_src, finish, gpu_of)
                assert len(ready) == platform.gpus
                for k in range(platform.gpus):
                    one = delays.ready_time(in_edges, graph.edge_src, finish, gpu_of, k)
                    want = max((finish[graph.edge_src[e]]
                                + contract_delay(graph, platform, e, gpu_of[graph.edge_src[e]], k)
                                for e in in_edges if gpu_of[graph.edge_src[e]] >= 0), default=0.0)
                    assert_close(ready[k], one, f"{label}: ready_times of op {v} on GPU {k}")
                    assert_close(one, want, f"{label}: ready_time of op {v} on GPU {k} vs the contract")
                    checked += 1
    assert checked > 5000, checked


# ------------------------------------------------------------------- 7. the LNS
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_lns_times_a_plan_as_evaluate_does(chunk):
    checked = 0
    for label, graph, platform, model in problems(chunk):
        search = lns._Search(graph, platform, model, random.Random(0))
        for merge in (0.0, 0.6):
            schedule = random_schedule(graph, platform, len(label) + checked, merge)
            timed = search.time(lns._plan_of(graph, platform, schedule))
            assert timed is not None
            timeline = evaluate(graph, platform, schedule, model)
            assert_close(timed.makespan, timeline.makespan, f"{label}: LNS makespan")
            for s, ops in enumerate(timed.stage_ops):
                for v in ops:
                    op = graph.ids[v]
                    assert timeline.op_gpu[op] == timed.stage_gpu[s]
                    assert_close(timed.start[s], timeline.op_start[op], f"{label}: LNS start of op {op}")
                    assert_close(timed.end[s], timeline.op_end[op], f"{label}: LNS end of op {op}")
            checked += 1
    assert checked == 2 * (len(chunk_of(TINY, chunk)) + len(chunk_of(LAYERED, chunk)))
