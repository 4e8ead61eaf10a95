"""``hios-opt demo``: every algorithm and the exact solver on bundled graphs."""

from __future__ import annotations

import argparse
import math
import sys

from .common import emit_json, finite_float, positive_int

# Kept here rather than imported so that building the parser stays cheap (a test checks they agree).
DEMO_SOLVERS = ("astar", "cpsat", "lns", "milp", "portfolio")


def _solver(text: str) -> str:
    name = text.strip().lower()
    if name in DEMO_SOLVERS or (name.startswith("milp:") and len(name) > 5):
        return name
    raise argparse.ArgumentTypeError(f"unknown solver {text!r}; choose from {', '.join(DEMO_SOLVERS)} or milp:NAME")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run every algorithm and an exact solver on bundled Inception-v3 and a teaching graph",
        description="Schedule the bundled Inception-v3 graph (estimated H100 costs) and a small teaching graph "
                    "with sequential, IOS (1 GPU), HEFT, HIOS-MR, HIOS-LP and an exact solver (A* by default); "
                    "print one table and write Gantt charts of HIOS-LP and of the exact schedule.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("graphs", nargs="*", metavar="GRAPH",
                   help="graphs to use instead of the bundled Inception-v3 and named:inception-block "
                        "(files, bundled names such as models/squeezenet_331_h100.json, or named:NAME)")
    p.add_argument("--gpus", "-k", type=positive_int, default=2, help="number of GPUs K")
    p.add_argument("--streams", "-s", type=positive_int, default=2, help="concurrent streams per GPU S")
    p.add_argument("--time-limit", type=finite_float, default=30.0, metavar="SEC",
                   help="exact solver time limit per graph, seconds")
    p.add_argument("--workers", type=positive_int, default=None, help="solver threads (default: all cores)")
    p.add_argument("--solver", type=_solver, default="portfolio", metavar="NAME",
                   help="exact solver: portfolio (the improvement search, CP-SAT and A* at once, after exact "
                        "solves of the pieces between series points: proves the bundled Inception-v3 on 2 GPUs x "
                        "2 streams in about 3 s), astar (the same proof alone in about 20 s), cpsat (strongest "
                        "with one stream or 4+ GPUs), milp (HiGHS; milp:cbc for CBC), lns (the improvement search)")
    p.add_argument("--out", default="hios_opt_demo", metavar="DIR", help="folder for Gantt charts and demo.csv")
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
                     log=progress, progress=not args.quiet and not args.json and sys.stderr.isatty())
    notes = table.attrs.get("notes", [])
    if args.json:
        rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                for row in table.to_dict(orient="records")]
        emit_json({"out_dir": args.out, "rows": rows, "notes": notes})
        return 0
    print(format_table(table))
    print(f"\nGantt charts and demo.csv written to {args.out}/")
    print("gap = (makespan - proven lower bound) / bound; status 'optimal': the exact solver proved its schedule "
          "optimal, so each heuristic's gap is its true distance from the optimum.")
    for note in notes:
        print(f"note: {note}")
    return 0
