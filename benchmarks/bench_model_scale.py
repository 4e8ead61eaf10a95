"""Certified gaps at the size of real models: the improvement search and the bounds.

Usage::

    python benchmarks/bench_model_scale.py                 # the full run (about an hour on 2 cores)
    python benchmarks/bench_model_scale.py --quick         # a few cases, 10 s each
    python benchmarks/bench_model_scale.py --part saga     # one part: zoo, random or saga

For each case: the best heuristic of :func:`hios_opt.algorithms`, the
default portfolio (:func:`hios_opt.solve` with ``solver="portfolio"``: the
improvement search, CP-SAT and, within its reach, the A* search) given
``--time-limit`` seconds, its schedule and proven bound after 10 s and at
the end (read from the solve's callback), the best static bound of
:func:`hios_opt.bounds.best_bound`, the certified gap ``makespan / bound -
1``, and what each side contributed: the improvement over the best
heuristic, and the bound's gain over the cheap one (critical path, work).

Parts:

* ``zoo``: the four zoo models (bundled H100 estimates at 331 px) on 2, 4
  and 8 GPUs with 1 and 2 streams;
* ``random``: the HIOS paper's random layered graphs at 100, 200, 500 and
  1,000 ops on 4 and 8 GPUs with 2 streams (three seeds at 200 ops);
* ``saga``: one stream, 100-400 ops, 4 and 8 GPUs, three seeds: the
  portfolio after 10 s against the best of saga's heuristics (the peer
  library ``anrg-saga``, run in its own Python by ``bench_classic.py``'s
  driver; left out when it cannot be installed).

Writes ``benchmarks/results/model_scale*.csv``, ``model_scale_summary.md``
and ``model_scale_gap.png`` (gap against time for a few cases, whose
callback events are in ``model_scale_trace.csv``). Timings
are wall-clock on whatever machine runs this (the load is printed).
"""

from __future__ import annotations

import argparse
import math
import os
import platform as host
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import hios_opt as ho
from hios_opt import Platform
from hios_opt.bounds import best_bound, lower_bound

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

ZOO = ("squeezenet", "inception_v3", "nasnet", "randwire")


def best_heuristic(graph: ho.OpGraph, plat: Platform) -> tuple[str, float, float]:
    """The shortest heuristic schedule: (name, makespan, seconds for all)."""
    started = time.perf_counter()
    best = ("", math.inf)
    for name in ho.algorithms():
        if name == "ios" and (plat.gpus > 1 or graph.n_ops > 200):
            continue  # one GPU only, and its dynamic program is what takes the time
        span = ho.schedule(graph, plat, name).makespan_ms
        if span < best[1]:
            best = (name, span)
    return best[0], best[1], time.perf_counter() - started


def bound_source(bound: float, static_ms: float, static_name: str, stats: dict) -> str:
    """Where the solve's final bound came from: a static bound's name, the
    exact pieces (``series``), or the search that proved it."""
    if bound <= static_ms * (1 + 1e-9):
        return static_name
    series = stats.get("series") or {}
    if series.get("bound_ms") is not None and bound <= series["bound_ms"] * (1 + 1e-9):
        return "series"
    return stats.get("proved_by") or "search"


def run_case(label: str, graph: ho.OpGraph, plat: Platform, limit: float, workers: int) -> tuple[dict, list]:
    name, heuristic, heuristic_s = best_heuristic(graph, plat)
    cheap = lower_bound(graph, plat)
    static = best_bound(graph, plat)
    events: list[tuple[float, float, float]] = []
    result = ho.solve(graph, plat, "portfolio", time_limit=limit, workers=workers,
                      callback=lambda e: events.append((e.elapsed_s, e.makespan_ms, e.lower_bound_ms)))

    def at(t: float) -> tuple[float, float]:
        span, bound = math.inf, 0.0
        for elapsed, s, b in events:
            if elapsed <= t:
                span, bound = min(span, s), max(bound, b)
        return span, bound

    span10, bound10 = at(10.0)
    span, bound = result.makespan_ms, result.lower_bound_ms
    row = {
        "case": label, "graph": graph.name, "ops": graph.n_ops, "gpus": plat.gpus, "streams": plat.streams,
        "best_heuristic": name, "heuristic_ms": heuristic, "heuristic_s": heuristic_s,
        "cheap_bound_ms": cheap, "static_bound_ms": static.value_ms, "static_bound": static.best,
        "makespan_10s_ms": span10, "bound_10s_ms": max(bound10, static.value_ms),
        "makespan_ms": span, "lower_bound_ms": bound, "status": result.status, "time_s": result.wall_time_s,
        "gap_10s": min(span10, heuristic) / max(bound10, static.value_ms) - 1,
        "gap": span / bound - 1, "heuristic_gap_cheap": heuristic / cheap - 1,
        "improvement": 1 - span / heuristic, "bound_gain": bound / cheap - 1,
        "proved_by": result.stats.get("proved_by"),
        "bound_source": bound_source(bound, static.value_ms, static.best, result.stats),
        "lns_iterations": result.stats.get("lns", {}).get("stats", {}).get("iterations"),
    }
    return row, events


