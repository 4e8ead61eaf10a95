"""Optional dependencies: a clear error naming the extra that brings them.

Scheduling, solving, the demo and the plots need no PyTorch; tracing,
profiling, estimating costs from a model and the executor do. They come with
the ``torch`` extra (``pip install 'hios_opt[torch]'``).
"""

from __future__ import annotations

from .errors import MissingDependencyError

__all__ = ["EXTRAS", "missing_dependency", "is_missing"]

#: Importable top-level name -> (extra that installs it, what needs it).
EXTRAS = {
    "torch": ("torch", "tracing, profiling, estimating costs from a model and the executor"),
}


def missing_dependency(name: str) -> MissingDependencyError:
    """The error to raise when the optional package ``name`` is missing.

    >>> print(missing_dependency("torch"))  # doctest: +ELLIPSIS
    torch is not installed, and ... need it: pip install 'hios_opt[torch]' ...
    """
    extra, needed_for = EXTRAS[name]
    return MissingDependencyError(
        f"{name} is not installed, and {needed_for} need it: pip install 'hios_opt[{extra}]' "
        "(the install guide says how to get a CPU-only or a CUDA build)"
    )


def is_missing(exc: BaseException) -> str | None:
    """The optional package whose absence ``exc`` reports, if any."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.split(".")[0]
        if top in EXTRAS:
            return top
    return None
