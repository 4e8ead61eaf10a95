"""Extreme numbers that the exact solvers must survive: seeds beyond 32 bits,
and costs far from milliseconds (a delay of 1e15 ms, a latency of 1e300 ms, a
bandwidth of 1e-300 GB/s, a link latency of 1e20 us). Each solver either
answers with a schedule that the evaluator accepts, or refuses with a
:class:`~hios_opt.errors.HiosError` that names the value; never a traceback.
"""

from __future__ import annotations

import pytest

import hios_opt as ho
from hios_opt.cli import main
from hios_opt.errors import OptionError
from hios_opt.exact import MAX_SEED

SOLVERS = ("cpsat", "portfolio", "milp", "milp:cbc", "astar")


@pytest.mark.parametrize("solver", ["cpsat", "portfolio", "milp", "milp:cbc"])
def test_largest_seed_runs(solver):
    r = ho.solve(ho.generators.diamond(), ho.Platform(gpus=2), solver, time_limit=10, workers=2, seed=MAX_SEED)
    assert r.status == "optimal" and r.makespan_ms == 5.0


@pytest.mark.parametrize("seed", [MAX_SEED + 1, 2**64, -1])
def test_seed_beyond_32_bits_is_refused(seed):
    with pytest.raises(OptionError, match=rf"seed must be an integer in 0\.\.{MAX_SEED}, got {seed}"):
        ho.solve(ho.generators.diamond(), ho.Platform(gpus=2), "cpsat", time_limit=10, seed=seed)


def test_cli_seed_beyond_32_bits_is_one_error_line(capsys):
    code = main(["solve", "named:diamond", "--gpus", "2", "--seed", str(2**31), "--time-limit", "5"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and str(2**31) in err


# ------------------------------------------------------------ huge and tiny costs
def _diamond(**changes) -> ho.OpGraph:
    """The diamond (a -> b, c -> d; optimum 5 ms on 2 GPUs with 0.5 ms delays),
    with some fields of its JSON changed."""
    d = ho.generators.diamond().to_dict()
    for op in d["ops"]:
        op.update(changes.get(op["id"], {}))
    for edge in d["edges"]:
        edge.update(changes.get("edges", {}))
        for key in changes.get("drop_edge_fields", ()):
            edge.pop(key)
    return ho.OpGraph.from_dict(d)


BYTES = {"a": {"output_bytes": 4096}, "b": {"output_bytes": 4096}, "c": {"output_bytes": 4096},
         "drop_edge_fields": ("comm_ms",)}

#: (name, graph, platform, optimal makespan): every delay useless (7 ms: all on one GPU) or a latency of 1e300
HUGE = [
    ("comm_ms 1e15", lambda: _diamond(edges={"comm_ms": 1e15}), ho.Platform(gpus=2), 7.0),
    ("comm_ms 1e307", lambda: _diamond(edges={"comm_ms": 1e307}), ho.Platform(gpus=2), 7.0),
    ("latency_ms 1e300", lambda: _diamond(b={"latency_ms": 1e300}), ho.Platform(gpus=2), 1e300),
    ("bandwidth 1e-300", lambda: _diamond(**BYTES), ho.Platform(gpus=2, bandwidth_gbps=1e-300), 7.0),
    ("link latency 1e20 us", lambda: _diamond(**BYTES), ho.Platform(gpus=2, latency_us=1e20), 7.0),
    ("link matrix 1e-300", lambda: _diamond(**BYTES),
     ho.Platform(gpus=2, bandwidth_matrix_gbps=((1.0, 1e-300), (1e-300, 1.0))), 7.0),
]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name, graph, platform, optimum", HUGE, ids=[h[0] for h in HUGE])
def test_huge_costs_are_solved(name, graph, platform, optimum, solver):
    g = graph()
    r = ho.solve(g, platform, solver, time_limit=20, workers=2)
    assert r.status == "optimal", (r.status, r.solver_status, r.stats)
    assert r.makespan_ms == pytest.approx(optimum, rel=1e-9)
    assert r.lower_bound_ms == pytest.approx(optimum, rel=1e-6)
    assert ho.evaluate(g, platform, r.schedule).makespan == r.makespan_ms


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("scale", [1e-9, 1e-6, 1e8, 1e14])
def test_times_far_from_milliseconds_give_the_same_optimum(scale, solver):
    """The same random instance timed in ns or in days: every solver proves
    the same optimum (the MILP, in ms with absolute tolerances, used to call
    a worse schedule optimal at 1e-6 and 1e8)."""
    d = ho.generators.random_layered(8, 12, 3, 1.0, seed=1).to_dict()
    for op in d["ops"]:
        op["latency_ms"] *= scale
    for edge in d["edges"]:
        edge["comm_ms"] *= scale
    g = ho.OpGraph.from_dict(d)
    r = ho.solve(g, ho.Platform(gpus=2, streams=2), solver, time_limit=30, workers=2)
    assert r.status == "optimal"
    assert r.makespan_ms / scale == pytest.approx(9.1528275080065, rel=1e-7)
    # (CP-SAT's "optimal" is up to its time grid: GRID_TOLERANCE, 1e-4)
    assert r.lower_bound_ms / scale == pytest.approx(9.1528275080065, rel=1e-4)


@pytest.mark.parametrize("solver", ["cpsat", "portfolio"])
def test_too_fine_a_grid_is_refused_up_front(solver):
    with pytest.raises(OptionError, match=r"resolution_ms=1e-300 is too fine .* use resolution_ms >= 1e-11"):
        ho.solve(ho.generators.diamond(), ho.Platform(gpus=2), solver, resolution_ms=1e-300)


def test_auto_grid_is_coarsened_for_huge_times():
    from hios_opt.exact.grid import MAX_TICKS, auto_resolution

    g = _diamond(b={"latency_ms": 1e300})
    r = auto_resolution(g, ho.Platform(gpus=2))
    assert sum(g.latency) / r <= MAX_TICKS


@pytest.mark.parametrize("argv, culprit", [
    (["--solver", "cpsat", "--resolution", "1e-320"], "resolution_ms"),
    (["--solver", "milp", "--bandwidth", "1e-300"], None),
    (["--solver", "portfolio", "--link-latency", "1e20"], None),
])
def test_cli_extreme_numbers(argv, culprit, capsys, tmp_path):
    path = tmp_path / "g.json"
    _diamond(**BYTES).save(path)
    code = main(["solve", str(path), "--gpus", "2", "--time-limit", "20", "--workers", "2", *argv])
    captured = capsys.readouterr()
    if culprit is None:
        assert code == 0 and "optimal" in captured.out and captured.err == ""
    else:
        assert code == 2 and captured.err.count("\n") == 1 and culprit in captured.err


def test_milp_warm_start_within_its_bounds_despite_float_noise():
    # The bundled SqueezeNet on 2 GPUs: a start's head (a sum of scaled
    # latencies) came out one ulp above the warm start's scaled start, and
    # PuLP refused the MIP start ("initial value ... is smaller than lowBound").
    g = ho.OpGraph.load("models/squeezenet_331_h100.json")
    r = ho.solve(g, ho.Platform(gpus=2), "milp", time_limit=3, workers=1)
    assert r.status in ("optimal", "feasible") and r.makespan_ms <= r.warm_start_makespan_ms
