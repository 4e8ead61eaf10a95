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

from typing import Any

from ..costs import StageModel
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .baselines import heft, sequential
from .best import best_of
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
from .registry import BEST, BEST_OPTIONS, algorithm_options, algorithms, canonical, check_options, run
from .sufferage import sufferage

__all__ = ["schedule", "algorithms", "algorithm_options", "hios_lp", "hios_mr", "ios", "heft", "sequential",
           "intra_gpu", "cpop", "etf", "dls", "mcp", "fcp", "flb", "min_min", "max_min", "duplex", "sufferage",
           "best_of", "BEST"]


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
    name = canonical(algorithm)
    if name == BEST:
        check_options(name, BEST_OPTIONS, options)
        return best_of(graph, platform, cost_model=cost_model, **options)
    return run(graph, platform, name, cost_model=cost_model, **options)
