"""Public DAG-scheduling instances with known optima, as :class:`OpGraph` s.

With one stream per GPU and unit utilization our problem is exactly the
classical ``P | prec, c_ij | Cmax`` (the problem contract, docs/design.md
section 1): a task's weight is its latency, an edge's weight its cross-GPU
delay (0 for STG, which is ``P | prec | Cmax``). Weights are read as ms.

Readers: :func:`read_stg` (Kasahara STG files), :func:`read_gxl` (the Sinnen
group's GXL files, with processor count, optimum and optimal schedule),
:func:`read_jsonl` (the normalised ``instances.jsonl``) and
:func:`read_optimal_csv` (proven optima and bounds). Each instance is a
:class:`BenchmarkInstance`; ``tests/data/exact/README.md`` says where the
files come from.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import FormatError
from ..graph import Edge, Op, OpGraph
from ..platform import Platform
from ..schedules import Schedule, Stage

__all__ = ["BenchmarkInstance", "read_stg", "read_gxl", "read_jsonl", "read_optimal_csv", "load_directory"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class BenchmarkInstance:
    """One case: a graph on ``processors`` identical processors.

    Attributes
    ----------
    name : str
        ``"<dataset>/<graph>"``, e.g. ``"stg50/rand0000"`` or ``"sinnen/2p_Fork_..."``.
    graph : OpGraph
        Latency = task weight, ``comm_ms`` = edge weight, utilization 1.
    processors : int
    optimum : float or None
        The optimal makespan, when proven.
    lower_bound, upper_bound : float or None
        Proven bounds (equal to the optimum when it is known).
    status : str or None
        The table's status word (``optimal_confirmed``, ``open`` ...).
    source : str
        The file it was read from.
    reference : Schedule or None
        A published optimal schedule (Sinnen GXL files carry one).
    """

    name: str
    graph: OpGraph
    processors: int
    optimum: float | None = None
    lower_bound: float | None = None
    upper_bound: float | None = None
    status: str | None = None
    source: str = ""
    reference: Schedule | None = field(default=None, compare=False)

    @property
    def platform(self) -> Platform:
        """``processors`` GPUs, one stream each."""
        return Platform(gpus=self.processors, streams=1)

    def __repr__(self) -> str:
        opt = "?" if self.optimum is None else f"{self.optimum:g}"
        return (f"BenchmarkInstance({self.name!r}, ops={self.graph.n_ops}, edges={self.graph.n_edges}, "
                f"P={self.processors}, optimum={opt})")


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FormatError(f"{where}: expected a number, got {text!r}") from None
    return int(value) if value.is_integer() else value


def read_stg(path: PathLike, name: str | None = None) -> OpGraph:
    """Read a Kasahara STG file (no communication costs).

    Notes
    -----
    The format: ``n``, then ``id time npred preds...`` lines, ``#`` metadata
    at the end. The zero-weight dummy entry and exit tasks are dropped; that
    changes no makespan, since they take no time and every other task lies
    between them.

    Examples
    --------
    >>> import io, tempfile, os
    >>> text = "2\\n0 0 0\\n1 3 1 0\\n2 4 1 1\\n3 0 1 2\\n# comment\\n"
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "tiny.stg")
    ...     _ = open(p, "w").write(text)
    ...     g = read_stg(p)
    >>> g.ids, g.latency, g.n_edges
    (('1', '2'), (3.0, 4.0), 1)
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror})") from None
    rows: list[list[str]] = []
    for line in lines:
        if line.lstrip().startswith("#"):
            break
        if line.strip():
            rows.append(line.split())
    if len(rows) < 2:
        raise FormatError(f"{path}: not an STG file (too few lines)")
    tasks: dict[int, tuple[float, list[int]]] = {}
    for k, row in enumerate(rows[1:], start=2):
        where = f"{path}:{k}"
        if len(row) < 3:
            raise FormatError(f"{where}: expected 'id time npred preds...'")
        tid, weight, npred = int(_number(row[0], where)), _number(row[1], where), int(_number(row[2], where))
        preds = [int(_number(x, where)) for x in row[3:]]
        if len(preds) != npred:
            raise FormatError(f"{where}: task {tid} says {npred} predecessors but lists {len(preds)}")
        tasks[tid] = (weight, preds)
    first, last = min(tasks), max(tasks)
    dummies = {t for t in (first, last) if tasks[t][0] == 0}
    ops = [Op(str(t), float(w)) for t, (w, _) in sorted(tasks.items()) if t not in dummies]
    edges = [
        Edge(str(p), str(t), 0.0) for t, (_, preds) in sorted(tasks.items()) if t not in dummies
        for p in preds if p not in dummies
    ]
    label = name or f"stg/{path.stem}"
    return OpGraph(ops, edges, name=label, meta={"source": "STG", "file": str(path)})


