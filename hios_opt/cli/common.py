"""Argument helpers shared by the subcommand modules."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from ..checks import printable, shorten
from ..costs import AnalyticModel, MeasuredModel, StageModel
from ..data import folder, load
from ..errors import FormatError, OptionError
from ..graph import OpGraph
from ..platform import Platform

__all__ = [
    "add_graph_argument", "load_graph", "add_platform_arguments", "platform_from_args", "cost_model_from_args",
    "emit_json", "bundled_data_dir", "check_output_paths", "shown",
]


def bundled_data_dir() -> Path:
    """The folder of the bundled graphs (:func:`hios_opt.data.folder`)."""
    return folder()


#: Arguments (``dest``) that name files a command reads, and files it writes.
INPUT_ARGS = {"graph": "the input graph", "schedule": "the input schedule", "graphs": "an input graph"}
OUTPUT_ARGS = {"output": "-o", "gantt": "--gantt", "csv": "--csv", "trace_out": "--trace-out"}


def _input_file(spec: str) -> Path | None:
    """The file a graph or schedule argument names (as :func:`load_graph`
    finds it), or ``None`` (``named:``, or no such file)."""
    if spec.startswith("named:"):
        return None
    for path in (Path(spec), bundled_data_dir() / spec):
        try:
            if path.is_file():
                return path
        except (OSError, ValueError):
            return None
    return None


def _same_file(a: str, b: str | Path) -> bool:
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
        return os.path.realpath(a) == os.path.realpath(b)
    except (OSError, ValueError):
        return False


def check_output_paths(args: argparse.Namespace) -> None:
    """Refuse, before any work, an output file that is one of the command's
    input files (``solve g.json -o g.json`` overwrote the graph with the
    schedule), two outputs that are one file, or an output whose folder does
    not exist (it is not created: ``-o /nonexistent/dir/x.json`` made folders
    at the root)."""
    outputs = [(flag, getattr(args, dest)) for dest, flag in OUTPUT_ARGS.items()
               if isinstance(getattr(args, dest, None), str)]
    for dest, what in INPUT_ARGS.items():
        specs = getattr(args, dest, None)
        for spec in specs if isinstance(specs, list) else [specs]:
            found = _input_file(spec) if isinstance(spec, str) else None
            for flag, out in outputs:
                if found is not None and os.path.exists(out) and _same_file(out, found):
                    raise OptionError(f"{flag} {shorten(out, 200)} is {what} ({shorten(spec, 200)}); refusing to "
                                      "overwrite it, write elsewhere")
    for i, (flag_a, a) in enumerate(outputs):
        for flag_b, b in outputs[i + 1:]:
            if _same_file(a, b):
                raise OptionError(f"{flag_a} and {flag_b} name one file, {shorten(a, 200)}; give each its own")
    for flag, out in outputs:
        folder = os.path.dirname(out) or "."
        if not os.path.isdir(folder):
            problem = "does not exist; create it first" if not os.path.lexists(folder) else "is not a folder"
            raise OptionError(f"{flag} {shorten(out, 200)}: its folder {shorten(folder, 200)} {problem}")


def add_graph_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "graph",
        help="graph JSON file, a bundled graph (e.g. models/inception_v3_299_h100.json; hios_opt.data.names() "
             "lists them), or a named teaching graph: named:diamond, named:fork-join, named:inception-block, ...",
    )


def load_graph(spec: str) -> OpGraph:
    """Load a graph from a path, a bundled name (relative to the bundled data
    folder) or ``named:NAME`` (:func:`hios_opt.data.load`)."""
    return load(spec)


def _int_at_least(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be >= {least}, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


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


def shown(value: Any) -> str:
    """``value`` as text for a line of plain output: control characters,
    newlines and lone surrogates escaped (a graph name can hold any of them)."""
    return printable(str(value), newlines=True)


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON, all or nothing: a value JSON cannot hold (NaN,
    infinity) is a :class:`FormatError` before anything is printed."""
    try:
        text = json.dumps(data, indent=1, allow_nan=False, default=str)
    except ValueError as exc:
        raise FormatError(f"cannot print the result as JSON ({exc})") from None
    sys.stdout.write(text + "\n")
