"""Re-solve a time band of a schedule exactly, the rest held in place.

The repair step of the large-neighbourhood search (:mod:`.lns`). The ops of
a window (a few dozen, around a point of the critical chain) are freed.
Every other stage keeps its GPU, its ops (without the freed ones) and its
order on that GPU. Stages that end before the band of the freed ops keep
their times; stages that start after it keep their order, and their whole
effect on the makespan is summed up by their *tails* (the longest path from
their start to the end through stages after the band), so that CP-SAT only
sees the band: the freed ops' GPUs, groups and order, and the start times
of the band's other stages. :func:`repair_window`'s Notes show that the
model's makespan is the plan's. The answer is read back as a plan and
judged by the timing kernel like any other move.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from ..costs import StageModel, default_model
from ..graph import OpGraph
from ..platform import Platform
from ..timing import edge_delays
from .grid import to_ticks

__all__ = ["repair_window", "Repair"]

Plan = list[list[tuple[int, ...]]]


@dataclass(frozen=True)
class Repair:
    """A repaired plan and its makespan on the time grid (ms), which is at
    most the plan's real makespan (the grid rounds durations down)."""

    plan: Plan
    makespan_ms: float


def _groups(graph: OpGraph, window: Sequence[int], streams: int) -> list[tuple[int, ...]]:
    """Every group of at most ``streams`` mutually independent window ops."""
    out: list[tuple[int, ...]] = [(v,) for v in window]
    for size in range(2, min(streams, len(window)) + 1):
        for group in itertools.combinations(sorted(window), size):
            if graph.independent(group):
                out.append(group)
    return out


