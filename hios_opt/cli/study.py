"""``hios-opt study``: run a study spec, see where it stands, export and plot it.

``run`` and ``status`` import the study runner when they run (and Dask only
with ``--cluster``), so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import emit_json, non_negative_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "study", help="run a sweep of graphs x platforms x algorithms x solvers (resumable, local or Dask)",
        description="Studies: every combination of a spec's graphs, platforms, heuristics and exact solvers, "
                    "run as one resumable job, each finished cell stored at once in an SQLite store.",
    )
    study = p.add_subparsers(dest="study_command", metavar="ACTION")
    p.set_defaults(handler=lambda args: _usage(p))

    run = study.add_parser("run", help="run the cells of SPEC that the store does not hold yet",
                           description="Run every cell of SPEC that the store does not hold yet; Ctrl-C stops "
                                       "cleanly and keeps every finished cell, and running again resumes.")
    _spec_arguments(run)
    where = run.add_mutually_exclusive_group()
    where.add_argument("--workers", "-j", type=non_negative_int, default=None, metavar="N",
                       help="local processes (default: the cores); 0 runs in this process")
    where.add_argument("--cluster", metavar="ADDRESS",
                       help="run on a Dask cluster, e.g. tcp://HOST:8786 (see docs/studies.md)")
    run.add_argument("--force", action="store_true", help="run every cell again (new rows replace the old)")
    run.add_argument("--retry-failed", action="store_true", help="run again the cells that failed")
    run.add_argument("--max-retries", type=non_negative_int, default=None, metavar="N",
                     help="attempts of a cell beyond the first when its worker dies (default 2)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    run.set_defaults(handler=cmd_run)

    st = study.add_parser("status", help="how many cells of SPEC are done, failed and to run",
                          description="How many cells of SPEC the store holds (done, failed) and how many are "
                                      "left, by algorithm. Safe while the study runs.")
    _spec_arguments(st)
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(handler=cmd_status)

    ls = study.add_parser("specs", help="the specs shipped with hios_opt",
                          description="The specs shipped with hios_opt: hios-opt study run NAME runs one.")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(handler=cmd_specs)

    ex = study.add_parser("export", help="write a store's rows as CSV",
                          description="Write the rows of a study store as one CSV table (the result schema).")
    ex.add_argument("store", help="the study store (.sqlite)")
    ex.add_argument("-o", "--output", required=True, metavar="FILE", help="CSV file to write")
    ex.add_argument("--study", default=None, metavar="NAME", help="only the rows of this study")
    ex.set_defaults(handler=cmd_export)

    pl = study.add_parser("plot", help="the standard plots of a store",
                          description="Draw the standard plots of a study store into a folder: speedup vs GPUs, "
                                      "gap vs size, time-to-proof CDF, heuristic win/loss matrix (those the "
                                      "rows allow).")
    pl.add_argument("store", help="the study store (.sqlite)")
    pl.add_argument("--out", required=True, metavar="DIR", help="folder for the PNG files")
    pl.add_argument("--study", default=None, metavar="NAME", help="only the rows of this study")
    pl.set_defaults(handler=cmd_plot)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2



def _spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="a study spec (TOML file) or the name of a shipped one (hios-opt study specs)")
    parser.add_argument("--store", metavar="PATH", default=None,
                        help="the SQLite store of the results (default: NAME.sqlite in the current folder)")
    parser.add_argument("--only", metavar="A,B", default=None,
                        help="only the cells of these algorithms or variants (e.g. heft,exact-cpsat)")


def _only(args: argparse.Namespace):
    from ..study import only_algorithms

    return None if args.only is None else only_algorithms(args.only.split(","))


def cmd_run(args: argparse.Namespace) -> int:
    from ..study import DEFAULT_RETRIES, run

    retries = DEFAULT_RETRIES if args.max_retries is None else args.max_retries
    result = run(args.spec, args.store, workers=args.workers, client=args.cluster, force=args.force,
                 retry_failed=args.retry_failed, progress=not args.no_progress, verbose=not args.json,
                 max_retries=retries, only=_only(args))
    if args.json:
        emit_json({"study": result.name, "store": str(result.store), "cells": result.cells,
                   "done_before": result.done_before, "to_run": result.to_run, "ran": result.ran,
                   "failed": result.failed, "wall_s": result.wall_s, "backend": result.backend})
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from ..study import status

    st = status(args.spec, args.store, only=_only(args))
    if args.json:
        emit_json({"study": st.name, "store": str(st.store), "cells": st.cells, "done": st.done,
                   "failed": st.failed, "to_run": st.to_run,
                   "by_algorithm": {a: {k: int(v) for k, v in row.items()}
                                    for a, row in st.by_algorithm.to_dict(orient="index").items()}})
        return 0
    print(f"{st.name}: {st.cells} cells: {st.done} done ({st.failed} failed), {st.to_run} to run; store {st.store}"
          + ("" if Path(st.store).exists() else " (not created yet)"))
    print(st.by_algorithm.to_string())
    return 0


def cmd_specs(args: argparse.Namespace) -> int:
    from ..study import load_spec, spec_names

    rows = []
    for name in spec_names():
        spec = load_spec(name)
        rows.append({"name": name, "description": spec.description.strip().splitlines()[0]
                     if spec.description.strip() else ""})
    if args.json:
        emit_json(rows)
        return 0
    width = max((len(r["name"]) for r in rows), default=4)
    for row in rows:
        print(f"{row['name']:<{width}}  {row['description']}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .._io import write_bytes_atomic
    from ..study import load

    df = load(args.store, study=args.study)
    write_bytes_atomic(args.output, df.to_csv(index=False).encode("utf-8"))
    print(f"wrote {len(df)} rows to {args.output}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from ..study import load, plots
    from ..viz import save_figure

    df = load(args.store, study=args.study)
    out = Path(args.out)
    written = []
    for name, draw in plots.STANDARD.items():
        try:
            fig = draw(df)
        except plots.NothingToPlot as exc:
            print(f"skipped {name}: {exc}")
            continue
        path = out / f"{name}.png"
        out.mkdir(parents=True, exist_ok=True)
        save_figure(fig, path)
        written.append(path)
        print(f"wrote {path}")
    return 0 if written else 1
