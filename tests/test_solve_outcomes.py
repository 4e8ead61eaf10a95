"""What a cut-short solve leaves: the heuristic schedules of a warm start cut
by Ctrl-C, and ``solve -o FILE`` when no schedule came back."""

from __future__ import annotations

import json

import pytest

import hios_opt as ho
from hios_opt.cli import main


@pytest.mark.parametrize("solver", ["cpsat", "milp", "astar", "portfolio"])
def test_ctrl_c_during_the_warm_start_keeps_the_heuristics_so_far(solver, monkeypatch):
    """A Ctrl-C while "auto" tried its heuristics dropped the ones done; the
    README promises the best schedule so far."""
    import hios_opt.exact.warm as warm

    real = warm.schedule

    def heuristic(graph, platform, name, **kwargs):
        if name == "hios-mr":  # after sequential and heft
            raise KeyboardInterrupt
        return real(graph, platform, name, **kwargs)

    monkeypatch.setattr(warm, "schedule", heuristic)
    g, p = ho.generators.diamond(), ho.Platform(gpus=2)
    r = ho.solve(g, p, solver, time_limit=10)
    assert r.interrupted and r.schedule is not None
    assert r.makespan_ms == 5.0 == ho.evaluate(g, p, r.schedule).makespan  # heft's, not sequential's 7 ms


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_solve_output_without_a_schedule_is_exit_1(json_flag, capsys, tmp_path):
    """``-o FILE`` with status unknown exited 0 without writing FILE."""
    graph, out, png = tmp_path / "graph.json", tmp_path / "s.json", tmp_path / "g.png"
    ho.generators.random_layered(60, 120, 10, 0.5, 1).save(graph)  # no solution in 1 ms
    code = main(["solve", str(graph), "--gpus", "2", "--streams", "2", "--time-limit", "0.001",
                 "--warm-start", "none", "-o", str(out), "--gantt", str(png), *json_flag])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: no schedule (status unknown")
    assert str(out) in captured.err and str(png) in captured.err
    assert list(tmp_path.iterdir()) == [graph]
    if json_flag:
        data = json.loads(captured.out)
        assert data["status"] == "unknown" and data["output"] is None and data["gantt"] is None


def test_solve_without_outputs_and_without_a_schedule_is_exit_0(capsys, tmp_path):
    graph = tmp_path / "graph.json"
    ho.generators.random_layered(60, 120, 10, 0.5, 1).save(graph)
    code = main(["solve", str(graph), "--gpus", "2", "--streams", "2", "--time-limit", "0.001", "--warm-start", "none"])
    assert code == 0 and "status       unknown" in capsys.readouterr().out
