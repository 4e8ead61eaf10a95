import json
import subprocess
import sys

from hios_opt import OpGraph, Schedule
from hios_opt.cli import main


def test_info_text_and_json(capsys):
    assert main(["info", "named:diamond", "--gpus", "2"]) == 0
    out = capsys.readouterr().out
    assert "critical path   5.0000 ms" in out and "lower bound     5.0000 ms" in out
    assert main(["info", "named:diamond", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ops"] == 4 and data["total_work_ms"] == 7.0


def test_generate_then_evaluate(tmp_path, capsys):
    graph_path = tmp_path / "g.json"
    assert main(["generate", "--nodes", "20", "--edges", "40", "--layers", "4", "--seed", "2", "-o", str(graph_path)]) == 0
    g = OpGraph.load(graph_path)
    assert g.n_ops == 20
    sched = Schedule.sequential(g.topological_order(), graph_name=g.name)
    sched.save(tmp_path / "s.json")
    capsys.readouterr()
    assert main(["evaluate", str(graph_path), str(tmp_path / "s.json"), "--json", "--gantt", str(tmp_path / "g.png")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert abs(data["makespan_ms"] - g.total_latency_ms) < 1e-9
    assert (tmp_path / "g.png").exists()


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "hios-opt/graph", "version": 1, "ops": [{"id": "a", "latency_ms": -1}]}')
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "'a'" in err
    assert main(["info", str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    out = tmp_path / "out.json"
    assert main(["generate", "--nodes", "4", "--edges", "50", "--layers", "1", "-o", str(out)]) == 2
    assert not out.exists()


def test_subprocess_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "hios_opt", "info", "named:fork-join"], capture_output=True, text=True)
    assert proc.returncode == 0 and "fork-join2" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "hios_opt", "info", "nope.json"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("error:") and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "hios_opt", "--debug", "info", "nope.json"], capture_output=True,
                          text=True)
    assert proc.returncode != 0 and "Traceback" in proc.stderr
