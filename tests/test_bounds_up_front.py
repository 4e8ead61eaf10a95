"""Sizes that would exhaust memory are refused up front with one error line,
never a MemoryError or an allocator's RuntimeError (issue #22): ``generate
--nodes 100000000``, ``profile --input-size 100000``, ``--option
nodes=1000000000``. Where a regression would allocate for real, the test
makes the allocation fail first, so that a broken check cannot exhaust the
machine running the suite."""

from __future__ import annotations

import pytest

from hios_opt import generators
from hios_opt.errors import ModelError, OptionError

from .support.cli import assert_one_line_error, run


@pytest.mark.parametrize("argv, culprit", [
    (["--nodes", "100000000"], "nodes must be at most 1,000,000"),
    (["--nodes", "1000", "--edges", "100000000"], "edges must be at most 2,000,000"),
    (["--nodes", "1000", "--layers", "100000000"], "layers must be at most"),
])
def test_generate_refuses_a_graph_that_would_not_fit(argv, culprit, capsys, tmp_path):
    out = tmp_path / "g.json"
    assert_one_line_error(*run(capsys, "generate", *argv, "-o", out), culprit)
    assert not out.exists()


def test_random_layered_bounds():
    with pytest.raises(OptionError, match="nodes must be at most"):
        generators.random_layered(generators.MAX_NODES + 1, 10, 3)
    g = generators.random_layered(100, 200, 10)  # far below: still fine
    assert g.n_ops == 100


@pytest.fixture
def no_building(monkeypatch):
    """Building a randwire stage graph, or a model's input, fails the test."""
    torch = pytest.importorskip("torch")
    import hios_opt.models.randwire as randwire

    def built(*args, **kwargs):
        raise AssertionError("the model was built before its options were checked")

    monkeypatch.setattr(randwire, "ws_dag", built)
    monkeypatch.setattr(torch, "randn", built)


@pytest.mark.usefixtures("no_building")
@pytest.mark.parametrize("argv, culprit", [
    (["squeezenet", "--input-size", "100000"], "input_size 100000 is above the largest the zoo builds, 4096"),
    (["squeezenet", "--batch", "100000"], "batch_size must be at most 1024"),
    (["randwire", "--option", "nodes=1000000000"], "option 'nodes' must be at most 1,024"),
    (["randwire", "--option", "channels=1000000"], "option 'channels' must be at most 4,096"),
    (["nasnet", "--option", "num_cells=100000"], "option 'num_cells' must be at most 64"),
])
def test_profile_refuses_a_model_that_would_not_fit(argv, culprit, capsys, tmp_path):
    out = tmp_path / "g.json"
    assert_one_line_error(*run(capsys, "profile", *argv, "--device", "estimate:h100", "-o", out), culprit)
    assert not out.exists()


@pytest.mark.usefixtures("no_building")
def test_zoo_bounds_through_the_python_api():
    from hios_opt.models import get

    with pytest.raises(ModelError, match="input_size"):
        get("inception_v3", input_size=100_000)
    with pytest.raises(ModelError, match="'nodes'"):
        get("randwire", nodes=10**9)
