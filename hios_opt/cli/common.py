"""Argument helpers shared by the subcommand modules."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from ..costs import AnalyticModel, MeasuredModel, StageModel
from ..errors import OptionError
from ..graph import OpGraph
from ..platform import Platform

__all__ = [
    "add_graph_argument", "load_graph", "add_platform_arguments", "platform_from_args", "cost_model_from_args",
    "emit_json", "bundled_data_dir",
]


def bundled_data_dir() -> Path:
    """The folder of the bundled graphs (:func:`hios_opt.data.folder`)."""
    from ..data import folder

    return folder()


def add_graph_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "graph",
        help="graph JSON file, a bundled graph (e.g. models/inception_v3_299_h100.json; hios_opt.data.names() "
             "lists them), or a named teaching graph: named:diamond, named:fork-join, named:inception-block, ...",
    )


def load_graph(spec: str) -> OpGraph:
    """Load a graph from a path, a bundled name (relative to the bundled data
    folder) or ``named:NAME`` (:func:`hios_opt.data.load`)."""
    from ..data import load

    return load(spec)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


positive_int = _positive_int
finite_float = _finite_float


def add_platform_arguments(parser: argparse.ArgumentParser, *, gpus_default: int | None = 1,
                           streams_default: int | None = 1) -> None:
    group = parser.add_argument_group("platform")
    schedules = "the schedule's"
    group.add_argument("--gpus", "-k", type=_positive_int, default=gpus_default,
                       help=f"number of GPUs K (default {gpus_default or schedules})")
    group.add_argument("--streams", "-s", type=_positive_int, default=streams_default,
                       help=f"concurrent streams per GPU S (default {streams_default or schedules})")
    group.add_argument("--bandwidth", type=_finite_float, default=16.0, metavar="GBPS",
                       help="link bandwidth in GB/s for edges without comm_ms (default 16)")
    group.add_argument("--link-latency", type=_finite_float, default=10.0, metavar="US",
                       help="link latency in microseconds (default 10)")
    group.add_argument("--alpha", type=_finite_float, default=0.5,
                       help="analytic contention model parameter in [0, 1] (default 0.5)")


def platform_from_args(args: argparse.Namespace, *, gpus: int | None = None, streams: int | None = None) -> Platform:
    return Platform(
        gpus=gpus if gpus is not None else args.gpus,
        streams=streams if streams is not None else args.streams,
        bandwidth_gbps=args.bandwidth,
        latency_us=args.link_latency,
    )


def cost_model_from_args(args: argparse.Namespace) -> StageModel:
    alpha = getattr(args, "alpha", 0.5)
    if not 0.0 <= alpha <= 1.0:
        raise OptionError(f"--alpha must be in [0, 1], got {alpha}")
    return MeasuredModel(AnalyticModel(alpha))


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=1, allow_nan=False, default=str)
    sys.stdout.write("\n")
