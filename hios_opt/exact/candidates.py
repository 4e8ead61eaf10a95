"""Stage candidates: every set of ops that may form one stage, with its latency.

A stage is a set of at most ``streams`` mutually independent ops (an
*antichain* of the DAG, the problem contract, docs/design.md section 1). The
exact models choose, for every op, the one candidate that holds it;
:func:`stage_candidates` enumerates the candidates once, with their
latencies from the stage-latency model, dropping those that an optimal
schedule never needs (dominance pruning: the proof is in its Notes).
:func:`count_candidates` estimates their number first, so that a model that
would not fit raises :class:`~hios_opt.errors.ProblemTooLargeError` instead
of exhausting memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

from ..checks import check_int, shorten
from ..costs import StageModel, default_model
from ..errors import OptionError, ProblemTooLargeError
from ..graph import OpGraph

__all__ = ["Candidates", "count_candidates", "stage_candidates", "MAX_CANDIDATES"]

#: Default cap on the number of stage candidates (before pruning).
MAX_CANDIDATES = 100_000


@dataclass(frozen=True)
class Candidates:
    """The stage candidates of a graph for a given number of streams.

    Attributes
    ----------
    ops : tuple of tuple of int
        Op indices of each candidate, sorted; singletons come first, in op
        index order, so candidate ``v`` is ``(v,)``.
    latency_ms : tuple of float
        ``L(candidate)`` from the stage-latency model.
    by_op : tuple of tuple of int
        Indices of the candidates that hold each op.
    streams : int
        The largest candidate size allowed.
    enumerated : int
        Number of antichains of size ``<= streams`` before pruning.
    pruned : int
        Number dropped by dominance (see the module docstring).
    """

    ops: tuple[tuple[int, ...], ...]
    latency_ms: tuple[float, ...]
    by_op: tuple[tuple[int, ...], ...]
    streams: int
    enumerated: int
    pruned: int

    def __len__(self) -> int:
        return len(self.ops)

    def __repr__(self) -> str:
        return (f"Candidates({len(self.ops)} kept of {self.enumerated}, streams={self.streams}, "
                f"pruned={self.pruned})")

    @property
    def multi(self) -> bool:
        """True when some candidate holds two ops or more."""
        return len(self.ops) > len(self.by_op)


def _independent_masks(graph: OpGraph) -> list[int]:
    """Bit ``j`` of entry ``i`` is set when ``j > i`` and no path joins ``i``
    and ``j``: the ops that may share a stage with ``i``, later in index order."""
    n = graph.n_ops
    desc, anc = graph.descendants_bits, graph.ancestors_bits
    full = (1 << n) - 1
    return [full & ~(desc[i] | anc[i]) & ~((1 << (i + 1)) - 1) for i in range(n)]


def count_candidates(graph: OpGraph, streams: int, limit: int | None = None) -> int:
    """Number of antichains of at most ``streams`` ops (singletons included).

    Counting stops as soon as the count exceeds ``limit`` (and returns that
    partial count, ``> limit``), so it costs O(limit) bit operations at most;
    a graph whose same-level pairs alone exceed ``limit`` is answered from
    them in O(V + E), without the reachability masks (about 3 n^2 / 8 bytes).

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.wide_layer(6)        # src -> w0..w5 -> dst
    >>> count_candidates(g, 1), count_candidates(g, 2), count_candidates(g, 3)
    (8, 23, 43)
    >>> count_candidates(g, 3, limit=10) > 10    # stops early, says "more than 10"
    True
    """
    _check_streams(streams)
    n = graph.n_ops
    if streams == 1 or n < 2:
        return n
    cap = math.inf if limit is None else limit
    # Ops on one level are pairwise independent: a count that needs no
    # reachability (the masks below take about 3 n^2 / 8 bytes), enough to
    # refuse a large graph before building them.
    same_level = n + _level_pairs(graph)
    if same_level > cap:
        return same_level
    masks = _independent_masks(graph)

    def extend(mask: int, size: int, so_far: int) -> int:
        # Antichains that add one or more ops from ``mask`` to a set of ``size`` ops.
        if size + 1 == streams:
            return mask.bit_count()
        total = 0
        while mask:
            low = mask & -mask
            w = low.bit_length() - 1
            mask ^= low
            total += 1 + extend(mask & masks[w], size + 1, so_far + total)
            if so_far + total > cap:
                break
        return total

    total = 0
    for v in range(graph.n_ops):
        total += 1
        if streams > 1:
            total += extend(masks[v], 1, total)
        if total > cap:
            break
    return total


def _level_pairs(graph: OpGraph) -> int:
    """Pairs of ops with the same level (edges on the longest path from a
    source): no path joins two of them, so each is an antichain of two."""
    level = [0] * graph.n_ops
    for u in graph.topo:
        for v in graph.succ[u]:
            level[v] = max(level[v], level[u] + 1)
    width: dict[int, int] = {}
    for lv in level:
        width[lv] = width.get(lv, 0) + 1
    return sum(w * (w - 1) // 2 for w in width.values())


def _check_streams(streams: int) -> None:
    check_int(streams, "streams", min_value=1, limit=None)


def _antichains(graph: OpGraph, streams: int) -> list[tuple[int, ...]]:
    """All antichains of 2 .. ``streams`` ops, each sorted."""
    if streams < 2:
        return []
    masks = _independent_masks(graph)
    out: list[tuple[int, ...]] = []

    def grow(prefix: tuple[int, ...], mask: int) -> None:
        while mask:
            low = mask & -mask
            w = low.bit_length() - 1
            mask ^= low
            members = prefix + (w,)
            out.append(members)
            if len(members) < streams:
                grow(members, mask & masks[w])

    if streams > 1:
        for v in range(graph.n_ops):
            grow((v,), masks[v])
    return out


def _dominated(members: tuple[int, ...], latency: float, latency_of) -> bool:
    """True when some split ``C1 | C2`` of ``members`` has ``L(C1) + L(C2) <= L(C)``."""
    first, rest = members[0], members[1:]
    # Each split once: C1 holds the first op plus a proper subset of the rest.
    for r in range(len(rest)):
        for extra in combinations(rest, r):
            part1 = (first, *extra)
            part2 = tuple(v for v in rest if v not in extra)
            if latency_of(part1) + latency_of(part2) <= latency:
                return True
    return False


def _too_many(graph: OpGraph, streams: int, count: int, limit: int) -> str:
    """The refusal of a graph with more than ``limit`` stage candidates
    (``count``: a lower bound on their number, where counting stopped)."""
    name = shorten(graph.name, 80)
    if streams == 1:  # the candidates are the ops themselves
        return (f"graph {name} has {graph.n_ops} ops, more than the {limit:,} stage candidates an exact model "
                "takes; use a heuristic schedule or a smaller graph")
    return (f"graph {name} ({graph.n_ops} ops) has more than {limit:,} possible stages of at most {streams} "
            f"independent ops (at least {count:,}); the exact model would not fit. Use streams=1 (or fewer "
            "streams), a smaller graph, or a heuristic schedule")


def stage_candidates(
    graph: OpGraph,
    streams: int,
    cost_model: StageModel | None = None,
    *,
    prune: bool = True,
    max_candidates: int = MAX_CANDIDATES,
) -> Candidates:
    """Enumerate the stage candidates of ``graph`` for ``streams`` streams.

    Parameters
    ----------
    graph : OpGraph
    streams : int
        Largest stage size.
    cost_model : StageModel, optional
        Stage-latency model (default: measured table, analytic fallback).
    prune : bool
        Drop dominated candidates (see Notes); some optimal
        schedule always survives.
    max_candidates : int
        Raise instead of enumerating more antichains than this.

    Returns
    -------
    Candidates

    Raises
    ------
    ProblemTooLargeError
        When there are more than ``max_candidates`` antichains; the message
        gives the count and what to change.

    Notes
    -----
    *Dominance pruning.* A candidate ``C`` (two ops or more) is dropped when some split of ``C`` into
    two non-empty parts ``C1``, ``C2`` satisfies ``L(C) >= L(C1) + L(C2)``.

    *Why an optimum survives.* Take any schedule that uses ``C`` as a stage on
    GPU ``k`` from ``s`` to ``s + L(C)``. Replace it by the two stages ``C1`` then
    ``C2`` at the same place in GPU ``k``'s list. Both parts are antichains (subsets
    of one). Their inputs are a subset of ``C``'s inputs, so, with every other
    stage kept where it was, ``C1`` can start at ``s`` and ``C2`` at ``s + L(C1)``;
    ``C2`` ends at ``s + L(C1) + L(C2) <= s + L(C)``. Every op of ``C`` now ends no
    later than before, and GPU ``k`` is free no later than before, so every other
    stage's earliest start (a maximum of ends plus fixed delays) is no later
    either: the evaluated makespan does not grow, because the evaluator's start
    times are non-decreasing functions of the stage latencies and ends. No cycle
    appears (``C1`` and ``C2`` take over ``C``'s dependencies). If a part is itself
    dropped, split it again; each split replaces a set by strictly smaller ones and
    singletons are never dropped, so the process ends with a schedule that uses
    kept candidates only and is at least as short. Hence some optimal schedule
    uses kept candidates only.

    The same inequality holds after rounding latencies down to a time grid,
    since ``floor(a) >= floor(b + c) >= floor(b) + floor(c)`` when ``a >= b + c``,
    so the pruning is also valid for the integer model of :mod:`hios_opt.exact.cpsat`.

    Under the analytic model a pair is dropped exactly when neither op leaves the
    GPU idle (utilization 1 for both): then ``L = t_a + t_b`` and concurrency gains
    nothing. With unit utilization every multi-op candidate goes, and the model
    is the classical ``P | prec, c_ij | Cmax`` one, whatever ``streams`` is.

    Examples
    --------
    >>> from hios_opt import generators
    >>> g = generators.diamond()       # b, c independent, utilization 0.8
    >>> cands = stage_candidates(g, 2)
    >>> [tuple(g.ids[v] for v in c) for c in cands.ops]
    [('a',), ('b',), ('c',), ('d',), ('b', 'c')]
    >>> cands.latency_ms[-1]           # 0.5*(2+3) + 0.5*max(0.8*5, 3)
    4.5
    >>> len(stage_candidates(generators.fork_join(3), 3))   # utilization 1: pairs pruned
    5
    """
    _check_streams(streams)
    check_int(max_candidates, "max_candidates", min_value=1, limit=None)
    n = graph.n_ops
    streams = min(streams, n)
    count = count_candidates(graph, streams, limit=max_candidates)
    if count > max_candidates:
        raise ProblemTooLargeError(_too_many(graph, streams, count, max_candidates))
    model = default_model(cost_model)
    cache: dict[tuple[int, ...], float] = {}

    def latency_of(members: tuple[int, ...]) -> float:
        if len(members) == 1:
            return graph.latency[members[0]]
        value = cache.get(members)
        if value is None:
            value = float(model.stage_latency(graph, list(members)))
            cache[members] = value
        return value

    ops: list[tuple[int, ...]] = [(v,) for v in range(n)]
    latency: list[float] = [graph.latency[v] for v in range(n)]
    multi = _antichains(graph, streams)
    pruned = 0
    for members in multi:
        value = latency_of(members)
        if not math.isfinite(value) or value < 0:
            raise OptionError(f"cost model gave latency {value!r} for stage {[graph.ids[v] for v in members]}")
        if prune and _dominated(members, value, latency_of):
            pruned += 1
            continue
        ops.append(members)
        latency.append(value)
    by_op: list[list[int]] = [[] for _ in range(n)]
    for c, members in enumerate(ops):
        for v in members:
            by_op[v].append(c)
    return Candidates(tuple(ops), tuple(latency), tuple(map(tuple, by_op)), streams, n + len(multi), pruned)
