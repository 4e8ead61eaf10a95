"""Collection rules for the whole suite (the doctests of ``hios_opt`` and ``tests/``).

PyTorch is optional (the ``torch`` extra). Where it is not installed, the
modules that import it at their top, directly or through a module that needs
it, are not collected, and doctests that stop for lack of it are skipped: what remains is
the suite's torch-free part, which ``.ci/run`` runs in a venv without torch.
"""

from __future__ import annotations

import importlib.util
import re

import pytest

TORCH_MISSING = importlib.util.find_spec("torch") is None
_NEEDS_TORCH = re.compile(
    r"^(?:(?:import|from) (?:torch|hios_opt\.(?:trace|profile|executor|models))\b|from hios_opt import _torch\b)", re.M)


def pytest_ignore_collect(collection_path, config):
    if TORCH_MISSING and collection_path.suffix == ".py" and collection_path.is_file():
        if collection_path.name == "_torch.py" or _NEEDS_TORCH.search(collection_path.read_text(encoding="utf-8")):
            return True
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Without torch, a doctest that fails only because torch is missing is
    skipped (tests/ gets no such pass: a torch-free feature that imports
    torch must fail there)."""
    outcome = yield
    if not (TORCH_MISSING and call.when == "call" and call.excinfo is not None and hasattr(item, "dtest")):
        return
    if _missing_torch(call.excinfo.value):
        report = outcome.get_result()
        report.outcome = "skipped"
        report.longrepr = (str(item.path), 0, "Skipped: needs torch (the [torch] extra)")


def _missing_torch(error):
    """Whether a doctest stopped only because torch is not installed: an
    example raised the import error (``UnexpectedException``), or an example
    that expects a traceback got the import error's traceback instead
    (``DocTestFailure``; pytest collects these in ``MultipleDoctestFailure``)."""
    failures = getattr(error, "failures", None)
    if failures is not None:
        return bool(failures) and all(_missing_torch(f) for f in failures)
    inner = getattr(error, "exc_info", None)  # doctest.UnexpectedException wraps what the example raised
    if inner is not None:
        error = inner[1]
        return isinstance(error, ImportError) and (
            getattr(error, "name", None) == "torch" or "hios_opt[torch]" in str(error))
    got = getattr(error, "got", None)  # doctest.DocTestFailure: the printed output
    return isinstance(got, str) and "MissingDependencyError: torch is not installed" in got
