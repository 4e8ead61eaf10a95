"""``hios-opt models`` and ``hios-opt profile``: the model zoo on the command line.

``models`` lists the zoo. ``profile`` builds a zoo model, traces it into
operators, and either measures its costs on a device (``cpu``, ``cuda``,
``cuda:N``, through :func:`hios_opt.profile.measure_costs`) or estimates
them for a named GPU (``estimate:h100`` ..., through
:func:`hios_opt.estimate.estimate_costs`), and writes a graph JSON whose
``meta`` says how it was made. Both import torch inside their handlers only.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from typing import Any

from ..devices import check_device
from ..errors import OptionError, ProfileError
from .common import emit_json, positive_int

#: Estimate devices and links, named here so that building the parser stays cheap
#: (the tables live in hios_opt.estimate; a test checks that they agree).
ESTIMATE_DEVICES = ("v100", "a100", "h100", "h200")
LINK_NAMES = ("auto", "nvlink2", "nvlink3", "nvlink4", "pcie3", "pcie4", "pcie5", "none")
DTYPE_NAMES = ("fp16", "bf16", "tf32", "fp32")
GRANULARITIES = ("block", "module")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the model zoo (the HIOS paper's CNNs)",
                       description="List the models that 'hios-opt profile' can trace: name, default and "
                                   "minimum input size, the paper's input sizes, description.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_models)

    devices = ", ".join(f"estimate:{d}" for d in ESTIMATE_DEVICES)
    p = sub.add_parser(
        "profile", help="trace a zoo model and measure or estimate its costs into a graph JSON",
        description="Build a zoo model, trace it into operators, measure its costs on a device (cpu, cuda, "
                    f"cuda:N) or estimate them for a named GPU ({devices}), and write a graph JSON.",
    )
    p.add_argument("model", help="zoo model name (see 'hios-opt models')")
    p.add_argument("--input-size", type=int, default=None, metavar="N",
                   help="input height = width in pixels (default: the model's default)")
    p.add_argument("--batch", type=int, default=1, metavar="B", help="batch size (default 1)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="model option, e.g. version=1.1 for squeezenet or setting=regular for randwire "
                        "(repeatable)")
    p.add_argument("--device", default="cpu",
                   help=f"cpu, cuda, cuda:N (measure) or {devices} (estimate); default cpu")
    p.add_argument("--granularity", default="block",
                   help="block (conv+bn+relu is one op, default) or module (one op per leaf module)")
    group = p.add_argument_group("measurement (cpu, cuda)")
    group.add_argument("--repeat", type=positive_int, default=10, metavar="N",
                       help="timed runs per measurement, median kept (default 10)")
    group.add_argument("--warmup", type=int, default=3, metavar="N", help="untimed runs first (default 3)")
    group.add_argument("--max-pairs", default="200", metavar="N|all",
                       help="measure at most N concurrent pairs of independent ops, closest in depth first "
                            "(default 200; 0 for none, 'all' for every pair)")
    group.add_argument("--no-link", action="store_true",
                       help="do not measure the transfer curve (edges keep bytes only)")
    group.add_argument("--no-cache", action="store_true", help="neither read nor write the profile cache")
    group.add_argument("--threads", type=positive_int, default=None, metavar="N",
                       help="torch intra-op threads while measuring (default: torch's)")
    group.add_argument("--timing", choices=("launch", "kernel"), default="launch",
                       help="cuda: time ops with their launches, as the eager executor runs them (launch, "
                            "default), or the kernels alone, as a CUDA-graph replay runs them (kernel)")
    group = p.add_argument_group("estimate (estimate:GPU)")
    group.add_argument("--dtype", default="fp16", help=f"{', '.join(DTYPE_NAMES)} (default fp16)")
    group.add_argument("--link", default="auto",
                       help=f"link that prices edges: {', '.join(LINK_NAMES)} (default auto: the GPU's NVLink; "
                            "none: edges keep bytes only)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="graph JSON file to write")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(handler=cmd_profile)


# ------------------------------------------------------------------ models
def cmd_models(args: argparse.Namespace) -> int:
    import hios_opt.models as zoo

    rows: list[dict[str, Any]] = []
    for name in zoo.names():
        info = zoo.info(name)
        rows.append({
            "name": info.name,
            "default_input_size": info.default_input_size,
            "min_input_size": info.min_input_size,
            "paper_input_sizes": list(info.paper_input_sizes),
            "description": info.description,
            "options": dict(info.options),
        })
    if args.json:
        emit_json(rows)
        return 0
    print(f"{'model':<14}{'default':>8}{'min':>6}  {'paper sizes':<20}description")
    for row in rows:
        sizes = ",".join(map(str, row["paper_input_sizes"]))
        print(f"{row['name']:<14}{row['default_input_size']:>8}{row['min_input_size']:>6}  {sizes:<20}"
              f"{row['description']}")
    return 0


# ----------------------------------------------------------------- profile
def _split_options(items: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"--option expects KEY=VALUE, got {item!r}")
        options[key.strip()] = text.strip()
    return options


def _convert_options(options: dict[str, str], defaults: dict[str, Any]) -> dict[str, Any]:
    """Give each option value the type of its default (numbers when the default is None)."""
    out: dict[str, Any] = {}
    for key, text in options.items():
        default = defaults.get(key)
        value: Any = text
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise OptionError(f"--option {key}: expected true or false, got {text!r}")
            value = text.lower() in ("true", "1")
        elif not isinstance(default, str):
            kinds = (int,) if isinstance(default, int) else (float,) if isinstance(default, float) else (int, float)
            for convert in kinds:
                try:
                    value = convert(text)
                    break
                except ValueError:
                    continue
            else:
                if default is not None:
                    raise OptionError(f"--option {key}: expected a value of type {type(default).__name__}, got {text!r}")
        out[key] = value
    return out


def _max_pairs(text: str) -> int | None:
    if text.strip().lower() == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise OptionError(f"--max-pairs must be an integer >= 0 or 'all', got {text!r}")
    return value


def _check_device(device: str) -> str:
    """Validate ``--device`` before any work; return ``"estimate"`` or ``"measure"``."""
    text = device.strip().lower()
    if text.startswith("estimate:"):
        from ..estimate import get_device

        get_device(text)
        return "estimate"
    try:
        check_device(text, error=ProfileError)
    except ProfileError as exc:
        estimates = ", ".join(f"estimate:{d}" for d in ESTIMATE_DEVICES)
        raise ProfileError(f"{exc}; or estimate with {estimates}") from None
    return "measure"


def cmd_profile(args: argparse.Namespace) -> int:
    mode = _check_device(args.device)
    raw_options = _split_options(args.option)
    max_pairs = _max_pairs(args.max_pairs)
    if args.warmup < 0:
        raise OptionError(f"--warmup must be >= 0, got {args.warmup}")
    link = None if args.link.strip().lower() == "none" else args.link
    if args.granularity not in GRANULARITIES:
        raise OptionError(f"--granularity must be one of {', '.join(GRANULARITIES)}, got {args.granularity!r}")
    if args.timing == "kernel" and not args.device.strip().lower().startswith("cuda"):
        raise OptionError(f"--timing kernel needs a cuda device (it separates kernels from launches), "
                          f"not {args.device!r}")
    if mode == "estimate":
        from ..estimate import get_device, get_link

        spec = get_device(args.device)
        spec.matrix_tflops(args.dtype)  # an unknown dtype, or one the GPU lacks, fails here
        if link is not None:
            get_link(link, spec)

    import torch

    import hios_opt.models as zoo
    from hios_opt import __version__
    from hios_opt.trace import trace

    info = zoo.info(args.model)
    options = _convert_options(raw_options, dict(info.options))
    input_size = args.input_size if args.input_size is not None else info.default_input_size
    model = zoo.get(info.name, input_size=input_size, batch_size=args.batch, **options)
    example = model.example_input()
    traced = trace(model, example, granularity=args.granularity, name=info.name)
    name = f"{info.name}_{input_size}"
    common = {
        "model": info.name,
        "model_options": options,
        "input_size": input_size,
        "batch_size": args.batch,
        "hios_opt_version": __version__,
        "torch_version": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if mode == "estimate":
        from ..estimate import estimate_costs

        graph = estimate_costs(traced, args.device, dtype=args.dtype, link=link, name=name, meta=common)
    else:
        from hios_opt.profile import measure_costs

        progress = not args.quiet and sys.stderr.isatty()
        measured = measure_costs(
            traced, args.device.strip().lower(), warmup=args.warmup, repeat=args.repeat,
            pairs=max_pairs != 0, max_pairs=max_pairs, progress=progress, cache=not args.no_cache,
            link=not args.no_link, timing=args.timing, threads=args.threads,
        )
        meta = {**measured.meta, **common, "date": measured.meta.get("date", common["date"]),
                "max_pairs": max_pairs}
        graph = measured.with_costs(meta=meta, name=name)
    graph.save(args.output)
    summary = {
        "output": args.output, "name": graph.name, "model": info.name, "device": graph.meta["device"],
        "input_size": input_size, "batch_size": args.batch, "granularity": args.granularity,
        "ops": graph.n_ops, "edges": graph.n_edges, "measured_groups": len(graph.stage_table),
        "total_latency_ms": graph.total_latency_ms,
    }
    if args.json:
        emit_json(summary)
    else:
        print(f"wrote {args.output}: {graph.name} on {graph.meta['device']}, {graph.n_ops} ops, "
              f"{graph.n_edges} edges, total {graph.total_latency_ms:.4f} ms")
    return 0
