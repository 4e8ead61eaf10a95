"""The intra-GPU sliding window: hand-checked merges, the incremental
timeline against the evaluator, deadlock detection, inputs."""

from __future__ import annotations

import math
import random

import pytest

from hios_opt import Edge, Op, OpGraph, Platform, Schedule, Stage, evaluate, generators, simulate
from hios_opt.costs import AnalyticModel
from hios_opt.errors import CoverageError, DeadlockError, GpuIndexError, OptionError, ScheduleError
from hios_opt.heuristics import heft, sequential
from hios_opt.heuristics.intra import intra_gpu
from hios_opt.timing import StageTimeline

from .support.graphs import small_random_graph
from .support.schedules import random_schedule


def test_wide_layer_merges_pairs():
    # src(0.5) -> w0..w3 (1 ms, u = 0.5) -> dst(0.5) on one GPU with two streams.
    # A pair lasts 0.5*2 + 0.5*max(0.5*2, 1) = 1.5 instead of 2: two pairs save 1 ms.
    g = generators.wide_layer(width=4)
    s = intra_gpu(g, Platform(gpus=1, streams=2), dict.fromkeys(g.ids, 0))
    assert [len(st.ops) for st in s.stages] == [1, 2, 2, 1]
    assert s.makespan_ms == 0.5 + 1.5 + 1.5 + 0.5
    assert s.meta["merges"] == 2


def test_a_merge_that_would_grow_the_makespan_is_refused():
    # GPU 0 runs a(1), t(5), y(1); GPU 1 runs s(3); edges a -> t and s -> y (0.5 ms).
    # As given: a 0-1, t 1-6, y at max(6, 3 + 0.5) = 6, ends 7.
    # The window at t holds {t, y} (independent), but the merged stage must wait
    # for y's input until 3.5 and lasts 0.5*6 + 0.5*max(6, 5) = 6: it would end
    # at 9.5 > 7, so the merge is refused. (The window at a holds {a, t}: dependent.)
    ops = [Op("a", 1.0), Op("t", 5.0), Op("y", 1.0), Op("s", 3.0)]
    g = OpGraph(ops, [Edge("a", "t", 0.5), Edge("s", "y", 0.5)], name="late-input")
    p = Platform(gpus=2, streams=2)
    base = Schedule.from_gpu_lists([["a", "t", "y"], ["s"]], streams=2)
    s = intra_gpu(g, p, base)
    assert s.meta["merges"] == 0
    assert s.makespan_ms == 7.0


def test_measured_group_latencies_decide():
    # Diamond on one GPU with two streams; b and c measured together.
    # 10 ms together (worse than 2 + 3 apart): refused, 1 + 2 + 3 + 1 = 7.
    # 3 ms together: kept, 1 + 3 + 1 = 5.
    p = Platform(gpus=1, streams=2)
    mapping = dict.fromkeys("abcd", 0)
    slow = generators.diamond().with_costs(stage_latency_ms={frozenset({"b", "c"}): 10.0})
    assert intra_gpu(slow, p, mapping).makespan_ms == 7.0
    fast = generators.diamond().with_costs(stage_latency_ms={frozenset({"b", "c"}): 3.0})
    s = intra_gpu(fast, p, mapping)
    assert s.makespan_ms == 5.0 and s.meta["merges"] == 1


def test_window_one_changes_nothing_and_window_checks():
    g = generators.wide_layer(width=4)
    p = Platform(gpus=1, streams=3)
    s = intra_gpu(g, p, dict.fromkeys(g.ids, 0), window=1)
    assert all(len(st.ops) == 1 for st in s.stages)
    three = intra_gpu(g, p, dict.fromkeys(g.ids, 0), window=3)
    assert max(len(st.ops) for st in three.stages) == 3
    with pytest.raises(OptionError, match="larger than the 3 stream"):
        intra_gpu(g, p, dict.fromkeys(g.ids, 0), window=4)


def test_existing_stages_are_kept_and_never_made_slower():
    rng = random.Random(2)
    for _ in range(40):
        g = small_random_graph(rng)
        p = Platform(gpus=rng.randint(1, 3), streams=rng.randint(1, 3))
        base = random_schedule(g, p, rng.randrange(10**6))
        before = evaluate(g, p, base).makespan
        after = intra_gpu(g, p, base)
        assert after.makespan_ms == evaluate(g, p, after).makespan
        assert after.makespan_ms <= before + 1e-9 * max(1.0, before)
        assert after.algorithm == "random"


