"""Executor overhead: a sequential plan on one device vs the module's forward.

For each model the benchmark times, interleaved round by round so that load
changes hit both alike:

* ``forward``: ``model(x)`` under ``torch.no_grad()``;
* ``cpu``: the sequential plan (one GPU, one stream) on the CPU backend,
  i.e. one worker thread fed through events, every operator through
  ``TracedGraph.run_op``;
* ``engine``: the same plan through the CUDA backend's stream engine on
  synchronous CPU streams (the code path a GPU run takes, minus CUDA).

It reports the median and minimum wall time and the median *process CPU
time* (with one intra-op thread, CPU time is what the executor costs, and
it is immune to other processes stealing the cores of a shared machine),
the overhead in percent of the forward pass
(target: within 10% on CPU at batch 1) and per operator in microseconds,
prints a table and writes ``benchmarks/results/bench_executor.csv``. A chain of tiny
linear layers isolates the per-operator dispatch cost.

Usage::

    python benchmarks/bench_executor.py            # zoo models at small inputs
    python benchmarks/bench_executor.py --quick    # seconds
    python benchmarks/bench_executor.py --threads 2
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from hios_opt import Schedule
from hios_opt.executor import CpuExecutor, CudaExecutor, SyncStreams, compile
from hios_opt.trace import trace

RESULTS = Path(__file__).resolve().parent / "results"


class Chain(nn.Module):
    """``n`` tiny linear layers in a row: the executor's cost dominates."""

    def __init__(self, n: int, width: int = 8) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def cases(quick: bool) -> list[tuple[str, nn.Module, torch.Tensor]]:
    torch.manual_seed(0)
    out: list[tuple[str, nn.Module, torch.Tensor]] = [("chain-200 (8x8 linear)", Chain(200).eval(), torch.randn(1, 8))]
    try:
        import hios_opt.models as zoo
    except ImportError:
        return out
    sizes = {"squeezenet": 64} if quick else {"squeezenet": 224, "inception_v3": 299, "randwire": 224}
    for name, size in sizes.items():
        if name in zoo.names():
            model = zoo.get(name, input_size=size)
            out.append((f"{name}@{size}", model, model.example_input()))
    return out


def _timed(fn, x: torch.Tensor) -> tuple[float, float]:
    """Wall time and process CPU time of one call, in ms."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(x)
    return (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3


def measure(name: str, model: nn.Module, x: torch.Tensor, rounds: int) -> dict[str, object]:
    traced = trace(model, x, name=name)
    plan = compile(traced, Schedule.sequential(traced.ids))
    engine = CudaExecutor(plan, api=SyncStreams(), timing=False)
    wall: dict[str, list[float]] = {"forward": [], "cpu": [], "engine": []}
    cpu: dict[str, list[float]] = {"forward": [], "cpu": [], "engine": []}
    with CpuExecutor(plan) as executor, torch.no_grad():
        paths = {"forward": model, "cpu": executor, "engine": engine}
        for _ in range(2):  # warm-up: allocator, op functions, caches
            for fn in paths.values():
                fn(x)
        for _ in range(rounds):
            for path, fn in paths.items():
                w, c = _timed(fn, x)
                wall[path].append(w)
                cpu[path].append(c)
    n_ops = len(traced.ops)
    row: dict[str, object] = {"model": name, "ops": n_ops, "threads": torch.get_num_threads(), "rounds": rounds}
    for stat, values in (
        ("median", {k: statistics.median(v) for k, v in wall.items()}),
        ("min", {k: min(v) for k, v in wall.items()}),
        ("cputime", {k: statistics.median(v) for k, v in cpu.items()}),
    ):
        row[f"forward_{stat}_ms"] = values["forward"]
        for path in ("cpu", "engine"):
            row[f"{path}_{stat}_ms"] = values[path]
            row[f"{path}_{stat}_overhead_pct"] = 100.0 * (values[path] - values["forward"]) / values["forward"]
            row[f"{path}_{stat}_us_per_op"] = 1e3 * (values[path] - values["forward"]) / n_ops
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small models, few rounds")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per model")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: stable on shared machines)")
    parser.add_argument("--out", type=Path, default=RESULTS / "bench_executor.csv")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rounds = args.rounds or (20 if args.quick else 12)
    rows = [measure(name, model, x, rounds) for name, model, x in cases(args.quick)]
    header = (f"{'model':<24}{'ops':>5}{'stat':>8}{'forward ms':>12}{'cpu ms':>10}{'over %':>8}{'us/op':>8}"
              f"{'engine ms':>11}{'over %':>8}{'us/op':>8}")
    print(header)
    print("-" * len(header))
    for r in rows:
        for stat in ("median", "min", "cputime"):
            print(
                f"{r['model'] if stat == 'median' else '':<24}{r['ops'] if stat == 'median' else '':>5}{stat:>8}"
                f"{r[f'forward_{stat}_ms']:>12.3f}{r[f'cpu_{stat}_ms']:>10.3f}"
                f"{r[f'cpu_{stat}_overhead_pct']:>8.1f}{r[f'cpu_{stat}_us_per_op']:>8.1f}"
                f"{r[f'engine_{stat}_ms']:>11.3f}{r[f'engine_{stat}_overhead_pct']:>8.1f}"
                f"{r[f'engine_{stat}_us_per_op']:>8.1f}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
