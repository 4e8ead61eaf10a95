"""Estimated operator costs on named GPUs: a roofline model from FLOPs and bytes.

When no GPU is at hand, :func:`estimate_costs` prices a traced model (or any
:class:`~hios_opt.graph.OpGraph` whose ops carry ``flops``, ``kind`` and
``shape``) on a V100, A100, H100 or H200 (:data:`DEVICES`) from the vendors'
published peaks, and fills edge delays from a link (:data:`LINKS`). The
numbers are labelled estimates (``meta["source"] = "estimated"``), with every
constant used recorded in ``meta["estimate"]`` and ``meta["link"]``; stages
are priced by the analytic contention model of :mod:`hios_opt.costs`.
:func:`estimate_op` prices one operator.

The roofline, tile-quantization and link model, its constants and the
datasheets they come from are in the Notes of :func:`estimate_costs`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .checks import check_int
from .errors import ProfileError
from .graph import Edge, Op, OpGraph
from .platform import Link, Platform

__all__ = [
    "GpuSpec",
    "LinkSpec",
    "DEVICES",
    "LINKS",
    "DTYPES",
    "COMPUTE_EFFICIENCY",
    "MEMORY_EFFICIENCY",
    "LAUNCH_OVERHEAD_US",
    "TILE_M",
    "TILE_N",
    "ELEMENTS_PER_SM",
    "MIN_UTILIZATION",
    "quantization",
    "estimate_costs",
    "estimate_op",
    "is_matrix_kind",
    "get_device",
    "get_link",
    "link_platform",
]

#: Share of the peak FLOP rate that well-tuned kernels reach.
COMPUTE_EFFICIENCY = 0.6
#: Share of the peak memory bandwidth that streaming kernels reach.
MEMORY_EFFICIENCY = 0.8
#: Fixed cost of one operator (one kernel launch and its scheduling), microseconds.
LAUNCH_OVERHEAD_US = 4.0
#: Output tile of one thread block of a GEMM / implicit-GEMM convolution.
TILE_M = 64
TILE_N = 64
#: Output elements that keep one SM busy for non-matrix operators.
ELEMENTS_PER_SM = 8192
#: Floor of the estimated utilization (the profiler's floor too).
MIN_UTILIZATION = 0.01

#: Element size in bytes of each supported dtype.
DTYPES: dict[str, int] = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2}

# Operator kinds (the ``+``-joined parts of Op.kind) that run on tensor cores.
_MATRIX_KINDS = frozenset({
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Linear",
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "linear",
    "matmul", "mm", "bmm", "addmm", "baddbmm", "einsum",
})


@dataclass(frozen=True)
class GpuSpec:
    """Published figures of one GPU.

    Attributes
    ----------
    key : str
        Short name (``"h100"``).
    name : str
        Full product name and form factor.
    sms : int
        Streaming multiprocessors.
    memory_gbps : float
        Peak memory bandwidth, GB/s.
    fp32_tflops : float
        Peak FP32 rate of the CUDA cores (no tensor cores), TFLOP/s.
    tensor_tflops : dict of str to float
        Dense tensor-core peak per dtype, TFLOP/s (``"fp32"`` is absent: FP32
        matrix ops run on CUDA cores).
    nvlink : str
        The :data:`LINKS` entry of its own NVLink generation.
    source : str
        Where the figures come from.
    """

    key: str
    name: str
    sms: int
    memory_gbps: float
    fp32_tflops: float
    tensor_tflops: Mapping[str, float]
    nvlink: str
    source: str

    def matrix_tflops(self, dtype: str) -> float:
        """Peak rate of matrix operators in ``dtype`` (TFLOP/s).

        Raises
        ------
        ProfileError
            If the GPU has no tensor cores for ``dtype``.

        Examples
        --------
        >>> DEVICES["a100"].matrix_tflops("tf32"), DEVICES["a100"].matrix_tflops("fp32")
        (156.0, 19.5)
        """
        dtype = _check_dtype(dtype)
        if dtype == "fp32":
            return self.fp32_tflops
        if dtype not in self.tensor_tflops:
            raise ProfileError(
                f"{self.key} ({self.name}) has no {dtype} tensor cores; "
                f"valid dtypes for it: {', '.join(['fp32', *self.tensor_tflops])}"
            )
        return self.tensor_tflops[dtype]


@dataclass(frozen=True, kw_only=True)
class LinkSpec(Link):
    """A datasheet :class:`~hios_opt.platform.Link` between two GPUs:
    per-direction bandwidth and a fixed per-copy latency.

    Examples
    --------
    >>> link = LINKS["pcie4"]
    >>> round(link.transfer_ms(1_000_000), 6)   # 1 MB at 31.5 GB/s + 10 us
    0.041746
    """

    key: str
    name: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "bandwidth_gbps": self.bandwidth_gbps,
                "latency_us": self.latency_us, "source": self.source}


_DATASHEETS = "NVIDIA {} datasheet (dense peaks, no sparsity)"

#: The GPUs :func:`estimate_costs` knows, by short name.
DEVICES: dict[str, GpuSpec] = {
    "v100": GpuSpec("v100", "NVIDIA Tesla V100 SXM2 32GB", 80, 900.0, 15.7, {"fp16": 125.0}, "nvlink2",
                    _DATASHEETS.format("Tesla V100")),
    "a100": GpuSpec("a100", "NVIDIA A100 SXM4 80GB", 108, 2039.0, 19.5,
                    {"tf32": 156.0, "fp16": 312.0, "bf16": 312.0}, "nvlink3", _DATASHEETS.format("A100")),
    "h100": GpuSpec("h100", "NVIDIA H100 SXM5 80GB", 132, 3350.0, 66.9,
                    {"tf32": 494.7, "fp16": 989.4, "bf16": 989.4}, "nvlink4",
                    _DATASHEETS.format("H100") + " and Hopper architecture whitepaper"),
    "h200": GpuSpec("h200", "NVIDIA H200 SXM 141GB", 132, 4800.0, 66.9,
                    {"tf32": 494.7, "fp16": 989.4, "bf16": 989.4}, "nvlink4", _DATASHEETS.format("H200")),
}

_NVLINK = "{} links x 25 GB/s per direction, all links of one GPU (NVSwitch)"
_PCIE = "PCIe {} x16: {} GT/s x 16 lanes, 128b/130b coding, per direction"

#: The links :func:`estimate_costs` knows, by short name.
LINKS: dict[str, LinkSpec] = {
    "nvlink2": LinkSpec(key="nvlink2", name="NVLink 2 (V100)", bandwidth_gbps=150.0, latency_us=5.0, source=_NVLINK.format(6)),
    "nvlink3": LinkSpec(key="nvlink3", name="NVLink 3 (A100)", bandwidth_gbps=300.0, latency_us=5.0, source=_NVLINK.format(12)),
    "nvlink4": LinkSpec(key="nvlink4", name="NVLink 4 (H100, H200)", bandwidth_gbps=450.0, latency_us=5.0, source=_NVLINK.format(18)),
    "pcie3": LinkSpec(key="pcie3", name="PCIe 3.0 x16", bandwidth_gbps=15.75, latency_us=10.0, source=_PCIE.format("3.0", 8)),
    "pcie4": LinkSpec(key="pcie4", name="PCIe 4.0 x16", bandwidth_gbps=31.5, latency_us=10.0, source=_PCIE.format("4.0", 16)),
    "pcie5": LinkSpec(key="pcie5", name="PCIe 5.0 x16", bandwidth_gbps=63.0, latency_us=10.0, source=_PCIE.format("5.0", 32)),
}


def _check_dtype(dtype: object) -> str:
    key = dtype.strip().lower() if isinstance(dtype, str) else None
    if key not in DTYPES:
        raise ProfileError(f"unknown dtype {dtype!r}; valid dtypes: {', '.join(DTYPES)}")
    return key


def get_device(device: str | GpuSpec) -> GpuSpec:
    """The :class:`GpuSpec` named ``device`` (``"h100"``, ``"H100"`` or
    ``"estimate:h100"``).

    Raises
    ------
    ProfileError
        If the name is unknown; the message lists the valid names.

    Examples
    --------
    >>> get_device("estimate:V100").sms
    80
    """
    if isinstance(device, GpuSpec):
        return device
    key = device.strip().lower() if isinstance(device, str) else ""
    key = key.removeprefix("estimate:")
    if key not in DEVICES:
        valid = ", ".join(f"estimate:{k}" for k in DEVICES)
        raise ProfileError(f"unknown estimate device {device!r}; valid devices: {valid}")
    return DEVICES[key]


def get_link(link: str | LinkSpec, device: str | GpuSpec = "h100") -> LinkSpec:
    """The :class:`LinkSpec` named ``link``; ``"auto"`` is ``device``'s NVLink.

    Raises
    ------
    ProfileError
        If the name is unknown; the message lists the valid names.

    Examples
    --------
    >>> get_link("auto", "v100").bandwidth_gbps
    150.0
    """
    if isinstance(link, LinkSpec):
        return link
    key = link.strip().lower() if isinstance(link, str) else ""
    if key == "auto":
        key = get_device(device).nvlink
    if key not in LINKS:
        raise ProfileError(f"unknown link {link!r}; valid links: auto, {', '.join(LINKS)}")
    return LINKS[key]


def link_platform(link: str | LinkSpec, *, gpus: int = 2, streams: int = 1, device: str = "h100") -> Platform:
    """A uniform :class:`~hios_opt.platform.Platform` with a link's parameters.

    Examples
    --------
    >>> p = link_platform("nvlink3", gpus=4, streams=2)
    >>> p.bandwidth_gbps, p.latency_us
    (300.0, 5.0)
    """
    spec = get_link(link, device)
    return Platform(gpus=gpus, streams=streams, bandwidth_gbps=spec.bandwidth_gbps, latency_us=spec.latency_us)


def is_matrix_kind(kind: str | None) -> bool:
    """True when an operator kind names a convolution, linear layer or matmul.

    Examples
    --------
    >>> is_matrix_kind("Conv2d+BatchNorm2d+ReLU"), is_matrix_kind("MaxPool2d")
    (True, False)
    """
    if not kind:
        return False
    return any(part in _MATRIX_KINDS for part in kind.split("+"))


def quantization(shape: tuple[int, ...] | None, matrix: bool, sms: int) -> float:
    """How many times longer than ideal an op's compute takes on ``sms`` SMs,
    from tile and wave quantization (see the module docstring); >= 1.

    Examples
    --------
    >>> round(quantization((1, 384, 9, 9), True, 132), 2)     # 2 x 6 tiles of 64 x 64
    17.38
    >>> quantization((132 * 64, 64), True, 132)   # exactly one full wave
    1.0
    """
    if not shape:
        return 1.0
    numel = math.prod(shape)
    if numel == 0:
        return 1.0
    if matrix:
        if len(shape) >= 3:
            m, n = shape[0] * math.prod(shape[2:]), shape[1]
        else:
            m, n = math.prod(shape[:-1]), shape[-1]
        tiles, tile_elements = math.ceil(m / TILE_M) * math.ceil(n / TILE_N), TILE_M * TILE_N
    else:
        tiles, tile_elements = math.ceil(numel / ELEMENTS_PER_SM), ELEMENTS_PER_SM
    waves = math.ceil(tiles / sms)
    return waves * sms * tile_elements / numel


def estimate_op(
    flops: float,
    nbytes: float,
    *,
    shape: tuple[int, ...] | None = None,
    kind: str | None = None,
    device: str | GpuSpec = "h100",
    dtype: str = "fp16",
    compute_efficiency: float = COMPUTE_EFFICIENCY,
    memory_efficiency: float = MEMORY_EFFICIENCY,
    launch_overhead_us: float = LAUNCH_OVERHEAD_US,
) -> tuple[float, float]:
    """Estimated ``(latency_ms, utilization)`` of one operator.

    Parameters
    ----------
    flops : float
        Floating-point operations.
    nbytes : float
        Bytes read and written (inputs, weights, outputs), already at the
        dtype's element size.
    shape : tuple of int, optional
        Output shape (for the utilization).
    kind : str, optional
        Operator kind; matrix kinds (:func:`is_matrix_kind`) use the tensor-core peak.
    device, dtype, compute_efficiency, memory_efficiency, launch_overhead_us
        See :func:`estimate_costs`.

    Examples
    --------
    A 1x1 convolution 256 -> 256 channels on a 56 x 56 fp16 image on a V100:

    >>> flops = 2 * 56 * 56 * 256 * 256
    >>> nbytes = 2 * (2 * 256 * 56 * 56 + 256 * 256)
    >>> lat, util = estimate_op(flops, nbytes, shape=(1, 256, 56, 56), kind="Conv2d", device="v100")
    >>> compute_ms = flops / (125e9 * 0.6)             # fp16 tensor peak, ms
    >>> memory_ms = nbytes / (900e6 * 0.8)             # HBM2, ms: below compute_ms
    >>> q = 3 * 80 * 64 * 64 / (56 * 56 * 256)         # 49 x 4 = 196 tiles: 3 waves on 80 SMs
    >>> math.isclose(lat, compute_ms * q + 0.004), math.isclose(util, compute_ms / lat)
    (True, True)
    >>> round(lat * 1e3, 2), round(util, 3)            # microseconds; share of the GPU
    (10.71, 0.512)
    """
    spec = get_device(device)
    dtype = _check_dtype(dtype)
    for label, value in (("compute_efficiency", compute_efficiency), ("memory_efficiency", memory_efficiency)):
        if not 0.0 < value <= 1.0:
            raise ProfileError(f"{label} must be in (0, 1], got {value!r}")
    if not launch_overhead_us >= 0.0 or not math.isfinite(launch_overhead_us):
        raise ProfileError(f"launch_overhead_us must be a finite number >= 0, got {launch_overhead_us!r}")
    matrix = is_matrix_kind(kind)
    peak_tflops = spec.matrix_tflops(dtype) if matrix else spec.fp32_tflops
    # TFLOP/s = 1e9 FLOP per ms; GB/s = 1e6 bytes per ms.
    compute_ms = flops / (peak_tflops * 1e9 * compute_efficiency)
    memory_ms = nbytes / (spec.memory_gbps * 1e6 * memory_efficiency)
    latency_ms = max(compute_ms * quantization(shape, matrix, spec.sms), memory_ms) + launch_overhead_us / 1e3
    busy_ms = max(compute_ms, memory_ms)
    utilization = busy_ms / latency_ms if latency_ms > 0 else 1.0
    return latency_ms, min(1.0, max(MIN_UTILIZATION, utilization))


# ----------------------------------------------------------------- op inputs
@dataclass(frozen=True)
class _OpCost:
    """What the estimate needs of one operator (bytes already at the dtype)."""

    id: str
    kind: str | None
    flops: int
    shape: tuple[int, ...] | None
    input_bytes: int
    weight_bytes: int
    output_bytes: int


# What an estimate keeps of an OpGraph's meta: what the graph is, not how it was costed.
_KEPT_META = ("model", "model_options", "granularity", "input_shape", "input_size", "batch_size")


def _is_traced(source: Any) -> bool:
    return all(hasattr(source, a) for a in ("graph_module", "value_bytes", "value_meta", "ops", "edges"))


def _traced_inputs(traced: Any, itemsize: int) -> tuple[list[_OpCost], list[Edge], dict[str, Any]]:
    """Per-op costs and edges of a TracedGraph, with bytes at ``itemsize``."""
    value_meta = traced.value_meta
    value_bytes = traced.value_bytes

    def act_bytes(value: str) -> int:
        meta = value_meta.get(value)
        if meta is not None and meta.dtype.is_floating_point:
            return math.prod(meta.shape) * itemsize
        if meta is not None:
            return value_bytes.get(value, 0)
        return value_bytes.get(value, 0) * itemsize // 4  # tuple values: float32 parts

    def tensor_bytes(tensor: Any) -> int:
        if tensor is None or not hasattr(tensor, "numel"):
            return 0
        return tensor.numel() * (itemsize if tensor.is_floating_point() else tensor.element_size())

    gm = traced.graph_module
    nodes = {node.name: node for node in gm.graph.nodes}
    ops: list[_OpCost] = []
    for op in traced.ops:
        weights = 0
        seen: set[str] = set()
        for node_name in op.nodes:
            node = nodes[node_name]
            if node.op == "call_module" and node.target not in seen:
                seen.add(node.target)
                module = gm.get_submodule(node.target)
                weights += sum(tensor_bytes(p) for p in module.parameters())
                weights += sum(tensor_bytes(b) for b in module.buffers() if b.is_floating_point())
            for arg in node.all_input_nodes:
                if arg.op == "get_attr" and arg.target not in seen:
                    seen.add(arg.target)
                    obj: Any = gm
                    for part in str(arg.target).split("."):
                        obj = getattr(obj, part, None)
                    weights += tensor_bytes(obj)
        ops.append(_OpCost(
            op.id, op.kind, int(op.flops), op.shape,
            sum(act_bytes(v) for v in op.inputs), weights, sum(act_bytes(v) for v in op.outputs),
        ))
    edges = [Edge(e.src, e.dst, None, sum(act_bytes(v) for v in e.values)) for e in traced.edges]
    first = traced.example_inputs[0] if traced.example_inputs else None
    batch = int(first.shape[0]) if first is not None and hasattr(first, "shape") and len(first.shape) > 0 else None
    meta = {
        "source": "traced",
        "model": traced.name,
        "granularity": traced.granularity,
        "input_shape": [list(x.shape) for x in traced.example_inputs if hasattr(x, "shape")],
        "batch_size": batch,
    }
    return ops, edges, meta


def _opgraph_inputs(graph: OpGraph, itemsize: int) -> tuple[list[_OpCost], list[Edge], dict[str, Any]]:
    """Per-op costs and edges of an OpGraph (weights unknown: 0 bytes)."""
    source_itemsize = DTYPES.get(str(graph.meta.get("dtype", "fp32")), 4)

    def scale(nbytes: int) -> int:
        return nbytes * itemsize // source_itemsize

    edge_bytes = graph.edge_bytes
    inputs = [0] * graph.n_ops
    for k, nbytes in enumerate(edge_bytes):
        inputs[graph.edge_dst[k]] += scale(nbytes)
    ops = [
        _OpCost(op.id, op.kind, int(op.flops or 0), op.shape, inputs[i], 0, scale(op.output_bytes))
        for i, op in enumerate(graph.ops)
    ]
    edges = [Edge(e.src, e.dst, None, scale(edge_bytes[k])) for k, e in enumerate(graph.edges)]
    meta = {k: graph.meta[k] for k in _KEPT_META if k in graph.meta}
    if graph.meta.get("source") not in (None, "traced", "estimated"):
        meta["estimated_from"] = graph.meta["source"]
    return ops, edges, meta


def _rebatch(ops: list[_OpCost], edges: list[Edge], old: int | None, new: int) -> tuple[list[_OpCost], list[Edge]]:
    """Scale FLOPs and activation bytes linearly from batch ``old`` to ``new``
    (weights are read once whatever the batch)."""
    if old is None or old < 1:
        raise ProfileError("cannot change the batch size: the graph does not record its own (meta['batch_size'])")
    if new == old:
        return ops, edges

    def sc(x: int) -> int:
        return (x * new + old // 2) // old

    def shape(s: tuple[int, ...] | None) -> tuple[int, ...] | None:
        return (new, *s[1:]) if s and s[0] == old else s

    ops = [_OpCost(o.id, o.kind, sc(o.flops), shape(o.shape), sc(o.input_bytes), o.weight_bytes,
                   sc(o.output_bytes)) for o in ops]
    edges = [Edge(e.src, e.dst, None, sc(e.bytes or 0)) for e in edges]
    return ops, edges


def estimate_costs(
    source: Any,
    device: str | GpuSpec = "h100",
    *,
    dtype: str = "fp16",
    link: str | LinkSpec | None = "auto",
    batch_size: int | None = None,
    compute_efficiency: float = COMPUTE_EFFICIENCY,
    memory_efficiency: float = MEMORY_EFFICIENCY,
    launch_overhead_us: float = LAUNCH_OVERHEAD_US,
    name: str | None = None,
    meta: Mapping[str, Any] | None = None,
) -> OpGraph:
    """Estimate every operator's latency and utilization on a named GPU.

    Parameters
    ----------
    source : TracedGraph or OpGraph
        A traced model (:func:`hios_opt.trace.trace`), or a graph whose ops
        carry ``flops``, ``kind`` and ``shape`` (a traced graph converted
        with ``to_opgraph``, a bundled file ...). From an OpGraph the weights
        are unknown (counted as 0 bytes) and an op's input bytes are the sum
        of its in-edges' bytes; its byte counts are taken to be in
        ``meta["dtype"]`` (default fp32).
    device : str or GpuSpec
        ``"v100"``, ``"a100"``, ``"h100"``, ``"h200"`` (case and an
        ``"estimate:"`` prefix do not matter); see :data:`DEVICES`.
    dtype : {"fp16", "bf16", "tf32", "fp32"}
        Precision of inference: picks the tensor-core peak of matrix ops and
        the bytes per element. ``"fp16"`` (the default) is how these CNNs are
        served; ``"fp32"`` runs everything on CUDA cores. A V100 has no
        tf32/bf16 tensor cores.
    link : str, LinkSpec or None
        Link that fills each edge's ``comm_ms`` (:data:`LINKS`; ``"auto"``:
        the device's NVLink); ``None`` leaves ``comm_ms`` unset.
    batch_size : int, optional
        Estimate for this batch instead of the traced one: FLOPs and
        activation bytes scale linearly with the batch, weights do not.
    compute_efficiency, memory_efficiency : float
        Achievable shares of the peak FLOP rate and memory bandwidth, in (0, 1].
    launch_overhead_us : float
        Fixed cost per operator, microseconds.
    name : str, optional
        Graph name (default: the source's name).
    meta : mapping, optional
        Extra metadata merged over the generated one.

    Returns
    -------
    OpGraph
        Ops with estimated ``latency_ms`` and ``utilization``, their
        ``flops``/``shape``/``kind``, ``output_bytes`` at the dtype; edges
        with ``bytes`` and (unless ``link=None``) ``comm_ms``;
        ``meta["source"] = "estimated"``, ``meta["device"] =
        "estimate:<key>"``, and ``meta["estimate"]``, ``meta["link"]``
        holding every constant used. From an OpGraph, only the meta fields
        that describe the model (model, granularity, input shape and size,
        batch size) are kept; measured group latencies are dropped.

    Raises
    ------
    ProfileError
        On an unknown device, link or dtype (the message lists the valid
        ones), a dtype the GPU lacks, an out-of-range constant or batch size.

    Notes
    -----
    For one operator with ``F`` FLOPs that moves ``Q`` bytes (its inputs, its
    weights and its outputs, each read or written once)::

        compute_ms = F / (peak * compute_efficiency)          # the whole GPU busy
        memory_ms  = Q / (bandwidth * memory_efficiency)
        latency_ms = max(compute_ms * quantization, memory_ms) + launch_overhead
        utilization = max(compute_ms, memory_ms) / latency_ms  # floored at 0.01

    * ``peak`` is the dense tensor-core peak of the chosen ``dtype`` for matrix
      operators (convolutions, linear layers, matmuls: their ``kind`` says so),
      and the FP32 CUDA-core peak for every other operator (pools, elementwise,
      concatenations; they are memory-bound, so the choice hardly matters).
      ``dtype="fp32"`` uses the CUDA-core peak for all operators.
    * Bytes follow the dtype: the traced float32 tensors and weights are counted
      at ``itemsize(dtype)`` bytes per element (2 for fp16/bf16, 4 for fp32/tf32).
      The op's ``output_bytes`` and the edges' ``bytes`` are rescaled the same
      way, since that is what moves between GPUs.
    * ``quantization`` >= 1 says how much of the GPU the operator's work leaves
      idle (NVIDIA's tile and wave quantization). The output is cut into tiles,
      one tile per streaming multiprocessor (SM) at a time, and the tiles run in
      ``waves = ceil(tiles / SMs)`` waves of full tiles::

          quantization = waves * SMs * tile_elements / output_elements

      Matrix operators are an implicit GEMM with ``M = batch * H * W`` output
      pixels and ``N = channels`` (``M = batch``, ``N = features`` for a linear
      layer) in ``TILE_M x TILE_N`` = 64 x 64 tiles (the mid-size tile that
      cuDNN/CUTLASS heuristics pick for batch-1 layers; split-K is not
      modelled), ``tiles = ceil(M / 64) * ceil(N / 64)``: a late Inception conv
      with 81 pixels and 384 channels is 2 x 6 = 12 tiles, so on a 132-SM H100
      it runs at 81 * 384 / (132 * 4096) = 5.8% of the peak. Other operators use tiles of ``ELEMENTS_PER_SM`` = 8192 output
      elements (2048 resident threads x 4 elements). Ops without a shape get 1.
      Latency is then monotone in the input size, as it must be. Memory traffic
      is not divided: a few SMs can still draw most of the bandwidth (and
      libraries split the reduction of weight-heavy layers across SMs).
    * ``utilization`` is the achieved share of the binding resource over the
      operator's whole duration, launch included: ``latency * utilization`` is
      the time the op would take with the whole GPU and no launch cost. Small,
      launch-bound or poorly tiled operators get a low utilization, and the
      analytic contention model of :mod:`hios_opt.costs` lets them overlap; a
      large or bandwidth-bound operator gets nearly 1 and does not overlap. It is
      floored at ``MIN_UTILIZATION`` = 0.01, as the profiler's measured values.
    * ``launch_overhead`` (``LAUNCH_OVERHEAD_US`` = 4 us) is paid once per
      operator: an operator is taken to be one fused kernel (inference engines
      fuse conv + BatchNorm + activation, which is what a ``"block"`` trace
      groups).

    Efficiency factors: ``COMPUTE_EFFICIENCY`` = 0.6 (well-tuned cuDNN/CUTLASS
    convolutions reach 50-75% of the tensor-core peak), ``MEMORY_EFFICIENCY`` =
    0.8 (streaming kernels reach 80-90% of the HBM peak). All three constants are
    keyword options of :func:`estimate_costs`.

    *Links.* Edge ``comm_ms`` is filled from a link (:data:`LINKS`): ``bytes / bandwidth +
    latency``, with the published per-direction bandwidth of one GPU's links (for
    NVLink, all of its links together, i.e. a GPU pair behind an NVSwitch as in a
    DGX/HGX node) and a fixed per-copy latency (copy launch and the event wait,
    not the wire latency: 5 us NVLink, 10 us PCIe). ``link="auto"`` takes the
    device's own NVLink generation; ``link=None`` leaves ``comm_ms`` unset, so
    that a :class:`~hios_opt.platform.Platform` prices edges from their
    ``bytes`` (:func:`link_platform` builds one with a link's parameters). The
    link used is recorded in ``meta["link"]``.

    No measured concurrent-group latencies are produced: stages are priced by the
    analytic contention model.

    Sources (peaks are dense, i.e. without 2:4 sparsity): NVIDIA Tesla V100
    datasheet (SXM2: 15.7 FP32 / 125 FP16 tensor TFLOP/s, 900 GB/s HBM2, 80
    SMs); NVIDIA A100 datasheet (SXM4 80 GB: 19.5 / 156 TF32 / 312 FP16, 2039
    GB/s, 108 SMs); NVIDIA H100 datasheet and Hopper whitepaper (SXM5: 66.9 /
    494.7 TF32 / 989.4 FP16, 3350 GB/s, 132 SMs); NVIDIA H200 datasheet (SXM:
    H100 compute, 4800 GB/s HBM3e); NVLink 2/3/4: 6/12/18 links x 25 GB/s per
    direction (300/600/900 GB/s bidirectional); PCIe 3/4/5 x16: 8/16/32 GT/s x
    16 lanes with 128b/130b coding = 15.75/31.5/63.0 GB/s per direction; NVIDIA
    "Matrix Multiplication Background" user's guide (tiles and wave
    quantization).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from hios_opt.trace import trace
    >>> net = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3)).eval()
    >>> traced = trace(net, torch.zeros(1, 3, 64, 64))
    >>> g = estimate_costs(traced, "v100", dtype="fp16")
    >>> g.meta["device"], g.meta["link"]["key"], [op.id for op in g.ops]
    ('estimate:v100', 'nvlink2', ['_0', '_2'])
    >>> all(0 < op.utilization <= 1 for op in g.ops), g.edges[0].bytes   # fp16: 2 bytes per element
    (True, 524288)
    >>> estimate_costs(traced, "v100", batch_size=8).ops[1].shape
    (8, 64, 62, 62)

    An OpGraph with one 2 GFLOP convolution:

    >>> from hios_opt.graph import Op, OpGraph
    >>> g = OpGraph([Op("conv", 0.0, flops=2 * 10**9, shape=(8, 256, 56, 56), kind="Conv2d")])
    >>> est = estimate_costs(g, "h100", dtype="fp16", link=None)
    >>> est.meta["device"], round(est.ops[0].latency_ms, 5), round(est.ops[0].utilization, 4)
    ('estimate:h100', 0.0074, 0.4551)

    2 GFLOP at 989.4 TFLOP/s * 0.6 is 3.37 us; 392 x 4 tiles of 64 x 64 fill
    twelve waves on 132 SMs (1568 / 1584, 1% idle); plus 4 us of launch, during
    which the GPU is idle: it is busy 3.37 us of 7.4 us.
    """
    spec = get_device(device)
    dtype = _check_dtype(dtype)
    spec.matrix_tflops(dtype)  # a dtype the GPU lacks fails here, before any work
    link_spec = None if link is None else get_link(link, spec)
    itemsize = DTYPES[dtype]
    if _is_traced(source):
        ops, edges, base_meta = _traced_inputs(source, itemsize)
    elif isinstance(source, OpGraph):
        ops, edges, base_meta = _opgraph_inputs(source, itemsize)
    else:
        raise ProfileError(f"estimate_costs needs a TracedGraph or an OpGraph, got {type(source).__name__}")
    if batch_size is not None:
        check_int(batch_size, "batch_size", min_value=1, error=ProfileError, limit=None)
        ops, edges = _rebatch(ops, edges, base_meta.get("batch_size"), batch_size)
        base_meta["batch_size"] = batch_size
        if base_meta.get("input_shape"):
            base_meta["input_shape"] = [[batch_size, *s[1:]] for s in base_meta["input_shape"]]

    options: dict[str, Any] = {"device": spec, "dtype": dtype, "compute_efficiency": compute_efficiency,
               "memory_efficiency": memory_efficiency, "launch_overhead_us": launch_overhead_us}
    out_ops = []
    for o in ops:
        latency, utilization = estimate_op(
            o.flops, o.input_bytes + o.weight_bytes + o.output_bytes, shape=o.shape, kind=o.kind, **options,
        )
        out_ops.append(Op(o.id, latency, utilization, o.output_bytes, o.kind, o.flops, o.shape))
    if link_spec is not None:
        edges = [Edge(e.src, e.dst, link_spec.transfer_ms(e.bytes or 0), e.bytes) for e in edges]

    base_meta.update({
        "source": "estimated",
        "device": f"estimate:{spec.key}",
        "device_name": spec.name,
        "dtype": dtype,
        "estimate": {
            "model": "roofline: max(flops / (peak * compute_efficiency) * quantization, bytes / "
                     "(bandwidth * memory_efficiency)) + launch_overhead",
            "gpu": asdict(spec) | {"tensor_tflops": dict(spec.tensor_tflops)},
            "matrix_tflops": spec.matrix_tflops(dtype),
            "vector_tflops": spec.fp32_tflops,
            "compute_efficiency": compute_efficiency,
            "memory_efficiency": memory_efficiency,
            "launch_overhead_us": launch_overhead_us,
            "tile": [TILE_M, TILE_N],
            "elements_per_sm": ELEMENTS_PER_SM,
            "min_utilization": MIN_UTILIZATION,
            "bytes_per_element": itemsize,
        },
        "link": None if link_spec is None else link_spec.to_dict(),
    })
    base_meta.pop("flops_per_ms", None)
    base_meta.update(meta or {})
    graph_name = name or getattr(source, "name", None) or "graph"
    return OpGraph(out_ops, edges, name=graph_name, meta=base_meta)
