"""README code blocks run, so they cannot rot.

Every ```python block is executed (in order, sharing one namespace, in a
temporary folder). Every line of a ```bash block that starts with
``hios-opt`` is run through the CLI in-process, unless the line ends with
``# not run in tests`` (long jobs such as the full demo and benchmarks, which
have their own tests).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from hios_opt.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
SKIP_MARK = "# not run in tests"


def _blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_readme_has_the_two_fresh_machine_commands():
    bash = "\n".join(_blocks("bash"))
    demo_line = next(line for line in bash.splitlines() if line.strip().endswith("hios-opt demo"))
    assert "pip install ." in demo_line and "torch" not in demo_line   # the demo needs no torch
    assert "python -m pytest" in bash
    ci = (README.parent / ".ci" / "run").read_text()
    test_line = next(line for line in bash.splitlines() if "python -m pytest" in line)
    # .ci/run must run exactly the README's test command
    command = test_line.split("&&")[-1].split("#")[0].strip()
    assert command in ci.splitlines()


def test_readme_is_a_short_front_page():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    for page in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (README.parent / page).is_file(), page


def test_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    blocks = _blocks("python")
    assert blocks, "README has no python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)


def _cli_lines() -> list[str]:
    lines = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("hios-opt ") and not line.endswith(SKIP_MARK):
                lines.append(line)
    return lines


@pytest.mark.parametrize("line", _cli_lines())
def test_cli_examples_run(line, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Examples may read files an earlier example wrote: run the file-making
    # examples first in this folder.
    for earlier in _cli_lines():
        if earlier == line:
            break
        if " -o " in earlier:
            main(shlex.split(earlier)[1:])
    assert main(shlex.split(line)[1:]) == 0, line
