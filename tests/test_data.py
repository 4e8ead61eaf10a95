"""The bundled graphs (hios_opt.data) and how every entry point finds them."""

from __future__ import annotations

import pytest

from hios_opt import OpGraph, data
from hios_opt.cli import main
from hios_opt.errors import FormatError


def test_names_and_paths():
    every = data.names()
    assert "models/inception_v3_299_h100.json" in every and "small/diamond.json" in every
    assert all(data.path(name).is_file() for name in every)
    assert data.folder().name == "data" and (data.folder() / "README.md").is_file()


def test_opgraph_load_resolves_bundled_names_and_prefers_local_files(tmp_path, monkeypatch):
    assert OpGraph.load("models/inception_v3_299_h100.json").n_ops == 124
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    OpGraph([__import__("hios_opt").Op("x", 1.0)], [], name="local").save(tmp_path / "models" / "squeezenet_331_h100.json")
    assert OpGraph.load("models/squeezenet_331_h100.json").name == "local"


def test_load_takes_named_graphs_and_files():
    assert data.load("named:fork-join").name.startswith("fork-join")
    assert data.load(data.path("small/chain.json")).name == data.load("named:chain").name


@pytest.mark.parametrize("spec, hint", [
    ("inception_v3", "did you mean models/inception_v3_"),
    ("models/inceptoin_v3_299_h100.json", "did you mean models/inception_v3_299_h100.json"),
    ("nothing_like_it.json", "bundled graphs are named like models/inception_v3_299_h100.json"),
])
def test_a_missing_graph_names_close_bundled_ones(spec, hint):
    with pytest.raises(FormatError, match="no such file, nor a bundled graph") as info:
        OpGraph.load(spec)
    assert hint in str(info.value)


def test_outside_names_are_not_bundled(tmp_path):
    with pytest.raises(FormatError):
        data.path("../pyproject.toml")
    with pytest.raises(FormatError):
        OpGraph.load("../data/models/inception_v3_299_h100.json")


def test_info_hints_at_the_bundled_model_files(capsys):
    assert main(["info", "inception_v3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: inception_v3: no such file") and err.count("\n") == 1
    assert "models/inception_v3_299_h100.json" in err
    assert "hios-opt profile inception_v3 --device estimate:h100" in err


def test_help_shows_the_platform_defaults(capsys):
    for command in ("info", "schedule", "compare", "solve", "demo"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "number of GPUs K (default" in text and "streams per GPU S (default" in text, command


def test_the_library_does_not_import_the_cli():
    import subprocess
    import sys

    code = ("import sys, hios_opt, hios_opt.demo, hios_opt.data, hios_opt.comparison, hios_opt.viz; "
            "hios_opt.data.load('models/squeezenet_331_h100.json'); "
            "print(sorted(m for m in sys.modules if m.startswith('hios_opt.cli')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
