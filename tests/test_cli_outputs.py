"""Output targets on the command line (issue #22): a character device, /dev/full,
a FIFO, a link, a file with its own mode, the input itself, two outputs that
are one file, a missing folder. Nothing is replaced, lost or created by
mistake."""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
import threading
from pathlib import Path

import pytest

import hios_opt as ho

from .support.cli import assert_one_line_error, run

posix_only = pytest.mark.skipif(os.name != "posix", reason="needs POSIX special files")


@pytest.fixture
def graph_file(tmp_path) -> Path:
    path = tmp_path / "g.json"
    ho.generators.diamond().save(path)
    return path


def make_char_device(path: Path, minor: int) -> None:
    """A copy of /dev/null (minor 3) or /dev/full (minor 7) at ``path``
    (needs root). The tests never name the real devices: should the bug come
    back, a test run as root would replace them."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    except (PermissionError, AttributeError, OSError) as exc:
        pytest.skip(f"cannot make a character device here ({exc})")


# ------------------------------------------------------------ output targets
@posix_only
def test_output_to_a_character_device_writes_through(capsys, tmp_path, graph_file):
    """``-o`` replaced a character device (a copy of /dev/null) with a regular file."""
    device = tmp_path / "null"
    make_char_device(device, 3)
    code, out, err = run(capsys, "schedule", graph_file, "-o", device)
    assert code == 0, err
    assert stat.S_ISCHR(os.stat(device).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json", "null"]


@posix_only
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux's full device (1, 7)")
def test_output_to_a_full_device_is_an_error(capsys, tmp_path, graph_file):
    """``-o /dev/full`` exited 0 instead of reporting ENOSPC (and replaced it)."""
    device = tmp_path / "full"
    make_char_device(device, 7)
    line = assert_one_line_error(*run(capsys, "schedule", graph_file, "-o", device), str(device))
    assert os.strerror(errno.ENOSPC) in line
    assert stat.S_ISCHR(os.stat(device).st_mode)


@posix_only
def test_output_to_a_fifo_writes_through(capsys, tmp_path, graph_file):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    code, out, err = run(capsys, "schedule", graph_file, "-o", fifo)
    reader.join(timeout=30)
    assert code == 0, err
    assert json.loads(received[0])["format"] == "hios-opt/schedule"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@posix_only
def test_output_through_a_link_replaces_the_target_and_keeps_the_link(capsys, tmp_path, graph_file):
    target = tmp_path / "real.json"
    target.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(target.name)
    assert run(capsys, "schedule", graph_file, "-o", link)[0] == 0
    assert link.is_symlink() and json.loads(target.read_text())["format"] == "hios-opt/schedule"


@posix_only
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604])
def test_replacing_a_file_keeps_its_mode(mode, capsys, tmp_path, graph_file):
    """Replacing a 0600 file left it 0644."""
    out = tmp_path / "s.json"
    out.write_text("{}")
    os.chmod(out, mode)
    assert run(capsys, "schedule", graph_file, "-o", out)[0] == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == mode
    assert json.loads(out.read_text())["format"] == "hios-opt/schedule"


@pytest.mark.parametrize("argv", [
    ["schedule", "{g}", "-o", "{g}"],
    ["schedule", "{g}", "-o", "{dot_g}"],
    ["solve", "{g}", "-o", "{g}", "--time-limit", "5"],
    ["compare", "{g}", "--algos", "sequential", "--csv", "{g}"],
    ["evaluate", "{g}", "{s}", "--gantt", "{g_png}"],
])
def test_output_naming_an_input_is_refused(argv, capsys, tmp_path, graph_file, monkeypatch):
    """``-o`` naming the input graph overwrote the graph with the schedule."""
    monkeypatch.chdir(tmp_path)
    schedule = tmp_path / "s.json"
    ho.Schedule.sequential(ho.generators.diamond().topological_order()).save(schedule)
    png = tmp_path / "g.png"  # the same file as the graph, by another name
    os.link(graph_file, png)
    before = graph_file.read_bytes(), schedule.read_bytes()
    values = {"{g}": str(graph_file), "{dot_g}": "./g.json", "{s}": str(schedule), "{g_png}": str(png)}
    line = assert_one_line_error(*run(capsys, *[values.get(a, a) for a in argv]), "refusing to overwrite")
    assert "input graph" in line
    assert (graph_file.read_bytes(), schedule.read_bytes()) == before


def test_two_outputs_naming_one_file_are_refused(capsys, tmp_path, graph_file):
    out = tmp_path / "s.png"
    assert_one_line_error(*run(capsys, "schedule", graph_file, "-o", out, "--gantt", out), "one file")
    assert not out.exists()


def test_output_in_a_missing_folder_is_refused(capsys, tmp_path, graph_file):
    """``-o /nonexistent/dir/x.json`` made folders at the root."""
    missing = tmp_path / "no" / "such" / "dir" / "x.json"
    for argv in (["schedule", graph_file, "-o", missing], ["generate", "-o", missing],
                 ["solve", graph_file, "--gantt", tmp_path / "nope" / "g.png"]):
        assert_one_line_error(*run(capsys, *argv), "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json"]


