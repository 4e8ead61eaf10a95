import json

import pytest

from hios_opt.cli import main
from hios_opt.demo import DEFAULT_GRAPHS, HEURISTICS, run_demo


def test_demo_on_teaching_graphs(tmp_path):
    table = run_demo(["named:diamond", "named:fork-join"], time_limit=10, workers=1, out_dir=tmp_path)
    assert len(table) == 2 * (len(HEURISTICS) + 1)
    for graph, rows in table.groupby("graph"):
        assert list(rows["algorithm"]) == [*HEURISTICS, "astar"]
        exact = rows.iloc[-1]
        assert exact["status"] == "optimal" and exact["gap_to_bound"] == pytest.approx(0.0, abs=1e-6)
        # no heuristic beats a proven optimum
        assert (rows["makespan_ms"] >= exact["makespan_ms"] - 1e-9).all()
        assert (rows["gap_to_bound"] >= -1e-9).all()
        assert rows.iloc[0]["speedup"] == 1.0
        assert (tmp_path / f"{graph}_gantt.png").stat().st_size > 1000
    assert (tmp_path / "demo.csv").read_text().startswith("graph,ops,algorithm")


@pytest.mark.slow
def test_demo_cli_default_graphs(tmp_path, capsys):
    # The real main job, on the bundled Inception-v3 graph, with a short limit.
    code = main(["demo", "--time-limit", "5", "--workers", "2", "--out", str(tmp_path), "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    algorithms = {row["algorithm"] for row in data["rows"]}
    assert algorithms == {*HEURISTICS, "astar"}
    graphs = {row["graph"] for row in data["rows"]}
    assert len(graphs) == len(DEFAULT_GRAPHS)
    assert len(list(tmp_path.glob("*_gantt.png"))) == len(DEFAULT_GRAPHS)
