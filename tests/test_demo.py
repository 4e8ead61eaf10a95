import json

import pytest

from hios_opt.cli import main
from hios_opt.demo import DEFAULT_GRAPHS, HEURISTICS, run_demo


def test_demo_on_teaching_graphs(tmp_path):
    table = run_demo(["named:diamond", "named:fork-join"], time_limit=10, workers=1, out_dir=tmp_path)
    assert len(table) == 2 * (len(HEURISTICS) + 1)
    for graph, rows in table.groupby("graph"):
        assert list(rows["algorithm"]) == [*HEURISTICS, "exact-portfolio"]
        exact = rows.iloc[-1]
        assert exact["status"] == "optimal" and exact["gap"] == 0.0
        assert (rows["status"].iloc[:-1] == "heuristic").all()
        # no heuristic beats a proven optimum
        assert (rows["makespan_ms"] >= exact["makespan_ms"] - 1e-9).all()
        assert (rows["gap"] >= 0.0).all() and (rows["lower_bound_ms"] == exact["lower_bound_ms"]).all()
        assert exact["lower_bound_ms"] == pytest.approx(exact["makespan_ms"], rel=1e-6)
        assert rows.iloc[0]["speedup"] == 1.0
        assert (tmp_path / f"{graph}_gantt.png").stat().st_size > 1000
    assert (tmp_path / "demo.csv").read_text().startswith(
        "graph,ops,gpus,streams,algorithm,makespan_ms,lower_bound_ms,gap,speedup,status,time_s,gpus_used\n")
    assert table.attrs["notes"] == []


@pytest.mark.slow
def test_demo_cli_default_graphs(tmp_path, capsys):
    # The real main job, on the bundled Inception-v3 graph, with a short limit.
    code = main(["demo", "--time-limit", "5", "--workers", "2", "--out", str(tmp_path), "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    algorithms = {row["algorithm"] for row in data["rows"]}
    assert algorithms == {*HEURISTICS, "exact-portfolio"}
    graphs = {row["graph"] for row in data["rows"]}
    assert len(graphs) == len(DEFAULT_GRAPHS)
    assert len(list(tmp_path.glob("*_gantt.png"))) == len(DEFAULT_GRAPHS)


def test_demo_says_when_the_headline_proof_did_not_finish(tmp_path, capsys):
    # A* proves the bundled Inception-v3 on 2 x 2 in about 20 s here: not in 1 s.
    assert main(["demo", "models/inception_v3_299_h100.json", "--time-limit", "1", "--out", str(tmp_path),
                 "--quiet", "--solver", "astar"]) == 0
    out = capsys.readouterr().out
    assert "note: inception_v3_299: astar did not prove the optimum within 1 s" in out
    assert "rerun with --time-limit 60" in out


def test_demo_solver_choices(capsys):
    assert main(["demo", "--solver", "gurobi"]) == 2  # argparse's rejection: one error line (issue #22)
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "choose from astar, cpsat, lns, milp, portfolio or milp:NAME" in err
    from hios_opt.cli.demo import DEMO_SOLVERS
    from hios_opt.demo import SOLVERS
    from hios_opt.exact import SOLVERS as EXACT

    assert DEMO_SOLVERS == SOLVERS and set(SOLVERS) == set(EXACT)