def test_usable_after_heft_and_sequential():
    g = generators.random_layered(60, 120, 6, ccr=0.3, seed=4)
    p = Platform(gpus=3, streams=2)
    for base in (heft(g, p), sequential(g, p)):
        improved = intra_gpu(g, p, base)
        assert improved.makespan_ms <= base.makespan_ms
        assert improved.placement == base.placement


def _independent_of(graph: OpGraph, v: int, mask: int) -> bool:
    return not (graph.descendants_bits[v] & mask or graph.ancestors_bits[v] & mask)


def test_stage_timeline_predicts_every_merge_and_every_deadlock():
    # Random valid schedules (random order per GPU, so merges often pull an op
    # ahead of its producer's stage in the timeline's order) and random
    # candidate merges: the prediction must equal a fresh simulation, and
    # None exactly when the simulation deadlocks.
    rng = random.Random(17)
    checked = deadlocks = resorts = 0
    for _ in range(120):
        g = small_random_graph(rng, max_ops=25)
        p = Platform(gpus=rng.randint(1, 4), streams=rng.randint(2, 3))
        model = AnalyticModel(rng.random())
        base = random_schedule(g, p, rng.randrange(10**6), merge_probability=0.2)
        per_gpu = [[[g.index(op) for op in st.ops] for st in base.gpu_stages(k)] for k in range(p.gpus)]
        tl = StageTimeline(g, p, per_gpu, model)
        assert math.isclose(tl.makespan, evaluate(g, p, base, model).makespan, abs_tol=1e-9)
        for _ in range(15):
            k = rng.randrange(p.gpus)
            chain = []
            s = tl.first[k]
            while s >= 0:
                chain.append(s)
                s = tl.next[s]
            if len(chain) < 2:
                continue
            i = rng.randrange(len(chain) - 1)
            a = chain[i]
            if len(tl.ops[a]) >= p.streams:
                continue
            mask = sum(1 << v for v in tl.ops[a])
            jumped = 0
            ys = []
            for t in chain[i + 1:]:
                if len(tl.ops[t]) == 1 and len(tl.ops[a]) + len(ys) < p.streams and rng.random() < 0.5:
                    v = tl.ops[t][0]
                    if _independent_of(g, v, mask | jumped):
                        ys.append(t)
                        mask |= 1 << v
                        continue
                jumped |= sum(1 << v for v in tl.ops[t])
                if rng.random() < 0.3:
                    break
            if not ys:
                continue
            resorts += any(tl.key[tl.stage_of[u]] > tl.key[a] for y in ys for u in g.pred[tl.ops[y][0]])
            per = tl.per_gpu()
            moved = [tl.ops[y][0] for y in ys]
            stage_list = per[k]
            pos = chain.index(a)
            stage_list[pos] = stage_list[pos] + moved
            for y in sorted((chain.index(y) for y in ys), reverse=True):
                del stage_list[y]
            gpus = [q for q in range(p.gpus) for _ in per[q]]
            stages = [st for q in range(p.gpus) for st in per[q]]
            result = tl.try_merge(a, ys)
            try:
                expected = simulate(g, p, gpus, stages, model).makespan
            except DeadlockError:
                expected = None
            checked += 1
            if expected is None:
                deadlocks += 1
                assert result is None
                continue
            assert result is not None
            assert math.isclose(result[0], expected, abs_tol=1e-9)
            if rng.random() < 0.5:
                tl.commit(*result)
                assert tl.per_gpu() == per
                sim = simulate(g, p, gpus, stages, model)
                assert math.isclose(tl.makespan, sim.makespan, abs_tol=1e-9)
    assert checked > 300 and deadlocks > 0 and resorts > deadlocks


def test_bad_inputs():
    g = generators.diamond()
    p = Platform(gpus=2, streams=2)
    with pytest.raises(CoverageError, match="without a GPU"):
        intra_gpu(g, p, {"a": 0, "b": 0})
    with pytest.raises(GpuIndexError, match="op 'a' is mapped to GPU 5"):
        intra_gpu(g, p, {"a": 5, "b": 0, "c": 0, "d": 0})
    with pytest.raises(ScheduleError, match="expected a Schedule or a mapping"):
        intra_gpu(g, p, [0, 0, 0, 0])
    broken = Schedule([Stage(0, ("a",)), Stage(0, ("b", "c"))], streams=2)
    with pytest.raises(CoverageError):
        intra_gpu(g, p, broken)
