"""Tests of the model zoo (hios_opt.models): shapes, tracing, sizes, errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.fx

import hios_opt.models as zoo
from hios_opt.errors import HiosError, ModelError

# Small configurations: (id, name, options, input size, batch size).
# Each model is run at its minimum input size and a bit above.
SMALL_NASNET = {"num_cells": 2, "penultimate_filters": 96, "stem_filters": 8, "num_classes": 10}
SMALL_RANDWIRE = {"channels": 8, "nodes": 8, "num_classes": 10}
CASES = [
    ("inception_v3-min", "inception_v3", {}, 75, 2),
    ("inception_v3-odd", "inception_v3", {"num_classes": 10}, 80, 1),
    ("squeezenet1.0-min", "squeezenet", {}, 21, 2),
    ("squeezenet1.0", "squeezenet", {"num_classes": 10}, 64, 1),
    ("squeezenet1.1-min", "squeezenet", {"version": "1.1"}, 17, 1),
    ("squeezenet1.1", "squeezenet", {"version": "1.1"}, 48, 2),
    ("nasnet-min", "nasnet", SMALL_NASNET, 3, 2),
    ("nasnet-odd", "nasnet", SMALL_NASNET, 45, 1),
    ("nasnet-1cell", "nasnet", {**SMALL_NASNET, "num_cells": 1}, 32, 2),
    ("randwire-min", "randwire", SMALL_RANDWIRE, 1, 2),
    ("randwire-small", "randwire", SMALL_RANDWIRE, 32, 1),
    ("randwire-regular", "randwire", {**SMALL_RANDWIRE, "setting": "regular", "nodes": 12}, 40, 2),
    ("randwire-sum", "randwire", {**SMALL_RANDWIRE, "aggregation": "sum", "seed": 3}, 33, 1),
    ("vit_moe-min", "vit_moe", {"num_classes": 10}, 16, 2),
    ("vit_moe-odd", "vit_moe", {"experts": 3, "slots_per_expert": 2, "patch_size": 8}, 37, 1),
]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # These forward passes are tiny; with several OpenMP threads on a shared
    # 2-core machine they spend most of their time spinning (seen: 8 s -> 95 s).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def built() -> dict[str, torch.nn.Module]:
    return {
        case_id: zoo.get(name, input_size=size, batch_size=batch, **options)
        for case_id, name, options, size, batch in CASES
    }


# --- registry ----------------------------------------------------------------
def test_names_and_info() -> None:
    assert zoo.names() == ["inception_v3", "nasnet", "randwire", "squeezenet", "vit_moe"]
    defaults = {"inception_v3": 299, "nasnet": 331, "randwire": 224, "squeezenet": 224, "vit_moe": 224}
    for name in zoo.names():
        meta = zoo.info(name)
        assert meta.name == name
        assert meta.default_input_size == defaults[name]
        assert 1 <= meta.min_input_size <= meta.default_input_size
        assert meta.paper_input_sizes == (331, 512, 768, 1280)
        assert "num_classes" in meta.options
        assert meta.description
    assert zoo.info("inception_v3").min_input_size == 75
    assert zoo.info("squeezenet").min_input_size == 21


def test_info_options_are_a_copy() -> None:
    zoo.info("squeezenet").options["version"] = "9"  # type: ignore[index]
    assert zoo.info("squeezenet").options["version"] == "1.0"


def test_name_is_forgiving_about_case_and_dashes() -> None:
    assert zoo.info("Inception-V3").name == "inception_v3"
    assert zoo.info("SqueezeNet").name == "squeezenet"


# --- building, forward, tracing ---------------------------------------------
@pytest.mark.parametrize(("case_id", "name", "options", "size", "batch"), CASES, ids=[c[0] for c in CASES])
def test_forward_shape(built, case_id, name, options, size, batch) -> None:
    model = built[case_id]
    assert not model.training
    assert (model.input_size, model.batch_size) == (size, batch)
    x = model.example_input()
    assert tuple(x.shape) == (batch, 3, size, size)
    with torch.no_grad():
        y = model(x)
    classes = options.get("num_classes", 1000)
    assert tuple(y.shape) == (batch, classes)
    assert torch.isfinite(y).all()
    assert y.std() > 0  # not collapsed to a constant


@pytest.mark.parametrize(("case_id", "name", "options", "size", "batch"), CASES, ids=[c[0] for c in CASES])
def test_fx_trace_matches_eager(built, case_id, name, options, size, batch) -> None:
    model = built[case_id]
    traced = torch.fx.symbolic_trace(model)
    x = model.example_input(seed=1)
    with torch.no_grad():
        assert torch.allclose(traced(x), model(x), rtol=1e-5, atol=1e-6)
    ops = [node for node in traced.graph.nodes if node.op in ("call_module", "call_function", "call_method")]
    assert len(ops) > 10


def test_outputs_stay_moderate_at_a_paper_size() -> None:
    # BatchNorm statistics are calibrated at build time; without that
    # NASNet-A's activations grow by ~1.8x per cell
    model = zoo.get("nasnet", input_size=331, variant="mobile")
    with torch.no_grad():
        y = model(model.example_input())
    assert y.abs().max() < 100


def test_models_do_not_depend_on_input_size_for_weights() -> None:
    a = zoo.get("squeezenet", input_size=32, version="1.1")
    b = zoo.get("squeezenet", input_size=64, version="1.1")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)


def test_get_is_deterministic_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = zoo.get("nasnet", input_size=32, **SMALL_NASNET)
    after = torch.rand(1)
    assert torch.equal(before, after)
    b = zoo.get("nasnet", input_size=32, **SMALL_NASNET)
    for va, vb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb)


# --- parameter counts --------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "options", "published"),
    [
        ("inception_v3", {}, 23.83e6),  # 27.16M minus the 3.33M auxiliary head
        ("squeezenet", {"version": "1.0"}, 1.248e6),
        ("squeezenet", {"version": "1.1"}, 1.235e6),
        ("nasnet", {"variant": "mobile"}, 5.3e6),
        ("randwire", {"setting": "small"}, 5.6e6),
    ],
)
def test_parameter_count_close_to_published(name, options, published) -> None:
    model = zoo.get(name, input_size=zoo.info(name).min_input_size, **options)
    assert abs(n_params(model) - published) / published < 0.02


def test_exact_parameter_counts() -> None:
    assert n_params(zoo.get("inception_v3", input_size=75)) == 23_834_568
    assert n_params(zoo.get("squeezenet", version="1.0")) == 1_248_424
    assert n_params(zoo.get("squeezenet", version="1.1")) == 1_235_496


# --- RandWire ---------------------------------------------------------------
def test_randwire_same_seed_same_network() -> None:
    a = zoo.get("randwire", input_size=32, seed=7, **SMALL_RANDWIRE)
    b = zoo.get("randwire", input_size=32, seed=7, **SMALL_RANDWIRE)
    assert a.graphs == b.graphs
    assert str(torch.fx.symbolic_trace(a).graph) == str(torch.fx.symbolic_trace(b).graph)
    for va, vb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb)


def test_randwire_different_seeds_differ() -> None:
    a = zoo.get("randwire", input_size=32, seed=0, **SMALL_RANDWIRE)
    b = zoo.get("randwire", input_size=32, seed=1, **SMALL_RANDWIRE)
    assert a.graphs != b.graphs


def test_randwire_graphs_are_oriented_ws_graphs() -> None:
    model = zoo.get("randwire", input_size=32, **SMALL_RANDWIRE)
    assert len(model.graphs) == 3  # the small layout has three random stages
    for edges in model.graphs:
        assert all(u < v for u, v in edges)
        assert len(edges) == 8 * 4 // 2  # WS keeps N*K/2 edges
    regular = zoo.get("randwire", input_size=32, **{**SMALL_RANDWIRE, "setting": "regular", "nodes": 12})
    # the regular layout's first random stage has N/2 nodes
    assert [len(edges) for edges in regular.graphs] == [6 * 2, 12 * 2, 12 * 2, 12 * 2]


def test_randwire_weighted_aggregation_has_edge_weights() -> None:
    weighted = zoo.get("randwire", input_size=32, **SMALL_RANDWIRE)
    plain = zoo.get("randwire", input_size=32, aggregation="sum", **SMALL_RANDWIRE)
    names_w = {name for name, _ in weighted.named_parameters() if "aggregation_weight" in name}
    names_p = {name for name, _ in plain.named_parameters() if "aggregation_weight" in name}
    assert names_w and not names_p


# --- example inputs -----------------------------------------------------------
def test_example_input() -> None:
    a = zoo.example_input("squeezenet", 32, 2, seed=5)
    b = zoo.example_input("squeezenet", 32, 2, seed=5)
    c = zoo.example_input("squeezenet", 32, 2, seed=6)
    assert tuple(a.shape) == (2, 3, 32, 32)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert tuple(zoo.example_input("nasnet").shape) == (1, 3, 331, 331)
    model = zoo.get("squeezenet", input_size=40, batch_size=3)
    assert tuple(zoo.example_input(model).shape) == (3, 3, 40, 40)
    assert tuple(zoo.example_input(model, 48, 1).shape) == (1, 3, 48, 48)
    assert torch.equal(zoo.example_input(model, seed=2), model.example_input(seed=2))
    assert tuple(model.example_input(batch_size=1).shape) == (1, 3, 40, 40)


# --- bad input ----------------------------------------------------------------
def raises(culprits: list[str], func, *args, **kwargs) -> None:
    with pytest.raises(ModelError) as info:
        func(*args, **kwargs)
    message = str(info.value)
    for culprit in culprits:
        assert culprit in message, f"{culprit!r} not in {message!r}"


def test_model_error_is_a_hios_error() -> None:
    assert issubclass(ModelError, HiosError)


def test_unknown_model_lists_valid_names() -> None:
    raises(["resnet50", "inception_v3", "nasnet", "randwire", "squeezenet"], zoo.get, "resnet50")
    raises(["squeezenet"], zoo.info, "squeezenett")  # suggestion and list
    raises(["inception"], zoo.example_input, "inception")
    raises(["None"], zoo.get, None)


@pytest.mark.parametrize("name", ["inception_v3", "nasnet", "randwire", "squeezenet", "vit_moe"])
def test_input_size_below_minimum(name) -> None:
    minimum = zoo.info(name).min_input_size
    raises([name, str(minimum - 1), f"minimum is {minimum}"], zoo.get, name, input_size=minimum - 1)
    raises([name, f"minimum is {minimum}"], zoo.example_input, name, minimum - 1)


def test_input_size_minimum_depends_on_version() -> None:
    zoo.get("squeezenet", input_size=17, version="1.1")
    raises(["16", "minimum is 17"], zoo.get, "squeezenet", input_size=16, version="1.1")
    raises(["minimum is 21"], zoo.get, "squeezenet", input_size=20)


def test_inception_minimum_is_the_real_one() -> None:
    # the constructor check off, 74 px really fails in Mixed_7a
    model = zoo.get("inception_v3", input_size=75)
    with pytest.raises(RuntimeError):
        with torch.no_grad():
            model(torch.zeros(1, 3, 74, 74))


def test_non_integer_input_size() -> None:
    raises(["input_size", "224.0"], zoo.get, "squeezenet", input_size=224.0)
    raises(["input_size"], zoo.get, "squeezenet", input_size=True)


@pytest.mark.parametrize("batch_size", [0, -1, 1.5])
def test_bad_batch_size(batch_size) -> None:
    raises(["batch_size", str(batch_size)], zoo.get, "squeezenet", input_size=32, batch_size=batch_size)
    raises(["batch_size"], zoo.example_input, "squeezenet", 32, batch_size)
    model = zoo.get("squeezenet", input_size=32)
    raises(["batch_size"], model.example_input, batch_size)


def test_unknown_option_names_it_and_lists_valid_ones() -> None:
    raises(["squeezenet", "'depth'", "num_classes", "version"], zoo.get, "squeezenet", depth=3)
    raises(["'version'", "setting", "seed", "aggregation"], zoo.get, "randwire", version="1.0")
    raises(["'cells'", "num_cells", "penultimate_filters"], zoo.get, "nasnet", cells=2)
    raises(["'seed'", "num_classes"], zoo.get, "inception_v3", seed=1)


@pytest.mark.parametrize(
    ("name", "options", "culprits"),
    [
        ("squeezenet", {"version": "2.0"}, ["'2.0'", "1.0", "1.1"]),
        ("nasnet", {"variant": "huge"}, ["'huge'", "large", "mobile"]),
        ("nasnet", {"variant": ["large"]}, ["variant", "['large']"]),
        ("nasnet", {"penultimate_filters": 100}, ["penultimate_filters", "100", "96"]),
        ("nasnet", {"num_cells": 0}, ["num_cells", "0"]),
        ("randwire", {"setting": "tiny"}, ["'tiny'", "small", "regular", "large"]),
        ("randwire", {"setting": None}, ["setting", "None"]),
        ("randwire", {"aggregation": "max"}, ["'max'", "weighted", "sum"]),
        ("randwire", {"k": 3}, ["'k'", "3", "even"]),
        ("randwire", {"k": 32}, ["'k'", "32"]),
        ("randwire", {"p": 1.5}, ["'p'", "1.5"]),
        ("randwire", {"seed": -1}, ["'seed'", "-1"]),
        ("randwire", {"nodes": 1}, ["'nodes'", "1"]),
        ("inception_v3", {"num_classes": 0}, ["num_classes", "0"]),
        ("vit_moe", {"variant": "huge"}, ["'huge'", "tiny", "small", "base"]),
        ("vit_moe", {"experts": 0}, ["'experts'", "0"]),
        ("vit_moe", {"moe_blocks": 7}, ["'moe_blocks'", "7", "depth 6"]),
        ("vit_moe", {"patch_size": 32}, ["input_size 16", "minimum is 32"]),
    ],
)
def test_bad_option_values(name, options, culprits) -> None:
    raises([name, *culprits], zoo.get, name, input_size=zoo.info(name).min_input_size, **options)


def test_example_input_of_a_plain_module_needs_a_size() -> None:
    raises(["Linear", "input_size"], zoo.example_input, torch.nn.Linear(2, 2))
    assert tuple(zoo.example_input(torch.nn.Linear(2, 2), 8, 2).shape) == (2, 3, 8, 8)


# --- import hygiene -----------------------------------------------------------
def test_importing_hios_opt_does_not_import_torch() -> None:
    code = "import sys, hios_opt; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
