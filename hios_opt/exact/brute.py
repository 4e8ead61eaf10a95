"""Brute force: the optimum of a tiny instance by exhaustive search.

An oracle for tests, independent of the CP-SAT and MILP models: it shares no
modelling code with them (no stage candidates, no time grid), only the
problem definition (graph, platform, stage-latency model) and the evaluator.
:func:`brute_force` builds semi-active schedules one stage at a time, with
symmetry breaking and branch and bound; why every optimum is reached is in
its Notes.
"""

from __future__ import annotations

import math
from itertools import combinations

from ..checks import check_int
from ..costs import StageModel, default_model
from ..errors import ProblemTooLargeError
from ..evaluate import evaluate
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule, Stage
from ..timing import edge_delays

__all__ = ["brute_force", "MAX_BRUTE_OPS"]

#: Largest graph :func:`brute_force` accepts by default.
MAX_BRUTE_OPS = 8


def brute_force(
    graph: OpGraph,
    platform: Platform,
    cost_model: StageModel | None = None,
    *,
    max_ops: int = MAX_BRUTE_OPS,
) -> Schedule:
    """An optimal schedule by exhaustive search (graphs of up to ~7 ops).

    Parameters
    ----------
    graph, platform
        The problem.
    cost_model : StageModel, optional
        Stage-latency model (default: measured table, analytic fallback).
    max_ops : int
        Refuse larger graphs (the search grows exponentially).

    Returns
    -------
    Schedule
        With ``makespan_ms`` set by :func:`hios_opt.evaluate` and
        ``status="optimal"``.

    Raises
    ------
    ProblemTooLargeError
        The graph has more than ``max_ops`` ops.

    Notes
    -----
    Every schedule has a *semi-active* form of no larger makespan (the
    evaluator's timing: each stage starts as early as its GPU and inputs allow),
    and listing the stages of a semi-active schedule by start time gives a
    sequence in which every stage comes after the stages it waits for (its
    producers end no later than it starts; on one GPU the previous stage starts
    earlier). So the search builds schedules one stage at a time: it picks a GPU
    and a set of at most ``streams`` *ready* ops (ops whose producers are all
    placed; ready ops never depend on each other), starts that stage as early as
    possible, and only keeps sequences whose start times do not decrease. Every
    semi-active schedule is reached this way, so the minimum over the leaves is
    the optimum. Two reductions keep it exact:

    - with identical GPUs and a uniform link, a stage may open an unused GPU only
      the lowest-numbered one (renaming GPUs changes nothing);
    - branch and bound: a branch is cut when the makespan so far, or the current
      start plus the longest remaining chain of minimal stage durations (all
      later stages start no earlier), already reaches the best makespan found.

    Examples
    --------
    >>> from hios_opt import generators, Platform
    >>> brute_force(generators.diamond(), Platform(gpus=2, streams=2)).makespan_ms
    5.0
    >>> brute_force(generators.diamond(), Platform(gpus=1, streams=2)).makespan_ms
    6.5
    """
    n = graph.n_ops
    check_int(max_ops, "max_ops", min_value=1, limit=None)
    if n > max_ops:
        raise ProblemTooLargeError(f"brute force is for tiny graphs: {graph.name!r} has {n} ops (limit {max_ops})")
    model = default_model(cost_model)
    K, S = platform.gpus, platform.streams
    edge_delay = edge_delays(graph, platform)
    identical = edge_delay.uniform
    delays = [edge_delay.matrix(e) for e in range(graph.n_edges)]
    latency_cache: dict[tuple[int, ...], float] = {}

    def latency(ops: tuple[int, ...]) -> float:
        value = latency_cache.get(ops)
        if value is None:
            value = graph.latency[ops[0]] if len(ops) == 1 else model.stage_latency(graph, list(ops))
            latency_cache[ops] = value
        return value

    dmin = model.min_duration(graph)
    chain = [0.0] * n  # longest path of minimal durations from each op to a sink
    for u in reversed(graph.topo):
        chain[u] = dmin[u] + max((chain[w] for w in graph.succ[u]), default=0.0)

    missing = [len(graph.pred[v]) for v in range(n)]
    end = [0.0] * n
    gpu_of = [-1] * n
    free = [0.0] * K
    stages: list[list[tuple[int, ...]]] = [[] for _ in range(K)]
    # Start from the sequential makespan: some schedule reaches it.
    best = [math.fsum(graph.latency) * (1 + 1e-12) + 1e-12]
    best_stages: list[list[list[tuple[int, ...]]]] = [[list(st) for st in stages]]
    best_stages[0][0] = [(v,) for v in graph.topo]

    def search(placed: int, last_start: float, span: float) -> None:
        if placed == n:
            if span < best[0]:
                best[0] = span
                best_stages[0] = [list(st) for st in stages]
            return
        ready = [v for v in range(n) if gpu_of[v] < 0 and missing[v] == 0]
        remaining = max(chain[v] for v in range(n) if gpu_of[v] < 0)
        if max(span, last_start + remaining) >= best[0]:
            return
        used = sum(1 for k in range(K) if stages[k])
        gpus = range(min(K, used + 1)) if identical else range(K)
        for size in range(1, min(S, len(ready)) + 1):
            for ops in combinations(ready, size):
                dur = latency(ops)
                for k in gpus:
                    start = free[k]
                    for v in ops:
                        for e in graph.in_edges[v]:
                            u = graph.edge_src[e]
                            t = end[u] + delays[e][gpu_of[u]][k]
                            if t > start:
                                start = t
                    if start < last_start - 1e-12:
                        continue
                    finish = start + dur
                    saved = free[k]
                    free[k] = finish
                    stages[k].append(ops)
                    for v in ops:
                        end[v], gpu_of[v] = finish, k
                        for w in graph.succ[v]:
                            missing[w] -= 1
                    search(placed + size, start, max(span, finish))
                    for v in ops:
                        gpu_of[v] = -1
                        for w in graph.succ[v]:
                            missing[w] += 1
                    stages[k].pop()
                    free[k] = saved

    search(0, 0.0, 0.0)
    ids = graph.ids
    found = Schedule(
        [Stage(k, tuple(ids[v] for v in ops)) for k, sts in enumerate(best_stages[0]) for ops in sts],
        gpus=K, streams=S, algorithm="brute-force", graph_name=graph.name,
    )
    found.makespan_ms = evaluate(graph, platform, found, cost_model).makespan
    found.status = "optimal"
    found.lower_bound_ms = found.makespan_ms
    found.gap = 0.0
    return found
