"""Reachability in linear memory: the ReachIndex agrees with the bitsets, and
large graphs are evaluated and scheduled without the n^2 bitsets."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hios_opt.graph as graph_module
from hios_opt import Edge, Op, OpGraph, Platform, Schedule, Stage, evaluate, generators
from hios_opt.errors import CoverageError, DeadlockError, DependentStageError, GpuIndexError
from hios_opt.heuristics import schedule
from hios_opt.reach import ReachIndex

# Above REACH_BITS_MAX_OPS (4096): the graph answers from the ReachIndex.
LARGE_OPS = 5000


@st.composite
def dags(draw, max_ops: int = 40):
    """A random DAG whose op indices are a shuffled topological order."""
    n = draw(st.integers(1, max_ops))
    order = draw(st.permutations(range(n)))
    density = draw(st.floats(0.0, 0.5))
    rng = random.Random(draw(st.integers(0, 2**32)))
    edges = [(order[i], order[j]) for i in range(n) for j in range(i + 1, n) if rng.random() < density]
    ops = [Op(f"v{i}", 1.0) for i in range(n)]
    return ops, [Edge(f"v{u}", f"v{v}") for u, v in edges]


def _pair(ops, edges) -> tuple[OpGraph, OpGraph]:
    return OpGraph(ops, edges), OpGraph(ops, edges)


@given(dags())
def test_reach_index_agrees_with_bitsets(dag):
    bits_graph, _ = _pair(*dag)
    desc = bits_graph.descendants_bits
    index = ReachIndex(bits_graph.succ, bits_graph.topo, bits_graph.topo_position)
    n = bits_graph.n_ops
    for u in range(n):
        for v in range(n):
            assert index.reaches(u, v) == bool((desc[u] >> v) & 1), (u, v)


@given(dags(), st.data())
def test_graph_queries_agree_above_and_below_the_threshold(dag, data):
    small, large = _pair(*dag)
    n = small.n_ops
    subsets = [data.draw(st.lists(st.integers(0, n - 1), max_size=12)) for _ in range(4)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(graph_module, "REACH_BITS_MAX_OPS", 0)
        answers = (
            [large.reaches(u, v) for u in range(n) for v in range(n)],
            [large.depends(u, v) for u in range(n) for v in range(n)],
            [large.independent(s) for s in subsets],
            [large.dependent_pair(s) for s in subsets],
            [large.related_to_any(v, s) for v in range(n) for s in subsets],
        )
        assert "descendants_bits" not in large.__dict__ and "ancestors_bits" not in large.__dict__
    assert answers == (
        [small.reaches(u, v) for u in range(n) for v in range(n)],
        [small.depends(u, v) for u in range(n) for v in range(n)],
        [small.independent(s) for s in subsets],
        [small.dependent_pair(s) for s in subsets],
        [small.related_to_any(v, s) for v in range(n) for s in subsets],
    )


@pytest.mark.parametrize("seed", range(3))
def test_layered_graph_queries_agree(seed, monkeypatch):
    g = generators.random_layered(600, 1500, 30, seed=seed)
    desc = OpGraph(g.ops, g.edges).descendants_bits
    monkeypatch.setattr(graph_module, "REACH_BITS_MAX_OPS", 0)
    rng = random.Random(seed)
    for _ in range(3000):
        u, v = rng.randrange(g.n_ops), rng.randrange(g.n_ops)
        assert g.reaches(u, v) == bool((desc[u] >> v) & 1)
    for size in (2, 5, 9, 40, 200):  # pairwise up to 8 ops, one search above
        for _ in range(20):
            ops = rng.sample(range(g.n_ops), size)
            assert g.independent(ops) == all(not (desc[a] >> b) & 1 for a in ops for b in ops)
    assert "descendants_bits" not in g.__dict__


def test_reach_index_memory_is_linear():
    g = generators.random_layered(2000, 4000, 40, seed=0)
    assert g.reach_index.nbytes() == 6 * 4 * g.n_ops


def test_heuristics_give_the_same_schedules_without_bitsets(monkeypatch):
    g = generators.random_layered(300, 700, 12, seed=5)
    platform = Platform(gpus=3, streams=3)
    with_bits = {name: schedule(g, platform, name, window=3).to_dict() for name in ("hios-lp", "hios-mr")}
    monkeypatch.setattr(graph_module, "REACH_BITS_MAX_OPS", 0)
    fresh = OpGraph(g.ops, g.edges, name=g.name)
    without = {name: schedule(fresh, platform, name, window=3).to_dict() for name in ("hios-lp", "hios-mr")}
    assert "descendants_bits" not in fresh.__dict__
    assert without == with_bits


@pytest.fixture
def no_bitsets(monkeypatch):
    """Make any use of the n^2 bitsets fail."""

    def refuse(self):
        raise AssertionError("the n^2 reachability bitsets were computed")

    monkeypatch.setattr(OpGraph, "descendants_bits", property(refuse))
    monkeypatch.setattr(OpGraph, "ancestors_bits", property(refuse))


@pytest.fixture(scope="module")
def large_graph():
    return generators.random_layered(LARGE_OPS, 2 * LARGE_OPS, LARGE_OPS // 50, 0.5, seed=0)


@pytest.mark.slow
def test_large_graph_is_evaluated_and_scheduled_without_bitsets(large_graph, no_bitsets):
    assert large_graph.n_ops > graph_module.REACH_BITS_MAX_OPS
    seq = Schedule.sequential(large_graph.topological_order())
    assert evaluate(large_graph, Platform(), seq).makespan == pytest.approx(large_graph.total_latency_ms)
    platform = Platform(gpus=4, streams=2)
    for name in ("sequential", "heft", "hios-mr", "hios-lp"):
        result = schedule(large_graph, platform, name)
        assert evaluate(large_graph, platform, result).makespan == result.makespan_ms
    assert "descendants_bits" not in large_graph.__dict__


# ------------------------------------------------- evaluator: dependent stages
def _indirect() -> OpGraph:
    # a -> x -> b: a and b are joined only through x; c is free.
    return OpGraph([Op("a", 1.0), Op("x", 1.0), Op("b", 1.0), Op("c", 1.0)],
                   [Edge("a", "x"), Edge("x", "b")], name="indirect")


@pytest.mark.parametrize("threshold", [4096, 0])
@pytest.mark.parametrize("order", [("a", "b"), ("b", "a")])
def test_indirect_path_in_a_stage_is_named(threshold, order, monkeypatch):
    monkeypatch.setattr(graph_module, "REACH_BITS_MAX_OPS", threshold)
    g = _indirect()
    stages = [Stage(0, order), Stage(1, ("x",)), Stage(1, ("c",))]
    with pytest.raises(DependentStageError, match=r"^stage #0 on GPU 0: ops 'a' and 'b' depend on each other"):
        evaluate(g, Platform(gpus=2, streams=2), Schedule(stages))
    assert threshold or "descendants_bits" not in g.__dict__


@pytest.mark.parametrize("later_fault", ["unknown", "gpu", "missing", "twice"])
def test_dependent_stage_is_reported_before_later_faults(later_fault, monkeypatch):
    # As a stage-by-stage check would: the first fault in schedule order wins.
    monkeypatch.setattr(graph_module, "REACH_BITS_MAX_OPS", 0)
    g = _indirect()
    stages = [Stage(0, ("a", "b")), Stage(0, ("x",)), Stage(0, ("c",))]
    if later_fault == "unknown":
        stages.append(Stage(0, ("nope",)))
    elif later_fault == "gpu":
        stages.append(Stage(7, ("c",)))
    elif later_fault == "missing":
        stages.pop()
    else:
        stages.append(Stage(0, ("x",)))
    with pytest.raises(DependentStageError, match="'a' and 'b'"):
        evaluate(g, Platform(gpus=1, streams=2), Schedule(stages))
    # Without the dependent stage, the later fault is the error.
    stages[0:1] = [Stage(0, ("a",)), Stage(0, ("b",))]
    expected = GpuIndexError if later_fault == "gpu" else CoverageError
    with pytest.raises(expected):
        evaluate(g, Platform(gpus=1, streams=2), Schedule(stages))


def test_deadlock_without_dependent_stage_is_a_deadlock(monkeypatch):
    monkeypatch.setattr(graph_module, "REACH_BITS_MAX_OPS", 0)
    g = _indirect()
    stages = [Stage(0, ("b", "c")), Stage(0, ("a",)), Stage(0, ("x",))]
    with pytest.raises(DeadlockError, match="deadlock: the stage order contradicts the dependencies"):
        evaluate(g, Platform(gpus=1, streams=2), Schedule(stages))


def test_first_dependent_pair_in_stage_order_is_named(monkeypatch):
    monkeypatch.setattr(graph_module, "REACH_BITS_MAX_OPS", 0)
    # a -> b directly, c -> y -> d indirectly; the stage lists d, c, b, a.
    g = OpGraph([Op(i, 1.0) for i in "abcdy"], [Edge("a", "b"), Edge("c", "y"), Edge("y", "d")])
    stages = [Stage(0, ("d", "c", "b", "a")), Stage(0, ("y",))]
    with pytest.raises(DependentStageError, match="ops 'c' and 'd'"):
        evaluate(g, Platform(gpus=1, streams=4), Schedule(stages))


def test_indirect_pair_on_a_large_graph(large_graph, no_bitsets):
    g = large_graph
    # Two ops two edges apart with no edge between them.
    u, v = next((u, v) for u in g.topo for w in g.succ[u] for v in g.succ[w] if v not in g.succ[u])
    order = [w for w in g.topo if w != v]
    order.insert(order.index(u) + 1, v)  # v right after u (in one stage)
    stages = []
    for w in order:
        if w == v:
            continue
        stages.append(Stage(0, (g.ids[u], g.ids[v]) if w == u else (g.ids[w],)))
    with pytest.raises(DependentStageError, match=f"ops {g.ids[u]!r} and {g.ids[v]!r} depend on each other"):
        evaluate(g, Platform(gpus=1, streams=2), Schedule(stages))
