"""CBC (``solver="milp:cbc"``) as a child process: it keeps the time limit,
stops soon after Ctrl-C, never outlives the solve (SIGTERM, SIGKILL), and
leaves no file behind on any way out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

import hios_opt as ho
from hios_opt.exact import cbc as _cbc
from hios_opt.exact.cbc import FOLDER_PREFIX, GRACE_S, sweep_folders

posix_only = pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and PR_SET_PDEATHSIG")


def hard_instance() -> tuple[ho.OpGraph, ho.Platform]:
    """60 ops on 2 GPUs x 2 streams: CBC preprocesses and cuts at the root
    for half a minute without looking at its clock or at SIGINT."""
    return ho.generators.random_layered(60, 120, 10, 0.5, 1), ho.Platform(gpus=2, streams=2)


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """The temporary directory of this process (and its children) is a fresh one."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


def test_diamond_leaves_no_file(private_tmp):
    r = ho.solve(ho.generators.diamond(), ho.Platform(gpus=2), "milp:cbc", time_limit=20, warm_start=None)
    assert r.status == "optimal" and r.makespan_ms == 5.0
    assert list(private_tmp.iterdir()) == []


def test_failing_cbc_leaves_no_file(private_tmp, monkeypatch, tmp_path):
    """A CBC that fails (here: a stand-in that exits 1 at once) is a
    SolverError without a warm start, the warm start with one; never a file left."""
    fake = tmp_path / "cbc"
    fake.write_text("#!/bin/sh\necho 'CBC stand-in: out of memory'\nexit 1\n")
    fake.chmod(0o755)
    import pulp

    monkeypatch.setattr(pulp.PULP_CBC_CMD, "pulp_cbc_path", str(fake))
    g, p = ho.generators.fork_join(3), ho.Platform(gpus=2)
    with pytest.raises(ho.errors.SolverError, match="exit status 1.*out of memory"):
        ho.solve(g, p, "milp:cbc", time_limit=20, warm_start=None)
    r = ho.solve(g, p, "milp:cbc", time_limit=20)
    assert r.solver_status == "SOLVER_FAILED" and r.status == "feasible" and "out of memory" in r.stats["solver_error"]
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize("workers,threads", [(1, None), (None, None), (2, 2)])
def test_one_worker_runs_cbc_without_threads(monkeypatch, workers, threads):
    """With one worker CBC gets no ``-threads`` option: the bundled CBC with
    ``-threads 1`` sometimes waits 10 s for a thread that never starts."""
    seen = []
    real = _cbc.run_cbc

    def spy(prob, solver, **kwargs):
        seen.append(solver.optionsDict.get("threads"))
        return real(prob, solver, **kwargs)

    monkeypatch.setattr(_cbc, "run_cbc", spy)
    r = ho.solve(ho.generators.diamond(), ho.Platform(gpus=2), "milp:cbc", time_limit=20, warm_start=None,
                 workers=workers)
    assert r.status == "optimal" and seen == [threads]


@pytest.mark.slow
@pytest.mark.parametrize("limit", [2.0, 4.0])
def test_time_limit_is_kept(limit, private_tmp):
    """CBC overran 5 s limits to 7.6 s, or ended SOLVER_FAILED / "infeasible"
    when its limit struck during preprocessing; now the whole call ends
    within the limit (plus a margin for a loaded machine) with the warm start
    or better."""
    g, p = hard_instance()
    ho.solve(ho.generators.diamond(), ho.Platform(gpus=2), "milp:cbc", time_limit=5)  # imports off the clock
    t0 = time.monotonic()
    r = ho.solve(g, p, "milp:cbc", time_limit=limit, workers=2)
    elapsed = time.monotonic() - t0
    assert elapsed < limit + 0.5, elapsed
    assert r.status == "feasible" and r.makespan_ms <= r.warm_start_makespan_ms
    assert list(private_tmp.iterdir()) == []


# ------------------------------------------------------------------ signals
_SCRIPT = textwrap.dedent("""
    import sys
    import hios_opt as ho
    g = ho.generators.random_layered(60, 120, 10, 0.5, 1)
    print("solving", flush=True)
    r = ho.solve(g, ho.Platform(gpus=2, streams=2), "milp:cbc", time_limit=120, workers=2)
    print("done", r.status, r.interrupted, flush=True)
""")


def _cbc_children(pid: int) -> list[int]:
    """Processes named cbc whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                name, _, rest = fh.read().partition(" (")[2].rpartition(") ")
        except OSError:
            continue
        if name == "cbc" and int(rest.split()[1]) == pid:
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rpartition(") ")[2].split()[0] != "Z"
    except OSError:
        return False


def _start_solving(tmp: Path) -> tuple[subprocess.Popen, int]:
    """A process solving the hard instance with CBC; returns it and CBC's pid."""
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPT], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        children = _cbc_children(proc.pid)
        if children:
            time.sleep(0.5)  # CBC at work
            return proc, children[0]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("CBC did not start within 60 s")


def _wait_gone(pid: int, seconds: float) -> bool:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@linux_only
@pytest.mark.slow
def test_sigterm_kills_cbc_and_removes_its_files(tmp_path):
    """SIGTERM left CBC running as an orphan (32 s) and 17.6 MB of files."""
    proc, cbc = _start_solving(tmp_path)
    assert [p.name for p in tmp_path.iterdir()][0].startswith(FOLDER_PREFIX)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "done" not in out
    assert _wait_gone(cbc, 2.0), "CBC outlived its parent"
    assert list(tmp_path.iterdir()) == []


@linux_only
@pytest.mark.slow
def test_sigkill_kills_cbc_and_the_next_solve_removes_its_files(tmp_path, monkeypatch):
    proc, cbc = _start_solving(tmp_path)
    proc.kill()
    proc.communicate(timeout=10)
    assert _wait_gone(cbc, 2.0), "CBC outlived its parent"
    left = list(tmp_path.iterdir())
    assert len(left) == 1 and left[0].name.startswith(FOLDER_PREFIX)
    # a folder of a live process, and one too young to judge, are kept
    monkeypatch.setattr(_cbc, "_SWEEP_AGE_S", 0.0)
    with _cbc.private_folder() as mine:
        pass
    assert not os.path.exists(mine)
    assert sweep_folders(str(tmp_path)) == 1
    assert list(tmp_path.iterdir()) == []


@linux_only
@pytest.mark.slow
def test_ctrl_c_returns_within_the_grace_period(tmp_path):
    """A Ctrl-C took 9-18 s while CBC cut at the root; now CBC gets SIGINT
    and, ignoring it, SIGKILL GRACE_S later: the warm start comes back."""
    proc, cbc = _start_solving(tmp_path)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, err
    assert "done feasible True" in out
    assert elapsed < GRACE_S + 1.5, elapsed
    assert not _alive(cbc)
    assert list(tmp_path.iterdir()) == []


@linux_only
def test_sweep_keeps_locked_and_foreign_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(_cbc, "_SWEEP_AGE_S", 0.0)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    (tmp_path / "someone-else").mkdir()
    (tmp_path / f"{FOLDER_PREFIX}a-file").write_text("not a folder")
    with _cbc.private_folder() as mine:
        assert sweep_folders(str(tmp_path)) == 0  # locked by this process
        assert os.path.isdir(mine)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{FOLDER_PREFIX}a-file", "someone-else"]
