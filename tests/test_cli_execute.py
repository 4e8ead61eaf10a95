"""``hios-opt run`` and ``hios-opt bench-real`` end to end (in-process), on SqueezeNet at 32 px."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from hios_opt import Schedule
from hios_opt.cli import main

MODEL = ["squeezenet", "--input-size", "32"]


@pytest.fixture(scope="module", autouse=True)
def one_thread_private_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("HIOS_OPT_CACHE", str(tmp_path_factory.mktemp("cache")))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    mp.undo()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A profiled graph and a HIOS-LP schedule of it, made by the CLI."""
    folder = tmp_path_factory.mktemp("run")
    graph, schedule = folder / "graph.json", folder / "schedule.json"
    assert main(["profile", *MODEL, "--threads", "1", "--repeat", "3", "--warmup", "1", "--max-pairs", "10",
                 "-o", str(graph), "-q"]) == 0
    assert main(["schedule", str(graph), "-k", "2", "-s", "2", "-o", str(schedule)]) == 0
    return graph, schedule


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_run_end_to_end(files, tmp_path, capsys) -> None:
    graph, schedule = files
    capsys.readouterr()
    trace = tmp_path / "trace.json"
    assert main(["run", *MODEL, "--schedule", str(schedule), "--graph", str(graph), "--repeat", "3",
                 "--warmup", "1", "--trace-out", str(trace), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["outputs_ok"] is True and out["max_abs_diff"] <= 1e-4
    assert out["runs"] == 3 and out["p10_ms"] <= out["median_ms"] <= out["p90_ms"] and out["median_ms"] > 0
    assert out["gpus"] == 2 and out["streams"] == 2 and out["algorithm"] == "hios-lp"
    assert out["predicted_ms"] == pytest.approx(Schedule.load(schedule).makespan_ms)
    assert out["prediction_error"] == pytest.approx((out["median_ms"] - out["predicted_ms"]) / out["predicted_ms"])
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e.get("cat") == "op" for e in events)


def test_run_profiles_without_a_graph(files, capsys) -> None:
    _, schedule = files
    capsys.readouterr()
    assert main(["run", *MODEL, "--schedule", str(schedule), "--repeat", "2", "--warmup", "0",
                 "--max-pairs", "0"]) == 0
    out = capsys.readouterr().out
    assert "measured  median" in out and "predicted" in out and "profiled on cpu (1 thread(s)" in out
    assert "outputs equal the plain forward pass (torch.allclose rtol=0.0001, atol=1e-05" in out


def test_run_mismatched_schedule(files, tmp_path, capsys) -> None:
    _, schedule = files
    data = json.loads(schedule.read_text())
    victim = data["stages"][0]["ops"][0]
    data["stages"][0]["ops"][0] = "no_such_op"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["run", *MODEL, "--schedule", str(bad), "--repeat", "1", "--max-pairs", "0"]) == 2
    err = one_error_line(capsys)
    assert "'no_such_op'" in err and repr(victim) in err


def test_run_graph_of_another_input_size(files, capsys) -> None:
    graph, schedule = files
    capsys.readouterr()
    assert main(["run", "squeezenet", "--input-size", "40", "--schedule", str(schedule), "--graph",
                 str(graph)]) == 2
    assert "input shape" in one_error_line(capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_run_cuda_without_gpu(files, capsys) -> None:
    _, schedule = files
    capsys.readouterr()
    assert main(["run", *MODEL, "--schedule", str(schedule), "--device", "cuda"]) == 2
    assert "cuda" in one_error_line(capsys).lower()
    assert main(["run", *MODEL, "--schedule", str(schedule), "--backend", "cuda"]) == 2
    assert "cuda" in one_error_line(capsys).lower()
    assert main(["bench-real", *MODEL, "--gpus", "2", "--device", "cuda"]) == 2
    assert "cuda" in one_error_line(capsys).lower()


def test_bench_real_table(tmp_path, capsys) -> None:
    table = tmp_path / "real.csv"
    args = ["bench-real", *MODEL, "--gpus", "2", "--streams", "2", "--algos", "sequential,hios-lp,exact",
            "--time-limit", "2", "--repeat", "3", "--rounds", "1", "--warmup", "1", "--max-pairs", "10"]
    assert main([*args, "--csv", str(table), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = out["rows"]
    assert [r["algorithm"] for r in rows] == ["sequential", "hios-lp", "exact"]
    assert all(r["measured_ms"] > 0 and r["outputs_ok"] and "prediction_error" in r for r in rows)
    assert rows[2]["status"] in ("optimal", "feasible")
    assert "cpu" in out["mapping"]
    with open(table, newline="", encoding="utf-8") as fh:
        assert [r["algorithm"] for r in csv.DictReader(fh)] == ["sequential", "hios-lp", "exact"]
    assert main(args) == 0  # the text table (profile now cached)
    text = capsys.readouterr().out
    assert "mapping: logical GPUs 0-1 -> cpu" in text
    for column in ("predicted_ms", "measured_ms", "prediction_error", "measured_speedup"):
        assert column in text


def test_cuda_graph_and_kernel_timing_need_cuda(files, capsys) -> None:
    _, schedule = files
    capsys.readouterr()
    assert main(["run", *MODEL, "--schedule", str(schedule), "--cuda-graph"]) == 2
    assert "--cuda-graph" in one_error_line(capsys)
    assert main(["bench-real", *MODEL, "--gpus", "1", "--timing", "kernel"]) == 2
    assert "--timing kernel" in one_error_line(capsys)
    assert main(["profile", *MODEL, "--timing", "kernel", "-o", "unused.json"]) == 2
    assert "--timing kernel needs a cuda device" in one_error_line(capsys)


def test_bench_real_bad_algorithm(capsys) -> None:
    assert main(["bench-real", *MODEL, "--gpus", "1", "--algos", "sequential,bogus"]) == 2
    assert "bogus" in one_error_line(capsys)
