"""The public instances with published optima (``tests/data/exact``)."""

from __future__ import annotations

from pathlib import Path

from hios_opt.exact.benchmarks import load_directory

DATA = Path(__file__).resolve().parents[1] / "data" / "exact"
INSTANCES = load_directory(DATA)
SINNEN = [i for i in INSTANCES if i.name.startswith("sinnen/")]
STG = [i for i in INSTANCES if i.name.startswith("stg50/")]
