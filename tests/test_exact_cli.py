"""``hios-opt solve``."""

from __future__ import annotations

import json

from hios_opt import Platform, Schedule, evaluate, generators
from hios_opt.cli import main


def test_solve_prints_status_makespan_bound_gap(capsys, tmp_path):
    out = tmp_path / "s.json"
    png = tmp_path / "g.png"
    code = main(["solve", "named:diamond", "--gpus", "2", "--streams", "2", "--time-limit", "10", "--workers", "1",
                 "-o", str(out), "--gantt", str(png)])
    text = capsys.readouterr().out
    assert code == 0
    for word in ("status       optimal", "makespan     5 ms", "lower bound  5 ms", "gap          0.000%"):
        assert word in text
    sched = Schedule.load(out)
    assert sched.status == "optimal" and sched.lower_bound_ms == 5.0
    assert evaluate(generators.diamond(), Platform(gpus=2, streams=2), sched).makespan == 5.0
    assert png.stat().st_size > 0


def test_solve_json_with_milp(capsys):
    code = main(["solve", "named:fork-join", "--gpus", "2", "--solver", "milp", "-t", "10", "--json",
                 "--warm-start", "none", "--seed", "3"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["status"] == "optimal" and data["makespan_ms"] == 6.5 and data["warm_start"] is None
    assert data["solver"] == "milp:HiGHS" and data["gpus"] == 2


def test_solve_json_with_astar(capsys):
    code = main(["solve", "named:inception-block", "--gpus", "2", "--streams", "2", "--solver", "astar", "-t", "20",
                 "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["solver"] == "astar" and data["status"] == "optimal"
    assert data["makespan_ms"] == 4.45
    assert 4.45 * (1 - 1e-8) <= data["lower_bound_ms"] <= 4.45  # proven within the search's 1e-9 cut


def test_solve_errors(capsys):
    assert main(["solve", "named:diamond", "--time-limit", "0"]) == 2
    assert "time_limit" in capsys.readouterr().err
    assert main(["solve", "named:diamond", "--solver", "nope"]) == 2
    assert "unknown solver" in capsys.readouterr().err
    assert main(["solve", "named:wide-layer", "--streams", "9", "--alpha", "2"]) == 2
    assert "alpha" in capsys.readouterr().err
