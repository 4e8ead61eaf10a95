"""Study specs: parsing, errors with key paths and lines, grids, sweeps, cell keys."""

from __future__ import annotations

import textwrap

import pytest

from hios_opt import generators
from hios_opt.errors import SpecError
from hios_opt.exact import solver_names
from hios_opt.study import graph_hash, load_spec, parse_spec, spec_names
from hios_opt.study import spec as study_spec
from hios_opt.study._tomlpos import key_lines

MINIMAL = """\
name = "example"
graphs = ["named:diamond", "models/squeezenet_331_h100.json"]
generate = [{nodes = [20, 30], edges = "2x", layers = 5, ccr = [0.5, 1.0], seeds = [0, 1, 2]}]
gpus = [1, 2]
streams = [1, 2]
algorithms = ["sequential", "heft", "hios-lp"]
exact = [{solver = "cpsat", time_limit = 2, workers = 1}]
"""


def write(tmp_path, text, name="study.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_minimal_interface(tmp_path):
    plan = load_spec(write(tmp_path, MINIMAL)).plan()
    assert len(plan.graphs) == 2 + 2 * 2 * 3
    # 14 graphs x 4 platforms x (3 heuristics + 1 solver)
    assert len(plan.cells) == 14 * 4 * 4
    assert len({c.key for c in plan.cells}) == len(plan.cells)
    exact = [c for c in plan.cells if c.kind == "exact"]
    assert {c.algorithm for c in exact} == {"exact-cpsat"}
    assert all(c.settings["time_limit"] == 2.0 and c.slots == 1 for c in exact)
    generated = [g for g in plan.graphs.values() if g.source == "generate:random_layered"]
    assert sorted({(g.columns["ccr"], g.columns["graph_seed"]) for g in generated}) == [
        (ccr, seed) for ccr in (0.5, 1.0) for seed in (0, 1, 2)]
    assert {len(g.data["ops"]) for g in generated} == {20, 30}
    assert {len(g.data["edges"]) for g in generated} == {40, 60}


@pytest.mark.parametrize("text, where, message", [
    ('name = "x"\ngraphs = ["named:diamond"]\nalgorithms = ["heft"]\ngpu = 2\n', "study.toml:4: gpu:", "unknown key"),
    ('name = "x"\ngraphs = ["named:diamond"]\nalgorithms = ["heft"]\ngenerate = [{nodes = [20,\n  -3]}]\n',
     "study.toml:5: generate[0].nodes[1]:", "integer >= 0"),
    ('name = "x"\ngraphs = ["named:diamond"]\nalgorithms = [\n  "heft",\n  "lp",\n]\n', "study.toml:5: algorithms[1]:",
     "unknown algorithm 'lp'"),
    ('name = "x"\ngraphs = ["named:diamond"]\nalgorithms = [{name = "heft", window = 2}]\n',
     "study.toml:3: algorithms[0].window:", "heft does not take option 'window'"),
    ('name = "x"\ngraphs = ["named:diamond"]\nexact = [{solver = "cpsat", time_limit = 0}]\n',
     "study.toml:3: exact[0].time_limit:", "> 0"),
    ('name = "x"\ngraphs = ["named:diamond"]\nexact = [{solver = "cpsat", timelimit = 5}]\n',
     "study.toml:3: exact[0].timelimit:", "unknown key"),
    ('name = "x"\ngraphs = ["named:diamond"]\nalgorithms = ["heft"]\n[[sweep]]\ngpus = [2, 0]\n',
     "study.toml:5: sweep[0].gpus[1]:", "integer in 1..4096"),
    ('name = "x"\ngraphs = ["nothing/*.json"]\nalgorithms = ["heft"]\n', "study.toml:2: graphs[0]:", "matches no graph"),
    ('name = "x"\ngraphs = ["missing.json"]\nalgorithms = ["heft"]\n', "study.toml:2: graphs[0]:", "no such file"),
    ('name = "x"\ngraphs = ["named:diamond"]\nalgorithms = [{name = "hios-lp", window = 0}]\n',
     "study.toml:3: algorithms[0]:", "window"),
    ('name = "x"\ngenerate = [{nodes = 20, edges = 1000, layers = 5}]\nalgorithms = ["heft"]\n',
     "study.toml:2: generate[0]:", "cannot make 1000 edges"),
    ('name = "x"\ngraphs = ["named:diamond"]\n', "study.toml:", "nothing to run"),
    ('graphs = ["named:diamond"]\nalgorithms = ["heft"]\n', "study.toml", "missing key 'name'"),
    ('name = "x"\ngraphs = ["named:diamond"]\nalgorithms = ["heft"]\ngpus = 2\nplatforms = [{gpus = 2}]\n',
     "study.toml:4: gpus:", "not both"),
])
def test_errors_name_the_key_and_line(tmp_path, text, where, message):
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, text)).plan()
    text = str(info.value)
    assert where in text and message in text, text


