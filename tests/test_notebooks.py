"""The notebooks: committed without outputs, and executable top to bottom.

Each notebook runs in its small mode (``HIOS_NB_FULL`` unset) with nbclient,
in the ``notebooks/`` folder, and ends with a line ``SUMMARY {json}`` whose
numbers are checked here.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from hios_opt.heuristics import algorithms

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = ("01_quickstart.ipynb", "02_optimality_gaps.ipynb", "03_real_latency.ipynb")
CELL_TIMEOUT_S = 300
KERNEL = "python3"


def _same_interpreter(command: str) -> bool:
    found = shutil.which(command) or command
    return os.path.realpath(found) == os.path.realpath(sys.executable)


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A ``python3`` kernel that runs this interpreter (where hios_opt is installed).

    A fresh machine may have no kernel spec at all: install this interpreter's
    for the user. When a ``python3`` spec exists but starts another Python,
    install ours under a temporary prefix and put it first on ``JUPYTER_PATH``
    for these tests only.
    """
    from ipykernel.kernelspec import install
    from jupyter_client.kernelspec import KernelSpecManager, find_kernel_specs

    patch = pytest.MonkeyPatch()
    if KERNEL not in find_kernel_specs():
        install(user=True, kernel_name=KERNEL)
    if not _same_interpreter(KernelSpecManager().get_kernel_spec(KERNEL).argv[0]):
        prefix = tmp_path_factory.mktemp("jupyter")
        install(prefix=str(prefix), kernel_name=KERNEL)
        patch.setenv("JUPYTER_PATH", os.pathsep.join(filter(None, [str(prefix / "share" / "jupyter"),
                                                                   os.environ.get("JUPYTER_PATH")])))
    # Small mode whatever the caller's shell says, and no profile cache in the home folder.
    patch.delenv("HIOS_NB_FULL", raising=False)
    patch.setenv("HIOS_OPT_CACHE", str(tmp_path_factory.mktemp("hios_cache")))
    yield
    patch.undo()


def _execute(name: str) -> tuple[dict, object, float]:
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name=KERNEL, resources={"metadata": {"path": str(NOTEBOOK_DIR)}}
    )
    started = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - started
    print(f"{name}: executed in {elapsed:.1f} s")
    return _summary(nb), nb, elapsed


def _summary(nb) -> dict:
    last = [cell for cell in nb.cells if cell.cell_type == "code"][-1]
    text = "".join(out.get("text", "") for out in last.outputs if out.output_type == "stream")
    lines = [line for line in text.splitlines() if line.startswith("SUMMARY ")]
    assert lines, f"the last cell printed no SUMMARY line; it printed: {text[:500]!r}"
    return json.loads(lines[-1][len("SUMMARY "):])


def _figures(nb) -> int:
    return sum("image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for out in cell.outputs)


# ------------------------------------------------------------------ as committed
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a code cell has saved outputs (strip them)"
            assert cell.execution_count is None, f"{name}: a code cell has an execution count"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_one_marked_parameters_cell_near_the_top(name):
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    tagged = [k for k, cell in enumerate(nb.cells) if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: expected one cell tagged 'parameters', found {len(tagged)}"
    k = tagged[0]
    assert k <= 3, f"{name}: the parameters cell should be near the top (cell {k})"
    assert nb.cells[k].cell_type == "code"
    assert "FULL" in nb.cells[k].source and "HIOS_NB_FULL" in nb.cells[k].source
    above = nb.cells[k - 1]
    assert above.cell_type == "markdown" and "switch to the full-size study here" in above.source.lower()


def test_readme_lists_every_notebook():
    readme = (NOTEBOOK_DIR / "README.md").read_text()
    for name in NOTEBOOKS:
        assert name in readme
    assert "HIOS_NB_FULL=1" in readme


# ------------------------------------------------------------------ executed
@pytest.mark.slow
def test_01_quickstart(kernel_env):
    summary, nb, _ = _execute("01_quickstart.ipynb")
    assert summary["sequential_ms"] == pytest.approx(11.8)      # the sum of the hand-made graph's latencies
    assert summary["by_hand_2gpu_ms"] == pytest.approx(6.85)    # worked out in the notebook's text
    assert summary["exact_status"] == "optimal"
    assert 6.8 - 1e-9 <= summary["exact_ms"] <= summary["by_hand_2gpu_ms"] + 1e-9   # critical path <= optimum
    assert summary["exact_ms"] <= summary["best_heuristic_ms"] + 1e-9
    assert summary["hios_lp_speedup_ccr0"] > 1.5                # free communication: two GPUs pay
    assert summary["hios_lp_speedup_max_ccr"] < summary["hios_lp_speedup_ccr0"]
    assert summary["streams_gain_alpha0"] > 1.0                 # alpha 0: a second stream helps
    by_gpus = summary["hios_lp_ms_by_gpus"]
    assert len(by_gpus) == 4 and by_gpus[1] < by_gpus[0]
    assert _figures(nb) >= 6


@pytest.mark.slow
def test_02_optimality_gaps(kernel_env):
    summary, nb, _ = _execute("02_optimality_gaps.ipynb")
    assert summary["problems"] == 18                            # 3 sizes x 3 CCRs x 2 GPU counts
    assert summary["solvers"] == {"astar": 9, "cpsat": 9}       # "auto": A* on 2 GPUs x 2 streams
    assert summary["proven_optimal"] >= 1
    assert summary["min_gap_to_best"] >= -1e-9                  # nothing beats the best known schedule
    assert summary["min_bound_minus_best_gap"] >= -1e-9         # the proven bound is below the best known
    medians = summary["median_gap_to_best"]
    assert set(medians) == set(algorithms())                    # every heuristic of the registry
    assert medians["hios-lp"] <= medians["sequential"]
    assert summary["worst_hios_lp_gap"] >= 0
    for result in summary["bundled"].values():
        assert result["status"] in ("optimal", "feasible", "no model")
        assert result["hios_lp_gap_to_bound"] >= -1e-9
    assert _figures(nb) >= 4


@pytest.mark.slow
def test_03_real_latency(kernel_env):
    summary, nb, _ = _execute("03_real_latency.ipynb")
    assert summary["threads"] == 1
    assert summary["plans"] == 4 * len(algorithms())            # 4 platforms x every heuristic
    assert summary["outputs_match"] == summary["plans"]         # every plan computes the forward pass
    for row in summary["table"]:
        assert row["predicted_ms"] > 0 and row["measured_ms"] > 0
    assert summary["gpu_profiles"] == 10 and summary["gpu_tables"] == 1   # the bundled H100 run
    assert _figures(nb) >= 2
