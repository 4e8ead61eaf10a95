"""CP-SAT == MILP == A* == portfolio == brute force on tiny instances, and hand-solved optima."""

from __future__ import annotations

import pytest

from hios_opt import Op, OpGraph, Platform, evaluate, generators
from hios_opt.exact import solve
from hios_opt.exact.brute import brute_force

from .support.graphs import TINY_CASES, tiny


def check(graph: OpGraph, platform: Platform, expected: float, solver: str, **kwargs) -> None:
    """``solver`` proves ``expected`` optimal: its schedule is no longer than
    ``expected`` plus the stated tolerance (the time grid's rounding for
    CP-SAT), and its bound is no higher than ``expected``."""
    r = solve(graph, platform, solver, time_limit=30, workers=1, **kwargs)
    assert r.status == "optimal", (solver, r)
    assert expected - 1e-9 <= r.makespan_ms <= expected + r.tolerance_ms, (solver, r, expected)
    assert r.lower_bound_ms <= expected + 1e-9 * max(1.0, expected), (solver, r, expected)
    assert r.tolerance_ms < 1e-3 * max(1.0, expected)
    assert evaluate(graph, platform, r.schedule).makespan == pytest.approx(r.makespan_ms, abs=1e-12)
    assert r.schedule.status == "optimal" and r.schedule.lower_bound_ms == r.lower_bound_ms


@pytest.mark.parametrize("seed,gpus,streams,ccr", TINY_CASES)
def test_exact_solvers_and_brute_force_agree(seed, gpus, streams, ccr):
    g = tiny(seed, ccr)
    p = Platform(gpus=gpus, streams=streams)
    expected = brute_force(g, p).makespan_ms
    # No warm start: each solver must find the optimum on its own. On a
    # 1 ns grid CP-SAT's answer must match to 1e-6 (relative) as well.
    check(g, p, expected, "cpsat", warm_start=None)
    check(g, p, expected, "cpsat", warm_start=None, resolution_ms=1e-6)
    check(g, p, expected, "milp", warm_start=None)      # HiGHS
    check(g, p, expected, "milp:cbc", warm_start=None)
    check(g, p, expected, "astar", warm_start=None)
    check(g, p, expected, "portfolio", warm_start=None)


SOLVERS = ["cpsat", "milp", "milp:cbc", "astar", "portfolio"]
NAMED = ["diamond", "fork-join", "inception-block", "wide-layer", "chain"]


@pytest.mark.parametrize("name", NAMED)
@pytest.mark.parametrize("gpus,streams", [(1, 2), (2, 1), (2, 2), (3, 3)])
def test_named_graphs(name, gpus, streams):
    g = generators.named(name)
    p = Platform(gpus=gpus, streams=streams)
    expected = brute_force(g, p, max_ops=9).makespan_ms
    check(g, p, expected, "cpsat")
    check(g, p, expected, "milp")
    check(g, p, expected, "milp:cbc")
    check(g, p, expected, "astar")
    check(g, p, expected, "portfolio")


# streams=1: the classical P | prec, c_ij | Cmax, solved by hand.
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("comm,expected", [(0.0, 6.0), (0.5, 6.5), (1.5, 7.5), (3.0, 9.0), (5.0, 10.0)])
def test_fork_join_p_prec_c(solver, comm, expected):
    # Second branch and the join on GPU 1: 1 + c + 4 + 1; all on one GPU: 10.
    check(generators.fork_join(2, 4.0, comm), Platform(gpus=2), expected, solver)


@pytest.mark.parametrize("solver", SOLVERS)
def test_hand_solved_p_prec_c(solver):
    independent = OpGraph([Op("a", 3.0), Op("b", 3.0), Op("c", 2.0), Op("d", 2.0), Op("e", 2.0)])
    check(independent, Platform(gpus=2), 6.0, solver)  # {3, 3} | {2, 2, 2}
    check(independent, Platform(gpus=3), 5.0, solver)  # {3, 2} | {3, 2} | {2}
    check(generators.chain(4, 1.0, 0.5), Platform(gpus=3), 4.0, solver)  # a chain gains nothing
    check(generators.diamond(), Platform(gpus=2), 5.0, solver)  # b on GPU 1: back at 1.5 + 2 + 0.5 = 4
    # K = 1: the single-GPU stage problem; b and c merge (L = 4.5).
    check(generators.diamond(), Platform(gpus=1, streams=2), 6.5, solver)


@pytest.mark.parametrize("solver", SOLVERS)
def test_link_matrix(solver):
    # GPU 2 sits behind a slow link; edges carry bytes, not comm_ms.
    g = OpGraph([Op("a", 1.0), Op("b", 2.0, 0.5), Op("c", 2.0, 0.5), Op("d", 1.0)],
                [("a", "b", None, 1_000_000), ("a", "c", None, 1_000_000), ("b", "d", None, 1_000_000),
                 ("c", "d", None, 1_000_000)])
    p = Platform(gpus=3, streams=2, bandwidth_matrix_gbps=((1, 1, 0.25), (1, 1, 1), (0.25, 1, 1)))
    check(g, p, brute_force(g, p).makespan_ms, solver)


