"""Speed and quality of the heuristics (HIOS-LP, HIOS-MR, HEFT, IOS).

Usage::

    python benchmarks/bench_heuristics.py            # full run (several minutes)
    python benchmarks/bench_heuristics.py --quick    # under a minute

Writes to ``benchmarks/results/`` (``heuristics_quick_*`` with ``--quick``):

* ``heuristics_speed.csv`` and ``heuristics_speed.png``: scheduling time
  against the number of ops (log-log), ``random_layered`` graphs with
  ``edges = 2 x ops``, 2 streams per GPU; the growth exponent of HIOS-LP;
  the evaluator's time on 1,000 ops.
* ``heuristics_quality.csv`` (one row per graph, algorithm and setting) and
  ``heuristics_quality_summary.csv``: the HIOS paper's simulation sweeps,
  varying one factor at a time around 200 ops, 4 GPUs, CCR 0.6 (GPUs 2..8,
  CCR 0.2..1.2, 50..1,000 ops), several seeds; makespans relative to the
  sequential schedule (speedup) and to the lower bound, mean and worst.
  The sweeps are the study spec ``paper-sweeps`` (``--quick``:
  ``paper-sweeps-quick``), run by the study runner into a store
  (``--store``, default ``results/tmp/<spec>.sqlite``) that a rerun resumes;
  ``--workers`` / ``--cluster`` choose where (docs/studies.md).
* ``heuristics_report.txt``: everything printed, including where HIOS-LP
  loses to HEFT or to HIOS-MR, and what its intra-GPU pass gains.

Before/after a change of the package (``--before-after PATH``, where
``PATH`` is a checkout of the code before it)::

    python benchmarks/bench_heuristics.py --before-after ../before [--rounds 4]

times every heuristic and ``evaluate`` on the speed sizes with both codes,
in two worker processes (one per code, ``PYTHONPATH``) that take turns on
every measurement (A/B, B/A, ...): process CPU time per call, best over all
rounds, on a graph already used (warm: its cached properties built) and on
a fresh copy (cold). It prints a Markdown table of the ratios after/before,
checks that both codes return the same schedules, and exits 1 when
something is slower by more than 10 %.

Timings are wall-clock on whatever machine runs this; other processes
sharing the CPU inflate them (the load average is printed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform as host
import statistics
import subprocess
import sys
import time
from pathlib import Path

import hios_opt as ho
from hios_opt import Platform, evaluate, generators
from hios_opt.heuristics import schedule

RESULTS = Path(__file__).resolve().parent / "results"
STREAMS = 2


def layered(ops: int, ccr: float, seed: int) -> ho.OpGraph:
    """The benchmark graph: ``ops`` ops, ``2 x ops`` edges, about sqrt(ops) layers."""
    return generators.random_layered(ops, 2 * ops, max(2, round(math.sqrt(ops))), ccr, seed)


class Report:
    """Print and keep every line for the report file."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def timed(graph: ho.OpGraph, plat: Platform, algorithm: str, repeats: int = 1, *, cpu: bool = False,
          **options) -> tuple[ho.Schedule, float] | tuple[ho.Schedule, float, float]:
    """Schedule, and the best wall-clock (and with ``cpu``, process CPU) seconds over ``repeats`` runs."""
    best = best_cpu = math.inf
    result = None
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = schedule(graph, plat, algorithm, **options)
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - started_cpu)
    assert result is not None
    # every reported number is the evaluator's
    assert evaluate(graph, plat, result).makespan == result.makespan_ms
    return (result, best, best_cpu) if cpu else (result, best)


