"""The standard figures of a study and the tables behind them."""

from __future__ import annotations

import pytest

from hios_opt.study import load, plots, run


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    path = tmp_path_factory.mktemp("plots") / "s.sqlite"
    spec = {"name": "plots", "graphs": ["named:diamond", "named:inception-block"], "gpus": [1, 2],
            "streams": [1, 2], "algorithms": ["sequential", "heft", "hios-lp"],
            "exact": [{"solver": "cpsat", "time_limit": 5}]}
    run(spec, path, workers=0, progress=False, verbose=False)
    return load(path)


def test_best_bounds_take_the_exact_solvers_bound(rows):
    df = plots.best_bounds(rows)
    exact = df[df.algorithm == "exact-cpsat"]
    assert (exact.status == "optimal").all()
    # every problem was proven: the best bound is the optimum, below every heuristic's makespan
    assert ((df.best_makespan_ms - df.best_bound_ms).abs() <= 1e-6 * df.best_makespan_ms).all()
    assert (df.gap_best >= 0).all() and (df.gap_best <= df.gap + 1e-12).all()
    assert (df[df.algorithm == "exact-cpsat"].gap_best <= 1e-6).all()


def test_win_loss_counts_each_problem_once(rows):
    matrix = plots.win_loss(rows)
    assert list(matrix.index) == ["heft", "hios-lp", "sequential"]
    problems = rows[["graph_hash", "gpus", "streams"]].drop_duplicates().shape[0]
    wide = rows[rows.status == "heuristic"].pivot_table(index=["graph_hash", "gpus", "streams"],
                                                         columns="variant", values="makespan_ms")
    ties = int((abs(wide["heft"] - wide["hios-lp"]) <= 1e-9 * wide["heft"]).sum())
    assert matrix.loc["heft", "hios-lp"] + matrix.loc["hios-lp", "heft"] + ties == problems == 8
    assert matrix.loc["sequential"].sum() == 0  # sequential never beats anyone


def test_every_standard_figure_draws(rows):
    for name, draw in plots.STANDARD.items():  # two sizes: 4 and 9 ops
        figure = draw(rows)
        assert figure.axes, name


def test_nothing_to_plot_is_said(rows):
    heuristic = rows[rows.status == "heuristic"]
    with pytest.raises(plots.NothingToPlot, match="no exact solver rows"):
        plots.time_to_proof(heuristic)
    with pytest.raises(plots.NothingToPlot, match="two GPU counts"):
        plots.speedup_vs_gpus(heuristic[heuristic.gpus == 1])
    with pytest.raises(plots.NothingToPlot, match="two heuristics"):
        plots.plot_win_loss(heuristic[heuristic.algorithm == "heft"])
