"""Best-first branch and bound over partial schedules (A*), with dominance.

The third exact method beside the CP-SAT and MILP models, for the same
problem, and the strongest on two GPUs with two streams, where the CP-SAT
model's bound stays at its static value. A partial schedule is a list of
stages appended in order of start time; states with the same placed ops
are compared (dominance), children that leave a gap an op could fill are
skipped, and the search runs forward and backward in time in turns.
:func:`solve_astar`'s Notes give the search, its bound and why each cut is
safe. It suits narrow graphs (few downsets) and 2 GPUs; wide graphs, one
stream or 4+ GPUs suit CP-SAT.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Sequence
from itertools import count
from typing import Any

import networkx as nx
import numpy as np
from scipy.optimize import linear_sum_assignment

from ..costs import StageModel
from ..errors import OptionError
from ..evaluate import evaluate
from ..graph import OpGraph
from ..platform import Platform
from ..schedules import Schedule, Stage
from ..timing import edge_delays
from .candidates import Candidates
from .incumbent import Incumbent
from .interrupt import run_stoppable
from .request import SolveRequest
from .result import SolveResult, finish

__all__ = ["solve_astar", "MAX_STATES", "SUBSET_GPUS", "SLICE_S"]

#: Default cap on the number of states kept (memory: roughly 1 KB each).
MAX_STATES = 2_000_000

#: Up to this many GPUs the load bound tries every set of active GPUs.
SUBSET_GPUS = 4

#: Seconds each direction searches before the other takes its turn.
SLICE_S = 0.5

# The direction with the higher bound takes at most this many turns in a row.
_LEAD_TURNS = 4

# Expansions between two greedy dives.
_DIVE_EVERY = 2000
# Relative tolerance: a state is cut when its bound is within this of the best.
_CUT_TOLERANCE = 1e-9


class _Search:
    """Precomputed data and the search itself (one solve).

    A state is a plain tuple (tens of thousands are made per second):
    ``(placed ops as a bit mask, t0, ready per GPU, makespan so far, end per
    op, GPU per op (-1: unplaced), last stage of each GPU holds a sink, input
    ready times per GPU of the unplaced ops with a placed producer, parent
    state, (GPU, candidate) of the last stage)``.
    """

    def __init__(self, graph: OpGraph, platform: Platform, cands: Candidates, best: float,
                 deadline: float, max_states: int, log: bool = False, backward: bool = False) -> None:
        n = graph.n_ops
        self.interchangeable = edge_delays(graph, platform).uniform
        K = min(platform.gpus, n) if self.interchangeable else platform.gpus
        self.n, self.K = n, K
        self.backward = backward
        delays = edge_delays(graph, platform)
        original = graph
        if backward:
            # The mirrored problem: edge v -> u for u -> v, with the delay of u's GPU -> v's GPU.
            graph = _Reversed(graph)  # type: ignore[assignment]

            def comm(e: int, a: int, b: int) -> float:
                return delays.between(e, b, a)
        else:
            comm = delays.between
        self.graph = graph
        self.original = original
        self.deadline = deadline
        self.pause_at = math.inf
        self.max_states = max_states
        self.log = log
        self._next_log = time.monotonic() + 0.5
        self.stop_requested = False
        self.incumbent: Incumbent | None = None  # the solve's shared best (solve_astar sets it)
        self.platform = platform
        self.cost_model: StageModel | None = None
        self.last_exact = True  # whether the last bound() was complete (see its quick argument)
        self.cand_ops = cands.ops
        self.cand_lat = cands.latency_ms
        self.cand_mask = [sum(1 << v for v in c) for c in cands.ops]
        # Candidates by their first op (lowest index), to list the ready ones fast.
        self.by_first: list[list[int]] = [[] for _ in range(n)]
        for c, ops in enumerate(cands.ops):
            self.by_first[ops[0]].append(c)
        self.pred_mask = [sum(1 << u for u in graph.pred[v]) for v in range(n)]
        self.sink = [not graph.succ[v] for v in range(n)]
        # out[u]: (consumer, delay[a][b]) per edge.
        self.out: list[list[tuple[int, tuple[tuple[float, ...], ...]]]] = [[] for _ in range(n)]
        min_delay = [0.0] * graph.n_edges
        for e in range(graph.n_edges):
            u, v = graph.edge_src[e], graph.edge_dst[e]
            delay = tuple(tuple(comm(e, a, b) for b in range(K)) for a in range(K))
            self.out[u].append((v, delay))
            min_delay[e] = min((delay[a][b] for a in range(K) for b in range(K) if a != b), default=0.0)
        self.topo = list(graph.topo)
        lat = cands.latency_ms
        self.dmin = [min(lat[c] for c in cands.by_op[v]) for v in range(n)]
        self.tail = [0.0] * n
        for v in reversed(self.topo):
            self.tail[v] = self.dmin[v] + max((self.tail[w] for w in graph.succ[v]), default=0.0)
        head0 = [0.0] * n
        for v in self.topo:
            head0[v] = max((head0[u] + self.dmin[u] for u in graph.pred[v]), default=0.0)
        self.ramp_out = min((max(min_delay[e] + self.tail[graph.edge_dst[e]] for e in graph.out_edges[v])
                             for v in range(n) if graph.succ[v]), default=0.0) if K > 1 else 0.0
        self.latency = list(graph.latency)
        # Gap filling (see the module docstring): the latest an op may start
        # and end before a later stage so that moving it there delays nothing.
        self.out_delay = [[max((delay[j][g] for _, delay in self.out[x] for g in range(K)), default=0.0)
                           for j in range(K)] for x in range(n)]
        known = dict(zip(cands.ops, cands.latency_ms))
        self.fill = all(known.get(tuple(w for w in ops if w != x), math.inf) <= lat[c]
                        for c, ops in enumerate(cands.ops) if len(ops) > 1 for x in ops)
        self.share = [min(lat[c] / len(cands.ops[c]) for c in cands.by_op[v]) for v in range(n)]
        self.pairs_only = all(len(ops) <= 2 for ops in cands.ops)
        # Pair savings with the makespan a pair needs at least (static windows).
        self.pairs = []
        for c, ops in enumerate(cands.ops):
            if len(ops) == 2:
                a, b = ops
                saving = self.latency[a] + self.latency[b] - lat[c]
                if saving > 0:
                    need = (max(head0[a], head0[b]) + lat[c]
                            + max(self.tail[a] - self.dmin[a], self.tail[b] - self.dmin[b]))
                    self.pairs.append((a, b, saving, need))
        self.full = (1 << n) - 1
        out_delays = [d for row in self.out for _, delay in row for line in delay for d in line]
        self.integral = all(float(x).is_integer() for x in (*lat, *out_delays))
        self.best = best
        self.best_state: Any = None
        self._busy: dict[int, float] = {}
        self._quick: dict[int, float] = {}
        self._saving_matrix: np.ndarray | None = None
        self._busy_best = best
        self.stats = {"expanded": 0, "generated": 0, "cut_by_bound": 0, "dominated": 0, "gap_filled": 0, "dives": 0,
                      "kept": 0, "dive_improvements": 0}

    # -- bounds -------------------------------------------------------------

    def busy_quick(self, rem: int) -> float:
        """A busy time never above :meth:`busy`, without the blossom matching.

        The pair savings' maximum *fractional* matching (each op in pairs of
        total weight at most 1) is at least the maximum matching; it is half
        the best assignment on the bipartite double cover, which
        :func:`scipy.optimize.linear_sum_assignment` finds in microseconds.
        """
        if not self.pairs_only or not self.pairs:
            return self.busy(rem)
        self._forget_if_improved()
        value = self._quick.get(rem)
        if value is not None:
            return value
        if self._saving_matrix is None:
            limit = self.best * (1 + _CUT_TOLERANCE)
            m = np.zeros((self.graph.n_ops, self.graph.n_ops))
            for a, b, saving, need in self.pairs:
                if need <= limit:
                    m[a, b] = m[b, a] = saving
            self._saving_matrix = m
        idx = list(_bits(rem))
        sub = self._saving_matrix[np.ix_(idx, idx)]
        rows, cols = linear_sum_assignment(sub, maximize=True)
        value = sum(self.latency[v] for v in idx) - 0.5 * float(sub[rows, cols].sum())
        self._quick[rem] = value
        if _integral_cover(cols.tolist(), sub):
            self._busy[rem] = value  # the fractional matching is as good as an integral one
        return value

    def _forget_if_improved(self) -> None:
        """Busy times depend on the best makespan (pair windows): drop them when it improves."""
        if self.best < self._busy_best:
            self._busy.clear()
            self._quick.clear()
            self._saving_matrix = None
            self._busy_best = self.best

    def busy(self, rem: int) -> float:
        """Least total busy time of the ops in ``rem`` (see the module docstring)."""
        self._forget_if_improved()
        value = self._busy.get(rem)
        if value is None:
            if self.pairs_only:
                g: nx.Graph[int] = nx.Graph()
                limit = self.best * (1 + _CUT_TOLERANCE)
                g.add_weighted_edges_from((a, b, s) for a, b, s, need in self.pairs
                                          if rem >> a & 1 and rem >> b & 1 and need <= limit)
                saving = sum(g[a][b]["weight"] for a, b in nx.max_weight_matching(g))
                value = sum(self.latency[v] for v in _bits(rem)) - saving
            else:
                value = sum(self.share[v] for v in _bits(rem))
            self._busy[rem] = value
        return value

    def bound(self, ideal: int, t0: float, ready: tuple[float, ...], cmax: float,
              dr: dict[int, tuple[float, ...]], last_sink: tuple[bool, ...], quick: bool = False) -> float:
        """A lower bound on the makespan of every completion of the state.

        ``quick``: where the matching of the ops left is not cached yet, use
        :meth:`busy_quick` instead (a lower bound too, a little weaker), and
        set :attr:`last_exact` to False; the search completes such bounds
        when it takes the state from the queue.
        """
        self.last_exact = True
        rem = self.full & ~ideal
        if not rem:
            return cmax
        K = self.K
        gpus = range(K)
        lb = cmax
        head: dict[int, float] = {}
        dmin, tail, pred, pred_mask = self.dmin, self.tail, self.graph.pred, self.pred_mask
        first = [math.inf] * K
        base = max(t0, min(ready))
        get = dr.get
        for v in self.topo:
            if not rem >> v & 1:
                continue
            vec = get(v)
            if vec is None:
                est = base
            else:
                on = [x if x > t0 else t0 for x in vec]
                est = min(on[k] if on[k] > ready[k] else ready[k] for k in gpus)
            if pred_mask[v] & rem:
                for u in pred[v]:
                    if rem >> u & 1:
                        x = head[u] + dmin[u]
                        if x > est:
                            est = x
            head[v] = est
            x = est + tail[v]
            if x > lb:
                lb = x
            if vec is None:
                for k in gpus:
                    if est < first[k]:
                        first[k] = est
            else:
                for k in gpus:
                    y = on[k] if on[k] > est else est
                    if y < first[k]:
                        first[k] = y
        r = [max(t0, ready[k], first[k]) for k in range(K)]
        sinks = sum(1 for v in head if self.sink[v])
        if quick and self.pairs and rem not in self._busy:  # no pairs (one stream): busy() is a sum
            value = max(lb, self._load(self.busy_quick(rem), r, ready, last_sink, sinks))
            self.last_exact = rem in self._busy
            return value
        return max(lb, self._load(self.busy(rem), r, ready, last_sink, sinks))

    def _load(self, work: float, r: list[float], ready: tuple[float, ...], last_sink: tuple[bool, ...],
              sinks: int) -> float:
        """The load bound of the module docstring for busy time ``work``."""
        K = self.K
        b = self.ramp_out
        if K <= SUBSET_GPUS:
            fin = [ready[k] + (0.0 if last_sink[k] else b) if ready[k] > 0 else 0.0 for k in range(K)]
            load = math.inf
            for A in range(1, 1 << K):
                m = 0
                total = work
                val = 0.0
                for k in range(K):
                    if A >> k & 1:
                        m += 1
                        total += r[k]
                    elif fin[k] > val:
                        val = fin[k]
                val = max(val, (total + max(0, m - sinks) * b) / m)
                if val < load:
                    load = val
        else:
            order = sorted(r)
            load = math.inf
            total = work
            for m in range(1, K + 1):
                total += order[m - 1]
                load = min(load, (total + max(0, m - sinks) * b) / m)
        return load

    # -- moves --------------------------------------------------------------

    def children(self, state: tuple) -> list[tuple] | None:
        """Every state one stage further, with its bound, cut states left out;
        None when the search must stop (time limit, Ctrl-C) before the list
        is complete (a bound on a large graph may take a while)."""
        ideal, t0, ready, cmax, end, gpu, last_sink, dr = state[:8]
        K = self.K
        rem = self.full & ~ideal
        avail = 0
        for v in _bits(rem):
            if self.pred_mask[v] & ideal == self.pred_mask[v]:
                avail |= 1 << v
        gpus: Sequence[int] = range(K)
        if self.interchangeable:
            used = [False] * K
            for g in gpu:
                if g >= 0:
                    used[g] = True
            opened = next((k for k in range(K) if not used[k]), None)
            gpus = [k for k in range(K) if used[k] or k == opened]
        cut = self.cut_level()
        out = []
        stats = self.stats
        # Gap filling: (latest start s of a new stage, start, op) for each op that could run now
        # on some GPU and be done in time; a new stage starting at s or later is not needed.
        fits = []
        if self.fill:
            for x in _bits(avail):
                vec = dr.get(x)
                for j in gpus:
                    st = ready[j] if ready[j] > t0 else t0
                    if vec is not None and vec[j] > st:
                        st = vec[j]
                    fits.append((st + max(self.latency[x], self.out_delay[x][j]), st, x))
            fits.sort()
        for v in _bits(avail):
            for c in self.by_first[v]:
                cm = self.cand_mask[c]
                if cm & avail != cm:
                    continue
                ops = self.cand_ops[c]
                data = [t0] * K
                for w in ops:
                    vec = dr.get(w)
                    if vec is not None:
                        for k in range(K):
                            if vec[k] > data[k]:
                                data[k] = vec[k]
                if self.halted():
                    return None
                for k in gpus:
                    s = ready[k] if ready[k] > data[k] else data[k]
                    e = s + self.cand_lat[c]
                    stats["generated"] += 1
                    if fits and fits[0][0] <= s and any(f <= s and st < s and not cm >> x & 1 for f, st, x in fits):
                        stats["gap_filled"] += 1
                        continue
                    n_ready = ready[:k] + (e,) + ready[k + 1:]
                    n_cmax = e if e > cmax else cmax
                    if n_cmax >= cut:
                        stats["cut_by_bound"] += 1
                        continue
                    n_end = list(end)
                    n_gpu = list(gpu)
                    n_dr = dict(dr)
                    for w in ops:
                        n_end[w] = e
                        n_gpu[w] = k
                        n_dr.pop(w, None)
                    for w in ops:
                        for x, delay in self.out[w]:
                            row = delay[k]
                            old = n_dr.get(x)
                            new = tuple(e + row[j] for j in range(K))
                            if old is not None:
                                new = tuple(a if a > b_ else b_ for a, b_ in zip(old, new))
                            n_dr[x] = new
                    n_last = last_sink[:k] + (any(self.sink[w] for w in ops),) + last_sink[k + 1:]
                    n_ideal = ideal | cm
                    lb = self.bound(n_ideal, s, n_ready, n_cmax, n_dr, n_last, quick=True)
                    if lb >= cut:
                        stats["cut_by_bound"] += 1
                        continue
                    out.append((lb, (n_ideal, s, n_ready, n_cmax, tuple(n_end), tuple(n_gpu), n_last, n_dr,
                                     state, (k, c)), self.last_exact))
        return out

    def profile(self, state: tuple) -> tuple[tuple[float, ...], ...]:
        """The numbers dominance compares, and their GPU-swapped version.

        Every future stage starts at or after ``t0``, and on GPU ``k`` at or
        after ``ready[k]``; so ``ready[k]`` counts as ``max(ready[k], t0)`` and
        an input time on ``k`` as at least that, without changing any future.
        """
        _, t0, ready, cmax, _, _, _, dr = state[:8]
        K = self.K
        free = [r if r > t0 else t0 for r in ready]
        p = [t0, cmax, *free]
        keys = sorted(dr)
        for w in keys:
            vec = dr[w]
            p.extend(vec[k] if vec[k] > free[k] else free[k] for k in range(K))
        if K == 2 and self.interchangeable:
            q = [t0, cmax, free[1], free[0]]
            for i in range(len(keys)):
                q.extend((p[5 + 2 * i], p[4 + 2 * i]))
            return (tuple(p), tuple(q))
        return (tuple(p),)

    def dive(self, state: tuple) -> None:
        """Greedy descent from ``state`` (lowest bound first) to a full schedule."""
        self.stats["dives"] += 1
        while state[0] != self.full:
            if self.halted():
                return
            # quick bounds guide the descent: complete ones made dives on 100-op graphs so slow
            # that gaps at 60 s grew from 1.6% to 5-9%
            kids = self.children(state)
            if not kids:  # None: halted; []: every way on is cut
                return
            state = min(kids, key=lambda kid: kid[0])[1]
        if state[3] < self.best:
            self.improved(state)
            self.stats["dive_improvements"] += 1

    def cut_level(self) -> float:
        """States whose bound reaches this cannot beat the best schedule
        (integer data: every makespan is an integer, so a bound above
        ``best - 1`` suffices)."""
        if self.integral:
            return self.best - 1 + 1e-6
        return self.best * (1 - _CUT_TOLERANCE)

    # -- search -------------------------------------------------------------

    def halted(self) -> str:
        """Why the search must stop now ("stopped", "time", "pause": its
        time slice is over), or "". Also takes a shorter makespan found by
        another search of the solve (its :class:`~hios_opt.exact.incumbent.Incumbent`)."""
        if self.stop_requested:
            return "stopped"
        incumbent = self.incumbent
        if incumbent is not None:
            if incumbent.stopping:
                return "stopped"
            if incumbent.best_ms < self.best:
                self.best = incumbent.best_ms
        now = time.monotonic()
        if now > self.deadline:
            return "time"
        if now > self.pause_at:
            return "pause"
        return ""

    def begin(self) -> None:
        """Queue the root state (the first :meth:`advance` dives from it)."""
        K = self.K
        root: tuple = (0, 0.0, (0.0,) * K, 0.0, (0.0,) * self.n, (-1,) * self.n, (True,) * K, {}, None, None)
        self.tie = count()
        self.heap = [(self.bound(0, 0.0, root[2], 0.0, {}, root[6]), next(self.tie), root, True)]
        self.store: dict[int, _Front] = {}
        self.root: tuple | None = root

    def lower_bound(self) -> float:
        """The least bound among the states not expanded yet (the best
        makespan once none is left)."""
        return min(self.heap[0][0], self.best) if self.heap else self.best

    def advance(self, until: float = math.inf) -> str:
        """Search until ``until`` (``time.monotonic()``) at most; returns why
        it stopped: "exhausted" (the best schedule is optimal), "pause" (call
        again to go on), "time", "states" or "stopped". A search cut short
        for good (not paused) completes the quick bounds at the top of its
        queue first (:meth:`settle`)."""
        self.pause_at = until
        heap, tie, store, stats = self.heap, self.tie, self.store, self.stats
        if self.root is not None:  # the first dive: whole, whatever the slice
            self.pause_at = math.inf
            self.dive(self.root)
            self.pause_at = until
            self.root = None
        while heap:
            reason = self.halted()
            if reason:
                if reason != "pause":
                    self.settle(heap, tie)
                return reason
            f, _, state, exact = heapq.heappop(heap)
            if f >= self.cut_level():
                heap.clear()
                break
            if not exact:  # a quick bound: complete it, then cut, queue again or go on
                f_exact = self.complete_bound(state)
                if f_exact >= self.cut_level():
                    stats["cut_by_bound"] += 1
                    continue
                if f_exact > f:
                    heapq.heappush(heap, (f_exact, next(tie), state, True))
                    continue
            stats["expanded"] += 1
            n_exp = stats["expanded"]
            if self.log and time.monotonic() >= self._next_log:
                self._next_log = time.monotonic() + 2.0
                print(f"#astar{' backward' if self.backward else ''} expanded {n_exp:,} kept {stats['kept']:,} "
                      f"open {len(heap):,} best {self.best:.6f} bound {min(f, self.best):.6f}", flush=True)
            if n_exp % _DIVE_EVERY == 0:
                self.dive(state)
            kids = self.children(state)
            if kids is None:
                heapq.heappush(heap, (f, next(tie), state, True))
                continue  # halted: the loop's first test says why
            for lb, kid, kid_exact in kids:
                if kid[0] == self.full:
                    if kid[3] < self.best:
                        self.improved(kid)
                    continue
                forms = self.profile(kid)
                front = store.get(kid[0])
                if front is None:
                    front = store[kid[0]] = _Front(len(forms[0]))
                if front.dominates(forms):
                    stats["dominated"] += 1
                    continue
                front.add(forms[0])
                stats["kept"] += 1
                heapq.heappush(heap, (lb, next(tie), kid, kid_exact))
            if stats["kept"] > self.max_states:
                self.settle(heap, tie)
                return "states"
        return "exhausted"

    def complete_bound(self, state: tuple) -> float:
        """The full bound of a queued state (the matching of its ops left)."""
        return self.bound(state[0], state[1], state[2], state[3], state[7], state[6])

    def settle(self, heap: list, tie: Any, budget_s: float = 0.25) -> None:
        """Complete the quick bounds at the top of the queue (for at most
        ``budget_s``), so that the bound reported when the search is cut
        short is as strong as if every bound had been complete."""
        end = time.monotonic() + budget_s
        while heap and not heap[0][3] and time.monotonic() < end:
            f, _, state, _ = heapq.heappop(heap)
            exact = self.complete_bound(state)
            heapq.heappush(heap, (max(f, exact), next(tie), state, True))

    def improved(self, state: tuple) -> None:
        """A complete state shorter than the best: keep it, and offer its
        schedule to the solve's incumbent with the evaluator's makespan."""
        self.best, self.best_state = state[3], state
        if self.incumbent is not None:
            found = self.schedule_of(state)
            self.incumbent.offer(found, evaluate(self.original, self.platform, found, self.cost_model).makespan,
                                 "astar")

    def schedule_of(self, state: tuple) -> Schedule:
        """The schedule a complete state stands for."""
        moves = []
        while state is not None and state[9] is not None:
            moves.append(state[9])
            state = state[8]
        ids = self.graph.ids
        # A backward path lists the stages from the end: mirrored, every GPU
        # runs them in the opposite order, and the evaluator's (left-justified)
        # times are at most the mirror's.
        order = moves if self.backward else reversed(moves)
        stages = [Stage(k, tuple(ids[v] for v in self.cand_ops[c])) for k, c in order]
        return Schedule(stages, gpus=self.platform.gpus, streams=self.platform.streams, algorithm="astar")

    def schedule(self) -> Schedule | None:
        """The best schedule found by the search (None: the warm start stands)."""
        return None if self.best_state is None else self.schedule_of(self.best_state)


def _next_turn(searches: list[_Search], last: _Search, streak: int) -> tuple[_Search, int]:
    """The direction that searches next, and its number of turns in a row
    (``streak``: those of ``last`` so far): the one whose bound is higher (it
    has been the one to prove the optimum on every measured graph; ties
    alternate), but no more than :data:`_LEAD_TURNS` turns in a row."""
    other = searches[1] if last is searches[0] else searches[0]
    if streak >= _LEAD_TURNS or other.lower_bound() >= last.lower_bound():
        return other, 1
    return last, streak + 1


class _Reversed:
    """The graph with every edge turned round (same op and edge indices),
    as far as :class:`_Search` reads it."""

    def __init__(self, graph: OpGraph) -> None:
        self.n_ops, self.n_edges, self.ids, self.latency = graph.n_ops, graph.n_edges, graph.ids, graph.latency
        self.pred, self.succ = graph.succ, graph.pred
        self.edge_src, self.edge_dst = graph.edge_dst, graph.edge_src
        self.out_edges = graph.in_edges
        self.topo = tuple(reversed(graph.topo))


class _Front:
    """The profiles kept for one set of placed ops (rows of an array)."""

    __slots__ = ("rows", "size")

    def __init__(self, width: int) -> None:
        self.rows = np.empty((4, width))
        self.size = 0

    def dominates(self, forms: tuple[tuple[float, ...], ...]) -> bool:
        """True when a kept profile is nowhere larger than one of ``forms``."""
        if not self.size:
            return False
        kept = self.rows[:self.size]
        return bool((kept[:, None, :] <= np.asarray(forms)[None, :, :] + 1e-12).all(axis=2).any())

    def add(self, profile: tuple[float, ...]) -> None:
        if self.size == len(self.rows):
            self.rows = np.concatenate([self.rows, np.empty_like(self.rows)])
        self.rows[self.size] = profile
        self.size += 1


def _integral_cover(perm: list[int], weight: np.ndarray) -> bool:
    """Whether the fractional matching of an assignment ``perm`` on the double
    cover is worth no more than an integral matching.

    Its 2-cycles are matched pairs; every other cycle (or a path, where a
    step has no saving) gives each of its edges one half, and an even cycle
    or a path holds an alternating matching of at least half its weight. Only
    an odd cycle of three or more savings can be worth more.
    """
    seen = [False] * len(perm)
    for start in range(len(perm)):
        if seen[start]:
            continue
        length, positive, i = 0, True, start
        while not seen[i]:
            seen[i] = True
            j = perm[i]
            if weight[i, j] <= 0.0:
                positive = False
            length += 1
            i = j
        if length >= 3 and length % 2 == 1 and positive:
            return False
    return True


def _bits(mask: int):
    """Indices of the set bits of ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def solve_astar(request: SolveRequest, cands: Candidates, *, max_states: int = MAX_STATES,
                directions: str = "both") -> SolveResult:
    """Run the search for ``request`` (warm start: ``request.warm``) and
    assemble the result.

    ``max_states``: stop (status ``"feasible"``, ``stats["ended"] == "states"``)
    once this many states are kept (by both searches together), before
    memory runs out. ``directions``: ``"both"`` (the forward and the backward
    search in turns of :data:`SLICE_S`, sharing the best makespan),
    ``"forward"`` or ``"backward"``. The search cuts with the shortest
    makespan any search of the solve found (``request.incumbent``, shared by
    a portfolio), offers it each schedule it finds, and stops when the
    incumbent says so. ``request.log``: print the progress every 2 s and a
    last line.

    Notes
    -----
    *Search space.* A *partial schedule* is a list of stages ``(GPU, candidate)`` appended in
    non-decreasing order of start time. A stage appended to GPU ``k`` starts at

        ``s = max(t0, ready[k], max over inputs of (producer end + delay))``

    where ``t0`` is the start of the stage appended last and ``ready[k]`` the end
    of GPU ``k``'s last stage. The ops already placed always form a *downset*
    (every producer of a placed op is placed), so a stage may only use ops whose
    producers are all placed.

    *Completeness.* Sort the stages of any schedule by the start times that
    :func:`hios_opt.evaluate` gives them (producers first on ties). Appending
    them in that order reproduces exactly those start times, since they are
    non-decreasing, so every schedule, an optimal one included, is a path of the
    search. Conversely the times of any path are at least the evaluator's for
    its stages (``max`` with ``t0`` only delays), so a path's makespan bounds its
    schedule's real makespan from above; the returned makespan is the
    evaluator's.

    *Dominance.* A state's future depends only on the set of placed ops, ``t0``,
    ``ready``, the makespan so far, and, for every unplaced op with a placed
    producer and every GPU ``k``, the time its placed inputs are ready on ``k``.
    If state ``A`` has the same placed set as ``B`` and none of these numbers is
    larger, then every completion of ``B`` applied to ``A`` gives each stage a
    start no later (the start rule is a maximum of these numbers and of earlier
    ends), so ``B`` is dropped. With interchangeable GPUs (uniform delays) the
    comparison also tries ``A`` with its two GPUs swapped (two GPUs), and a stage
    may open an unused GPU only if it is the lowest-numbered unused one.

    *Gap filling.* A new stage that starts at ``s`` is not generated when some
    other op ``x`` whose producers are all placed could start now on some GPU
    ``j`` at ``a = max(t0, ready[j], inputs of x on j) < s`` with
    ``a + max(t(x), D) <= s``, where ``t(x)`` is ``x``'s latency alone and ``D``
    the largest delay of an output of ``x`` from ``j``. Every completion of such a
    child runs ``x`` later, at ``s`` or after, in some stage; take ``x`` out of
    that stage (what is left of it is a candidate no longer than it, which is
    checked, else the rule is off) and run it alone on ``j`` at ``a``: it ends by
    ``s``, before anything else ``j`` runs in the completion, and its outputs
    reach every GPU no later than before (``a + t(x) + D <= s + t(x)``, at most
    its old end). No start grows and ``x`` starts strictly earlier, so among the
    optimal schedules one with the least sum of start times is never cut this
    way (nor by dominance, which keeps a state whose completions start no
    later).

    *Both directions.* Mirroring a schedule in time (``s, e`` to ``C - e, C - s``, every GPU's
    stages in the opposite order) gives a schedule of the *reversed* problem
    (every edge turned round, with the delay of the opposite link) of the same
    makespan, and back. So the search also runs *backward*, on the reversed
    problem, from the sinks, and its schedules are turned round (the
    evaluator's left-justified times are at most the mirror's). The bound's
    weak side (the idle time at the end, a static ramp; the start is exact) is
    the other direction's strong side. By default both run with one best
    makespan (each cuts with the other's schedules too), in turns of
    :data:`SLICE_S` seconds; the one whose bound is higher gets up to four turns
    in five. The first to finish proves the optimum, and a search cut short
    reports the larger of the two bounds.

    *Lower bound of a state (all terms valid for every completion).* Let ``R`` be the unplaced ops, ``dmin(v)`` the shortest candidate holding
    ``v`` and ``tail(v)`` the longest ``dmin`` chain from ``v`` to a sink.

    - *paths*: earliest starts ``h(v)`` (at least ``t0``; the earliest time its
      placed inputs are ready on some GPU whose queue is free; after every
      unplaced producer's ``h + dmin``), and ``Cmax >= h(v) + tail(v)``;
    - *load*: if exactly the GPUs of a set ``A`` run more stages, each of them
      starts its next stage no earlier than ``r_k = max(t0, ready[k], min over R
      of the time an op can start on k)``, together they run the *least busy
      time* ``W(R)`` of ``R``, and a GPU whose last stage holds no sink idles at
      least ``b`` before the makespan (the static ramp of
      :func:`hios_opt.exact.loadbound.load_bound`; at most ``#sinks in R`` GPUs of
      ``A`` end with one). A GPU outside ``A`` gives ``Cmax >= ready[k]`` (plus
      ``b`` when its last stage holds no sink). The bound is the least, over
      ``A``, of the larger of ``(sum of r_k + W(R) + max(0, |A| - #sinks) b) /
      |A|`` and those GPU ends (exact over all ``A`` for up to
      :data:`SUBSET_GPUS` GPUs; beyond that the GPU ends are left out and the
      ``|A|`` GPUs of smallest ``r_k`` are taken, which is smaller);
    - ``W(R)``: with stages of at most two ops, a minimum-weight cover of ``R``
      by singletons and pairs, i.e. ``sum of t(v)`` minus a maximum-weight
      matching of the pair savings ``t(a) + t(b) - L(a, b)``
      (:func:`networkx.max_weight_matching`, cached per ``R``); a pair is left out
      when its ops' static windows cannot hold it in a schedule shorter than the
      best found (``max head + L + max tail after > best``). With larger stages,
      the sum over ``R`` of each op's cheapest share ``L(c) / |c|``.

      The blossom matching is the search's most expensive step, so a new state
      first gets a *quick* ``W(R)``: half the best assignment of the savings on
      the bipartite double cover (:func:`scipy.optimize.linear_sum_assignment`),
      the maximum fractional matching, which is at least the maximum matching.
      When the assignment has no odd cycle of three or more savings, an
      integral matching is worth as much and the quick value is exact; else the
      state is queued with the quick bound and the matching runs when the state
      is taken from the queue (it is cut, queued again with the exact bound, or
      expanded). Dives follow the quick bounds, and a search cut short
      completes the quick bounds at the top of its queue (for at most 0.5 s)
      before it reports its bound.

    States whose bound reaches the best makespan found (the warm start first)
    are cut (within a relative ``1e-9``; with integer latencies and delays every
    makespan is an integer, and a bound above ``best - 1`` is enough). States are
    expanded lowest bound first, so the bound reported at a time limit is the
    least bound among the states not yet expanded (rounded up on integer data);
    when none is left, the best schedule is optimal. Periodic *dives* (greedy
    descents, lowest bound first) find good schedules early, which tightens the
    pair windows.

    *Where it is strong, and where not.* The number of states grows with the number of downsets, so graphs made of
    narrow stages (layered random graphs, chains of Inception blocks) suit it
    and wide ones (ten independent tasks on four GPUs) do not; there CP-SAT is
    far better, as it is with one stream, where its bound is tight. One thread
    (both directions take turns); memory grows with the states kept
    (``max_states`` stops the search first).
    Time limit and Ctrl-C are checked between two children of a state, so the
    search stops within one bound computation (at most about 0.3 s on a
    124-op graph, most of it the matching).
    """
    if directions not in ("both", "forward", "backward"):
        raise OptionError(f"directions must be 'both', 'forward' or 'backward', got {directions!r}")
    graph, platform, cost_model, warm = request.graph, request.platform, request.cost_model, request.warm
    incumbent = request.incumbent
    best = evaluate(graph, platform, warm, cost_model).makespan if warm is not None else math.inf
    best = min(best, incumbent.best_ms)
    ways = [False, True] if directions == "both" else [directions == "backward"]
    searches = [_Search(graph, platform, cands, best, request.deadline, max_states // len(ways), request.log,
                        backward=way) for way in ways]
    for search in searches:
        search.incumbent = incumbent
        search.cost_model = cost_model

    def stop() -> None:
        for search in searches:
            search.stop_requested = True

    def drive() -> tuple[float, str]:
        for search in searches:
            search.begin()
        search, streak = searches[0], 1
        while True:
            reason = search.advance(time.monotonic() + SLICE_S if len(searches) > 1 else math.inf)
            shared = min(other.best for other in searches)
            for other in searches:
                other.best = shared
            if reason == "pause":
                incumbent.raise_bound(max(other.lower_bound() for other in searches))
                search, streak = _next_turn(searches, search, streak)
                continue
            if reason == "exhausted":
                return shared, reason
            for other in searches:  # cut short: the strongest bound of the two
                if other is not search:
                    other.settle(other.heap, other.tie)
            return max(other.lower_bound() for other in searches), reason

    outcome, interrupted = run_stoppable(drive, stop, "hios-opt-astar")
    bound, reason = outcome if outcome is not None else (None, "stopped")
    integral = searches[0].integral
    if bound is not None and math.isfinite(bound):
        if reason == "exhausted" and not integral:
            # Proven: no schedule is shorter than the best by more than the cut tolerance.
            bound *= 1 - _CUT_TOLERANCE
        if integral:
            # Integer latencies and delays: every makespan is an integer.
            bound = math.ceil(bound - 1e-6)
    stats: dict[str, Any] = {key: sum(search.stats[key] for search in searches) for key in searches[0].stats}
    stats.update(candidates=len(cands), gpus_modelled=searches[0].K, ended=reason,
                 directions=directions, backward_expanded=sum(x.stats["expanded"] for x in searches if x.backward))
    if request.log:
        print(f"#astar ended ({reason}): expanded {stats['expanded']:,} kept {stats['kept']:,} "
              f"best {searches[0].best:.6f} bound {bound if bound is not None else float('nan'):.6f}", flush=True)
    return finish(graph, platform, cost_model, solver="astar",
                  solver_status="OPTIMAL" if reason == "exhausted" else reason.upper(),
                  schedules=[*(search.schedule() for search in searches), warm], solver_bound_ms=bound,
                  stats=stats, warm=warm, wall_time_s=request.elapsed(), interrupted=interrupted,
                  time_limit_s=request.time_limit)
