"""Bad input through the Python API: the corpus, hypothesis, and a mutation fuzzer.

Every malformed graph, schedule or platform must raise a
:class:`~hios_opt.errors.HiosError` whose message names the culprit; nothing
may escape as a bare ``KeyError``/``TypeError``/``ValueError``/``OverflowError``
/``RecursionError``. Inputs that happen to stay valid after a mutation must
load, round-trip and evaluate to a finite makespan.

Generated cases: about 2,000 hypothesis examples (``max_examples`` below) and
2,400 seeded mutations (``MUTATION_CASES``).
"""

from __future__ import annotations

import copy
import json
import math
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hios_opt import OpGraph, Platform, Schedule, Stage, errors, evaluate, generators
from hios_opt._io import loads_json, read_json
from hios_opt.errors import HiosError

from .support.bad_inputs import (
    CORPUS,
    EXTREMES,
    SCHEDULE_GRAPH,
    SCHEDULE_PLATFORM,
    CorpusCase,
    corpus_cases,
    mutate,
    mutate_bytes,
    small_graph_dict,
    valid_schedule_dict,
)
from .support.schedules import random_schedule

#: seeded mutations per target (graph JSON, schedule JSON, platform JSON, raw bytes)
MUTATION_CASES = {"graph": 800, "schedule": 800, "platform": 300, "bytes": 500}


# ---------------------------------------------------------------- the corpus
def read_corpus_file(case: CorpusCase) -> None:
    """Read (and for schedules, evaluate) one corpus file as its README row says."""
    if case.reader == "graph":
        OpGraph.load(case.path)
    elif case.reader == "schedule":
        sched = Schedule.load(case.path)
        evaluate(generators.diamond(), Platform(gpus=sched.gpus, streams=sched.streams), sched)
    elif case.reader == "platform":
        Platform.from_dict(read_json(case.path))
    else:  # pragma: no cover - a typo in the README
        raise AssertionError(f"unknown reader {case.reader!r} in README row {case.file}")


def test_corpus_readme_lists_every_file():
    listed = [c.file for c in corpus_cases()]
    on_disk = sorted(p.name for p in CORPUS.iterdir() if p.name != "README.md")
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert sorted(listed) == on_disk
    assert {c.reader for c in corpus_cases()} == {"graph", "schedule", "platform"}
    for case in corpus_cases():
        assert issubclass(case.error_type, HiosError), case


@pytest.mark.parametrize("case", corpus_cases(), ids=lambda c: c.file)
def test_corpus_file_raises_the_named_error(case: CorpusCase):
    with pytest.raises(HiosError) as info:
        read_corpus_file(case)
    assert isinstance(info.value, case.error_type), f"{case.what}: got {type(info.value).__name__}: {info.value}"
    assert case.culprit in str(info.value), f"{case.what}: message does not name {case.culprit!r}: {info.value}"


@pytest.mark.parametrize("reader", [OpGraph.load, Schedule.load, read_json])
def test_directory_and_missing_file(tmp_path, reader):
    with pytest.raises(errors.FormatError, match="is a directory"):
        reader(tmp_path)
    missing = tmp_path / "nope.json"
    with pytest.raises(errors.FormatError, match="no such file") as info:
        reader(missing)
    assert str(missing) in str(info.value)
    with pytest.raises(errors.FormatError, match="cannot read"):
        reader(tmp_path / ("x" * 5000))  # name too long for the file system
    with pytest.raises(errors.FormatError):
        reader("nul\0byte.json")


def test_write_refuses_nan_and_leaves_no_file(tmp_path):
    target = tmp_path / "s.json"
    target.write_bytes(b"old")
    sched = Schedule([Stage(0, ("a",))], makespan_ms=math.nan)
    with pytest.raises(errors.FormatError, match="s.json"):
        sched.save(target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]