@pytest.mark.parametrize("solver", SOLVERS)
def test_measured_stage_table_and_zero_latency(solver):
    ops = [Op("in", 0.0), Op("a", 2.0, 0.5), Op("b", 3.0, 0.5), Op("c", 1.0, 0.9), Op("out", 0.0)]
    edges = [("in", "a", 0.3), ("in", "b", 0.3), ("in", "c", 0.3), ("a", "out", 0.3), ("b", "out", 0.3),
             ("c", "out", 0.3)]
    g = OpGraph(ops, edges, stage_latency_ms={frozenset({"a", "b"}): 3.2, frozenset({"a", "b", "c"}): 3.6})
    for gpus, streams in [(1, 3), (2, 2), (2, 3)]:
        p = Platform(gpus=gpus, streams=streams)
        check(g, p, brute_force(g, p).makespan_ms, solver)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("gpus,streams", [(1, 1), (2, 2), (3, 1)])
def test_degenerate_graphs(solver, gpus, streams):
    p = Platform(gpus=gpus, streams=streams)
    for g in (OpGraph([Op("a", 1.0)]),
              OpGraph([Op("a", 0.0), Op("b", 0.0)], [("a", "b", 1.0)]),        # all placeholders
              OpGraph([Op("a", 0.0), Op("b", 0.0), Op("c", 2.0)], [("a", "c", 1.0)])):
        check(g, p, brute_force(g, p).makespan_ms, solver)


# Two instances found by a random search over measured stage tables and link
# matrices (brute force against every solver): each broke the MILP on HiGHS.
def zero_latency_tie() -> OpGraph:
    # n2 takes no time, so n3 may start at n2's start; HiGHS's solution
    # (feasible up to its tolerance) put n3 4 ns before n2.
    return OpGraph([Op("n0", 1.0), Op("n1", 1.0, 0.5), Op("n2", 0.0, 0.5), Op("n3", 0.8577555814169819, 0.52)],
                   [("n0", "n1", 0.8660979781932743), ("n0", "n2", 0.3), ("n0", "n3", 0.0), ("n1", "n3", 1.0),
                    ("n2", "n3", 1.505433463478759)])


def sequential_optimum_on_links() -> tuple[OpGraph, Platform]:
    # One GPU in sequence is optimal (7.4254 ms); with Cmax <= UB tighter than
    # HiGHS's feasibility tolerance, its presolve called the model infeasible.
    lat = {"n0": 2.4253963255738857, "n1": 1.0, "n2": 0.0, "n3": 1.0, "n4": 1.0, "n5": 2.0}
    out = {"n0": 4, "n1": 2, "n2": 2, "n3": 2, "n4": 4, "n5": 4}
    g = OpGraph([Op(v, t, 0.5, output_bytes=out[v] * 1_000_000) for v, t in lat.items()],
                [("n0", "n1"), ("n0", "n2"), ("n0", "n3"), ("n0", "n4"), ("n1", "n5"), ("n2", "n5"), ("n3", "n5"),
                 ("n4", "n5")])
    return g, Platform(gpus=2, bandwidth_matrix_gbps=((1.0, 0.25), (1.0, 1.0)))


@pytest.mark.parametrize("solver", SOLVERS)
def test_found_by_random_search(solver):
    g = zero_latency_tie()
    p = Platform(gpus=3)
    check(g, p, brute_force(g, p).makespan_ms, solver, warm_start=None)
    g, p = sequential_optimum_on_links()
    expected = brute_force(g, p).makespan_ms
    assert expected == pytest.approx(sum(g.latency))
    check(g, p, expected, solver, warm_start=None)
    check(g, p, expected, solver)
    # A chain on one GPU: the bound (the latencies summed in another order)
    # came out one ulp above the optimal warm start, which the MILP refused.
    chain = OpGraph([Op("n0", 2.0), Op("n1", 0.9233229191962494), Op("n2", 0.0), Op("n3", 3.7968791852221346),
                     Op("n4", 1.0)], [("n0", "n1", 0.0), ("n1", "n2", 0.0), ("n1", "n4", 0.0), ("n2", "n3", 1.0),
                                      ("n3", "n4", 2.1)])
    check(chain, Platform(), brute_force(chain, Platform()).makespan_ms, solver)


def test_stage_order_follows_dependencies_over_start_times():
    # A solver's start times, exact only up to its tolerance: the consumer n3
    # of the zero-length n2 "starts" 4 ns before it, on the same GPU.
    from hios_opt.exact import stage_candidates
    from hios_opt.exact.readback import stages_in_order

    g = zero_latency_tie()
    p = Platform(gpus=3)
    cands = stage_candidates(g, 1)
    of = {cands.ops[c][0]: c for c in range(len(cands))}
    chosen = [(0, of[g.index("n0")], 0.0), (0, of[g.index("n1")], 1.0), (0, of[g.index("n3")], 2.0),
              (0, of[g.index("n2")], 2.000000004)]
    s = stages_in_order(g, p, cands, cands.latency_ms, chosen, "test")
    assert [st.ops for st in s.stages] == [("n0",), ("n1",), ("n2",), ("n3",)]
    assert evaluate(g, p, s).makespan == pytest.approx(2.8577555814169819)
