import pytest

from hios_opt import OpGraph, Platform, Schedule, Stage, evaluate, generators, simulate
from hios_opt.costs import AnalyticModel
from hios_opt.errors import (
    CoverageError,
    DeadlockError,
    DependentStageError,
    GpuIndexError,
    HiosError,
    StageSizeError,
)


def seq(graph):
    return Schedule.sequential(graph.topological_order())


def test_sequential_diamond(diamond):
    # 1 + 2 + 3 + 1, one stream, no comm on one GPU
    tl = evaluate(diamond, Platform(), seq(diamond))
    assert tl.makespan == 7.0
    assert tl.busy_ms == [7.0] and tl.idle_ms == [0.0]
    assert tl.op_start == {"a": 0.0, "b": 1.0, "c": 3.0, "d": 6.0}


def test_merged_stage_uses_contention_model(diamond):
    # b, c together: L = 0.5*(2+3) + 0.5*max(2*0.8 + 3*0.8, 3) = 2.5 + 2.0 = 4.5
    s = Schedule([Stage(0, ("a",)), Stage(0, ("b", "c")), Stage(0, ("d",))], streams=2)
    tl = evaluate(diamond, Platform(streams=2), s)
    assert tl.makespan == pytest.approx(1 + 4.5 + 1)
    assert tl.op_stream == {"a": 0, "b": 0, "c": 1, "d": 0}
    assert tl.op_end["b"] == tl.op_end["c"] == pytest.approx(5.5)
    # alpha = 1: no benefit from concurrency, L = 5
    assert evaluate(diamond, Platform(streams=2), s, AnalyticModel(1.0)).makespan == pytest.approx(7.0)
    # alpha = 0: L = max(4.0, 3) = 4
    assert evaluate(diamond, Platform(streams=2), s, AnalyticModel(0.0)).makespan == pytest.approx(6.0)


def test_measured_entry_wins_over_formula(diamond):
    g = diamond.with_costs(stage_latency_ms={frozenset({"b", "c"}): 4.2})
    s = Schedule([Stage(0, ("a",)), Stage(0, ("b", "c")), Stage(0, ("d",))], streams=2)
    assert evaluate(g, Platform(streams=2), s).makespan == pytest.approx(1 + 4.2 + 1)


def test_two_gpus_with_comm(diamond):
    # GPU0: a [0,1], b [1,3]; GPU1: c ready at 1 + 0.5 -> [1.5, 4.5];
    # d on GPU0 waits for c's tensor: 4.5 + 0.5 = 5 -> [5, 6].
    s = Schedule.from_gpu_lists([["a", "b", "d"], ["c"]])
    tl = evaluate(diamond, Platform(gpus=2), s)
    assert tl.makespan == pytest.approx(6.0)
    assert tl.op_start["c"] == pytest.approx(1.5) and tl.op_start["d"] == pytest.approx(5.0)
    assert [(t.src, t.dst, t.start, t.end) for t in tl.transfers] == [("a", "c", 1.0, 1.5), ("c", "d", 4.5, 5.0)]
    assert tl.busy_ms == [4.0, 3.0]
    # dear comm (5 ms) makes the split worse than sequential: 1 + 5 + 3 + 5 + 1
    dear = generators.diamond(comm_ms=5.0)
    assert evaluate(dear, Platform(gpus=2), s).makespan == pytest.approx(15.0)


def test_comm_from_bytes_and_link_matrix():
    g = OpGraph([("p", 1.0), ("q", 1.0)], [{"src": "p", "dst": "q", "bytes": 2_000_000}])
    s = Schedule.from_gpu_lists([["p"], ["q"]])
    # 2 MB at 10 GB/s = 0.2 ms, plus 5 us
    uniform = Platform(gpus=2, bandwidth_gbps=10.0, latency_us=5.0)
    assert evaluate(g, uniform, s).makespan == pytest.approx(1 + 0.205 + 1)
    # matrix: 0 -> 1 at 100 GB/s with 1 us
    matrix = Platform(gpus=2, bandwidth_matrix_gbps=((1.0, 100.0), (1.0, 1.0)),
                      latency_matrix_us=((0.0, 1.0), (30.0, 0.0)))
    assert evaluate(g, matrix, s).makespan == pytest.approx(1 + 0.02 + 0.001 + 1)
    back = Schedule.from_gpu_lists([["q"], ["p"]])  # p on GPU1 -> q on GPU0 at 1 GB/s + 30 us
    g_rev = OpGraph([("q", 1.0), ("p", 1.0)], [{"src": "p", "dst": "q", "bytes": 2_000_000}])
    assert evaluate(g_rev, matrix, back).makespan == pytest.approx(1 + 2.0 + 0.03 + 1)
    # output_bytes of the producer is used when the edge has neither comm nor bytes
    h = OpGraph([{"id": "p", "latency_ms": 1.0, "output_bytes": 1_000_000}, {"id": "q", "latency_ms": 1.0}],
                [("p", "q")])
    assert evaluate(h, uniform, s).makespan == pytest.approx(1 + 0.105 + 1)