def test_write_to_a_directory_names_the_target(tmp_path):
    with pytest.raises(IsADirectoryError) as info:
        generators.diamond().save(tmp_path)
    assert info.value.filename == str(tmp_path)
    under_file = tmp_path / "file"
    under_file.write_text("x")
    with pytest.raises(OSError) as info:
        generators.diamond().save(under_file / "g.json")
    assert "g.json" in info.value.filename
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_python_api_type_errors_are_hios_errors():
    with pytest.raises(errors.ScheduleError, match="stage #1"):
        Schedule([Stage(0, ("a",)), 5])
    with pytest.raises(errors.ScheduleError):
        evaluate(generators.diamond(), Platform(), "not a schedule")
    with pytest.raises(errors.GpuIndexError):
        evaluate(generators.diamond(), Platform(), Schedule([Stage("0", ("a", "b", "c", "d"))]))
    with pytest.raises(errors.CoverageError):
        evaluate(generators.diamond(), Platform(), Schedule([Stage(0, (["a"],))] + [Stage(0, (v,)) for v in "abcd"]))
    with pytest.raises(errors.OptionError, match="latency_range"):
        generators.random_layered(10, 20, 3, latency_range=("a", "b"))


def test_platform_with_absurd_bandwidth_names_the_edge():
    g = OpGraph([{"id": "p", "latency_ms": 1.0, "output_bytes": 10**6}, {"id": "q", "latency_ms": 1.0}],
                [{"src": "p", "dst": "q"}], name="bytes")
    platform = Platform(gpus=2, bandwidth_gbps=1e-320)
    with pytest.raises(errors.PlatformError, match="'p' -> 'q'"):
        evaluate(g, platform, Schedule([Stage(0, ("p",)), Stage(1, ("q",))], gpus=2))
    # a matrix link takes the per-pair path of the evaluator
    matrix = Platform(gpus=2, bandwidth_matrix_gbps=((1.0, 1e-320), (1e-320, 1.0)))
    with pytest.raises(errors.HiosError, match="stage #1"):
        evaluate(g, matrix, Schedule([Stage(0, ("p",)), Stage(1, ("q",))], gpus=2))


# ---------------------------------------------------------------- helpers
def expect_hios_error_or_valid(call, *args: Any) -> Any:
    """Run ``call``; a HiosError must carry a one-line-able, non-empty message."""
    try:
        return call(*args)
    except HiosError as exc:
        assert " ".join(str(exc).split()), f"{type(exc).__name__} with an empty message"
        return exc


def check_valid_graph(graph: OpGraph) -> None:
    """A graph that loaded: lossless round trip and a finite sequential makespan."""
    data = graph.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert OpGraph.from_dict(loads_json(text)).to_dict() == data
    sched = Schedule.sequential(graph.topological_order())
    result = expect_hios_error_or_valid(evaluate, graph, Platform(), sched)
    if not isinstance(result, HiosError):
        assert math.isfinite(result.makespan)


def mentions(message: str, op_id: str) -> bool:
    """Messages quote ids with repr(); cycle listings print them plainly."""
    return repr(op_id) in message or op_id in message


scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
           | st.sampled_from(EXTREMES))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
odd_ids = st.text(min_size=1, max_size=6)  # unicode, spaces, quotes, control characters


GRAPH_KEYS = {
    "top": ["format", "version", "name", "meta", "ops", "edges", "stage_latency_ms", "extra"],
    "op": ["id", "latency_ms", "utilization", "output_bytes", "kind", "flops", "shape", "extra"],
    "edge": ["src", "dst", "comm_ms", "bytes", "extra"],
    "stage": ["ops", "latency_ms", "extra"],
}


# ------------------------------------------------------- hypothesis: graphs
@settings(max_examples=400, deadline=None)
@given(part=st.sampled_from(sorted(GRAPH_KEYS)), index=st.integers(0, 4), data=st.data(),
       delete=st.booleans(), value=json_values)
def test_graph_with_any_field_replaced(part, index, data, delete, value):
    d = small_graph_dict()
    key = data.draw(st.sampled_from(GRAPH_KEYS[part]))
    target = {"top": [d], "op": d["ops"], "edge": d["edges"], "stage": d["stage_latency_ms"]}[part]
    obj = target[index % len(target)]
    if delete:
        obj.pop(key, None)
    else:
        obj[key] = value
    result = expect_hios_error_or_valid(OpGraph.from_dict, d)
    if isinstance(result, OpGraph):
        check_valid_graph(result)


@st.composite
def chain_graphs(draw):
    """A chain of ops with odd unique ids, as a JSON dict."""
    ids = draw(st.lists(odd_ids, min_size=2, max_size=6, unique=True))
    ops = [{"id": i, "latency_ms": draw(st.floats(0, 1e6)), "utilization": draw(st.floats(0.01, 1.0))}
           for i in ids]
    edges = [{"src": a, "dst": b, "comm_ms": draw(st.floats(0, 1e6))} for a, b in zip(ids, ids[1:])]
    return {"format": "hios-opt/graph", "version": 1, "name": draw(odd_ids), "ops": ops, "edges": edges}


