"""Every lower bound the package has, within a budget, and the largest."""

from __future__ import annotations

import math
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from ..costs import StageModel, default_model
from ..graph import OpGraph
from ..platform import Platform
from .cheap import critical_path_bound, work_bound
from .energy import energy_bound
from .paths import heads, tails
from .series import series_bound, series_points, series_segments

__all__ = ["BoundReport", "best_bound", "ENERGY_WORK_LIMIT", "SERIES_MAX_OPS"]

#: Largest ``points**2 * ops`` the window-energy bound may cost (about a
#: second of NumPy); larger graphs get fewer window edges.
ENERGY_WORK_LIMIT = 6e7

#: Largest graph the series decomposition (:mod:`.series`) is tried on.
SERIES_MAX_OPS = 20_000


@dataclass(frozen=True)
class BoundReport:
    """What :func:`best_bound` found.

    ``value_ms`` is the largest bound; ``parts`` each bound's value by name
    (``critical_path``, ``work``, ``paths``, ``energy``, and ``series``: the
    others summed over the pieces between series points, on graphs that
    have them), ``seconds`` the time
    each took, ``skipped`` the bounds left out and why, and ``best`` the name
    of the bound that gave ``value_ms``.
    """

    value_ms: float
    best: str
    parts: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"value_ms": self.value_ms, "best": self.best, "parts": dict(self.parts),
                "seconds": dict(self.seconds), "skipped": dict(self.skipped)}


_CACHE: weakref.WeakKeyDictionary[Any, dict[Any, BoundReport]] = weakref.WeakKeyDictionary()


def best_bound(graph: OpGraph, platform: Platform, cost_model: StageModel | None = None, *,
               time_limit: float | None = 10.0) -> BoundReport:
    """Run every bound in turn (cheapest first) and keep the largest.

    A bound whose estimated cost would pass ``time_limit`` seconds is
    skipped and said so in ``skipped``. The report is cached per graph,
    platform and cost model (graphs are immutable).

    >>> from hios_opt import Platform, generators
    >>> g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=5.0)
    >>> r = best_bound(g, Platform(gpus=2))
    >>> r.value_ms, r.best, r.parts["critical_path"]
    (10.0, 'paths', 6.0)
    """
    model = default_model(cost_model)
    key: Any = (platform, model, time_limit)
    try:
        hash(key)
    except TypeError:  # a cost model of the caller's that cannot be hashed: no cache
        key = None
    per_graph = _CACHE.setdefault(graph, {})
    found = per_graph.get(key) if key is not None else None
    if found is not None:
        return found
    budget_end = time.monotonic() + (time_limit if time_limit is not None else math.inf)
    parts, seconds, skipped = _static_parts(graph, platform, model, budget_end)
    if graph.n_ops > SERIES_MAX_OPS:
        skipped["series"] = f"{graph.n_ops:,} ops: more than {SERIES_MAX_OPS:,} for the series decomposition"
    else:
        t0 = time.monotonic()
        points = series_points(graph)
        if sum(len(piece) > 2 for piece in series_segments(graph, points)) >= 2:
            parts["series"] = series_bound(
                graph, model, lambda sub: max(_static_parts(sub, platform, model, budget_end)[0].values()),
                points=points)
        else:
            skipped["series"] = "fewer than two pieces between series points"
        seconds["series"] = time.monotonic() - t0
    best = max(parts, key=lambda name: parts[name])
    report = BoundReport(parts[best], best, parts, seconds, skipped)
    if key is not None:
        per_graph[key] = report
    return report


def _static_parts(graph: OpGraph, platform: Platform, model: StageModel,
                  budget_end: float) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
    """Every bound but the series one: (values, seconds, skipped) by name."""
    parts: dict[str, float] = {}
    seconds: dict[str, float] = {}
    skipped: dict[str, str] = {}

    def timed(name: str, fn: Any) -> Any:
        t0 = time.monotonic()
        value = fn()
        seconds[name] = time.monotonic() - t0
        return value

    parts["critical_path"] = timed("critical_path", lambda: critical_path_bound(graph, model))
    parts["work"] = timed("work", lambda: work_bound(graph, platform, model))
    head = timed("heads", lambda: heads(graph, platform, model))
    tail = timed("tails", lambda: tails(graph, platform, model))
    d = model.min_duration(graph)
    parts["paths"] = max((h + x + t for h, x, t in zip(head, d, tail)), default=0.0)
    n = max(1, graph.n_ops)
    points = int(min(400, math.sqrt(ENERGY_WORK_LIMIT / n)))
    estimate = 2e-8 * points * points * n
    if points < 2:
        skipped["energy"] = f"{graph.n_ops:,} ops: too many for window energy"
    elif time.monotonic() + estimate > budget_end:
        skipped["energy"] = f"estimated {estimate:.1f} s, past the time limit"
    else:
        parts["energy"] = timed("energy", lambda: energy_bound(graph, platform, model, head=head, tail=tail,
                                                               max_points=points))
    return parts, seconds, skipped