def exponent(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of log(time) against log(ops)."""
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


# ------------------------------------------------------------------- speed
def speed(report: Report, quick: bool, prefix: str) -> None:
    import pandas as pd

    report("== Speed: random_layered, edges = 2 x ops, 2 streams; best of 5 (<= 1000 ops), 3 (2000), 2 (5000) runs, seconds ==")
    series = {4: [200, 500, 1000] if quick else [200, 500, 1000, 2000],
              8: [1000, 2000] if quick else [1000, 2000, 5000]}
    rows = []
    for gpus, sizes in series.items():
        plat = Platform(gpus=gpus, streams=STREAMS)
        for n in sizes:
            g = layered(n, 0.6, 0)
            repeats = 5 if n <= 1000 else 3 if n <= 2000 else 2
            for algorithm, options in (("hios-lp", {}), ("hios-lp", {"intra": False}), ("hios-mr", {}),
                                       ("heft", {})):
                label = algorithm if options.get("intra", True) else "hios-lp (mapping only)"
                s, seconds, cpu_seconds = timed(g, plat, algorithm, repeats, cpu=True, **options)
                rows.append({"ops": n, "edges": g.n_edges, "gpus": gpus, "algorithm": label, "seconds": seconds,
                             "cpu_seconds": cpu_seconds, "makespan_ms": s.makespan_ms})
            lp = rows[-4]
            report(f"  ops {n:5d}  GPUs {gpus}  HIOS-LP {lp['seconds']:8.4f} s wall {lp['cpu_seconds']:8.4f} s CPU  "
                   f"(mapping only {rows[-3]['seconds']:.4f}, HIOS-MR {rows[-2]['seconds']:.4f}, "
                   f"HEFT {rows[-1]['seconds']:.4f} s wall)")
    df = pd.DataFrame(rows)
    df.to_csv(RESULTS / f"{prefix}speed.csv", index=False)
    targets = {(200, 4): 0.05, (1000, 4): 1.0, (5000, 8): 20.0}
    for (n, gpus), limit in targets.items():
        hit = df[(df.ops == n) & (df.gpus == gpus) & (df.algorithm == "hios-lp")]
        if len(hit):
            t, c = float(hit.seconds.iloc[0]), float(hit.cpu_seconds.iloc[0])
            report(f"  target {n} ops / {gpus} GPUs < {limit:g} s: {t:.4f} s wall "
                   f"({'met' if t < limit else 'MISSED'}), {c:.4f} s CPU ({'met' if c < limit else 'MISSED'})")
    for gpus in series:
        part = df[(df.gpus == gpus) & (df.algorithm == "hios-lp")]
        if len(part) >= 2:
            wall = exponent([(r.ops, r.seconds) for r in part.itertuples()])
            cpu = exponent([(r.ops, r.cpu_seconds) for r in part.itertuples()])
            report(f"  HIOS-LP growth exponent on {gpus} GPUs (time ~ ops^k, {part.ops.min()}..{part.ops.max()} ops): "
                   f"k = {wall:.2f} (wall), {cpu:.2f} (CPU)")

    # The evaluator on 1,000 ops: a HIOS-LP schedule (merged stages) and one op per stage.
    g = layered(1000, 0.6, 0)
    plat = Platform(gpus=4, streams=STREAMS)
    merged = schedule(g, plat, "hios-lp")
    single = schedule(g, plat, "hios-lp", intra=False)
    for label, s in (("HIOS-LP schedule", merged), ("one op per stage", single)):
        evaluate(g, plat, s)
        batches, cpu_batches = [], []
        for _ in range(7):  # the best batch: the least disturbed by other processes
            started, started_cpu = time.perf_counter(), time.process_time()
            for _ in range(20):
                evaluate(g, plat, s)
            batches.append((time.perf_counter() - started) / 20 * 1e3)
            cpu_batches.append((time.process_time() - started_cpu) / 20 * 1e3)
        ms, cpu_ms = min(batches), min(cpu_batches)
        report(f"  evaluate() on 1000 ops ({label}, {len(s.stages)} stages): {ms:.2f} ms wall, {cpu_ms:.2f} ms CPU "
               f"(target < 2 ms {'met' if ms < 2 else 'met in CPU time' if cpu_ms < 2 else 'MISSED'})")
    _speed_plot(df, RESULTS / f"{prefix}speed.png")
    report()


def _speed_plot(df, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (algorithm, gpus), part in df.groupby(["algorithm", "gpus"]):
        part = part.sort_values("ops")
        ax.plot(part.ops, part.seconds, marker="o", label=f"{algorithm}, {gpus} GPUs")
    for n, limit in ((200, 0.05), (1000, 1.0), (5000, 20.0)):
        ax.scatter([n], [limit], marker="_", s=300, color="black")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ops (edges = 2 x ops)")
    ax.set_ylabel("scheduling time (s, wall clock)")
    ax.set_title("Heuristic scheduling time (black dashes: HIOS-LP targets)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------- quality
#: The variants of the study spec, in the report's order; MAPPINGS: one op per
#: stage on K GPUs, whose timelines are compared to explain the mapping.
ALGORITHMS = ("hios-lp", "hios-lp-nointra", "hios-mr", "hios-mr-nointra", "heft", "ios")
MAPPINGS = ("hios-lp-nointra", "hios-mr-nointra", "heft")
DEFAULT = {"ops": 200, "gpus": 4, "ccr": 0.6}
FACTORS = ("gpus", "ccr", "ops")


def sweep_table(study):
    """The study's rows as one row per sweep they belong to: the setting
    where every factor but one is at its default belongs to that factor's
    sweep (the all-default setting to all three)."""
    import pandas as pd

    rows = study[study.status == "heuristic"].rename(columns={"variant": "label", "graph_seed": "seed"})
    rows = rows.assign(lb_ratio=rows.makespan_ms / rows.lower_bound_ms, seconds=rows.time_s)
    parts = []
    for factor in FACTORS:
        others = [f for f in FACTORS if f != factor]
        part = rows[(rows[others[0]] == DEFAULT[others[0]]) & (rows[others[1]] == DEFAULT[others[1]])]
        parts.append(part.assign(factor=factor, value=part[factor]))
    table = pd.concat(parts, ignore_index=True)
    columns = ["factor", "value", "ops", "gpus", "ccr", "seed", "label", "makespan_ms", "speedup", "lb_ratio",
               "seconds", "transfers", "comm_ms", "imbalance", "idle_ms"]
    return table[columns].rename(columns={"label": "algorithm"}).sort_values(
        ["factor", "value", "seed", "algorithm"], kind="stable").reset_index(drop=True)


def quality(report: Report, args: argparse.Namespace, prefix: str) -> None:
    """The paper's sweeps, run as the study spec ``paper-sweeps`` (``--quick``:
    ``paper-sweeps-quick``) into a store that a rerun resumes, then reported."""
    from hios_opt.study import load, run

    spec = "paper-sweeps-quick" if args.quick else "paper-sweeps"
    store = args.store or RESULTS / "tmp" / f"{spec}.sqlite"
    report(f"== Quality: the study spec {spec} (hios-opt study run {spec}), store {store} ==")
    run(spec, store, workers=args.workers, client=args.cluster, progress=not args.no_progress)
    study = load(store, spec=spec)
    errors = study[study.status == "error"]
    if len(errors):
        report(f"  {len(errors)} cells failed, e.g. {errors.error.iloc[0]}")
    df = sweep_table(study)
    df.to_csv(RESULTS / f"{prefix}quality.csv", index=False)
    sweeps = {factor: sorted(df[df.factor == factor].value.unique()) for factor in FACTORS}
    seeds = sorted(df.seed.unique())
    report(f"   one factor at a time around {DEFAULT}, {STREAMS} streams, seeds {seeds}")
    report("   speedup = sequential / makespan; LB ratio = makespan / lower_bound (K GPUs); IOS runs on one GPU")
    summary = (df.groupby(["factor", "value", "algorithm"], sort=False)
               .agg(speedup_mean=("speedup", "mean"), speedup_worst=("speedup", "min"),
                    lb_ratio_mean=("lb_ratio", "mean"), lb_ratio_worst=("lb_ratio", "max"),
                    seconds_mean=("seconds", "mean"))
               .reset_index())
    summary.to_csv(RESULTS / f"{prefix}quality_summary.csv", index=False)
    for factor in FACTORS:
        report(f"-- varying {factor} (others at default); speedup mean/worst | LB ratio mean/worst")
        part = summary[summary.factor == factor]
        report(f"  {factor:>5}  " + "  ".join(f"{label:>24}" for label in ALGORITHMS))
        for value in sweeps[factor]:
            cells = []
            for label in ALGORITHMS:
                r = part[(part.value == value) & (part.algorithm == label)].iloc[0]
                cells.append(f"{r.speedup_mean:5.2f}/{r.speedup_worst:5.2f} | {r.lb_ratio_mean:4.2f}/"
                             f"{r.lb_ratio_worst:4.2f}")
            report(f"  {value:>5g}  " + "  ".join(f"{c:>24}" for c in cells))
    report()
    _analysis(report, df, DEFAULT)


def _analysis(report: Report, df, default: dict[str, float]) -> None:
    report("== Where HIOS-LP wins and loses ==")
    # The default setting appears in every sweep: count each (graph, platform) once.
    df = df.drop_duplicates(["ops", "gpus", "ccr", "seed", "algorithm"])
    keys = ["ops", "gpus", "ccr", "seed"]
    wide = df.pivot_table(index=keys, columns="algorithm", values="makespan_ms")
    tol = 1e-9
    lp, lp0, mr, mr0, heft = (wide[c] for c in ("hios-lp", "hios-lp-nointra", "hios-mr", "hios-mr-nointra", "heft"))
    report(f"  distinct runs (graph x platform): {len(wide)}")
    report(f"  HIOS-LP vs HEFT: better in {(lp < heft - tol).sum()}, equal in {((lp - heft).abs() <= tol).sum()}, "
           f"worse in {(lp > heft + tol).sum()}; mean makespan ratio LP/HEFT {(lp / heft).mean():.3f} "
           f"(HEFT uses one stream per GPU, HIOS-LP two)")
    report(f"  HIOS-LP vs HIOS-MR: better in {(lp < mr - tol).sum()}, worse in {(lp > mr + tol).sum()}; "
           f"mean ratio LP/MR {(lp / mr).mean():.3f}")
    gain = 1 - lp / lp0
    report(f"  HIOS-LP vs itself without the intra-GPU pass: worse in {(lp > lp0 + tol).sum()} runs (never, by "
           f"construction: a merge is kept only when the makespan does not grow); mean gain {gain.mean():.1%}, "
           f"largest {gain.max():.1%}, no gain in {(gain <= tol).sum()} runs")
    report(f"  Mappings alone (one op per stage, as HEFT): LP/HEFT {(lp0 / heft).mean():.3f}, "
           f"MR/HEFT {(mr0 / heft).mean():.3f}, LP/MR {(lp0 / mr0).mean():.3f} (mean makespan ratios)")
    losses = wide[lp > heft + tol]
    if len(losses):
        report(f"  HIOS-LP loses to HEFT in {len(losses)} runs; in {(losses['hios-lp-nointra'] > losses['heft'] + tol).sum()}"
               " of them its mapping alone is already slower, so the loss is the inter-GPU mapping's.")
        report("  Runs lost / runs, by setting (each sweep, the other factors at their default):")
        flat = wide.reset_index()
        for factor in ("gpus", "ccr", "ops"):
            others = [f for f in ("gpus", "ccr", "ops") if f != factor]
            sweep = flat[(flat[others[0]] == default[others[0]]) & (flat[others[1]] == default[others[1]])]
            cells = []
            for value, part in sweep.groupby(factor):
                lost = int((part["hios-lp"] > part["heft"] + tol).sum())
                cells.append(f"{value:g}: {lost}/{len(part)}")
            report(f"    {factor:>5}  " + ", ".join(cells))
        worst = (losses["hios-lp"] / losses["heft"]).sort_values(ascending=False).head(3)
        for (ops, gpus, ccr, seed), ratio in worst.items():
            report(f"    worst: {ops} ops, {gpus} GPUs, CCR {ccr:g}, seed {seed}: HIOS-LP {ratio - 1:.1%} above HEFT")
    gpu_sweep = df[(df.ops == default["ops"]) & (df.ccr == default["ccr"]) & df.algorithm.isin(MAPPINGS)]
    diag = gpu_sweep.groupby(["gpus", "algorithm"])[["transfers", "comm_ms", "imbalance", "idle_ms"]].mean()
    report(f"  Why, from the mappings' timelines ({default['ops']} ops, CCR {default['ccr']:g}, means over seeds):")
    report("  cross-GPU transfers, their total time, load imbalance (busiest GPU / mean busy time) and mean")
    report("  idle time per GPU:")
    report(f"    {'GPUs':>4} {'mapping':>16} {'transfers':>10} {'comm ms':>9} {'imbalance':>10} {'idle ms':>8}")
    for (gpus, algorithm), r in diag.iterrows():
        report(f"    {gpus:>4} {algorithm:>16} {r.transfers:>10.1f} {r.comm_ms:>9.1f} {r.imbalance:>10.3f} "
               f"{r.idle_ms:>8.2f}")
    report("  Reading: HIOS-LP keeps every longest path on one GPU, so it moves far fewer tensors than HEFT; it")
    report("  loses on balance instead. A path segment is placed as a block and judged on the partial schedule")
    report("  of the ops placed so far, which cannot see the work still to come, so the busiest GPU ends up")
    report("  with more than its share and the others wait (higher imbalance and idle time), the more so the")
    report("  more GPUs there are. HEFT (and HIOS-MR) choose per op, when all its producers are placed, and HEFT")
    report("  also fills idle gaps by insertion (compare MR without its intra pass to HEFT). Where HIOS-LP wins")
    report("  (few GPUs, large graphs), its intra-GPU pass, which runs two ops at once where HEFT runs one,")
    report("  gains more than its mapping loses (compare LP/HEFT with the mapping-alone ratio above).")
    report()


# ------------------------------------------------------------ before / after
#: (ops, GPUs) of the speed sizes compared before and after a change.
BEFORE_AFTER_SIZES = ((200, 4), (500, 4), (1000, 4), (1000, 8), (2000, 8))
BEFORE_AFTER_ALGORITHMS = ("sequential", "heft", "hios-mr", "hios-lp", "ios", "evaluate")
#: Slowdown (after / before) above which the comparison fails.
BEFORE_AFTER_LIMIT = 1.10


def _digest(s: ho.Schedule) -> str:
    text = json.dumps([[st.gpu, list(st.ops)] for st in s.stages])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _best_cpu(function, args_list: list[tuple], budget_s: float, most: int) -> tuple[float, object]:
    """Least process CPU seconds of ``function(*args)``, for each ``args`` of
    ``args_list`` in turn, over at least ``len(args_list)`` calls, more (from
    the first ``args`` again) while ``budget_s`` lasts, at most ``most``; and
    the last call's result."""
    best, spent, calls, result = math.inf, 0.0, 0, None
    while calls < len(args_list) or (spent < budget_s and calls < most):
        args = args_list[calls % len(args_list)]
        started = time.process_time()
        result = function(*args)
        took = time.process_time() - started
        best, spent, calls = min(best, took), spent + took, calls + 1
    return best, result


