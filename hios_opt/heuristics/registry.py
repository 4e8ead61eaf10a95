"""The registry of the heuristics: name -> function and the options it takes.

:func:`hios_opt.heuristics.schedule` looks names up here, and so does
:func:`~hios_opt.heuristics.best.best_of`, which runs registered heuristics
itself; ``"best"`` is a name of the registry too, though its function lives
in :mod:`hios_opt.heuristics.best` (which imports this module).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..checks import canonical_name
from ..costs import StageModel
from ..errors import OptionError
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .baselines import heft, sequential
from .cpop import cpop
from .dls import dls
from .duplex import duplex
from .etf import etf
from .fcp import fcp
from .flb import flb
from .hios_lp import hios_lp
from .hios_mr import hios_mr
from .ios import ios
from .mcp import mcp
from .minmin import max_min, min_min
from .sufferage import sufferage

__all__ = ["BEST", "BEST_OPTIONS", "algorithms", "algorithm_options", "canonical", "check_options", "run"]

#: The registry name of :func:`~hios_opt.heuristics.best.best_of`.
BEST = "best"

_MAPPING_OPTIONS = frozenset({"window", "intra"})

# name -> (function, options it accepts besides cost_model)
_REGISTRY: dict[str, tuple[Callable[..., Schedule], frozenset[str]]] = {
    "sequential": (sequential, frozenset()),
    "ios": (ios, frozenset({"max_group_size", "max_part_size", "prune"})),
    "heft": (heft, frozenset()),
    "cpop": (cpop, _MAPPING_OPTIONS),
    "etf": (etf, _MAPPING_OPTIONS),
    "dls": (dls, _MAPPING_OPTIONS),
    "mcp": (mcp, _MAPPING_OPTIONS),
    "fcp": (fcp, _MAPPING_OPTIONS),
    "flb": (flb, _MAPPING_OPTIONS),
    "minmin": (min_min, _MAPPING_OPTIONS),
    "maxmin": (max_min, _MAPPING_OPTIONS),
    "duplex": (duplex, _MAPPING_OPTIONS),
    "sufferage": (sufferage, _MAPPING_OPTIONS),
    "hios-mr": (hios_mr, _MAPPING_OPTIONS),
    "hios-lp": (hios_lp, _MAPPING_OPTIONS),
}

#: Options of ``"best"`` (:func:`~hios_opt.heuristics.best.best_of`) besides cost_model.
BEST_OPTIONS = frozenset({"time_limit", "algorithms", "window", "intra"})


def algorithms() -> list[str]:
    """The heuristics, baselines first. :func:`~hios_opt.heuristics.schedule`
    also accepts ``"best"``, which runs them and keeps the shortest schedule."""
    return list(_REGISTRY)


def canonical(algorithm: Any) -> str:
    """The registry's spelling of ``algorithm`` (a heuristic or ``"best"``),
    or :class:`~hios_opt.errors.AlgorithmError` listing the valid names."""
    return canonical_name(algorithm, [*_REGISTRY, BEST])


def algorithm_options(algorithm: str) -> list[str]:
    """The options (besides ``cost_model``) that ``algorithm`` accepts.

    >>> algorithm_options("hios-lp")
    ['intra', 'window']
    """
    name = canonical(algorithm)
    return sorted(BEST_OPTIONS if name == BEST else _REGISTRY[name][1])


def check_options(name: str, accepted: frozenset[str], options: dict[str, Any]) -> None:
    """:class:`~hios_opt.errors.OptionError` for the first option of
    ``options`` that algorithm ``name`` does not take."""
    for key in options:
        if key not in accepted:
            takes = ", ".join(sorted(accepted)) if accepted else "no options"
            raise OptionError(f"{name} does not take option {key!r}; it takes: {takes}")


def run(graph: OpGraph, platform: Platform, name: str, *, cost_model: StageModel | None = None,
        **options: Any) -> Schedule:
    """Run the registered heuristic ``name`` (canonical, not ``"best"``)
    after checking its options."""
    function, accepted = _REGISTRY[name]
    check_options(name, accepted, options)
    return function(graph, platform, cost_model=cost_model, **options)
