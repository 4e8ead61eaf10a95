"""Lower bounds on the makespan of every schedule.

Cheap ones (:mod:`.cheap`: the critical path and the work per GPU), the
communication-aware heads and tails of :mod:`.paths`, and the energy of
head/tail windows (:mod:`.energy`), each summed over the pieces between
series points (:mod:`.series`); :func:`best_bound` runs them all within a
budget and keeps the largest. Every bound holds for every schedule of the
problem (``docs/design.md``), under the analytic contention model and a
measured stage table, with uniform links or a link matrix; each function's
Notes give the argument.
"""

from __future__ import annotations

from .best import BoundReport, best_bound
from .cheap import critical_path_bound, lower_bound, work_bound
from .energy import energy_bound
from .paths import heads, path_bound, tails
from .series import induced_subgraph, series_bound, series_points, series_segments

__all__ = ["critical_path_bound", "work_bound", "lower_bound", "heads", "tails", "path_bound", "energy_bound",
           "best_bound", "BoundReport", "series_points", "series_segments", "series_bound", "induced_subgraph"]