def worker() -> int:
    """``--worker``: answer timing tasks (one JSON line each on stdin) with
    one JSON line each on stdout, with whatever ``hios_opt`` is importable."""
    graphs: dict[int, ho.OpGraph] = {}
    print(json.dumps({"hios_opt": str(Path(ho.__file__).resolve().parent.parent)}), flush=True)
    for line in sys.stdin:
        task = json.loads(line)
        n, gpus, what = task["ops"], task["gpus"], task["what"]
        plat = Platform(gpus=gpus, streams=STREAMS)
        if n not in graphs:
            graphs[n] = layered(n, 0.6, 0)
        g = graphs[n]
        fresh = [layered(n, 0.6, 0) for _ in range(task["cold"])]  # built outside the timed calls
        if what == "evaluate":
            planned = schedule(g, plat, "hios-lp")
            warm, timeline = _best_cpu(evaluate, [(g, plat, planned)], task["budget"], 200)
            cold, _ = _best_cpu(evaluate, [(f, plat, planned) for f in fresh], 0.0, 0)
            makespan, digest = timeline.makespan, _digest(planned)
        else:
            warm, result = _best_cpu(schedule, [(g, plat, what)], task["budget"], 20)
            cold, _ = _best_cpu(schedule, [(f, plat, what) for f in fresh], 0.0, 0)
            makespan, digest = result.makespan_ms, _digest(result)
        print(json.dumps({"warm": warm, "cold": cold, "makespan": makespan, "digest": digest}), flush=True)
    return 0