BAD_LATENCIES = [-1, -1e-300, -math.inf, math.inf, math.nan, 10**400, "1", None, True, [1.0], {"ms": 1}]
BAD_UTILIZATIONS = [0, 0.0, -0.5, 1.0000001, 2, math.inf, math.nan, 10**400, "0.5", None, False]


@settings(max_examples=200, deadline=None)
@given(graph=chain_graphs(), data=st.data())
def test_bad_op_cost_names_the_op(graph, data):
    k = data.draw(st.integers(0, len(graph["ops"]) - 1))
    field, bad = data.draw(st.sampled_from(
        [("latency_ms", v) for v in BAD_LATENCIES] + [("utilization", v) for v in BAD_UTILIZATIONS]
        + [("output_bytes", v) for v in (-1, 0.5, 2**63, 10**400, "8", math.inf)]))
    graph["ops"][k][field] = bad
    op_id = graph["ops"][k]["id"]
    with pytest.raises(errors.InvalidCostError) as info:
        OpGraph.from_dict(graph)
    assert repr(op_id) in str(info.value) and field in str(info.value)


@settings(max_examples=150, deadline=None)
@given(graph=chain_graphs(), data=st.data(), bad=st.sampled_from([-0.1, -math.inf, math.inf, math.nan, 10**400, "0",
                                                                   [0.5], True]))
def test_bad_comm_names_the_edge(graph, data, bad):
    k = data.draw(st.integers(0, len(graph["edges"]) - 1))
    graph["edges"][k]["comm_ms"] = bad
    edge = graph["edges"][k]
    with pytest.raises(errors.InvalidCostError) as info:
        OpGraph.from_dict(graph)
    assert f"{edge['src']!r} -> {edge['dst']!r}" in str(info.value)


@settings(max_examples=150, deadline=None)
@given(graph=chain_graphs(), data=st.data(), stranger=odd_ids)
def test_unknown_endpoint_names_the_op(graph, data, stranger):
    ids = [op["id"] for op in graph["ops"]]
    if stranger in ids:
        stranger += "?"
    k = data.draw(st.integers(0, len(graph["edges"]) - 1))
    graph["edges"][k][data.draw(st.sampled_from(["src", "dst"]))] = stranger
    with pytest.raises((errors.UnknownOpError, errors.SelfLoopError)) as info:
        OpGraph.from_dict(graph)
    assert repr(stranger) in str(info.value)


@settings(max_examples=100, deadline=None)
@given(graph=chain_graphs(), data=st.data())
def test_duplicate_id_and_cycle_name_the_ops(graph, data):
    ids = [op["id"] for op in graph["ops"]]
    k = data.draw(st.integers(1, len(ids) - 1))
    # a back edge from op k to an earlier op closes exactly one cycle
    j = data.draw(st.integers(0, k - 1))
    cyclic = copy.deepcopy(graph)
    cyclic["edges"].append({"src": ids[k], "dst": ids[j]})
    with pytest.raises(errors.CycleError) as info:
        OpGraph.from_dict(cyclic)
    assert all(mentions(str(info.value), i) for i in ids[j:k + 1])
    dup = copy.deepcopy(graph)
    dup["ops"].append({"id": ids[k], "latency_ms": 1.0})
    with pytest.raises(errors.DuplicateOpError) as info:
        OpGraph.from_dict(dup)
    assert repr(ids[k]) in str(info.value)


# ---------------------------------------------------- hypothesis: schedules
def check_schedule_dict(d: Any) -> None:
    sched = expect_hios_error_or_valid(Schedule.from_dict, d)
    if isinstance(sched, HiosError):
        return
    assert Schedule.from_dict(sched.to_dict()) == sched
    for platform in (SCHEDULE_PLATFORM, None):
        if platform is None:
            platform = expect_hios_error_or_valid(lambda: Platform(gpus=sched.gpus, streams=sched.streams))
            if isinstance(platform, HiosError):
                continue
        timeline = expect_hios_error_or_valid(evaluate, SCHEDULE_GRAPH, platform, sched)
        if not isinstance(timeline, HiosError):
            assert math.isfinite(timeline.makespan) and timeline.makespan > 0


