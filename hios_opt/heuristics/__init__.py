"""The heuristic schedulers and their registry.

Each algorithm is a plain function ``f(graph, platform, *, options...) ->
Schedule`` in its own module; :func:`schedule` picks one by name and checks
its options:

================  ==========================================================
``sequential``    one GPU, one op at a time, topological order
``ios``           IOS's dynamic programming over stages, one GPU
``heft``          HEFT list scheduling, K GPUs, one stream each
``hios-mr``       HIOS min-finish mapping + intra-GPU sliding window
``hios-lp``       HIOS longest-path mapping + intra-GPU sliding window
================  ==========================================================

Examples
--------
>>> from hios_opt import generators, Platform
>>> g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=0.5)
>>> schedule(g, Platform(gpus=2), "hios-lp").makespan_ms
7.0
>>> algorithms()
['sequential', 'ios', 'heft', 'hios-mr', 'hios-lp']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..costs import StageModel
from ..errors import AlgorithmError, OptionError
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .baselines import heft, sequential
from .hios_lp import hios_lp
from .hios_mr import hios_mr
from .intra import intra_gpu
from .ios import ios

__all__ = ["schedule", "algorithms", "algorithm_options", "hios_lp", "hios_mr", "ios", "heft", "sequential",
           "intra_gpu"]

# name -> (function, options it accepts besides cost_model)
_REGISTRY: dict[str, tuple[Callable[..., Schedule], frozenset[str]]] = {
    "sequential": (sequential, frozenset()),
    "ios": (ios, frozenset({"max_group_size", "max_part_size", "prune"})),
    "heft": (heft, frozenset()),
    "hios-mr": (hios_mr, frozenset({"window", "intra"})),
    "hios-lp": (hios_lp, frozenset({"window", "intra"})),
}


def algorithms() -> list[str]:
    """Names accepted by :func:`schedule`, baselines first."""
    return list(_REGISTRY)


def algorithm_options(algorithm: str) -> list[str]:
    """The options (besides ``cost_model``) that ``algorithm`` accepts.

    >>> algorithm_options("hios-lp")
    ['intra', 'window']
    """
    return sorted(_REGISTRY[_canonical(algorithm)][1])


def _canonical(algorithm: Any) -> str:
    if not isinstance(algorithm, str):
        raise AlgorithmError(f"algorithm must be a name, got {type(algorithm).__name__}; "
                             f"valid: {', '.join(_REGISTRY)}")
    name = algorithm.strip().lower().replace("_", "-")
    if name not in _REGISTRY:
        raise AlgorithmError(f"unknown algorithm {algorithm!r}; valid: {', '.join(_REGISTRY)}")
    return name


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
        One of :func:`algorithms` (case and ``_``/``-`` do not matter).
    cost_model : StageModel, optional
        Stage-latency model (default: measured table, analytic fallback).
    **options
        Options of that algorithm: ``window`` and ``intra`` for HIOS-LP and
        HIOS-MR; ``max_group_size``, ``max_part_size`` and ``prune`` for IOS.

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
    function, accepted = _REGISTRY[name]
    for key in options:
        if key not in accepted:
            takes = ", ".join(sorted(accepted)) if accepted else "no options"
            raise OptionError(f"{name} does not take option {key!r}; it takes: {takes}")
    return function(graph, platform, cost_model=cost_model, **options)
