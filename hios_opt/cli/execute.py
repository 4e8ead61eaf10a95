"""``hios-opt run`` and ``hios-opt bench-real``: schedules of real models, run for real.

``run`` builds a zoo model, traces it, binds a schedule JSON to it, runs the
plan on the executor, checks the outputs against the plain forward pass and
prints the measured latency next to the evaluator's prediction.
``bench-real`` does that for several algorithms at once through
:func:`hios_opt.realbench.bench_real`. Both import torch inside their
handlers only.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from ..errors import CoverageError, OptionError
from .common import emit_json, finite_float, positive_int
from .zoo import _max_pairs

DEVICES = ("cpu", "cuda")


def _add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="zoo model name (see 'hios-opt models')")
    p.add_argument("--input-size", type=positive_int, default=None, metavar="N",
                   help="input height = width in pixels (default: the model's default)")
    p.add_argument("--batch", type=positive_int, default=1, metavar="B", help="batch size (default 1)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="model option, e.g. version=1.1 for squeezenet (repeatable)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--repeat", type=positive_int, default=10, metavar="N",
                   help="timed runs per plan, median reported (default 10)")
    p.add_argument("--warmup", type=int, default=2, metavar="N", help="untimed runs first (default 2)")
    p.add_argument("--threads", type=positive_int, default=1, metavar="N",
                   help="cpu: intra-op threads of every executor worker and of the profile (default 1, "
                        "stable on shared machines)")
    p.add_argument("--max-pairs", default="200", metavar="N|all",
                   help="when profiling: concurrent pairs to measure (default 200; 0 none, 'all' every pair)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the profile cache")
    p.add_argument("--cuda-graph", action="store_true",
                   help="cuda: capture each plan into one CUDA graph and time its replays (no Python launch cost)")
    p.add_argument("--timing", choices=("launch", "kernel"), default=None,
                   help="cuda: profile ops with their launches (launch) or the kernels alone (kernel); "
                        "default kernel with --cuda-graph, else launch")
    p.add_argument("--json", action="store_true", help="print JSON")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="run a schedule of a zoo model on the executor; measured vs predicted latency",
        description="Build a zoo model, trace it, run the schedule's plan on the executor (cpu threads, cuda "
                    "streams or torch.distributed ranks), check that the outputs equal the plain forward pass, "
                    "and print the measured latency (median, p10, p90) next to the evaluator's prediction.",
    )
    _add_model_arguments(p)
    p.add_argument("--schedule", required=True, metavar="FILE", help="schedule JSON (e.g. from 'hios-opt schedule')")
    p.add_argument("--backend", default=None,
                   help="cpu, cuda or distributed (default: the device's: cpu -> cpu, cuda -> cuda)")
    p.add_argument("--graph", metavar="FILE",
                   help="graph JSON with costs for the prediction (default: profile on the device, cached)")
    p.add_argument("--granularity", default=None,
                   help="block or module: the granularity of the schedule's graph (default: the --graph's, "
                        "else block)")
    p.add_argument("--trace-out", metavar="FILE", help="write the median run's timeline as a Chrome trace")
    p.add_argument("--timeout", type=finite_float, default=300.0, metavar="SEC",
                   help="bound on the whole run (default 300)")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser(
        "bench-real", help="schedule a zoo model with several algorithms and run each plan: predicted vs measured",
        description="Profile a zoo model on the device (cached), schedule it with each algorithm, run every plan "
                    "on the executor (logical GPUs mapped onto the available device(s)), and print one table: "
                    "predicted ms, measured ms, speedup over sequential and prediction error.",
    )
    _add_model_arguments(p)
    p.add_argument("--gpus", "-k", type=positive_int, required=True, help="number of logical GPUs K")
    p.add_argument("--streams", "-s", type=positive_int, default=1, help="streams per GPU S (default 1)")
    p.add_argument("--algos", default="sequential,hios-lp,exact", metavar="A,B,C",
                   help="comma-separated algorithms; exact = CP-SAT with --time-limit (default "
                        "sequential,hios-lp,exact)")
    p.add_argument("--time-limit", type=finite_float, default=10.0, metavar="SEC",
                   help="time limit of the exact solver (default 10)")
    p.add_argument("--rounds", type=positive_int, default=3, metavar="N",
                   help="run the plans in turn this many times (default 3)")
    p.add_argument("--graph", metavar="FILE", help="graph JSON with costs (default: profile on the device, cached)")
    p.add_argument("--csv", metavar="FILE", help="write the table as CSV")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.set_defaults(handler=cmd_bench_real)


# ----------------------------------------------------------------- helpers
def _model_options(args: argparse.Namespace) -> dict[str, Any]:
    import hios_opt.models as zoo

    from .zoo import _convert_options, _split_options

    return _convert_options(_split_options(args.option), dict(zoo.info(args.model).options))


def _check_common(args: argparse.Namespace) -> str:
    from ..realbench import check_device, resolve_timing

    if args.warmup < 0:
        raise OptionError(f"--warmup must be >= 0, got {args.warmup}")
    device = check_device(args.device)
    args.timing = resolve_timing(device, args.cuda_graph, args.timing)
    return device


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


# ---------------------------------------------------------------------- run
def cmd_run(args: argparse.Namespace) -> int:
    device = _check_common(args)
    max_pairs = _max_pairs(args.max_pairs)
    from ..executor.plan import check_timeout
    from ..realbench import run_schedule, tolerance
    from ..schedules import Schedule

    check_timeout(args.timeout, "--timeout")  # up front: 1e30 s overflowed the waits after profiling
    schedule = Schedule.load(args.schedule)
    try:
        done = run_schedule(
            args.model, schedule, input_size=args.input_size, batch_size=args.batch, device=device,
            backend=args.backend, graph=args.graph, granularity=args.granularity, threads=args.threads,
            max_pairs=max_pairs, cache=not args.no_cache, progress=not args.json and sys.stderr.isatty(),
            cuda_graph=args.cuda_graph, timing=args.timing, warmup=args.warmup, repeat=args.repeat,
            timeout_s=args.timeout, model_options=_model_options(args),
        )
    except CoverageError as exc:
        raise CoverageError(f"{exc} (schedule {args.schedule})") from exc
    prepared, measurement, predicted = done.prepared, done.measurement, done.predicted_ms
    backend, note, graph_source = done.backend, done.note, done.graph_source
    ok, diff = done.outputs_ok, done.max_abs_diff
    rtol, atol = tolerance(device)
    if args.trace_out:
        measurement.to_chrome_trace(args.trace_out)
    error = done.prediction_error
    if args.json:
        emit_json({
            "model": prepared.name, "input_size": prepared.input_size, "batch_size": prepared.batch_size,
            "schedule": args.schedule, "algorithm": schedule.algorithm, "gpus": schedule.gpus,
            "streams": schedule.streams, "device": device, "backend": backend, "threads": args.threads,
            "cuda_graph": args.cuda_graph,
            "mapping": note, "runs": measurement.runs, "median_ms": measurement.median_ms,
            "p10_ms": measurement.p10_ms, "p90_ms": measurement.p90_ms, "predicted_ms": predicted,
            "prediction_error": error, "graph": graph_source, "outputs_ok": ok, "max_abs_diff": _clean(diff),
            "rtol": rtol, "atol": atol, "trace": args.trace_out,
        })
    else:
        print(f"{prepared.name} @ {prepared.input_size} px, batch {prepared.batch_size}: {len(done.plan.steps)} ops, "
              f"schedule {args.schedule} ({schedule.algorithm or '?'}, {schedule.gpus} GPU(s) x "
              f"{schedule.streams} stream(s), {len(schedule.stages)} stages)")
        print(f"backend {backend}: {note}")
        print(f"measured  median {measurement.median_ms:.3f} ms  p10 {measurement.p10_ms:.3f}  "
              f"p90 {measurement.p90_ms:.3f}  ({measurement.runs} runs after {args.warmup} warm-up)")
        print(f"predicted {predicted:.3f} ms  (evaluator on {graph_source})  prediction error {error:+.1%} "
              "(measured - predicted) / predicted")
        verdict = "equal" if ok else "DIFFER from"
        print(f"outputs {verdict} the plain forward pass (torch.allclose rtol={rtol:g}, atol={atol:g}; "
              f"max |diff| {diff:.3g})")
        if args.trace_out:
            print(f"wrote {args.trace_out}")
    if not ok:
        print(f"error: the plan's outputs differ from the forward pass (max |diff| {diff:.3g} > "
              f"rtol={rtol:g}, atol={atol:g})", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------- bench-real
def cmd_bench_real(args: argparse.Namespace) -> int:
    device = _check_common(args)
    max_pairs = _max_pairs(args.max_pairs)
    from ..realbench import bench_real

    df = bench_real(
        args.model, input_size=args.input_size, batch_size=args.batch, gpus=args.gpus, streams=args.streams,
        device=device, algorithms=args.algos, repeat=args.repeat, warmup=args.warmup, rounds=args.rounds,
        time_limit=args.time_limit, graph=args.graph, threads=args.threads, max_pairs=max_pairs,
        cache=not args.no_cache, model_options=_model_options(args),
        progress=not args.json and not args.quiet and sys.stderr.isatty(), cuda_graph=args.cuda_graph,
        timing=args.timing,
    )
    if args.csv:
        from .._io import write_bytes_atomic

        write_bytes_atomic(args.csv, df.to_csv(index=False).encode("utf-8"))
    attrs = df.attrs
    bad = df.loc[~df.outputs_ok, "algorithm"].tolist()
    if args.json:
        rows = [{k: _clean(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
        emit_json({**{k: _clean(v) if not isinstance(v, dict) else v for k, v in attrs.items()},
                   "rows": rows, "csv": args.csv})
    else:
        meta = attrs["graph_meta"]
        print(f"{attrs['model']} @ {attrs['input_size']} px, batch {attrs['batch_size']}, on {attrs['device']}: "
              f"{args.gpus} logical GPU(s) x {args.streams} stream(s)")
        print(f"mapping: {attrs['mapping']}")
        how = f"{meta.get('timing')} timing" if device == "cuda" else f"{meta.get('threads')} thread(s)"
        if attrs.get("cuda_graph"):
            how += ", plans replayed as CUDA graphs"
        print(f"costs: {args.graph or 'profiled'} (sum of op latencies {meta.get('op_sum_ms') or float('nan'):.3f} ms, "
              f"{how}); outputs checked with torch.allclose rtol={attrs['rtol']:g}, atol={attrs['atol']:g}")
        from ..results import format_table

        print(format_table(df, ["algorithm", "gpus", "streams", "predicted_ms", "measured_ms", "prediction_error",
                                "speedup", "measured_speedup", "outputs_ok", "status"]))
        print("prediction_error = (measured - predicted) / predicted; speedup: predicted, measured_speedup: "
              "measured, both over the sequential plan")
        if args.csv:
            print(f"wrote {args.csv}")
    if bad:
        print(f"error: outputs of {', '.join(bad)} differ from the forward pass", file=sys.stderr)
        return 1
    return 0
