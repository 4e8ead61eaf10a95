import math

import networkx as nx
import pytest

from hios_opt import Edge, Op, OpGraph, generators
from hios_opt.errors import (
    CycleError,
    DuplicateOpError,
    EmptyGraphError,
    FormatError,
    GraphError,
    HiosError,
    InvalidCostError,
    MissingFieldError,
    SelfLoopError,
    UnknownOpError,
)


def test_accessors_on_diamond(diamond):
    assert diamond.ids == ("a", "b", "c", "d")
    assert diamond.topological_order() == ["a", "b", "c", "d"]
    assert diamond.predecessors("d") == ["b", "c"]
    assert diamond.successors("a") == ["b", "c"]
    assert diamond.sources() == ["a"] and diamond.sinks() == ["d"]
    assert diamond.total_latency_ms == 7.0
    # top level without comm: a=0, b=c=1, d=max(1+2, 1+3)=4
    assert diamond.top_level() == (0.0, 1.0, 1.0, 4.0)
    # bottom level: d=1, b=2+1=3, c=3+1=4, a=1+4=5
    assert diamond.bottom_level() == (5.0, 3.0, 4.0, 1.0)
    comm = (0.5,) * 4
    # with comm 0.5 per edge: a -> c -> d = 1 + 0.5 + 3 + 0.5 + 1
    assert diamond.critical_path_ms(comm) == 6.0
    assert diamond.longest_path() == ["a", "c", "d"]


def test_reachability_bitsets(diamond):
    a, b, c, d = range(4)
    assert diamond.depends(a, d) and diamond.depends(d, a)
    assert not diamond.depends(b, c)
    assert diamond.independent([b, c])
    assert not diamond.independent([a, b, c])
    assert diamond.descendants_bits[a] == 0b1110
    assert diamond.ancestors_bits[d] == 0b0111


def test_tuple_and_dict_inputs_are_accepted():
    g = OpGraph([("x", 1), {"id": "y", "latency_ms": 2, "utilization": 0.5}], [("x", "y", 0.25)])
    assert g.op("y").utilization == 0.5
    assert g.edges[0].comm_ms == 0.25
    assert isinstance(g.op("x").latency_ms, float)


def test_json_round_trip_is_lossless(tmp_path):
    g = OpGraph(
        [Op("in", 0.0, 1.0, 10, "input", 0, (1, 3)), Op("β", 1 / 3, 0.7, 2**40, "conv", 10**15, (1, 2, 3))],
        [Edge("in", "β", None, 17)],
        name="odd",
        meta={"k": [1, 2]},
    )
    path = tmp_path / "g.json"
    g.save(path)
    h = OpGraph.load(path)
    assert h.to_dict() == g.to_dict()
    assert h.ops == g.ops and h.edges == g.edges
    g2 = g.with_costs(stage_latency_ms={})
    assert g2.stage_table == {}


def test_stage_table_round_trip(tmp_path):
    g = generators.diamond().with_costs(stage_latency_ms={frozenset({"b", "c"}): 4.2})
    assert g.stage_table == {frozenset({1, 2}): 4.2}
    g.save(tmp_path / "g.json")
    assert OpGraph.load(tmp_path / "g.json").stage_table == g.stage_table


def test_networkx_round_trip(diamond):
    nxg = diamond.to_networkx()
    assert isinstance(nxg, nx.DiGraph) and nxg.number_of_edges() == 4
    back = OpGraph.from_networkx(nxg)
    assert back.ops == diamond.ops and back.edges == diamond.edges