def read_gxl(path: PathLike) -> BenchmarkInstance:
    """Read a Sinnen-group GXL file: graph, processors, optimum, and the
    published optimal schedule (``reference``; processors renumbered from 0)."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise FormatError(f"{path}: not a readable GXL file ({exc})") from None
    graph_el = root.find("graph")
    if graph_el is None:
        raise FormatError(f"{path}: no <graph> element")

    def attrs(el: ET.Element) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for a in el.findall("attr"):
            child = next(iter(a), None)
            if child is not None and child.text is not None:
                out[a.get("name", "")] = _number(child.text, f"{path}: attribute {a.get('name')}") \
                    if child.tag in ("int", "float") else child.text
        return out

    info = attrs(graph_el)
    ops, starts, procs = [], {}, {}
    for node in graph_el.findall("node"):
        a = attrs(node)
        nid = node.get("id")
        if nid is None or "Weight" not in a:
            raise FormatError(f"{path}: node without id or Weight")
        ops.append(Op(nid, float(a["Weight"])))
        if "Start time" in a and "Processor" in a:
            starts[nid], procs[nid] = a["Start time"], a["Processor"]
    edges = []
    for edge in graph_el.findall("edge"):
        a = attrs(edge)
        edges.append(Edge(edge.get("from", ""), edge.get("to", ""), float(a.get("Weight", 0))))
    name = f"sinnen/{path.stem}"
    graph = OpGraph(ops, edges, name=name, meta={"source": "Sinnen optimal schedules (GXL)", "file": str(path)})
    processors = int(info.get("Number of processors", 0))
    optimum = info.get("Total schedule length")
    reference = None
    if len(starts) == len(ops):
        labels = {p: k for k, p in enumerate(sorted(set(procs.values())))}
        order = sorted(starts, key=lambda op: (starts[op], graph.topo_position[graph.index(op)]))
        reference = Schedule([Stage(labels[procs[op]], (op,)) for op in order],
                             gpus=max(processors, len(labels)), streams=1, algorithm="published", graph_name=name)
    opt = None if optimum is None else float(optimum)
    return BenchmarkInstance(name, graph, processors, opt, opt, opt, "published", str(path), reference)


def read_optimal_csv(path: PathLike) -> dict[tuple[str, int], dict[str, str]]:
    """The rows of ``optimal.csv`` keyed by ``(file, processors)``."""
    with open(path, newline="", encoding="utf-8") as fh:
        return {(row["file"], int(row["processors"])): row for row in csv.DictReader(fh)}


def _float_or_none(text: Any) -> float | None:
    if text is None or text == "":
        return None
    return float(text)


def read_jsonl(path: PathLike, *, name_contains: str = "") -> Iterator[BenchmarkInstance]:
    """One :class:`BenchmarkInstance` per (graph, processor count) of an
    ``instances.jsonl`` file (or ``.jsonl.gz``) whose name contains ``name_contains``."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for k, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as exc:
                raise FormatError(f"{path}:{k}: invalid JSON ({exc.msg})") from None
            if name_contains not in d["name"]:
                continue
            ids = [str(x) for x in d["nodes"]]
            ops = [Op(i, float(w)) for i, w in zip(ids, d["weights"])]
            edges = [Edge(str(u), str(v), float(c)) for u, v, c in d["edges"]]
            graph = OpGraph(ops, edges, name=d["name"], meta={"source": "instances.jsonl", "file": d.get("file")})
            for case in d["cases"]:
                yield BenchmarkInstance(
                    d["name"], graph, int(case["processors"]), _float_or_none(case.get("optimal")),
                    _float_or_none(case.get("lower_bound")), _float_or_none(case.get("upper_bound")),
                    case.get("status"), str(d.get("file", path)),
                )


def load_directory(root: PathLike) -> list[BenchmarkInstance]:
    """Every STG and GXL instance under ``root`` (searched recursively), with
    optima and bounds from ``root/optimal.csv`` when it is there.

    STG graphs get one instance per processor count listed for their file
    in ``optimal.csv`` (none without it); a GXL file is one instance, and the
    table, when it lists the file, overrides the optimum and the status.
    """
    root = Path(root)
    table_path = root / "optimal.csv"
    table = read_optimal_csv(table_path) if table_path.exists() else {}
    by_file: dict[str, list[dict[str, str]]] = {}
    for (file, _), row in table.items():
        by_file.setdefault(file, []).append(row)
    out: list[BenchmarkInstance] = []
    for path in sorted(root.rglob("*.stg")):
        rel = path.relative_to(root).as_posix()
        rows = sorted(by_file.get(rel, []), key=lambda r: int(r["processors"]))
        if not rows:
            continue
        graph = read_stg(path, name=rows[0]["graph"])
        for row in rows:
            out.append(BenchmarkInstance(
                row["graph"], graph, int(row["processors"]), _float_or_none(row["optimal_makespan"]),
                _float_or_none(row["lower_bound"]), _float_or_none(row["upper_bound"]), row["status"], rel,
            ))
    for path in sorted(root.rglob("*.gxl")):
        inst = read_gxl(path)
        rel = path.relative_to(root).as_posix()
        rows = by_file.get(rel, [])
        if len(rows) == 1:
            row = rows[0]
            inst = BenchmarkInstance(
                inst.name, inst.graph, int(row["processors"]), _float_or_none(row["optimal_makespan"]),
                _float_or_none(row["lower_bound"]), _float_or_none(row["upper_bound"]), row["status"], rel,
                inst.reference,
            )
        out.append(inst)
    return out