SCHEDULE_KEYS = {
    "top": ["format", "version", "graph", "gpus", "streams", "algorithm", "makespan_ms", "stages", "status",
            "lower_bound_ms", "gap", "meta", "extra"],
    "stage": ["gpu", "ops", "extra"],
}


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 50), part=st.sampled_from(["top", "stage"]), index=st.integers(0, 40), data=st.data(),
       delete=st.booleans(), value=json_values)
def test_schedule_with_any_field_replaced(seed, part, index, data, delete, value):
    d = valid_schedule_dict(seed)
    key = data.draw(st.sampled_from(SCHEDULE_KEYS[part]))
    obj = d if part == "top" else d["stages"][index % len(d["stages"])]
    if delete:
        obj.pop(key, None)
    else:
        obj[key] = value
    check_schedule_dict(d)


@settings(max_examples=250, deadline=None)
@given(seed=st.integers(0, 10_000), fault=st.sampled_from(["drop", "twice", "unknown", "gpu", "order", "merge"]),
       data=st.data())
def test_schedule_fault_names_the_culprit(seed, fault, data):
    sched = random_schedule(SCHEDULE_GRAPH, SCHEDULE_PLATFORM, seed)
    stages = [list(st_.ops) for st_ in sched.stages]
    gpus = [st_.gpu for st_ in sched.stages]
    k = data.draw(st.integers(0, len(stages) - 1))
    ids = SCHEDULE_GRAPH.ids
    if fault == "drop":
        victim = stages[k].pop()
        expected, culprit = errors.CoverageError, repr(victim)
    elif fault == "twice":
        victim = data.draw(st.sampled_from(stages[k]))
        stages.append([victim])
        gpus.append(0)
        expected, culprit = errors.CoverageError, repr(victim)
    elif fault == "unknown":
        victim = data.draw(odd_ids.filter(lambda s: s not in ids))
        stages[k].append(victim)
        expected, culprit = (errors.CoverageError, errors.StageSizeError), None
    elif fault == "gpu":
        gpus[k] = data.draw(st.sampled_from([-1, 2, 3, 10**30]))
        expected, culprit = errors.GpuIndexError, f"stage #{k} "
    elif fault == "order":
        # put a consumer's stage first on its own GPU: it cannot wait for a
        # producer that only runs later -> a deadlock (or the order is legal)
        stages.insert(0, stages.pop(k))
        gpus.insert(0, gpus.pop(k))
        expected, culprit = None, None
    else:
        # merge an op with one of its successors: a dependent stage
        v = SCHEDULE_GRAPH.index(stages[k][0])
        if not SCHEDULE_GRAPH.succ[v]:
            return
        w = ids[SCHEDULE_GRAPH.succ[v][0]]
        for ops in stages:
            if w in ops:
                ops.remove(w)
        stages[k] = [ids[v], w]
        expected, culprit = errors.DependentStageError, repr(w)
    stages_ = [Stage(g, tuple(ops)) for g, ops in zip(gpus, stages) if ops]
    bad = Schedule(stages_, gpus=2, streams=2)
    result = expect_hios_error_or_valid(evaluate, SCHEDULE_GRAPH, SCHEDULE_PLATFORM, bad)
    if expected is None:
        if isinstance(result, HiosError):
            assert isinstance(result, errors.DeadlockError) and "stage #" in str(result)
        return
    assert isinstance(result, expected), f"{fault}: expected {expected}, got {result!r}"
    if culprit is not None:
        assert culprit in str(result)


# ----------------------------------------------------- hypothesis: platforms
platform_keys = st.sampled_from(["gpus", "streams", "bandwidth_gbps", "latency_us", "bandwidth_matrix_gbps",
                                 "latency_matrix_us", "format", "gpu"])


@settings(max_examples=300, deadline=None)
@given(d=st.dictionaries(platform_keys, json_values | st.integers(-3, 5)
                         | st.lists(st.lists(scalars, max_size=3), max_size=3), max_size=4))
def test_platform_from_any_dict(d):
    result = expect_hios_error_or_valid(Platform.from_dict, d)
    if isinstance(result, HiosError):
        assert isinstance(result, errors.PlatformError)
        return
    assert 1 <= result.gpus <= 4096 and 1 <= result.streams <= 4096
    assert Platform.from_dict(result.to_dict()) == result


