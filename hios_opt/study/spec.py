"""A study spec: which graphs, platforms, algorithms and solvers to cross.

A spec is a TOML file (:func:`load_spec`) or the same structure as a Python
dict (:func:`parse_spec`); its keys are the table of docs/studies.md. Unknown
keys and bad values raise :class:`~hios_opt.errors.SpecError` naming the
key's path and, for a file, its line (``study.toml:7: generate[0].ccr:
...``). :meth:`StudySpec.plan` loads the graphs and expands the grid into
:class:`Cell` s, each with a stable key.

>>> spec = parse_spec({"name": "tiny", "graphs": ["named:diamond"], "gpus": [1, 2],
...                    "algorithms": ["sequential", "hios-lp"]})
>>> len(spec.plan().cells)
4
"""

from __future__ import annotations

import glob as globmod
import hashlib
import inspect
import json
import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

from .. import __version__, generators
from .. import data as bundled
from ..checks import canonical_name, is_finite_number, is_int
from ..errors import HiosError, SpecError
from ..generators import diamond, named
from ..graph import OpGraph
from ..heuristics import algorithm_options, algorithms, schedule
from ..platform import Platform
from ._tomlpos import key_lines, line_of

__all__ = ["StudySpec", "Plan", "Cell", "GraphItem", "parse_spec", "load_spec", "spec_names", "graph_hash",
           "cell_key", "SPEC_FOLDER"]

#: Folder of the specs shipped with the package (``hios-opt study run NAME``).
SPEC_FOLDER = Path(__file__).resolve().parent / "specs"

BLOCK_KEYS = ("graphs", "generate", "gpus", "streams", "bandwidth_gbps", "latency_us", "platforms", "alpha",
              "algorithms", "exact", "repeats", "timeline")
TOP_KEYS = ("name", "description", "sweep") + BLOCK_KEYS
SWEEP_KEYS = ("name", "description") + BLOCK_KEYS
_GRID_PLATFORM = ("gpus", "streams", "bandwidth_gbps", "latency_us")
_DEFAULTS: dict[str, Any] = {"gpus": [1], "streams": [1], "bandwidth_gbps": [16.0], "latency_us": [10.0],
                             "alpha": [0.5], "algorithms": [], "exact": [], "repeats": 1, "timeline": False,
                             "graphs": [], "generate": []}
_EXACT_KEYS = ("solver", "time_limit", "workers", "seed", "warm_start", "resolution_ms", "label")
_LAYERED_KEYS = ("generator", "nodes", "edges", "layers", "ccr", "seed", "seeds", "latency_range",
                 "utilization_range")
_GLOB = re.compile(r"[*?\[]")
_TIMES = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*x\s*$")
_PER = re.compile(r"^\s*nodes\s*/\s*(\d+)\s*$")


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class GraphItem:
    """One graph of a study: its name, content hash, where it came from, its
    JSON object (sent to the workers) and the columns it adds to each row."""

    name: str
    hash: str
    source: str
    data: dict[str, Any] = field(repr=False, compare=False)
    columns: dict[str, Any] = field(compare=False)


@dataclass(frozen=True)
class Cell:
    """One run: a graph (by hash), a platform, a heuristic or an exact solver
    with its settings. ``key`` is the content hash of all of it and the
    package version; ``slots`` the cores it uses."""

    key: str
    graph: str
    kind: str
    algorithm: str
    variant: str
    settings: dict[str, Any] = field(compare=False)
    slots: int = 1


@dataclass
class Plan:
    """A spec expanded: the graphs by hash and the cells, in spec order, each key once."""

    name: str
    graphs: dict[str, GraphItem]
    cells: list[Cell]

    def __repr__(self) -> str:
        return f"Plan({self.name!r}, {len(self.graphs)} graphs, {len(self.cells)} cells)"


