"""A/B check of one figure of ``bench_heuristics.py --before-after``: the cold
``evaluate`` (the HIOS-LP schedule judged on a fresh copy of the graph),
with more samples than the bench takes.

Usage: ``python benchmarks/ab_cold_evaluate.py BEFORE_CHECKOUT AFTER_CHECKOUT
[--ops 1000] [--gpus 4] [--copies 60] [--runs 3]``. Each run is a new
process with ``PYTHONPATH`` set to one checkout; the two codes alternate.
Prints the best and the median process time per run, in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(ops: int, gpus: int, copies: int) -> None:
    sys.path.insert(0, str(HERE))
    from bench_heuristics import layered

    import hios_opt as ho

    plat = ho.Platform(gpus=gpus, streams=2)
    planned = ho.schedule(layered(ops, 0.6, 0), plat, "hios-lp")
    times = []
    for _ in range(copies):
        fresh = layered(ops, 0.6, 0)  # built outside the timed call
        start = time.process_time()
        ho.evaluate(fresh, plat, planned)
        times.append(time.process_time() - start)
    print(json.dumps({"best_ms": min(times) * 1e3, "median_ms": statistics.median(times) * 1e3}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", nargs="?")
    parser.add_argument("after", nargs="?")
    parser.add_argument("--ops", type=int, default=1000)
    parser.add_argument("--gpus", type=int, default=4)
    parser.add_argument("--copies", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.ops, args.gpus, args.copies)
        return
    if not (args.before and args.after):
        parser.error("give the two checkouts: BEFORE AFTER")
    for run in range(args.runs):
        for label, path in (("before", args.before), ("after", args.after)):
            env = dict(os.environ, PYTHONPATH=str(Path(path).resolve()))
            out = subprocess.run([sys.executable, __file__, "--child", "--ops", str(args.ops), "--gpus",
                                  str(args.gpus), "--copies", str(args.copies)],
                                 env=env, check=True, capture_output=True, text=True).stdout
            row = json.loads(out)
            print(f"run {run + 1} {label:6} best {row['best_ms']:.3f} ms  median {row['median_ms']:.3f} ms")


if __name__ == "__main__":
    main()
