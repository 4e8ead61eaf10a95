"""Random valid schedules of an OpGraph."""

from __future__ import annotations

import random

from hios_opt import OpGraph, Platform, Schedule, Stage


def random_schedule(graph: OpGraph, platform: Platform, seed: int, merge_probability: float = 0.5) -> Schedule:
    """A random valid schedule: a random topological order, a random GPU per op,
    and consecutive independent ops of one GPU merged into stages of at most
    ``streams`` ops."""
    rng = random.Random(seed)
    indegree = [len(p) for p in graph.pred]
    ready = [v for v in range(graph.n_ops) if indegree[v] == 0]
    order = []
    while ready:
        v = ready.pop(rng.randrange(len(ready)))
        order.append(v)
        for w in graph.succ[v]:
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(w)
    # A stage may take v only when v depends on nothing placed since the stage
    # was opened (on any GPU). Then every stage is contiguous in some
    # topological order, so the stages can always run: no deadlock.
    per_gpu: list[list[list[int]]] = [[] for _ in range(platform.gpus)]
    opened_mask = [0] * platform.gpus  # ops placed since each GPU's last stage opened
    ancestors = graph.ancestors_bits
    for v in order:
        gpu = rng.randrange(platform.gpus)
        stages = per_gpu[gpu]
        last = stages[-1] if stages else None
        if (last is not None and len(last) < platform.streams and rng.random() < merge_probability
                and not ancestors[v] & opened_mask[gpu]):
            last.append(v)
        else:
            stages.append([v])
            opened_mask[gpu] = 0
        for g in range(platform.gpus):
            opened_mask[g] |= 1 << v
    # Any interleaving of the GPUs' stage lists is the same schedule: the
    # evaluator only reads the per-GPU order. Shuffle it to test that too.
    labels = [g for g, sts in enumerate(per_gpu) for _ in sts]
    rng.shuffle(labels)
    queues = [iter(sts) for sts in per_gpu]
    stages = [Stage(g, tuple(graph.ids[v] for v in next(queues[g]))) for g in labels]
    return Schedule(stages, gpus=platform.gpus, streams=platform.streams, algorithm="random",
                    graph_name=graph.name)


def timeline_of(graph: OpGraph, platform: Platform, schedule: Schedule) -> dict[str, tuple[int, float]]:
    """``{op id: (GPU, start)}`` of a schedule, as the evaluator times it:
    what a hand-computed list schedule is compared with."""
    from hios_opt import evaluate

    starts = evaluate(graph, platform, schedule).op_start
    return {op: (schedule.gpu_of(op), starts[op]) for op in graph.ids}


def check_list_scheduler(function, name: str, seed: int = 0, problems: int = 40, same_mapping: bool = True) -> None:
    """The invariants of a list scheduler with the intra-GPU pass on random
    graphs and platforms: the evaluator's makespan, never below the lower
    bound, one op per stage without the pass, the pass moving no op to
    another GPU (``same_mapping``) and never making the schedule longer,
    nothing merged with one stream, and the same bytes twice."""
    from hios_opt import evaluate, lower_bound

    from .graphs import small_random_graph

    rng = random.Random(seed)
    for _ in range(problems):
        graph = small_random_graph(rng)
        platform = Platform(gpus=rng.randint(1, 4), streams=rng.randint(1, 3))
        merged = function(graph, platform)
        alone = function(graph, platform, intra=False)
        assert merged.algorithm == alone.algorithm == name
        for s in (merged, alone):
            assert s.makespan_ms == evaluate(graph, platform, s).makespan
            assert s.makespan_ms >= lower_bound(graph, platform) - 1e-9
            assert sorted(s.ops) == sorted(graph.ids)
        assert all(len(st.ops) == 1 for st in alone.stages)
        if same_mapping:
            assert alone.placement == merged.placement
            assert merged.makespan_ms <= alone.makespan_ms + 1e-9
        if platform.streams == 1:
            assert merged.stages == alone.stages
        assert function(graph, platform).to_dict() == merged.to_dict()
