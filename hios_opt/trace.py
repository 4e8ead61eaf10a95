"""Trace a PyTorch module into an operator graph (torch.fx -> OpGraph).

:func:`trace` runs :func:`torch.fx.symbolic_trace` on a module, propagates
shapes once (:class:`torch.fx.passes.shape_prop.ShapeProp`) and groups the fx
nodes into *operators*. The result, a :class:`TracedGraph`, is the one object
the profiler and every executor backend share: it converts to an
:class:`~hios_opt.graph.OpGraph` for the schedulers
(:meth:`TracedGraph.to_opgraph`) and runs one operator at a time for the
executors (:meth:`TracedGraph.run_op`).

The grouping rule (``granularity="block"`` or ``"module"``) and the FLOP
count are in the Notes of :func:`trace`.
"""

from __future__ import annotations

import math
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hios_opt import _torch  # noqa: F401  (first: without torch, an error naming the [torch] extra)

# isort: split
import torch
import torch.fx as fx
from torch import nn
from torch.fx.node import map_aggregate
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata
from torch.utils._pytree import tree_leaves, tree_map_only

from hios_opt.errors import OpExecutionError, ProfileError, TraceError
from hios_opt.graph import Edge, Op, OpGraph

__all__ = ["TracedOp", "TracedEdge", "TracedGraph", "ValueRef", "trace"]

GRANULARITIES = ("block", "module")

# Glue that only moves or relabels data: 0 FLOPs.
_VIEW_GLUE = frozenset(
    {
        "getitem", "getattr", "size", "dim", "view", "view_as", "reshape",
        "reshape_as", "flatten", "unflatten", "squeeze", "unsqueeze", "permute",
        "transpose", "t", "contiguous", "expand", "expand_as", "chunk", "split",
        "unbind", "narrow", "cat", "concat", "concatenate", "stack", "type_as",
        "to", "float", "half", "double", "detach", "clone", "dropout",
        "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
        "identity", "Identity", "Flatten", "Unflatten", "Dropout", "Dropout1d",
        "Dropout2d", "Dropout3d", "AlphaDropout",
    }
)
# Glue that computes elementwise: one FLOP per output element.
_ELEMENTWISE_GLUE = frozenset(
    {
        "add", "sub", "rsub", "mul", "truediv", "div", "floordiv", "neg",
        "relu", "relu6", "sigmoid", "tanh", "gelu", "silu", "hardswish",
        "hardsigmoid", "hardtanh", "leaky_relu", "elu", "selu", "celu",
        "softplus", "mish", "clamp", "clamp_min", "clamp_max", "clip", "pow",
        "exp", "sqrt", "rsqrt", "abs", "maximum", "minimum", "where",
        "ReLU", "ReLU6", "Sigmoid", "Tanh", "GELU", "SiLU", "Hardswish",
        "Hardsigmoid", "Hardtanh", "LeakyReLU", "ELU", "SELU", "CELU",
        "Softplus", "Mish",
    }
)
_GLUE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.SiLU,
    nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.ELU, nn.SELU, nn.CELU,
    nn.Softplus, nn.Mish, nn.Dropout, nn.Dropout1d, nn.Dropout2d,
    nn.Dropout3d, nn.AlphaDropout, nn.Identity, nn.Flatten, nn.Unflatten,
)
_CONV_MODULES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_T_MODULES = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_BN_MODULES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_CONV_FUNCTIONS = frozenset({"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"})
_INPLACE_OPERATORS = frozenset({"iadd", "isub", "imul", "itruediv"})


@dataclass(frozen=True)
class ValueRef:
    """A reference to an fx value by name, used to rebuild the model output.

    Parameters
    ----------
    name : str
        The fx node name of the value.

    Examples
    --------
    >>> ValueRef("conv1").name
    'conv1'
    """

    name: str


@dataclass(frozen=True)
class TracedOp:
    """One operator of a traced model: a group of fx nodes run together.

    Attributes
    ----------
    id : str
        Operator id (the fx name of its first node).
    kind : str
        What it computes, e.g. ``"Conv2d+BatchNorm2d+ReLU"`` or ``"cat"``.
    nodes : tuple of str
        The fx nodes it stands for, in execution order (no ``get_attr``).
    inputs : tuple of str
        fx values it reads that other operators or the model inputs produce.
    outputs : tuple of str
        fx values it produces that other operators or the model output read.
    shape : tuple of int or None
        Shape of its main output (its last node's value, if a tensor).
    output_bytes : int
        Bytes of all values in ``outputs``.
    flops : int
        FLOPs by the rule in the module docstring.
    module : str or None
        Qualified name of its first module, if it calls one.
    """

    id: str
    kind: str
    nodes: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    shape: tuple[int, ...] | None
    output_bytes: int
    flops: int
    module: str | None = None


