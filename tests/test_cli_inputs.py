"""Inputs on the command line (issue #22): a FIFO or /dev/zero, a 2 GB file,
the size cap and its environment variable, numbers beyond the float range in
``meta``, a NaN literal (named with its op and field)."""

from __future__ import annotations

import json
import os
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


# ------------------------------------------------------------------- inputs
@posix_only
@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_non_regular_input_is_refused(kind, capsys, tmp_path):
    """A FIFO blocked forever and /dev/zero ran out of memory."""
    if kind == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)
        culprit = "FIFO"
    else:
        path, culprit = Path("/dev/zero"), "character device"
        if not path.exists():
            pytest.skip("no /dev/zero")
    assert_one_line_error(*run(capsys, "info", path), culprit)
    assert_one_line_error(*run(capsys, "evaluate", "named:diamond", path), culprit)


def test_huge_input_is_refused_before_reading(capsys, tmp_path):
    """A 2 GB sparse file peaked at 4.1 GB RSS."""
    path = tmp_path / "sparse.json"
    with open(path, "wb") as fh:
        fh.truncate(2 << 30)  # sparse: no disk space, and never read
    line = assert_one_line_error(*run(capsys, "info", path), "HIOS_OPT_MAX_INPUT_MB")
    assert "2,048.0 MiB" in line


def test_input_cap_is_set_by_the_environment(capsys, monkeypatch, graph_file):
    monkeypatch.setenv("HIOS_OPT_MAX_INPUT_MB", "0.0001")
    assert_one_line_error(*run(capsys, "info", graph_file), "HIOS_OPT_MAX_INPUT_MB")
    monkeypatch.setenv("HIOS_OPT_MAX_INPUT_MB", "lots")
    assert_one_line_error(*run(capsys, "info", graph_file), "'lots'")
    monkeypatch.setenv("HIOS_OPT_MAX_INPUT_MB", "1")
    assert run(capsys, "info", graph_file)[0] == 0


def test_meta_beyond_the_float_range(capsys, tmp_path):
    """``info --json`` with meta holding 1e400 ended in a ValueError traceback."""
    path = tmp_path / "g.json"
    path.write_text(json.dumps(ho.generators.diamond().to_dict()).replace('"source"', '"scale": 1e400, "source"'))
    for flags in ([], ["--json"]):
        assert_one_line_error(*run(capsys, "info", path, *flags), "meta")


def test_nan_literal_names_the_op_and_field(capsys, tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(ho.generators.diamond().to_dict()).replace('"latency_ms": 3.0', '"latency_ms": NaN'))
    assert_one_line_error(*run(capsys, "info", path), "ops[2].latency_ms (id 'c')")


