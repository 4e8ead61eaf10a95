"""GPU benchmark: measured costs, stream concurrency, predicted vs measured.

Needs a CUDA GPU. For each model and input size (default: the HIOS paper's
Inception-v3 at 299, 331, 512, 768 and 1280 px, batch 1) it

1. profiles the model on ``cuda:0`` twice, with the ``hios-opt profile``
   command that ``scripts/make_data.py`` lists in its ``cuda`` group (200
   concurrent pairs, 10 sweeps): ``--timing launch`` (op times include
   Python's launch pace, what the eager executor pays) and ``--timing
   kernel`` (the kernels alone, what a CUDA-graph replay pays), writing
   ``{model}_{size}_{gpu}-{timing}.json`` to ``--data`` (default: a
   temporary folder);
2. times the model's own forward pass, eager and captured in a CUDA graph
   (the reference for the executor's overhead);
3. for each platform ``(K, S)`` schedules the graph with every algorithm
   and runs each plan on the CUDA executor
   (:func:`hios_opt.realbench.bench_real`), eager against the launch
   profile and as CUDA-graph replays against the kernel profile. With one
   GPU, ``K = 2`` logical GPUs share the device (their streams compete for
   the same SMs, which the prediction for two GPUs does not know).

Rows go to ``gpu_predicted.csv`` as they are made (a run cut short keeps
what it finished), the forward times to ``gpu_forward.csv``, the machine
to ``gpu_env.json``; ``gpu_summary.md`` holds the tables and
``gpu_speedup.png`` plots the measured speedups and predicted against
measured latency (``--summarize`` redoes both from the CSVs, no GPU needed).

Usage::

    python benchmarks/bench_gpu.py --out benchmarks/results --data hios_opt/data/models
    python benchmarks/bench_gpu.py --quick             # one small case, seconds
    python benchmarks/bench_gpu.py --summarize         # tables and plot from the CSVs, no GPU
    python benchmarks/bench_gpu.py --cases inception_v3:299,randwire:512 --exact-limit 20

The numbers in ``benchmarks/results/gpu_*`` come from one run with
``--exact-limit 10`` on an H100 (2026-11-23). That run profiled through
:func:`hios_opt.realbench.profile_graph` with the settings of the ``cuda``
group (cuda:0, one thread, 10 sweeps after 3, 200 pairs, measured link),
before the script called the command itself; its graphs are the
``hios_opt/data/models/inception_v3_*_h100-{launch,kernel}.json`` files.
"""

from __future__ import annotations

import argparse
import csv
import functools
import importlib.util
import json
import platform as _platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from hios_opt import OpGraph
from hios_opt.cli import main as hios_opt
from hios_opt.realbench import bench_real, prepare_model

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(__file__).resolve().parent.parent / "hios_opt" / "data" / "models"

#: The HIOS paper's Inception-v3 input sizes, and its native one.
DEFAULT_CASES = tuple(("inception_v3", size) for size in (299, 331, 512, 768, 1280))
QUICK_CASES = (("squeezenet", 64),)

#: (K, S, algorithms): one GPU with 2 and 3 streams (IOS's setting), two logical GPUs.
PLATFORMS = (
    (1, 2, "sequential,ios,hios-lp"),
    (1, 3, "sequential,ios,hios-lp"),
    (2, 1, "sequential,heft,hios-mr,hios-lp"),
    (2, 2, "sequential,ios,heft,hios-mr,hios-lp"),
)

#: Eager runs are launch-bound and noisy at batch 1: fewer platforms.
EAGER_PLATFORMS = ((1, 2), (2, 2))

FIELDS = ["model", "input_size", "mode", "gpus", "streams", "algorithm", "predicted_ms", "measured_ms", "speedup",
          "predicted_speedup", "error_pct", "p10_ms", "p90_ms", "runs", "stages", "gpus_used", "outputs_ok",
          "max_abs_diff", "status", "schedule_s", "shared_device"]


