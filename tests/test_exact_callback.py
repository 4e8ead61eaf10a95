"""Watching a solve: the callback, and a result never worse than what it showed."""

from __future__ import annotations

import math

import pytest

from hios_opt import Platform, evaluate, generators
from hios_opt.errors import HiosError
from hios_opt.exact import Incumbent, SolveProgress, solve

from .support.graphs import paper_graph


def watch(graph, platform, solver, **options):
    events: list[SolveProgress] = []
    result = solve(graph, platform, solver, callback=events.append, **options)
    return result, events


def check_events(graph, platform, result, events):
    shown = [e for e in events if e.schedule is not None]
    assert shown, "the warm start alone is a schedule to show"
    for e in shown:
        assert evaluate(graph, platform, e.schedule).makespan == e.makespan_ms  # the evaluator's number
    spans = [e.makespan_ms for e in shown]
    assert spans == sorted(spans, reverse=True) and len(set(spans)) == len(spans)  # each one an improvement
    bounds = [e.lower_bound_ms for e in events]
    assert bounds == sorted(bounds)
    assert all(e.elapsed_s >= 0 for e in events)
    # Never worse than a schedule it showed, never a bound below one it reported.
    assert result.makespan_ms <= min(spans) + 1e-12
    assert result.lower_bound_ms >= min(max(bounds), result.makespan_ms) - 1e-9


@pytest.mark.parametrize("solver", ["cpsat", "milp", "astar", "portfolio", "lns"])
def test_every_solver_reports_its_improvements(solver):
    g, p = paper_graph(12, 1), Platform(gpus=2, streams=2)
    options = {"max_iterations": 2000} if solver == "lns" else None
    result, events = watch(g, p, solver, time_limit=30, workers=2, options=options)
    check_events(g, p, result, events)
    assert result.status == "optimal" or solver == "lns"  # the improvement search proves nothing
    assert [e for e in events if e.schedule is not None][0].source.startswith("warm start")


def test_cpsat_returns_the_best_schedule_it_saw_by_the_evaluator():
    # CP-SAT ranks its solutions by their makespan on its time grid; the
    # evaluator may rank them otherwise. 30 ops, 2 x 2, one worker, no warm
    # start: several solutions in 3 s, and the answer is the evaluator-best.
    g, p = generators.random_layered(30, 60, 5, 0.5, seed=3), Platform(gpus=2, streams=2)
    result, events = watch(g, p, "cpsat", time_limit=3, workers=1, warm_start=None)
    from_cpsat = [e for e in events if e.schedule is not None and e.source == "cpsat"]
    assert len(from_cpsat) >= 2
    check_events(g, p, result, events)
    assert result.makespan_ms == min(e.makespan_ms for e in from_cpsat)


def test_a_failing_callback_stops_the_solve_and_is_raised():
    class Stop(HiosError):
        pass

    def callback(event):
        if event.schedule is not None and event.source == "astar":
            raise Stop("enough")

    g, p = paper_graph(30, 8), Platform(gpus=2, streams=2)
    with pytest.raises(Stop, match="enough"):
        solve(g, p, "astar", time_limit=30, warm_start=None, callback=callback)


def test_callback_must_be_callable():
    from hios_opt.errors import OptionError

    with pytest.raises(OptionError, match="callback must be callable"):
        solve(generators.diamond(), Platform(gpus=2), callback=42)


def test_incumbent_keeps_the_best_and_reports_each_improvement():
    seen = []
    x = Incumbent(seen.append)
    assert x.offer(None, 5.0, "a") and not x.offer(None, 5.0, "b") and x.offer(None, 4.0, "c")
    assert x.raise_bound(3.0) and not x.raise_bound(2.0) and not x.raise_bound(math.nan)
    assert [(e.makespan_ms, e.lower_bound_ms, e.source) for e in seen] == [(5.0, 0.0, "a"), (4.0, 0.0, "c"),
                                                                           (4.0, 3.0, "c")]
    assert seen[-1].gap == pytest.approx(1 / 3)
