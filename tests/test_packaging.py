"""The built wheel: it carries the bundled graphs, asks for torch only through
the ``torch`` extra, and, installed outside the source tree with torch
unavailable, runs the demo and the solvers and names the extra when a torch
feature is used.

The venv reuses this interpreter's installed dependencies
(``--system-site-packages``, so the test needs no network and takes seconds)
and installs the wheel itself with ``--no-deps``; torch is made unimportable
in it by a ``.pth`` line. ``.ci/run`` also installs the project into a bare
venv without torch and runs the demo and the torch-free tests there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pip(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True,
                          env=_clean_env())


def _clean_env() -> dict[str, str]:
    """This environment without PYTHONPATH (which would put the checkout first)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Offline first (setuptools and wheel of this environment), else pip's isolated build.
    done = _pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT))
    if done.returncode != 0:
        done = _pip("wheel", "--no-deps", "-q", "-w", str(out), str(ROOT))
    assert done.returncode == 0, done.stderr[-3000:]
    (found,) = out.glob("hios_opt-*.whl")
    return found


def test_wheel_carries_the_bundled_graphs(wheel):
    from hios_opt import data

    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    bundled = data.names()
    assert len(bundled) > 50
    for name in bundled:
        assert f"hios_opt/data/{name}" in names, name
    assert "hios_opt/data/README.md" in names
    assert "hios_opt/data/models/inception_v3_299_h100.json" in names   # the demo's graph
    assert not any(n.startswith(("tests/", "benchmarks/", "notebooks/")) for n in names)


def test_wheel_asks_for_torch_only_in_its_extra(wheel):
    with zipfile.ZipFile(wheel) as zf:
        meta = next(zf.read(n).decode() for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    torch = [r for r in requires if r.startswith("torch")]
    assert torch and all('extra == "torch"' in r for r in torch), torch
    assert "Provides-Extra: torch" in meta and "Provides-Extra: notebooks" in meta
    for needed in ("ortools", "highspy", "pandas", "matplotlib", "networkx"):
        assert any(r.startswith(needed) and "extra ==" not in r for r in requires), needed


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(home)], check=True,
                   env=_clean_env())
    python = home / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], capture_output=True,
                          text=True, env=_clean_env())
    assert done.returncode == 0, done.stderr[-3000:]
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, env=_clean_env()).stdout.strip()
    # torch is installed beside this test run; in the venv it must not be importable.
    (Path(site) / "zz_no_torch.pth").write_text("import sys; sys.modules['torch'] = None\n")
    return home


def _run(venv: Path, *argv: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / argv[0]), *argv[1:]], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=_clean_env())


@pytest.mark.slow
def test_installed_wheel_runs_demo_and_solvers_without_torch(venv, tmp_path):
    where = _run(venv, "python", "-c", "import hios_opt, sys; print(hios_opt.__file__); "
                 "import hios_opt.exact, hios_opt.demo, hios_opt.viz; print('torch' in sys.modules and "
                 "sys.modules['torch'] is not None)", cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    path, torch_loaded = where.stdout.split()
    assert Path(path).is_relative_to(venv), path            # the wheel, not the checkout
    assert torch_loaded == "False"

    demo = _run(venv, "hios-opt", "demo", "--time-limit", "3", "--workers", "1", "--out", "out", "--quiet",
                cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "inception_v3_299" in demo.stdout
    assert (tmp_path / "out" / "demo.csv").is_file()
    assert len(list((tmp_path / "out").glob("*_gantt.png"))) == 2

    for solver, graph in (("cpsat", "models/squeezenet_331_h100.json"), ("milp", "small/fork-join.json"),
                          ("astar", "models/squeezenet_331_h100.json"), ("portfolio", "small/inception-block.json")):
        done = _run(venv, "hios-opt", "solve", graph, "--gpus", "2", "--streams", "1",
                    "--solver", solver, "--time-limit", "10", "--workers", "1", "--json", cwd=tmp_path)
        assert done.returncode == 0, (solver, done.stderr[-2000:])
        assert '"makespan_ms"' in done.stdout

    loaded = _run(venv, "python", "-c", "from hios_opt import OpGraph; "
                  "print(OpGraph.load('models/inception_v3_299_h100.json').n_ops)", cwd=tmp_path)
    assert loaded.stdout.strip() == "124", loaded.stderr


@pytest.mark.slow
def test_torch_features_name_the_extra_without_torch(venv, tmp_path):
    for argv in (("hios-opt", "profile", "squeezenet", "--device", "estimate:h100", "-o", "g.json"),
                 ("hios-opt", "models")):
        done = _run(venv, *argv, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
        assert "pip install 'hios_opt[torch]'" in done.stderr
    assert not (tmp_path / "g.json").exists()
    done = _run(venv, "python", "-c", "import hios_opt.trace", cwd=tmp_path)
    assert "MissingDependencyError" in done.stderr and "hios_opt[torch]" in done.stderr
