"""The MILP on HiGHS (the default MILP solver): loading beside OR-Tools,
solver selection, proven bounds and the warm start."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hios_opt import Platform, evaluate, generators
from hios_opt.bounds import lower_bound
from hios_opt.errors import SolverError
from hios_opt.exact import solve
from hios_opt.exact.milp import default_backend, pulp_solver


@pytest.mark.parametrize("first,second", [("ortools.sat.python.cp_model", "highspy"),
                                          ("highspy", "ortools.sat.python.cp_model"),
                                          ("pulp", "ortools.sat.python.cp_model")])
def test_highspy_and_ortools_load_in_one_process(first, second):
    # Some highspy releases and OR-Tools cannot share a process (an undefined
    # symbol at import, whichever comes second); pyproject pins a range that can.
    code = f"import {first}, {second}; import pulp; assert 'HiGHS' in pulp.listSolvers(onlyAvailable=True)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_default_backend_is_highs():
    assert default_backend() == "HiGHS"
    assert pulp_solver("highs") == "HiGHS" and pulp_solver("cbc") == "PULP_CBC_CMD"
    g = generators.diamond()
    r = solve(g, Platform(gpus=2, streams=2), "milp", time_limit=10, workers=1)
    assert r.solver == "milp:HiGHS" and r.solver_status == "Optimal" and r.status == "optimal"
    assert solve(g, Platform(gpus=2, streams=2), "milp:highs", time_limit=10).solver == "milp:HiGHS"
    assert r.stats["nodes"] >= 0 and r.stats["bound"] == pytest.approx(r.lower_bound_ms)


@pytest.mark.slow
def test_highs_bound_at_the_time_limit_is_its_own():
    # Cut short, HiGHS reports its dual bound: above the cheap bound of the
    # model, below the makespan, and the answer is "feasible", not "optimal".
    g = generators.random_layered(30, 60, 5, 0.5, 0)
    p = Platform(gpus=2, streams=2)
    r = solve(g, p, "milp", time_limit=2.0, workers=1)
    assert r.status == "feasible" and r.solver_status == "Time limit reached"
    assert lower_bound(g, p) - 1e-9 <= r.lower_bound_ms < r.makespan_ms
    assert r.makespan_ms <= r.warm_start_makespan_ms + 1e-9
    assert r.makespan_ms == evaluate(g, p, r.schedule).makespan


def test_highs_optimum_matches_cpsat():
    # A proof to HiGHS's default 1e-4 relative gap is not an "optimal"
    # answer here: HiGHS is asked for 1e-7, and both solvers must agree.
    g = generators.random_layered(9, 16, 3, 0.5, 4)
    p = Platform(gpus=2, streams=2)
    m = solve(g, p, "milp", time_limit=60, workers=1, warm_start=None)
    c = solve(g, p, "cpsat", time_limit=60, workers=1, resolution_ms=1e-6)
    assert m.status == c.status == "optimal"
    assert m.makespan_ms == pytest.approx(c.makespan_ms, rel=2e-6)
    assert m.lower_bound_ms <= c.makespan_ms + 1e-9 and c.lower_bound_ms <= m.makespan_ms + 1e-9


def test_default_backend_falls_back_to_cbc(monkeypatch):
    import pulp

    real = pulp.listSolvers

    def without_highs(onlyAvailable=False):
        return [s for s in real(onlyAvailable=onlyAvailable) if not (onlyAvailable and s.startswith("HiGHS"))]

    monkeypatch.setattr(pulp, "listSolvers", without_highs)
    assert default_backend() == "PULP_CBC_CMD"
    r = solve(generators.diamond(), Platform(gpus=2), "milp", time_limit=10, workers=1)
    assert r.solver == "milp:PULP_CBC_CMD" and r.status == "optimal"
    with pytest.raises(SolverError, match="not available"):
        solve(generators.diamond(), Platform(gpus=2), "milp:highs", time_limit=10)


def test_highs_on_a_pure_lp():
    # A chain on one GPU leaves the MILP without integer variables: HiGHS
    # solves an LP and has no MIP bound (it reports 0); the optimum's
    # objective is the bound.
    g = generators.chain(4, 1.0, 0.5)
    r = solve(g, Platform(gpus=1), "milp", time_limit=10, warm_start=None)
    assert r.status == "optimal" and r.makespan_ms == pytest.approx(4.0)
    assert "bound" not in r.stats and r.lower_bound_ms == pytest.approx(4.0)


def test_presolve_infeasible_is_retried_without_presolve(monkeypatch):
    # HiGHS's presolve has called feasible models infeasible (bounds tight to
    # within its tolerance); a sequential schedule always exists, so the
    # MILP is solved again without presolve. Here the first answer is forced.
    import highspy

    real = highspy.Highs.getModelStatus
    calls = []

    def first_infeasible(self):
        calls.append(1)
        return highspy.HighsModelStatus.kInfeasible if len(calls) == 1 else real(self)

    monkeypatch.setattr(highspy.Highs, "getModelStatus", first_infeasible)
    g = generators.diamond()
    r = solve(g, Platform(gpus=2, streams=2), "milp", time_limit=30, workers=1)
    assert r.stats["presolve_off_retry"] is True
    assert r.status == "optimal" and r.makespan_ms == pytest.approx(5.0)
