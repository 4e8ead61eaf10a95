"""Exact solvers: published optima reached and proven, and the reach table.

Two parts, each printed and written to ``benchmarks/results/``:

1. **Public instances** (``exact_public*.csv``): CP-SAT and the A* search
   (and the MILP on a sample) on the public benchmarks with known optima (streams = 1, unit
   utilization: exactly ``P | prec, c_ij | Cmax``): Sinnen's optimal
   schedules (GXL, 10 / 21 / 30 tasks) and Kasahara STG (50 / 100 tasks, no
   communication). For each case: the optimum reached? proven? in what time?
2. **Reach** (``exact_reach*.csv``): the paper's random layered graphs
   (:func:`hios_opt.generators.random_layered`, ``edges = 2 * ops``,
   ``layers = max(2, ops // 6)``, CCR 0.5, default latency and utilization
   ranges), ops x GPUs x streams x seeds: time to prove optimality, or the
   gap at the time limit, for each exact solver; and zoo graphs from ``hios_opt/data/models/``
   (SqueezeNet at 331 px, Inception-v3 at 299 px, H100 estimates): the gap at
   the time limit on a real model's size. These cells are the study spec
   ``exact-reach`` (``--quick``: ``exact-reach-quick``), run by the study
   runner into a store (``--store``, default ``results/tmp/<spec>.sqlite``)
   that a rerun resumes, locally or on a Dask cluster (``--cluster``; see
   docs/studies.md), then tabulated from its rows.

The MILP runs on HiGHS (``milp``, the default) and, for comparison, on
PuLP's bundled CBC (``milp:cbc``); ``astar`` is the best-first search of
:mod:`hios_opt.exact.astar` (one thread); ``portfolio`` runs CP-SAT (one
thread of the two) and the A* search at once, sharing the best schedule
(:mod:`hios_opt.exact.portfolio`); its ``proved_by`` column says which
search proved the optimum (empty: neither alone, the larger bound met the
shorter schedule; "together" in the summary). ``exact_summary*.md`` aggregates both
parts. The full run takes hours on a shared 2-core machine, so it samples:
every instance is listed in the CSV with the exact limits used, and the
summary says what was run. ``--quick`` (a few minutes)
runs a small sample of each part and writes ``*_quick`` files. ``--resume``
keeps the public rows of an earlier (cut-short) run that the plan still asks
for and runs only the missing ones; the reach part always resumes.

Wall times on a shared machine are noisy; the CSV also has CP-SAT's
deterministic time (``det_time``), which does not depend on the load.

Usage::

    python benchmarks/bench_exact.py --quick
    python benchmarks/bench_exact.py --data PATH/TO/exact_benchmarks
    python benchmarks/bench_exact.py --parts reach --cluster tcp://HOST:8786
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from hios_opt.errors import HiosError
from hios_opt.exact import solve
from hios_opt.exact.benchmarks import BenchmarkInstance, load_directory

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BUNDLED_DATA = HERE.parent / "tests" / "data" / "exact"

PUBLIC_FIELDS = ["dataset", "name", "processors", "n_ops", "solver", "time_limit_s", "optimum", "table_status",
                 "makespan", "lower_bound", "status", "reached", "proven", "wall_s", "det_time"]
REACH_FIELDS = ["graph", "solver", "ops", "gpus", "streams", "seed", "time_limit_s", "status", "makespan",
                "lower_bound", "gap", "wall_s", "det_time", "warm_start", "warm_start_makespan", "candidates",
                "proved_by"]


def every_kth(items: list, count: int) -> list:
    """``count`` items spread evenly over ``items`` (deterministic)."""
    if count >= len(items):
        return list(items)
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def public_plan(instances: list[BenchmarkInstance], quick: bool) -> list[tuple[str, BenchmarkInstance, str, float]]:
    """(dataset label, instance, solver, time limit) to run."""
    def group(prefix: str, n_ops: int | None = None) -> list[BenchmarkInstance]:
        return sorted((i for i in instances if i.name.startswith(prefix) and i.optimum is not None
                       and (n_ops is None or i.graph.n_ops == n_ops)), key=lambda i: (i.name, i.processors))

    sinnen10, sinnen21, sinnen30 = group("sinnen/", 10), group("sinnen/", 21), group("sinnen/", 30)
    stg50, stg100 = group("stg50/"), group("stg100/")
    if quick:
        plan = [("sinnen10", i, "cpsat", 10.0) for i in every_kth(sinnen10, 30)]
        plan += [("sinnen21", i, "cpsat", 5.0) for i in every_kth(sinnen21, 6)]
        plan += [("stg50", i, "cpsat", 5.0) for i in every_kth(stg50, 8)]
        plan += [("sinnen10", i, "milp", 5.0) for i in every_kth(sinnen10, 6)]
        plan += [("sinnen10", i, "astar", 5.0) for i in every_kth(sinnen10, 10)]
        return plan
    plan = [("sinnen10", i, "cpsat", 15.0) for i in sinnen10]
    plan += [("sinnen21", i, "cpsat", 15.0) for i in every_kth(sinnen21, 40)]
    plan += [("sinnen30", i, "cpsat", 15.0) for i in every_kth(sinnen30, 24)]
    plan += [("stg50", i, "cpsat", 10.0) for i in every_kth(stg50, 40)]
    plan += [("stg100", i, "cpsat", 10.0) for i in every_kth(stg100, 20)]
    plan += [("sinnen10", i, milp, 30.0) for milp in ("milp", "milp:cbc") for i in every_kth(sinnen10, 30)]
    # The A* search on the same samples (it is single-threaded).
    plan += [("sinnen10", i, "astar", 15.0) for i in every_kth(sinnen10, 30)]
    plan += [("sinnen21", i, "astar", 15.0) for i in every_kth(sinnen21, 40)]
    plan += [("sinnen30", i, "astar", 15.0) for i in every_kth(sinnen30, 24)]
    plan += [("stg50", i, "astar", 10.0) for i in every_kth(stg50, 40)]
    plan += [("stg100", i, "astar", 10.0) for i in every_kth(stg100, 20)]
    return plan


def public_key(row: dict) -> tuple:
    """What identifies a public row (to resume a run)."""
    return (row["dataset"], row["name"], int(row["processors"]), row["solver"], float(row["time_limit_s"]))


def run_public(plan, workers: int, out: Path | None = None, done: list[dict] | None = None) -> list[dict]:
    """Run the public plan; rows of ``done`` that the plan asks for are kept."""
    kept = {public_key(r): r for r in (done or [])}
    rows: list[dict] = []
    for label, inst, solver, limit in plan:
        key = (label, inst.name, inst.processors, solver, float(limit))
        if key in kept:
            rows.append(kept[key])
            continue
        t0 = time.monotonic()
        try:
            r = solve(inst.graph, inst.platform, solver, time_limit=limit, workers=workers,
                      resolution_ms=1.0 if solver == "cpsat" else 0.001)
        except HiosError as exc:
            print(f"  {inst.name} P={inst.processors} {solver}: {exc}", file=sys.stderr)
            continue
        wall = time.monotonic() - t0
        reached = r.makespan_ms is not None and abs(r.makespan_ms - inst.optimum) <= 1e-6
        if r.makespan_ms is not None and r.makespan_ms < inst.optimum - 1e-6:
            raise AssertionError(f"{inst}: {solver} found {r.makespan_ms} below the published optimum")
        if r.lower_bound_ms > inst.optimum + 1e-6:
            raise AssertionError(f"{inst}: {solver} bound {r.lower_bound_ms} above the published optimum")
        rows.append({
            "dataset": label, "name": inst.name, "processors": inst.processors, "n_ops": inst.graph.n_ops,
            "solver": solver, "time_limit_s": limit, "optimum": inst.optimum, "table_status": inst.status,
            "makespan": r.makespan_ms, "lower_bound": r.lower_bound_ms, "status": r.status,
            "reached": reached, "proven": reached and r.status == "optimal", "wall_s": round(wall, 3),
            "det_time": _det(r),
        })
        mark = "proven" if rows[-1]["proven"] else ("reached" if reached else f"{r.makespan_ms:g}")
        print(f"  {label:9s} {inst.name[:60]:60s} P={inst.processors:<2d} {solver:8s} opt={inst.optimum:g} "
              f"{mark:8s} {wall:6.2f} s", flush=True)
        if out is not None:
            write_csv(out, PUBLIC_FIELDS, rows)
    return rows


def _det(result) -> float | None:
    value = result.stats.get("deterministic_time")
    return None if value is None else round(value, 3)


def reach_spec(quick: bool) -> str:
    """The study spec of the reach table (shipped with hios_opt)."""
    return "exact-reach-quick" if quick else "exact-reach"


def reach_rows(study) -> list[dict]:
    """The study's rows in the reach table's format."""
    rows = []
    for r in study.itertuples():
        stats = json.loads(r.stats) if isinstance(getattr(r, "stats", None), str) else {}
        generated = str(r.graph_source).startswith("generate:")
        row = {"graph": "random" if generated else Path(r.graph_source).stem, "solver": r.solver, "ops": r.ops,
               "gpus": r.gpus, "streams": r.streams, "seed": int(r.graph_seed) if generated else 0,
               "time_limit_s": r.time_limit_s}
        if r.status == "error":
            row["status"] = f"error: {str(r.error).split(':')[0]}"
        else:
            row.update(status=r.status, makespan=r.makespan_ms, lower_bound=r.lower_bound_ms,
                       gap=None if math.isnan(r.gap) else round(r.gap, 6), wall_s=round(r.time_s, 3),
                       det_time=_round(stats.get("deterministic_time")), warm_start=r.warm_start_algorithm,
                       warm_start_makespan=r.warm_start_ms, candidates=stats.get("candidates"),
                       proved_by=r.proved_by)
        rows.append(row)
    return rows


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def run_reach(args: argparse.Namespace, solvers: set[str]) -> list[dict]:
    """Run the reach spec's cells of ``solvers`` into the study store (a rerun
    resumes), then read the rows back."""
    from hios_opt.study import load, only_algorithms, run

    spec = reach_spec(args.quick)
    store = args.store or RESULTS / "tmp" / f"{spec}.sqlite"
    print(f"reach table: study spec {spec}, store {store}")
    only = only_algorithms(f"exact-{s}" for s in solvers)
    run(spec, store, client=args.cluster, only=only, progress=not args.no_progress)
    study = load(store, spec=spec)
    return reach_rows(study[study.algorithm.isin([f"exact-{s}" for s in solvers])])


def write_csv(path: Path, fields: list[str], rows: Iterable[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fields, lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({k: row.get(k) for k in fields})
    tmp.replace(path)


def read_rows(path: Path) -> list[dict]:
    """Rows of a CSV this script wrote, typed back (for a summary of a part not rerun)."""
    if not path.exists():
        return []
    rows = []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            out: dict = {}
            for key, value in row.items():
                if value in ("True", "False"):
                    out[key] = value == "True"
                elif value == "":
                    out[key] = None
                else:
                    try:
                        number = float(value)
                        out[key] = int(number) if key in ("processors", "n_ops", "ops", "gpus", "streams",
                                                          "seed", "candidates") else number
                    except ValueError:
                        out[key] = value
            rows.append(out)
    return rows


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "-"


def summarize(public: list[dict], reach: list[dict], data: Path, quick: bool, workers: int) -> str:
    lines = [f"# Exact solvers: {'quick' if quick else 'full'} run", ""]
    lines.append(f"Data: `{data}`; workers={workers}; CP-SAT time grid 1 ms on the public (integer) instances, "
                 "the default grid on the random and zoo graphs (1 µs or finer, `auto_resolution`: 0.01 µs on "
                 "the random graphs, 0.0001 µs on the zoo graphs). Wall times on a shared 2-core machine (other "
                 "jobs ran at the same time); `det_time` in the CSV is CP-SAT's load-independent "
                 "deterministic time. Solver `milp` is the MILP on HiGHS (the default), `milp:cbc` the same "
                 "model on PuLP's bundled CBC.")
    lines += ["", "## Public instances (streams = 1: P|prec,c_ij|Cmax)", "",
              "| set | solver | limit s | cases | optimum reached | proven optimal | median s (proven) | "
              "max s (proven) |", "|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["dataset"], r["solver"], r["time_limit_s"]) for r in public})
    for ds, solver, limit in keys:
        group = [r for r in public if (r["dataset"], r["solver"], r["time_limit_s"]) == (ds, solver, limit)]
        proven = [r["wall_s"] for r in group if r["proven"]]
        lines.append(f"| {ds} | {solver} | {limit:g} | {len(group)} | {sum(r['reached'] for r in group)} | "
                     f"{len(proven)} | {_median(proven)} | {max(proven) if proven else '-'} |")
    lines += ["", "## Reach: random layered graphs (edges = 2 ops, CCR 0.5)", "",
              "| graph | solver | ops | K | S | seeds | proven | median s to prove | max s to prove | "
              "median gap at limit | max gap | limit s | proved by |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r.get("graph") or "random", r["solver"], r["ops"], r["gpus"], r["streams"], r["time_limit_s"])
                   for r in reach}, key=lambda k: (k[0] != "random", k[0], k[1], k[2], k[3], k[4], k[5]))
    for graph, solver, ops, k, s, limit in keys:
        group = [r for r in reach if (r.get("graph") or "random", r["solver"], r["ops"], r["gpus"], r["streams"],
                                      r["time_limit_s"]) == (graph, solver, ops, k, s, limit)]
        errors = [r for r in group if str(r.get("status", "")).startswith("error")]
        proven = [r["wall_s"] for r in group if r.get("status") == "optimal"]
        open_gaps = [r["gap"] for r in group if r.get("status") == "feasible" and r.get("gap") is not None]
        gaps = f"{100 * statistics.median(open_gaps):.2f}%" if open_gaps else "-"
        worst = f"{100 * max(open_gaps):.2f}%" if open_gaps else "-"
        note = f" ({len(errors)} refused: {errors[0]['status'][7:]})" if errors else ""
        # The portfolio's proofs: by one search, or "together" (one's bound met the other's schedule).
        provers = [r.get("proved_by") or "together" for r in group
                   if r.get("status") == "optimal" and solver == "portfolio"]
        by = ", ".join(f"{name} {provers.count(name)}" for name in sorted(set(provers))) or "-"
        lines.append(f"| {graph} | {solver} | {ops} | {k} | {s} | {len(group)}{note} | {len(proven)} | "
                     f"{_median(proven)} | {max(proven) if proven else '-'} | {gaps} | {worst} | {limit:g} | "
                     f"{by} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sample, under two minutes")
    parser.add_argument("--data", type=Path, default=None,
                        help="public instances folder (default: the subset in tests/data/exact)")
    parser.add_argument("--workers", type=int, default=2, help="solver threads of the public part (default 2; the "
                                                                "reach specs set their own)")
    parser.add_argument("--parts", default="public,reach", help="comma-separated: public, reach (none: only rebuild the summary)")
    parser.add_argument("--solvers", default="cpsat,milp,milp:cbc,astar,portfolio",
                        help="comma-separated: cpsat, milp (HiGHS), milp:cbc, astar, portfolio")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--resume", action="store_true",
                        help="public part: keep the rows of an earlier run that the plan asks for; run only the rest "
                             "(the reach part always resumes from its study store)")
    parser.add_argument("--store", type=Path, default=None,
                        help="study store of the reach part (default: results/tmp/<spec>.sqlite)")
    parser.add_argument("--cluster", default=None, metavar="ADDRESS", help="run the reach part on this Dask cluster")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.data or BUNDLED_DATA
    parts = set(args.parts.split(","))
    solvers = set(args.solvers.split(","))
    suffix = ("_quick" if args.quick else "") + ("" if solvers >= {"cpsat", "milp"} else
                                                 "_" + "_".join(sorted(s.replace(":", "_") for s in solvers)))
    t0 = time.monotonic()
    public: list[dict] = []
    reach: list[dict] = []
    if "public" in parts:
        print(f"public instances from {data}")
        plan = [p for p in public_plan(load_directory(data), args.quick) if p[2] in solvers]
        done = read_rows(args.out / f"exact_public{suffix}.csv") if args.resume else []
        public = run_public(plan, args.workers, args.out / f"exact_public{suffix}.csv", done)
        write_csv(args.out / f"exact_public{suffix}.csv", PUBLIC_FIELDS, public)
    else:
        public = read_rows(args.out / f"exact_public{suffix}.csv")
    if "reach" in parts:
        reach = run_reach(args, solvers)
        write_csv(args.out / f"exact_reach{suffix}.csv", REACH_FIELDS, reach)
    else:
        reach = read_rows(args.out / f"exact_reach{suffix}.csv")
    summary = summarize(public, reach, data, args.quick, args.workers)
    if parts & {"public", "reach"}:
        summary += f"\nWall time of this run: {time.monotonic() - t0:.0f} s (rows kept by --resume not counted).\n"
    else:
        summary += "\nSummary rebuilt from the CSVs (`--parts none`).\n"
    (args.out / f"exact_summary{suffix}.md").write_text(summary)
    print()
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
