"""Bad input: the malformed-file corpus and the JSON mutation fuzzer, shared
by the Python API fuzz tests and the command-line error tests."""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hios_opt import Platform, errors, generators
from hios_opt.errors import HiosError

from .schedules import random_schedule

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad"


# ---------------------------------------------------------------- the corpus
@dataclass(frozen=True)
class CorpusCase:
    file: str
    reader: str
    error: str
    culprit: str
    what: str

    @property
    def path(self) -> Path:
        return CORPUS / self.file

    @property
    def error_type(self) -> type[HiosError]:
        return getattr(errors, self.error)


def corpus_cases() -> list[CorpusCase]:
    """The table of ``tests/data/bad/README.md``, one case per row."""
    cases = []
    for line in (CORPUS / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) == 5 and cells[0].endswith(".json"):
            file, reader, error, culprit, what = cells
            cases.append(CorpusCase(file, reader, error, culprit.strip("`"), what))
    return cases


# ------------------------------------------------------------ valid bases
def small_graph_dict() -> dict[str, Any]:
    g = generators.diamond().to_dict()
    g["ops"][1]["kind"] = "conv"
    g["ops"][1]["shape"] = [1, 64, 56, 56]
    g["ops"][2]["flops"] = 1000
    g["edges"][0]["bytes"] = 4096
    g["stage_latency_ms"] = [{"ops": ["b", "c"], "latency_ms": 4.2}]
    return g


SCHEDULE_GRAPH = generators.random_layered(16, 32, 4, ccr=0.5, seed=3)
SCHEDULE_PLATFORM = Platform(gpus=2, streams=2)


def valid_schedule_dict(seed: int) -> dict[str, Any]:
    return random_schedule(SCHEDULE_GRAPH, SCHEDULE_PLATFORM, seed).to_dict()


# ------------------------------------------------------- mutation fuzzer
# JSON values of every kind, with the numbers that break naive readers.
EXTREMES = [0, -0.0, -1, 1, 10**400, -(10**400), 2**63, 2**64, 1e308, -1e308, 1.7976931348623157e308, 5e-324,
            math.inf, -math.inf, math.nan, True, False, None, "", "a", "1.5", "NaN", [], {}, [1], {"id": "a"}]
MUTATION_POOL = EXTREMES + ["n0", "n1", "a", "b", -5, 3, 0.5, [[1, 2], [3, 4]], {"ops": []}]


def json_paths(obj: Any, path: tuple = ()) -> list[tuple]:
    """Every location inside a JSON tree (dict keys and list positions)."""
    out = [path]
    if isinstance(obj, dict):
        for key, value in obj.items():
            out += json_paths(value, path + (key,))
    elif isinstance(obj, list):
        for k, value in enumerate(obj):
            out += json_paths(value, path + (k,))
    return out


def strings_in(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for key, value in obj.items() for s in [key, *strings_in(value)]]
    if isinstance(obj, list):
        return [s for value in obj for s in strings_in(value)]
    return []


def mutate(doc: Any, rng: random.Random) -> Any:
    """One to three random structural mutations of a JSON document."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in json_paths(doc) if p]
        if not paths:
            return rng.choice(MUTATION_POOL)
        path = rng.choice(paths)
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        value = parent[last]
        op = rng.randrange(9)
        if op == 0:
            parent[last] = copy.deepcopy(rng.choice(MUTATION_POOL))
        elif op == 1:
            del parent[last]
        elif op == 2 and isinstance(parent, list):
            parent.insert(rng.randrange(len(parent) + 1), copy.deepcopy(value))  # duplicate an item
        elif op == 3:
            strings = strings_in(doc)
            parent[last] = rng.choice(strings) if strings else "x"  # confuse ids and fields
        elif op == 4 and isinstance(value, (int, float)) and not isinstance(value, bool):
            big = int(value) if isinstance(value, int) or math.isfinite(value) else 0
            parent[last] = rng.choice([-value, big * 10**300, big + 10**400, 0, 1e308, value * 3])
        elif op == 5:
            parent[last] = rng.choice([[value], {"v": value}, str(value)])
        elif op == 6 and isinstance(parent, dict):
            parent[rng.choice(["extra", "id", "ops", "gpu", "latency_ms"]) + rng.choice(["", "_"])] = value
        elif op == 7 and isinstance(value, list) and value:
            rng.shuffle(value)
        elif op == 8 and isinstance(value, dict) and {"src", "dst"} <= set(value):
            if rng.random() < 0.5:
                value["src"], value["dst"] = value["dst"], value["src"]  # a reversed edge: often a cycle
            else:
                value["dst"] = value["src"]
    return doc


def mutate_bytes(raw: bytes, rng: random.Random) -> bytes:
    op = rng.randrange(5)
    k = rng.randrange(len(raw) + 1)
    if op == 0:
        return raw[:k]  # truncated
    if op == 1 and raw:
        k = min(k, len(raw) - 1)
        return raw[:k] + bytes([raw[k] ^ (1 << rng.randrange(8))]) + raw[k + 1:]
    if op == 2:
        return raw[:k] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 4))) + raw[k:]
    if op == 3:
        return raw[:k] + raw[k + rng.randint(1, 20):]
    return raw[:k] + rng.choice([b"[" * 3000, b"NaN", b"1e999", b"9" * 5000, b'"\\ud800"', b"\xff\xfe"]) + raw[k:]
