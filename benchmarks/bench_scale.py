"""Scale benchmark: time and peak memory on 1k, 5k and 10k-op graphs.

For each size (``random_layered``, edges = 2 x nodes, 50 ops per layer) it
measures, in a fresh interpreter per size so that peaks do not leak between
sizes:

* generate, save, load (parse + validate), the lower bounds, the reachability
  bitsets ``descendants_bits``, evaluating a schedule, and HIOS-LP;
* for each step its wall time (measured without tracemalloc), the peak of
  Python allocations during the step (tracemalloc, a second run), and the
  rise of the process's resident high-water mark during the step
  (``getrusage`` maxrss above the resident size before the step);
* the size of the bitsets against their worst case ``n^2 / 8`` bytes;
* whether the exact solver refuses the largest instance up front.

Usage::

    python benchmarks/bench_scale.py                      # 1000 5000 10000
    python benchmarks/bench_scale.py --sizes 1000 2000 --no-exact

It prints a table and writes ``benchmarks/results/scale.csv`` and
``benchmarks/results/scale.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
MIB = 2**20
OPS_PER_LAYER = 50
GPUS, STREAMS = 4, 2
FIELDS = ["ops", "edges", "step", "seconds", "py_peak_mib", "rss_rise_mib", "note"]


# ---------------------------------------------------------------- measuring
def resident_mib() -> float:
    """Resident set size now (Linux /proc; elsewhere the high-water mark)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB
    except OSError:
        return max_resident_mib()


def max_resident_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def measure(call: Callable[[], Any], *, trace: bool = True) -> tuple[Any, float, float | None, float]:
    """Run ``call``: (result, seconds, tracemalloc peak MiB, resident rise MiB)."""
    before = resident_mib()
    started = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    rise = max(0.0, max_resident_mib() - before)
    peak = None
    if trace:
        tracemalloc.start()
        call()
        peak = tracemalloc.get_traced_memory()[1] / MIB
        tracemalloc.stop()
    return result, seconds, peak, rise


# -------------------------------------------------------------- one size
def run_size(n: int, trace_schedule_up_to: int, exact: bool, exact_s1: bool) -> list[dict[str, Any]]:
    from hios_opt import OpGraph, Platform, Schedule, evaluate, generators, lower_bound
    from hios_opt.errors import HiosError

    rows: list[dict[str, Any]] = []
    layers = max(1, n // OPS_PER_LAYER)

    def row(step: str, seconds: float, peak: float | None, rise: float, note: str = "") -> None:
        rows.append({"ops": n, "edges": 2 * n, "step": step, "seconds": round(seconds, 4),
                     "py_peak_mib": None if peak is None else round(peak, 2), "rss_rise_mib": round(rise, 2),
                     "note": note})

    graph, *m = measure(lambda: generators.random_layered(n, 2 * n, layers, 0.5, seed=0))
    row("generate", *m)
    platform = Platform(gpus=GPUS, streams=STREAMS)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "graph.json"
        _, *m = measure(lambda: graph.save(path))
        row("save", *m, note=f"file {path.stat().st_size / MIB:.2f} MiB")
        loaded, *m = measure(lambda: OpGraph.load(path))
        row("load+validate", *m)
    bound, *m = measure(lambda: lower_bound(loaded, platform))
    row("lower_bound", *m, note=f"{bound:.1f} ms")

    compute_bits = type(loaded).descendants_bits.func  # uncached, so both runs do the work
    bits, *m = measure(lambda: compute_bits(loaded))
    actual = sum(sys.getsizeof(b) for b in bits) + sys.getsizeof(bits)
    worst = n * n / 8
    row("descendants_bits", *m, note=f"bitsets {actual / MIB:.2f} MiB = {actual / worst:.0%} of n^2/8 "
                                      f"({worst / MIB:.2f} MiB)")

    sequential = Schedule.sequential(loaded.topological_order())
    timeline, *m = measure(lambda: evaluate(loaded, Platform(), sequential))
    row("evaluate sequential", *m, note=f"{timeline.makespan:.1f} ms")

    try:
        from hios_opt.heuristics import schedule
    except ImportError:
        schedule = None
    if schedule is not None:
        result, *m = measure(lambda: schedule(loaded, platform, "hios-lp"), trace=n <= trace_schedule_up_to)
        row(f"hios-lp K={GPUS} S={STREAMS}", *m, note=f"{result.makespan_ms:.1f} ms")
        timeline, *m = measure(lambda: evaluate(loaded, platform, result))
        row("evaluate hios-lp", *m, note=f"{len(result.stages)} stages")

    if exact:
        try:
            from hios_opt.exact import solve
        except ImportError:
            solve = None
        if solve is not None:
            for streams, limit, wanted in ((STREAMS, 60.0, True), (1, 10.0, exact_s1)):
                if not wanted:
                    continue
                started = time.perf_counter()
                before = resident_mib()
                try:
                    outcome = solve(loaded, Platform(gpus=GPUS, streams=streams), time_limit=limit, workers=1)
                    note = f"time_limit={limit:g}s: ran, {outcome.status}, gap {outcome.gap}"
                except HiosError as exc:
                    note = f"refused: {type(exc).__name__}: {exc}"
                row(f"exact cpsat K={GPUS} S={streams}", time.perf_counter() - started, None,
                    max(0.0, max_resident_mib() - before), note)
    rows.append({"ops": n, "edges": 2 * n, "step": "process peak", "seconds": None, "py_peak_mib": None,
                 "rss_rise_mib": round(max_resident_mib(), 2), "note": "maxrss of the whole run"})
    return rows


# ---------------------------------------------------------------- report
def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'ops':>6} {'step':<22} {'seconds':>9} {'py peak MiB':>12} {'RSS rise MiB':>13}  note"
    lines = [head, "-" * len(head)]
    for r in rows:
        seconds = "" if r["seconds"] is None else f"{r['seconds']:.4f}"
        peak = "" if r["py_peak_mib"] is None else f"{r['py_peak_mib']:.2f}"
        lines.append(f"{r['ops']:>6} {r['step']:<22} {seconds:>9} {peak:>12} {r['rss_rise_mib']:>13.2f}  "
                     f"{r['note']}")
    return "\n".join(lines)


