"""``hios-opt schedule`` and ``hios-opt compare``.

Handlers import the heuristics (pure Python) when they run and never torch,
so ``hios-opt schedule`` starts in a fraction of a second; ``compare``
imports pandas, and the exact solvers only with ``--exact``.
"""

from __future__ import annotations

import argparse
import math
import time

from .common import (
    add_graph_argument,
    add_platform_arguments,
    cost_model_from_args,
    emit_json,
    finite_float,
    load_graph,
    platform_from_args,
    positive_int,
    shown,
)

# Kept here rather than imported so that building the parser stays cheap
# (tests/test_compare.py checks it against the registry).
ALGORITHMS = ("sequential", "ios", "heft", "cpop", "etf", "dls", "mcp", "fcp", "flb", "minmin", "maxmin", "duplex",
              "sufferage", "hios-mr", "hios-lp", "best")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "schedule", help="schedule a graph with a heuristic (HIOS-LP by default)",
        description="Schedule a graph on K GPUs with S streams each and print the makespan "
                    "(the evaluator's number) and the scheduling time.",
    )
    add_graph_argument(p)
    add_platform_arguments(p)
    p.add_argument("--algo", "-a", default="hios-lp", metavar="NAME",
                   help=f"algorithm: {', '.join(ALGORITHMS)} (default hios-lp)")
    p.add_argument("--window", "-w", type=positive_int, default=None,
                   help="intra-GPU window of the mapping heuristics (cpop ... hios-lp, best), 1..streams "
                        "(default min(2, streams))")
    p.add_argument("--no-intra", action="store_true", help="mapping heuristics: skip the intra-GPU pass")
    p.add_argument("--time-limit", type=finite_float, default=None, metavar="SEC",
                   help="best: skip the heuristics estimated not to fit in SEC seconds")
    p.add_argument("-o", "--output", metavar="FILE", help="write the schedule JSON here")
    p.add_argument("--gantt", metavar="FILE",
                   help="write a Gantt chart: .png, .svg, .pdf, or .html (interactive: hover a bar for its op)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_schedule)

    p = sub.add_parser(
        "compare", help="run several schedulers on one graph, one row per algorithm",
        description="Run several schedulers (and optionally an exact solver) on one graph and print makespan, "
                    "lower bound, gap to it, speedup over sequential, status and scheduling time (the result "
                    "schema; --csv writes every column, the problem's included).",
    )
    add_graph_argument(p)
    add_platform_arguments(p)
    p.add_argument("--algos", default=None, metavar="A,B,C",
                   help=f"comma-separated algorithms (default: all of {', '.join(ALGORITHMS)})")
    p.add_argument("--window", "-w", type=positive_int, default=None,
                   help="intra-GPU window of the mapping heuristics")
    p.add_argument("--no-intra", action="store_true", help="mapping heuristics: skip the intra-GPU pass")
    p.add_argument("--exact", default=None, metavar="SOLVER",
                   help="also solve exactly: cpsat, milp, astar or portfolio (one more row; every gap is then "
                        "to the solver's proven bound)")
    p.add_argument("--time-limit", type=finite_float, default=10.0, metavar="SEC",
                   help="time limit of the exact solver in seconds (default 10)")
    p.add_argument("--csv", metavar="FILE", help="write the table as CSV")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_compare)


_FLAGS = (("--window", "window"), ("--no-intra", "intra"), ("--time-limit", "time_limit"))


def _algorithm_options(args: argparse.Namespace, algorithm: str) -> dict:
    from ..heuristics import algorithm_options

    options: dict = {}
    if args.window is not None:
        options["window"] = args.window
    if getattr(args, "no_intra", False):
        options["intra"] = False
    if getattr(args, "time_limit", None) is not None:
        options["time_limit"] = args.time_limit
    taken = algorithm_options(algorithm)  # raises AlgorithmError on an unknown name
    refused = [flag for flag, key in _FLAGS if key in options and key not in taken]
    if refused:
        from ..errors import OptionError

        takers = [n for n in ALGORITHMS if any(k in algorithm_options(n) for f, k in _FLAGS if f in refused)]
        raise OptionError(f"{' and '.join(refused)}: not for {algorithm!r}; only for {', '.join(takers)}")
    return options


def cmd_schedule(args: argparse.Namespace) -> int:
    from ..heuristics import schedule

    if args.gantt:
        from ..viz import GANTT_FORMATS, check_figure_path

        check_figure_path(args.gantt, GANTT_FORMATS)  # refuse before anything is written
    graph = load_graph(args.graph)
    platform = platform_from_args(args)
    model = cost_model_from_args(args)
    options = _algorithm_options(args, args.algo)
    started = time.perf_counter()
    result = schedule(graph, platform, args.algo, cost_model=model, **options)
    elapsed = time.perf_counter() - started
    picture = None
    if args.gantt:  # rendered before any file is written: a failure leaves no half of the outputs
        from ..evaluate import evaluate
        from ..viz import gantt_bytes

        picture = gantt_bytes(evaluate(graph, platform, result, model), args.gantt)
    if args.output:
        result.save(args.output)
    if picture is not None:
        from .._io import write_bytes_atomic

        write_bytes_atomic(args.gantt, picture)
    if args.json:
        emit_json({"graph": graph.name, "algorithm": result.algorithm, "makespan_ms": result.makespan_ms,
                   "scheduling_time_s": elapsed, "gpus": platform.gpus, "streams": platform.streams,
                   "stages": len(result.stages), "meta": result.meta, "output": args.output, "gantt": args.gantt})
        return 0
    print(f"makespan {result.makespan_ms:.6g} ms  ({result.algorithm}, {len(result.stages)} stages, "
          f"{platform.gpus} GPU(s) x {platform.streams} stream(s))")
    print(f"scheduled in {elapsed:.4f} s")
    for path in (args.output, args.gantt):
        if path:
            print(f"wrote {path}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ..comparison import compare

    graph = load_graph(args.graph)
    platform = platform_from_args(args)
    model = cost_model_from_args(args)
    options = {} if args.window is None else {"window": args.window}
    if args.no_intra:
        options["intra"] = False
    df = compare(graph, platform, args.algos, exact=args.exact, time_limit=args.time_limit, cost_model=model,
                 **options)
    if args.csv:
        from .._io import write_bytes_atomic

        write_bytes_atomic(args.csv, df.to_csv(index=False).encode("utf-8"))
    if args.json:
        rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                for row in df.to_dict(orient="records")]
        emit_json({"graph": graph.name, "gpus": platform.gpus, "streams": platform.streams,
                   "lower_bound_ms": df.attrs["lower_bound_ms"], "sequential_ms": df.attrs["sequential_ms"],
                   "rows": rows, "csv": args.csv})
        return 0
    from ..results import format_table

    exact_bound = df.attrs["exact_lower_bound_ms"]
    bound_text = (f"lower bound {df.attrs['lower_bound_ms']:.6g} ms" if exact_bound is None else
                  f"lower bound {exact_bound:.6g} ms (proven by the solver; cheap bound "
                  f"{df.attrs['lower_bound_ms']:.6g} ms)")
    print(f"{shown(graph.name)}: {graph.n_ops} ops, {graph.n_edges} edges on {platform.gpus} GPU(s) x "
          f"{platform.streams} stream(s); {bound_text}")
    print(format_table(df, ["algorithm", "makespan_ms", "lower_bound_ms", "gap", "speedup", "status", "time_s"]))
    if args.csv:
        print(f"wrote {args.csv}")
    return 0
