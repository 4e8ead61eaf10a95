"""``schedule(..., "best")``: every heuristic that fits, the shortest kept."""

from __future__ import annotations

import pytest

import hios_opt as ho
from hios_opt import Platform, evaluate, generators
from hios_opt.errors import AlgorithmError, OptionError
from hios_opt.heuristics import algorithms, schedule
from hios_opt.heuristics.best import SECONDS_PER_WORK, best_of, estimated_seconds

from .support.graphs import kwok_ahmad, paper_graph


def test_the_shortest_and_which_one_it_was():
    # Kwok and Ahmad's DAG on 3 GPUs: MCP, FCP, Sufferage, HEFT and HIOS-MR give 16 (the tests of
    # each), the others more; HEFT comes first in the registry's order among the 16s.
    g, p = kwok_ahmad(), Platform(gpus=3)
    s = schedule(g, p, "best")
    assert (s.algorithm, s.makespan_ms, s.meta["winner"]) == ("best", 16.0, "heft")
    spans = s.meta["makespans_ms"]
    assert set(spans) == set(algorithms()) - {"duplex"}
    assert spans["etf"] == 19.0 and spans["maxmin"] == 21.0 and spans["heft"] == 16.0
    assert min(spans.values()) == s.makespan_ms == evaluate(g, p, s).makespan
    assert set(s.meta["times_s"]) == set(spans) and s.meta["skipped"] == {}
    assert s.meta["winner_meta"] == schedule(g, p, "heft").meta


def test_never_worse_than_any_heuristic():
    for seed in range(6):
        g = paper_graph(30, seed)
        p = Platform(gpus=1 + seed % 4, streams=1 + seed % 3)
        best = schedule(g, p, "best")
        assert all(best.makespan_ms <= schedule(g, p, n).makespan_ms for n in algorithms())
        assert best.makespan_ms == evaluate(g, p, best).makespan


def test_a_time_limit_skips_what_would_not_fit():
    # 400 ops on 8 GPUs: IOS and the list schedulers are estimated above a millisecond;
    # sequential (the cheapest) always runs.
    g, p = paper_graph(400, 1), Platform(gpus=8)
    s = best_of(g, p, time_limit=1e-6)
    assert list(s.meta["makespans_ms"]) == ["sequential"] and s.meta["winner"] == "sequential"
    assert set(s.meta["skipped"]) == set(algorithms()) - {"duplex", "sequential"}
    assert all(s.meta["skipped"][n] == estimated_seconds(n, g, p) for n in s.meta["skipped"])


def test_cheapest_first_and_estimates_for_every_heuristic():
    g, p = paper_graph(50, 0), Platform(gpus=4)
    assert set(SECONDS_PER_WORK) == set(algorithms())
    s = best_of(g, p)
    run = list(s.meta["times_s"])
    assert run == sorted(run, key=lambda n: (estimated_seconds(n, g, p), algorithms().index(n)))


def test_options_reach_the_heuristics():
    g, p = generators.wide_layer(width=4), Platform(gpus=1, streams=2)
    assert best_of(g, p, algorithms=["etf", "heft"]).makespan_ms == 4.0     # ETF + the intra-GPU pass
    assert best_of(g, p, algorithms=["etf", "heft"], intra=False).makespan_ms == 5.0
    assert best_of(g, p, algorithms="etf", window=1).makespan_ms == 5.0
    assert list(best_of(g, p, algorithms=["ETF", "etf"]).meta["makespans_ms"]) == ["etf"]


def test_bad_options():
    g, p = generators.diamond(), Platform(gpus=2)
    with pytest.raises(AlgorithmError, match="unknown algorithm 'nope'"):
        best_of(g, p, algorithms=["heft", "nope"])
    with pytest.raises(OptionError, match="time_limit must be a number of seconds > 0, got -1"):
        best_of(g, p, time_limit=-1)
    with pytest.raises(OptionError, match="intra must be True or False"):
        best_of(g, p, intra="yes")
    with pytest.raises(OptionError, match="window 2 is larger than the 1 stream"):
        best_of(g, p, window=2)


def test_top_level_and_compare():
    g, p = generators.diamond(comm_ms=0.5), Platform(gpus=2)
    assert ho.schedule(g, p, "BEST").algorithm == "best"
    df = ho.compare(g, p, ["heft", "best"])
    assert list(df.algorithm) == ["heft", "best"]
    assert df.makespan_ms.iloc[1] <= df.makespan_ms.iloc[0]
