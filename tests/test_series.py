"""Series decomposition (hios_opt.bounds.series, hios_opt.exact.series): the
series points are exactly the ops on every path, the pieces
between them give bounds that never exceed a proven optimum, and the
schedule glued from optimal pieces is optimal."""

from __future__ import annotations

import itertools
import random

import pytest

import hios_opt as ho
from hios_opt import Edge, Op, OpGraph, Platform, evaluate
from hios_opt.bounds import best_bound, induced_subgraph, series_bound, series_points, series_segments
from hios_opt.costs import AnalyticModel
from hios_opt.exact.brute import brute_force
from hios_opt.exact.series import PieceResult, exact_series_bound

from .support.graphs import small_random_graph
from .support.problems import random_platform

TOL = 1e-9


def on_every_path(graph: OpGraph) -> list[int]:
    """The definition, by reachability: ``v`` reaches or is reached by every
    op, and no edge leads from one of its ancestors to one of its descendants."""
    def before(u: int, v: int) -> bool:
        return u == v or graph.reaches(u, v)

    return [v for v in range(graph.n_ops)
            if all(before(u, v) or before(v, u) for u in range(graph.n_ops))
            and not any(graph.reaches(a, v) and graph.reaches(v, b) for a, b in zip(graph.edge_src, graph.edge_dst))]


def series_problem(seed: int, max_ops: int = 8) -> tuple[OpGraph, Platform, AnalyticModel | None]:
    """Blocks of 1-3 ops joined in series by single ops (at most ``max_ops``
    ops in all), with the awkward data of real profiles: zero latencies,
    measured groups, delays by bytes over a link matrix, other contention
    models, 1-3 GPUs, 1-3 streams."""
    rnd = random.Random(seed)
    names: list[str] = []
    edges: list[tuple[str, str]] = []
    joint = "c0"
    names.append(joint)
    while len(names) < max_ops - 1:
        size = rnd.randint(1, min(3, max_ops - 1 - len(names)))
        block = [f"b{len(names) + k}" for k in range(size)]
        names.extend(block)
        for k, v in enumerate(block):
            inner = [u for u in block[:k] if rnd.random() < 0.4]
            edges.extend((u, v) for u in inner)
            if not inner:
                edges.append((joint, v))
        nxt = f"c{len(names)}"
        names.append(nxt)
        users = {u for u, _ in edges}
        edges.extend((v, nxt) for v in block if v not in users)
        joint = nxt
    latency = {v: rnd.choice([0.0, 0.5, 1.0, 2.0, rnd.uniform(0.1, 5.0)]) for v in names}
    ops = [Op(v, latency[v], utilization=rnd.choice([1.0, 0.5, rnd.uniform(0.05, 1.0)]),
              output_bytes=rnd.randint(1, 4) * 1_000_000) for v in names]
    by_bytes = rnd.random() < 0.4
    edge_list = [Edge(u, v) if by_bytes else Edge(u, v, comm_ms=rnd.choice([0.0, 0.3, 1.0, rnd.uniform(0, 4)]))
                 for u, v in edges]
    plain = OpGraph(ops, edge_list)
    table = {}
    for group in itertools.combinations(names, 2):
        if plain.independent([plain.index(v) for v in group]) and rnd.random() < 0.5:
            table[frozenset(group)] = rnd.choice([max(latency[v] for v in group) * rnd.uniform(0.5, 1.0),
                                                  sum(latency[v] for v in group) * rnd.uniform(0.5, 1.2)])
    graph = OpGraph(ops, edge_list, stage_latency_ms=table, name=f"series{seed}")
    platform = random_platform(rnd, rnd.choice([1, 2, 2, 3]), rnd.choice([1, 2, 2, 3]), by_bytes, 0.5)
    model = AnalyticModel(alpha=rnd.choice([0.0, 0.25, 1.0])) if rnd.random() < 0.3 else None
    return graph, platform, model


def test_series_points_are_the_ops_on_every_path():
    rng = random.Random(5)
    graphs = [small_random_graph(rng) for _ in range(150)] + [series_problem(s)[0] for s in range(150)]
    graphs += [ho.OpGraph.load("models/inception_v3_331_h100.json"), ho.generators.named("chain")]
    found = 0
    for g in graphs:
        points = series_points(g)
        assert sorted(points) == on_every_path(g), g.name
        assert list(points) == sorted(points, key=lambda v: g.topo_position[v])
        found += len(points) > 1
    assert found > 150


def test_pieces_cover_the_graph_and_share_only_their_series_points():
    for seed in range(200):
        g = series_problem(seed, max_ops=12)[0]
        points = series_points(g)
        pieces = series_segments(g, points)
        assert len(pieces) == len(points) + 1
        for left, right in zip(pieces, pieces[1:]):
            assert left[-1] == right[0] and left[-1] in points
        inner = [v for piece in pieces for v in piece if v not in points]
        assert sorted(inner) == sorted(set(range(g.n_ops)) - set(points))  # each op once
        for piece in pieces:  # a piece's ops descend from its first op and lead to its last
            assert all(g.reaches(piece[0], v) or v == piece[0] for v in piece)
            assert all(g.reaches(v, piece[-1]) or v == piece[-1] for v in piece)


