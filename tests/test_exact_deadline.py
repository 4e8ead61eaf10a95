"""deadline_check: CP-SAT's yes/no answer to "a schedule within D ms?", against
brute force on tiny graphs and against A*'s optima on 20-op graphs."""

from __future__ import annotations

import math

import pytest

from hios_opt import Platform, evaluate, generators
from hios_opt.errors import GpuIndexError, OptionError, ProblemTooLargeError, UnknownOpError
from hios_opt.exact import deadline_check, solve
from hios_opt.exact.brute import brute_force
from hios_opt.heuristics import hios_lp

from .support.graphs import TINY_CASES, tiny

BELOW, ABOVE = 1 - 1e-4, 1 + 1e-4


def feasible_within(graph, platform, deadline, **options):
    """``deadline_check`` says feasible, with a schedule that the evaluator
    puts within the deadline plus the time grid's rounding."""
    check = deadline_check(graph, platform, deadline, time_limit=30, workers=1, **options)
    assert check.status == "feasible", check
    assert check.makespan_ms == evaluate(graph, platform, check.schedule).makespan
    assert check.makespan_ms <= deadline + 2 * graph.n_ops * check.tick_ms, (check.makespan_ms, deadline)
    return check


def infeasible(graph, platform, deadline, **options) -> bool:
    return deadline_check(graph, platform, deadline, time_limit=30, workers=1, **options).status == "infeasible"


@pytest.mark.parametrize("seed,gpus,streams,ccr", TINY_CASES[::4])
def test_agrees_with_brute_force(seed, gpus, streams, ccr):
    g = tiny(seed, ccr)
    p = Platform(gpus=gpus, streams=streams)
    best = brute_force(g, p)
    assert infeasible(g, p, best.makespan_ms * BELOW)
    feasible_within(g, p, best.makespan_ms * ABOVE)
    if gpus > 1 and ccr > 0:
        placement = best.placement
        assert infeasible(g, p, best.makespan_ms * BELOW, placement=placement)
        check = feasible_within(g, p, best.makespan_ms * ABOVE, placement=placement)
        assert check.schedule.placement == placement


def test_mirrored_placement_is_as_good():
    # GPU labels that the symmetry breaking would forbid (the first op on GPU
    # 1): the labels are the caller's, so the optimum must still fit.
    g = tiny(4, 0.5)
    p = Platform(gpus=2, streams=2)
    best = brute_force(g, p)
    assert set(best.placement.values()) == {0, 1}
    mirrored = {op: 1 - k for op, k in best.placement.items()}
    assert mirrored[g.ids[g.topo[0]]] == 1
    check = feasible_within(g, p, best.makespan_ms * ABOVE, placement=mirrored)
    assert check.schedule.placement == mirrored


@pytest.mark.parametrize("seed", [2, 5])
def test_confirms_the_astar_optimum_on_20_ops(seed):
    # On 2 GPUs x 2 streams CP-SAT alone proves few 20-op graphs in a minute
    # (1 of seeds 0-4); with a placement fixed it checks A*'s answer from both sides.
    g = generators.random_layered(20, 40, 3, 0.5, seed)
    p = Platform(gpus=2, streams=2)
    opt = solve(g, p, "astar", time_limit=60)
    assert opt.status == "optimal"
    assert infeasible(g, p, opt.makespan_ms * BELOW, placement=opt.schedule.placement)
    feasible_within(g, p, opt.makespan_ms * ABOVE, placement=opt.schedule.placement)
    # A heuristic's placement fits its own makespan and nothing below the optimum.
    heuristic = hios_lp(g, p)
    span = evaluate(g, p, heuristic).makespan
    feasible_within(g, p, span * (1 + 1e-9), placement=heuristic.placement)
    assert infeasible(g, p, opt.makespan_ms * BELOW, placement=heuristic.placement)


def test_static_bound_decides_far_below():
    g = generators.random_layered(20, 40, 3, 0.5, 1)
    check = deadline_check(g, Platform(gpus=2, streams=2), 1.0)
    assert check.status == "infeasible" and check.static and check.schedule is None


@pytest.mark.parametrize("deadline", [0, -1.0, math.nan, math.inf, True, "5"])
def test_bad_deadline(deadline):
    with pytest.raises(OptionError, match="deadline_ms"):
        deadline_check(generators.named("diamond"), Platform(gpus=2), deadline)


@pytest.mark.parametrize("option,match", [({"time_limit": 0}, "time_limit"), ({"workers": 0}, "workers"),
                                          ({"parameters": {"no_such_parameter": 1}}, "no_such_parameter"),
                                          ({"parameters": {"num_workers": "two"}}, "num_workers")])
def test_bad_options(option, match):
    with pytest.raises(OptionError, match=match):
        deadline_check(generators.named("diamond"), Platform(gpus=2), 5.0, **option)


def test_bad_placement():
    g = generators.named("diamond")
    op = g.ids[0]
    with pytest.raises(UnknownOpError, match="'nope'"):
        deadline_check(g, Platform(gpus=2), 5.0, placement={"nope": 0})
    with pytest.raises(GpuIndexError, match=f"op {op!r}: GPU 2"):
        deadline_check(g, Platform(gpus=2), 5.0, placement={op: 2})


def test_placement_without_delays_is_refused():
    g = generators.random_layered(8, 12, 3, 0.0, 0)
    with pytest.raises(OptionError, match="placement"):
        deadline_check(g, Platform(gpus=2, streams=2), 100.0, placement={g.ids[0]: 0})


def test_model_too_large_is_refused(monkeypatch):
    import hios_opt.exact.cpsat

    monkeypatch.setattr(hios_opt.exact.cpsat, "MAX_INTERVALS", 10)
    with pytest.raises(ProblemTooLargeError, match="optional intervals"):
        deadline_check(generators.named("inception-block"), Platform(gpus=2, streams=2), 5.0)