@pytest.mark.parametrize(
    "ops, edges, error, culprit",
    [
        ([("a", 1), ("a", 2)], [], DuplicateOpError, "'a'"),
        ([("a", 1)], [("a", "zz")], UnknownOpError, "'zz'"),
        ([("a", 1)], [("a", "a")], SelfLoopError, "'a'"),
        ([("a", 1), ("b", 1), ("c", 1)], [("a", "b"), ("b", "c"), ("c", "b")], CycleError, "b -> c -> b"),
        ([("a", -1.0)], [], InvalidCostError, "'a'"),
        ([("a", math.nan)], [], InvalidCostError, "'a'"),
        ([("a", math.inf)], [], InvalidCostError, "'a'"),
        ([Op("a", 1.0, 0.0)], [], InvalidCostError, "utilization"),
        ([Op("a", 1.0, 1.5)], [], InvalidCostError, "utilization"),
        ([("a", 1), ("b", 1)], [("a", "b", -0.1)], InvalidCostError, "'a' -> 'b'"),
        ([("a", 1), ("b", 1)], [("a", "b", math.nan)], InvalidCostError, "'a' -> 'b'"),
        ([("a", 1), ("b", 1)], [("a", "b"), ("a", "b")], GraphError, "duplicate edge"),
        ([], [], EmptyGraphError, "no operator"),
    ],
)
def test_invalid_graphs_name_the_culprit(ops, edges, error, culprit):
    with pytest.raises(error) as info:
        OpGraph(ops, edges)
    assert culprit in str(info.value)
    assert isinstance(info.value, HiosError)


def test_cycle_message_names_a_real_cycle():
    g_ops = [(f"v{i}", 1.0) for i in range(6)]
    edges = [("v0", "v1"), ("v1", "v2"), ("v2", "v3"), ("v3", "v1"), ("v3", "v4"), ("v5", "v0")]
    with pytest.raises(CycleError) as info:
        OpGraph(g_ops, edges)
    names = str(info.value).split(": ", 1)[1].split(" -> ")
    assert names[0] == names[-1]
    cycle = names[:-1]
    assert set(cycle) == {"v1", "v2", "v3"}
    for u, v in zip(names, names[1:]):
        assert (u, v) in edges


def _doc():
    return {"format": "hios-opt/graph", "version": 1, "name": "t",
            "ops": [{"id": "a", "latency_ms": 1.0}, {"id": "b", "latency_ms": 2.0}],
            "edges": [{"src": "a", "dst": "b", "comm_ms": 0.1}]}


@pytest.mark.parametrize(
    "mutate, error, culprit",
    [
        (lambda d: d.update(format="other"), FormatError, "format"),
        (lambda d: d.update(version=2), FormatError, "version"),
        (lambda d: d["ops"][0].pop("latency_ms"), MissingFieldError, "latency_ms"),
        (lambda d: d["ops"][1].pop("id"), MissingFieldError, "'id'"),
        (lambda d: d["edges"][0].pop("dst"), MissingFieldError, "'dst'"),
        (lambda d: d["ops"][0].update(latency_ms="1"), InvalidCostError, "'a'"),
        (lambda d: d["ops"][0].update(colour="red"), FormatError, "colour"),
        (lambda d: d.update(ops="nope"), FormatError, "ops"),
        (lambda d: d.update(stage_latency_ms=[{"ops": ["a"], "latency_ms": 1}]), GraphError, "{a}"),
        (lambda d: d.update(stage_latency_ms=[{"ops": ["a", "q"], "latency_ms": 1}]), UnknownOpError, "'q'"),
    ],
)
def test_invalid_graph_json(mutate, error, culprit):
    doc = _doc()
    mutate(doc)
    with pytest.raises(error) as info:
        OpGraph.from_dict(doc)
    assert culprit in str(info.value)


def test_load_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"format": "hios-opt/graph", "version": 1, "ops": [')
    with pytest.raises(FormatError, match="invalid JSON"):
        OpGraph.load(bad)
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(FormatError, match="UTF-8"):
        OpGraph.load(bad)
    bad.write_text('{"format": "hios-opt/graph", "format": "x"}')
    with pytest.raises(FormatError, match="duplicate key 'format'"):
        OpGraph.load(bad)
    bad.write_text('{"format": "hios-opt/graph", "version": 1, "ops": [{"id": "a", "latency_ms": NaN}]}')
    with pytest.raises(FormatError, match="NaN"):
        OpGraph.load(bad)
    with pytest.raises(FormatError, match="no such file"):
        OpGraph.load(tmp_path / "missing.json")


def test_save_is_atomic_on_failure(tmp_path, diamond, monkeypatch):
    path = tmp_path / "g.json"
    diamond.save(path)
    before = path.read_bytes()
    import hios_opt._io as io_mod

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(io_mod.os, "fsync", boom)
    with pytest.raises(OSError):
        generators.chain(3).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["g.json"]
