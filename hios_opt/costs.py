"""Stage-latency models: how long a set of concurrent operators takes on one GPU.

Every model follows :class:`StageModel` (whose Notes give what the bounds and
exact solvers need of it). Two are provided:

* :class:`AnalyticModel`, the contention model of the HIOS paper's simulator::

      L(S) = alpha * sum(t) + (1 - alpha) * max(sum(t * u), max(t))

  (``alpha = 1``: concurrency brings nothing; ``alpha = 0``: ops that leave
  the GPU idle overlap perfectly);
* :class:`MeasuredModel`, a table of profiled group latencies (the graph's
  ``stage_latency_ms``), falling back to an analytic model for groups that were
  not measured. This is the default for every algorithm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .checks import check_number

if TYPE_CHECKING:  # for annotations only
    from .graph import OpGraph

__all__ = ["StageModel", "AnalyticModel", "MeasuredModel", "default_model"]


@runtime_checkable
class StageModel(Protocol):
    """What every stage-latency model offers.

    Notes
    -----
    Every model satisfies ``L({v}) = t(v)``. The lower bounds
    (:mod:`hios_opt.bounds`) and the exact solvers rely on two per-op
    quantities, valid for the model that gives them:

    * ``min_duration(graph)[v]``: no stage that contains ``v`` is shorter;
    * ``min_work(graph, streams)[v]``: a share of busy time such that, for
      every stage ``S`` of at most ``streams`` ops,
      ``sum(min_work[v] for v in S) <= L(S)``.
    """

    def stage_latency(self, graph: OpGraph, ops: Sequence[int]) -> float:
        """Latency (ms) of the op indices ``ops`` run concurrently on one GPU."""
        ...

    def min_duration(self, graph: OpGraph) -> tuple[float, ...]:
        ...

    def min_work(self, graph: OpGraph, streams: int) -> tuple[float, ...]:
        ...


@dataclass(frozen=True)
class AnalyticModel:
    """The analytic contention model, ``alpha`` in [0, 1] (default 0.5).

    Examples
    --------
    >>> from hios_opt.graph import OpGraph, Op
    >>> g = OpGraph([Op("b", 2.0, 0.5), Op("c", 1.0, 0.5)])
    >>> AnalyticModel().stage_latency(g, [0, 1])   # 0.5*3 + 0.5*max(1.5, 2)
    2.5
    """

    alpha: float = 0.5

    def __post_init__(self) -> None:
        a = self.alpha
        check_number(a, "alpha", min_value=0.0, max_value=1.0, expected="a number in [0, 1]", limit=None)

    def stage_latency(self, graph: OpGraph, ops: Sequence[int]) -> float:
        lat = graph.latency
        if len(ops) == 1:
            return lat[ops[0]]
        util = graph.utilization
        total = 0.0
        busy = 0.0
        longest = 0.0
        for v in ops:
            t = lat[v]
            total += t
            busy += t * util[v]
            if t > longest:
                longest = t
        return self.alpha * total + (1.0 - self.alpha) * max(busy, longest)

    def min_duration(self, graph: OpGraph) -> tuple[float, ...]:
        # L(S) >= alpha*max t + (1-alpha)*max t = max t >= t(v) for v in S.
        return graph.latency

    def min_work(self, graph: OpGraph, streams: int) -> tuple[float, ...]:
        # Two valid per-op shares, each summing to at most L(S) over any stage S:
        #   L(S) >= a*sum t + (1-a)*sum t*u                  (max(x, y) >= x)
        #   L(S) >= a*sum t + (1-a)*max t >= sum t*(a + (1-a)/streams)
        # A per-op maximum of the two is not valid in general, so return the
        # whole vector with the larger total.
        a = self.alpha
        busy = tuple(t * (a + (1.0 - a) * u) for t, u in zip(graph.latency, graph.utilization))
        even = tuple(t * (a + (1.0 - a) / streams) for t in graph.latency)
        return busy if math.fsum(busy) >= math.fsum(even) else even


@dataclass(frozen=True)
class MeasuredModel:
    """Measured group latencies from ``graph.stage_table``, analytic otherwise.

    A measured entry wins over the formula when both exist.
    """

    fallback: AnalyticModel = field(default_factory=AnalyticModel)

    def stage_latency(self, graph: OpGraph, ops: Sequence[int]) -> float:
        if len(ops) > 1 and graph.stage_table:
            measured = graph.stage_table.get(frozenset(ops))
            if measured is not None:
                return measured
        return self.fallback.stage_latency(graph, ops)

    def min_duration(self, graph: OpGraph) -> tuple[float, ...]:
        base = list(self.fallback.min_duration(graph))
        for group, latency in graph.stage_table.items():
            for v in group:
                if latency < base[v]:
                    base[v] = latency
        return tuple(base)

    def min_work(self, graph: OpGraph, streams: int) -> tuple[float, ...]:
        base = list(self.fallback.min_work(graph, streams))
        lat = graph.latency
        for group, latency in graph.stage_table.items():
            if len(group) > streams:
                continue
            total = math.fsum(lat[v] for v in group)
            # Split a measured group's latency in proportion to solo latency:
            # the shares of its members then sum to exactly its latency.
            for v in group:
                share = latency * lat[v] / total if total > 0 else 0.0
                if share < base[v]:
                    base[v] = share
        return tuple(base)


def default_model(cost_model: StageModel | None = None) -> StageModel:
    """The model used when none is given: measured table, analytic fallback."""
    return cost_model if cost_model is not None else MeasuredModel()
