import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hios_opt import Op, OpGraph, Platform, generators
from hios_opt.bounds import critical_path_bound, lower_bound, work_bound
from hios_opt.costs import AnalyticModel, MeasuredModel
from hios_opt.errors import OptionError


def test_singleton_latency_is_solo_latency(diamond):
    for alpha in (0.0, 0.3, 1.0):
        for v in range(4):
            assert AnalyticModel(alpha).stage_latency(diamond, [v]) == diamond.latency[v]


def test_analytic_formula_by_hand():
    g = OpGraph([Op("x", 4.0, 0.25), Op("y", 2.0, 0.5), Op("z", 1.0, 1.0)])
    # sum t = 7, sum t*u = 1 + 1 + 1 = 3, max t = 4
    # alpha 0.5: 3.5 + 0.5 * max(3, 4) = 5.5
    assert AnalyticModel(0.5).stage_latency(g, [0, 1, 2]) == pytest.approx(5.5)
    # alpha 0.2: 1.4 + 0.8 * 4 = 4.6
    assert AnalyticModel(0.2).stage_latency(g, [0, 1, 2]) == pytest.approx(4.6)


def test_alpha_must_be_in_unit_interval():
    with pytest.raises(OptionError, match="alpha"):
        AnalyticModel(1.5)


def test_bounds_by_hand(diamond):
    # critical path a + c + d = 5; work 7 / K
    assert critical_path_bound(diamond) == 5.0
    assert work_bound(diamond, Platform(gpus=1)) == 7.0
    assert lower_bound(diamond, Platform(gpus=2)) == 5.0
    # With 2 streams and alpha 0.5, ops may overlap: work share per op is
    # max-total of t*(0.5 + 0.5u) = 1 + 1.8 + 2.7 + 1 = 6.5 and t*(0.5 + 0.25) = 5.25
    assert work_bound(diamond, Platform(streams=2)) == pytest.approx(6.5)


def test_measured_table_lowers_the_bounds_when_it_must(diamond):
    g = diamond.with_costs(stage_latency_ms={frozenset({"b", "c"}): 2.5})  # faster than c alone
    model = MeasuredModel()
    assert model.min_duration(g)[2] == 2.5
    # a + min(c, 2.5) + d
    assert critical_path_bound(g) == pytest.approx(4.5)


@given(st.integers(0, 500), st.integers(1, 3), st.floats(0, 1))
def test_min_work_shares_never_exceed_any_stage(seed, streams, alpha):
    g = generators.random_layered(9, 14, 3, 0.5, seed)
    model = AnalyticModel(alpha)
    share = model.min_work(g, streams)
    dur = model.min_duration(g)
    antichains = [
        c for k in range(1, streams + 1) for c in itertools.combinations(range(g.n_ops), k) if g.independent(c)
    ]
    for group in antichains:
        latency = model.stage_latency(g, group)
        assert sum(share[v] for v in group) <= latency + 1e-9
        assert all(dur[v] <= latency + 1e-12 for v in group)