def test_induced_subgraph_keeps_the_edges_and_measured_groups_inside():
    g = ho.generators.named("inception-block")
    keep = [v for v in range(g.n_ops) if v != g.topo[-1]]
    table = {frozenset((g.ids[a], g.ids[b])): 0.123 for a, b in itertools.combinations(keep, 2)
             if g.independent([a, b])}
    g = OpGraph(g.ops, g.edges, stage_latency_ms=table, name="block")
    sub = induced_subgraph(g, keep)
    assert sub.ids == tuple(g.ids[v] for v in sorted(keep))
    assert {(e.src, e.dst) for e in sub.edges} == {(e.src, e.dst) for e in g.edges if e.dst != g.ids[g.topo[-1]]}
    assert len(sub.stage_table) == len(table) > 0


@pytest.mark.parametrize("chunk", range(4))
def test_series_bounds_never_exceed_the_optimum_and_optimal_pieces_glue_into_an_optimum(chunk):
    # 400 brute-forced problems of up to 8 ops in series (100 per chunk).
    gained = glued_optimal = 0
    for seed in range(100 * chunk, 100 * (chunk + 1)):
        graph, platform, model = series_problem(seed)
        optimum = brute_force(graph, platform, model, max_ops=8).makespan_ms
        tol = TOL * max(1.0, optimum)
        static = best_bound(graph, platform, model)
        assert static.value_ms <= optimum + tol, (seed, static.parts)

        def solve_piece(sub: OpGraph, seconds, platform=platform, model=model):
            best = brute_force(sub, platform, model, max_ops=8)
            return PieceResult(best.makespan_ms, True, best)

        bound, glued, stats = exact_series_bound(graph, platform, model, budget_s=60, solve_piece=solve_piece)
        if bound is None:
            assert stats["pieces"] < 2
            continue
        assert bound <= optimum + tol, (seed, bound, optimum)
        span = evaluate(graph, platform, glued, model).makespan  # a valid schedule of the whole graph
        assert span >= optimum - tol
        if platform.bandwidth_matrix_gbps is None:  # relabelling GPUs changes no delay
            assert span == pytest.approx(optimum, abs=tol) and bound == pytest.approx(optimum, abs=tol), seed
            glued_optimal += 1
        gained += bound > static.value_ms + tol
    assert gained > 0 and glued_optimal > 10, (gained, glued_optimal)


def test_series_bound_sums_the_pieces():
    # a -> (b | c) -> d -> (e | f) -> g, unit ops, one GPU: every bound is the work
    g = OpGraph([Op(v, 1.0) for v in "abcdefg"],
                [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e"), ("d", "f"), ("e", "g"), ("f", "g")])
    assert [g.ids[v] for v in series_points(g)] == ["a", "d", "g"]
    pieces = series_segments(g)
    assert [[g.ids[v] for v in p] for p in pieces] == [["a"], ["a", "b", "c", "d"], ["d", "e", "f", "g"], ["g"]]
    # pieces 1 + 4 + 4 + 1, minus the series points counted twice (a, d, g): 7
    assert series_bound(g, None, lambda sub: float(sub.n_ops)) == 7.0


@pytest.mark.parametrize("solver", ["portfolio", "lns"])
def test_solve_proves_inception_through_its_pieces(solver):
    # Inception-v3's 124 ops fall into 11 pieces of at most 14 between its
    # concatenations: the pieces' optima add up to a bound that the glued
    # schedule meets (the A* search alone proves the same optimum in about 20 s).
    g = ho.OpGraph.load("models/inception_v3_331_h100.json")
    r = ho.solve(g, Platform(gpus=2, streams=2), solver, time_limit=60, workers=2)
    assert r.status == "optimal" and r.stats["proved_by"] == "series"
    assert r.stats["series"]["pieces"] == 11 and r.stats["series"]["proven"] == 11
    assert r.makespan_ms == pytest.approx(0.4246051180, rel=1e-6)
    assert r.makespan_ms - r.lower_bound_ms <= r.tolerance_ms
    assert evaluate(g, Platform(gpus=2, streams=2), r.schedule).makespan == r.makespan_ms


def test_graphs_without_pieces_skip_the_series_bound():
    # One source and one sink are the only series points: a single piece, nothing to gain.
    g = ho.generators.random_layered(40, 80, 6, 0.5, seed=3)
    p = Platform(gpus=2, streams=2)
    assert [len(piece) for piece in series_segments(g)] == [1, 40, 1]
    assert best_bound(g, p).skipped["series"] == "fewer than two pieces between series points"
    r = ho.solve(g, p, "lns", time_limit=2, workers=1)
    assert r.stats["series"]["skipped"] == "fewer than two pieces between series points"
