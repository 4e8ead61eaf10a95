"""Tests of ``hios-opt models`` and ``hios-opt profile`` (in-process), and of the
bundled graphs under ``data/`` that ``scripts/make_data.py`` makes with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hios_opt import OpGraph, __version__
from hios_opt.cli import main
from hios_opt.cli import zoo as cli_zoo


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_models_lists_the_zoo(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("inception_v3", "nasnet", "randwire", "squeezenet"):
        assert name in out
    assert "331,512,768,1280" in out
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_name = {row["name"]: row for row in rows}
    assert by_name["inception_v3"]["default_input_size"] == 299
    assert by_name["inception_v3"]["min_input_size"] == 75
    assert by_name["squeezenet"]["paper_input_sizes"] == [331, 512, 768, 1280]
    assert all(row["description"] for row in rows)


def test_profile_estimate_writes_full_meta(tmp_path, capsys):
    out = tmp_path / "sq.json"
    assert main(["profile", "squeezenet", "--input-size", "48", "--batch", "2", "--device", "estimate:v100",
                 "--option", "version=1.1", "-o", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    g = OpGraph.load(out)
    assert summary["ops"] == g.n_ops and summary["device"] == "estimate:v100"
    assert g.name == "squeezenet_48"
    meta = g.meta
    assert meta["source"] == "estimated" and meta["device"] == "estimate:v100"
    assert meta["model"] == "squeezenet" and meta["model_options"] == {"version": "1.1"}
    assert meta["input_size"] == 48 and meta["batch_size"] == 2 and meta["input_shape"] == [[2, 3, 48, 48]]
    assert meta["granularity"] == "block" and meta["hios_opt_version"] == __version__
    assert meta["torch_version"] == torch.__version__ and meta["date"]
    assert meta["device_name"].startswith("NVIDIA Tesla V100") and meta["link"]["key"] == "nvlink2"
    assert all(e.comm_ms is not None for e in g.edges)


def test_profile_estimate_options(tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["profile", "squeezenet", "--input-size", "32", "--device", "estimate:a100", "--dtype", "fp32",
                 "--link", "none", "--granularity", "module", "-o", str(out)]) == 0
    assert "squeezenet_32 on estimate:a100" in capsys.readouterr().out
    g = OpGraph.load(out)
    assert g.meta["dtype"] == "fp32" and g.meta["link"] is None and g.meta["granularity"] == "module"
    assert all(e.comm_ms is None for e in g.edges)
    block = tmp_path / "b.json"
    assert main(["profile", "squeezenet", "--input-size", "32", "--device", "estimate:a100", "-o", str(block)]) == 0
    assert OpGraph.load(block).n_ops < g.n_ops  # module granularity splits conv and ReLU


def test_profile_cpu_measures(tmp_path, capsys):
    out = tmp_path / "cpu.json"
    assert main(["profile", "squeezenet", "--input-size", "24", "--device", "cpu", "--repeat", "2",
                 "--warmup", "0", "--max-pairs", "3", "--no-cache", "--threads", "1", "-o", str(out)]) == 0
    g = OpGraph.load(out)
    meta = g.meta
    assert meta["source"] == "measured" and meta["device"] == "cpu"
    assert meta["model"] == "squeezenet" and meta["input_size"] == 24 and meta["batch_size"] == 1
    assert meta["repeat"] == 2 and meta["max_pairs"] == 3 and meta["threads"] == 1
    assert meta["hios_opt_version"] == __version__ and meta["torch_version"] == torch.__version__
    assert 0 < len(g.stage_table) <= 3
    assert all(op.latency_ms > 0 for op in g.ops)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["profile", "resnet", "-o", "x.json"], "unknown model 'resnet'"),
        (["profile", "inception_v3", "--input-size", "40", "--device", "estimate:h100", "-o", "x.json"], "75"),
        (["profile", "squeezenet", "--batch", "0", "--device", "estimate:h100", "-o", "x.json"], "batch"),
        (["profile", "squeezenet", "--device", "estimate:p100", "-o", "x.json"], "estimate:h200"),
        (["profile", "squeezenet", "--device", "tpu", "-o", "x.json"], "devices here: cpu"),
        (["profile", "squeezenet", "--device", "estimate:v100", "--dtype", "bf16", "-o", "x.json"], "bf16"),
        (["profile", "squeezenet", "--device", "estimate:v100", "--link", "ib", "-o", "x.json"], "valid links"),
        (["profile", "squeezenet", "--granularity", "layer", "-o", "x.json"], "block, module"),
        (["profile", "squeezenet", "--option", "version", "-o", "x.json"], "KEY=VALUE"),
        (["profile", "squeezenet", "--option", "depth=3", "--device", "estimate:h100", "-o", "x.json"],
         "unknown option 'depth'"),
        (["profile", "squeezenet", "--option", "num_classes=ten", "--device", "estimate:h100", "-o", "x.json"],
         "expected a value of type int"),
        (["profile", "squeezenet", "--max-pairs", "some", "-o", "x.json"], "--max-pairs"),
    ],
)
def test_profile_bad_input_is_one_line_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "x.json").exists()


def test_unknown_model_lists_valid_ones(capsys):
    assert main(["profile", "incepton_v3", "-o", "x.json"]) == 2
    err = one_error_line(capsys)
    assert "inception_v3, nasnet, randwire, squeezenet" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu_is_a_clear_error(capsys):
    for device in ("cuda", "cuda:1"):
        assert main(["profile", "squeezenet", "--device", device, "-o", "x.json"]) == 2
        err = one_error_line(capsys)
        assert "not available" in err and "estimate:h100" in err


def test_cli_tables_match_estimate_tables():
    from hios_opt.estimate import DEVICES, DTYPES, LINKS

    assert set(cli_zoo.ESTIMATE_DEVICES) == set(DEVICES)
    assert set(cli_zoo.LINK_NAMES) == set(LINKS) | {"auto", "none"}
    assert set(cli_zoo.DTYPE_NAMES) == set(DTYPES)


# --- bundled data ----------------------------------------------------------
DATA = Path(__file__).resolve().parents[1] / "hios_opt" / "data"
FILES = sorted(DATA.glob("*/*.json"))
MODELS = ("inception_v3", "nasnet", "randwire", "squeezenet")


def test_the_bundled_folders_exist():
    for folder in ("models", "random", "small"):
        assert any((DATA / folder).glob("*.json")), f"data/{folder} is empty"
    assert (DATA / "README.md").exists()
    # the demo's graph
    assert (DATA / "models" / "inception_v3_299_h100.json").exists()


def test_total_size_stays_small():
    total = sum(f.stat().st_size for f in DATA.rglob("*") if f.is_file())
    assert total < 20 * 2**20, f"data/ holds {total / 2**20:.1f} MiB"


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_bundled_graph_loads_with_provenance(path):
    graph = OpGraph.load(path)
    meta = graph.meta
    assert meta.get("source") in ("estimated", "measured", "generated"), meta.get("source")
    assert isinstance(meta.get("device"), str) and meta["device"]
    if path.parent.name == "models":
        model, size, device = path.stem.rsplit("_", 2)
        assert model in MODELS and meta["model"] == model
        assert meta["input_size"] == int(size) and meta["batch_size"] == 1
        assert graph.name == f"{model}_{size}"
        assert meta["hios_opt_version"] and meta["torch_version"] and meta["date"]
        if device == "cpu":
            assert meta["source"] == "measured" and meta["device"] == "cpu"
            assert meta["repeat"] >= 1 and "max_pairs" in meta
        elif "-" in device:  # measured on that GPU with that timing, e.g. h100-kernel
            gpu, timing = device.split("-")
            assert meta["source"] == "measured" and meta["device"].startswith("cuda") and meta["timing"] == timing
            assert gpu in meta["device_name"].lower() and meta["repeat"] >= 1 and "max_pairs" in meta
            if timing == "kernel":
                assert meta["plain_sweep"] == "cuda-graph" and 0 < meta["event_scale"] <= 1
        else:
            assert meta["source"] == "estimated" and meta["device"] == f"estimate:{device}"
            assert meta["estimate"]["gpu"]["key"] == device and meta["link"]["key"]
        assert all(op.flops is not None and op.kind for op in graph.ops)
    else:
        assert meta["source"] == "generated" and meta["device"] == "analytic"


def test_readme_names_every_file():
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for path in FILES:
        if path.parent.name == "models":
            assert path.name in readme, path.name
    assert "random/layered_n{N}_e{E}_l{L}_ccr{C}_s0.json" in readme
    assert "small/{name}.json" in readme


def test_info_reads_a_bundled_graph_by_its_relative_name(capsys):
    assert main(["info", "models/inception_v3_299_h100.json", "--gpus", "2", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["ops"] > 100 and info["meta"]["device"] == "estimate:h100"


def test_make_data_script_lists_exactly_the_bundled_files():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_data", DATA.parents[1] / "scripts" / "make_data.py")
    make_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_data)
    listed = {out for items in make_data.commands().values() for out, _ in items}
    assert listed == {f"{p.parent.name}/{p.name}" for p in FILES}
    for items in make_data.commands().values():
        for out, argv in items:
            assert argv[-2:] == ["-o", f"hios_opt/data/{out}"] and argv[0] in ("profile", "generate")
