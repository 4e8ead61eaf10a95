"""Same input and seed, same output, byte for byte.

In one process a second call could hide nothing worse than a cache; the real
threat is iteration over sets of strings, whose order changes with
``PYTHONHASHSEED``. So the digests are also computed in fresh interpreters
with different hash seeds and compared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from hios_opt import OpGraph, Platform, generators

from .support.determinism import PROBLEMS, digests, schedule_bytes
from .support.strategies import odd_graphs

ROOT = Path(__file__).resolve().parents[1]


def test_random_layered_same_seed_same_bytes():
    for seed in (0, 7, 2**40):
        a = generators.random_layered(50, 120, 6, 0.7, seed)
        b = generators.random_layered(50, 120, 6, 0.7, seed)
        assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    assert json.dumps(generators.random_layered(50, 120, 6, 0.7, 1).to_dict()) != json.dumps(
        generators.random_layered(50, 120, 6, 0.7, 2).to_dict())


@pytest.mark.parametrize("name, make, shape", PROBLEMS, ids=[p[0] for p in PROBLEMS])
def test_every_heuristic_twice(name, make, shape):
    import hios_opt.heuristics as h

    platform = Platform(gpus=shape[0], streams=shape[1])
    for algorithm in h.algorithms():
        first = schedule_bytes(h.schedule(make(), platform, algorithm))
        graph = make()
        second = schedule_bytes(h.schedule(graph, platform, algorithm))
        third = schedule_bytes(h.schedule(graph, platform, algorithm))  # warm caches on the graph
        assert first == second == third, algorithm


def test_cpsat_fixed_seed_one_worker():
    import hios_opt.exact as ex

    graph = generators.random_layered(9, 16, 3, ccr=0.5, seed=2)
    platform = Platform(gpus=2, streams=2)
    runs = [ex.solve(graph, platform, solver="cpsat", time_limit=30, workers=1, seed=0) for _ in range(2)]
    assert all(r.status == "optimal" for r in runs), [r.status for r in runs]
    assert schedule_bytes(runs[0].schedule) == schedule_bytes(runs[1].schedule)


def test_same_bytes_across_hash_seeds():
    """Fresh interpreters with different string hash seeds agree with this one."""
    script = ("import json, sys; sys.path.insert(0, sys.argv[1]); from tests.support.determinism import digests; "
              "print(json.dumps(digests()))")
    here = digests()
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        proc = subprocess.run([sys.executable, "-c", script, str(ROOT)], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        theirs = json.loads(proc.stdout.strip().splitlines()[-1])
        differ = sorted(k for k in here if theirs.get(k) != here[k])
        assert not differ, f"PYTHONHASHSEED={hash_seed} changes: {differ}"


# ---------------------------------------------------------- graph files
def save_load_save(graph: OpGraph, folder: Path) -> None:
    first, second = folder / "first.json", folder / "second.json"
    graph.save(first)
    OpGraph.load(first).save(second)
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("make", [*generators.NAMED.values(),
                                  lambda: generators.random_layered(300, 900, 12, 2.0, 3)],
                         ids=[*generators.NAMED, "layered-300"])
def test_graph_save_load_save(make, tmp_path):
    save_load_save(make(), tmp_path)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graph=odd_graphs(max_nodes=10))
def test_odd_graph_save_load_save(graph, tmp_path):
    save_load_save(graph, tmp_path)
