"""The timing kernel: the one home of the problem's start rule.

A stage starts when the previous stage on its GPU has ended and every input
of every op in it is ready: an input from the same GPU when its producer's
stage ends, from another GPU the edge's delay later (the problem contract,
docs/design.md section 1). Everything that times a schedule reads that rule
from here: :mod:`.delays` (:func:`edge_delays`), :func:`longest_paths`,
:mod:`.stages` (:func:`simulate`, the evaluator's core, and
:func:`stage_order`), and :mod:`.partial` and :mod:`.editable` (incremental
timelines for the heuristics). The exact solvers time on their own integer
grids with the same functions (:meth:`EdgeDelays.mapped`);
``tests/test_timing_conformance.py`` checks that every engine agrees.
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
