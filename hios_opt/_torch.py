"""Import PyTorch, or raise :class:`~hios_opt.errors.MissingDependencyError`
naming the ``torch`` extra.

Modules that need torch import this module before torch itself (after an
``# isort: split``), so that using them without torch says what to install
instead of ``No module named 'torch'``.
"""

from __future__ import annotations

from ._optional import missing_dependency

try:
    import torch  # noqa: F401
except ModuleNotFoundError as exc:
    if exc.name != "torch":
        raise
    raise missing_dependency("torch") from None
