"""Property tests for the invariants of docs/design.md sections 1, 2 and 5."""

from hypothesis import given
from hypothesis import strategies as st

from hios_opt import Platform, Schedule, evaluate, generators, lower_bound
from hios_opt.bounds import critical_path_bound, work_bound
from hios_opt.costs import AnalyticModel
from hios_opt.errors import OptionError

from .helpers import random_schedule


@st.composite
def graphs(draw):
    n = draw(st.integers(3, 30))
    layers = draw(st.integers(1, max(1, min(6, n - 2))))
    ccr = draw(st.sampled_from([0.0, 0.2, 1.0, 5.0]))
    seed = draw(st.integers(0, 10_000))
    edges = draw(st.integers(n, 2 * n))
    # Linking few wide layers may need more edges than asked, and tiny graphs
    # allow fewer: walk up, then down, to the nearest feasible count.
    for count in [*range(edges, n * n), *range(edges - 1, 1, -1)]:
        try:
            return generators.random_layered(n, count, layers, ccr, seed)
        except OptionError:
            continue
    raise AssertionError("no feasible edge count")


platforms = st.builds(Platform, gpus=st.integers(1, 4), streams=st.integers(1, 3))


@given(graphs(), platforms, st.integers(0, 2**31), st.floats(0.0, 1.0))
def test_random_schedules_never_beat_the_lower_bound(graph, platform, seed, alpha):
    schedule = random_schedule(graph, platform, seed)
    model = AnalyticModel(alpha)
    tl = evaluate(graph, platform, schedule, model)
    assert tl.makespan >= lower_bound(graph, platform, model) - 1e-9
    assert tl.makespan >= critical_path_bound(graph, model) - 1e-9
    assert tl.makespan >= work_bound(graph, platform, model) - 1e-9
    # every op ends no later than the makespan, and busy time fits in it
    assert max(tl.op_end.values()) == tl.makespan
    assert all(b <= tl.makespan + 1e-9 for b in tl.busy_ms)


@given(graphs(), platforms, st.integers(0, 2**31))
def test_schedule_json_round_trip(graph, platform, seed):
    schedule = random_schedule(graph, platform, seed)
    schedule.makespan_ms = evaluate(graph, platform, schedule).makespan
    back = Schedule.from_dict(schedule.to_dict())
    assert back == schedule
    assert evaluate(graph, platform, back).makespan == schedule.makespan_ms


@given(graphs())
def test_graph_json_round_trip(graph):
    from hios_opt import OpGraph

    back = OpGraph.from_dict(graph.to_dict())
    assert back.to_dict() == graph.to_dict()
    assert back.ops == graph.ops


@given(graphs(), st.integers(0, 2**31))
def test_one_gpu_one_stream_equals_total_work(graph, seed):
    # With K = 1 and S = 1 every valid schedule is a topological order and the
    # makespan is the sum of latencies (no idle time, no comm).
    tl = evaluate(graph, Platform(), random_schedule(graph, Platform(), seed))
    assert abs(tl.makespan - graph.total_latency_ms) < 1e-9 * max(1.0, graph.total_latency_ms)
