"""Running studies in this process and in the local pool: same rows, resume,
force, failures, dead workers, slots, Ctrl-C; the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from hios_opt.cli import main
from hios_opt.errors import StudyError
from hios_opt.study import load, only_algorithms, parse_spec, run, status

from .support.study import LONG_EXACT, SLOW_CELLS, SMALL, comparable, wait_for_rows

QUIET = {"progress": False, "verbose": False}


def test_pool_and_serial_give_the_same_rows(tmp_path):
    serial = run(SMALL, tmp_path / "serial.sqlite", workers=0, **QUIET)
    pooled = run(SMALL, tmp_path / "pool.sqlite", workers=2, **QUIET)
    assert serial.ran == pooled.ran == 36 and serial.failed == pooled.failed == 0
    a, b = load(tmp_path / "serial.sqlite"), load(tmp_path / "pool.sqlite")
    assert len(a) == 36 and a.key.is_unique
    assert comparable(a).equals(comparable(b))
    assert b.worker_pid.nunique() >= 1 and set(b.worker_pid) != {os.getpid()}
    assert set(a.worker_pid) == {os.getpid()}


def test_the_frame_has_the_schema_columns(tmp_path):
    spec = dict(SMALL, graphs=["named:diamond"], generate=[], exact=[{"solver": "cpsat", "time_limit": 5}])
    run(spec, tmp_path / "s.sqlite", workers=0, **QUIET)
    df = load(tmp_path / "s.sqlite")
    assert list(df.columns[:11]) == ["graph", "ops", "gpus", "streams", "algorithm", "makespan_ms",
                                     "lower_bound_ms", "gap", "speedup", "status", "time_s"]
    for column in ("key", "study", "variant", "graph_hash", "cpu_s", "host", "version", "error", "stats"):
        assert column in df.columns
    exact = df[df.algorithm == "exact-cpsat"]
    assert len(exact) == 4 and set(exact.status) == {"optimal"} and (exact.gap == 0).all()
    assert json.loads(exact.stats.iloc[0])["candidates"] > 0
    heuristic = df[df.status == "heuristic"]
    assert ((heuristic.makespan_ms >= heuristic.lower_bound_ms - 1e-9) & (heuristic.gap >= 0)).all()
    assert set(df.study) == {"small"} and df.error.isna().all()


def test_rerun_skips_finished_cells_and_a_new_setting_runs_only_its_cells(tmp_path):
    path = tmp_path / "s.sqlite"
    run(SMALL, path, workers=0, **QUIET)
    first = load(path).set_index("key").finished_at
    again = run(SMALL, path, workers=0, **QUIET)
    assert (again.done_before, again.to_run, again.ran) == (36, 0, 0)
    wider = run(dict(SMALL, gpus=[1, 2, 3]), path, workers=0, **QUIET)
    assert (wider.done_before, wider.to_run) == (36, 18)
    df = load(path).set_index("key")
    assert len(df) == 54 and (df.finished_at[first.index] == first).all()
    forced = run(SMALL, path, workers=0, force=True, **QUIET)
    assert forced.ran == 36
    df = load(path).set_index("key")
    assert len(df) == 54 and (df.finished_at[first.index] > first).all()


def test_a_failing_cell_never_stops_the_study(tmp_path):
    spec = dict(SMALL, algorithms=["heft", {"name": "hios-lp", "window": 2}])
    path = tmp_path / "s.sqlite"
    result = run(spec, path, workers=2, **QUIET)
    df = load(path)
    failed = df[df.status == "error"]
    # window 2 on one stream: every streams=1 cell of hios-lp fails, alone
    assert result.failed == len(failed) == 6 and set(failed.streams) == {1}
    assert failed.error.str.contains("OptionError: window").all() and failed.makespan_ms.isna().all()
    assert (df[df.status != "error"].makespan_ms > 0).all() and len(df) == 24
    st = status(spec, path)
    assert (st.cells, st.done, st.failed, st.to_run) == (24, 24, 6, 0)
    assert run(spec, path, workers=0, **QUIET).to_run == 0
    retried = run(spec, path, workers=0, retry_failed=True, **QUIET)
    assert retried.to_run == 6 and retried.failed == 6 and len(load(path)) == 24


def _pool_workers(timeout: float = 30.0) -> list[psutil.Process]:
    """The study pool's processes: this process's grandchildren (the fork server's children)."""
    me = os.getpid()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in psutil.Process(me).children(recursive=True) if p.ppid() != me]
        if len(found) >= 2:
            return found
        time.sleep(0.02)
    raise AssertionError("no pool processes appeared")


