"""The study runner's own cost: overhead per cell, memory over a study, scaling with workers.

Usage::

    python benchmarks/bench_study.py            # 10,000 heuristic cells (several minutes on 2 cores)
    python benchmarks/bench_study.py --quick    # 1,000 cells (under a minute)

Three measurements, printed as a table and written to
``benchmarks/results/study_bench.csv`` (``study_bench_quick.csv``):

1. **Overhead per cell** on the local pool: ``--cells`` heuristic cells on
   200-op random layered graphs (sequential, HEFT, HIOS-LP, HIOS-MR, HIOS-LP
   without its intra-GPU pass; 2 and 4 GPUs x 1 and 2 streams; repeats).
   Overhead = (study wall time x workers - the algorithms' own time, the
   rows' ``time_s``) / cells: everything the runner adds (planning, the
   pool, shipping graphs, bounds and rows, the store, the progress bar).
   Target: <= 5 ms.
2. **Memory**: the resident memory of the coordinator (and of the pool's
   processes) sampled through that study, at 10 %, 50 % and 100 % of the
   cells. Target: flat.
3. **Scaling**: the same CPU-bound cells (HIOS-LP and HIOS-MR on 500-op
   graphs) with 1 and with 2 local workers (and on a Dask LocalCluster of
   two processes when dask.distributed is installed); throughput in cells per
   second. Target: 2 workers >= 1.8 x 1.

Other processes sharing the CPU distort every number; the load average at
the start and the end is printed and written with the results.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

import hios_opt as ho
from hios_opt.study import load, run

RESULTS = Path(__file__).resolve().parent / "results"
OVERHEAD_ALGORITHMS = ["sequential", "heft", "hios-lp", "hios-mr", {"name": "hios-lp", "intra": False}]


def overhead_spec(cells: int) -> dict:
    """About ``cells`` cells: 4 platforms x 5 algorithms x 4 repeats per 200-op graph."""
    graphs = max(1, round(cells / (4 * 5 * 4)))
    return {"name": "overhead", "generate": [{"nodes": 200, "edges": "2x", "layers": "sqrt", "ccr": 0.6,
                                              "seeds": list(range(graphs))}],
            "gpus": [2, 4], "streams": [1, 2], "algorithms": OVERHEAD_ALGORITHMS, "repeats": 4}


def scaling_spec(graphs: int) -> dict:
    return {"name": "scaling", "generate": [{"nodes": 500, "edges": "2x", "layers": "sqrt", "ccr": 0.6,
                                             "seeds": list(range(graphs))}],
            "gpus": [2, 4], "streams": 2, "algorithms": ["hios-lp", "hios-mr"]}


class MemorySampler:
    """Resident memory (MiB) of this process and of its child processes, every ``every`` seconds."""

    def __init__(self, every: float = 0.25) -> None:
        self.every = every
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            children = 0.0
            for child in me.children(recursive=True):
                try:
                    children = max(children, child.memory_info().rss / 2**20)
                except psutil.Error:
                    pass
            self.samples.append((time.monotonic(), me.memory_info().rss / 2**20, children))
            self._stop.wait(self.every)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


def measure_overhead(folder: Path, cells: int, workers: int, rows: list[dict]) -> None:
    spec = overhead_spec(cells)
    store = folder / "overhead.sqlite"
    started = time.monotonic()
    with MemorySampler() as memory:
        result = run(spec, store, workers=workers, progress=False, verbose=False)
    wall = time.monotonic() - started
    df = load(store)
    own = float(df.time_s.sum())
    overhead_ms = (wall * workers - own) / len(df) * 1e3
    rows.append({"measure": "overhead per cell", "value": overhead_ms, "unit": "ms", "target": "<= 5",
                 "met": overhead_ms <= 5.0,
                 "detail": f"{len(df)} cells, {workers} workers, wall {wall:.1f} s, algorithms' own time "
                           f"{own:.1f} s (mean {own / len(df) * 1e3:.2f} ms/cell), {result.failed} failed"})
    # memory when 10 %, 50 % and 100 % of the rows were stored (finished_at of those rows)
    done = sorted(df.finished_at)
    wall_start = time.time() - (time.monotonic() - memory.samples[0][0])
    marks = []
    for share in (0.1, 0.5, 1.0):
        moment = done[min(len(done) - 1, math.ceil(share * len(done)) - 1)] - wall_start + memory.samples[0][0]
        sample = min(memory.samples, key=lambda s: abs(s[0] - moment))
        marks.append((share, sample[1], sample[2]))
    coordinator = [m[1] for m in marks]
    growth = coordinator[-1] - coordinator[0]
    rows.append({"measure": "coordinator memory at 10/50/100 %", "value": growth, "unit": "MiB growth",
                 "target": "flat", "met": growth < 20.0,
                 "detail": " / ".join(f"{m[1]:.0f}" for m in marks) + " MiB; largest pool process "
                           + " / ".join(f"{m[2]:.0f}" for m in marks) + " MiB"})


def measure_scaling(folder: Path, graphs: int, rows: list[dict], dask: bool) -> None:
    spec = scaling_spec(graphs)
    throughput, steady, cell_ms = {}, {}, {}
    for label, options in (("1 worker", {"workers": 1}), ("2 workers", {"workers": 2})):
        store = folder / f"scaling-{label.split()[0]}.sqlite"
        started = time.monotonic()
        result = run(spec, store, progress=False, verbose=False, **options)
        wall = time.monotonic() - started
        df = load(store)
        throughput[label] = result.ran / wall
        # from the first row stored to the last: without planning and starting the processes
        finished = df.finished_at.sort_values()
        steady[label] = (len(finished) - 1) / (finished.iloc[-1] - finished.iloc[0])
        cell_ms[label] = float(df.time_s.mean()) * 1e3
        busy = float(df.time_s.sum()) / (wall * options["workers"])
        rows.append({"measure": f"throughput, {label}", "value": throughput[label], "unit": "cells/s", "target": "",
                     "met": "", "detail": f"{result.ran} cells in {wall:.1f} s ({steady[label]:.2f} cells/s from "
                                          f"the first row to the last), {cell_ms[label]:.0f} ms of work each; "
                                          f"workers inside algorithms {busy:.0%} of the wall time"})
    slowdown = cell_ms["2 workers"] / cell_ms["1 worker"]
    for label, values in (("", throughput), (", steady state", steady)):
        ratio = values["2 workers"] / values["1 worker"]
        rows.append({"measure": f"speedup of 2 workers over 1{label}", "value": ratio, "unit": "x",
                     "target": ">= 1.8", "met": ratio >= 1.8,
                     "detail": f"local pool, same cells; each cell ran {slowdown:.2f} x slower with 2 workers "
                               f"(cores shared with other processes): {ratio * slowdown:.2f} x at equal cell speed"})
    if dask:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=40) as cluster, Client(cluster) as client:
            store = folder / "scaling-dask.sqlite"
            started = time.monotonic()
            result = run(spec, store, client=client, progress=False, verbose=False)
            wall = time.monotonic() - started
        value = result.ran / wall
        rows.append({"measure": "throughput, Dask LocalCluster of 2 processes", "value": value, "unit": "cells/s",
                     "target": "", "met": "",
                     "detail": f"{result.ran} cells in {wall:.1f} s; {value / throughput['2 workers']:.2f} x the "
                               "local pool of 2"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 cells and a smaller scaling run")
    parser.add_argument("--cells", type=int, default=None, help="cells of the overhead study (default 10,000)")
    parser.add_argument("--workers", type=int, default=2, help="pool size of the overhead study (default 2)")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster run")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args(argv)
    cells = args.cells or (1000 if args.quick else 10_000)
    try:
        import distributed  # noqa: F401

        dask = not args.no_dask
    except ModuleNotFoundError:
        dask = False
    load_start = load_average()
    print(f"hios_opt {ho.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPU(s), "
          f"load average {load_start} at start", flush=True)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        measure_overhead(folder, cells, args.workers, rows)
        measure_scaling(folder, 10 if args.quick else 30, rows, dask)
    load_end = load_average()
    import pandas as pd

    df = pd.DataFrame(rows)
    df["load_start"], df["load_end"] = load_start, load_end
    print(df[["measure", "value", "unit", "target", "met", "detail"]].to_string(
        index=False, formatters={"value": "{:.3f}".format}, max_colwidth=90))
    print(f"load average {load_end} at the end (1, 5, 15 min); the CPU may be shared with other processes")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"study_bench{'_quick' if args.quick else ''}.csv"
    df.to_csv(path, index=False)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
