"""Digests of every deterministic output: generated graphs, every
heuristic's schedule on a few problems, and CP-SAT with a fixed seed and one
worker. ``tests/test_determinism.py`` compares them across fresh interpreters
with different ``PYTHONHASHSEED`` values, which import this module alone."""

from __future__ import annotations

import hashlib
import json

from hios_opt import Platform, generators

PROBLEMS = [
    ("layered", lambda: generators.random_layered(40, 80, 6, ccr=0.5, seed=4), (2, 2)),
    ("layered-dear", lambda: generators.random_layered(30, 60, 5, ccr=5.0, seed=9), (3, 1)),
    ("inception", generators.inception_block, (2, 3)),
    ("wide", lambda: generators.wide_layer(8), (1, 4)),
]


def schedule_bytes(schedule) -> str:
    return json.dumps(schedule.to_dict())


def digests(with_exact: bool = True) -> dict[str, str]:
    """SHA-256 of every deterministic output this module knows, by name."""
    out: dict[str, str] = {}

    def put(name: str, text: str) -> None:
        out[name] = hashlib.sha256(text.encode()).hexdigest()

    for seed in (0, 1, 12345):
        put(f"random_layered/{seed}", json.dumps(generators.random_layered(60, 150, 7, 1.0, seed).to_dict()))
    try:
        import hios_opt.heuristics as h
    except ImportError:
        h = None
    for name, make, (gpus, streams) in PROBLEMS:
        graph, platform = make(), Platform(gpus=gpus, streams=streams)
        if h is not None:
            for algorithm in h.algorithms():
                put(f"{name}/{algorithm}", schedule_bytes(h.schedule(graph, platform, algorithm)))
    if with_exact:
        try:
            import ortools  # noqa: F401

            import hios_opt.exact as ex
        except ImportError:
            ex = None
        if ex is not None:
            graph = generators.random_layered(9, 16, 3, ccr=0.5, seed=2)
            result = ex.solve(graph, Platform(gpus=2, streams=2), solver="cpsat", time_limit=30, workers=1, seed=0)
            put("cpsat", schedule_bytes(result.schedule))
    return out