def _run_in_thread(spec, path, **options):
    outcome = {}

    def target():
        try:
            outcome["result"] = run(spec, path, workers=2, **QUIET, **options)
        except BaseException as exc:  # noqa: B036 - the test asserts on it
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


@pytest.mark.slow
def test_a_killed_pool_process_costs_its_own_cell_one_attempt(tmp_path):
    path = tmp_path / "s.sqlite"
    thread, outcome = _run_in_thread(LONG_EXACT, path)
    victim = _pool_workers()[0]
    time.sleep(0.5)  # both processes are solving
    victim.kill()
    thread.join(60)
    assert "error" not in outcome, outcome
    df = load(path)
    assert len(df) == 4 and df.key.is_unique and set(df.status) <= {"optimal", "feasible"}
    assert sorted(df.attempts) == [1, 1, 1, 2]
    assert victim.pid not in set(df.worker_pid)


@pytest.mark.slow
def test_a_cell_whose_process_dies_too_often_is_an_error_row(tmp_path):
    path = tmp_path / "s.sqlite"
    spec = dict(LONG_EXACT, generate=[dict(LONG_EXACT["generate"][0], seeds=[0, 1])])
    thread, outcome = _run_in_thread(spec, path, max_retries=0)
    victim = _pool_workers()[0]
    time.sleep(0.3)
    victim.kill()
    thread.join(60)
    result = outcome["result"]
    df = load(path)
    assert len(df) == 2 and result.failed == 1
    dead = df[df.status == "error"]
    assert dead.error.iloc[0].startswith("WorkerDied: the worker process died (exit code -9) 1 times")


@pytest.mark.slow
def test_exact_cells_take_their_workers_slots(tmp_path):
    spec = dict(LONG_EXACT, generate=[dict(LONG_EXACT["generate"][0], seeds=[0, 1, 2])],
                exact=[{"solver": "cpsat", "time_limit": 0.6, "workers": 2}])
    run(spec, tmp_path / "s.sqlite", workers=2, **QUIET)
    df = load(tmp_path / "s.sqlite").sort_values("finished_at")
    spans = list(zip(df.finished_at - df.time_s, df.finished_at))
    assert len(spans) == 3
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end - 0.05  # one 2-thread solve at a time on 2 slots


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "hios_opt", "study", *args], capture_output=True, text=True,
                          timeout=120)


def _toml(value):
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def _write_spec(tmp_path, spec):
    path = tmp_path / f"{spec['name']}.toml"
    path.write_text("".join(f"{key} = {_toml(value)}\n" for key, value in spec.items()))
    return path


