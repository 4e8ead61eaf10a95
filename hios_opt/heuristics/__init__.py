"""The heuristic schedulers and their registry.

Each algorithm is a plain function ``f(graph, platform, *, options...) ->
Schedule`` in its own module; :func:`schedule` picks one by name and checks
its options, and :func:`algorithms` lists the names. ``sequential`` and
``ios`` use one GPU; ``hios-lp`` and ``hios-mr`` are HIOS's inter-GPU
mappings followed by its intra-GPU sliding window (:mod:`.intra`); ``heft``
and the classic list schedulers (``cpop`` to ``sufferage``, one line each in
docs/heuristics.md) map ops one at a time, then go through the same pass.
``"best"`` runs them all and keeps the shortest schedule (:func:`best_of`).

>>> from hios_opt import generators, Platform
>>> g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=0.5)
>>> schedule(g, Platform(gpus=2), "hios-lp").makespan_ms
7.0
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
from .best import BEST, best_of
from .cpop import cpop
from .dls import dls
from .duplex import duplex
from .etf import etf
from .fcp import fcp
from .flb import flb
from .hios_lp import hios_lp
from .hios_mr import hios_mr
from .intra import intra_gpu
from .ios import ios
from .mcp import mcp
from .minmin import max_min, min_min
from .sufferage import sufferage

__all__ = ["schedule", "algorithms", "algorithm_options", "hios_lp", "hios_mr", "ios", "heft", "sequential",
           "intra_gpu", "cpop", "etf", "dls", "mcp", "fcp", "flb", "min_min", "max_min", "duplex", "sufferage",
           "best_of", "BEST"]

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


#: Options of ``"best"`` (:func:`best_of`) besides cost_model.
_BEST_OPTIONS = frozenset({"time_limit", "algorithms", "window", "intra"})


def algorithms() -> list[str]:
    """The heuristics, baselines first. :func:`schedule` also accepts
    ``"best"``, which runs them and keeps the shortest schedule."""
    return list(_REGISTRY)


def algorithm_options(algorithm: str) -> list[str]:
    """The options (besides ``cost_model``) that ``algorithm`` accepts.

    >>> algorithm_options("hios-lp")
    ['intra', 'window']
    """
    name = _canonical(algorithm)
    return sorted(_BEST_OPTIONS if name == BEST else _REGISTRY[name][1])


def _canonical(algorithm: Any) -> str:
    return canonical_name(algorithm, [*_REGISTRY, BEST])


def schedule(
    graph: OpGraph,
    platform: Platform,
    algorithm: str = "hios-lp",
    *,
    cost_model: StageModel | None = None,
    **options: Any,
) -> Schedule:
    """Schedule ``graph`` on ``platform`` with the named algorithm.

    Parameters
    ----------
    graph, platform
        The problem.
    algorithm : str
        One of :func:`algorithms`, or ``"best"`` (:func:`best_of`: every
        heuristic that fits ``time_limit``, the shortest schedule kept);
        case and ``_``/``-`` do not matter.
    cost_model : StageModel, optional
        Stage-latency model (default: measured table, analytic fallback).
    **options
        Options of that algorithm: ``window`` and ``intra`` for HIOS-LP,
        HIOS-MR and the classic list schedulers (CPOP to Sufferage);
        ``max_group_size``, ``max_part_size`` and ``prune`` for IOS;
        ``time_limit``, ``algorithms``, ``window`` and ``intra`` for ``"best"``.

    Returns
    -------
    Schedule
        With ``makespan_ms`` from :func:`hios_opt.evaluate`.

    Raises
    ------
    AlgorithmError
        Unknown algorithm (the message lists the valid names).
    OptionError
        An option the algorithm does not take, or a value out of range
        (``window < 1`` or ``window > streams`` ...).

    Examples
    --------
    >>> from hios_opt import generators, Platform
    >>> schedule(generators.diamond(), Platform(gpus=1, streams=2), "ios").makespan_ms
    6.5
    >>> schedule(generators.diamond(), Platform(), "hios-lp", depth=3)
    Traceback (most recent call last):
    ...
    hios_opt.errors.OptionError: hios-lp does not take option 'depth'; it takes: intra, window
    """
    name = _canonical(algorithm)
    function, accepted = (best_of, _BEST_OPTIONS) if name == BEST else _REGISTRY[name]
    for key in options:
        if key not in accepted:
            takes = ", ".join(sorted(accepted)) if accepted else "no options"
            raise OptionError(f"{name} does not take option {key!r}; it takes: {takes}")
    return function(graph, platform, cost_model=cost_model, **options)
