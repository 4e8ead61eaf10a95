"""``hios-opt demo``: every algorithm and the exact solver on bundled graphs."""

from __future__ import annotations

import argparse
import sys

from .common import emit_json, finite_float, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run every algorithm and an exact solver on bundled Inception-v3 and a teaching graph",
        description="Schedule the bundled Inception-v3 graph (estimated H100 costs) and a small teaching graph "
                    "with sequential, IOS (1 GPU), HEFT, HIOS-MR, HIOS-LP and an exact solver (A* by default); print one table and "
                    "write Gantt charts of HIOS-LP and of the exact schedule.",
    )
    p.add_argument("graphs", nargs="*", metavar="GRAPH",
                   help="graphs to use instead of the defaults (files, bundled names or named:NAME)")
    p.add_argument("--gpus", "-k", type=positive_int, default=2)
    p.add_argument("--streams", "-s", type=positive_int, default=2)
    p.add_argument("--time-limit", type=finite_float, default=30.0, metavar="SEC",
                   help="exact solver time limit per graph (default 30)")
    p.add_argument("--workers", type=positive_int, default=None, help="solver threads (default: all cores)")
    p.add_argument("--solver", default="astar", help="exact solver: astar (default), cpsat or milp")
    p.add_argument("--out", default="hios_opt_demo", metavar="DIR",
                   help="folder for Gantt charts and the CSV table (default ./hios_opt_demo)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import DEFAULT_GRAPHS, format_table, run_demo

    def progress(line: str) -> None:
        if not args.quiet and not args.json:
            print(line, file=sys.stderr, flush=True)

    table = run_demo(args.graphs or DEFAULT_GRAPHS, gpus=args.gpus, streams=args.streams,
                     time_limit=args.time_limit, workers=args.workers, out_dir=args.out, solver=args.solver,
                     log=progress)
    if args.json:
        emit_json({"out_dir": args.out, "rows": table.to_dict(orient="records")})
        return 0
    print(format_table(table))
    print(f"\nGantt charts and demo.csv written to {args.out}/")
    print("gap_to_bound = (makespan - proven lower bound) / bound; 0.00% means proven optimal.")
    return 0