@functools.cache
def _make_data():
    """``scripts/make_data.py``: the one definition of the profile commands (loaded once)."""
    spec = importlib.util.spec_from_file_location("make_data", DATA.parents[2] / "scripts" / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gpu_slug() -> str:
    """``h100`` for "NVIDIA H100 80GB HBM3", ``h200`` for "NVIDIA H200" ..."""
    name = torch.cuda.get_device_name(0)
    match = re.search(r"\b([A-Z]\d{2,4}[A-Za-z]*)\b", name)
    return (match.group(1) if match else re.sub(r"\W+", "", name)).lower()


def environment() -> dict[str, object]:
    props = torch.cuda.get_device_properties(0)
    return {
        "gpu": torch.cuda.get_device_name(0), "gpus_visible": torch.cuda.device_count(),
        "multiprocessors": props.multi_processor_count, "memory_gib": round(props.total_memory / 2**30, 1),
        "torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
        "python": _platform.python_version(), "host": _platform.node(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def forward_times(module: torch.nn.Module, x: torch.Tensor, repeat: int = 50) -> dict[str, float]:
    """Median ms of ``module(x)``: eager, and replayed from a CUDA graph."""
    def timed(fn) -> float:
        for _ in range(5):
            fn()
        torch.cuda.synchronize()
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            samples.append((time.perf_counter() - start) * 1e3)
        return statistics.median(samples)

    with torch.no_grad():
        eager = timed(lambda: module(x))
        static = x.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                module(static)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            module(static)
        replay = timed(graph.replay)
    return {"forward_eager_ms": eager, "forward_graph_ms": replay}


def _append(path: Path, rows: list[dict[str, object]], fields: list[str]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerows(rows)


def run_case(model: str, size: int, args: argparse.Namespace, slug: str) -> None:
    prepared = prepare_model(model, input_size=size, device="cuda")
    print(f"\n== {model} @ {size} px: {len(prepared.traced.ops)} ops", flush=True)
    fwd = forward_times(prepared.module, prepared.inputs)
    graphs = {}
    for timing in ("launch", "kernel"):
        started = time.perf_counter()
        out, argv = _make_data().cuda_command(model, size, timing, slug)
        path = args.data / Path(out).name
        if hios_opt(argv[:-1] + [str(path)]) != 0:
            raise RuntimeError(f"hios-opt {' '.join(argv)} failed")
        graph = graphs[timing] = OpGraph.load(path)
        print(f"   profile {timing:6s}: op sum {graph.meta['op_sum_ms']:.3f} ms, sweep {graph.meta['sweep_median_ms']:.3f}"
              f" ms, event scale {graph.meta.get('event_scale', 1.0):.3f}, {graph.meta['measured_pairs']} pairs ({graph.meta['clamped_groups']} clamped), "
              f"{time.perf_counter() - started:.1f} s", flush=True)
    _append(args.out / "gpu_forward.csv", [{
        "model": model, "input_size": size, "ops": len(prepared.traced.ops), **fwd,
        "op_sum_launch_ms": graphs["launch"].meta["op_sum_ms"], "op_sum_kernel_ms": graphs["kernel"].meta["op_sum_ms"],
        "sweep_launch_ms": graphs["launch"].meta["sweep_median_ms"],
        "plain_sweep_kernel_ms": graphs["kernel"].meta.get("plain_sweep_ms"),
        "event_scale": graphs["kernel"].meta.get("event_scale"), "plain_sweep": graphs["kernel"].meta.get("plain_sweep"),
        "lead_ms": graphs["kernel"].meta.get("lead_ms"), "uncovered_regions": graphs["kernel"].meta.get("uncovered_regions"),
        "link_gbps": graphs["kernel"].meta.get("link", {}).get("bandwidth_gbps"),
        "link_latency_ms": graphs["kernel"].meta.get("link", {}).get("latency_ms"),
    }], ["model", "input_size", "ops", "forward_eager_ms", "forward_graph_ms", "op_sum_launch_ms", "op_sum_kernel_ms",
         "sweep_launch_ms", "plain_sweep_kernel_ms", "event_scale", "plain_sweep", "lead_ms", "uncovered_regions", "link_gbps", "link_latency_ms"])
    print(f"   forward: eager {fwd['forward_eager_ms']:.3f} ms, CUDA graph {fwd['forward_graph_ms']:.3f} ms", flush=True)
    shared = torch.cuda.device_count() < 2
    for mode, timing, cuda_graph in (("eager", "launch", False), ("graph", "kernel", True)):
        for gpus, streams, algos in PLATFORMS:
            if not cuda_graph and (gpus, streams) not in EAGER_PLATFORMS:
                continue
            if args.exact_limit > 0 and cuda_graph and (gpus, streams) in ((1, 2), (2, 2)):
                algos += ",exact:astar"
            df = bench_real(model, input_size=size, gpus=gpus, streams=streams, device="cuda", algorithms=algos,
                            repeat=args.runs, rounds=3, warmup=3, graph=graphs[timing], prepared=prepared,
                            cuda_graph=cuda_graph, timing=timing, time_limit=max(args.exact_limit, 1.0))
            rows = []
            for row in df.to_dict(orient="records"):
                row.update(model=model, input_size=size, mode=mode, shared_device=shared and gpus > 1)
                # gpu_predicted.csv keeps the columns of its earlier runs: measured speedup, predicted speedup,
                # error_pct = 100 (predicted - measured) / measured, schedule_s.
                row.update(speedup=row["measured_speedup"], predicted_speedup=row["speedup"], schedule_s=row["time_s"],
                           error_pct=100 * (row["predicted_ms"] - row["measured_ms"]) / row["measured_ms"])
                rows.append(row)
                print(f"   {mode:5s} K={gpus} S={streams} {row['algorithm']:12s} predicted {row['predicted_ms']:8.3f}"
                      f"  measured {row['measured_ms']:8.3f}  speedup {row['speedup']:.3f}"
                      f"  error {row['error_pct']:+6.1f}%  ok={row['outputs_ok']} {row['status']}", flush=True)
            _append(args.out / "gpu_predicted.csv", rows, FIELDS)


def _markdown(df) -> str:
    def cell(v: object) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def summarize(out: Path) -> str:
    """Markdown tables from the CSVs in ``out``."""
    import pandas as pd

    lines = []
    env = out / "gpu_env.json"
    if env.exists():
        e = json.loads(env.read_text())
        lines.append(f"Measured on {e['gpu']} ({e['multiprocessors']} SMs), torch {e['torch']}, CUDA {e['cuda']}, "
                     f"{e['date']}; batch 1, fp32.\n")
    fwd_path, pred_path = out / "gpu_forward.csv", out / "gpu_predicted.csv"
    if fwd_path.exists():
        fwd = pd.read_csv(fwd_path)
        lines.append("## Forward pass and op sums (ms)\n")
        lines.append(_markdown(fwd))
        lines.append("")
    if pred_path.exists():
        df = pd.read_csv(pred_path)
        lines.append("## Predicted vs measured (ms; speedup over the sequential plan of the same mode)\n")
        cols = ["model", "input_size", "mode", "gpus", "streams", "algorithm", "predicted_ms", "measured_ms",
                "speedup", "predicted_speedup", "error_pct", "outputs_ok"]
        lines.append(_markdown(df[cols]))
        lines.append("")
        errs = df[df.algorithm != "sequential"]
        for (mode, shared), part in errs.groupby(["mode", "shared_device"]):
            lines.append(f"- {mode}, {'logical GPUs sharing one device' if shared else 'one GPU'}: median |error| "
                         f"{part.error_pct.abs().median():.1f}% over {len(part)} plans; best measured speedup "
                         f"{part.speedup.max():.3f}")
    return "\n".join(lines) + "\n"


def plot(out: Path) -> Path | None:
    """``gpu_speedup.png``: CUDA-graph speedups per input size, and predicted vs measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    path = out / "gpu_predicted.csv"
    if not path.exists():
        return None
    df = pd.read_csv(path)
    replay = df[df["mode"] == "graph"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for (gpus, streams, algo), part in replay.groupby(["gpus", "streams", "algorithm"]):
        if algo == "sequential" or (gpus, streams) not in ((1, 2), (2, 2)):
            continue
        style = "-" if gpus == 1 else "--"
        ax1.plot(part["input_size"], part["speedup"], style, marker="o", label=f"{algo}, {gpus}x{streams}")
    ax1.axhline(1.0, color="k", linewidth=0.8)
    ax1.set(xlabel="input size (px)", ylabel="speedup over the sequential plan",
            title="measured, CUDA-graph replays (K x S; K=2 shares one GPU)")
    ax1.legend(fontsize=7, ncol=2)
    for mode, marker in (("graph", "o"), ("eager", "x")):
        part = df[df["mode"] == mode]
        ax2.scatter(part["predicted_ms"], part["measured_ms"], marker=marker, s=18, label=mode)
    top = float(max(df["predicted_ms"].max(), df["measured_ms"].max())) * 1.05
    ax2.plot([0, top], [0, top], "k--", linewidth=0.8, label="measured = predicted")
    ax2.set(xscale="log", yscale="log", xlabel="predicted (ms)", ylabel="measured (ms)",
            title="every plan: eager (launch profile) and replayed (kernel profile)")
    ticks = [t for t in (0.5, 1, 2, 5, 10, 20, 50) if t <= top]
    ax2.minorticks_off()
    ax2.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax2.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax2.legend(fontsize=8)
    fig.tight_layout()
    png = out / "gpu_speedup.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=None, metavar="MODEL:SIZE,...",
                        help="models and input sizes (default: inception_v3 at 299, 331, 512, 768, 1280)")
    parser.add_argument("--quick", action="store_true", help="squeezenet at 64 px only")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the CSVs and summary go")
    parser.add_argument("--data", type=Path, default=None,
                        help="where the profiled graphs go (e.g. hios_opt/data/models; default: a temporary folder)")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per plan, over 3 rounds (default 30)")
    parser.add_argument("--exact-limit", type=float, default=0.0,
                        help="seconds for an exact:astar row on K x S = 1x2 and 2x2, CUDA-graph mode (default 0: none)")
    parser.add_argument("--summarize", action="store_true",
                        help="only rewrite gpu_summary.md and gpu_speedup.png from the CSVs in --out")
    args = parser.parse_args(argv)
    if args.summarize:
        (args.out / "gpu_summary.md").write_text(summarize(args.out))
        print(summarize(args.out))
        print(f"wrote {args.out / 'gpu_summary.md'} and {plot(args.out)}")
        return 0
    if not torch.cuda.is_available():
        print("error: bench_gpu.py needs a CUDA GPU", file=sys.stderr)
        return 2
    if args.quick:
        cases = list(QUICK_CASES)
    elif args.cases:
        cases = [(c.split(":")[0], int(c.split(":")[1])) for c in args.cases.split(",")]
    else:
        cases = list(DEFAULT_CASES)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in ("gpu_predicted.csv", "gpu_forward.csv"):
        (args.out / name).unlink(missing_ok=True)
    env = environment()
    (args.out / "gpu_env.json").write_text(json.dumps(env, indent=2) + "\n")
    print(json.dumps(env), flush=True)
    slug = gpu_slug()
    with tempfile.TemporaryDirectory() as scratch:
        if args.data is None:
            args.data = Path(scratch)
        args.data.mkdir(parents=True, exist_ok=True)
        for model, size in cases:
            run_case(model, size, args, slug)
            (args.out / "gpu_summary.md").write_text(summarize(args.out))
    print("\n" + summarize(args.out))
    print(f"wrote {plot(args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
