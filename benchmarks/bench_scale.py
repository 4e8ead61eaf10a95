"""Scale benchmark: time and peak memory on 1k to 20k-op graphs.

For each size (``random_layered``, edges = 2 x nodes, 50 ops per layer), in
two fresh interpreters so that peaks do not leak between sizes or steps:

1. *build*: generate and save the graph file; then, for comparison only, the
   linear-memory ``ReachIndex`` labels and the ``n^2 / 8``-byte reachability
   bitsets (built on purpose), and on the largest size the exact solver
   (refused up front with 2 streams; with 1 stream it runs to its limit, and
   its models still build the bitsets);
2. *pipeline*: starting from the file, load + validate, the lower bounds,
   evaluating the sequential schedule, HIOS-LP, and evaluating its schedule.
   Each step's wall time (without tracemalloc) and the rise of the resident
   high-water mark during it (``getrusage`` maxrss above the resident size
   before); then the same steps again in one tracemalloc session, the peak
   reset before each step: each step's peak of Python allocations (what it
   holds, the graph included). The ``pipeline`` row gives the overall
   tracemalloc peak, the process's maxrss rise over the pipeline and whether
   the bitsets were built (not above 4096 ops: the evaluator and the
   heuristics use the ``ReachIndex`` there).

Usage::

    python benchmarks/bench_scale.py                      # 1000 5000 10000 20000
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
from functools import partial
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


def timed(call: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``call``: (result, seconds, resident rise MiB)."""
    before = resident_mib()
    started = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    return result, seconds, max(0.0, max_resident_mib() - before)