def repair_window(
    graph: OpGraph,
    platform: Platform,
    cost_model: StageModel | None,
    plan: Plan,
    start: Sequence[float],
    end: Sequence[float],
    window: Sequence[int],
    *,
    resolution_ms: float,
    seconds: float,
    wall_seconds: float,
    seed: int = 0,
) -> Repair | None:
    """The plan CP-SAT finds with only ``window``'s ops free (``None`` when it
    finds nothing), judged by the caller.

    ``plan`` is the stages of each GPU (op-index tuples) and ``start`` /
    ``end`` their times, in the plan's flat order (GPU by GPU). ``seconds``
    is CP-SAT's deterministic time (with one worker the answer is a function
    of the input and ``seed``), ``wall_seconds`` a cap on the wall clock.

    Notes
    -----
    Let ``[lo, hi]`` be the span of the stages that hold freed ops. A stage
    that ends before ``lo`` (a *prefix* stage) depends only on prefix stages
    (its inputs end before it starts, hence before ``lo``), so it keeps its
    times. A stage that starts at or after ``hi`` (*suffix*) keeps its place
    after the band on its GPU. With the band's stages fixed, the earliest
    start of every suffix stage is a longest path, so the makespan is the
    largest of: the band's ends; ``C0``, the makespan with the band's arcs
    into the suffix left out; and, for every arc from a band stage to a
    suffix stage ``s`` (an edge, with its delay, or ``s`` being the first
    suffix stage of a GPU), the band stage's end plus the delay plus
    ``tail(s)``, the longest path from ``s``'s start to the end through
    suffix stages. The model minimises exactly that, on the time grid.
    """
    cost = default_model(cost_model)
    delays = edge_delays(graph, platform)
    free = set(window)
    n_gpus, streams = platform.gpus, platform.streams
    r = resolution_ms

    # No schedule within the current makespan uses a duration or delay
    # longer than it: such values become one tick past it (and never
    # overflow the model's integers, whatever the data).
    limit = max(end, default=0.0) / r + 2

    def ticks(x: float) -> int:
        return int(limit) if x / r > limit else to_ticks(x, r)

    def latency(ops: Sequence[int]) -> float:
        return graph.latency[ops[0]] if len(ops) == 1 else cost.stage_latency(graph, list(ops))

    # -- the plan's stages, flat, and the band
    flat: list[tuple[int, tuple[int, ...]]] = [(k, ops) for k, stages in enumerate(plan) for ops in stages]
    holds_free = [any(v in free for v in ops) for _, ops in flat]
    lo = min(start[s] for s in range(len(flat)) if holds_free[s])
    hi = max(end[s] for s in range(len(flat)) if holds_free[s])
    kind: list[str] = []   # "prefix", "band", "suffix" of each flat stage (without the freed ops)
    for s in range(len(flat)):
        if holds_free[s] or not (end[s] < lo or start[s] >= hi):
            kind.append("band")
        else:
            kind.append("prefix" if end[s] < lo else "suffix")
    kept = [tuple(v for v in ops if v not in free) for _, ops in flat]
    stage_of = {v: s for s, ops in enumerate(kept) for v in ops}
    dur = [ticks(latency(ops)) if ops else 0 for ops in kept]

    # -- suffix: tails (longest path from a stage's start to the end), and C0
    suffix = [s for s in range(len(flat)) if kind[s] == "suffix"]
    order = sorted(suffix, key=lambda s: start[s])   # a topological order of the suffix (times grow along arcs)
    next_on_gpu: dict[int, int] = {}
    first_suffix: dict[int, int] = {}
    for k in range(n_gpus):
        on_k = [s for s in range(len(flat)) if flat[s][0] == k and kind[s] == "suffix"]
        on_k.sort(key=lambda s: start[s])
        if on_k:
            first_suffix[k] = on_k[0]
        for a, b in zip(on_k, on_k[1:]):
            next_on_gpu[a] = b
    tail = {s: dur[s] for s in suffix}
    for s in reversed(order):
        best = 0
        nxt = next_on_gpu.get(s)
        if nxt is not None:
            best = tail[nxt]
        for v in kept[s]:
            for e in graph.out_edges[v]:
                w = graph.edge_dst[e]
                t = stage_of.get(w)
                if t is not None and kind[t] == "suffix" and t != s:
                    best = max(best, ticks(delays.between(e, flat[s][0], flat[t][0])) + tail[t])
        tail[s] = dur[s] + best
    fixed_end = {s: ticks(end[s]) for s in range(len(flat)) if kind[s] == "prefix"}
    avail = [0] * n_gpus
    for s, e_ in fixed_end.items():
        avail[flat[s][0]] = max(avail[flat[s][0]], e_)
    # C0: the suffix timed without the band's arcs (prefix arrivals and suffix arcs only)
    est: dict[int, int] = {}
    prev_on_gpu = {b: a for a, b in next_on_gpu.items()}
    c0 = max(fixed_end.values(), default=0)
    for s in order:
        k = flat[s][0]
        t0 = est[prev_on_gpu[s]] + dur[prev_on_gpu[s]] if s in prev_on_gpu else avail[k]
        for v in kept[s]:
            for e in graph.in_edges[v]:
                t = stage_of.get(graph.edge_src[e])
                if t is not None and kind[t] != "band":
                    ready = (est[t] + dur[t] if kind[t] == "suffix" else fixed_end[t])
                    t0 = max(t0, ready + ticks(delays.between(e, flat[t][0], k)))
        est[s] = t0
        c0 = max(c0, t0 + tail[s])

    # -- the band model
    band = [s for s in range(len(flat)) if kind[s] == "band" and kept[s]]
    groups = _groups(graph, window, streams)
    dur_g = [ticks(latency(gr)) for gr in groups]
    # Durations round down on the grid, so the current plan fits within its
    # makespan in ticks (plus one).
    horizon = max(c0, ticks(max(end, default=0.0)) + 1)
    m = cp_model.CpModel()
    t_band = {s: m.new_int_var(avail[flat[s][0]], horizon, f"b{s}") for s in band}
    t_op = {v: m.new_int_var(0, horizon, f"t{v}") for v in window}
    x = [[m.new_bool_var(f"x{c}_{k}") for k in range(n_gpus)] for c in range(len(groups))]
    by_op: dict[int, list[int]] = {v: [] for v in window}
    for c, gr in enumerate(groups):
        for v in gr:
            by_op[v].append(c)
    z = []
    for c in range(len(groups)):
        zc = m.new_bool_var(f"z{c}")
        m.add(sum(x[c]) == zc)
        z.append(zc)
    for v in window:
        m.add_exactly_one(z[c] for c in by_op[v])
    y = {v: [m.new_bool_var(f"y{v}_{k}") for k in range(n_gpus)] for v in window}
    for v in window:
        for k in range(n_gpus):
            m.add(y[v][k] == sum(x[c][k] for c in by_op[v]))
    e_op = {}
    for v in window:
        ev = m.new_int_var(0, horizon, f"e{v}")
        m.add(ev == t_op[v] + sum(dur_g[c] * z[c] for c in by_op[v]))
        e_op[v] = ev
    for c, gr in enumerate(groups):
        for w in gr[1:]:
            m.add(t_op[w] == t_op[gr[0]]).only_enforce_if(z[c])
        for k in range(n_gpus):
            m.add(t_op[gr[0]] >= avail[k]).only_enforce_if(x[c][k])

    per_gpu: list[list[Any]] = [[] for _ in range(n_gpus)]
    last_band: dict[int, int] = {}
    for s in sorted(band, key=lambda s: start[s]):
        k = flat[s][0]
        per_gpu[k].append(m.new_fixed_size_interval_var(t_band[s], dur[s], f"B{s}"))
        if k in last_band:
            a = last_band[k]
            m.add(t_band[s] >= t_band[a] + dur[a])
        last_band[k] = s
    for c, gr in enumerate(groups):
        for k in range(n_gpus):
            per_gpu[k].append(m.new_optional_fixed_size_interval_var(t_op[gr[0]], dur_g[c], x[c][k], f"W{c}_{k}"))
    for k in range(n_gpus):
        m.add_no_overlap(per_gpu[k])

    cmax = m.new_int_var(c0, horizon, "cmax")

    def place(v: int) -> tuple[Any, Any, list[Any]]:
        """Start, end and GPU literals of an op in the band (frozen or freed)."""
        if v in free:
            return t_op[v], e_op[v], y[v]
        s = stage_of[v]
        return t_band[s], t_band[s] + dur[s], [flat[s][0] == k for k in range(n_gpus)]

    def add_after(later: Any, earlier_end: Any, d: int, lits: list[Any]) -> None:
        lits = [lit for lit in lits if lit is not True]
        if any(lit is False for lit in lits):
            return
        if lits:
            m.add(later >= earlier_end + d).only_enforce_if(lits)
        else:
            m.add(later >= earlier_end + d)

    for e in range(graph.n_edges):
        u, v = graph.edge_src[e], graph.edge_dst[e]
        ku = "band" if u in free else kind[stage_of[u]]
        kv = "band" if v in free else kind[stage_of[v]]
        if ku == "band" and kv == "band":
            su_t, su_e, gu = place(u)
            sv_t, _, gv = place(v)
            m.add(sv_t >= su_e)
            for a in range(n_gpus):
                for b in range(n_gpus):
                    d = ticks(delays.between(e, a, b)) if a != b else 0
                    if d > 0:
                        add_after(sv_t, su_e, d, [gu[a], gv[b]])
        elif ku == "prefix" and kv == "band":
            su = stage_of[u]
            sv_t, _, gv = place(v)
            for b in range(n_gpus):
                add_after(sv_t, fixed_end[su], ticks(delays.between(e, flat[su][0], b)), [gv[b]])
        elif ku == "band" and kv == "suffix":
            sv = stage_of[v]
            _, su_e, gu = place(u)
            for a in range(n_gpus):
                add_after(cmax, su_e, ticks(delays.between(e, a, flat[sv][0])) + tail[sv], [gu[a]])
    # The first suffix stage of each GPU waits for the band's stages there.
    for k in range(n_gpus):
        f = first_suffix.get(k)
        for s in band:
            if flat[s][0] == k:
                m.add(cmax >= t_band[s] + dur[s] + (tail[f] if f is not None else 0))
        for c, gr in enumerate(groups):
            m.add(cmax >= t_op[gr[0]] + dur_g[c] + (tail[f] if f is not None else 0)).only_enforce_if(x[c][k])
    # The makespan, weighted well above the freed ops' ends: a repair that
    # cannot shorten the makespan still pulls its part of the schedule
    # earlier. (A strict order, a weight above the ends' whole range, makes
    # coefficients CP-SAT handles badly; the caller judges the plan anyway.)
    m.minimize(cmax * (4 * len(window)) + sum(e_op.values()))

    # -- hint: the current plan (the window is made of whole stages, so each
    # freed op's current stage is one of the groups)
    gpu_now = {v: flat[s][0] for s in range(len(flat)) for v in flat[s][1]}
    stage_now = {v: flat[s][1] for s in range(len(flat)) for v in flat[s][1]}
    start_now = {v: start[s] for s in range(len(flat)) for v in flat[s][1]}
    for v in window:
        for k in range(n_gpus):
            m.add_hint(y[v][k], gpu_now[v] == k)
        m.add_hint(t_op[v], min(horizon, ticks(start_now[v])))
    for c, gr in enumerate(groups):
        current = stage_now[gr[0]] == gr
        m.add_hint(z[c], current)
        for k in range(n_gpus):
            m.add_hint(x[c][k], current and gpu_now[gr[0]] == k)
    for s in band:
        m.add_hint(t_band[s], min(horizon, ticks(start[s])))

    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_deterministic_time = max(0.01, seconds)
    solver.parameters.max_time_in_seconds = max(0.01, wall_seconds)
    solver.parameters.catch_sigint_signal = False
    code = solver.solve(m)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    rows: list[list[tuple[float, int, int, tuple[int, ...]]]] = [[] for _ in range(n_gpus)]
    for s in range(len(flat)):
        k = flat[s][0]
        if not kept[s]:
            continue
        if kind[s] == "prefix":
            rows[k].append((start[s] / r, 0, s, kept[s]))
        elif kind[s] == "suffix":
            rows[k].append((horizon + start[s] / r, 3, s, kept[s]))
        else:
            rows[k].append((solver.value(t_band[s]), 1, s, kept[s]))
    for c, gr in enumerate(groups):
        for k in range(n_gpus):
            if solver.boolean_value(x[c][k]):
                rows[k].append((solver.value(t_op[gr[0]]), 2, c, gr))
    out: Plan = []
    for k in range(n_gpus):
        rows[k].sort(key=lambda row: (row[0], row[1], row[2]))
        out.append([tuple(sorted(row[3])) for row in rows[k]])
    return Repair(out, solver.value(cmax) * r)
