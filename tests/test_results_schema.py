"""One result schema (hios_opt.results) across the demo, compare, bench-real and the notebooks."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from hios_opt import Platform, generators
from hios_opt.comparison import compare
from hios_opt.demo import run_demo
from hios_opt.results import COLUMNS, MEASURE_COLUMNS, format_table, gap, prediction_error, result_frame, result_row

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = list(COLUMNS[: len(COLUMNS) - len(MEASURE_COLUMNS)])   # problem and result columns


@pytest.fixture(scope="module")
def demo():
    return run_demo(["named:diamond"], time_limit=10, workers=1, out_dir=None)


@pytest.fixture(scope="module")
def comparison():
    return compare(generators.fork_join(), Platform(gpus=2), exact="cpsat", time_limit=10)


def test_demo_and_compare_share_the_columns(demo, comparison):
    assert list(demo.columns[: len(SCHEMA)]) == SCHEMA
    assert list(comparison.columns) == SCHEMA
    for table in (demo, comparison):
        assert table["speedup"].dtype.kind == "f" and table["gap"].dtype.kind == "f"
        assert set(table["status"][:-1]) == {"heuristic"} and table["status"].iloc[-1] == "optimal"
        assert table["algorithm"].iloc[-1].startswith("exact-")
        assert table["gap"].iloc[-1] == 0.0   # an optimal row: exactly zero, never 1e-10


def test_concat_keeps_the_problem_in_every_row(demo, comparison):
    both = pd.concat([demo, comparison], ignore_index=True)
    assert list(both.columns[: len(SCHEMA)]) == SCHEMA
    assert both[["graph", "ops", "gpus", "streams"]].notna().all().all()
    assert set(both["graph"]) == {demo["graph"].iloc[0], comparison["graph"].iloc[0]}


def test_text_tables_never_use_scientific_notation():
    rows = [result_row(graph="g", ops=4, gpus=2, streams=2, algorithm="exact-cpsat", makespan_ms=5.0,
                       lower_bound_ms=5.0 / (1 + 9.999999e-10), speedup=1.4, status="optimal", time_s=1.2e-5),
            result_row(graph="g", ops=4, gpus=2, streams=2, algorithm="heft", makespan_ms=6.5, lower_bound_ms=5.0,
                       speedup=1.0769, status="heuristic", time_s=0.25)]
    table = result_frame(rows)
    assert table["gap"].iloc[0] == 0.0
    text = format_table(table)
    assert "e-" not in text and "0.00%" in text and "30.00%" in text


def test_gap_and_prediction_error_are_defined_once():
    assert gap(12.0, 10.0) == pytest.approx(0.2)
    assert gap(10.0, 10.0 * (1 - 1e-12)) == 0.0
    assert math.isnan(gap(1.0, 0.0))
    assert prediction_error(measured_ms=1.2, predicted_ms=1.0) == pytest.approx(0.2)   # slower than predicted: > 0
    assert prediction_error(measured_ms=0.8, predicted_ms=1.0) == pytest.approx(-0.2)


def test_cli_csv_carries_the_problem(tmp_path):
    from hios_opt.cli import main

    out = tmp_path / "c.csv"
    assert main(["compare", "named:diamond", "--gpus", "2", "--csv", str(out)]) == 0
    assert out.read_text().splitlines()[0].split(",") == SCHEMA


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch (the [torch] extra)")
def test_bench_real_uses_the_whole_schema():
    from hios_opt.realbench import bench_real

    df = bench_real("squeezenet", input_size=48, gpus=2, algorithms="sequential,hios-lp", repeat=2, rounds=1,
                    warmup=1, max_pairs=0, cache=False)
    assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
    row = df.iloc[1]
    assert row.prediction_error == pytest.approx((row.measured_ms - row.predicted_ms) / row.predicted_ms)
    assert row.makespan_ms == row.predicted_ms and row.status == "heuristic"


@pytest.mark.parametrize("name", ["01_quickstart.ipynb", "02_optimality_gaps.ipynb", "03_real_latency.ipynb"])
def test_notebooks_build_schema_tables(name):
    cells = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "ho.compare(" in code or "result_row(" in code
    for old in ('"gap_to_bound"', '"error_pct"', '"sched_time_s"', 'results["error"]', "hios_opt.cli"):
        assert old not in code, f"{name}: {old}"
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert 'pip install ".[notebooks]"' in text
