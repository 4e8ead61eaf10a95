"""Why CP-SAT does not prove the 2-GPU x 2-stream reach rows: probes.

On paper-style random graphs of 20 ops on 2 GPUs x 2 streams, CP-SAT's
bound stays at the model's static bound for the whole minute on most seeds
(``exact_reach.csv``), while the A* search proves them in seconds. This
script asks where the difficulty lies. For each seed it first takes the
optimum ``OPT`` proven by A*, then gives CP-SAT (two threads, the package's
model and search) a *decision* problem: the model of
:mod:`hios_opt.exact.cpsat` with its horizon cut to ``OPT * (1 - 1e-4)`` on
the time grid (:func:`hios_opt.exact.deadline_check`). ``infeasible``
is then a CP-SAT proof that ``OPT`` is optimal within 0.01 %; durations are
rounded down on the grid, so a schedule of the real problem below the cut
would still be one of the grid model.

Probes (each with the same time limit):

* ``deadline``: the model as it is, only the objective replaced by the cut;
* ``deadline, propagation``: the same with CP-SAT's stronger scheduling
  propagators switched on (overload checker and timetable edge finding in
  the cumulative, strong and dynamic-precedence propagation in the
  no-overlaps, all precedences exploited, full linearization);
* ``placed N``: the cut model with the GPU of the first ``N`` ops (in
  topological order) fixed to those of A*'s optimal schedule (the
  symmetry-breaking constraints are then left out). With every op placed the
  remaining problem (stages and order) is easy for CP-SAT; the probes show
  how quickly that ends as fewer ops are placed.

It then solves each graph with CP-SAT (twice the probe limit), with two
streams and with one, and prints the model's static bound (its bound before
the search: :func:`hios_opt.exact.loadbound.load_bound`, busy time plus forced
idle; ``stats["static_bound_ms"]``) against the optimum and CP-SAT's final
bound.

Usage::

    python benchmarks/bench_cpsat_probe.py            # seeds 0 1 3 4, 30 s per probe
    python benchmarks/bench_cpsat_probe.py --quick    # one seed, 5 s per probe
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from hios_opt import Platform, generators
from hios_opt.exact import deadline_check, solve

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
FIELDS = ["ops", "gpus", "streams", "seed", "optimum", "astar_s", "probe", "status", "wall_s", "branches"]
STATIC_FIELDS = ["ops", "gpus", "streams", "seed", "optimum", "static_bound", "cpsat_status", "cpsat_bound",
                 "cpsat_s", "static_below_optimum"]
CUT = 1e-4

PROPAGATION = {
    "use_overload_checker_in_cumulative": True,
    "use_timetable_edge_finding_in_cumulative": True,
    "use_strong_propagation_in_disjunctive": True,
    "use_dynamic_precedence_in_disjunctive": True,
    "exploit_all_precedences": True,
    "use_hard_precedences_in_cumulative": True,
    "linearization_level": 2,
}


def write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 5 s per probe")
    parser.add_argument("--ops", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 3, 4],
                        help="default: the 20-op seeds CP-SAT does not prove in 60 s")
    parser.add_argument("--limit", type=float, default=30.0, help="seconds per probe")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    seeds, limit = ([1], 5.0) if args.quick else (args.seeds, args.limit)
    platform = Platform(gpus=2, streams=2)
    n = args.ops
    probes = [("deadline", 0, {}), ("deadline, propagation", 0, PROPAGATION)]
    probes += [(f"placed {k}", k, {}) for k in (n, 3 * n // 4, n // 2, n // 4)]
    rows = []
    print(f"{'seed':>4} {'optimum':>9} {'probe':24s} {'status':26s} {'wall':>7} {'branches':>9}")
    for seed in seeds:
        graph = generators.random_layered(n, 2 * n, max(2, n // 6), 0.5, seed)
        exact = solve(graph, platform, "astar", time_limit=120)
        if exact.status != "optimal":
            print(f"{seed:4d}: A* did not prove an optimum in 120 s; skipped")
            continue
        placement = exact.schedule.placement
        for name, placed, params in probes:
            check = deadline_check(graph, platform, exact.makespan_ms * (1 - CUT),
                                   placement={graph.ids[v]: placement[graph.ids[v]] for v in graph.topo[:placed]},
                                   time_limit=limit, workers=args.workers, parameters=params)
            status = check.status + (" (static bound)" if check.static else "")
            wall, branches = check.wall_time_s, check.branches
            rows.append({"ops": n, "gpus": 2, "streams": 2, "seed": seed, "optimum": round(exact.makespan_ms, 6),
                         "astar_s": round(exact.wall_time_s, 2), "probe": name, "status": status,
                         "wall_s": round(wall, 2), "branches": branches})
            print(f"{seed:4d} {exact.makespan_ms:9.4f} {name:24s} {status:26s} {wall:6.2f}s {branches:9d}", flush=True)
    print(f"\n{'seed':>4} {'streams':>7} {'optimum':>9} {'static bound':>12} {'below':>7} {'CP-SAT':10s} "
          f"{'its bound':>9} {'time':>7}")
    static = []
    for seed in seeds:
        graph = generators.random_layered(n, 2 * n, max(2, n // 6), 0.5, seed)
        for streams in (2, 1):
            p = Platform(gpus=2, streams=streams)
            cp = solve(graph, p, "cpsat", time_limit=2 * limit, workers=args.workers)
            exact = cp if cp.status == "optimal" else solve(graph, p, "astar", time_limit=120)
            if exact.status != "optimal":
                continue
            bound = cp.stats["static_bound_ms"]
            below = (exact.makespan_ms - bound) / exact.makespan_ms
            static.append({"ops": n, "gpus": 2, "streams": streams, "seed": seed,
                           "optimum": round(exact.makespan_ms, 6), "static_bound": round(bound, 6),
                           "cpsat_status": cp.status, "cpsat_bound": round(cp.lower_bound_ms, 6),
                           "cpsat_s": round(cp.wall_time_s, 2), "static_below_optimum": round(below, 6)})
            print(f"{seed:4d} {streams:7d} {exact.makespan_ms:9.4f} {bound:12.4f} {100 * below:6.2f}% {cp.status:10s} "
                  f"{cp.lower_bound_ms:9.4f} {cp.wall_time_s:6.1f}s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    print()
    write_csv(args.out / f"cpsat_probe{suffix}.csv", FIELDS, rows)
    write_csv(args.out / f"cpsat_probe_static{suffix}.csv", STATIC_FIELDS, static)
    return 0


if __name__ == "__main__":
    sys.exit(main())