def zoo_cases(quick: bool) -> list[tuple[str, ho.OpGraph, Platform]]:
    out = []
    models = ("squeezenet", "nasnet") if quick else ZOO
    for model in models:
        graph = ho.OpGraph.load(f"models/{model}_331_h100.json")
        for gpus in ((4,) if quick else (2, 4, 8)):
            for streams in ((2,) if quick else (1, 2)):
                out.append((f"{model} {gpus}x{streams}", graph, Platform(gpus=gpus, streams=streams)))
    return out


def layered(ops: int, seed: int, ccr: float = 0.6) -> ho.OpGraph:
    from bench_classic import layered as paper_graph

    return paper_graph(ops, ccr, seed)


def random_cases(quick: bool) -> list[tuple[str, ho.OpGraph, Platform]]:
    out = []
    sizes = (200,) if quick else (100, 200, 500, 1000)
    for ops in sizes:
        for gpus in (4, 8):
            for seed in (range(3) if ops == 200 and not quick else range(1)):
                out.append((f"random {ops} ops {gpus}x2 s{seed}", layered(ops, seed),
                            Platform(gpus=gpus, streams=2)))
    return out


def saga_part(args: argparse.Namespace, report) -> list[dict]:
    import bench_classic as classic

    sizes = (100, 400) if args.quick else (100, 200, 300, 400)
    seeds = range(1) if args.quick else range(3)
    problems = []
    for ops in sizes:
        for gpus in (4, 8):
            for seed in seeds:
                problems.append({"id": f"n{ops}/k{gpus}/s{seed}", "set": "sweep", "factor": "ops", "value": ops,
                                 "seed": seed, "graph": layered(ops, seed), "gpus": gpus, "best_known": None,
                                 "optimal": False, "duplicate": False})
    python, where = classic.saga_python(argparse.Namespace(no_saga=args.no_saga, saga_python=args.saga_python,
                                                           saga_venv=None))
    report(f"saga: {where}")
    saga_best: dict[str, tuple[str, float]] = {}
    if python is not None:
        for r in classic.run_saga(python, problems, slow=60.0):
            if r["makespan_ms"] is not None and not (isinstance(r["makespan_ms"], float)
                                                     and math.isnan(r["makespan_ms"])):
                old = saga_best.get(r["graph"], ("", math.inf))
                if r["makespan_ms"] < old[1]:
                    saga_best[r["graph"]] = (r["algorithm"], r["makespan_ms"])
    rows = []
    for p in problems:
        plat = Platform(gpus=p["gpus"], streams=1)
        name, heuristic, _ = best_heuristic(p["graph"], plat)
        r = ho.solve(p["graph"], plat, "portfolio", time_limit=args.saga_limit, workers=args.workers)
        saga_name, saga_ms = saga_best.get(p["id"], ("", math.nan))
        rows.append({"case": p["id"], "ops": p["graph"].n_ops, "gpus": p["gpus"], "streams": 1,
                     "best_heuristic": name, "heuristic_ms": heuristic, "portfolio_ms": r.makespan_ms,
                     "lower_bound_ms": r.lower_bound_ms, "saga_best": saga_name, "saga_ms": saga_ms,
                     "vs_saga": r.makespan_ms / saga_ms - 1 if saga_ms == saga_ms else math.nan})
        report(f"  {p['id']:14s} ours {r.makespan_ms:9.4f}  saga {saga_ms:9.4f} ({saga_name})  "
               f"{100 * rows[-1]['vs_saga']:+.2f}%")
    return rows