@pytest.mark.slow
def test_ctrl_c_keeps_finished_cells_and_a_rerun_completes(tmp_path):
    spec_path = _write_spec(tmp_path, SLOW_CELLS)
    store = tmp_path / "s.sqlite"
    total = len(parse_spec(SLOW_CELLS).plan().cells)
    process = subprocess.Popen([sys.executable, "-m", "hios_opt", "study", "run", str(spec_path), "--store",
                                str(store), "--workers", "2", "--no-progress"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for_rows(store, 4, process=process)
        children = psutil.Process(process.pid).children(recursive=True)
        os.killpg(process.pid, signal.SIGINT)  # as a terminal does: the whole process group
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, (out, err)
    assert "interrupted" in err and "Traceback" not in err
    kept = load(store).set_index("key")
    assert 4 <= len(kept) < total
    psutil.wait_procs(children, timeout=10)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    rerun = _cli("run", str(spec_path), "--store", str(store), "--no-progress")
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(kept)} done, {total - len(kept)} to run" in rerun.stdout
    df = load(store).set_index("key")
    assert len(df) == total and df.index.is_unique
    assert (df.finished_at[kept.index] == kept.finished_at).all()  # finished cells were not run again


def test_cli_run_status_export_plot(tmp_path, capsys):
    spec = _write_spec(tmp_path, dict(SMALL, exact=[{"solver": "cpsat", "time_limit": 5}],
                                      generate=[], graphs=["named:diamond"]))
    store = tmp_path / "s.sqlite"
    assert main(["study", "run", str(spec), "--store", str(store), "--workers", "0", "--no-progress"]) == 0
    assert "small: 0 done, 16 to run" in capsys.readouterr().out
    assert main(["study", "run", str(spec), "--store", str(store), "--workers", "0"]) == 0
    assert "small: 16 done, 0 to run" in capsys.readouterr().out
    assert main(["study", "status", str(spec), "--store", str(store), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["cells"], report["done"], report["to_run"]) == (16, 16, 0)
    assert report["by_algorithm"]["exact-cpsat"]["done"] == 4
    assert main(["study", "export", str(store), "-o", str(tmp_path / "rows.csv")]) == 0
    assert (tmp_path / "rows.csv").read_text().startswith("graph,ops,gpus,streams,algorithm,makespan_ms")
    assert main(["study", "plot", str(store), "--out", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out
    assert "skipped gap_vs_size" in out  # one graph size
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {"speedup_vs_gpus.png", "time_to_proof.png",
                                                               "win_loss.png"}
    assert main(["study", "specs"]) == 0
    assert "paper-sweeps" in capsys.readouterr().out


def test_cli_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ngraphs = ["named:diamond"]\nalgorithms = ["heft"]\nrepeat = 2\n')
    assert main(["study", "run", str(bad), "--store", str(tmp_path / "s.sqlite")]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {bad}:4: repeat: unknown key; valid: algorithms, alpha, "
                                               "bandwidth_gbps, description, exact, generate, gpus, graphs, "
                                               "latency_us, name, platforms, repeats, streams, sweep, timeline")
    foreign = tmp_path / "foreign.sqlite"
    foreign.write_text("not a store")
    good = _write_spec(tmp_path, SMALL)
    assert main(["study", "run", str(good), "--store", str(foreign)]) == 2
    assert "not a study store" in capsys.readouterr().err and foreign.read_text() == "not a store"


def test_only_selects_algorithms_and_the_bar_counts_failures(tmp_path, capsys):
    path = tmp_path / "s.sqlite"
    assert run(SMALL, path, workers=0, only=only_algorithms(["heft"]), **QUIET).ran == 12
    st = status(SMALL, path)
    assert (st.cells, st.done, st.to_run) == (36, 12, 24)
    assert status(SMALL, path, only=only_algorithms(["heft", "sequential"])).to_run == 12
    with pytest.raises(StudyError, match="no cell is selected"):
        run(SMALL, path, workers=0, only=only_algorithms(["ios"]), **QUIET)
    spec = dict(SMALL, name="failing", algorithms=[{"name": "hios-lp", "window": 2}])
    run(spec, path, workers=0, progress=True, verbose=True)
    captured = capsys.readouterr()
    assert "failing: 0 done, 12 to run" in captured.out and "ran 12 cells (6 failed)" in captured.out
    assert "failed=6" in captured.err and "12/12" in captured.err


def test_load_by_spec_finds_cells_another_study_ran(tmp_path):
    path = tmp_path / "s.sqlite"
    run(SMALL, path, workers=0, **QUIET)
    subset = dict(SMALL, name="subset", gpus=[2])
    assert run(subset, path, workers=0, **QUIET).to_run == 0  # every cell was run by "small"
    assert len(load(path, spec=subset)) == 18 and set(load(path, spec=subset).study) == {"small"}
    assert len(load(path, study="subset")) == 0 and len(load(path)) == 36
