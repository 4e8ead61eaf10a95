import pytest

from hios_opt import generators
from hios_opt.errors import OptionError


@pytest.mark.parametrize("nodes, edges, layers", [(10, 15, 3), (50, 100, 8), (200, 400, 12), (12, 40, 2)])
def test_random_layered_shape(nodes, edges, layers):
    g = generators.random_layered(nodes, edges, layers, ccr=0.5, seed=3)
    assert g.n_ops == nodes and g.n_edges == edges
    assert len(g.sources()) == 1 and len(g.sinks()) == 1
    for op in g.ops:
        assert 0.1 <= op.latency_ms <= 4.0 and 0.6 <= op.utilization <= 1.0
    # comm = CCR x consumer latency
    for e, edge in enumerate(g.edges):
        assert edge.comm_ms == pytest.approx(0.5 * g.latency[g.edge_dst[e]])


def test_layers_are_linked_in_order():
    g = generators.random_layered(30, 45, 5, seed=1)
    # longest path in edges >= layers + 1 (source -> each layer -> sink)
    depth = [0] * g.n_ops
    for v in g.topo:
        depth[v] = max((depth[u] + 1 for u in g.pred[v]), default=0)
    assert max(depth) == 6


def test_deterministic_per_seed():
    a = generators.random_layered(40, 80, 6, 0.7, seed=11)
    b = generators.random_layered(40, 80, 6, 0.7, seed=11)
    c = generators.random_layered(40, 80, 6, 0.7, seed=12)
    assert a.to_dict() == b.to_dict()
    assert a.to_dict() != c.to_dict()


@pytest.mark.parametrize(
    "kwargs, culprit",
    [
        ({"nodes": 5, "edges": 10, "layers": 4}, "need at least 6 nodes"),
        ({"nodes": 10, "edges": 3, "layers": 3}, "linking the layers needs"),
        ({"nodes": 5, "edges": 100, "layers": 1}, "at most"),
        ({"nodes": 10, "edges": 20, "layers": 3, "ccr": -1}, "ccr"),
        ({"nodes": 10, "edges": 20, "layers": 3, "latency_range": (2, 1)}, "latency_range"),
        ({"nodes": 10, "edges": 20, "layers": 3, "utilization_range": (0.5, 1.5)}, "utilization_range"),
        ({"nodes": 2, "edges": 20, "layers": 3}, "nodes"),
    ],
)
def test_impossible_parameters(kwargs, culprit):
    with pytest.raises(OptionError, match=culprit):
        generators.random_layered(**kwargs)


def test_named_graphs():
    for name, make in generators.NAMED.items():
        g = make()
        assert g.n_ops >= 2
        assert generators.named(name).to_dict() == g.to_dict()
    with pytest.raises(OptionError, match="diamond"):
        generators.named("nope")
    assert generators.fork_join(3).n_ops == 5
    assert generators.inception_block().n_ops == 9