def graph_hash(graph: OpGraph) -> str:
    """Content hash of a graph: its ops, edges and stage table (not its name
    or meta), so the same graph from a file or a generator has one hash.

    >>> from hios_opt import generators
    >>> graph_hash(generators.diamond()) == graph_hash(generators.diamond().with_costs(name="other"))
    True
    """
    data = graph.to_dict()
    content = {k: data.get(k) for k in ("ops", "edges", "stage_latency_ms")}
    return hashlib.sha256(_canonical(content).encode()).hexdigest()[:32]


def cell_key(graph: str, name: str, settings: Mapping[str, Any]) -> str:
    """The key of a cell: graph hash and name, settings, package version."""
    payload = {"graph": graph, "graph_name": name, "version": __version__, **settings}
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()[:32]


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


# --------------------------------------------------------------------- spec
class _Source:
    """Where a spec came from, to name the culprit of an error."""

    def __init__(self, label: str, text: str | None) -> None:
        self.label = label
        self.lines = key_lines(text) if text is not None else {}

    def error(self, path: tuple, message: str) -> SpecError:
        where = _dotted(path)
        line = line_of(self.lines, path) if self.lines else None
        prefix = f"{self.label}:{line}" if line is not None else self.label
        return SpecError(f"{prefix}: {where + ': ' if where else ''}{message}")


