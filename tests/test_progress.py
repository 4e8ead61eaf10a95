"""Live progress of a solve: on a terminal (a pseudo-terminal here), in Python."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time

import pytest

import hios_opt as ho
from hios_opt.exact import SolveProgress
from hios_opt.progress import SolveProgressBar

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs a pseudo-terminal")


def run_on_a_terminal(*argv: str, timeout: float = 60.0) -> tuple[int, list[tuple[float, str]]]:
    """Run ``hios-opt ARGV`` with a pseudo-terminal as its terminal; return its
    exit code and what it wrote, in chunks with the time each arrived."""
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "hios_opt", *argv], stdin=slave, stdout=slave, stderr=slave,
                            close_fds=True)
    os.close(slave)
    chunks: list[tuple[float, str]] = []
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < timeout:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the terminal closed: the process has ended
                    break
                if not data:
                    break
                chunks.append((time.monotonic() - t0, data.decode("utf-8", "replace")))
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=30), chunks
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def test_solve_on_a_terminal_shows_progress_at_least_every_two_seconds():
    code, chunks = run_on_a_terminal("solve", "models/nasnet_331_h100.json", "--gpus", "4", "--streams", "2",
                                     "--solver", "lns", "--time-limit", "5")
    text = "".join(c for _, c in chunks)
    assert code == 0, text[-2000:]
    assert "status" in text and "makespan" in text  # the result, after the bar
    updates = [t for t, c in chunks if re.search(r"\d+\.\d/5(\.0)? s", c)]
    assert "best=" in text and "bound=" in text and "gap=" in text
    assert len(updates) >= 3
    assert max(b - a for a, b in zip(updates, updates[1:])) <= 2.0  # refreshed at least every two seconds


def test_quiet_and_json_turn_it_off():
    for extra in (["--quiet"], ["--json"]):
        code, chunks = run_on_a_terminal("solve", "named:diamond", "--gpus", "2", "--solver", "lns",
                                         "--time-limit", "1", *extra)
        text = "".join(c for _, c in chunks)
        assert code == 0 and "best=" not in text, text


def test_progress_in_python_draws_a_bar_and_calls_the_callback_too(capsys):
    seen = []
    g = ho.generators.random_layered(40, 80, 6, 0.5, seed=1)
    r = ho.solve(g, ho.Platform(gpus=2, streams=2), "lns", time_limit=2, progress=True, callback=seen.append)
    err = capsys.readouterr().err
    assert "lns: " in err and f"{r.makespan_ms:.6g} ms" in err
    assert seen and all(isinstance(e, SolveProgress) for e in seen)


def test_bar_without_a_time_limit_counts_seconds():
    import io

    out = io.StringIO()
    with SolveProgressBar(None, file=out) as bar:
        bar(SolveProgress(0.5, 10.0, 8.0, None, "heft"))
    assert "best=10 ms" in out.getvalue() and "gap=25.00%" in out.getvalue()
