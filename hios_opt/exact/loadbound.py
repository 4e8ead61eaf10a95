"""Lower bounds on the grid from busy time and forced idle time.

Static bounds that the CP-SAT and MILP models start from (and that hold on
their own): :func:`cover_bound`, the least total busy time of a set of
stage candidates that covers every op once, and :func:`load_bound`, which
spreads it over the GPUs with the idle time they cannot avoid.
"""

from __future__ import annotations

import math
import time

from ortools.sat.python import cp_model

from ..graph import OpGraph
from .candidates import Candidates
from .grid import GridData, ramps

__all__ = ["cover_bound", "load_bound"]


def cover_bound(cands: Candidates, dur: list[int], time_limit: float, usable: list[bool] | None = None) -> int:
    """Least total duration of a set of candidates that holds every op once
    (a lower bound on the total busy time of any schedule), from a small
    set-partitioning model; the proven bound is used, so a short time limit
    only weakens it. ``usable`` restricts the candidates (singletons are
    always usable)."""
    n = len(cands.by_op)
    if not cands.multi or (usable is not None and not any(usable[n:])):
        return sum(dur[v] for v in range(n))
    m = cp_model.CpModel()
    keep = [c for c in range(len(cands)) if usable is None or usable[c] or c < n]
    z = {c: m.new_bool_var(f"z{c}") for c in keep}
    for v in range(n):
        m.add_exactly_one(z[c] for c in cands.by_op[v] if c in z)
    m.minimize(sum(dur[c] * z[c] for c in keep))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit)
    solver.parameters.num_workers = 1
    # A short helper solve: let Ctrl-C raise KeyboardInterrupt right after it
    # (the caller then returns its best schedule) rather than be swallowed.
    solver.parameters.catch_sigint_signal = False
    code = solver.solve(m)
    if code == cp_model.OPTIMAL:
        return int(round(solver.objective_value))
    bound = solver.best_objective_bound
    return math.ceil(bound - 1e-9) if math.isfinite(bound) else 0


def load_bound(graph: OpGraph, cands: Candidates, data: GridData, time_limit: float,
               horizon: int | None = None) -> int:
    """Makespan bound (ticks) from busy plus forced idle time.

    If ``m`` GPUs are used, their busy times add up to at least the cover
    bound ``W``; each used GPU without a source idles at least ``a`` before its
    first stage and each without a sink at least ``b`` after its last (see
    :func:`~hios_opt.exact.grid.ramps`), and at most ``#sources`` (``#sinks``) GPUs hold one. So
    ``m * Cmax >= W + max(0, m - #sources) a + max(0, m - #sinks) b``; the bound
    is the least right-hand side over ``m = 1 .. K``, divided by ``m``.

    With groups of ops (``streams > 1``) the bound is sharpened by testing
    makespans ``T`` (binary search up to ``horizon``): a schedule of makespan
    ``T`` can only use a group ``c`` that fits its ops' time windows,
    ``max head + d_c + max tail after <= T``; if even the cover by such groups
    gives a bound above ``T``, no schedule of makespan ``T`` exists. The
    answer is the least ``T`` that passes (every makespan below it fails, and
    the test is monotone in ``T``).
    """
    t_end = time.monotonic() + max(0.0, time_limit)
    a, b = ramps(graph, data)
    n = graph.n_ops
    n_src = sum(1 for v in range(n) if not graph.pred[v])
    n_snk = sum(1 for v in range(n) if not graph.succ[v])

    def bound(work: int) -> int:
        return min(-((-(work + max(0, m - n_src) * a + max(0, m - n_snk) * b)) // m)
                   for m in range(1, data.gpus + 1))

    lo = bound(cover_bound(cands, data.dur, max(0.01, t_end - time.monotonic())))
    if not cands.multi or horizon is None or lo >= horizon:
        return lo
    dmin = [min(data.dur[c] for c in cands.by_op[v]) for v in range(n)]
    after = [data.tail[v] - dmin[v] for v in range(n)]
    need = [max(data.head[v] for v in ops) + data.dur[c] + max(after[v] for v in ops)
            for c, ops in enumerate(cands.ops)]

    def passes(t: int) -> bool:
        usable = [need[c] <= t for c in range(len(cands))]
        return bound(cover_bound(cands, data.dur, max(0.01, t_end - time.monotonic()), usable)) <= t

    hi = horizon  # some schedule (the warm start) has this makespan: it passes
    while lo < hi and time.monotonic() < t_end:
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo
