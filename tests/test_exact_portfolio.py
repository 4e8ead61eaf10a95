"""solver="portfolio": CP-SAT and the A* search at once, sharing the best schedule.

The agreement with brute force on tiny instances is in test_exact_agreement.py,
the time limit and Ctrl-C in test_exact_solve.py; here: the shared
incumbent, how the two searches use it, and how the result is assembled.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

import hios_opt.exact as exact
from hios_opt import Platform, evaluate, generators
from hios_opt.cli import main
from hios_opt.errors import SolverError
from hios_opt.exact import Incumbent, SolveRequest, solve, stage_candidates
from hios_opt.exact.astar import solve_astar
from hios_opt.exact.cpsat import cpsat_candidates, solve_cpsat
from hios_opt.exact.grid import auto_resolution

from .support.graphs import paper_graph


def request(g, p, x=None, limit=60.0, **options):
    """A solve request whose searches share the incumbent ``x``."""
    r = SolveRequest(g, p, time_limit=limit, **options)
    if x is not None:
        r.incumbent = x
    return r


def test_incumbent_keeps_the_shortest_and_calls_every_stopper():
    x = Incumbent()
    g = generators.diamond()
    p = Platform(gpus=2)
    seq = exact.warm_start_schedule(g, p, "sequential")
    assert x.offer(seq, 6.0) and not x.offer(None, 6.0) and not x.offer(None, 7.5)
    assert (x.best, x.best_ms) == (seq, 6.0)
    calls = []
    x.add_stopper(lambda: calls.append("a"))
    x.add_stopper(lambda: calls.append("b"))
    assert not x.stopping
    x.stop()
    x.stop()
    assert x.stopping and calls == ["a", "b", "a", "b"]


def test_astar_proves_an_optimum_it_was_handed():
    # The incumbent holds the optimum found earlier: the search, with no warm
    # start, cuts with it from its first step and proves nothing is shorter.
    g, p = paper_graph(16, 0), Platform(gpus=2, streams=2)
    known = solve(g, p, "astar", time_limit=60)
    assert known.status == "optimal"
    x = Incumbent()
    x.offer(known.schedule, known.makespan_ms)
    cands = stage_candidates(g, p.streams)
    r = solve_astar(request(g, p, x), cands)
    assert r.solver_status == "OPTIMAL"
    assert known.makespan_ms * (1 - 1e-8) <= r.lower_bound_ms <= known.makespan_ms * (1 + 1e-9)
    # It only keeps schedules strictly shorter than the incumbent's: none
    # exists, so it has none of its own (without the incumbent it would).
    assert r.makespan_ms is None and r.schedule is None
    alone = solve_astar(request(g, p), cands)
    assert alone.makespan_ms == pytest.approx(known.makespan_ms, rel=1e-9)


def test_a_stop_order_ends_the_astar_search_at_once():
    g, p = paper_graph(40, 1), Platform(gpus=2, streams=2)
    x = Incumbent()
    x.stopping = True
    t0 = time.monotonic()
    r = solve_astar(request(g, p, x), stage_candidates(g, p.streams))
    assert r.solver_status == "STOPPED" and time.monotonic() - t0 < 10


def _cpsat(g, p, x, limit):
    return solve_cpsat(request(g, p, x, limit, workers=1, resolution_ms=auto_resolution(g, p)),
                       cpsat_candidates(g, p, None))


@pytest.mark.slow
def test_cpsat_offers_its_solutions_with_the_evaluators_makespan():
    g, p = paper_graph(30, 3), Platform(gpus=2, streams=2)
    x = Incumbent()
    r = _cpsat(g, p, x, 3.0)
    assert r.status == "feasible" and r.stats["solutions"] >= 1
    assert x.best is not None
    assert evaluate(g, p, x.best).makespan == x.best_ms
    assert x.best_ms >= r.makespan_ms - 1e-9  # the final solution is at least as good as any offered


def test_an_incumbent_stop_ends_cpsat_with_its_best_solution():
    g, p = paper_graph(40, 1), Platform(gpus=2, streams=2)
    x = Incumbent()
    out = {}
    worker = threading.Thread(target=lambda: out.setdefault("r", _cpsat(g, p, x, 60.0)))
    t0 = time.monotonic()
    worker.start()
    while x.best is None and time.monotonic() - t0 < 30:  # its first solution (no warm start here)
        time.sleep(0.05)
    assert x.best is not None
    while worker.is_alive():  # repeated: a stop before the search has started is lost
        x.stop()
        worker.join(0.1)
    assert time.monotonic() - t0 < 40  # well before its 60 s limit
    r = out["r"]
    assert r.status == "feasible" and r.makespan_ms == evaluate(g, p, r.schedule).makespan
    assert r.makespan_ms <= x.best_ms + 1e-9


def _check_combined(g, p, r):
    parts = [r.stats[name] for name in ("lns", "astar", "cpsat")]
    assert r.solver == "portfolio" and r.makespan_ms == evaluate(g, p, r.schedule).makespan
    for part in parts:
        if part.get("makespan_ms") is not None:
            assert part["makespan_ms"] >= r.makespan_ms - 1e-9  # the shortest schedule is kept
    # The largest proven bound of the searches that ran (never above the schedule kept).
    proven = [part["lower_bound_ms"] for part in parts if "lower_bound_ms" in part]
    assert r.lower_bound_ms == pytest.approx(min(r.makespan_ms, max(proven)), rel=1e-12)


@pytest.mark.slow
def test_two_streams_the_astar_search_proves_and_cpsat_is_stopped():
    # 20 ops, 2 GPUs x 2 streams, seed 0: the A* search proves it in seconds,
    # CP-SAT alone does not in a minute (README's reach table).
    g, p = paper_graph(20, 0), Platform(gpus=2, streams=2)
    r = solve(g, p, "portfolio", time_limit=60, workers=2)
    assert r.status == "optimal" and r.stats["proved_by"] in ("astar", "both")
    assert r.stats["astar"]["solver_status"] == "OPTIMAL"
    assert r.wall_time_s < 55  # CP-SAT did not run on to the limit
    _check_combined(g, p, r)
    assert r.stats["cpsat_workers"] == 1


def test_one_stream_gets_the_same_optimum_as_cpsat_alone():
    g, p = paper_graph(20, 2), Platform(gpus=2, streams=1)
    alone = solve(g, p, "cpsat", time_limit=60, workers=2)
    r = solve(g, p, "portfolio", time_limit=60, workers=2)
    assert alone.status == r.status == "optimal" and r.stats["proved_by"] is not None
    assert r.makespan_ms == pytest.approx(alone.makespan_ms, abs=alone.tolerance_ms + r.tolerance_ms)
    _check_combined(g, p, r)


@pytest.mark.slow
def test_at_the_time_limit_the_bound_is_the_larger_of_the_two():
    g, p = paper_graph(50, 0), Platform(gpus=2, streams=2)
    r = solve(g, p, "portfolio", time_limit=4, workers=2)
    assert r.status == "feasible" and r.stats["proved_by"] is None
    _check_combined(g, p, r)


def test_without_the_cpsat_model_the_astar_search_runs_alone(monkeypatch):
    monkeypatch.setattr(exact.cpsat, "MAX_INTERVALS", 10)
    g, p = generators.inception_block(), Platform(gpus=2, streams=2)
    r = solve(g, p, "portfolio", time_limit=20, workers=2)
    assert r.status == "optimal" and r.makespan_ms == 4.45 and r.stats["proved_by"] == "astar"
    assert r.stats["cpsat"]["status"] == "not run" and "too large" in r.stats["cpsat"]["reason"]
    assert r.stats["cpsat_workers"] == 0


def test_a_cpsat_failure_is_raised_not_hidden(monkeypatch):
    import hios_opt.exact.portfolio as portfolio

    def broken(*args, **kwargs):
        time.sleep(0.5)
        raise SolverError("CP-SAT broke")

    monkeypatch.setattr(portfolio, "solve_cpsat", broken)
    t0 = time.monotonic()
    with pytest.raises(SolverError, match="CP-SAT broke"):
        solve(paper_graph(40, 1), Platform(gpus=2, streams=2), "portfolio", time_limit=60, workers=2)
    assert time.monotonic() - t0 < 15  # the A* search was stopped, not run to its limit


def test_cli_solve_with_the_portfolio(capsys):
    code = main(["solve", "named:inception-block", "--gpus", "2", "--streams", "2", "--solver", "portfolio",
                 "-t", "20"])
    text = capsys.readouterr().out
    assert code == 0 and "status       optimal" in text and "makespan     4.45 ms" in text
    assert "solver       portfolio (OPTIMAL)" in text and "proved by    " in text
    code = main(["solve", "named:inception-block", "--gpus", "2", "--streams", "2", "--solver", "portfolio",
                 "-t", "20", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["solver"] == "portfolio" and data["stats"]["proved_by"] in ("astar", "cpsat", "both")


def test_beyond_the_astar_reach_the_improvement_search_takes_its_thread():
    g, p = paper_graph(60, 1), Platform(gpus=4, streams=2)
    r = solve(g, p, "portfolio", time_limit=4, workers=2)
    assert r.stats["astar"]["status"] == "not run" and "beyond the A* search's reach" in r.stats["astar"]["reason"]
    assert r.stats["lns"]["stats"]["iterations"] > 0
    assert r.makespan_ms <= r.warm_start_makespan_ms and r.makespan_ms == evaluate(g, p, r.schedule).makespan
