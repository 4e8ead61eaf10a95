"""What the command line prints (issue #22): names that could drive the
terminal, culprits of megabytes, argparse's rejections, Ctrl-C while it
loads, a stdout closed by its reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hios_opt as ho
from hios_opt.cli import MAX_ERROR_CHARS, main

from .support.cli import assert_one_line_error, run

posix_only = pytest.mark.skipif(os.name != "posix", reason="needs POSIX special files")


# ----------------------------------------------------------- what is printed
def _graph_named(tmp_path: Path, name: str) -> Path:
    d = ho.generators.diamond().to_dict()
    d["name"] = name
    path = tmp_path / "named.json"
    path.write_text(json.dumps(d))  # ensure_ascii: escapes, even for a lone surrogate
    return path


@pytest.mark.parametrize("command", [["info"], ["compare", "--algos", "sequential,hios-lp"],
                                     ["info", "--json"], ["schedule", "--json"]])
def test_names_cannot_drive_the_terminal(command, capsys, tmp_path):
    """A graph name with ANSI escapes or newlines went raw to the terminal (it
    could clear the screen and forge an ``error:`` line); a lone surrogate
    crashed the plain output with UnicodeEncodeError."""
    path = _graph_named(tmp_path, "evil\x1b[2J\nerror: forged \udc80 \x9b1m")
    code, out, err = run(capsys, command[0], path, *command[1:])
    assert code == 0, err
    assert err == ""
    assert not any(c in out for c in "\x1b\x9b\udc80")
    assert not any(line.startswith("error:") for line in out.splitlines())
    if "--json" in command:
        assert json.loads(out)  # still JSON
    else:
        assert "evil\\x1b[2J\\nerror: forged \\udc80" in out


def test_error_lines_escape_names(capsys, tmp_path):
    d = ho.generators.diamond().to_dict()
    d["name"], d["ops"], d["edges"] = "evil\x1b[2J\nerror: forged", [], []
    path = tmp_path / "empty.json"
    path.write_text(json.dumps(d))
    code, out, err = run(capsys, "info", path)
    line = assert_one_line_error(code, out, err)
    assert "\x1b" not in line and "\\x1b" in line


def test_a_culprit_of_megabytes_is_cut(capsys, tmp_path):
    """An error naming a 50 MB op id was one 104 MB line."""
    d = ho.generators.diamond().to_dict()
    huge = "x" * 3_000_000
    d["ops"][1]["id"] = d["ops"][2]["id"] = huge
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(d))
    line = assert_one_line_error(*run(capsys, "info", path), "duplicate op id")
    assert len(line) < MAX_ERROR_CHARS + 100 and "(ops #1 and #2)" in line
    with pytest.raises(ho.errors.DuplicateOpError) as info:  # the Python API's message is short too
        ho.OpGraph.load(path)
    assert len(str(info.value)) < 500


@pytest.mark.parametrize("argv, culprit", [
    (["solve", "named:diamond", "--seed", "x"], "--seed"),
    (["nope"], "invalid choice: 'nope'"),
    (["schedule"], "required: graph"),
    (["schedule", "named:diamond", "--gpus", "0"], "--gpus"),
    (["info", "named:diamond", "--bogus"], "--bogus"),
])
def test_argparse_rejections_are_one_line(argv, culprit, capsys):
    """argparse printed a 6-7 line usage block."""
    line = assert_one_line_error(*run(capsys, *argv), culprit)
    assert "--help" in line


def test_ctrl_c_while_the_parser_is_built(capsys, monkeypatch):
    """A Ctrl-C in the first 0.1 s printed a KeyboardInterrupt traceback."""
    import hios_opt.cli as cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    code = main(["info", "named:diamond"])
    assert code == 130 and capsys.readouterr().err == "error: interrupted\n"


@posix_only
def test_closed_stdout_is_not_an_error(tmp_path):
    """``--json | head -1`` turned success into ``error: cannot access: Broken pipe``, exit 2."""
    proc = subprocess.Popen([sys.executable, "-m", "hios_opt", "compare", "named:inception-block", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    proc.stdout.close()  # the reader has gone before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""