def gap_plot(traces: dict[str, list], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    finals = []
    for label, events in traces.items():
        xs, ys = [], []
        span, bound = math.inf, 0.0
        for elapsed, s, b in events:
            span, bound = min(span, s), max(bound, b)
            if math.isfinite(span) and bound > 0:
                xs.append(max(elapsed, 0.05))
                ys.append(100 * (span / bound - 1))
        if xs:
            ax.step(xs, ys, where="post", label=label)
            finals.append(ys[-1])
    if finals:  # the first events carry only the cheap bound: keep the scale on the end game
        ax.set_ylim(0, 3 * max(finals) + 5)
    ax.set_xscale("log")
    ax.set_xlabel("seconds")
    ax.set_ylabel("certified gap (%)")
    ax.set_title("Certified gap against time (portfolio)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few cases, 10 s each")
    parser.add_argument("--part", choices=("zoo", "random", "saga", "all"), default="all")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per solve (default 60, quick 10)")
    parser.add_argument("--saga-limit", type=float, default=10.0, help="seconds per solve in the saga part")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-saga", action="store_true", help="leave saga out")
    parser.add_argument("--saga-python", default=None, help="a Python that has anrg-saga installed")
    args = parser.parse_args(argv)
    limit = args.time_limit or (10.0 if args.quick else 60.0)
    suffix = "_quick" if args.quick else ""
    RESULTS.mkdir(exist_ok=True)
    lines: list[str] = []

    def report(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    import pandas as pd

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    report(f"# Certified gaps at model scale ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)")
    report(f"machine: {host.node()} {host.processor() or host.machine()}, {os.cpu_count()} cores, "
           f"load {load:.1f}; command: python benchmarks/bench_model_scale.py {' '.join(argv or sys.argv[1:])}")
    report(f"solver: portfolio, {limit:g} s, {args.workers} workers")
    traces: dict[str, list] = {}
    for part, cases in (("zoo", zoo_cases), ("random", random_cases)):
        if args.part not in (part, "all"):
            continue
        rows = []
        report(f"\n## {part}\n")
        report("| case | best heuristic | after 10 s | after the limit | bound | gap 10 s | gap | improvement | "
               "bound gain | status |")
        report("|---|---|---|---|---|---|---|---|---|---|")
        for label, graph, plat in cases(args.quick):
            row, events = run_case(label, graph, plat, limit, args.workers)
            rows.append(row)
            if label in ("nasnet 4x2", "randwire 4x2", "inception_v3 2x2", "random 200 ops 4x2 s0"):
                traces[label] = events
            report(f"| {label} | {row['heuristic_ms']:.4f} ({row['best_heuristic']}) | {row['makespan_10s_ms']:.4f} "
                   f"| {row['makespan_ms']:.4f} | {row['lower_bound_ms']:.4f} ({row['bound_source']}) | "
                   f"{100 * max(0.0, row['gap_10s']):.2f}% | {100 * max(0.0, row['gap']):.2f}% | {100 * row['improvement']:.2f}% | "
                   f"{100 * row['bound_gain']:.2f}% | {row['status']} |")
        df = pd.DataFrame(rows)
        df.to_csv(RESULTS / f"model_scale_{part}{suffix}.csv", index=False)
    if args.part in ("saga", "all"):
        report("\n## one stream against saga\n")
        rows = saga_part(args, report)
        df = pd.DataFrame(rows)
        df.to_csv(RESULTS / f"model_scale_saga{suffix}.csv", index=False)
        valid = df.dropna(subset=["vs_saga"])
        if len(valid):
            report(f"\nportfolio after {args.saga_limit:g} s vs the best of saga's heuristics: shorter on "
                   f"{int((valid.vs_saga < 0).sum())} of {len(valid)}, mean {100 * valid.vs_saga.mean():+.2f}%, "
                   f"worst {100 * valid.vs_saga.max():+.2f}%")
    if traces:
        pd.DataFrame([(label, *event) for label, events in traces.items() for event in events],
                     columns=["case", "elapsed_s", "makespan_ms", "lower_bound_ms"]
                     ).to_csv(RESULTS / f"model_scale_trace{suffix}.csv", index=False)
        gap_plot(traces, RESULTS / f"model_scale_gap{suffix}.png")
    (RESULTS / f"model_scale_summary{suffix}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
