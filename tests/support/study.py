"""Small study specs and helpers shared by the study tests (local pool, serial, Dask)."""

from __future__ import annotations

import time
from pathlib import Path

#: 3 graphs x 4 platforms x 3 deterministic heuristics = 36 cells, well under a second of work.
SMALL = {
    "name": "small",
    "graphs": ["named:diamond", "named:inception-block"],
    "generate": [{"nodes": 20, "edges": "2x", "layers": 4, "ccr": 0.5, "seeds": [0]}],
    "gpus": [1, 2],
    "streams": [1, 2],
    "algorithms": ["sequential", "heft", "hios-lp"],
}

#: Heuristic cells of about 0.1 s each on 2 cores: long enough to interrupt a study midway.
SLOW_CELLS = {
    "name": "slow-cells",
    "generate": [{"nodes": 300, "edges": "2x", "layers": "sqrt", "ccr": 0.6, "seeds": [0, 1, 2, 3, 4, 5]}],
    "gpus": [2, 4],
    "streams": 2,
    "algorithms": ["hios-lp", "hios-mr", {"name": "hios-lp", "window": 1}],
}

#: Exact cells that run to their time limit (2 GPUs x 2 streams on 30 ops is not proven in 1.5 s).
LONG_EXACT = {
    "name": "long-exact",
    "generate": [{"nodes": 30, "edges": "2x", "layers": 5, "ccr": 0.5, "seeds": [0, 1, 2, 3]}],
    "gpus": 2,
    "streams": 2,
    "exact": [{"solver": "cpsat", "time_limit": 1.5, "workers": 1}],
}

#: Columns a rerun of a deterministic cell reproduces exactly.
DETERMINISTIC = ["key", "graph", "ops", "gpus", "streams", "algorithm", "variant", "makespan_ms", "lower_bound_ms",
                 "gap", "speedup", "status", "graph_hash", "error"]


def comparable(df):
    """The deterministic columns, one row per key, sorted by key."""
    return df[DETERMINISTIC].sort_values("key").reset_index(drop=True)


def wait_for_rows(path: Path, count: int, timeout: float = 60.0, process=None) -> int:
    """Wait until the store at ``path`` holds at least ``count`` rows; the
    number it holds. ``process``: a Popen that must still be running."""
    from hios_opt.errors import StoreError
    from hios_opt.study import Store

    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        try:
            with Store(path, readonly=True) as store:
                n = store.count()
        except StoreError:
            n = 0
        if n >= count:
            return n
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the study ended (exit code {process.returncode}) with {n} rows: "
                                 f"{process.stderr.read() if process.stderr else ''}")
        time.sleep(0.05)
    raise AssertionError(f"the store held {n} rows after {timeout} s, expected {count}")