def before_after(before: Path, rounds: int) -> int:
    """Time both codes in turns; print the table; 1 when something is slower
    by more than 10 % or a schedule differs."""
    after = Path(__file__).resolve().parent.parent
    codes = {"before": before.resolve(), "after": after}
    workers = {}
    for label, root in codes.items():
        env = dict(os.environ, PYTHONPATH=str(root))
        workers[label] = subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, text=True, env=env, cwd=str(root))
        hello = json.loads(workers[label].stdout.readline())
        print(f"{label}: hios_opt from {hello['hios_opt']}", flush=True)
        if Path(hello["hios_opt"]) != root:
            raise SystemExit(f"the {label} worker imports hios_opt from {hello['hios_opt']}, not {root}")

    def ask(label: str, task: dict) -> dict:
        proc = workers[label]
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(task) + "\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    tasks = [{"ops": n, "gpus": k, "what": what, "budget": 0.3 if what != "ios" else 0.0,
              "cold": 2 if what != "ios" else 1}
             for n, k in BEFORE_AFTER_SIZES for what in BEFORE_AFTER_ALGORITHMS]
    best: dict[tuple[str, int, int, str], dict] = {}
    started = time.perf_counter()
    for r in range(rounds):
        for i, task in enumerate(tasks):
            order = ("before", "after") if (r + i) % 2 == 0 else ("after", "before")
            for label in order:
                got = ask(label, task)
                key = (label, task["ops"], task["gpus"], task["what"])
                old = best.setdefault(key, got)
                for field in ("warm", "cold"):
                    old[field] = min(old[field], got[field])
                if (old["makespan"], old["digest"]) != (got["makespan"], got["digest"]):
                    raise SystemExit(f"{key}: the schedule changed between two rounds")
        print(f"round {r + 1}/{rounds} done, {time.perf_counter() - started:.0f} s", flush=True)
    for proc in workers.values():
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()
    print()
    print("| ops | GPUs | what | before warm (ms) | after warm (ms) | after / before warm "
          "| before cold (ms) | after cold (ms) | after / before cold | same schedule and makespan |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---|")
    worst, same_all = 0.0, True
    for task in tasks:
        b = best[("before", task["ops"], task["gpus"], task["what"])]
        a = best[("after", task["ops"], task["gpus"], task["what"])]
        ratios = [a[f] / b[f] if b[f] > 0 else math.nan for f in ("warm", "cold")]
        same = (a["makespan"], a["digest"]) == (b["makespan"], b["digest"])
        same_all &= same
        worst = max(worst, *ratios)
        print(f"| {task['ops']} | {task['gpus']} | {task['what']} | {b['warm'] * 1e3:.3f} | {a['warm'] * 1e3:.3f} "
              f"| {ratios[0]:.2f} | {b['cold'] * 1e3:.3f} | {a['cold'] * 1e3:.3f} | {ratios[1]:.2f} "
              f"| {'yes' if same else 'NO: ' + repr((b['makespan'], a['makespan']))} |")
    print()
    print(f"worst ratio {worst:.2f} (limit {BEFORE_AFTER_LIMIT:.2f}); schedules {'identical' if same_all else 'DIFFER'}")
    return 0 if worst <= BEFORE_AFTER_LIMIT and same_all else 1


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv == ["--worker"]:
        return worker()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few seeds (under a minute)")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--store", type=Path, default=None,
                        help="study store of the quality sweeps (default: results/tmp/<spec>.sqlite; a rerun resumes)")
    parser.add_argument("--workers", type=int, default=None, help="local processes of the quality study (default: cores)")
    parser.add_argument("--cluster", default=None, metavar="ADDRESS", help="run the quality study on this Dask cluster")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--before-after", type=Path, default=None, metavar="PATH",
                        help="compare the speed with the code checked out at PATH (the code before a change)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of --before-after (default 4)")
    args = parser.parse_args(argv)
    if args.before_after is not None:
        return before_after(args.before_after, args.rounds)
    RESULTS.mkdir(parents=True, exist_ok=True)
    prefix = "heuristics_quick_" if args.quick else "heuristics_"
    report = Report()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    report(f"hios_opt {ho.__version__}, Python {sys.version.split()[0]}, {host.machine()}, "
           f"{os.cpu_count()} CPU(s), load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start")
    report("note: the CPU may be shared with other processes; timings are wall-clock and include that noise.")
    report()
    started = time.perf_counter()
    if not args.skip_speed:
        speed(report, args.quick, prefix)
    if not args.skip_quality:
        quality(report, args, prefix)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    report(f"total {time.perf_counter() - started:.1f} s; load average {load[0]:.2f} at the end")
    part = "" if not (args.skip_speed or args.skip_quality) else "_quality" if args.skip_speed else "_speed"
    (RESULTS / f"{prefix}report{part}.txt").write_text("\n".join(report.lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