def growth(rows: list[dict[str, Any]]) -> str:
    """Peak memory and time of each step, largest size over smallest: about
    the size ratio when linear, its square when quadratic."""
    sizes = sorted({r["ops"] for r in rows})
    if len(sizes) < 2:
        return ""
    small, large = sizes[0], sizes[-1]
    ratio = large / small
    lines = [f"Growth from {small} to {large} ops (x{ratio:g}; linear ~ x{ratio:g}, quadratic ~ x{ratio**2:g}):", ""]
    by = {(r["ops"], r["step"]): r for r in rows}
    for step in dict.fromkeys(r["step"] for r in rows if r["ops"] == small):
        a, b = by.get((small, step)), by.get((large, step))
        if not a or not b:
            continue
        parts = []
        for key, label in (("py_peak_mib", "py peak"), ("seconds", "time")):
            if a[key] and b[key] and a[key] > 0:
                parts.append(f"{label} x{b[key] / a[key]:.1f}")
        if parts:
            lines.append(f"- {step}: " + ", ".join(parts))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10_000])
    parser.add_argument("--trace-schedule-up-to", type=int, default=10_000,
                        help="run HIOS-LP a second time under tracemalloc up to this many ops (slow)")
    parser.add_argument("--no-exact", action="store_true", help="skip the exact-solver refusal check")
    parser.add_argument("--no-exact-s1", action="store_true",
                        help="skip the one-stream exact run (it is not refused and runs to its time limit)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--output", default=str(RESULTS / "scale"), help="CSV/Markdown path without suffix")
    args = parser.parse_args(argv)
    if args.child:
        largest = args.child == max(args.sizes)
        rows = run_size(args.child, args.trace_schedule_up_to, exact=largest and not args.no_exact,
                        exact_s1=not args.no_exact_s1)
        print(json.dumps(rows))
        return 0
    rows = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--child", str(n), "--sizes", *map(str, args.sizes),
               "--trace-schedule-up-to", str(args.trace_schedule_up_to)]
        cmd += ["--no-exact"] * args.no_exact + ["--no-exact-s1"] * args.no_exact_s1
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            return proc.returncode
        rows += json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"# {n} ops measured in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    report = table(rows)
    summary = growth(rows)
    print(report)
    print()
    print(summary)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".csv"), "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    machine = f"Python {sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPU(s)"
    out.with_suffix(".md").write_text(
        f"# Scale benchmark\n\n`python benchmarks/bench_scale.py {' '.join(sys.argv[1:])}`, {machine}, "
        f"{time.strftime('%Y-%m-%d')}.\nK={GPUS} GPUs, S={STREAMS} streams, random_layered with "
        f"{OPS_PER_LAYER} ops per layer and 2 edges per op, CCR 0.5.\n\n```\n{report}\n```\n\n{summary}\n"
    )
    print(f"\nwrote {out.with_suffix('.csv')} and {out.with_suffix('.md')}")
    return 0 if all(math.isfinite(r["rss_rise_mib"]) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
