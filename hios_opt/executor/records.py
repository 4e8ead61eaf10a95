"""What a run of a plan measured: per-operator and per-stage times, and
:class:`Measurement`, the result of :func:`hios_opt.executor.run` on every
backend (the distributed one included), exportable as a pandas DataFrame or
a Chrome trace (``chrome://tracing`` or Perfetto).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hios_opt._io import write_json_atomic
from hios_opt.executor.plan import Plan

__all__ = ["OpTiming", "StageRecord", "Measurement", "op_timings"]


@dataclass(frozen=True)
class OpTiming:
    """When one operator ran (ms from the start of its run)."""

    op: str
    gpu: int
    stream: int
    stage: int
    start_ms: float
    end_ms: float


@dataclass(frozen=True)
class StageRecord:
    """When one stage ran: from its first op's start to its last op's end."""

    stage: int
    gpu: int
    ops: tuple[str, ...]
    start_ms: float
    end_ms: float

    @property
    def latency_ms(self) -> float:
        return self.end_ms - self.start_ms


@dataclass
class Measurement:
    """Measured latency of a plan, with the outputs and a timeline.

    Attributes
    ----------
    outputs : Any
        Model outputs of the last run.
    latencies_ms : list of float
        Latency of every measured run (warm-up runs excluded).
    backend : str
        ``"cpu"``, ``"cuda"`` or ``"distributed"``.
    model : str
        Traced model name.
    op_timings : tuple of OpTiming
        Per-operator timeline of the median run (empty when not recorded).
    meta : dict
        Backend details (devices, world size, threads ...).

    Examples
    --------
    >>> m = Measurement(None, [3.0, 1.0, 2.0], "cpu", "demo")
    >>> m.median_ms, m.runs
    (2.0, 3)
    """

    outputs: Any
    latencies_ms: list[float]
    backend: str
    model: str
    op_timings: tuple[OpTiming, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        return len(self.latencies_ms)

    @property
    def median_ms(self) -> float:
        return float(np.median(self.latencies_ms))

    @property
    def p10_ms(self) -> float:
        return float(np.percentile(self.latencies_ms, 10))

    @property
    def p90_ms(self) -> float:
        return float(np.percentile(self.latencies_ms, 90))

    @property
    def mean_ms(self) -> float:
        return float(np.mean(self.latencies_ms))

    @property
    def stage_timings(self) -> tuple[StageRecord, ...]:
        """Per-stage start/end of the median run, in stage order."""
        by_stage: dict[int, list[OpTiming]] = {}
        for t in self.op_timings:
            by_stage.setdefault(t.stage, []).append(t)
        return tuple(
            StageRecord(
                stage=s,
                gpu=items[0].gpu,
                ops=tuple(t.op for t in sorted(items, key=lambda t: t.stream)),
                start_ms=min(t.start_ms for t in items),
                end_ms=max(t.end_ms for t in items),
            )
            for s, items in sorted(by_stage.items())
        )

    def __repr__(self) -> str:
        if not self.latencies_ms:
            return f"Measurement(backend={self.backend!r}, model={self.model!r}, runs=0)"
        return (
            f"Measurement(backend={self.backend!r}, model={self.model!r}, runs={self.runs}, "
            f"median={self.median_ms:.3f} ms, p10={self.p10_ms:.3f} ms, p90={self.p90_ms:.3f} ms)"
        )

    def to_dataframe(self, level: str = "op") -> Any:
        """A pandas DataFrame of the ``"op"``, ``"stage"`` or ``"run"`` timings."""
        import pandas as pd

        if level == "op":
            return pd.DataFrame([t.__dict__ for t in self.op_timings])
        if level == "stage":
            return pd.DataFrame(
                [{**s.__dict__, "latency_ms": s.latency_ms} for s in self.stage_timings]
            )
        if level == "run":
            return pd.DataFrame({"latency_ms": self.latencies_ms})
        raise ValueError(f"level must be 'op', 'stage' or 'run', got {level!r}")

    def to_chrome_trace(self, path: str | os.PathLike[str]) -> None:
        """Write the median run's timeline in Chrome trace-event JSON.

        One process per logical GPU, one thread per stream; stages are drawn
        as spans on an extra ``stages`` thread of each GPU.
        """
        events: list[dict[str, Any]] = []
        gpus = sorted({t.gpu for t in self.op_timings})
        for gpu in gpus:
            events.append({"name": "process_name", "ph": "M", "pid": gpu, "args": {"name": f"GPU {gpu}"}})
            events.append({"name": "thread_name", "ph": "M", "pid": gpu, "tid": -1, "args": {"name": "stages"}})
        for t in self.op_timings:
            events.append(
                {
                    "name": t.op, "cat": "op", "ph": "X", "pid": t.gpu, "tid": t.stream,
                    "ts": t.start_ms * 1e3, "dur": max(t.end_ms - t.start_ms, 0.0) * 1e3,
                    "args": {"stage": t.stage},
                }
            )
        for s in self.stage_timings:
            events.append(
                {
                    "name": f"stage {s.stage}", "cat": "stage", "ph": "X", "pid": s.gpu, "tid": -1,
                    "ts": s.start_ms * 1e3, "dur": s.latency_ms * 1e3, "args": {"ops": list(s.ops)},
                }
            )
        write_json_atomic(
            path,
            {
                "traceEvents": events,
                "displayTimeUnit": "ms",
                "otherData": {"model": self.model, "backend": self.backend, "median_ms": self.median_ms},
            },
        )


def op_timings(plan: Plan, times: dict[str, tuple[float, float]]) -> tuple[OpTiming, ...]:
    """Attach GPU, stream and stage to raw ``op -> (start, end)`` times."""
    out = []
    for step in plan.steps:
        if step.op in times:
            start, end = times[step.op]
            out.append(OpTiming(step.op, step.gpu, step.stream, step.stage, float(start), float(end)))
    return tuple(sorted(out, key=lambda t: (t.start_ms, t.gpu, t.stream)))
