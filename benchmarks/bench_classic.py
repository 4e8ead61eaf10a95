"""The classic list schedulers, against each other and against saga's.

Usage::

    python benchmarks/bench_classic.py --quick              # a few minutes
    python benchmarks/bench_classic.py                      # the full run (about 15 minutes with saga)
    python benchmarks/bench_classic.py --exact-dir PATH     # more public instances (default tests/data/exact)
    python benchmarks/bench_classic.py --saga-python PY     # a Python that has anrg-saga installed
    python benchmarks/bench_classic.py --no-saga            # our side only

Every heuristic of :func:`hios_opt.algorithms` (and saga's, the peer
library ``anrg-saga``) schedules the same problems with one stream per GPU,
``P | prec, c_ij | Cmax``, and every schedule, ours or saga's, is judged by
this package's evaluator:

* the HIOS paper's random layered graphs, one factor at a time around
  100 ops, 4 GPUs, CCR 0.6: GPUs 2..8, CCR 0.2..1.2, 8..400 ops;
* the public instances with proven optima (Sinnen's 10/21/30-task graphs
  with communication, STG's 50-task graphs without) found under
  ``--exact-dir``.

saga runs in its own Python, in a subprocess: with ``--saga-python`` the
given interpreter, otherwise a virtual environment made under the system's
temporary folder (``pip install anrg-saga``). A small driver script, written
at run time, builds saga's network (``K`` nodes of speed 1, links of speed 1,
so that a transfer takes the edge's ``comm_ms``) and task graph, runs each of
its heuristics and returns the start times; we order each GPU's ops by them.
If saga cannot be installed the benchmark says so and runs our side alone.
A saga heuristic that takes more than ``--saga-slow`` seconds on a problem is
not run on problems of that size or larger (DPS takes seconds on 100 ops and
minutes on 200).

Writes to ``benchmarks/results/`` (``classic_quick_*`` with ``--quick``):
``classic_runs.csv`` (one row per problem and heuristic, the result schema
of :mod:`hios_opt.results` plus ``library``, ``set``, ``factor``, ``value``,
``seed``), ``classic_speed.csv`` (time against size, and the constants of
``"best"``'s estimates) and ``classic_summary.md`` (date, machine, command
and the tables of ``docs/heuristics.md``). Timings are wall-clock on a
shared machine: compare them within one run, as ratios.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform as host
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from datetime import datetime, timezone
from pathlib import Path

import hios_opt as ho
from hios_opt import Platform, Schedule, Stage, evaluate, generators
from hios_opt.exact.benchmarks import load_directory
from hios_opt.heuristics import algorithm_options, algorithms, best
from hios_opt.results import HEURISTIC_STATUS, result_row

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
TOL = 1e-9

#: saga's heuristics that are not list heuristics of the problem: brute force,
#: an SMT solver, and a wrapper that needs other schedulers as arguments.
SAGA_LEFT_OUT = ("BruteForceScheduler", "SMTScheduler", "HybridScheduler")

#: The driver saga runs in its own Python (written to a temporary folder).
SAGA_DRIVER = r'''
import json, logging, random, sys, time
logging.disable(logging.WARNING)        # saga warns when it adds a super source or sink
import saga.schedulers as S
from saga import Network, TaskGraph

left_out = set(sys.argv[1].split(","))
slow = float(sys.argv[2])
names = [n for n in S.__all__ if n not in left_out]
too_slow = {}
for line in sys.stdin:
    p = json.loads(line)
    k = p["gpus"]
    nodes = [("p%03d" % g, 1.0) for g in range(k)]
    links = [("p%03d" % a, "p%03d" % b, 1.0) for a in range(k) for b in range(a + 1, k)]
    network = Network.create(nodes, links)
    graph = TaskGraph.create([tuple(t) for t in p["tasks"]], [tuple(d) for d in p["deps"]])
    for name in names:
        out = {"id": p["id"], "scheduler": name}
        if name in too_slow and p["ops"] >= too_slow[name]:
            out["skipped"] = "took over %g s on %d ops" % (slow, too_slow[name])
            print(json.dumps(out), flush=True)
            continue
        random.seed(0)                  # WBA draws at random
        started = time.perf_counter()
        try:
            schedule = getattr(S, name)().schedule(network, graph)
        except Exception as exc:        # report and go on with the next heuristic
            out["error"] = repr(exc)[:300]
        else:
            out["seconds"] = time.perf_counter() - started
            out["tasks"] = [[t.name, int(node[1:]), t.start, t.end] for node, tasks in schedule.items() for t in tasks]
            if out["seconds"] > slow:
                too_slow[name] = p["ops"]
        print(json.dumps(out), flush=True)
'''


# ------------------------------------------------------------------ problems
def layered(ops: int, ccr: float, seed: int) -> ho.OpGraph:
    """The HIOS paper's random layered graph: ``2 x ops`` edges (fewer when
    the layering allows fewer), about ``sqrt(ops)`` layers."""
    layers = max(1, min(ops - 2, round(math.sqrt(ops))))
    for edges in range(2 * ops, 0, -1):
        try:
            return generators.random_layered(ops, edges, layers, ccr, seed)
        except ho.errors.OptionError:
            continue
    raise AssertionError(f"no layered graph of {ops} ops")


def sweep_problems(quick: bool) -> list[dict]:
    """One factor at a time around 100 ops, 4 GPUs, CCR 0.6."""
    default = {"ops": 100, "gpus": 4, "ccr": 0.6}
    sweeps = {
        "gpus": [2, 4, 8] if quick else [2, 3, 4, 6, 8],
        "ccr": [0.2, 0.6, 1.2] if quick else [0.2, 0.4, 0.6, 0.8, 1.0, 1.2],
        "ops": [8, 30, 100] if quick else [8, 16, 30, 50, 100, 200, 400],
    }
    seeds = range(3 if quick else 6)
    problems, seen = [], set()
    for factor, values in sweeps.items():
        for value in values:
            setting = dict(default, **{factor: value})
            for seed in seeds:
                key = (setting["ops"], setting["gpus"], setting["ccr"], seed)
                graph = layered(setting["ops"], setting["ccr"], seed)
                problems.append({"id": f"{factor}={value:g}/s{seed}", "set": "sweep", "factor": factor,
                                 "value": value, "seed": seed, "graph": graph, "gpus": setting["gpus"],
                                 "best_known": None, "optimal": False, "duplicate": key in seen})
                seen.add(key)
    return problems


#: Every how many-th instance of a public set the run takes (quick, full).
PUBLIC_STEP = {"sinnen": (10, 1), "stg50": (40, 4), "stg100": (80, 8), "stg_app": (4, 1)}


def public_problems(folder: Path, quick: bool) -> list[dict]:
    """The instances with a proven optimum under ``folder``, every
    ``PUBLIC_STEP``-th of each set."""
    instances = [i for i in load_directory(folder) if i.optimum is not None]
    instances.sort(key=lambda i: (i.name, i.processors))
    problems = []
    counts: dict[str, int] = {}
    for inst in instances:
        family = inst.name.split("/")[0]
        label = f"sinnen{inst.graph.n_ops}" if family == "sinnen" else family
        counts[label] = counts.get(label, 0) + 1
        step = PUBLIC_STEP.get(family, (10, 1))[0 if quick else 1]
        if (counts[label] - 1) % step:
            continue
        problems.append({"id": f"{inst.name}/P{inst.processors}", "set": label, "factor": "", "value": math.nan,
                         "seed": -1, "graph": inst.graph, "gpus": inst.processors, "best_known": inst.optimum,
                         "optimal": True, "duplicate": False})
    return problems


# --------------------------------------------------------------------- ours
def run_ours(problem: dict) -> list[dict]:
    graph, plat = problem["graph"], Platform(gpus=problem["gpus"])
    rows = []
    for name in algorithms():
        if name == "ios" and graph.n_ops > 60:
            continue  # one GPU; its DP is what takes the time, and it never wins with K > 1 here
        started = time.perf_counter()
        s = ho.schedule(graph, plat, name)
        seconds = time.perf_counter() - started
        rows.append(_row(problem, "hios_opt", name, s.makespan_ms, seconds))
    return rows


def _row(problem: dict, library: str, name: str, makespan: float | None, seconds: float | None,
         note: str = "") -> dict:
    graph = problem["graph"]
    return result_row(graph=problem["id"], ops=graph.n_ops, gpus=problem["gpus"], streams=1, algorithm=name,
                      makespan_ms=makespan, status=HEURISTIC_STATUS, time_s=seconds, library=library,
                      set=problem["set"], factor=problem["factor"], value=problem["value"], seed=problem["seed"],
                      note=note)


# --------------------------------------------------------------------- saga
def saga_python(args: argparse.Namespace) -> tuple[str | None, str]:
    """A Python with saga, and a line saying where it came from (or why none)."""
    if args.no_saga:
        return None, "saga not run (--no-saga)"
    if args.saga_python:
        python = args.saga_python
    else:
        folder = Path(args.saga_venv) if args.saga_venv else Path(tempfile.gettempdir()) / "hios-opt-bench-saga"
        python = str(folder / "bin" / "python")
        if not Path(python).exists():
            print(f"installing anrg-saga into a virtual environment in {folder} ...", flush=True)
            try:
                venv.create(folder, with_pip=True)
                subprocess.run([python, "-m", "pip", "install", "-q", "anrg-saga"], check=True, timeout=900,
                               capture_output=True, text=True)
            except (OSError, subprocess.SubprocessError) as exc:
                detail = getattr(exc, "stderr", "") or str(exc)
                return None, f"saga could not be installed ({detail.strip().splitlines()[-1][:200]})"
    probe = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('anrg-saga'))"],
                           capture_output=True, text=True)
    if probe.returncode:
        return None, f"saga is not importable with {python}: {probe.stderr.strip().splitlines()[-1][:200]}"
    return python, f"anrg-saga {probe.stdout.strip()}"


def run_saga(python: str, problems: list[dict], slow: float) -> list[dict]:
    """Run every saga heuristic on every problem (smallest first) and judge
    its schedule with our evaluator."""
    by_id = {p["id"]: p for p in problems}
    lines = []
    for p in sorted(problems, key=lambda p: (p["graph"].n_ops, p["id"])):
        g = p["graph"]
        lines.append(json.dumps({"id": p["id"], "ops": g.n_ops, "gpus": p["gpus"],
                                 "tasks": [[o.id, o.latency_ms] for o in g.ops],
                                 "deps": [[e.src, e.dst, e.comm_ms or 0.0] for e in g.edges]}))
    with tempfile.TemporaryDirectory() as tmp:
        driver = Path(tmp) / "saga_driver.py"
        driver.write_text(SAGA_DRIVER)
        env = {**os.environ, "PYTHONHASHSEED": "0"}  # saga iterates over sets of names
        proc = subprocess.run([python, str(driver), ",".join(SAGA_LEFT_OUT), str(slow)], input="\n".join(lines),
                              capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f"the saga driver failed: {proc.stderr[-2000:]}")
    rows = []
    for line in proc.stdout.splitlines():
        out = json.loads(line)
        p = by_id[out["id"]]
        name = "saga:" + out["scheduler"].removesuffix("Scheduler").lower()
        if "tasks" not in out:
            rows.append(_row(p, "saga", name, None, None, (out.get("skipped") or out.get("error", ""))[:160]))
            continue
        try:
            span = saga_makespan(p, out["tasks"])
            note = ""
        except ho.HiosError as exc:
            span, note = None, f"invalid schedule: {str(exc)[:120]}"
        rows.append(_row(p, "saga", name, span, out["seconds"], note))
    return rows


def saga_makespan(problem: dict, tasks: list) -> float:
    """Our evaluator's makespan of saga's schedule: each GPU runs its ops in
    saga's start order (saga's own zero-cost super source and sink dropped)."""
    graph = problem["graph"]
    position = graph.topo_position
    index = graph.id_index
    placed = sorted((start, end, position[index[name]], gpu, name) for name, gpu, start, end in tasks
                    if name in index)
    schedule = Schedule([Stage(gpu, (name,)) for *_, gpu, name in placed], gpus=problem["gpus"], streams=1,
                        algorithm="saga", graph_name=graph.name)
    return evaluate(graph, Platform(gpus=problem["gpus"]), schedule).makespan


# ------------------------------------------------------------ two streams
def run_streams(problems: list[dict], streams: int = 2) -> list[dict]:
    """Our family with ``streams`` streams per GPU (saga has none) on the
    distinct random graphs: each heuristic with and without the intra-GPU
    pass."""
    out = []
    for p in problems:
        if p["set"] != "sweep" or p["duplicate"]:
            continue
        plat = Platform(gpus=p["gpus"], streams=streams)
        for name in algorithms():
            if name == "ios" and p["graph"].n_ops > 60:
                continue
            merged = ho.schedule(p["graph"], plat, name)
            alone = ho.schedule(p["graph"], plat, name, intra=False) if "intra" in algorithm_options(name) else merged
            out.append({"graph": p["id"], "algorithm": name, "makespan_ms": merged.makespan_ms,
                        "mapping_ms": alone.makespan_ms})
    return out


def streams_table(rows: list[dict], streams: int = 2) -> list[str]:
    best_of = {}
    for r in rows:
        best_of[r["graph"]] = min(best_of.get(r["graph"], math.inf), r["makespan_ms"])
    body = []
    for name in algorithms():
        mine = [r for r in rows if r["algorithm"] == name]
        if not mine:
            continue
        gaps = [r["makespan_ms"] / best_of[r["graph"]] - 1 for r in mine]
        gains = [1 - r["makespan_ms"] / r["mapping_ms"] for r in mine]
        wins = sum(r["makespan_ms"] <= best_of[r["graph"]] * (1 + TOL) for r in mine)
        body.append([name, pct(statistics.fmean(gaps)), pct(max(gaps)), pct(statistics.fmean(gains)),
                     f"{wins}/{len(mine)}"])
    return ([f"## With {streams} streams per GPU (our family only; saga has no streams)", "",
             "The same random graphs (distinct ones), each heuristic followed by the intra-GPU pass (window 2). "
             "Gap: to the best of the family on that graph; `intra gain`: how much shorter the pass makes the "
             "heuristic's own mapping (`1 - with / without`); `best`: graphs where it gives the family's shortest.",
             ""] + md_table(["heuristic", "mean gap", "worst gap", "intra gain", "best"], body) + [""])


# ------------------------------------------------------------------- speed
def speed(quick: bool) -> list[dict]:
    """Seconds of each heuristic against size (4 GPUs, CCR 0.6, best of 3),
    and its constant per unit of ``ops * (ops + edges) * gpus``."""
    rows = []
    sizes = [100, 400] if quick else [100, 400, 1000, 2000]
    for ops in sizes:
        graph = layered(ops, 0.6, 0)
        plat = Platform(gpus=4, streams=2)
        for name in algorithms():
            if name == "ios" and ops > 400:
                continue
            best_s = math.inf
            for _ in range(3 if ops <= 400 else 1):
                started = time.perf_counter()
                ho.schedule(graph, plat, name)
                best_s = min(best_s, time.perf_counter() - started)
            work = (best.estimated_seconds(name, graph, plat) - best.BASE_SECONDS) / best.SECONDS_PER_WORK[name]
            rows.append({"algorithm": name, "ops": ops, "edges": graph.n_edges, "gpus": 4, "streams": 2,
                         "seconds": best_s, "seconds_per_work": best_s / work,
                         "estimate_s": best.estimated_seconds(name, graph, plat)})
            print(f"  speed {name:10s} {ops:5d} ops  {best_s:8.4f} s  (estimate {rows[-1]['estimate_s']:.4f} s)",
                  flush=True)
    return rows


# ------------------------------------------------------------------ tables
def finish(rows: list[dict], problems: list[dict]) -> None:
    """Fill ``lower_bound_ms`` with the best known makespan (the optimum for
    the public instances, the shortest schedule of any heuristic for the
    random graphs) and ``gap`` with the gap to it."""
    known = {p["id"]: p["best_known"] for p in problems}
    optimal = {p["id"]: p["optimal"] for p in problems}
    for r in rows:
        span = r["makespan_ms"]
        if span is None:
            continue
        if optimal[r["graph"]]:
            if span < known[r["graph"]] * (1 - 1e-9):
                raise AssertionError(f"{r['algorithm']} beats the proven optimum of {r['graph']}: {span}")
        elif known[r["graph"]] is None or span < known[r["graph"]]:
            known[r["graph"]] = span
    for r in rows:
        r["lower_bound_ms"] = known[r["graph"]]
        r["gap"] = ho.results.gap(r["makespan_ms"], known[r["graph"]]) if r["makespan_ms"] is not None else math.nan


def family_best(rows: list[dict], library: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rows:
        if r["library"] == library and r["makespan_ms"] is not None:
            out[r["graph"]] = min(out.get(r["graph"], math.inf), r["makespan_ms"])
    return out


def md_table(header: list[str], body: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return lines


def pct(x: float) -> str:
    return "-" if x is None or math.isnan(x) else f"{100 * x:.2f}%"


def summary(rows: list[dict], problems: list[dict], speed_rows: list[dict], saga_line: str,
            stream_rows: list[dict]) -> list[str]:
    distinct = {p["id"] for p in problems if not p["duplicate"]}
    sets = ["sweep"] + sorted({p["set"] for p in problems} - {"sweep"})
    out: list[str] = []
    # 1. each heuristic: mean and worst gap to the best known, mean time
    out += ["## Each heuristic: gap to the best known, time", "",
            "Gap: `(makespan - best known) / best known`, mean and worst, per set of problems; the best known is "
            "the optimum on the public instances and the best schedule any heuristic (ours or saga's) found on the "
            "random graphs. Time: mean seconds per random graph. `valid`: problems with a schedule; `failed`: saga "
            "raised or returned a schedule that leaves ops out (a heuristic too slow for a size is neither).", ""]
    names = sorted({(r["library"], r["algorithm"]) for r in rows}, key=lambda x: (x[0] != "hios_opt", x[1]))
    header = ["heuristic"] + [f"{s} mean / worst" for s in sets] + ["mean s (sweep)", "valid", "failed"]
    body = []
    for library, name in names:
        cells = [name]
        for s in sets:
            gaps = [r["gap"] for r in rows if r["library"] == library and r["algorithm"] == name and r["set"] == s
                    and r["graph"] in distinct and r["makespan_ms"] is not None]
            cells.append(f"{pct(statistics.fmean(gaps))} / {pct(max(gaps))}" if gaps else "-")
        mine = [r for r in rows if r["library"] == library and r["algorithm"] == name and r["graph"] in distinct]
        times = [r["time_s"] for r in mine if r["set"] == "sweep" and r["makespan_ms"] is not None]
        valid = sum(r["makespan_ms"] is not None for r in mine)
        failed = sum(r["makespan_ms"] is None and not r["note"].startswith("took over") for r in mine)
        cells += [f"{statistics.fmean(times):.4f}" if times else "-", valid, failed]
        body.append(cells)
    out += md_table(header, body) + [""]
    ours, theirs = family_best(rows, "hios_opt"), family_best(rows, "saga")
    if theirs:
        out += ["## Best of the family against the best of saga's heuristics", "",
                "Per problem, the shortest of our heuristics against the shortest of saga's (one stream per GPU); "
                "`ratio` = ours / saga's (below 1: ours shorter). Target: ours at least as short on >= 90 % of the "
                "problems, geometric mean <= 1.00.", ""]
        body = []
        for s in sets + ["all"]:
            ids = [i for i in distinct if i in ours and i in theirs and (s == "all" or _set_of(problems, i) == s)]
            if not ids:
                continue
            ratios = [ours[i] / theirs[i] for i in ids]
            wins = sum(ours[i] < theirs[i] * (1 - TOL) for i in ids)
            losses = sum(ours[i] > theirs[i] * (1 + TOL) for i in ids)
            geo = math.exp(statistics.fmean(math.log(x) for x in ratios))
            body.append([s, len(ids), wins, len(ids) - wins - losses, losses, pct((len(ids) - losses) / len(ids)),
                         f"{geo:.4f}", f"{max(ratios):.4f}"])
        out += md_table(["set", "problems", "ours shorter", "equal", "saga's shorter", "ours <= saga's",
                         "geomean ratio", "worst ratio"], body) + [""]
        out += head_to_head(rows, distinct)
    out += sweep_table(rows, problems, distinct, bool(theirs))
    out += win_table(rows, distinct)
    if stream_rows:
        out += streams_table(stream_rows)
    if speed_rows:
        out += ["## Speed against size (4 GPUs, 2 streams, CCR 0.6, best of 3 runs)", "",
                "Seconds per call; the last column is the estimate `best` uses to skip what would not fit its "
                "time limit (it should stay above the measured time).", ""]
        body = [[r["algorithm"], r["ops"], r["edges"], f"{r['seconds']:.4f}", f"{r['estimate_s']:.4f}"]
                for r in speed_rows]
        out += md_table(["heuristic", "ops", "edges", "seconds", "estimate"], body) + [""]
    out += [f"saga: {saga_line}.", ""]
    return out


def _set_of(problems: list[dict], pid: str) -> str:
    return next(p["set"] for p in problems if p["id"] == pid)


#: Our heuristic and saga's of the same name (``dls``: saga's GDL, the generalized DLS).
PAIRS = [("heft", "saga:heft"), ("cpop", "saga:cpop"), ("etf", "saga:etf"), ("dls", "saga:gdl"),
         ("fcp", "saga:fcp"), ("flb", "saga:flb"), ("minmin", "saga:minmin"), ("maxmin", "saga:maxmin"),
         ("duplex", "saga:duplex"), ("sufferage", "saga:sufferage")]


def head_to_head(rows: list[dict], distinct: set[str]) -> list[str]:
    index = {(r["graph"], r["algorithm"]): r for r in rows}
    body = []
    for mine, theirs in PAIRS:
        pairs = [(index[g, mine], index[g, theirs]) for g in sorted(distinct)
                 if (g, mine) in index and (g, theirs) in index and index[g, theirs]["makespan_ms"] is not None]
        if not pairs:
            continue
        wins = sum(a["makespan_ms"] < b["makespan_ms"] * (1 - TOL) for a, b in pairs)
        losses = sum(a["makespan_ms"] > b["makespan_ms"] * (1 + TOL) for a, b in pairs)
        geo = math.exp(statistics.fmean(math.log(a["makespan_ms"] / b["makespan_ms"]) for a, b in pairs))
        speedups = [b["time_s"] / a["time_s"] for a, b in pairs if a["time_s"] and b["time_s"]]
        body.append([mine, theirs, len(pairs), wins, len(pairs) - wins - losses, losses, f"{geo:.4f}",
                     f"{statistics.median(speedups):.1f}x" if speedups else "-"])
    return (["## Head to head: each of ours against saga's of the same name", "",
             "All problems (random and public). `ratio`: geometric mean of our makespan over saga's; `speed`: "
             "median of saga's time over ours on the same problem (measured in one run, the same machine).", ""]
            + md_table(["ours", "saga", "problems", "ours shorter", "equal", "saga's shorter", "ratio", "speed"], body)
            + [""])


def sweep_table(rows: list[dict], problems: list[dict], distinct: set[str], with_saga: bool) -> list[str]:
    """Mean gap of the best of each family, and of each of ours, along each sweep."""
    out = ["## Along the paper's sweeps (mean gap to the best known, one stream per GPU)", "",
           f"One factor at a time around 100 ops, 4 GPUs, CCR 0.6; "
           f"{1 + max(p['seed'] for p in problems)} seeds each. `ours` and `saga` are the best of each family per "
           "problem.", ""]
    ours, theirs = family_best(rows, "hios_opt"), family_best(rows, "saga")
    names = [n for n in algorithms() if n != "ios"]
    header = ["factor", "value"] + (["ours", "saga"] if with_saga else ["ours"]) + names
    body = []
    for p_factor in ("gpus", "ccr", "ops"):
        values = sorted({p["value"] for p in problems if p["factor"] == p_factor})
        for value in values:
            ids = [p["id"] for p in problems if p["factor"] == p_factor and p["value"] == value]
            known = {r["graph"]: r["lower_bound_ms"] for r in rows if r["graph"] in ids}
            cells = [p_factor, f"{value:g}", pct(statistics.fmean(ours[i] / known[i] - 1 for i in ids))]
            if with_saga:
                got = [theirs[i] / known[i] - 1 for i in ids if i in theirs]
                cells.append(pct(statistics.fmean(got)) if got else "-")
            for name in names:
                gaps = [r["gap"] for r in rows if r["graph"] in ids and r["algorithm"] == name]
                cells.append(pct(statistics.fmean(gaps)) if gaps else "-")
            body.append(cells)
    return out + md_table(header, body) + [""]


def win_table(rows: list[dict], distinct: set[str]) -> list[str]:
    """How often each heuristic gives the best schedule of our family."""
    ours = [r for r in rows if r["library"] == "hios_opt" and r["graph"] in distinct]
    shortest = family_best(ours, "hios_opt")
    names = [n for n in algorithms() if any(r["algorithm"] == n for r in ours)]
    total = len(shortest)
    body = []
    for name in names:
        mine = [r for r in ours if r["algorithm"] == name]
        best_count = sum(r["makespan_ms"] <= shortest[r["graph"]] * (1 + TOL) for r in mine)
        alone = sum(r["makespan_ms"] <= shortest[r["graph"]] * (1 + TOL)
                    and not any(o["graph"] == r["graph"] and o["algorithm"] != name
                                and o["makespan_ms"] <= shortest[r["graph"]] * (1 + TOL) for o in ours)
                    for r in mine)
        body.append([name, f"{best_count}/{total}", alone])
    return (["## Win table: how often each heuristic is the best of our family", "",
             "`best`: problems where it gives the family's shortest schedule (ties count for each); `alone`: "
             "problems where no other heuristic of ours matches it.", ""]
            + md_table(["heuristic", "best", "alone"], body) + [""])


# -------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer problems (a few minutes)")
    parser.add_argument("--exact-dir", type=Path, default=ROOT / "tests" / "data" / "exact",
                        help="folder of public instances with optima (default tests/data/exact)")
    parser.add_argument("--saga-python", default=None, help="a Python interpreter that has anrg-saga installed")
    parser.add_argument("--saga-venv", default=None, help="where to make saga's virtual environment if needed")
    parser.add_argument("--saga-slow", type=float, default=5.0,
                        help="seconds after which a saga heuristic is not run on problems as large (default 5)")
    parser.add_argument("--no-saga", action="store_true", help="run our side only")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed-against-size table")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args()
    prefix = "classic_quick_" if args.quick else "classic_"
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()

    problems = sweep_problems(args.quick) + public_problems(args.exact_dir, args.quick)
    print(f"{len(problems)} problems", flush=True)
    rows: list[dict] = []
    for p in problems:
        rows += run_ours(p)
    python, saga_line = saga_python(args)
    print(saga_line, flush=True)
    if python is not None:
        rows += run_saga(python, problems, args.saga_slow)
    finish(rows, problems)
    import pandas as pd

    ho.results.result_frame(rows).to_csv(args.out / f"{prefix}runs.csv", index=False)
    stream_rows = run_streams(problems)
    speed_rows = [] if args.no_speed else speed(args.quick)
    if speed_rows:
        pd.DataFrame(speed_rows).to_csv(args.out / f"{prefix}speed.csv", index=False)
    command = "python benchmarks/bench_classic.py " + " ".join(
        a if not Path(a).is_absolute() else Path(a).name for a in sys.argv[1:])
    head = [f"# Classic list schedulers{' (quick run)' if args.quick else ''}", "",
            f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Machine: {host.machine()}, "
            f"{os.cpu_count()} CPU(s), Python {host.python_version()}, shared with other jobs (timings are noisy: "
            f"compare within this run, as ratios). Command: `{command}`. Problems: {len(problems)} "
            f"({sum(not p['duplicate'] for p in problems)} distinct). Wall time: {time.time() - started:.0f} s.", ""]
    text = "\n".join(head + summary(rows, problems, speed_rows, saga_line, stream_rows))
    (args.out / f"{prefix}summary.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
