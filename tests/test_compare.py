"""compare() and the ``schedule`` / ``compare`` commands."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys

import pytest

from hios_opt import Platform, Schedule, algorithms, evaluate, generators, lower_bound
from hios_opt.bounds import best_bound
from hios_opt.cli import main
from hios_opt.comparison import compare
from hios_opt.errors import AlgorithmError, OptionError


def test_one_row_per_algorithm():
    # fork-join, c = 0.5, 2 GPUs: sequential 10; HEFT 6.5; HIOS-LP 7 (see test_hios_lp).
    g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=0.5)
    p = Platform(gpus=2)
    df = compare(g, p)
    assert list(df.columns) == ["graph", "ops", "gpus", "streams", "algorithm", "makespan_ms", "lower_bound_ms", "gap",
                                "speedup", "status", "time_s"]
    assert list(df.algorithm) == algorithms()
    assert (df.graph == g.name).all() and (df.ops == 4).all() and (df.gpus == 2).all() and (df.streams == 1).all()
    # the best bound of hios_opt.bounds (here the join's: 1 + 4 + 0.5 + 1), at least the cheap one
    assert (df.status == "heuristic").all() and (df.lower_bound_ms == best_bound(g, p).value_ms).all()
    assert best_bound(g, p).value_ms == 6.5 > lower_bound(g, p)
    rows = df.set_index("algorithm")
    assert rows.loc["sequential", "makespan_ms"] == 10.0 and rows.loc["sequential", "speedup"] == 1.0
    assert rows.loc["heft", "makespan_ms"] == 6.5
    assert math.isclose(rows.loc["heft", "speedup"], 10.0 / 6.5)
    assert math.isclose(rows.loc["hios-lp", "gap"], 7.0 / 6.5 - 1)
    assert (df.time_s >= 0).all()
    assert df.attrs["sequential_ms"] == 10.0
    for name, s in df.attrs["schedules"].items():
        assert evaluate(g, p, s).makespan == rows.loc[name, "makespan_ms"]


def test_subset_options_and_errors():
    g = generators.wide_layer(width=4)
    p = Platform(gpus=1, streams=3)
    df = compare(g, p, "hios-lp,heft", window=3)
    assert list(df.algorithm) == ["hios-lp", "heft"]
    assert df.attrs["schedules"]["hios-lp"].meta["window"] == 3
    assert df.attrs["sequential_ms"] == g.total_latency_ms  # computed even when not listed
    with pytest.raises(OptionError, match="none of heft, sequential takes option 'window'"):
        compare(g, p, ["heft", "sequential"], window=2)
    with pytest.raises(AlgorithmError, match="unknown algorithm 'lp'"):
        compare(g, p, ["lp"])
    with pytest.raises(AlgorithmError, match="unknown exact solver 'gurobi'"):
        compare(g, p, ["heft"], exact="gurobi")
    with pytest.raises(OptionError, match="time_limit"):
        compare(g, p, ["heft"], exact="cpsat", time_limit=0)


@pytest.mark.parametrize("solver", ["cpsat", "portfolio"])
def test_exact_row_and_gaps(solver):
    g = generators.diamond(comm_ms=0.5)
    p = Platform(gpus=2, streams=2)
    df = compare(g, p, ["sequential", "heft", "hios-lp"], exact=solver, time_limit=20)
    exact = df.iloc[-1]
    assert exact.algorithm == f"exact-{solver}" and exact.status == "optimal"
    bound = df.attrs["exact_lower_bound_ms"]
    assert exact.makespan_ms <= df.makespan_ms.iloc[:-1].min() + 1e-9  # warm-started from the best
    assert exact.gap == 0.0 and (df.lower_bound_ms == bound).all()
    for row in df.itertuples():
        assert math.isclose(row.gap, (row.makespan_ms - bound) / bound, abs_tol=1e-9)
        assert row.gap >= 0.0
    assert (df.status.iloc[:-1] == "heuristic").all()


# ---------------------------------------------------------------------- CLI
def test_cli_schedule(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["schedule", "named:fork-join", "--gpus", "2", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "makespan 7 ms  (hios-lp, 4 stages, 2 GPU(s) x 1 stream(s))" in text
    assert "scheduled in" in text
    s = Schedule.load(out)
    g = generators.fork_join()
    assert evaluate(g, Platform(gpus=2), s).makespan == s.makespan_ms == 7.0
    assert main(["schedule", "named:diamond", "--gpus", "2", "--streams", "2", "--algo", "ios", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["algorithm"] == "ios" and data["makespan_ms"] == 6.5 and data["scheduling_time_s"] >= 0


def test_cli_schedule_gantt(tmp_path, capsys):
    png = tmp_path / "g.png"
    assert main(["schedule", "named:inception-block", "--gpus", "2", "--streams", "2", "--gantt", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_errors(capsys):
    assert main(["schedule", "named:diamond", "--algo", "nope"]) == 2
    assert "unknown algorithm 'nope'; valid:" in capsys.readouterr().err
    assert main(["schedule", "named:diamond", "--algo", "heft", "--window", "1"]) == 2
    assert "--window: not for 'heft'; only for cpop, etf," in capsys.readouterr().err
    assert main(["schedule", "named:diamond", "--algo", "etf", "--time-limit", "1"]) == 2
    assert "--time-limit: not for 'etf'; only for best" in capsys.readouterr().err
    assert main(["schedule", "named:diamond", "--streams", "2", "--window", "3"]) == 2
    assert "window 3 is larger than the 2 stream(s)" in capsys.readouterr().err


def test_cli_compare(tmp_path, capsys):
    csv = tmp_path / "c.csv"
    assert main(["compare", "named:inception-block", "--gpus", "2", "--streams", "2", "--algos", "heft,hios-lp",
                 "--csv", str(csv)]) == 0
    text = capsys.readouterr().out
    assert "lower bound 3.90875 ms" in text and "heft" in text and "hios-lp" in text  # best_bound; optimum 4.45
    lines = csv.read_text().splitlines()
    assert lines[0] == "graph,ops,gpus,streams,algorithm,makespan_ms,lower_bound_ms,gap,speedup,status,time_s"
    assert len(lines) == 3 and lines[1].startswith("inception-block,9,2,2,heft,")
    assert main(["compare", "named:diamond", "--algos", "sequential", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rows"][0]["algorithm"] == "sequential" and data["rows"][0]["makespan_ms"] == 7.0


def test_cli_compare_exact(capsys):
    assert main(["compare", "named:diamond", "--gpus", "2", "--algos", "heft", "--exact", "cpsat",
                 "--time-limit", "20"]) == 0
    text = capsys.readouterr().out
    assert "exact-cpsat" in text and "optimal" in text


def test_schedule_handler_does_not_import_torch():
    # Only this module's commands: the handler must not pull torch (or pandas) in.
    code = (
        "import argparse, sys\n"
        "from hios_opt.cli import sched\n"
        "p = argparse.ArgumentParser(); sub = p.add_subparsers()\n"
        "sched.register(sub)\n"
        "args = p.parse_args(['schedule', 'named:diamond', '--gpus', '2'])\n"
        "args.handler(args)\n"
        "heavy = [m for m in ('torch', 'pandas', 'ortools') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "makespan 5 ms" in run.stdout


def test_register_adds_both_commands():
    from hios_opt.cli import sched

    parser = argparse.ArgumentParser()
    sched.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["compare", "g.json", "--algos", "heft", "--exact", "milp", "--time-limit", "3"])
    assert (args.algos, args.exact, args.time_limit) == ("heft", "milp", 3.0)


def test_cli_knows_every_algorithm():
    from hios_opt.cli.sched import ALGORITHMS

    assert list(ALGORITHMS) == [*algorithms(), "best"]


def test_cli_schedule_classic_and_best(capsys):
    assert main(["schedule", "named:wide-layer", "--streams", "2", "--algo", "etf", "--json"]) == 0
    merged = json.loads(capsys.readouterr().out)
    assert main(["schedule", "named:wide-layer", "--streams", "2", "--algo", "etf", "--no-intra", "--json"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert merged["meta"]["merges"] > 0 and alone["meta"]["merges"] == 0
    assert merged["makespan_ms"] < alone["makespan_ms"]
    assert main(["schedule", "named:diamond", "--gpus", "2", "--algo", "best", "--time-limit", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["algorithm"] == "best" and out["meta"]["winner"] in algorithms()
