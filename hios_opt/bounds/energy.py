"""The energy of head/tail windows: work that must fall inside a window.

Every op's stage runs after its head and ends at least its tail before the
makespan (:mod:`.paths`). For a window that starts at ``a`` and ends ``b``
before the makespan, some share of every op's busy time must fall inside
it, and ``K`` GPUs hold at most ``K`` times the window's length. Where few
ops can run early or late (narrow ends of a graph, long chains of joins),
this lifts the bound above the total work divided by ``K``.
"""

from __future__ import annotations

import numpy as np

from ..costs import StageModel, default_model
from ..graph import OpGraph
from ..platform import Platform
from .paths import heads, tails

__all__ = ["energy_bound", "MAX_POINTS"]

#: Window edges tried on each side (the distinct heads, or tails, thinned to
#: this many): ``MAX_POINTS**2`` windows.
MAX_POINTS = 400


def _points(values: np.ndarray, limit: int) -> np.ndarray:
    points = np.unique(values)
    if len(points) > limit:
        points = points[np.linspace(0, len(points) - 1, limit).round().astype(int)]
    return points


def energy_bound(graph: OpGraph, platform: Platform, cost_model: StageModel | None = None, *,
                 head: list[float] | None = None, tail: list[float] | None = None,
                 max_points: int = MAX_POINTS) -> float:
    """The largest window-energy bound over windows whose edges are heads and tails.

    Notes
    -----
    Take a schedule of makespan ``C``, and ``a, b >= 0``. Op ``v``'s stage
    occupies its GPU during ``[s, s + L]`` with ``s >= H(v)`` (its head),
    ``s + L <= C - Q(v)`` (its tail) and ``L >= d(v)``. Its overlap with the
    window ``[a, C - b]`` is at least ``L - (a - s)+ - (s + L - C + b)+ >= L f(v)``
    with ``f(v) = 1 - (a - H(v))+ / d(v) - (b - Q(v))+ / d(v)``. The ops of one
    stage share its busy time, ``sum w(v) <= L`` (:meth:`StageModel.min_work`),
    so the stage's busy time inside the window is at least ``sum_{v in S} w(v)
    f(v)+``. The stages of one GPU are disjoint: each GPU is busy at most
    ``C - a - b`` inside the window. Hence ``K (C - a - b) >= E(a, b) :=
    sum_v w(v) f(v)+``, and when ``E(a, b) > 0`` the window is not empty
    (``f(v) > 0`` is impossible in an empty one), so ``C >= a + b + E(a, b) /
    K``. Ops with ``d(v) = 0`` have ``w(v) = 0`` and are left out. Delays and
    the link model enter through the heads and tails only.

    With ``a = b = 0`` this is the work bound; windows from the heads and
    tails (thinned to ``max_points`` each) are tried, all at once with NumPy.
    """
    model = default_model(cost_model)
    d = np.asarray(model.min_duration(graph), dtype=float)
    w = np.asarray(model.min_work(graph, platform.streams), dtype=float)
    h = np.asarray(head if head is not None else heads(graph, platform, cost_model), dtype=float)
    q = np.asarray(tail if tail is not None else tails(graph, platform, cost_model), dtype=float)
    keep = (d > 0) & (w > 0)
    if not keep.any():
        return 0.0
    d, w, h, q = d[keep], w[keep], h[keep], q[keep]
    k = platform.gpus
    a_points = _points(np.concatenate([[0.0], h]), max_points)
    b_points = _points(np.concatenate([[0.0], q]), max_points)
    # Left and right losses of every op at every edge: (points x ops).
    left = np.maximum(a_points[:, None] - h[None, :], 0.0) / d[None, :]
    right = np.maximum(b_points[:, None] - q[None, :], 0.0) / d[None, :]
    best = 0.0
    for i, a in enumerate(a_points):
        share = np.clip(1.0 - left[i][None, :] - right, 0.0, None)      # (b points x ops)
        energy = share @ w
        positive = energy > 0
        if positive.any():
            best = max(best, float(np.max(a + b_points[positive] + energy[positive] / k)))
    return best
