"""best_schedule(): every heuristic, then the solver warm-started from the best; the shorter one wins."""

from __future__ import annotations

import pytest

import hios_opt as ho
from hios_opt import generators
from hios_opt.autoschedule import DEFAULT_SOLVER, best_schedule, check_solver
from hios_opt.bounds import best_bound
from hios_opt.errors import AlgorithmError, OptionError
from hios_opt.results import COLUMNS


def test_heuristics_only() -> None:
    g = generators.inception_block()
    found = best_schedule(g, ho.Platform(gpus=2, streams=2), None)
    assert [r["algorithm"] for r in found.rows] == ho.algorithms()
    best = min(r["makespan_ms"] for r in found.rows)
    assert found.schedule.makespan_ms == best and found.note == ""
    assert sum(r["chosen"] for r in found.rows) == 1
    assert found.lower_bound_ms == best_bound(g, ho.Platform(gpus=2, streams=2), time_limit=1.0).value_ms
    assert found.lower_bound_ms >= ho.lower_bound(g, ho.Platform(gpus=2, streams=2))
    schema = [c for c in COLUMNS if c in found.rows[0]]
    assert list(found.rows[0])[:len(schema)] == schema


def test_the_solver_wins_when_it_is_shorter_and_proves_the_bound() -> None:
    g = generators.fork_join(2, comm_ms=0.5)
    found = best_schedule(g, ho.Platform(gpus=2), "cpsat", time_limit=10)
    assert found.rows[-1]["algorithm"] == "exact-cpsat" and found.rows[-1]["status"] == "optimal"
    assert found.schedule.makespan_ms == pytest.approx(6.5)
    assert found.lower_bound_ms == pytest.approx(6.5)
    assert all(r["lower_bound_ms"] == found.lower_bound_ms for r in found.rows)
    assert ho.evaluate(g, ho.Platform(gpus=2), found.schedule).makespan == pytest.approx(6.5)


def test_a_heuristic_is_kept_when_the_solver_finds_nothing_shorter() -> None:
    g = generators.chain(4)  # sequential is optimal: the solver can only tie
    found = best_schedule(g, ho.Platform(gpus=2), DEFAULT_SOLVER, time_limit=5)
    assert found.algorithm in ho.algorithms()
    assert "nothing shorter" in found.note


def test_a_refused_solve_falls_back_to_the_heuristics() -> None:
    g = generators.random_layered(300, 600, layers=6, seed=1)  # far too many 4-op stages to enumerate
    found = best_schedule(g, ho.Platform(gpus=4, streams=4), "cpsat", time_limit=5)
    assert "cpsat did not run" in found.note and found.algorithm in ho.algorithms()
    assert [r["algorithm"] for r in found.rows] == ho.algorithms()


def test_solver_names() -> None:
    assert check_solver("Portfolio") == "portfolio" and check_solver("milp:CBC") == "milp:CBC"
    with pytest.raises(AlgorithmError, match="valid: cpsat, milp, astar"):
        best_schedule(generators.diamond(), ho.Platform(), "gurobi")
    with pytest.raises(OptionError, match="time_limit"):
        best_schedule(generators.diamond(), ho.Platform(), None, time_limit=0)
