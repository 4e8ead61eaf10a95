"""``hios-opt info``, ``generate`` and ``evaluate``."""

from __future__ import annotations

import argparse

from ..bounds import best_bound, critical_path_bound, work_bound
from ..errors import ScheduleError
from ..evaluate import evaluate
from ..schedules import Schedule
from ..timing import edge_delays
from .common import (
    add_graph_argument,
    add_platform_arguments,
    cost_model_from_args,
    emit_json,
    finite_float,
    load_graph,
    platform_from_args,
    positive_int,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="size, total work, critical path and lower bound of a graph",
                       description="Print the size, total work, critical path and lower bound of a graph. "
                                   "Try a bundled one: hios-opt info models/inception_v3_299_h100.json "
                                   "(python -c \"import hios_opt.data; print(hios_opt.data.names())\" lists them).")
    add_graph_argument(p)
    add_platform_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_info)

    p = sub.add_parser("generate", help="make a random layered DAG (the paper's simulation graphs)",
                       description="Write a random layered DAG like the HIOS paper's simulation graphs, "
                                   "or a named teaching graph.")
    p.add_argument("--nodes", type=positive_int, default=50, help="number of ops (default 50)")
    p.add_argument("--edges", type=positive_int, default=100, help="number of edges (default 100)")
    p.add_argument("--layers", type=positive_int, default=8, help="number of layers (default 8)")
    p.add_argument("--ccr", type=finite_float, default=0.5,
                   help="communication-to-computation ratio: an edge costs CCR x its consumer's latency (default 0.5)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--named", metavar="NAME", help="write a named graph instead (diamond, fork-join, ...)")
    p.add_argument("-o", "--output", required=True, help="graph JSON file to write")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(handler=cmd_generate)

    p = sub.add_parser("evaluate", help="validate a schedule and print its makespan",
                       description="Validate a schedule against a graph and platform, print its makespan.")
    add_graph_argument(p)
    p.add_argument("schedule", help="schedule JSON file")
    add_platform_arguments(p, gpus_default=None, streams_default=None)
    p.add_argument("--gantt", metavar="FILE",
                   help="write a Gantt chart: .png, .svg, .pdf, or .html (interactive: hover a bar for its op)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_evaluate)


def cmd_info(args: argparse.Namespace) -> int:
    graph = load_graph(args.graph)
    platform = platform_from_args(args)
    model = cost_model_from_args(args)
    info = {
        "name": graph.name,
        "ops": graph.n_ops,
        "edges": graph.n_edges,
        "total_work_ms": graph.total_latency_ms,
        "critical_path_ms": critical_path_bound(graph, model),
        "critical_path_with_comm_ms": graph.critical_path_ms(edge_delays(graph, platform).cross),
        "work_bound_ms": work_bound(graph, platform, model),
        "lower_bound_ms": (bounds := best_bound(graph, platform, model)).value_ms,
        "bounds_ms": bounds.parts,
        "best_bound": bounds.best,
        "gpus": platform.gpus,
        "streams": platform.streams,
        "measured_groups": len(graph.stage_table),
        "meta": graph.meta,
    }
    if args.json:
        emit_json(info)
        return 0
    print(f"graph           {info['name']}")
    print(f"ops / edges     {info['ops']} / {info['edges']}")
    print(f"total work      {info['total_work_ms']:.4f} ms (sequential makespan)")
    print(f"critical path   {info['critical_path_ms']:.4f} ms ({info['critical_path_with_comm_ms']:.4f} ms with comm)")
    print(f"lower bound     {info['lower_bound_ms']:.4f} ms on {platform.gpus} GPU(s) x {platform.streams} stream(s)"
          f" ({info['best_bound']})")
    print("  bounds        " + ", ".join(f"{name} {value:.4f}" for name, value in bounds.parts.items()))
    if graph.stage_table:
        print(f"measured groups {len(graph.stage_table)}")
    source = graph.meta.get("source"), graph.meta.get("device")
    if any(source):
        print(f"source          {source[0]} ({source[1]})")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from .. import generators

    if args.named:
        graph = generators.named(args.named)
    else:
        graph = generators.random_layered(args.nodes, args.edges, args.layers, args.ccr, args.seed)
    graph.save(args.output)
    if args.json:
        emit_json({"name": graph.name, "ops": graph.n_ops, "edges": graph.n_edges, "output": args.output})
    else:
        print(f"wrote {args.output}: {graph.name}, {graph.n_ops} ops, {graph.n_edges} edges")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.gantt:
        from ..viz import GANTT_FORMATS, check_figure_path

        check_figure_path(args.gantt, GANTT_FORMATS)  # refuse before any work
    graph = load_graph(args.graph)
    schedule = Schedule.load(args.schedule)
    platform = platform_from_args(args, gpus=args.gpus or schedule.gpus, streams=args.streams or schedule.streams)
    other_graph = schedule.graph_name != graph.name and schedule.graph_name != "graph"
    try:
        timeline = evaluate(graph, platform, schedule, cost_model_from_args(args))
    except ScheduleError as exc:
        if other_graph:  # the usual mistake; say it in the one error line
            raise type(exc)(f"{exc} (note: the schedule was made for graph {schedule.graph_name!r}, "
                            f"not {graph.name!r})") from None
        raise
    if other_graph:
        # Not fatal: op ids decide. Say it, since it is the usual mistake.
        import sys

        print(f"note: schedule was made for graph {schedule.graph_name!r}, evaluating on {graph.name!r}",
              file=sys.stderr)
    if args.gantt:
        from .._io import write_bytes_atomic
        from ..viz import gantt_bytes

        write_bytes_atomic(args.gantt, gantt_bytes(timeline, args.gantt))
    if args.json:
        emit_json({"graph": graph.name, "algorithm": schedule.algorithm, "makespan_ms": timeline.makespan,
                   "gpus": platform.gpus, "streams": platform.streams, "stages": len(schedule.stages),
                   "busy_ms": timeline.busy_ms, "gantt": args.gantt})
        return 0
    print(f"makespan {timeline.makespan:.6g} ms  ({schedule.algorithm}, {len(schedule.stages)} stages, "
          f"{platform.gpus} GPU(s) x {platform.streams} stream(s))")
    if schedule.makespan_ms is not None and abs(schedule.makespan_ms - timeline.makespan) > 1e-6 * max(1.0, timeline.makespan):
        print(f"note: the file records {schedule.makespan_ms:.6g} ms; the evaluator's number is above")
    if args.gantt:
        print(f"wrote {args.gantt}")
    return 0


