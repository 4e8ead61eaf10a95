"""Regenerate the bundled graphs under ``hios_opt/data/`` with the ``hios-opt`` command.

Every file is made by one ``hios-opt`` command (``profile`` for the models,
``generate`` for the random and named graphs); this script only lists those
commands and runs them in-process. ``hios_opt/data/README.md`` lists the same
commands.

Usage::

    python scripts/make_data.py                 # everything missing
    python scripts/make_data.py --force         # everything, overwriting
    python scripts/make_data.py --only random   # one group: models, cpu, random, small, cuda
    python scripts/make_data.py --list          # print the commands, run nothing

Estimated model costs are deterministic (same files on every machine, apart
from the ``date`` and ``torch_version`` in their meta); CPU measurements are
not, and take a few minutes. The ``cuda`` group measures on a GPU: it runs
only when named (``--only cuda``), on a machine with the GPU its files are
named after (``benchmarks/bench_gpu.py --data hios_opt/data/models`` runs the same
commands).
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "hios_opt" / "data"

# Estimated costs: every model at the HIOS paper's input sizes, on a V100 and an
# H100; Inception-v3 also at its native 299 (the demo's graph).
PAPER_SIZES = (331, 512, 768, 1280)
MODEL_SIZES = {
    "inception_v3": (299, *PAPER_SIZES),
    "nasnet": PAPER_SIZES,
    "randwire": PAPER_SIZES,
    "squeezenet": PAPER_SIZES,
}
GPUS = ("v100", "h100")

# GPU measurements (the cuda group): Inception-v3 at the paper's sizes on the GPU
# named, timed with launches (what the eager executor pays) and kernels alone
# (what a CUDA-graph replay pays).
CUDA_GPU = "h100"
CUDA_SIZES = (299, *PAPER_SIZES)
CUDA_TIMINGS = ("launch", "kernel")
CUDA_ARGS = ("--repeat", "10", "--warmup", "3", "--max-pairs", "200", "--threads", "1", "--no-cache", "--quiet")


def cuda_command(model: str, size: int, timing: str, gpu: str = CUDA_GPU) -> tuple[str, list[str]]:
    """(bundled name, hios-opt argv) of one GPU measurement."""
    out = f"models/{model}_{size}_{gpu}-{timing}.json"
    return out, ["profile", model, "--input-size", str(size), "--device", "cuda:0", "--timing", timing,
                 *CUDA_ARGS, "-o", f"hios_opt/data/{out}"]

# CPU measurements: every model at a small input, one thread, modest repeats and
# at most 200 concurrent pairs, so that all four take a few minutes.
CPU_SIZE = 128
CPU_ARGS = ("--repeat", "5", "--warmup", "2", "--max-pairs", "200", "--threads", "1", "--no-cache", "--quiet")

# The paper's simulation sweep: nodes, edges = 2 x nodes, CCR 0.2 .. 1.2, one
# seed; layers = round(sqrt(nodes)) keeps layers about as wide as the graph is deep.
RANDOM_NODES = (50, 100, 200, 500, 1000)
RANDOM_CCRS = (0.2, 0.4, 0.6, 0.8, 1.0, 1.2)
RANDOM_SEED = 0


def random_layers(nodes: int) -> int:
    """Layers of a random graph with ``nodes`` ops."""
    return round(math.sqrt(nodes))


def commands() -> dict[str, list[tuple[str, list[str]]]]:
    """Group -> [(bundled name, hios-opt argv)]."""
    from hios_opt.generators import NAMED

    groups: dict[str, list[tuple[str, list[str]]]] = {"models": [], "cpu": [], "random": [], "small": [],
                                                      "cuda": []}
    for model, sizes in MODEL_SIZES.items():
        for size in sizes:
            for gpu in GPUS:
                out = f"models/{model}_{size}_{gpu}.json"
                groups["models"].append((out, ["profile", model, "--input-size", str(size),
                                               "--device", f"estimate:{gpu}", "-o", f"hios_opt/data/{out}"]))
    for model in MODEL_SIZES:
        out = f"models/{model}_{CPU_SIZE}_cpu.json"
        groups["cpu"].append((out, ["profile", model, "--input-size", str(CPU_SIZE), "--device", "cpu",
                                    *CPU_ARGS, "-o", f"hios_opt/data/{out}"]))
    for size in CUDA_SIZES:
        for timing in CUDA_TIMINGS:
            groups["cuda"].append(cuda_command("inception_v3", size, timing))
    for nodes in RANDOM_NODES:
        layers = random_layers(nodes)
        for ccr in RANDOM_CCRS:
            out = f"random/layered_n{nodes}_e{2 * nodes}_l{layers}_ccr{ccr:.1f}_s{RANDOM_SEED}.json"
            groups["random"].append((out, ["generate", "--nodes", str(nodes), "--edges", str(2 * nodes),
                                           "--layers", str(layers), "--ccr", f"{ccr:g}",
                                           "--seed", str(RANDOM_SEED), "-o", f"hios_opt/data/{out}"]))
    for name in NAMED:
        out = f"small/{name}.json"
        groups["small"].append((out, ["generate", "--named", name, "-o", f"hios_opt/data/{out}"]))
    return groups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=("models", "cpu", "random", "small", "cuda"),
                        help="regenerate only this group (repeatable; cuda runs only when named)")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.add_argument("--list", action="store_true", help="print the commands and exit")
    args = parser.parse_args(argv)

    from hios_opt.cli import main as hios_opt

    failures = 0
    for group, items in commands().items():
        if (args.only and group not in args.only) or (group == "cuda" and not args.only and not args.list):
            continue
        for out, cmd in items:
            line = "hios-opt " + shlex.join(cmd)
            if args.list:
                print(line)
                continue
            if (DATA / out).exists() and not args.force:
                continue
            print(f"$ {line}", flush=True)
            start = time.perf_counter()
            # The commands name hios_opt/data/... relative to the repository root.
            code = hios_opt([c if not c.startswith("hios_opt/data/") else str(ROOT / c) for c in cmd])
            print(f"  ({time.perf_counter() - start:.1f} s)", flush=True)
            failures += code != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
