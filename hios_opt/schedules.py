"""The schedule: the one plan format every algorithm returns and the executor runs."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._io import check_finite_tree, check_header, read_json, require, write_json_atomic
from .checks import is_finite_number
from .errors import FormatError, ScheduleError
from .platform import MAX_GPUS, MAX_STREAMS

__all__ = ["Stage", "Schedule", "SCHEDULE_FORMAT", "SCHEDULE_VERSION"]

SCHEDULE_FORMAT = "hios-opt/schedule"
SCHEDULE_VERSION = 1


@dataclass(frozen=True)
class Stage:
    """Operators that run concurrently on one GPU, one stream each (the
    op at position ``k`` runs on stream ``k``)."""

    gpu: int
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if isinstance(self.ops, str):
            object.__setattr__(self, "ops", (self.ops,))
        elif not isinstance(self.ops, tuple):
            object.__setattr__(self, "ops", tuple(self.ops))


_EXACT_FIELDS = ("status", "lower_bound_ms", "gap")


def known_makespan(schedule: Schedule) -> float:
    """``schedule.makespan_ms`` where it is known to be filled: every
    scheduler and solver evaluates the schedule it returns.

    >>> known_makespan(Schedule([Stage(0, ("a",))], makespan_ms=1.5))
    1.5
    """
    assert schedule.makespan_ms is not None, "an unevaluated schedule"
    return schedule.makespan_ms


@dataclass
class Schedule:
    """Placement of every op on a GPU, grouped into ordered stages.

    ``stages`` lists every stage; the stages of one GPU run in the order they
    appear in the list. ``makespan_ms`` is the evaluator's number, filled by
    the algorithm that made the schedule (``None`` when not yet evaluated).

    Examples
    --------
    >>> s = Schedule([Stage(0, ("a",)), Stage(0, ("b", "c")), Stage(0, ("d",))],
    ...              gpus=1, streams=2, algorithm="by-hand", graph_name="diamond")
    >>> s.gpu_of("c"), s.stream_of("c"), len(s)
    (0, 1, 3)
    >>> Schedule.from_dict(s.to_dict()) == s
    True
    """

    stages: list[Stage]
    gpus: int = 1
    streams: int = 1
    algorithm: str = "unknown"
    graph_name: str = "graph"
    makespan_ms: float | None = None
    status: str | None = None
    lower_bound_ms: float | None = None
    gap: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        stages = []
        for k, st in enumerate(self.stages):
            if not isinstance(st, Stage):
                if not isinstance(st, (tuple, list)) or len(st) != 2:
                    raise ScheduleError(f"stage #{k}: expected a Stage or a (gpu, ops) pair, got {st!r:.60}")
                st = Stage(*st)
            stages.append(st)
        self.stages = stages

    def __len__(self) -> int:
        return len(self.stages)

    def __repr__(self) -> str:
        span = "?" if self.makespan_ms is None else f"{self.makespan_ms:.4g} ms"
        return (f"Schedule(algorithm={self.algorithm!r}, graph={self.graph_name!r}, gpus={self.gpus}, "
                f"streams={self.streams}, stages={len(self.stages)}, makespan={span})")

    @property
    def placement(self) -> dict[str, int]:
        """Op id -> GPU."""
        return {op: st.gpu for st in self.stages for op in st.ops}

    def gpu_of(self, op_id: str) -> int:
        for st in self.stages:
            if op_id in st.ops:
                return st.gpu
        raise ScheduleError(f"op {op_id!r} is not in the schedule")

    def stream_of(self, op_id: str) -> int:
        for st in self.stages:
            if op_id in st.ops:
                return st.ops.index(op_id)
        raise ScheduleError(f"op {op_id!r} is not in the schedule")

    def gpu_stages(self, gpu: int) -> list[Stage]:
        """The stages of one GPU, in execution order."""
        return [st for st in self.stages if st.gpu == gpu]

    @property
    def ops(self) -> list[str]:
        return [op for st in self.stages for op in st.ops]

    @classmethod
    def from_gpu_lists(
        cls,
        per_gpu: Sequence[Sequence[Sequence[str] | str]],
        *,
        streams: int = 1,
        **kwargs: Any,
    ) -> Schedule:
        """Build from ``per_gpu[k]`` = the stages of GPU ``k``, each a list of op
        ids (or one op id).

        >>> Schedule.from_gpu_lists([["a", ["b", "c"]], ["d"]], streams=2).stages[1]
        Stage(gpu=0, ops=('b', 'c'))
        """
        stages = [
            Stage(k, (st,) if isinstance(st, str) else tuple(st))
            for k, gpu_stages in enumerate(per_gpu) for st in gpu_stages
        ]
        return cls(stages, gpus=max(len(per_gpu), 1), streams=streams, **kwargs)

    @classmethod
    def sequential(cls, order: Iterable[str], **kwargs: Any) -> Schedule:
        """One op per stage on GPU 0, in the given order."""
        return cls([Stage(0, (op,)) for op in order], **kwargs)

    # -------------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": SCHEDULE_FORMAT, "version": SCHEDULE_VERSION, "graph": self.graph_name,
            "gpus": self.gpus, "streams": self.streams, "algorithm": self.algorithm,
            "makespan_ms": self.makespan_ms,
            "stages": [{"gpu": st.gpu, "ops": list(st.ops)} for st in self.stages],
        }
        for key in _EXACT_FIELDS:
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        if self.meta:
            d["meta"] = self.meta
        return d

    @classmethod
    def from_dict(cls, data: Any, source: str = "schedule") -> Schedule:
        """Read a schedule JSON object; checks types, not the graph (that is
        :func:`hios_opt.evaluate`'s job)."""
        check_header(data, SCHEDULE_FORMAT, SCHEDULE_VERSION, source)
        known = {"format", "version", "graph", "gpus", "streams", "algorithm", "makespan_ms", "stages", "meta",
                 *_EXACT_FIELDS}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FormatError(f"{source}: unknown field {unknown[0]!r}")
        gpus = require(data, "gpus", source, int)
        streams = require(data, "streams", source, int)
        for key, value, maximum in (("gpus", gpus, MAX_GPUS), ("streams", streams, MAX_STREAMS)):
            if not 1 <= value <= maximum:
                raise FormatError(f"{source}: field {key!r} must be in 1..{maximum}, got {value!r:.40}")
        raw_stages = require(data, "stages", source, list)
        stages = []
        for k, st in enumerate(raw_stages):
            where = f"{source}: stage #{k}"
            gpu = require(st, "gpu", where, int)
            ops = require(st, "ops", where, list)
            unknown = sorted(set(st) - {"gpu", "ops"})
            if unknown:
                raise FormatError(f"{where}: unknown field {unknown[0]!r} (known: gpu, ops)")
            if not ops:
                raise FormatError(f"{where}: empty stage (a stage holds at least one op)")
            for op in ops:
                if not isinstance(op, str):
                    raise FormatError(f"{where}: op ids must be strings, got {op!r:.40}")
            stages.append(Stage(gpu, tuple(ops)))
        for key in ("makespan_ms", "lower_bound_ms", "gap"):
            value = data.get(key)
            if value is not None and not is_finite_number(value):
                raise FormatError(f"{source}: field {key!r} must be a finite number or null, got {value!r:.40}")
        makespan = data.get("makespan_ms")
        for key in ("algorithm", "graph"):
            if key in data and not isinstance(data[key], str):
                raise FormatError(f"{source}: field {key!r} must be a string")
        if data.get("status") is not None and not isinstance(data["status"], str):
            raise FormatError(f"{source}: field 'status' must be a string or null, got {data['status']!r:.40}")
        extra = {key: data[key] for key in _EXACT_FIELDS if key in data}
        meta = data.get("meta", {})
        if not isinstance(meta, Mapping):
            raise FormatError(f"{source}: field 'meta' must be an object")
        check_finite_tree(meta, f"{source}: field 'meta'")
        return cls(stages, gpus=gpus, streams=streams, algorithm=data.get("algorithm", "unknown"),
                   graph_name=data.get("graph", "graph"), makespan_ms=makespan, meta=dict(meta), **extra)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Schedule:
        return cls.from_dict(read_json(path), str(path))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the schedule JSON atomically."""
        write_json_atomic(path, self.to_dict())
