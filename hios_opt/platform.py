"""The platform: identical GPUs, streams per GPU, and the links between them.

A :class:`Link` is the one link model of the package (bandwidth in GB/s,
latency in microseconds): platforms, measured links (:mod:`hios_opt.profile`)
and datasheet links (:mod:`hios_opt.estimate`) are all links. What an edge's
tensor costs on a platform is :func:`hios_opt.timing.edge_delays`'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .checks import check_int, is_finite_number
from .errors import PlatformError

__all__ = ["Platform", "Link", "MAX_GPUS", "MAX_STREAMS"]

# Far above any real machine; they keep per-GPU and per-stream tables (timelines,
# Gantt rows, solver variables) from exhausting memory on a typo like 10**12.
MAX_GPUS = 4096
MAX_STREAMS = 4096


def _positive_int(value: Any, name: str, maximum: int) -> int:
    check_int(value, name, expected="an integer >= 1", error=PlatformError)
    if not 1 <= value <= maximum:
        raise PlatformError(f"{name} must be in 1..{maximum}, got {value!r:.40}")
    return value


def _finite(value: Any, name: str, *, positive: bool) -> float:
    if not is_finite_number(value):
        raise PlatformError(f"{name} must be a finite number, got {value!r:.40}")
    if value < 0 or (positive and value == 0):
        raise PlatformError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value}")
    return float(value)


@dataclass(frozen=True)
class Link:
    """A link between two devices: ``bytes / bandwidth + latency``.

    Examples
    --------
    >>> round(Link(bandwidth_gbps=10.0, latency_us=5.0).transfer_ms(1_000_000), 6)   # 1 MB at 10 GB/s + 5 us
    0.105
    """

    bandwidth_gbps: float
    latency_us: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "bandwidth_gbps", _finite(self.bandwidth_gbps, "bandwidth_gbps", positive=True))
        object.__setattr__(self, "latency_us", _finite(self.latency_us, "latency_us", positive=False))

    def transfer_ms(self, nbytes: int) -> float:
        """Time to move ``nbytes`` over this link, in ms (GB/s = 1e6 bytes per ms)."""
        return nbytes / (self.bandwidth_gbps * 1e6) + self.latency_us / 1e3


@dataclass(frozen=True)
class Platform:
    """``gpus`` identical GPUs with ``streams`` concurrent streams each.

    The GPUs are joined by :class:`Link` s: one for every pair
    (``bandwidth_gbps``, ``latency_us``) unless a ``K x K`` matrix is given
    (``bandwidth_matrix_gbps``, and optionally ``latency_matrix_us``), e.g.
    for an NVLink topology. An edge whose ``comm_ms`` is set in the graph
    keeps that value on every pair of GPUs (:func:`hios_opt.timing.edge_delays`).

    Examples
    --------
    >>> p = Platform(gpus=2, streams=2, bandwidth_gbps=10.0, latency_us=5.0)
    >>> round(p.transfer_ms(1_000_000, 0, 1), 6)   # 1 MB at 10 GB/s + 5 us
    0.105
    >>> p.transfer_ms(1_000_000, 1, 1)
    0.0
    """

    gpus: int = 1
    streams: int = 1
    bandwidth_gbps: float = 16.0
    latency_us: float = 10.0
    bandwidth_matrix_gbps: tuple[tuple[float, ...], ...] | None = None
    latency_matrix_us: tuple[tuple[float, ...], ...] | None = None

    def __post_init__(self) -> None:
        _positive_int(self.gpus, "gpus", MAX_GPUS)
        _positive_int(self.streams, "streams", MAX_STREAMS)
        object.__setattr__(self, "bandwidth_gbps", _finite(self.bandwidth_gbps, "bandwidth_gbps", positive=True))
        object.__setattr__(self, "latency_us", _finite(self.latency_us, "latency_us", positive=False))
        for attr, positive in (("bandwidth_matrix_gbps", True), ("latency_matrix_us", False)):
            matrix = getattr(self, attr)
            if matrix is not None:
                object.__setattr__(self, attr, self._check_matrix(matrix, attr, positive))
        if self.latency_matrix_us is not None and self.bandwidth_matrix_gbps is None:
            raise PlatformError("latency_matrix_us needs bandwidth_matrix_gbps as well")

    def _check_matrix(self, matrix: Sequence[Sequence[float]], name: str, positive: bool) -> tuple[tuple[float, ...], ...]:
        k = self.gpus
        if len(matrix) != k or any(len(row) != k for row in matrix):
            raise PlatformError(f"{name} must be a {k} x {k} matrix (one row and column per GPU)")
        rows = []
        for a, row in enumerate(matrix):
            rows.append(tuple(
                _finite(x, f"{name}[{a}][{b}]", positive=positive and a != b) for b, x in enumerate(row)
            ))
        return tuple(rows)

    @property
    def uniform(self) -> bool:
        """True when every pair of distinct GPUs has the same link."""
        return self.bandwidth_matrix_gbps is None

    def link(self, gpu_a: int, gpu_b: int) -> Link:
        """The link from ``gpu_a`` to ``gpu_b`` (two distinct GPUs).

        >>> Platform(gpus=2).link(0, 1)
        Link(bandwidth_gbps=16.0, latency_us=10.0)
        """
        if self.bandwidth_matrix_gbps is None:
            return Link(self.bandwidth_gbps, self.latency_us)
        lat = self.latency_matrix_us[gpu_a][gpu_b] if self.latency_matrix_us is not None else self.latency_us
        return Link(self.bandwidth_matrix_gbps[gpu_a][gpu_b], lat)

    def transfer_ms(self, nbytes: int, gpu_a: int, gpu_b: int) -> float:
        """Time to move ``nbytes`` from ``gpu_a`` to ``gpu_b`` (0 on one GPU);
        :meth:`Link.transfer_ms` of their link, without building it."""
        if gpu_a == gpu_b:
            return 0.0
        if self.bandwidth_matrix_gbps is None:
            bw, lat = self.bandwidth_gbps, self.latency_us
        else:
            bw = self.bandwidth_matrix_gbps[gpu_a][gpu_b]
            lat = self.latency_matrix_us[gpu_a][gpu_b] if self.latency_matrix_us is not None else self.latency_us
        # GB/s = 1e9 bytes per 1e3 ms
        return nbytes / (bw * 1e6) + lat / 1e3

    def with_(self, **changes: Any) -> Platform:
        """A copy with some fields changed."""
        fields = {f: getattr(self, f) for f in self.__dataclass_fields__}
        fields.update(changes)
        return Platform(**fields)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"gpus": self.gpus, "streams": self.streams, "bandwidth_gbps": self.bandwidth_gbps,
                             "latency_us": self.latency_us}
        if self.bandwidth_matrix_gbps is not None:
            d["bandwidth_matrix_gbps"] = [list(r) for r in self.bandwidth_matrix_gbps]
        if self.latency_matrix_us is not None:
            d["latency_matrix_us"] = [list(r) for r in self.latency_matrix_us]
        return d

    @classmethod
    def from_dict(cls, data: Any, source: str = "platform") -> Platform:
        if not isinstance(data, dict):
            raise PlatformError(f"{source}: expected a JSON object")
        known = set(cls.__dataclass_fields__) | {"format", "version"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PlatformError(f"{source}: unknown field {unknown[0]!r} (known: {', '.join(sorted(cls.__dataclass_fields__))})")
        kwargs = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("bandwidth_matrix_gbps", "latency_matrix_us"):
            if kwargs.get(key) is not None:
                if not isinstance(kwargs[key], list) or not all(isinstance(r, list) for r in kwargs[key]):
                    raise PlatformError(f"{source}: {key} must be a list of lists")
                kwargs[key] = tuple(tuple(r) for r in kwargs[key])
        return cls(**kwargs)
