"""``hios-opt solve``: the exact CP-SAT / MILP optimum, or a proven bound and gap.

The solvers are imported only when the command runs, so building the parser
stays cheap.
"""

from __future__ import annotations

import argparse
import sys

from .common import (
    add_graph_argument,
    add_platform_arguments,
    cost_model_from_args,
    emit_json,
    finite_float,
    load_graph,
    non_negative_int,
    platform_from_args,
    positive_int,
    shown,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "solve", help="exact schedule (CP-SAT, MILP, A* or both CP-SAT and A*): optimum, or best schedule with proven bound and gap",
        description="Solve the scheduling problem exactly with CP-SAT (default), a MILP, the A* search or "
                    "CP-SAT and A* together (--solver portfolio), within a time limit. Prints the status "
                    "(optimal / feasible / unknown), the makespan, the proven lower bound and the gap. Ctrl-C stops the search and keeps the best schedule so far.",
    )
    add_graph_argument(p)
    add_platform_arguments(p)
    p.add_argument("--solver", default="cpsat", metavar="NAME",
                   help="cpsat (default), milp (PuLP + HiGHS), milp:cbc (PuLP's bundled CBC), milp:NAME "
                        "for another PuLP solver, astar (best-first search with dominance; one thread), or "
                        "portfolio (CP-SAT and astar at once, sharing the best schedule; the first proof wins)")
    p.add_argument("--time-limit", "-t", type=finite_float, default=60.0, metavar="SEC",
                   help="time limit in seconds (default 60)")
    p.add_argument("--workers", type=positive_int, default=None, metavar="N",
                   help="solver threads (default: all cores)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="solver random seed (default 0)")
    p.add_argument("--warm-start", default="auto", metavar="NAME",
                   help="auto (best heuristic, default), none, or a heuristic name (hios-lp, heft ...)")
    p.add_argument("--resolution", type=finite_float, default=None, metavar="MS",
                   help="CP-SAT time grid in ms (default: 0.001, finer for graphs timed in microseconds)")
    p.add_argument("--log", action="store_true", help="show the solver's log")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no live progress (shown on a terminal: elapsed, best makespan, bound, gap)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the schedule JSON here")
    p.add_argument("--gantt", metavar="FILE",
                   help="write a Gantt chart: .png, .svg, .pdf, or .html (interactive: hover a bar for its op)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_solve)


def cmd_solve(args: argparse.Namespace) -> int:
    from ..evaluate import evaluate
    from ..exact import solve

    if args.gantt:
        from ..viz import GANTT_FORMATS, check_figure_path

        check_figure_path(args.gantt, GANTT_FORMATS)  # refuse before solving or writing anything
    graph = load_graph(args.graph)
    platform = platform_from_args(args)
    model = cost_model_from_args(args)
    warm = None if args.warm_start.lower() == "none" else args.warm_start
    result = solve(graph, platform, args.solver, time_limit=args.time_limit, workers=args.workers,
                   seed=args.seed, warm_start=warm, cost_model=model, log=args.log,
                   resolution_ms=args.resolution,
                   progress=not (args.quiet or args.json or args.log) and sys.stderr.isatty())
    picture = None
    if args.gantt and result.schedule is not None:  # rendered before any file is written
        from ..viz import gantt_bytes

        picture = gantt_bytes(evaluate(graph, platform, result.schedule, model), args.gantt)  # title: makespan, bound
    if args.output and result.schedule is not None:
        result.schedule.save(args.output)
    if picture is not None:
        from .._io import write_bytes_atomic

        write_bytes_atomic(args.gantt, picture)
    # Files asked for but not written: no schedule came back (status unknown).
    missing = [path for path in (args.output, args.gantt) if path and result.schedule is None]
    if args.json:
        out = result.to_dict()
        out.update(graph=graph.name, gpus=platform.gpus, streams=platform.streams,
                   output=None if missing else args.output, gantt=None if missing else args.gantt)
        emit_json(out)
        return _no_schedule(result, missing)
    gap = "-" if result.gap is None else f"{100 * result.gap:.3f}%"
    span = "-" if result.makespan_ms is None else f"{result.makespan_ms:.6g} ms"
    print(f"status       {result.status}{'  (interrupted)' if result.interrupted else ''}")
    print(f"makespan     {span}")
    print(f"lower bound  {result.lower_bound_ms:.6g} ms")
    print(f"gap          {gap}")
    print(f"solver       {result.solver} ({result.solver_status}), {result.wall_time_s:.2f} s, "
          f"{platform.gpus} GPU(s) x {platform.streams} stream(s)")
    if result.solver == "portfolio":
        parts = [f"{name} {result.stats[name]['status']}" + (f" ({result.stats[name]['solver_status']})"
                                                            if "solver_status" in result.stats[name] else "")
                 for name in ("astar", "cpsat")]
        print(f"proved by    {result.stats['proved_by'] or '-'}; {', '.join(parts)}")
    if result.warm_start is not None:
        print(f"warm start   {result.warm_start}: {result.warm_start_makespan_ms:.6g} ms")
    if args.output and result.schedule is not None:
        print(f"wrote {args.output}")
    if args.gantt and result.schedule is not None:
        print(f"wrote {args.gantt}")
    return _no_schedule(result, missing)


def _no_schedule(result, missing: list[str]) -> int:
    """Exit status 1, with an ``error:`` line, when files were asked for and
    no schedule came back; else 0."""
    if not missing:
        return 0
    import sys

    why = "interrupted" if result.interrupted else f"status {result.status}"
    print(f"error: no schedule ({why}, no warm start), so {' and '.join(map(shown, missing))} not written; "
          "give more time or a warm start", file=sys.stderr)
    return 1