def test_stage_order_across_gpus_is_free(diamond):
    # The stage list may interleave GPUs in any order; only per-GPU order matters.
    a = Schedule([Stage(1, ("c",)), Stage(0, ("a",)), Stage(0, ("b",)), Stage(0, ("d",))], gpus=2)
    b = Schedule.from_gpu_lists([["a", "b", "d"], ["c"]])
    assert evaluate(diamond, Platform(gpus=2), a).makespan == evaluate(diamond, Platform(gpus=2), b).makespan


@pytest.mark.parametrize(
    "stages, platform, error, culprit",
    [
        ([Stage(0, ("a",)), Stage(0, ("b",)), Stage(0, ("c",))], Platform(), CoverageError, "'d'"),
        ([Stage(0, ("a",)), Stage(0, ("b",)), Stage(0, ("c", "b")), Stage(0, ("d",))], Platform(streams=2),
         CoverageError, "'b' is placed twice"),
        ([Stage(0, ("a", "zz")), Stage(0, ("b",)), Stage(0, ("c",)), Stage(0, ("d",))], Platform(streams=2),
         CoverageError, "'zz'"),
        ([Stage(0, ("a",)), Stage(0, ("b", "c")), Stage(0, ("d",))], Platform(), StageSizeError, "stage #1"),
        ([Stage(0, ("a", "b")), Stage(0, ("c",)), Stage(0, ("d",))], Platform(streams=2),
         DependentStageError, "'a' and 'b'"),
        ([Stage(0, ("a",)), Stage(2, ("b",)), Stage(0, ("c",)), Stage(0, ("d",))], Platform(gpus=2),
         GpuIndexError, "GPU 2"),
        ([Stage(0, ("b",)), Stage(0, ("a",)), Stage(1, ("c",)), Stage(1, ("d",))], Platform(gpus=2),
         DeadlockError, "stage #0 (gpu 0: b)"),
    ],
)
def test_invalid_schedules(diamond, stages, platform, error, culprit):
    with pytest.raises(error) as info:
        evaluate(diamond, platform, Schedule(stages, gpus=platform.gpus, streams=platform.streams))
    assert culprit in str(info.value)
    assert isinstance(info.value, HiosError)


def test_cross_gpu_deadlock_names_both_stages():
    # GPU0 runs y before x, GPU1 runs z; x -> z -> y forms a wait cycle.
    g = OpGraph([("x", 1.0), ("y", 1.0), ("z", 1.0)], [("x", "z"), ("z", "y")])
    s = Schedule.from_gpu_lists([["y", "x"], ["z"]])
    with pytest.raises(DeadlockError) as info:
        evaluate(g, Platform(gpus=2), s)
    message = str(info.value)
    assert "gpu 0: y" in message and "gpu 0: x" in message and "gpu 1: z" in message


def test_partial_simulation_ignores_unplaced_ops(diamond):
    # Only a and c placed (indices 0 and 2), on different GPUs: 1 + 0.5 + 3
    sim = simulate(diamond, Platform(gpus=2), [0, 1], [[0], [2]], partial=True)
    assert sim.makespan == pytest.approx(4.5)
    with pytest.raises(CoverageError):
        simulate(diamond, Platform(gpus=2), [0, 1], [[1], [3]])


def test_timeline_tables(diamond):
    tl = evaluate(diamond, Platform(gpus=2), Schedule.from_gpu_lists([["a", "b", "d"], ["c"]]))
    ops = tl.to_dataframe()
    assert list(ops["op"]) == ["a", "b", "c", "d"]
    assert set(ops.columns) >= {"gpu", "stream", "start_ms", "end_ms"}
    stages = tl.to_dataframe("stage")
    assert len(stages) == 4 and stages["end_ms"].max() == tl.makespan
    assert "makespan" in tl._repr_html_()