def test_unknown_solver_lists_the_registry(tmp_path):
    path = write(tmp_path, 'name = "x"\ngraphs = ["named:diamond"]\nexact = ["cpsat", "gurobi"]\n')
    with pytest.raises(SpecError, match=r"study.toml:3: exact\[1\]: unknown solver 'gurobi'") as info:
        load_spec(path)
    for name in solver_names():
        assert repr(name) in str(info.value)


def test_every_registered_solver_is_accepted():
    spec = parse_spec({"name": "x", "graphs": ["named:diamond"], "exact": solver_names()})
    assert [c.algorithm for c in spec.plan().cells] == [f"exact-{s}" for s in solver_names()]


def test_invalid_toml_and_dict_errors(tmp_path):
    with pytest.raises(SpecError, match="invalid TOML"):
        load_spec(write(tmp_path, 'name = "x"\ngraphs = [\n'))
    with pytest.raises(SpecError, match=r"^spec: streams: must be an integer"):
        parse_spec({"name": "x", "graphs": ["named:diamond"], "algorithms": ["heft"], "streams": "2"})
    with pytest.raises(SpecError, match="no such spec file"):
        load_spec(tmp_path / "absent.toml")


def test_sweeps_inherit_and_union(tmp_path):
    path = write(tmp_path, """\
        name = "sweeps"
        generate = [{nodes = 20, ccr = 0.6, seeds = [0]}]
        gpus = 4
        streams = 2
        algorithms = ["heft", {name = "hios-lp", intra = [true, false]}]
        [[sweep]]
        gpus = [2, 4]
        [[sweep]]
        generate = [{nodes = 20, ccr = [0.2, 0.6], seeds = [0]}]
        """)
    plan = load_spec(path).plan()
    platforms = {(c.settings["platform"]["gpus"], c.settings["platform"]["streams"]) for c in plan.cells}
    assert platforms == {(2, 2), (4, 2)}
    # (gpus 2, 4) x ccr 0.6 and gpus 4 x ccr 0.2: the shared setting runs once
    assert len(plan.cells) == 3 * 3
    variants = {c.variant for c in plan.cells}
    assert variants == {"heft", "hios-lp[intra=true]", "hios-lp[intra=false]"}


def test_generator_expressions_and_named_generators():
    spec = parse_spec({"name": "g", "algorithms": ["heft"], "generate": [
        {"nodes": 36, "edges": "1.5x", "layers": "sqrt"}, {"nodes": 60, "layers": "nodes/6"},
        {"generator": "fork-join", "branches": [2, 3]}]})
    graphs = {g.name: g for g in spec.plan().graphs.values()}
    layered = [g for g in graphs.values() if g.source == "generate:random_layered"]
    assert sorted((len(g.data["ops"]), len(g.data["edges"]), g.columns["layers"]) for g in layered) == [
        (36, 54, 6), (60, 120, 10)]
    assert {"fork-join2[branches=2]", "fork-join3[branches=3]"} <= set(graphs)