# ---------------------------------------------------------- hypothesis: JSON
@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
def test_any_bytes_parse_or_raise_format_error(raw):
    for reader in (lambda b: OpGraph.from_dict(loads_json(b)), lambda b: Schedule.from_dict(loads_json(b))):
        result = expect_hios_error_or_valid(reader, raw)
        assert isinstance(result, errors.FormatError)


# ------------------------------------------------------- mutation fuzzer
def run_fuzz_case(target: str, case: int, doc: Any) -> None:
    text = json.dumps(doc, allow_nan=True)
    try:
        data = expect_hios_error_or_valid(loads_json, text)
        if isinstance(data, HiosError):
            return
        if target == "graph":
            graph = expect_hios_error_or_valid(OpGraph.from_dict, data)
            if isinstance(graph, OpGraph):
                check_valid_graph(graph)
        elif target == "schedule":
            check_schedule_dict(data)
        else:
            platform = expect_hios_error_or_valid(Platform.from_dict, data)
            if isinstance(platform, Platform):
                assert Platform.from_dict(platform.to_dict()) == platform
    except AssertionError:
        raise
    except Exception as exc:  # pragma: no cover - the failure report
        pytest.fail(f"{target} mutation case {case}: {type(exc).__name__}: {exc}\ninput: {text[:800]}")


def test_mutated_graph_json():
    rng = random.Random(20240601)
    bases = [small_graph_dict(), generators.inception_block().to_dict(),
             generators.random_layered(12, 24, 3, ccr=1.0, seed=5).to_dict()]
    for case in range(MUTATION_CASES["graph"]):
        run_fuzz_case("graph", case, mutate(rng.choice(bases), rng))


def test_mutated_schedule_json():
    rng = random.Random(20240602)
    bases = [valid_schedule_dict(seed) for seed in range(8)]
    for case in range(MUTATION_CASES["schedule"]):
        run_fuzz_case("schedule", case, mutate(rng.choice(bases), rng))


def test_mutated_platform_json():
    rng = random.Random(20240603)
    bases = [Platform(gpus=2, streams=2).to_dict(),
             Platform(gpus=3, bandwidth_matrix_gbps=((1, 2, 3), (2, 1, 3), (3, 3, 1)),
                      latency_matrix_us=((0, 1, 1), (1, 0, 1), (1, 1, 0))).to_dict()]
    for case in range(MUTATION_CASES["platform"]):
        run_fuzz_case("platform", case, mutate(rng.choice(bases), rng))


def test_mutated_bytes():
    rng = random.Random(20240604)
    bases = [json.dumps(small_graph_dict(), indent=1).encode(), json.dumps(valid_schedule_dict(0)).encode()]
    for case in range(MUTATION_CASES["bytes"]):
        base = rng.choice(bases)
        raw = mutate_bytes(base, rng)
        try:
            for reader in (OpGraph.from_dict, Schedule.from_dict):
                data = expect_hios_error_or_valid(loads_json, raw)
                if not isinstance(data, HiosError):
                    result = expect_hios_error_or_valid(reader, data)
                    if isinstance(result, OpGraph):
                        check_valid_graph(result)
        except AssertionError:
            raise
        except Exception as exc:  # pragma: no cover - the failure report
            pytest.fail(f"byte mutation case {case}: {type(exc).__name__}: {exc}\ninput: {raw[:400]!r}")


def test_mutation_fuzzer_reaches_many_distinct_errors():
    """The fuzzer is only as good as the faults it reaches: check it hits most
    error classes (a regression guard against a mutator that only ever breaks
    the header)."""
    rng = random.Random(7)
    seen: set[str] = set()
    base = generators.random_layered(12, 24, 3, ccr=1.0, seed=5).to_dict()
    for _ in range(400):
        try:
            OpGraph.from_dict(loads_json(json.dumps(mutate(base, rng), allow_nan=True)))
        except HiosError as exc:
            seen.add(type(exc).__name__)
    wanted = {"FormatError", "MissingFieldError", "InvalidCostError", "UnknownOpError", "DuplicateOpError",
              "GraphError", "CycleError", "SelfLoopError"}
    assert wanted <= seen, f"never reached: {sorted(wanted - seen)}"