def _dotted(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(value: Any) -> str:
    return f"{value!r:.60}"


@dataclass
class _Block:
    path: tuple
    values: dict[str, Any]
    paths: dict[str, tuple | list[tuple]]  # a key's path; a list's: one path per item


@dataclass
class StudySpec:
    """A validated spec; :meth:`plan` loads its graphs and lists its cells."""

    name: str
    description: str
    blocks: list[_Block] = field(repr=False)
    base_dir: Path = field(repr=False)
    source: _Source = field(repr=False)
    origin: str = ""

    def plan(self) -> Plan:
        """Load or generate every graph and expand the grid into cells."""
        graphs: dict[str, GraphItem] = {}
        cells: dict[str, Cell] = {}
        memo: dict[tuple, list[GraphItem]] = {}
        for block in self.blocks:
            items: list[GraphItem] = []
            for text, path in zip(block.values["graphs"], block.paths["graphs"]):
                key = ("file", text)
                if key not in memo:
                    memo[key] = self._load_graphs(text, path)
                items += memo[key]
            for entry, path in zip(block.values["generate"], block.paths["generate"]):
                key = ("gen", _canonical(entry))
                if key not in memo:
                    memo[key] = self._generate(entry, path)
                items += memo[key]
            if not items:
                raise self.source.error(block.path, "no graphs: give 'graphs' or 'generate'")
            for item in items:
                graphs.setdefault(item.hash, item)
                for cell in _cells(block, item):
                    cells.setdefault(cell.key, cell)
        return Plan(self.name, graphs, list(cells.values()))

    # -- graphs
    def _item(self, graph: OpGraph, source: str, columns: dict[str, Any] | None = None) -> GraphItem:
        cols: dict[str, Any] = {"graph_hash": graph_hash(graph), "graph_source": source, "edges": graph.n_edges}
        cols.update(columns or {})
        return GraphItem(graph.name, cols["graph_hash"], source, graph.to_dict(), cols)

    def _load_graphs(self, text: str, path: tuple) -> list[GraphItem]:
        try:
            if text.startswith("named:"):
                return [self._item(named(text.split(":", 1)[1]), text)]
            if _GLOB.search(text):
                files = _glob(self.base_dir, text)
                if not files:
                    raise self.source.error(path, f"{text!r} matches no graph file (looked in {self.base_dir} "
                                                  "and the bundled data)")
                return [self._item(OpGraph.load(f), label) for f, label in files]
            local = self.base_dir / text
            if local.is_file():
                return [self._item(OpGraph.load(local), text)]
            return [self._item(_bundled_graph(text), text)]
        except SpecError:
            raise
        except (HiosError, OSError) as exc:
            raise self.source.error(path, str(exc)) from None

    def _generate(self, entry: dict[str, Any], path: tuple) -> list[GraphItem]:
        name = entry.get("generator", "random_layered")
        fixed = {k: v for k, v in entry.items() if k != "generator"}
        axes = [(k, v if isinstance(v, list) and not _is_pair(k, v) else [v]) for k, v in fixed.items()]
        combos: list[dict[str, Any]] = [{}]
        for key, values in axes:
            combos = [dict(c, **{key: v}) for c in combos for v in values]
        items = []
        for combo in combos:
            params = dict(combo)
            try:
                if name == "random_layered":
                    if "seeds" in params:
                        params["seed"] = params.pop("seeds")
                    nodes = params.get("nodes")
                    params["edges"] = _edges(params.get("edges", "2x"), nodes)
                    params["layers"] = _layers(params.get("layers", "sqrt"), nodes)
                    for key in ("latency_range", "utilization_range"):
                        if key in params:
                            params[key] = tuple(params[key])
                    graph = generators.random_layered(**params)
                    columns = {"ccr": float(params.get("ccr", 0.5)), "graph_seed": params.get("seed", 0),
                               "layers": params["layers"]}
                else:
                    graph = generators.NAMED[name](**params)
                    if params:
                        label = ",".join(f"{k}={v}" for k, v in params.items())
                        graph = graph.with_costs(name=f"{graph.name}[{label}]")
                    columns = {}
            except (HiosError, TypeError, ValueError) as exc:
                raise self.source.error(path, f"{name}({', '.join(f'{k}={v!r}' for k, v in combo.items())}): "
                                              f"{exc}") from None
            items.append(self._item(graph, f"generate:{name}", columns))
        return items


def _is_pair(key: str, value: list) -> bool:
    """A ``*_range`` value given as one (low, high) pair rather than a list of pairs."""
    return key.endswith("_range") and not any(isinstance(v, list) for v in value)


def _edges(value: Any, nodes: Any) -> Any:
    if isinstance(value, str):
        match = _TIMES.match(value)
        if not match or not isinstance(nodes, int):
            raise SpecError(f"edges must be an integer or 'Nx' (N times nodes), got {value!r}")
        return round(float(match.group(1)) * nodes)
    return value


def _layers(value: Any, nodes: Any) -> Any:
    if isinstance(value, str):
        if not isinstance(nodes, int):
            raise SpecError("layers as an expression needs an integer 'nodes'")
        if value.strip() == "sqrt":
            return max(2, round(math.sqrt(nodes)))
        match = _PER.match(value)
        if match and int(match.group(1)) > 0:
            return max(2, nodes // int(match.group(1)))
        raise SpecError(f"layers must be an integer, 'sqrt' or 'nodes/K', got {value!r}")
    return value


def _glob(base: Path, pattern: str) -> list[tuple[Path, str]]:
    """Files matching ``pattern`` under ``base`` (else bundled graphs), with their labels."""
    local = sorted(Path(p) for p in globmod.glob(str(base / pattern), recursive=True) if os.path.isfile(p))
    if local:
        return [(p, str(p.relative_to(base)) if p.is_relative_to(base) else str(p)) for p in local]
    return [(bundled.path(name), name) for name in bundled.names(pattern)]


def _bundled_graph(text: str) -> OpGraph:
    """A bundled graph by name (:func:`hios_opt.data.load`, the package's one resolver)."""
    return bundled.load(text)


# ------------------------------------------------------------------- parsing
def spec_names() -> list[str]:
    """Names of the specs shipped with the package (``hios-opt study run NAME``)."""
    return sorted(p.stem for p in SPEC_FOLDER.glob("*.toml"))


def load_spec(source: str | os.PathLike[str] | Mapping[str, Any] | StudySpec) -> StudySpec:
    """A spec from a TOML file, a shipped spec's name (:func:`spec_names`),
    a dict of the same structure, or a :class:`StudySpec` (returned as is)."""
    if isinstance(source, StudySpec):
        return source
    if isinstance(source, Mapping):
        return parse_spec(source)
    if not isinstance(source, (str, os.PathLike)):
        raise SpecError(f"a spec is a TOML file, a shipped spec name or a dict, got {type(source).__name__}")
    path = Path(source)
    if not path.is_file() and str(source) in spec_names():
        path = SPEC_FOLDER / f"{source}.toml"
    if not path.is_file():
        shipped = ", ".join(spec_names())
        raise SpecError(f"{source}: no such spec file (shipped specs: {shipped})")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: invalid TOML: {exc}") from None
    return parse_spec(data, source=str(path), text=text, base_dir=path.resolve().parent)


def parse_spec(data: Mapping[str, Any], *, source: str = "spec", text: str | None = None,
               base_dir: str | os.PathLike[str] | None = None) -> StudySpec:
    """Check a spec's structure and values (``text``: the TOML it came from,
    for line numbers; ``base_dir``: the folder relative graph paths start from,
    default the current one)."""
    src = _Source(source, text)
    if not isinstance(data, Mapping):
        raise src.error((), f"a spec is a table of keys, got {type(data).__name__}")
    _check_keys(src, data, (), TOP_KEYS)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise src.error(("name",), f"the study needs a name (a non-empty string), got {_short(name)}"
                        if "name" in data else "missing key 'name' (the study's name)")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise src.error(("description",), f"must be a string, got {_short(description)}")
    top = _parse_block(src, data, ())
    sweeps = data.get("sweep")
    blocks: list[_Block] = []
    if sweeps is None:
        blocks.append(_complete(src, top, ()))
    else:
        if not isinstance(sweeps, list) or not sweeps:
            raise src.error(("sweep",), "must be a list of tables ([[sweep]] sections)")
        for i, sweep in enumerate(sweeps):
            path = ("sweep", i)
            if not isinstance(sweep, Mapping):
                raise src.error(path, f"must be a table, got {_short(sweep)}")
            _check_keys(src, sweep, path, SWEEP_KEYS)
            if "description" in sweep and not isinstance(sweep["description"], str):
                raise src.error(path + ("description",), "must be a string")
            if "name" in sweep and not isinstance(sweep["name"], str):
                raise src.error(path + ("name",), "must be a string")
            own = _parse_block(src, sweep, path)
            merged = _Block(path, dict(top.values), dict(top.paths))
            if set(own.values) & set(_GRID_PLATFORM):
                merged.values.pop("platforms", None)
            if "platforms" in own.values:
                for key in _GRID_PLATFORM:
                    merged.values.pop(key, None)
            merged.values.update(own.values)
            merged.paths.update(own.paths)
            blocks.append(_complete(src, merged, path))
    folder = Path(base_dir) if base_dir is not None else Path.cwd()
    return StudySpec(name.strip(), description, blocks, folder, src, source)


def _check_keys(src: _Source, table: Mapping[str, Any], path: tuple, valid: tuple[str, ...]) -> None:
    for key in table:
        if key not in valid:
            raise src.error(path + (key,), f"unknown key; valid: {', '.join(sorted(valid))}")


def _items(src: _Source, value: Any, path: tuple) -> list[tuple[Any, tuple]]:
    """A scalar or a list as (item, path) pairs; an empty list is refused."""
    if isinstance(value, list):
        if not value:
            raise src.error(path, "must not be empty")
        return [(v, path + (i,)) for i, v in enumerate(value)]
    return [(value, path)]


def _int(src: _Source, value: Any, path: tuple, low: int, high: int | None = None) -> int:
    if not is_int(value) or value < low or (high is not None and value > high):
        limit = f"in {low}..{high}" if high is not None else f">= {low}"
        raise src.error(path, f"must be an integer {limit}, got {_short(value)}")
    return value


def _number(src: _Source, value: Any, path: tuple, low: float, high: float | None = None,
            strict: bool = False) -> float:
    ok = is_finite_number(value)
    if not ok or value < low or (strict and value == low) or (high is not None and value > high):
        limit = f"{'>' if strict else '>='} {low:g}" + (f" and <= {high:g}" if high is not None else "")
        raise src.error(path, f"must be a finite number {limit}, got {_short(value)}")
    return float(value)


def _parse_block(src: _Source, table: Mapping[str, Any], path: tuple) -> _Block:
    """The block keys a table sets, checked (each value with its path)."""
    values: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    if "platforms" in table and set(table) & set(_GRID_PLATFORM):
        clash = sorted(set(table) & set(_GRID_PLATFORM))[0]
        raise src.error(path + (clash,), "give either 'platforms' or the gpus/streams/link grid, not both")
    for key in BLOCK_KEYS:
        if key not in table:
            continue
        here = path + (key,)
        value = table[key]
        if key in ("graphs", "generate") and value == []:
            values[key], paths[key] = [], []
            continue
        if key == "graphs":
            items = _items(src, value, here)
            for item, p in items:
                if not isinstance(item, str) or not item.strip():
                    raise src.error(p, f"a graph is a file, a glob, a bundled name or named:NAME, got {_short(item)}")
            values[key] = [item.strip() for item, _ in items]
            paths[key] = [p for _, p in items]
        elif key == "generate":
            items = _items(src, value, here)
            values[key] = [_check_generate(src, item, p) for item, p in items]
            paths[key] = [p for _, p in items]
        elif key in ("gpus", "streams"):
            values[key] = [_int(src, v, p, 1, 4096) for v, p in _items(src, value, here)]
        elif key in ("bandwidth_gbps", "latency_us"):
            values[key] = [_number(src, v, p, 0.0, strict=key == "bandwidth_gbps")
                           for v, p in _items(src, value, here)]
        elif key == "alpha":
            values[key] = [_number(src, v, p, 0.0, 1.0) for v, p in _items(src, value, here)]
        elif key == "platforms":
            values[key] = [_check_platform(src, v, p) for v, p in _items(src, value, here)]
        elif key == "algorithms":
            values[key] = [] if value == [] else [_check_algorithm(src, v, p) for v, p in _items(src, value, here)]
        elif key == "exact":
            values[key] = [] if value == [] else [_check_exact(src, v, p) for v, p in _items(src, value, here)]
        elif key == "repeats":
            values[key] = _int(src, value, here, 1, 10_000)
        elif key == "timeline":
            if not isinstance(value, bool):
                raise src.error(here, f"must be true or false, got {_short(value)}")
            values[key] = value
        paths[key] = paths.get(key, here)
    return _Block(path, values, paths)


def _complete(src: _Source, block: _Block, path: tuple) -> _Block:
    """Defaults for the keys nobody set, the platform grid, and a check that
    there is something to run."""
    values = dict(_DEFAULTS, **block.values)
    paths = dict(block.paths)
    paths.setdefault("graphs", [])
    paths.setdefault("generate", [])
    if "platforms" not in block.values:
        values["platforms"] = [
            {"gpus": k, "streams": s, "bandwidth_gbps": bw, "latency_us": lat}
            for k in values["gpus"] for s in values["streams"] for bw in values["bandwidth_gbps"]
            for lat in values["latency_us"]
        ]
    if not values["algorithms"] and not values["exact"]:
        raise src.error(path, "nothing to run: give 'algorithms' or 'exact'")
    max_streams = max(p["streams"] for p in values["platforms"])
    for algo, p in zip(values["algorithms"], _paths_of(block, "algorithms", len(values["algorithms"]))):
        _try_algorithm(src, algo, p, max_streams)
    return _Block(path, values, paths)


def _paths_of(block: _Block, key: str, count: int) -> list[tuple]:
    here = block.paths.get(key, block.path + (key,))
    assert isinstance(here, tuple), "a scalar key's path, not a list's"
    return [here + (i,) for i in range(count)]


def _check_generate(src: _Source, entry: Any, path: tuple) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise src.error(path, f"a generator grid is a table such as {{nodes = [20, 30], ccr = 0.5}}, "
                              f"got {_short(entry)}")
    name = entry.get("generator", "random_layered")
    valid_names = ["random_layered", *generators.NAMED]
    if name not in valid_names:
        raise src.error(path + ("generator",), f"unknown generator {_short(name)}; valid: {', '.join(valid_names)}")
    valid: tuple[str, ...]
    if name == "random_layered":
        valid = _LAYERED_KEYS
        if "seed" in entry and "seeds" in entry:
            raise src.error(path + ("seeds",), "give 'seed' or 'seeds', not both")
        if "nodes" not in entry:
            raise src.error(path, "random_layered needs 'nodes'")
    else:
        valid = ("generator", *inspect.signature(generators.NAMED[name]).parameters)
    _check_keys(src, entry, path, valid)
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "generator":
            out[key] = value
            continue
        here = path + (key,)
        grid = isinstance(value, list) and not _is_pair(key, value)
        for item, p in (_items(src, value, here) if grid else [(value, here)]):
            _check_param(src, key, item, p)
        out[key] = value
    return out


def _check_param(src: _Source, key: str, value: Any, path: tuple) -> None:
    if key in ("nodes", "seed", "seeds", "length", "branches", "width"):
        _int(src, value, path, 0)
    elif key == "edges":
        if not (isinstance(value, str) and _TIMES.match(value)):
            _int(src, value, path, 1)
    elif key == "layers":
        if not (isinstance(value, str) and (value.strip() == "sqrt" or _PER.match(value))):
            _int(src, value, path, 1)
    elif key.endswith("_range"):
        if not (isinstance(value, list) and len(value) == 2):
            raise src.error(path, f"must be a [low, high] pair, got {_short(value)}")
        for i, v in enumerate(value):
            _number(src, v, path + (i,), 0.0)
    else:
        _number(src, value, path, 0.0)


def _check_platform(src: _Source, value: Any, path: tuple) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise src.error(path, f"a platform is a table such as {{gpus = 2, streams = 2}}, got {_short(value)}")
    valid = ("gpus", "streams", "bandwidth_gbps", "latency_us", "bandwidth_matrix_gbps", "latency_matrix_us")
    _check_keys(src, value, path, valid)
    try:
        return Platform.from_dict(dict(value)).to_dict()
    except HiosError as exc:
        raise src.error(path, str(exc)) from None


def _check_algorithm(src: _Source, value: Any, path: tuple) -> dict[str, Any]:
    if isinstance(value, str):
        table: Mapping[str, Any] = {"name": value}
    elif isinstance(value, Mapping):
        table = value
        if "name" not in table:
            raise src.error(path, "an algorithm table needs 'name'")
    else:
        raise src.error(path, f"an algorithm is a name or a table {{name = ..., options ...}}, got {_short(value)}")
    try:
        name = canonical_name(table["name"], algorithms())
    except HiosError as exc:
        raise src.error(path + ("name",) if isinstance(value, Mapping) else path, str(exc)) from None
    label = table.get("label")
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise src.error(path + ("label",), f"must be a non-empty string, got {_short(label)}")
    accepted = algorithm_options(name)
    options: dict[str, list[Any]] = {}
    for key, option in table.items():
        if key in ("name", "label"):
            continue
        if key not in accepted:
            takes = ", ".join(accepted) if accepted else "no options"
            raise src.error(path + (key,), f"{name} does not take option {key!r}; it takes: {takes}")
        options[key] = [v for v, _ in _items(src, option, path + (key,))]
    return {"name": name, "label": label, "options": options, "path": path}


def _try_algorithm(src: _Source, algo: dict[str, Any], path: tuple, streams: int) -> None:
    """Run each option set once on a four-op graph: a bad value is refused now, not in every cell."""
    for options in _option_sets(algo["options"]):
        try:
            schedule(diamond(), Platform(gpus=1, streams=streams), algo["name"], **options)
        except HiosError as exc:
            raise src.error(algo.get("path", path), str(exc)) from None


def _option_sets(options: dict[str, list[Any]]) -> list[dict[str, Any]]:
    sets: list[dict[str, Any]] = [{}]
    for key, values in options.items():
        sets = [dict(s, **{key: v}) for s in sets for v in values]
    return sets


def _check_exact(src: _Source, value: Any, path: tuple) -> dict[str, Any]:
    # Imported for a spec with exact cells only: OR-Tools adds about 100 MiB to
    # the coordinator and to every pool process it forks.
    from ..exact.registry import solver_spec

    table: Mapping[str, Any] = {"solver": value} if isinstance(value, str) else value
    if not isinstance(table, Mapping):
        raise src.error(path, f"an exact solver is a name or a table {{solver = ..., time_limit = ...}}, "
                              f"got {_short(value)}")
    _check_keys(src, table, path, _EXACT_KEYS)
    if "solver" not in table:
        raise src.error(path, "an exact table needs 'solver'")
    solver = table["solver"]
    here = path + ("solver",) if isinstance(value, Mapping) else path
    try:
        solver_spec(solver)
    except HiosError as exc:
        raise src.error(here, str(exc)) from None
    out: dict[str, Any] = {"solver": solver, "label": table.get("label")}
    out["time_limit"] = [_number(src, v, p, 0.0, strict=True)
                         for v, p in _items(src, table.get("time_limit", 60.0), path + ("time_limit",))]
    out["workers"] = [_int(src, v, p, 1, 4096) for v, p in _items(src, table.get("workers", 1), path + ("workers",))]
    out["seed"] = [_int(src, v, p, 0, 2**31 - 1) for v, p in _items(src, table.get("seed", 0), path + ("seed",))]
    warm = table.get("warm_start", "auto")
    if not isinstance(warm, str):
        raise src.error(path + ("warm_start",), f"must be 'auto', 'none' or a heuristic's name, got {_short(warm)}")
    if warm not in ("auto", "none", *algorithms()):
        raise src.error(path + ("warm_start",), f"must be 'auto', 'none' or one of {', '.join(algorithms())}, "
                                                f"got {_short(warm)}")
    out["warm_start"] = warm
    resolution = table.get("resolution_ms")
    out["resolution_ms"] = None if resolution is None else _number(src, resolution, path + ("resolution_ms",), 0.0,
                                                                   strict=True)
    label = out["label"]
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise src.error(path + ("label",), f"must be a non-empty string, got {_short(label)}")
    return out


# --------------------------------------------------------------------- cells
def _variant(name: str, options: dict[str, Any], label: str | None) -> str:
    if label:
        return label
    if not options:
        return name
    return f"{name}[{','.join(f'{k}={json.dumps(v)}' for k, v in sorted(options.items()))}]"


def _cells(block: _Block, item: GraphItem) -> list[Cell]:
    values = block.values
    out = []
    for platform in values["platforms"]:
        for alpha in values["alpha"]:
            for repeat in range(values["repeats"]):
                common = {"platform": platform, "alpha": alpha, "repeat": repeat}
                for algo in values["algorithms"]:
                    for options in _option_sets(algo["options"]):
                        settings = {"kind": "heuristic", "algorithm": algo["name"], "options": options,
                                    "timeline": values["timeline"], **common}
                        key = cell_key(item.hash, item.name, settings)
                        out.append(Cell(key, item.hash, "heuristic", algo["name"],
                                        _variant(algo["name"], options, algo["label"]), settings))
                for ex in values["exact"]:
                    for limit in ex["time_limit"]:
                        for workers in ex["workers"]:
                            for seed in ex["seed"]:
                                settings = {"kind": "exact", "solver": ex["solver"], "time_limit": limit,
                                            "workers": workers, "seed": seed, "warm_start": ex["warm_start"],
                                            "resolution_ms": ex["resolution_ms"], **common}
                                key = cell_key(item.hash, item.name, settings)
                                algorithm = f"exact-{ex['solver']}"
                                out.append(Cell(key, item.hash, "exact", algorithm, ex["label"] or algorithm,
                                                settings, slots=workers))
    return out
