"""optimize()'s module against the plain forward, torch.compile and every plan.

For each zoo model and input size, on one device, the script

1. profiles the model (:func:`hios_opt.realbench.profile_graph`: kernel
   timing on a GPU, one intra-op thread on a CPU; cached), and on a GPU
   writes the profile to ``--data`` as ``{model}_{size}_{gpu}-kernel.json``;
2. for each platform ``K x S`` (on one GPU, ``K = 2`` logical GPUs share
   it) makes the sequential, IOS and HIOS-LP schedules and the best one
   :func:`hios_opt.autoschedule.best_schedule` finds within ``--time-limit``
   (every heuristic, then the portfolio solver warm-started from them), and
   ``optimize()``'s module on the same costs;
3. times, in turns, every plan (replayed as a CUDA graph on a GPU, on worker
   threads on a CPU), the module, the plain forward and, on a GPU (or with
   ``--compile``), ``torch.compile`` with its default backend, and checks
   every output against the plain forward.

Rows follow the package's result schema (predicted against measured, the
prediction error) plus ``model``, ``input_size``, ``device``,
``vs_forward`` (plain forward / measured), ``vs_sequential`` (sequential
plan / measured), ``outputs_ok`` and ``mode`` (what the module chose). They
go to ``optimize_{gpu,quick}.csv`` as they are made; ``.md`` holds the
tables with the date, machine and command, ``.json`` the environment.

Usage::

    python benchmarks/bench_optimize.py                     # GPU: the five zoo models at the paper's sizes
    python benchmarks/bench_optimize.py --models inception_v3,vit_moe --sizes 331,512 --time-limit 20
    python benchmarks/bench_optimize.py --models nasnet --sizes 331 --append   # one more cell, same CSV
    python benchmarks/bench_optimize.py --quick             # CPU, small inputs (minutes)
    python benchmarks/bench_optimize.py --quick --compile   # ... and torch.compile (inductor) too
    python benchmarks/bench_optimize.py --summarize --out benchmarks/results --tag quick
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import platform as _platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

import hios_opt as ho
import hios_opt.models as zoo
from hios_opt.autoschedule import best_schedule
from hios_opt.executor import CpuExecutor, CudaExecutor, compile
from hios_opt.realbench import device_map_for, outputs_match, prepare_model, profile_graph
from hios_opt.results import COLUMNS, result_row
from hios_opt.scheduled import optimize, time_calls

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(__file__).resolve().parent.parent / "hios_opt" / "data" / "models"

#: GPU platforms: one GPU with 2-4 streams, two logical GPUs sharing it.
GPU_PLATFORMS = ((1, 2), (1, 3), (1, 4), (2, 2))
QUICK_PLATFORMS = ((1, 2), (2, 1))
#: Small CPU cases: (model, input size, options).
QUICK_CASES = (
    ("squeezenet", 64, {}),
    ("inception_v3", 96, {}),
    ("nasnet", 64, {"variant": "mobile", "num_cells": 2}),
    ("randwire", 64, {}),
    ("vit_moe", 64, {}),
)
HEURISTICS = ("sequential", "ios", "hios-lp")
EXTRA = ("model", "input_size", "device", "vs_forward", "vs_sequential", "outputs_ok", "mode")


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/bench_optimize.py " + " ".join(sys.argv[1:]),
        "python": _platform.python_version(), "torch": torch.__version__, "hios_opt": ho.__version__,
        "cpu": _platform.processor() or _platform.machine(), "cores": os.cpu_count(),
        "intra_op_threads": torch.get_num_threads(),
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    if torch.cuda.is_available():
        info.update(gpu=torch.cuda.get_device_name(0), cuda=torch.version.cuda, gpus=torch.cuda.device_count())
    return info


def _device_map(gpus: int, device: str) -> dict[int, str]:
    return {k: "cuda:0" for k in range(gpus)} if device == "cuda" else device_map_for(gpus, device)


def _executor(plan: Any, device: str) -> Any:
    if device == "cuda":
        return CudaExecutor(plan, cuda_graph=True, timing=False)
    return CpuExecutor(plan, intra_op_threads=1)


def bench_case(name: str, size: int, options: dict[str, Any], *, device: str, platforms: Any, time_limit: float,
               repeat: int, warmup: int, max_pairs: int, with_compile: bool, data: Path | None) -> list[dict]:
    started = time.perf_counter()
    prepared = prepare_model(name, input_size=size, device=device, options=options)
    timing = "kernel" if device == "cuda" else "launch"
    graph = profile_graph(prepared, threads=1 if device == "cpu" else None, max_pairs=max_pairs, timing=timing)
    if data is not None and device == "cuda":
        gpu = torch.cuda.get_device_name(0).split()[1].lower()  # "NVIDIA H100 80GB HBM3" -> "h100"
        graph.save(data / f"{name}_{size}_{gpu}-kernel.json")
    model, x = prepared.module, prepared.inputs
    reference = prepared.reference
    compiled = None
    if with_compile:
        compiled = torch.compile(model)
        with torch.no_grad():
            compiled(x)  # compile outside the timing
    print(f"{name} @ {size}: {graph.n_ops} ops, profiled in {time.perf_counter() - started:.0f} s", flush=True)
    rows: list[dict] = []
    base = {"model": name, "input_size": size, "device": device, "graph": graph.name, "ops": graph.n_ops}
    for gpus, streams in platforms:
        plat = ho.Platform(gpus=gpus, streams=streams)
        made: dict[str, tuple[Any, float, str]] = {}
        for algo in HEURISTICS:
            began = time.perf_counter()
            made[algo] = (ho.schedule(graph, plat, algo), time.perf_counter() - began, "heuristic")
        began = time.perf_counter()
        search = best_schedule(graph, plat, "portfolio", time_limit=time_limit)
        status = next(r["status"] for r in search.rows if r["chosen"])
        made[f"best:{search.algorithm}"] = (search.schedule, time.perf_counter() - began, status)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = optimize(model, x, gpus=gpus, streams=streams, costs=graph, time_limit=time_limit,
                              repeat=repeat, warmup=warmup, threads=1 if device == "cpu" else None)
        # on a GPU every logical GPU shares cuda:0, so that each plan replays as one CUDA graph
        executors = {algo: _executor(compile(prepared.traced, sched, _device_map(sched.gpus, device)), device)
                     for algo, (sched, _, _) in made.items()}
        calls = {algo: (lambda ex=ex: ex(x)) for algo, ex in executors.items()}
        calls["optimize()"] = lambda module=module: module(x)
        calls["forward"] = lambda: model(x)
        if compiled is not None:
            calls["torch.compile"] = lambda: compiled(x)
        with torch.no_grad():
            ok = {algo: outputs_match(ex(x).outputs, reference, device)[0] for algo, ex in executors.items()}
            ok["optimize()"] = outputs_match(module(x), reference, device)[0]
            ok["forward"] = True
            if compiled is not None:
                ok["torch.compile"] = outputs_match(compiled(x), reference, device)[0]
            times = time_calls(calls, device, warmup, repeat)
        for ex in executors.values():
            if isinstance(ex, CpuExecutor):
                ex.close()
        module.close()
        seq_ms = made["sequential"][0].makespan_ms
        for algo, measured in times.items():
            row: dict[str, Any] = {**base, "gpus": gpus, "streams": streams, "algorithm": algo}
            if algo in made:
                sched, seconds, status = made[algo]
                row.update(makespan_ms=sched.makespan_ms, lower_bound_ms=search.lower_bound_ms,
                           speedup=seq_ms / sched.makespan_ms, status=status, time_s=seconds,
                           predicted_ms=sched.makespan_ms)
            elif algo == "optimize()":
                row.update(makespan_ms=module.schedule.makespan_ms, lower_bound_ms=search.lower_bound_ms,
                           speedup=seq_ms / module.schedule.makespan_ms, status=module.mode,
                           mode=module.mode)
                predicted = {"scheduled": module.schedule.makespan_ms, "sequential": seq_ms}.get(module.mode)
                if predicted is not None:
                    row["predicted_ms"] = predicted
            row.update(measured_ms=measured, vs_forward=times["forward"] / measured,
                       vs_sequential=times["sequential"] / measured, outputs_ok=ok[algo])
            rows.append(result_row(**row))
        line = "  ".join(f"{a} {times[a]:.3f}" for a in times)
        print(f"  {gpus}x{streams}: {line} ms; optimize() chose {module.mode}", flush=True)
    return rows


# ------------------------------------------------------------------ tables
def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def markdown(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def summarize(out: Path, tag: str) -> Path:
    with open(out / f"optimize_{tag}.csv", newline="", encoding="utf-8") as fh:
        raw = list(csv.DictReader(fh))
    env = json.loads((out / f"optimize_{tag}.json").read_text())

    def num(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return math.nan

    cells: dict[tuple, dict[str, Any]] = {}
    for r in raw:
        key = (r["model"], int(r["input_size"]), int(r["gpus"]), int(r["streams"]))
        cell = cells.setdefault(key, {"model": key[0], "input": key[1], "K x S": f"{key[2]} x {key[3]}"})
        algo = r["algorithm"]
        label = "best" if algo.startswith("best:") else algo
        cell[f"{label} ms"] = num(r["measured_ms"])
        if label == "best":
            cell["best is"] = algo.split(":", 1)[1] + f" ({r['status']})"
        if algo == "optimize()":
            cell["optimize() chose"] = r["mode"]
            cell["optimize() vs forward"] = num(r["vs_forward"])
    table = list(cells.values())
    measured = ["forward ms", "sequential ms", "ios ms", "hios-lp ms", "best ms", "optimize() ms"]
    if any("torch.compile ms" in c for c in table):
        measured.append("torch.compile ms")
    columns = ["model", "input", "K x S", *measured, "best is", "optimize() chose", "optimize() vs forward"]
    errors = [r for r in raw if r["prediction_error"] not in ("", "nan")]
    abs_err = [abs(num(r["prediction_error"])) for r in errors]
    bad = [f"{r['model']} {r['input_size']} {r['gpus']}x{r['streams']} {r['algorithm']}" for r in raw
           if r["outputs_ok"] != "True"]
    fallback = [c for c in table if c.get("optimize() chose") == "forward"]
    slower = [c for c in table if c.get("optimize() ms", 0) > c.get("forward ms", math.inf) * 1.05]
    # where the module runs the plain forward, its row and the forward's row time the same code
    same = sorted(c["optimize() ms"] / c["forward ms"] for c in fallback if c.get("forward ms"))
    noise = (f" Where it did, its row and the forward's time the same code: their ratio ranges "
             f"{same[0]:.2f}-{same[-1]:.2f}, the noise of this machine during the run.") if same else ""
    text = [
        f"# optimize() benchmark ({tag})", "",
        f"Measured {env['date']} on {env.get('gpu') or env['cpu']} ({env['cores']} cores), torch {env['torch']}, "
        f"hios_opt {env['hios_opt']}; command: `{env['command']}`.", "",
        "Median latency (ms) of each plan (CUDA-graph replay on a GPU, worker threads with one intra-op thread "
        "each on a CPU), of optimize()'s module, of the plain forward and of torch.compile's default backend.",
        "", markdown(table, columns), "",
        f"Prediction error (evaluator against measured, plans only): median |error| "
        f"{statistics.median(abs_err):.1%} over {len(abs_err)} plans." if abs_err else "",
        f"optimize() ran the plain forward in {len(fallback)} of {len(table)} cells; its module measured more "
        f"than 5% slower than the plain forward in {len(slower)} (its decision and this table are timed "
        f"separately).{noise}",
        f"Outputs differing from the plain forward: {', '.join(bad) if bad else 'none'}.", "",
    ]
    path = out / f"optimize_{tag}.md"
    path.write_text("\n".join(text), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CPU, small inputs, 1x2 and 2x1 (minutes)")
    parser.add_argument("--models", default=None, help="comma-separated zoo models (default: all)")
    parser.add_argument("--sizes", default=None, help="comma-separated input sizes (default: the paper's)")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds of schedule search per platform")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per candidate")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--max-pairs", type=int, default=None, help="pairs to profile (default 200; --quick 30)")
    parser.add_argument("--compile", action="store_true", help="CPU: also time torch.compile (inductor; slow)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--data", type=Path, default=DATA, help="GPU: where the profiles are written")
    parser.add_argument("--summarize", action="store_true", help="only redo the .md from the .csv")
    parser.add_argument("--tag", default=None, help="file tag (default: gpu, or quick with --quick)")
    parser.add_argument("--append", action="store_true",
                        help="add rows to the CSV instead of starting it again (a GPU run in several sessions)")
    args = parser.parse_args(argv)
    tag = args.tag or ("quick" if args.quick else "gpu")
    if args.summarize:
        print(f"wrote {summarize(args.out, tag)}")
        return 0
    device = "cpu" if args.quick else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA GPU here; use --quick for the CPU run", file=sys.stderr)
        return 2
    if args.quick:
        torch.set_num_threads(1)  # one intra-op thread everywhere: forward, plans, profile
        cases = [c for c in QUICK_CASES if args.models is None or c[0] in args.models.split(",")]
        platforms, repeat = QUICK_PLATFORMS, args.repeat or 15
        max_pairs = 30 if args.max_pairs is None else args.max_pairs
    else:
        names = args.models.split(",") if args.models else zoo.names()
        cases = [(n, s, {}) for n in names for s in (
            [int(v) for v in args.sizes.split(",")] if args.sizes else zoo.info(n).paper_input_sizes)]
        platforms, repeat = GPU_PLATFORMS, args.repeat or 50
        max_pairs = 200 if args.max_pairs is None else args.max_pairs
        args.data.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"optimize_{tag}.json").write_text(json.dumps(machine(), indent=1) + "\n", encoding="utf-8")
    path = args.out / f"optimize_{tag}.csv"
    columns = list(COLUMNS) + list(EXTRA)
    append = args.append and path.exists()
    with open(path, "a" if append else "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        if not append:
            writer.writeheader()
        for name, size, options in cases:
            rows = bench_case(name, size, options, device=device, platforms=platforms, time_limit=args.time_limit,
                              repeat=repeat, warmup=args.warmup, max_pairs=max_pairs,
                              with_compile=args.compile or device == "cuda",
                              data=None if args.quick else args.data)
            writer.writerows(rows)
            fh.flush()
    print(f"wrote {path} and {summarize(args.out, tag)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