def traced_peak(call: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``call`` inside a running tracemalloc session: (result, peak MiB of
    everything traced during the call, what it already held included)."""
    tracemalloc.reset_peak()
    result = call()
    return result, tracemalloc.get_traced_memory()[1] / MIB


# -------------------------------------------------------------- one size
def _row(rows: list[dict[str, Any]], n: int, step: str, seconds: float | None, peak: float | None,
         rise: float | None, note: str = "") -> None:
    rows.append({"ops": n, "edges": 2 * n, "step": step, "seconds": None if seconds is None else round(seconds, 4),
                 "py_peak_mib": None if peak is None else round(peak, 2),
                 "rss_rise_mib": None if rise is None else round(rise, 2), "note": note})


def _bits_note(graph: Any) -> str:
    built = [name for name in ("descendants_bits", "ancestors_bits") if name in graph.__dict__]
    return "bitsets built: " + (", ".join(built) if built else "none")


def run_build(n: int, path: Path, exact: bool, exact_s1: bool) -> list[dict[str, Any]]:
    """Generate and save the graph; then, for comparison, the reachability
    labels, the bitsets, and the exact solver on the largest size."""
    from hios_opt import Platform, generators
    from hios_opt.errors import HiosError

    rows: list[dict[str, Any]] = []
    layers = max(1, n // OPS_PER_LAYER)

    def generate() -> Any:
        return generators.random_layered(n, 2 * n, layers, 0.5, seed=0)

    graph, seconds, rise = timed(generate)
    tracemalloc.start()
    _, peak = traced_peak(generate)
    _row(rows, n, "generate", seconds, peak, rise)
    tracemalloc.stop()
    _, seconds, rise = timed(lambda: graph.save(path))
    tracemalloc.start()
    _, peak = traced_peak(lambda: graph.save(path))
    tracemalloc.stop()
    _row(rows, n, "save", seconds, peak, rise, f"file {path.stat().st_size / MIB:.2f} MiB")

    # The labels the evaluator and heuristics use above 4096 ops, and the
    # bitsets they no longer build (uncached calls: both runs do the work).
    for name, note in (("reach_index", "labels {:.2f} MiB (linear)"),
                       ("descendants_bits", "bitsets {:.2f} MiB = {:.0%} of n^2/8; ancestors_bits as much again")):
        if not hasattr(type(graph), name):
            continue
        build = getattr(type(graph), name).func
        built, seconds, rise = timed(lambda: build(graph))  # noqa: B023 - called at once
        size = (built.nbytes() if name == "reach_index"
                else sum(sys.getsizeof(b) for b in built) + sys.getsizeof(built))
        del built
        tracemalloc.start()
        _, peak = traced_peak(lambda: build(graph))  # noqa: B023 - called at once
        tracemalloc.stop()
        _row(rows, n, name, seconds, peak, rise, note.format(size / MIB, size / (n * n / 8)))

    if exact:
        from hios_opt.exact import solve

        for streams, limit, wanted in ((STREAMS, 60.0, True), (1, 10.0, exact_s1)):
            if not wanted:
                continue
            before = resident_mib()
            started = time.perf_counter()
            try:
                outcome = solve(graph, Platform(gpus=GPUS, streams=streams), time_limit=limit, workers=1)
                note = f"time_limit={limit:g}s: ran, {outcome.status}, gap {outcome.gap}"
            except HiosError as exc:
                note = f"refused: {type(exc).__name__}: {exc}"
            _row(rows, n, f"exact cpsat K={GPUS} S={streams}", time.perf_counter() - started, None,
                 max(0.0, max_resident_mib() - before), f"{note}; {_bits_note(graph)}")
    _row(rows, n, "process peak (build)", None, None, max_resident_mib(),
         "maxrss of the process that generated, saved and compared")
    return rows


def run_pipeline(n: int, path: Path, trace_schedule: bool) -> list[dict[str, Any]]:
    """In a process that starts from the saved file: load + validate, lower
    bound, evaluate, HIOS-LP, evaluate; timed, then traced."""
    from hios_opt import OpGraph, Platform, Schedule, evaluate, lower_bound
    from hios_opt.heuristics import schedule

    rows: list[dict[str, Any]] = []
    platform = Platform(gpus=GPUS, streams=STREAMS)
    hios_lp = f"hios-lp K={GPUS} S={STREAMS}"
    started_mib = max_resident_mib()

    def steps(with_schedule: bool) -> list[tuple[str, Callable[[dict[str, Any]], Any]]]:
        # Each step reads and writes the shared state ``st``.
        return [
            ("load+validate", lambda st: st.update(graph=OpGraph.load(path))),
            ("lower_bound", lambda st: st.update(bound=lower_bound(st["graph"], platform))),
            ("evaluate sequential", lambda st: st.update(
                seq=evaluate(st["graph"], Platform(), Schedule.sequential(st["graph"].topological_order())))),
            *([(hios_lp, lambda st: st.update(result=schedule(st["graph"], platform, "hios-lp")))]
              if with_schedule else []),
            ("evaluate hios-lp", lambda st: st.update(timeline=evaluate(st["graph"], platform, st["result"]))),
        ]

    # Pass 1: wall time and resident rise of each step.
    state: dict[str, Any] = {}
    for step, call in steps(True):
        _, seconds, rise = timed(partial(call, state))
        note = {"lower_bound": lambda: f"{state['bound']:.1f} ms",
                "evaluate sequential": lambda: f"{state['seq'].makespan:.1f} ms",
                hios_lp: lambda: f"{state['result'].makespan_ms:.1f} ms",
                "evaluate hios-lp": lambda: f"{len(state['result'].stages)} stages"}.get(step, str)()
        _row(rows, n, step, seconds, None, rise, note)
    pipeline_mib = max_resident_mib()
    bits = _bits_note(state["graph"])
    result = state["result"]
    state.clear()

    # Pass 2: peak Python allocations of each step, in one session.
    traced: dict[str, Any] = {"result": result}
    peaks: dict[str, float] = {}
    tracemalloc.start()
    try:
        for step, call in steps(trace_schedule):
            _, peaks[step] = traced_peak(partial(call, traced))
    finally:
        tracemalloc.stop()
    for r in rows:
        r["py_peak_mib"] = round(peaks[r["step"]], 2) if r["step"] in peaks else None
    traced.clear()
    _row(rows, n, "pipeline", None, max(peaks.values()) if trace_schedule else None,
         pipeline_mib - started_mib,
         f"the steps above; py peak over all, RSS: maxrss above the process after imports; {bits}")
    _row(rows, n, "process peak (pipeline)", None, None, pipeline_mib,
         f"maxrss of the pipeline process ({started_mib:.1f} MiB after imports)")
    return rows


# ---------------------------------------------------------------- report
def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'ops':>6} {'step':<22} {'seconds':>9} {'py peak MiB':>12} {'RSS rise MiB':>13}  note"
    lines = [head, "-" * len(head)]
    for r in rows:
        seconds = "" if r["seconds"] is None else f"{r['seconds']:.4f}"
        peak = "" if r["py_peak_mib"] is None else f"{r['py_peak_mib']:.2f}"
        rise = "" if r["rss_rise_mib"] is None else f"{r['rss_rise_mib']:.2f}"
        lines.append(f"{r['ops']:>6} {r['step']:<22} {seconds:>9} {peak:>12} {rise:>13}  {r['note']}")
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
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10_000, 20_000])
    parser.add_argument("--trace-schedule-up-to", type=int, default=10_000,
                        help="run HIOS-LP a second time under tracemalloc up to this many ops (slow)")
    parser.add_argument("--no-exact", action="store_true", help="skip the exact-solver refusal check")
    parser.add_argument("--no-exact-s1", action="store_true",
                        help="skip the one-stream exact run (it is not refused and runs to its time limit)")
    parser.add_argument("--child", choices=["build", "pipeline"], help=argparse.SUPPRESS)
    parser.add_argument("--ops", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--graph-file", help=argparse.SUPPRESS)
    parser.add_argument("--output", default=str(RESULTS / "scale"), help="CSV/Markdown path without suffix")
    args = parser.parse_args(argv)
    if args.child == "build":
        largest = args.ops == max(args.sizes)
        rows = run_build(args.ops, Path(args.graph_file), exact=largest and not args.no_exact,
                         exact_s1=not args.no_exact_s1)
    elif args.child == "pipeline":
        rows = run_pipeline(args.ops, Path(args.graph_file), args.ops <= args.trace_schedule_up_to)
    if args.child:
        print(json.dumps(rows))
        return 0
    rows = []
    for n in args.sizes:
        started = time.perf_counter()
        found: dict[str, list[dict[str, Any]]] = {}
        with tempfile.TemporaryDirectory() as folder:
            graph_file = str(Path(folder) / "graph.json")
            for child in ("build", "pipeline"):  # fresh interpreters: peaks do not leak between them
                cmd = [sys.executable, __file__, "--child", child, "--ops", str(n), "--graph-file", graph_file,
                       "--sizes", *map(str, args.sizes), "--trace-schedule-up-to", str(args.trace_schedule_up_to)]
                cmd += ["--no-exact"] * args.no_exact + ["--no-exact-s1"] * args.no_exact_s1
                proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    sys.stderr.write(proc.stderr)
                    return proc.returncode
                found[child] = json.loads(proc.stdout.strip().splitlines()[-1])
        # generate and save, the pipeline, then the comparisons
        rows += found["build"][:2] + found["pipeline"] + found["build"][2:]
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
    return 0 if all(r["rss_rise_mib"] is None or math.isfinite(r["rss_rise_mib"]) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
