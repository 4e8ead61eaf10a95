"""The documentation site's pages run, and the site is complete.

Every ```python block of a page under ``docs/`` is executed (in order, one
namespace per page, in a temporary folder), and every line of a ```bash
block that starts with ``hios-opt`` is run through the CLI in-process,
unless it ends with ``# not run in tests``. Blocks and lines that need
PyTorch (``import torch``, or a line ending ``# needs the torch extra``) are
skipped where torch is not installed. The strict build itself runs in
``.ci/run`` (and here, when MkDocs is installed).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from hios_opt.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SKIP_MARK = "# not run in tests"
TORCH_MARK = "# needs the torch extra"
HAS_TORCH = importlib.util.find_spec("torch") is not None
PAGES = sorted(p for p in DOCS.rglob("*.md") if "_ext" not in p.parts)


def _blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)


def _name(page: Path) -> str:
    return page.relative_to(DOCS).as_posix()


def _runnable(line: str) -> bool:
    return not line.endswith(SKIP_MARK) and (HAS_TORCH or not line.endswith(TORCH_MARK))


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if _blocks(p, "python")], ids=_name)
def test_python_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for block in _blocks(page, "python"):
        if not HAS_TORCH and re.search(r"^\s*(import torch|from torch)", block, flags=re.M):
            continue
        exec(compile(block, str(page), "exec"), namespace)


def _cli_lines() -> list[tuple[Path, str]]:
    lines = []
    for page in PAGES:
        for block in _blocks(page, "bash"):
            for line in block.splitlines():
                line = line.strip()
                if line.startswith("hios-opt ") and _runnable(line):
                    lines.append((page, line))
    return lines


@pytest.mark.parametrize("page, line", _cli_lines(), ids=[f"{_name(p)}: {line[:60]}" for p, line in _cli_lines()])
def test_cli_examples_run(page, line, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for earlier_page, earlier in _cli_lines():  # files an earlier example of the page wrote
        if earlier == line and earlier_page == page:
            break
        if earlier_page == page and " -o " in earlier:
            main(shlex.split(earlier.split("#")[0])[1:])
    try:
        code = main(shlex.split(line.split("  #")[0])[1:])
    except SystemExit as exc:  # --version, --help
        code = exc.code
    assert code == 0, line


def _nav_pages() -> list[str]:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    return re.findall(r":\s*([\w/.-]+\.md)\s*$", text, flags=re.M)


def test_every_nav_entry_exists():
    for page in _nav_pages():
        assert (DOCS / page).is_file(), page


def test_the_guides_the_issue_asks_for_are_in_the_nav():
    nav = set(_nav_pages())
    assert {"install.md", "quickstart.md", "design.md", "tables.md", "howto/choose-solver.md", "howto/read-gap.md",
            "howto/profile-model.md", "studies.md"} <= nav
    assert any(p.startswith("reference/") for p in nav) and any(p.startswith("results/") for p in nav)


def test_design_page_is_the_contract():
    text = (DOCS / "design.md").read_text(encoding="utf-8")
    for heading in ("## 1. The problem", "## 2. One evaluator", "## 3. Algorithms", "## 4. Executor",
                    "## 5. Files and formats", "## 6. Layout"):
        assert heading in text
    cited = subprocess.run(["git", "grep", "-l", "DESIGN" + ".md", "--", "hios_opt", "tests"], cwd=ROOT,
                           capture_output=True, text=True)
    assert cited.stdout == "", f"cite docs/design.md instead: {cited.stdout}"


@pytest.mark.slow
def test_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir",
                           str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "exact" / "index.html").is_file()