@dataclass(frozen=True)
class TracedEdge:
    """A dependency between two traced operators.

    Attributes
    ----------
    src, dst : str
        Producer and consumer operator ids.
    values : tuple of str
        The fx values ``dst`` reads from ``src``.
    bytes : int
        Their total size (what a cross-GPU copy moves).
    """

    src: str
    dst: str
    values: tuple[str, ...]
    bytes: int


@dataclass
class _Compiled:
    root: nn.Module
    # op id -> (function, input names, output names): everything run_op needs
    entries: dict[str, tuple[Callable[..., tuple[Any, ...]], tuple[str, ...], tuple[str, ...]]] = field(
        default_factory=dict
    )


class TracedGraph:
    """A traced PyTorch model split into operators.

    Built by :func:`trace`; do not construct it directly.

    Attributes
    ----------
    name : str
        Model name (used as the OpGraph name and in cache keys).
    module : torch.nn.Module
        The module that was traced.
    graph_module : torch.fx.GraphModule
        Its fx trace (shares parameters with ``module``).
    example_inputs : tuple of torch.Tensor
        The inputs used for shape propagation.
    granularity : str
        ``"block"`` or ``"module"``.
    ops : tuple of TracedOp
        The operators, in a topological (fx) order.
    edges : tuple of TracedEdge
        Dependencies between operators.
    input_names : tuple of str
        fx names of the model inputs (placeholders), in call order.
    output_spec : Any
        The model output's structure with :class:`ValueRef` leaves.
    value_bytes : dict of str to int
        Size of every fx value that crosses an operator boundary.
    value_meta : dict of str to TensorMetadata
        Shape and dtype of every fx value that is a tensor.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    >>> traced = trace(net, torch.randn(1, 3, 8, 8))
    >>> [op.id for op in traced.ops]
    ['_0']
    >>> traced.ops[0].kind
    'Conv2d+BatchNorm2d+ReLU'
    >>> env = traced.bind_inputs(torch.ones(1, 3, 8, 8))
    >>> traced.run_op("_0", env)
    >>> torch.allclose(traced.collect_outputs(env), net(torch.ones(1, 3, 8, 8)))
    True
    """

    def __init__(
        self,
        *,
        name: str,
        module: nn.Module,
        graph_module: fx.GraphModule,
        example_inputs: tuple[torch.Tensor, ...],
        granularity: str,
        ops: tuple[TracedOp, ...],
        edges: tuple[TracedEdge, ...],
        attrs: dict[str, tuple[str, ...]],
        input_names: tuple[str, ...],
        output_spec: Any,
        value_bytes: dict[str, int],
        value_meta: dict[str, TensorMetadata],
        producer: dict[str, str],
    ) -> None:
        self.name = name
        self.module = module
        self.graph_module = graph_module
        self.example_inputs = example_inputs
        self.granularity = granularity
        self.ops = ops
        self.edges = edges
        self.input_names = input_names
        self.output_spec = output_spec
        self.value_bytes = value_bytes
        self.value_meta = value_meta
        self._attrs = attrs
        self._producer = producer
        self._by_id = {op.id: op for op in ops}
        self._preds: dict[str, list[str]] = {op.id: [] for op in ops}
        self._succs: dict[str, list[str]] = {op.id: [] for op in ops}
        for edge in edges:
            self._preds[edge.dst].append(edge.src)
            self._succs[edge.src].append(edge.dst)
        self._default = _Compiled(graph_module)
        self._compiled: dict[int, _Compiled] = {id(graph_module): self._default}
        self._lock = threading.RLock()
        self._nodes = {node.name: node for node in graph_module.graph.nodes}
        self._dead: list[tuple[str, tuple[str, ...]]] | None = None

    # ------------------------------------------------------------------ queries
    def __repr__(self) -> str:
        return (
            f"TracedGraph(name={self.name!r}, ops={len(self.ops)}, "
            f"edges={len(self.edges)}, granularity={self.granularity!r})"
        )

    def __len__(self) -> int:
        return len(self.ops)

    def __reduce__(self) -> tuple[Any, ...]:
        # fx GraphModules pickle by re-tracing their generated code, which
        # does not promise the same node names; re-tracing the original
        # module with the same inputs does.
        return (_retrace, (self.module, self.example_inputs, self.granularity, self.name))

    @property
    def ids(self) -> tuple[str, ...]:
        """Operator ids in topological order."""
        return tuple(op.id for op in self.ops)

    def op(self, op_id: str) -> TracedOp:
        """Return the operator ``op_id``.

        Raises
        ------
        KeyError
            If there is no such operator.
        """
        try:
            return self._by_id[op_id]
        except KeyError:
            raise KeyError(f"traced graph {self.name!r} has no op {op_id!r}") from None

    def predecessors(self, op_id: str) -> tuple[str, ...]:
        """Operators whose outputs ``op_id`` reads."""
        return tuple(self._preds[self.op(op_id).id])

    def successors(self, op_id: str) -> tuple[str, ...]:
        """Operators that read an output of ``op_id``."""
        return tuple(self._succs[self.op(op_id).id])

    def producer(self, value: str) -> str | None:
        """The operator producing fx value ``value`` (None for model inputs)."""
        return self._producer.get(value)

    @property
    def output_values(self) -> tuple[str, ...]:
        """fx values the model output is made of (in output order)."""
        names: list[str] = []
        map_aggregate(self.output_spec, lambda a: names.append(a.name) if isinstance(a, ValueRef) else None)
        return tuple(dict.fromkeys(names))

    @property
    def total_flops(self) -> int:
        """Sum of the operators' FLOPs."""
        return sum(op.flops for op in self.ops)

    # ------------------------------------------------------------- execution
    def bind_inputs(self, *inputs: Any) -> dict[str, Any]:
        """Return an environment holding the model inputs.

        ``bind_inputs(x)``, ``bind_inputs(x, y)`` and ``bind_inputs((x, y))``
        are accepted.

        Raises
        ------
        TypeError
            If the number of inputs differs from the traced model's.
        """
        if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)) and len(self.input_names) != 1:
            inputs = tuple(inputs[0])
        if len(inputs) != len(self.input_names):
            raise TypeError(
                f"model {self.name!r} takes {len(self.input_names)} input(s) "
                f"({', '.join(self.input_names)}), got {len(inputs)}"
            )
        return dict(zip(self.input_names, inputs))

    def op_function(self, op_id: str, root: nn.Module | None = None) -> Callable[..., tuple[Any, ...]]:
        """Return a compiled function for operator ``op_id``.

        The function takes the values of ``op.inputs`` positionally and returns
        the tuple of ``op.outputs``. It is generated once per ``root`` (the
        module holding the parameters, by default :attr:`graph_module`; pass a
        copy moved to another device to run there) and cached.
        """
        return self._entry(self._compiled_for(root), op_id)[0]

    def _entry(
        self, compiled: _Compiled, op_id: str
    ) -> tuple[Callable[..., tuple[Any, ...]], tuple[str, ...], tuple[str, ...]]:
        entry = compiled.entries.get(op_id)
        if entry is None:
            with self._lock:
                entry = compiled.entries.get(op_id)
                if entry is None:
                    op = self.op(op_id)
                    entry = (self._build_function(op, compiled.root), op.inputs, op.outputs)
                    compiled.entries[op_id] = entry
        return entry

    def prepare(self, root: nn.Module | None = None) -> None:
        """Compile every operator's function for ``root`` ahead of execution."""
        for op in self.ops:
            self.op_function(op.id, root)

    def run_op(self, op_id: str, env: dict[str, Any], *, root: nn.Module | None = None) -> None:
        """Run one operator, reading its inputs from and writing its outputs to ``env``.

        This is the one mechanism by which the profiler and every executor
        backend execute an operator.

        Parameters
        ----------
        op_id : str
            The operator to run.
        env : dict
            fx value name -> value; must hold every name in ``op.inputs``.
        root : torch.nn.Module, optional
            Module holding the parameters (see :meth:`op_function`).

        Raises
        ------
        OpExecutionError
            If the operator raises; the message names the operator.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> traced = trace(nn.Sequential(nn.Linear(4, 2)), torch.zeros(1, 4))
        >>> env = traced.bind_inputs(torch.zeros(1, 4))
        >>> traced.run_op("_0", env)
        >>> tuple(env["_0"].shape)
        (1, 2)
        """
        compiled = self._default if root is None or root is self.graph_module else self._compiled_for(root)
        entry = compiled.entries.get(op_id)
        if entry is None:
            entry = self._entry(compiled, op_id)
        fn, inputs, outputs = entry
        try:
            outs = fn(*[env[name] for name in inputs])
        except Exception as exc:
            op = self._by_id[op_id]
            raise OpExecutionError(
                f"op {op_id!r} ({op.kind}; fx nodes {', '.join(op.nodes)}) raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        for name, value in zip(outputs, outs):
            env[name] = value

    def collect_outputs(self, env: Mapping[str, Any], root: nn.Module | None = None) -> Any:
        """Assemble the model output from an environment."""
        holder = self.graph_module if root is None else root

        def pick(arg: Any) -> Any:
            if not isinstance(arg, ValueRef):
                return arg
            if arg.name in env:
                return env[arg.name]
            if arg.name in self._attrs:
                return _fetch_attr(holder, self._attrs[arg.name][0])
            raise KeyError(f"model output value {arg.name!r} was not computed")

        return map_aggregate(self.output_spec, pick)

    def run(self, *inputs: Any, keep: bool = False) -> Any:
        """Run every operator in topological order with :meth:`run_op`.

        Parameters
        ----------
        *inputs
            Model inputs.
        keep : bool
            Return the whole environment (every value) instead of the output.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        >>> traced = trace(net, torch.zeros(2, 4))
        >>> x = torch.randn(2, 4)
        >>> torch.allclose(traced.run(x), net(x))
        True
        """
        env = self.bind_inputs(*inputs)
        if keep:
            for op in self.ops:
                self.run_op(op.id, env)
            return env
        for op_id, dead in self._last_uses():
            self.run_op(op_id, env)
            for value in dead:  # free as the forward pass would
                del env[value]
        return self.collect_outputs(env)

    def _last_uses(self) -> list[tuple[str, tuple[str, ...]]]:
        if self._dead is None:
            last: dict[str, str] = {}
            for op in self.ops:
                for value in op.inputs:
                    last[value] = op.id
            keep = set(self.output_values)
            dead: dict[str, list[str]] = {}
            for value, op_id in last.items():
                if value not in keep:
                    dead.setdefault(op_id, []).append(value)
            self._dead = [(op.id, tuple(dead.get(op.id, ()))) for op in self.ops]
        return self._dead

    # ------------------------------------------------------------- conversion
    def to_opgraph(
        self,
        latency_ms: Mapping[str, float] | None = None,
        *,
        utilization: Mapping[str, float] | None = None,
        stage_latency_ms: Mapping[frozenset[str], float] | None = None,
        comm_ms: Callable[[int], float] | None = None,
        flops_per_ms: float = 1e9,
        min_latency_ms: float = 1e-3,
        name: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Any:
        """Convert to an :class:`~hios_opt.graph.OpGraph` for the schedulers.

        Parameters
        ----------
        latency_ms : mapping of op id to float, optional
            Measured latencies (every op must be present). Without it each op
            gets a placeholder cost ``max(flops / flops_per_ms,
            min_latency_ms)`` and ``meta["device"]`` is ``"flops-proxy"``.
        utilization : mapping of op id to float, optional
            Per-op utilization in (0, 1] (default 1.0).
        stage_latency_ms : mapping of frozenset to float, optional
            Measured group latencies.
        comm_ms : callable, optional
            Bytes -> transfer time in ms for each edge; without it edges carry
            only ``bytes`` and the platform's link prices them.
        flops_per_ms : float
            Throughput of the FLOP proxy (default 1e9, i.e. 1 TFLOP/s).
        min_latency_ms : float
            Floor of the FLOP proxy (keeps latencies > 0).
        name : str, optional
            Graph name (default: the traced model's name).
        meta : mapping, optional
            Extra metadata, merged over the defaults.

        Raises
        ------
        ProfileError
            If ``latency_ms`` misses an operator.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> traced = trace(nn.Sequential(nn.Linear(4, 2)), torch.zeros(1, 4))
        >>> g = traced.to_opgraph()
        >>> g.meta["device"], len(g.ops)
        ('flops-proxy', 1)
        """
        if latency_ms is not None:
            missing = [op.id for op in self.ops if op.id not in latency_ms]
            if missing:
                raise ProfileError(f"no latency for op(s) {', '.join(map(repr, missing[:5]))}")
        ops = []
        for op in self.ops:
            if latency_ms is not None:
                lat = float(latency_ms[op.id])
            else:
                lat = max(op.flops / flops_per_ms, min_latency_ms)
            util = 1.0 if utilization is None else float(utilization.get(op.id, 1.0))
            ops.append(
                Op(
                    id=op.id,
                    latency_ms=lat,
                    utilization=util,
                    output_bytes=op.output_bytes,
                    kind=op.kind,
                    flops=op.flops,
                    shape=op.shape,
                )
            )
        edges = [
            Edge(e.src, e.dst, comm_ms=None if comm_ms is None else float(comm_ms(e.bytes)), bytes=e.bytes)
            for e in self.edges
        ]
        first = self.example_inputs[0] if self.example_inputs else None
        full_meta: dict[str, Any] = {
            "source": "traced",
            "device": "flops-proxy" if latency_ms is None else "unknown",
            "model": self.name,
            "granularity": self.granularity,
            "input_shape": [list(x.shape) for x in self.example_inputs if isinstance(x, torch.Tensor)],
            "batch_size": int(first.shape[0]) if isinstance(first, torch.Tensor) and first.dim() > 0 else None,
        }
        if latency_ms is None:
            full_meta["flops_per_ms"] = flops_per_ms
        full_meta.update(meta or {})
        return OpGraph(
            ops,
            edges,
            name=name or self.name,
            meta=full_meta,
            stage_latency_ms=dict(stage_latency_ms) if stage_latency_ms else None,
        )

    # --------------------------------------------------------------- internals
    def _compiled_for(self, root: nn.Module | None) -> _Compiled:
        root = self.graph_module if root is None else root
        compiled = self._compiled.get(id(root))
        if compiled is None or compiled.root is not root:
            with self._lock:
                compiled = self._compiled.get(id(root))
                if compiled is None or compiled.root is not root:
                    compiled = _Compiled(root)
                    self._compiled[id(root)] = compiled
        return compiled

    def _build_function(self, op: TracedOp, root: nn.Module) -> Callable[..., tuple[Any, ...]]:
        source = self._nodes
        graph = fx.Graph()
        mapping: dict[fx.Node, fx.Node] = {}
        for name in op.inputs:
            mapping[source[name]] = graph.placeholder(name)
        for name in self._op_attrs(op):
            mapping[source[name]] = graph.node_copy(source[name], lambda n: mapping[n])
        for name in op.nodes:
            mapping[source[name]] = graph.node_copy(source[name], lambda n: mapping[n])
        graph.output(tuple(mapping[source[name]] for name in op.outputs))
        sub = fx.GraphModule(root, graph, class_name=f"Op_{op.id}")
        return sub.forward

    def _op_attrs(self, op: TracedOp) -> list[str]:
        return [name for name, users in self._attrs.items() if op.id in users[1:]]


# ------------------------------------------------------------------- tracing
def trace(
    module: nn.Module,
    example_input: Any,
    *,
    granularity: str = "block",
    name: str | None = None,
) -> TracedGraph:
    """Trace ``module`` into a :class:`TracedGraph` of operators.

    Parameters
    ----------
    module : torch.nn.Module
        Any module that :func:`torch.fx.symbolic_trace` can trace. Call
        ``.eval()`` first if the traced graph should match inference (BatchNorm
        statistics, dropout).
    example_input : Tensor or tuple of Tensor
        Inputs used once for shape propagation (their shapes, batch size and
        dtype are recorded).
    granularity : {"block", "module"}
        ``"block"`` fuses conv(-bn)(-activation) chains into one operator;
        ``"module"`` makes one operator per leaf-module call.
    name : str, optional
        Model name (default: the module's class name).

    Returns
    -------
    TracedGraph

    Raises
    ------
    TraceError
        If fx cannot trace the module (data-dependent control flow ...), the
        example input does not fit it, or an in-place operation would make
        concurrent execution differ from the forward pass.

    Notes
    -----
    *Grouping rule.*

    * **Compute nodes** become operators of their own: every leaf-module call
      (``call_module``) and every function or method that is not glue
      (``F.conv2d``, ``F.max_pool2d``, ``torch.matmul``, ``x.mean()`` ...).
    * ``granularity="block"`` additionally fuses a convolution with the
      BatchNorm that consumes it (when the BatchNorm is the convolution's only
      user; modules, or ``F.conv2d`` and ``F.batch_norm`` on parameters, as in
      graphs captured by ``torch.compile``), and treats parameter-free activation/shape modules (``nn.ReLU``,
      ``nn.Dropout``, ``nn.Flatten``, ``nn.Identity`` ...) as glue, so that
      ``conv -> bn -> relu`` is one operator. ``granularity="module"`` keeps one
      operator per leaf-module call.
    * **Glue nodes** are parameter-free elementwise, shape and indexing functions
      or methods (``add``, ``mul``, ``cat``, ``relu``, ``flatten``, ``view``,
      ``getitem`` ...). A glue node whose inputs all come from *one* operator
      joins that operator (so ``flatten`` after a pool, or ``relu`` after a conv,
      costs no extra operator and no extra dependency); a glue node that reads
      from two or more operators (``cat`` of two branches, a residual ``add``)
      is an operator of its own; a glue node that reads only model inputs is an
      operator of its own too.
    * Placeholders, ``get_attr`` nodes and the output node are not operators
      (``get_attr`` values are read inside each operator that uses them).

    An operator's id is the fx name of its first node (``"conv1"``,
    ``"layer1_0_conv1"``, ``"cat_2"``); its kind joins the kinds of its non-view
    nodes (``"Conv2d+BatchNorm2d+ReLU"``, ``"add+relu"``).

    *FLOP count* (per node, summed over an operator):

    * convolution: ``2 * MACs`` with ``MACs = out_numel * (C_in / groups) *
      prod(kernel)`` (transposed: ``in_numel * (C_out / groups) * prod(kernel)``);
      bias ignored;
    * linear / matmul: ``2 * out_numel * K`` (K the reduced dimension);
    * everything else that computes (norms, pools, activations, elementwise,
      reductions, unknown modules): the number of output elements;
    * pure data movement (view, reshape, flatten, getitem, cat, stack,
      permute, dropout ...): 0.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(128, 2))
    >>> traced = trace(net.eval(), torch.zeros(1, 3, 6, 6))
    >>> [op.id for op in traced.ops]   # conv+relu+flatten, linear
    ['_0', '_3']
    >>> traced.ops[0].flops            # 2 * 128 outputs * 3*3*3 MACs + 128 (relu)
    7040
    >>> [op.id for op in trace(net, torch.zeros(1, 3, 6, 6), granularity="module").ops]
    ['_0', '_1', '_2', '_3']
    """
    if granularity not in GRANULARITIES:
        raise TraceError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    if not isinstance(module, nn.Module):
        raise TraceError(f"trace() needs a torch.nn.Module, got {type(module).__name__}")
    inputs = _as_tuple(example_input)
    model_name = name or type(module).__name__
    try:
        gm = fx.symbolic_trace(module)
    except Exception as exc:  # fx raises many types; all mean "cannot trace"
        raise TraceError(
            f"torch.fx cannot trace {model_name!r} ({type(module).__name__}): "
            f"{type(exc).__name__}: {exc} [at {_user_frame(exc)}]"
        ) from exc
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(*inputs)
    except Exception as exc:
        # ShapeProp wraps the error in one that prints the whole fx node; the cause is what the user needs
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        shapes = [list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__ for x in inputs]
        raise TraceError(
            f"running {model_name!r} on the example input ({shapes}) failed{_failed_node(exc)}: "
            f"{type(cause).__name__}: {cause}"
        ) from exc
    return _build(gm, module, inputs, granularity, model_name)


def _failed_node(exc: BaseException) -> str:
    """`` at node 'stem' (Linear)`` from ShapeProp's error, when it names one."""
    text = str(exc)
    if not text.startswith("ShapeProp error for: node=%"):
        return ""
    name = text[len("ShapeProp error for: node=%"):].split(" ", 1)[0]
    return f" at node {name!r}"


def _retrace(module: nn.Module, inputs: tuple[Any, ...], granularity: str, name: str) -> TracedGraph:
    return trace(module, inputs, granularity=granularity, name=name)


def _as_tuple(example_input: Any) -> tuple[Any, ...]:
    if isinstance(example_input, (tuple, list)):
        return tuple(example_input)
    return (example_input,)


def _user_frame(exc: BaseException) -> str:
    """Innermost traceback frame outside torch: the user's offending line."""
    frames = traceback.extract_tb(exc.__traceback__)
    torch_dir = torch.__file__.rsplit("/", 1)[0]
    user = [f for f in frames if not f.filename.startswith(torch_dir) and f.filename != __file__]
    frame = user[-1] if user else (frames[-1] if frames else None)
    if frame is None:
        return "unknown location"
    return f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line or ''}".strip()


def _module_of(node: fx.Node, modules: Mapping[str, nn.Module]) -> nn.Module:
    """The module a ``call_module`` node calls (its target is the module's name)."""
    assert isinstance(node.target, str)
    return modules[node.target]


def _target_name(node: fx.Node, modules: Mapping[str, nn.Module]) -> str:
    if node.op == "call_module":
        return type(_module_of(node, modules)).__name__
    if node.op == "call_method":
        name = str(node.target)
    else:
        name = getattr(node.target, "__name__", str(node.target))
    if name in _INPLACE_OPERATORS:
        return name[1:]
    return name[:-1] if name.endswith("_") and not name.startswith("_") else name


def _is_glue(node: fx.Node, modules: Mapping[str, nn.Module], granularity: str) -> bool:
    if node.op == "call_module":
        return granularity == "block" and isinstance(_module_of(node, modules), _GLUE_MODULES)
    name = _target_name(node, modules)
    return name in _VIEW_GLUE or name in _ELEMENTWISE_GLUE


def _is_batch_norm(node: fx.Node, modules: Mapping[str, nn.Module]) -> bool:
    """A BatchNorm module, or ``F.batch_norm`` (as in graphs captured by dynamo)."""
    if node.op == "call_module":
        return isinstance(_module_of(node, modules), _BN_MODULES)
    return node.op == "call_function" and _target_name(node, modules) == "batch_norm"


def _is_convolution(node: fx.Node, modules: Mapping[str, nn.Module]) -> bool:
    if node.op == "call_module":
        return isinstance(_module_of(node, modules), _CONV_MODULES + _CONV_T_MODULES)
    return node.op == "call_function" and _target_name(node, modules) in _CONV_FUNCTIONS


def _mutates_input(node: fx.Node, modules: Mapping[str, nn.Module]) -> bool:
    if node.op == "call_module":
        return bool(getattr(_module_of(node, modules), "inplace", False))
    if node.op not in ("call_method", "call_function"):
        return False
    raw = str(node.target) if node.op == "call_method" else getattr(node.target, "__name__", "")
    if raw in _INPLACE_OPERATORS or bool(node.kwargs.get("inplace", False)):
        return True
    return raw.endswith("_") and not raw.startswith("_")


def _numel(meta: Any) -> int:
    if isinstance(meta, TensorMetadata):
        return math.prod(meta.shape)
    return 0


def _bytes(meta: Any) -> int:
    if isinstance(meta, TensorMetadata):
        return math.prod(meta.shape) * meta.dtype.itemsize
    if isinstance(meta, (tuple, list)):
        return sum(_bytes(m) for m in meta)
    if isinstance(meta, dict):
        return sum(_bytes(m) for m in meta.values())
    return 0


def _node_flops(node: fx.Node, modules: Mapping[str, nn.Module]) -> int:
    out = _numel(node.meta.get("tensor_meta"))
    if node.op == "call_module":
        mod = _module_of(node, modules)
        if isinstance(mod, _CONV_MODULES):
            kernel = math.prod(mod.kernel_size)
            return 2 * out * (mod.in_channels // mod.groups) * kernel
        if isinstance(mod, _CONV_T_MODULES):
            src = node.all_input_nodes[0].meta.get("tensor_meta")
            kernel = math.prod(mod.kernel_size)
            return 2 * _numel(src) * (mod.out_channels // mod.groups) * kernel
        if isinstance(mod, nn.Linear):
            return 2 * out * mod.in_features
        if isinstance(mod, (nn.Dropout, nn.Identity, nn.Flatten, nn.Unflatten, nn.Dropout2d)):
            return 0
        return out
    name = _target_name(node, modules)
    if name in _VIEW_GLUE:
        return 0
    if name in ("conv1d", "conv2d", "conv3d") and len(node.args) > 1:
        weight = node.args[1].meta.get("tensor_meta") if isinstance(node.args[1], fx.Node) else None
        if isinstance(weight, TensorMetadata):
            return 2 * out * math.prod(weight.shape[1:])
    if name == "linear" and len(node.args) > 1 and isinstance(node.args[1], fx.Node):
        weight = node.args[1].meta.get("tensor_meta")
        if isinstance(weight, TensorMetadata):
            return 2 * out * weight.shape[-1]
    if name in ("matmul", "mm", "bmm", "addmm", "baddbmm", "einsum_linear"):
        first = node.args[1] if name in ("addmm", "baddbmm") else node.args[0]
        meta = first.meta.get("tensor_meta") if isinstance(first, fx.Node) else None
        if isinstance(meta, TensorMetadata) and meta.shape:
            return 2 * out * meta.shape[-1]
    return out


def _build(
    gm: fx.GraphModule,
    module: nn.Module,
    inputs: tuple[Any, ...],
    granularity: str,
    name: str,
) -> TracedGraph:
    modules = dict(gm.named_modules())
    nodes = list(gm.graph.nodes)
    owner: dict[str, str] = {}  # fx node name -> op id
    members: dict[str, list[fx.Node]] = {}
    attr_users: dict[str, list[str]] = {}  # get_attr node -> [target, op ids...]
    placeholders: list[str] = []
    output_node: fx.Node | None = None

    for node in nodes:
        if node.op == "placeholder":
            placeholders.append(node.name)
            continue
        if node.op == "get_attr":
            attr_users[node.name] = [str(node.target)]
            continue
        if node.op == "output":
            output_node = node
            continue
        producers = {owner[a.name] for a in node.all_input_nodes if a.name in owner}
        op_id: str | None = None
        if _is_glue(node, modules, granularity):
            if len(producers) == 1:
                op_id = next(iter(producers))
        elif granularity == "block" and _is_batch_norm(node, modules):
            src = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
            if (
                src is not None
                and _is_convolution(src, modules)
                and len(src.users) == 1
                and all(a is src or a.op == "get_attr" for a in node.all_input_nodes)
                and src.name in owner
                and members[owner[src.name]][-1] is src
            ):
                op_id = owner[src.name]
        if op_id is None:
            op_id = node.name
            members[op_id] = []
        members[op_id].append(node)
        owner[node.name] = op_id
        for arg in node.all_input_nodes:
            if arg.op == "get_attr" and op_id not in attr_users[arg.name]:
                attr_users[arg.name].append(op_id)

    if output_node is None:  # pragma: no cover - fx always emits one
        raise TraceError(f"traced graph of {name!r} has no output node")

    # torch types map_aggregate's function as returning an fx Argument; it
    # rebuilds the containers with whatever the function returns (ValueRefs here).
    output_spec = map_aggregate(
        output_node.args[0], lambda a: ValueRef(a.name) if isinstance(a, fx.Node) else a  # type: ignore[arg-type,return-value]
    )
    output_reads = {a.name for a in output_node.all_input_nodes}

    _check_inplace(nodes, modules, owner, name)

    ops: list[TracedOp] = []
    value_bytes: dict[str, int] = {}
    value_meta: dict[str, TensorMetadata] = {}
    for node in nodes:
        meta = node.meta.get("tensor_meta")
        if isinstance(meta, TensorMetadata):
            value_meta[node.name] = meta
    by_name = {node.name: node for node in nodes}
    for node_name in placeholders:
        value_bytes[node_name] = _bytes(by_name[node_name].meta.get("tensor_meta"))

    for op_id, group in members.items():
        group_names = {n.name for n in group}
        reads: list[str] = []
        for n in group:
            for arg in n.all_input_nodes:
                if arg.name not in group_names and arg.op != "get_attr" and arg.name not in reads:
                    reads.append(arg.name)
        outputs = [
            n.name
            for n in group
            if n.name in output_reads or any(owner.get(u.name) != op_id for u in n.users if u.op != "output")
        ]
        for out in outputs:
            value_bytes[out] = _bytes(by_name[out].meta.get("tensor_meta"))
        last = group[-1].meta.get("tensor_meta")
        shape = tuple(int(s) for s in last.shape) if isinstance(last, TensorMetadata) else None
        kinds = [
            _target_name(n, modules)
            for n in group
            if _target_name(n, modules) not in _VIEW_GLUE or n is group[0]
        ]
        head_module = next((str(n.target) for n in group if n.op == "call_module"), None)
        ops.append(
            TracedOp(
                id=op_id,
                kind="+".join(dict.fromkeys(kinds)),
                nodes=tuple(n.name for n in group),
                inputs=tuple(reads),
                outputs=tuple(outputs),
                shape=shape,
                output_bytes=sum(value_bytes[o] for o in outputs),
                flops=sum(_node_flops(n, modules) for n in group),
                module=head_module,
            )
        )

    edges: list[TracedEdge] = []
    for op in ops:
        by_src: dict[str, list[str]] = {}
        for value in op.inputs:
            producer = owner.get(value)
            if producer is not None:
                by_src.setdefault(producer, []).append(value)
        for producer, values in by_src.items():
            edges.append(TracedEdge(producer, op.id, tuple(values), sum(value_bytes[v] for v in values)))

    if not ops:
        raise TraceError(f"model {name!r} has no operator (its output is its input)")
    return TracedGraph(
        name=name,
        module=module,
        graph_module=gm,
        example_inputs=inputs,
        granularity=granularity,
        ops=tuple(ops),
        edges=tuple(edges),
        attrs={k: tuple(v) for k, v in attr_users.items()},
        input_names=tuple(placeholders),
        output_spec=output_spec,
        value_bytes=value_bytes,
        value_meta=value_meta,
        producer={value: op_id for value, op_id in owner.items()},
    )


def _check_inplace(
    nodes: Sequence[fx.Node],
    modules: Mapping[str, nn.Module],
    owner: Mapping[str, str],
    name: str,
) -> None:
    for node in nodes:
        if node.op not in ("call_module", "call_method", "call_function") or not node.all_input_nodes:
            continue
        if not _mutates_input(node, modules):
            continue
        target = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
        if target is None:
            continue
        mine = owner.get(node.name)
        others = [u.name for u in target.users if u is not node and u.op != "output" and owner.get(u.name) != mine]
        if others or (target.op == "placeholder" and len(target.users) > 1):
            raise TraceError(
                f"in model {name!r}, {node.name!r} modifies {target.name!r} in place while "
                f"other operators ({', '.join(others) or 'model input readers'}) also read it; "
                "concurrent execution would change the result (use inplace=False there)"
            )


def _fetch_attr(root: nn.Module, target: str) -> Any:
    obj: Any = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def iter_tensors(value: Any) -> Iterable[torch.Tensor]:
    """Yield every tensor inside a nested value (tuples, lists, dicts, named
    tuples: any :mod:`torch.utils._pytree` container).

    >>> [tuple(t.shape) for t in iter_tensors({"a": torch.zeros(1), "b": (2, [torch.zeros(2, 3)])})]
    [(1,), (2, 3)]
    """
    return (leaf for leaf in tree_leaves(value) if isinstance(leaf, torch.Tensor))


def map_tensors(value: Any, fn: Callable[[torch.Tensor], Any]) -> Any:
    """Apply ``fn`` to every tensor inside a nested value; other leaves and
    the containers' types are kept.

    >>> map_tensors((torch.ones(2), "x", [torch.zeros(1)]), lambda t: t + 1)
    (tensor([2., 2.]), 'x', [tensor([1.])])
    """
    return tree_map_only(torch.Tensor, fn, value)
