"""Communication-aware heads and tails, and the bound they give.

The critical path ignores communication, since two ops may share a GPU; but
the inputs of a join cannot all share its GPU for free: those that do run
before it on that GPU, one stage after another. :func:`heads` turns that
into a lower bound on every op's start that holds for any number of GPUs;
:func:`tails` is the same in mirror (the time every op leaves before the
end), and :func:`path_bound` is ``max(head + d + tail)``.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..costs import StageModel, default_model
from ..graph import OpGraph
from ..platform import Platform
from ..timing import edge_delays

__all__ = ["heads", "tails", "path_bound"]


def _join_start(arrivals: list[tuple[float, float, float, float]], one_gpu: bool) -> float:
    """The least start of an op over every choice of which inputs share its
    GPU (see :func:`heads`). ``arrivals``: ``(remote, head, done, work)`` of
    each input: its arrival from another GPU, its head, ``head + d`` and its
    least busy time ``w``."""
    if not arrivals:
        return 0.0
    ordered = sorted(arrivals, key=lambda x: -x[0])
    best = float("inf")
    local: list[tuple[float, float]] = []  # (head, work) of the inputs on the op's GPU
    done = 0.0
    for j in range(len(ordered) + 1):
        remote = 0.0 if j == len(ordered) else ordered[j][0]
        if not one_gpu or j == len(ordered):
            # The local inputs' stages lie on one GPU after their heads: from
            # any threshold tau, those with head >= tau need their busy time.
            packed = 0.0
            work_after = 0.0
            for head, work in sorted(local, reverse=True):
                work_after += work
                packed = max(packed, head + work_after)
            best = min(best, max(remote, done, packed))
        if j < len(ordered):
            _, head, end, work = ordered[j]
            local.append((head, work))
            done = max(done, end)
    return best


def heads(graph: OpGraph, platform: Platform, cost_model: StageModel | None = None, *,
          reverse: bool = False) -> list[float]:
    """A lower bound on the start of every op's stage in any schedule.

    Notes
    -----
    Let ``d(v)`` be the least latency of a stage holding ``v`` and ``w(v)``
    its least share of a stage's busy time (:meth:`StageModel.min_duration`,
    :meth:`StageModel.min_work`: ``sum(w) <= L(S)`` over any stage ``S``), and
    ``δ(e)`` the least delay of edge ``e`` between two distinct GPUs. In a
    schedule, split the inputs ``U`` of ``v`` into ``P``, those on ``v``'s GPU,
    and ``R``, the others. Each ``u`` in ``R`` delivers at ``e(u) + δ >= H(u) +
    d(u) + δ``. The stages holding ``P`` end before ``v``'s starts on the same
    GPU, so they are disjoint intervals there; those holding the inputs with
    head ``>= τ`` start after ``τ`` and last at least the sum of those inputs'
    ``w`` (a stage holding several inputs lasts at least the sum of their
    shares). So ``v`` starts at or after ``max(max_R (H + d + δ), max_P (H + d),
    max_τ (τ + sum_{P, H >= τ} w))``; the head ``H(v)`` is the least of this
    over every split (with one GPU, ``P = U``). The split that attains it
    keeps the inputs of latest remote arrival on ``v``'s GPU, so only the
    ``|U| + 1`` prefixes of the inputs sorted by remote arrival are tried.
    This uses nothing about the number of GPUs, so it holds for any.

    With ``reverse=True``: the same for the mirrored problem (every edge
    turned round, with the delay of the opposite link), i.e. a lower bound on
    the time between the end of every op's stage and the makespan (mirroring
    a schedule in time maps it to a schedule of the mirrored problem of the
    same makespan).
    """
    model = default_model(cost_model)
    d = model.min_duration(graph)
    w = model.min_work(graph, platform.streams)
    delays = edge_delays(graph, platform)
    one_gpu = platform.gpus == 1
    head = [0.0] * graph.n_ops
    order: Iterable[int] = reversed(graph.topo) if reverse else graph.topo
    inputs = graph.out_edges if reverse else graph.in_edges
    other = graph.edge_dst if reverse else graph.edge_src
    for v in order:
        arrivals = []
        for e in inputs[v]:
            u = other[e]
            done = head[u] + d[u]
            arrivals.append((done + delays.lowest(e), head[u], done, w[u]))
        head[v] = _join_start(arrivals, one_gpu)
    return head


def tails(graph: OpGraph, platform: Platform, cost_model: StageModel | None = None) -> list[float]:
    """A lower bound on the time from the end of every op's stage to the
    makespan in any schedule (:func:`heads` of the mirrored problem)."""
    return heads(graph, platform, cost_model, reverse=True)


def path_bound(graph: OpGraph, platform: Platform, cost_model: StageModel | None = None) -> float:
    """``max(head + d + tail)`` over the ops: no schedule is shorter.

    At least the critical path (a head is at least every input's head plus
    ``d``), and more where joins must either wait for transfers or run their
    inputs one after another on their own GPU.

    >>> from hios_opt import Platform, generators
    >>> g = generators.fork_join(branches=2, branch_latency_ms=4.0, comm_ms=5.0)   # 1 + 4 + 4 + 1 on one GPU
    >>> path_bound(g, Platform(gpus=2))
    10.0
    """
    d = default_model(cost_model).min_duration(graph)
    head = heads(graph, platform, cost_model)
    tail = tails(graph, platform, cost_model)
    return max(h + x + t for h, x, t in zip(head, d, tail))