def test_graph_files_globs_and_bundled_names(tmp_path):
    folder = tmp_path / "graphs"
    folder.mkdir()
    generators.diamond().save(folder / "a.json")
    generators.chain(5).save(folder / "b.json")
    path = write(tmp_path, 'name = "files"\ngraphs = ["graphs/*.json", "graphs/a.json", '
                           '"models/squeezenet_331_h100.json"]\nalgorithms = ["heft"]\n')
    plan = load_spec(path).plan()
    assert sorted(g.source for g in plan.graphs.values()) == ["graphs/a.json", "graphs/b.json",
                                                              "models/squeezenet_331_h100.json"]
    assert len(plan.cells) == 3


def test_keys_are_stable_and_follow_every_setting(monkeypatch):
    base = {"name": "k", "graphs": ["named:diamond"], "gpus": 2, "algorithms": ["hios-lp"]}
    key = parse_spec(base).plan().cells[0].key
    assert parse_spec(dict(base, name="other")).plan().cells[0].key == key  # the study's name is a label
    for change in ({"gpus": 3}, {"streams": 2}, {"alpha": 0.4}, {"latency_us": 5.0},
                   {"algorithms": [{"name": "hios-lp", "window": 1}]}, {"graphs": ["named:fork-join"]},
                   {"repeats": 2}, {"timeline": True}):
        keys = {c.key for c in parse_spec(dict(base, **change)).plan().cells}
        assert key not in keys or change == {"repeats": 2}, change
    monkeypatch.setattr(study_spec, "__version__", "99.0")  # where the key reads it
    assert parse_spec(base).plan().cells[0].key != key


def test_exact_settings_change_the_key():
    base = {"name": "k", "graphs": ["named:diamond"], "exact": [{"solver": "cpsat", "time_limit": 5}]}
    key = parse_spec(base).plan().cells[0].key
    for change in ({"time_limit": 6}, {"workers": 2}, {"seed": 1}, {"warm_start": "none"}, {"solver": "astar"}):
        spec = dict(base, exact=[dict(base["exact"][0], **change)])
        assert parse_spec(spec).plan().cells[0].key != key, change
    grid = dict(base, exact=[{"solver": "cpsat", "time_limit": [1, 2], "workers": [1, 2]}])
    cells = parse_spec(grid).plan().cells
    assert len(cells) == 4 and sorted(c.slots for c in cells) == [1, 1, 2, 2]


def test_graph_hash_is_content_only():
    g = generators.diamond()
    assert graph_hash(g) == graph_hash(g.with_costs(name="x", meta={"a": 1}))
    assert graph_hash(g) != graph_hash(generators.diamond(comm_ms=0.6))


def test_tomlpos_handles_strings_comments_and_tables():
    text = textwrap.dedent('''\
        # "a comment with [brackets]"
        name = "x#y" # trailing
        s = """multi
        line with ] and }"""
        t = 'lit\\'
        [a]
        b = [1, {c = "]"}, [2,
          3]]
        [[d]]
        e.f = 1
        [[d]]
        "quoted key" = 2
        ''')
    import tomllib

    tomllib.loads(text)
    lines = key_lines(text)
    assert lines[("name",)] == 2 and lines[("t",)] == 5
    assert lines[("a", "b", 1, "c")] == 7 and lines[("a", "b", 2, 1)] == 8
    assert lines[("d", 0, "e", "f")] == 10 and lines[("d", 1, "quoted key")] == 12


def test_shipped_specs_parse():
    names = spec_names()
    assert {"tiny", "example", "paper-sweeps", "paper-sweeps-quick", "exact-reach", "exact-reach-quick"} <= set(names)
    for name in names:
        spec = load_spec(name)
        assert spec.name == name and spec.description
    assert len(load_spec("paper-sweeps-quick").plan().cells) == 72
    assert len(load_spec("exact-reach-quick").plan().cells) == 20
    assert len(load_spec("tiny").plan().cells) == 64
