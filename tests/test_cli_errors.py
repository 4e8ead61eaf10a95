"""Bad input on the command line: exit status 2, one line ``error: ...`` on
stderr naming the culprit, and no output file created or touched.

Most calls run in-process (``hios_opt.cli.main`` with ``capsys``) for speed;
a few run the real ``python -m hios_opt`` in a subprocess.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from hios_opt import Schedule, Stage, generators
from hios_opt.cli import build_parser, main

from .support.bad_inputs import CORPUS, corpus_cases, mutate, small_graph_dict, valid_schedule_dict
from .support.cli import assert_one_line_error

#: seeded mutated files run through ``hios-opt info`` / ``evaluate``
CLI_MUTATION_CASES = 120

OLD_MTIME_NS = 1_000_000_000 * 10**9  # 2001-09-09: any write would move it


def commands() -> set[str]:
    """Subcommands registered right now (other modules add theirs over time)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return set(sub.choices)


class Outputs:
    """A folder of existing output files whose bytes, times and company must
    survive a failing command."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(exist_ok=True)
        self.json = folder / "out.json"
        self.png = folder / "out.png"
        self.csv = folder / "out.csv"
        self.json.write_bytes(b'{"keep": "me"}\n')
        self.png.write_bytes(b"\x89PNG not really\n")
        self.csv.write_bytes(b"a,b\n1,2\n")
        for path in (self.json, self.png, self.csv):
            os.utime(path, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
        self.before = self.snapshot()

    def snapshot(self) -> dict[str, tuple[bytes, int]]:
        return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(self.folder.iterdir())}

    def assert_untouched(self) -> None:
        after = self.snapshot()
        assert sorted(after) == sorted(self.before), "a file was created or removed"
        for name, (data, mtime) in self.before.items():
            assert after[name][0] == data, f"{name} changed"
            assert after[name][1] == mtime, f"{name} was rewritten"


@pytest.fixture
def outputs(tmp_path) -> Outputs:
    return Outputs(tmp_path / "outputs")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err




# ------------------------------------------------------------------ corpus
GRAPH_CASES = [c for c in corpus_cases() if c.reader == "graph"]
SCHEDULE_CASES = [c for c in corpus_cases() if c.reader == "schedule"]


@pytest.mark.parametrize("case", GRAPH_CASES, ids=lambda c: c.file)
def test_bad_graph_file(case, capsys, outputs):
    available = commands()
    calls = [["info", case.path], ["evaluate", case.path, outputs.json, "--gantt", outputs.png]]
    if "schedule" in available:
        calls.append(["schedule", case.path, "-o", outputs.json, "--gantt", outputs.png, "--gpus", "2"])
    if "solve" in available:
        calls.append(["solve", case.path, "-o", outputs.json, "--time-limit", "1"])
    for argv in calls:
        assert_one_line_error(*run(capsys, *argv), case.culprit)
    outputs.assert_untouched()


@pytest.mark.parametrize("case", SCHEDULE_CASES, ids=lambda c: c.file)
def test_bad_schedule_file(case, capsys, outputs):
    code, out, err = run(capsys, "evaluate", "named:diamond", case.path, "--gantt", outputs.png)
    assert_one_line_error(code, out, err, case.culprit)
    outputs.assert_untouched()


@pytest.mark.parametrize("command", ["info", "evaluate"])
def test_directory_and_missing_file(command, capsys, tmp_path, outputs):
    good_schedule = tmp_path / "s.json"
    Schedule.sequential(generators.diamond().topological_order()).save(good_schedule)
    for target in (tmp_path, tmp_path / "missing.json"):
        argv = ["info", target] if command == "info" else ["evaluate", "named:diamond", target, "--gantt",
                                                             outputs.png]
        assert_one_line_error(*run(capsys, *argv), str(target))
    if command == "evaluate":  # the graph side of evaluate
        assert_one_line_error(*run(capsys, "evaluate", tmp_path, good_schedule), str(tmp_path))
    outputs.assert_untouched()


def test_schedule_for_another_graph_is_still_one_line(capsys, tmp_path):
    """A wrong schedule for another graph: the 'made for graph X' hint rides
    on the one error line instead of a second stderr line."""
    path = tmp_path / "s.json"
    Schedule([Stage(0, ("x",))], graph_name="other").save(path)
    line = assert_one_line_error(*run(capsys, "evaluate", "named:diamond", path), "'x'")
    assert "'other'" in line
    # and a schedule that fits still evaluates, with the note
    Schedule.sequential(generators.diamond().topological_order(), graph_name="other").save(path)
    code, out, err = run(capsys, "evaluate", "named:diamond", path)
    assert code == 0 and "makespan" in out and "note:" in err


# --------------------------------------------------------- output targets
def test_generate_output_targets(capsys, tmp_path, outputs):
    a_file = tmp_path / "plain"
    a_file.write_text("x")
    # the output is a directory, or lies under a file
    assert_one_line_error(*run(capsys, "generate", "-o", outputs.folder), str(outputs.folder))
    assert_one_line_error(*run(capsys, "generate", "-o", a_file / "g.json"), str(a_file / "g.json"))
    # bad parameters never reach the existing output file
    for extra, culprit in ((["--named", "nope"], "'nope'"), (["--nodes", "5"], "layers"),
                           (["--nodes", "10", "--edges", "2", "--layers", "2"], "2 edges"),
                           (["--ccr", "1e308"], "comm_ms")):
        assert_one_line_error(*run(capsys, "generate", "-o", outputs.json, *extra), culprit)
    outputs.assert_untouched()
    assert a_file.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outputs", "plain"]


def test_evaluate_gantt_targets(capsys, tmp_path, outputs):
    good = tmp_path / "s.json"
    Schedule.sequential(generators.diamond().topological_order()).save(good)
    a_dir = tmp_path / "chart.png"
    a_dir.mkdir()
    a_file = tmp_path / "plain"
    a_file.write_text("x")
    for target, culprit in ((outputs.csv, "out.csv"), (a_dir, str(a_dir)), (a_file / "g.png", str(a_file))):
        assert_one_line_error(*run(capsys, "evaluate", "named:diamond", good, "--gantt", target), culprit)
    outputs.assert_untouched()
    assert list(a_dir.iterdir()) == [] and a_file.read_text() == "x"


def test_schedule_output_targets(capsys, outputs):
    assert "schedule" in commands()
    assert_one_line_error(*run(capsys, "schedule", "named:diamond", "-o", outputs.folder), str(outputs.folder))
    assert_one_line_error(*run(capsys, "schedule", "named:diamond", "-a", "nope", "-o", outputs.json), "'nope'")
    assert_one_line_error(*run(capsys, "schedule", "named:diamond", "-a", "heft", "-w", "2", "-o", outputs.json),
                          "--window")
    outputs.assert_untouched()


@pytest.mark.parametrize("command", ["schedule", "solve"])
def test_bad_gantt_leaves_schedule_output_alone(command, capsys, outputs):
    assert command in commands()
    assert_one_line_error(*run(capsys, command, "named:diamond", "-o", outputs.json, "--gantt", outputs.csv),
                          "out.csv")
    outputs.assert_untouched()


def test_solve_output_targets(capsys, outputs):
    assert "solve" in commands()
    assert_one_line_error(*run(capsys, "solve", "named:diamond", "-o", outputs.folder, "--time-limit", "1"),
                          str(outputs.folder))
    assert_one_line_error(*run(capsys, "solve", "named:diamond", "-o", outputs.json, "--solver", "nope"), "'nope'")
    outputs.assert_untouched()


def test_solve_refuses_a_large_instance_up_front(capsys, tmp_path, outputs):
    assert "solve" in commands()
    big = tmp_path / "big.json"
    generators.random_layered(3000, 6000, 60, 0.5, seed=0).save(big)
    line = assert_one_line_error(*run(capsys, "solve", big, "--gpus", "4", "--streams", "2", "-o", outputs.json,
                                      "--time-limit", "60"), "3000 ops")
    assert "streams=1" in line  # it says what to change
    outputs.assert_untouched()


# ------------------------------------------------------------ mutation fuzz
def test_mutated_files_through_the_cli(capsys, tmp_path, outputs):
    """Seeded random mutations of a graph and a schedule file: each run either
    succeeds or fails with exactly one error line; outputs stay untouched
    when it fails."""
    rng = random.Random(99)
    graph_base, sched_base = small_graph_dict(), valid_schedule_dict(1)
    good_graph = tmp_path / "good_graph.json"
    generators.random_layered(16, 32, 4, ccr=0.5, seed=3).save(good_graph)
    failures = 0
    for case in range(CLI_MUTATION_CASES):
        path = tmp_path / f"case{case}.json"
        if case % 2 == 0:
            path.write_text(json.dumps(mutate(graph_base, rng), allow_nan=True))
            argv = ["info", path, "--json"]
        else:
            path.write_text(json.dumps(mutate(sched_base, rng), allow_nan=True))
            # drawing a chart costs ~0.1 s, so only every fifth run asks for one
            argv = ["evaluate", good_graph, path, *(["--gantt", outputs.png] if case % 5 == 1 else ["--json"])]
        code, out, err = run(capsys, *argv)
        if code == 0:
            if "--json" in argv:
                json.loads(out)
            outputs.before = outputs.snapshot()  # a successful evaluate may rewrite the chart
            continue
        failures += 1
        assert_one_line_error(code, out, err)
        outputs.assert_untouched()
    assert failures > CLI_MUTATION_CASES // 2


# -------------------------------------------------------------- subprocess
def run_real(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hios_opt", *map(str, argv)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_real_processes(tmp_path):
    outputs = Outputs(tmp_path / "outputs")
    for argv, culprit in (
        (["info", CORPUS / "graph_cycle.json"], "cycle"),
        (["evaluate", "named:diamond", CORPUS / "schedule_deadlock.json", "--gantt", outputs.png], "deadlock"),
        (["generate", "-o", outputs.folder], str(outputs.folder)),
    ):
        proc = run_real(*argv, cwd=tmp_path)
        assert_one_line_error(proc.returncode, proc.stdout, proc.stderr, culprit)
    outputs.assert_untouched()
