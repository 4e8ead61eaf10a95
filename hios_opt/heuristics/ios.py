"""IOS: dynamic programming over stages on one GPU.

Reference: Y. Ding, L. Zhu, Z. Jia, G. Pekhimenko and S. Han, "IOS:
Inter-Operator Scheduler for CNN Acceleration", MLSys 2021
(arXiv:2011.01302).

:func:`ios` schedules the ops of one GPU as a sequence of stages and finds the
best sequence by dynamic programming over the sets of ops still to schedule,
pruned and cut into parts as IOS does. Its Notes give the recurrence, its
adaptation to this package's stages, and why it is exact for one GPU when
nothing is pruned and the graph fits in one part.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from ..checks import check_int
from ..costs import StageModel, default_model
from ..errors import OptionError
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule
from .common import check_flag, check_problem, finish_schedule

__all__ = ["ios", "MAX_PART_SIZE_LIMIT"]

#: Largest ``max_part_size`` accepted (the DP is exponential in a part's width).
MAX_PART_SIZE_LIMIT = 24


def _check_int(value: Any, name: str, low: int, high: int | None = None, reason: str = "") -> int:
    check_int(value, name, expected="an integer")
    if value < low:
        raise OptionError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise OptionError(f"{name} must be <= {high}{reason}, got {value}")
    return value


def _solve_part(graph: OpGraph, part: list[int], cap: int, cost: StageModel) -> tuple[list[list[int]], float, int]:
    """Optimal stage sequence of the ops ``part`` (a run of a topological
    order), stages of at most ``cap`` ops; returns the stages, their total
    latency and the number of DP states."""
    m = len(part)
    local = {v: i for i, v in enumerate(part)}
    succ_mask = [0] * m
    for i, v in enumerate(part):
        for w in graph.succ[v]:
            j = local.get(w)
            if j is not None:
                succ_mask[i] |= 1 << j
    stage_cost: dict[int, float] = {}
    # memo[S] = (cost of scheduling S, the last stage T of an optimal sequence)
    memo: dict[int, tuple[float, int]] = {0: (0.0, 0)}

    def latency(ending: tuple[int, ...], mask: int) -> float:
        value = stage_cost.get(mask)
        if value is None:
            value = cost.stage_latency(graph, [part[i] for i in ending])
            stage_cost[mask] = value
        return value

    def solve(remaining: int) -> float:
        hit = memo.get(remaining)
        if hit is not None:
            return hit[0]
        sinks = [i for i in range(m) if remaining >> i & 1 and not succ_mask[i] & remaining]
        best, best_mask = float("inf"), 0
        for size in range(1, min(cap, len(sinks)) + 1):
            for ending in combinations(sinks, size):
                mask = 0
                for i in ending:
                    mask |= 1 << i
                value = latency(ending, mask) + solve(remaining ^ mask)
                if value < best:
                    best, best_mask = value, mask
        memo[remaining] = (best, best_mask)
        return best

    full = (1 << m) - 1
    total = solve(full)
    stages: list[list[int]] = []
    remaining = full
    while remaining:
        mask = memo[remaining][1]
        stages.append([part[i] for i in range(m) if mask >> i & 1])
        remaining ^= mask
    stages.reverse()
    return stages, total, len(memo)


def ios(
    graph: OpGraph,
    platform: Platform,
    *,
    max_group_size: int | None = None,
    max_part_size: int = 12,
    prune: bool = True,
    cost_model: StageModel | None = None,
) -> Schedule:
    """Schedule ``graph`` on GPU 0 by IOS's dynamic programming over stages.

    Parameters
    ----------
    graph, platform
        The problem; only GPU 0 is used, with up to ``streams`` ops a stage.
    max_group_size : int, optional
        With ``prune=True``, the largest stage tried, ``1 .. streams``
        (default ``min(3, streams)``, IOS's ``r = 3``).
    max_part_size : int
        Ops per part, ``1 .. 24`` (default 12); a graph of at most this many
        ops is solved as a whole.
    prune : bool
        ``False`` tries every stage of up to ``streams`` ops: the result is
        then optimal for one GPU whenever the graph fits in one part.
    cost_model : StageModel, optional
        Stage-latency model (default: measured table, analytic fallback).

    Returns
    -------
    Schedule
        ``algorithm="ios"``, every op on GPU 0; ``meta`` records the parts and
        the number of DP states.

    Raises
    ------
    OptionError
        An option out of range.

    Notes
    -----
    IOS finds the best sequence of stages by dynamic programming over the set of
    ops still to schedule: ``cost(S) = min over endings T of S of cost(S - T) +
    L(T)``, where an *ending* is a set of ops of ``S`` none of which has a
    successor in ``S``.

    Adapted to this package's stage semantics (the problem contract,
    docs/design.md section 1): a stage is a set of at most ``streams`` mutually
    independent ops, each on its own stream, so an ending here is a non-empty set
    of at most ``streams`` sinks of ``S`` (IOS's groups are single ops). The
    states ``S`` are the predecessor-closed op sets; on one GPU the makespan is
    the sum of the stage latencies, so the DP is exact for one GPU when nothing
    is pruned and the graph fits in one part.

    Pruning, as in IOS: with ``prune=True`` an ending holds at most
    ``max_group_size`` ops (IOS's ``r``). The number of states grows
    exponentially with the width of the graph, so, like IOS, large graphs are cut
    into parts that are scheduled one after the other: consecutive runs of
    ``max_part_size`` ops of a topological order (every op of a part comes after
    every op of the parts before it, so concatenating the parts' stage sequences
    is valid).

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.diamond()     # b, c together: 0.5*5 + 0.5*max(0.8*5, 3) = 4.5
    >>> s = ios(g, Platform(gpus=1, streams=2))
    >>> s.makespan_ms, [st.ops for st in s.stages]
    (6.5, [('a',), ('b', 'c'), ('d',)])
    """
    check_problem(graph, platform, cost_model)
    streams = platform.streams
    _check_int(max_part_size, "max_part_size", 1, MAX_PART_SIZE_LIMIT,
               " (the dynamic program is exponential in a part's width)")
    check_flag(prune, "prune")
    if max_group_size is None:
        group = min(3, streams)
    else:
        group = _check_int(max_group_size, "max_group_size", 1, streams,
                           f": a stage cannot hold more ops than the {streams} stream(s) per GPU")
    cap = group if prune else streams
    cost = default_model(cost_model)
    topo = list(graph.topo)
    stages: list[list[int]] = []
    states = 0
    parts = 0
    for begin in range(0, len(topo), max_part_size):
        part_stages, _, part_states = _solve_part(graph, topo[begin:begin + max_part_size], cap, cost)
        stages.extend(part_stages)
        states += part_states
        parts += 1
    meta = {"parts": parts, "max_part_size": max_part_size, "max_group_size": cap, "prune": prune,
            "states": states}
    return finish_schedule(graph, platform, [stages], "ios", cost_model, meta)
