"""solver="lns": the anytime improvement search, and its exact window repair."""

from __future__ import annotations

import random
import time

import pytest

import hios_opt as ho
from hios_opt import Platform, evaluate, generators
from hios_opt.errors import OptionError
from hios_opt.exact import SolveRequest, solve
from hios_opt.exact.lns import LnsOptions, _plan_of, _Search, solve_lns
from hios_opt.exact.window import repair_window
from hios_opt.timing import simulate

from .support.graphs import paper_graph


def test_improves_the_best_heuristic_and_every_schedule_is_the_evaluators():
    g, p = paper_graph(60, 0), Platform(gpus=4, streams=2)
    best = min(ho.schedule(g, p, name).makespan_ms for name in ("heft", "hios-mr", "hios-lp"))
    shown = []
    r = solve(g, p, "lns", time_limit=60, workers=1, options={"max_iterations": 3000}, callback=shown.append)
    assert r.makespan_ms < best * (1 - 0.01)
    assert r.makespan_ms == evaluate(g, p, r.schedule).makespan
    for event in shown:
        if event.schedule is not None:
            assert evaluate(g, p, event.schedule).makespan == event.makespan_ms
    assert [e.source for e in shown if e.schedule is not None][-1] == "lns"
    assert r.stats["iterations"] == 3000 and r.stats["improvements"] >= 1


def test_beats_heft_on_many_gpus_where_hios_lp_balances_load_worse():
    # 8 GPUs: HIOS-LP's path-at-a-time mapping loses to HEFT; the search,
    # started from the best of them, goes past both.
    g, p = generators.random_layered(150, 300, 12, 0.6, seed=2), Platform(gpus=8, streams=1)
    heft, lp = ho.schedule(g, p, "heft").makespan_ms, ho.schedule(g, p, "hios-lp").makespan_ms
    assert lp > heft
    r = solve(g, p, "lns", time_limit=60, workers=1, options={"max_iterations": 2000})
    assert r.makespan_ms < heft


def test_deterministic_for_a_seed_one_worker_and_an_iteration_budget():
    g, p = paper_graph(40, 3), Platform(gpus=3, streams=2)
    runs = [solve(g, p, "lns", time_limit=120, workers=1, seed=7, options={"max_iterations": 1500})
            for _ in range(2)]
    assert runs[0].schedule.to_dict() == runs[1].schedule.to_dict()
    other = solve(g, p, "lns", time_limit=120, workers=1, seed=8, options={"max_iterations": 1500})
    assert other.stats["accepted"] != runs[0].stats["accepted"] or other.makespan_ms != runs[0].makespan_ms


def test_time_limit_and_options_are_checked():
    g, p = paper_graph(80, 0), Platform(gpus=4, streams=2)
    t0 = time.monotonic()
    r = solve(g, p, "lns", time_limit=2, workers=1)
    assert time.monotonic() - t0 < 2 * 1.1 + 1 and r.status in ("feasible", "optimal")
    with pytest.raises(OptionError, match="does not take option 'speed'; it takes: history"):
        solve(g, p, "lns", options={"speed": 2})
    with pytest.raises(OptionError, match="max_iterations must be an integer >= 1"):
        solve(g, p, "lns", options={"max_iterations": 0})
    with pytest.raises(OptionError, match="does not take option 'history'; it takes: no options"):
        solve(g, p, "cpsat", options={"history": 4})


@pytest.mark.parametrize("seed", range(6))
def test_window_repair_model_is_the_plan_it_returns(seed):
    """The band model's makespan (prefix times, band stages, suffix tails)
    is the evaluator's makespan of the plan read back, up to the time grid."""
    rng = random.Random(seed)
    g = paper_graph(40, seed)
    p = Platform(gpus=1 + seed % 3, streams=1 + seed % 2)
    start = ho.schedule(g, p, "hios-lp")
    search = _Search(g, p, None, rng)
    t = search.time(_plan_of(g, p, start))
    for _ in range(3):
        center = t.start[rng.randrange(len(t.start))]
        nearest = sorted(range(len(t.stage_ops)), key=lambda s: (abs(t.start[s] - center), s))
        window = [v for s in nearest[:6] for v in t.stage_ops[s]]
        repair = repair_window(g, p, None, t.per_gpu, t.start, t.end, window, resolution_ms=1e-3, seconds=0.5,
                               wall_seconds=30, seed=seed)
        assert repair is not None
        stage_gpu = [k for k, stages in enumerate(repair.plan) for _ in stages]
        stage_ops = [ops for stages in repair.plan for ops in stages]
        real = simulate(g, p, stage_gpu, stage_ops).makespan
        # grid times round down: at most 1e-3 ms per stage and delay on the critical chain
        assert repair.makespan_ms <= real + 1e-9 <= repair.makespan_ms + 2 * g.n_ops * 1e-3 + 1e-9
        assert real <= t.makespan + 2 * g.n_ops * 1e-3  # the hint (the current plan) is feasible
        assert sorted(v for ops in stage_ops for v in ops) == list(range(g.n_ops))
        t = search.time(repair.plan) or t


def test_starts_from_a_sequential_schedule_without_a_warm_start():
    g, p = paper_graph(20, 1), Platform(gpus=2, streams=2)
    r = solve(g, p, "lns", time_limit=30, warm_start=None, workers=1, options={"max_iterations": 500})
    assert r.makespan_ms < sum(g.latency)
    assert r.warm_start is None


def test_a_stop_order_ends_it_at_once():
    g, p = paper_graph(60, 2), Platform(gpus=4, streams=2)
    request = SolveRequest(g, p, time_limit=60)
    request.incumbent.stopping = True
    t0 = time.monotonic()
    r = solve_lns(request, LnsOptions())
    assert time.monotonic() - t0 < 5 and r.stats["iterations"] == 0
