"""The timing kernel: the one home of the problem's start rule.

A stage starts when the previous stage on its GPU has ended and every input
of every op in it is ready: an input from the same GPU when its producer's
stage ends, from another GPU the edge's delay later (``docs/design.md``,
section 1). Everything that times a schedule reads that rule from here:

* :mod:`.delays`: :func:`edge_delays`, each edge's delay between two GPUs;
* :func:`longest_paths` (from :mod:`hios_opt.graph`): heads and tails of ops;
* :mod:`.stages`: :func:`simulate` (earliest start and end of every stage,
  the evaluator's core) and :func:`stage_order` (an order stages can run in);
* :mod:`.partial` and :mod:`.editable`: incremental timelines for the
  heuristics (a mapping under construction, a schedule under edit).

The exact solvers time on their own integer grids with the same functions
(:meth:`EdgeDelays.mapped`), and ``tests/test_timing_conformance.py`` checks
that every engine gives the same times.
"""

from __future__ import annotations

from ..graph import longest_paths
from .delays import EdgeDelays, edge_delays
from .editable import StageTimeline
from .partial import PartialTimeline
from .stages import SimResult, simulate, stage_dependencies, stage_order

__all__ = [
    "EdgeDelays", "edge_delays", "longest_paths", "SimResult", "simulate", "stage_dependencies", "stage_order",
    "PartialTimeline", "StageTimeline",
]
