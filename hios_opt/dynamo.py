"""``torch.compile(model, backend="hios_opt")``: schedules as a compile backend.

Dynamo hands the backend each captured graph, its parameters and buffers
lifted into inputs. The backend freezes them into the graph by reference
(a call with other tensors in their place runs the graph as captured),
groups it into ops as :func:`hios_opt.trace.trace` does, and hands it to
:func:`hios_opt.optimize` with ``torch.compile``'s ``options`` (optimize()'s
keyword arguments, and ``fallback``). Where that cannot help (autograd,
dynamic shapes, an in-place update read elsewhere, a chain of ops, a plan no
faster than the graph), the graph goes to the ``fallback`` backend (default
``"inductor"``) with one log line on the ``hios_opt.dynamo`` logger.

The package's ``torch_dynamo_backends`` entry point registers the backend;
:func:`register` does it by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hios_opt import _torch  # noqa: F401  (first: without torch, an error naming the [torch] extra)

# isort: split
import torch
import torch.fx as fx
from torch._dynamo.backends.registry import lookup_backend, register_backend
from torch._dynamo.exc import InvalidBackend
from torch._dynamo.utils import get_static_address_type

from hios_opt.errors import HiosError, OptionError
from hios_opt.scheduled import optimize
from hios_opt.trace import trace

__all__ = ["backend", "register", "NAME", "DEFAULT_FALLBACK", "OPTIONS"]

logger = logging.getLogger("hios_opt.dynamo")

#: The name ``torch.compile`` knows the backend by.
NAME = "hios_opt"
#: Backend that compiles the graphs this one cannot help.
DEFAULT_FALLBACK = "inductor"
#: Options ``torch.compile(..., options=...)`` may pass: optimize()'s keyword arguments, and ``fallback``.
OPTIONS = ("gpus", "streams", "device", "solver", "time_limit", "costs", "margin", "warmup", "repeat", "threads",
           "granularity", "max_pairs", "cache", "seed", "fallback")


def _static(value: Any) -> bool:
    """A parameter or buffer that dynamo lifted into a graph input."""
    if isinstance(value, torch.nn.Parameter):
        return True
    return isinstance(value, torch.Tensor) and get_static_address_type(value) is not None


def _freeze(gm: fx.GraphModule, example_inputs: Sequence[Any]) -> tuple[fx.GraphModule, dict[int, Any], list[int]]:
    """A copy of ``gm`` whose static inputs are attributes (the same tensors),
    the static inputs by position, and the positions of the others."""
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    static = {k: value for k, value in enumerate(example_inputs) if _static(value)}
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    attrs: dict[str, Any] = {}
    for node in gm.graph.nodes:
        if node.op in ("get_attr", "call_module"):  # what the graph already reads from its module
            attrs[node.target] = gm.get_submodule(node.target) if node.op == "call_module" else _fetch(gm, node.target)
        k = placeholders.index(node) if node.op == "placeholder" else -1
        if k in static:
            name = f"frozen_{node.name}"
            attrs[name] = static[k]
            env[node] = graph.get_attr(name)
        else:
            env[node] = graph.node_copy(node, lambda n: env[n])
    frozen = fx.GraphModule(attrs, graph, class_name=type(gm).__name__)
    frozen.eval()
    return frozen, static, [k for k in range(len(example_inputs)) if k not in static]


def _fetch(module: torch.nn.Module, target: str) -> Any:
    owner, _, name = target.rpartition(".")
    return getattr(module.get_submodule(owner) if owner else module, name)


def _why_not(gm: fx.GraphModule, example_inputs: Sequence[Any]) -> str | None:
    """Why the backend cannot schedule this graph, or None."""
    if any(not isinstance(x, torch.Tensor) for x in example_inputs):
        return "dynamic shapes (a graph input is not a tensor: compile with dynamic=False)"
    if torch.is_grad_enabled() and any(x.requires_grad for x in example_inputs):
        return "the graph needs autograd (hios_opt schedules inference: compile and call under torch.no_grad())"
    return None


def _no_parallelism(graph: Any) -> bool:
    n = graph.n_ops
    return not any(not graph.depends(i, j) for i in range(n) for j in range(i + 1, n))


def backend(gm: fx.GraphModule, example_inputs: Sequence[Any], *, options: Mapping[str, Any] | None = None) -> Callable[
        ..., Any]:
    """The ``torch.compile`` backend (see the module docstring).

    Parameters
    ----------
    gm : torch.fx.GraphModule
        A graph captured by dynamo.
    example_inputs : sequence
        Its inputs (parameters and buffers included).
    options : mapping, optional
        :func:`hios_opt.optimize`'s keyword arguments, and ``fallback`` (a
        backend name, default ``"inductor"``).

    Returns
    -------
    callable
        Runs the graph: a scheduled plan, or what the fallback compiled.

    Raises
    ------
    OptionError
        An unknown option (the message lists the valid ones).

    Examples
    --------
    Not run as a doctest (dynamo inside a doctest trips a CPython 3.11
    parser check later in the session); ``tests/test_dynamo.py`` runs it.

    >>> import torch
    >>> from torch import nn
    >>> class Pair(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.a, self.b = nn.Linear(16, 16), nn.Linear(16, 16)
    ...     def forward(self, x):
    ...         return torch.relu(self.a(x)) * self.b(x)
    >>> net, x = Pair().eval(), torch.randn(4, 16)
    >>> register()  # only needed where the package's entry point is not installed
    >>> fast = torch.compile(net, backend="hios_opt", options={"costs": "estimate:h100", "fallback": "eager"})
    >>> with torch.no_grad():  # doctest: +SKIP
    ...     torch.allclose(fast(x), net(x), atol=1e-6)
    True
    """
    options = dict(options or {})
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise OptionError(f"unknown option {unknown[0]!r} of the {NAME} backend; valid: {', '.join(OPTIONS)}")
    fallback = options.pop("fallback", DEFAULT_FALLBACK)
    label = f"graph of {len(gm.graph.nodes)} nodes"

    def fall_back(reason: str) -> Callable[..., Any]:
        logger.warning("%s backend: %s; %s goes to the %r backend", NAME, reason, label, fallback)
        return lookup_backend(fallback)(gm, list(example_inputs))

    reason = _why_not(gm, example_inputs)
    if reason is not None:
        return fall_back(reason)
    frozen, static, dynamic = _freeze(gm, example_inputs)
    inputs = [example_inputs[k] for k in dynamic]
    try:
        traced = trace(frozen, inputs, name="dynamo_graph")
        if _no_parallelism(traced.to_opgraph()):
            return fall_back(f"its {len(traced.ops)} op(s) depend on each other in a chain: nothing to schedule")
        scheduled = optimize(frozen, inputs, warn=False, **options)
    except HiosError as exc:
        return fall_back(f"{type(exc).__name__}: {exc}")
    if scheduled.mode == "forward":
        return fall_back(scheduled.decision.reason)
    label = f"{label}, {scheduled.graph.n_ops} ops"
    logger.info("%s backend: %s runs %s (%s)", NAME, label, scheduled.schedule.algorithm, scheduled.decision.reason)
    warned: list[bool] = []

    def run(*args: Any) -> Any:
        for k, tensor in static.items():
            if args[k] is not tensor:  # another module instance shares this graph: run it as captured
                if not warned:
                    warned.append(True)
                    logger.warning("%s backend: the parameters of a %s changed; it runs unscheduled", NAME, label)
                return gm(*args)
        return scheduled(*[args[k] for k in dynamic])

    run.scheduled = scheduled  # type: ignore[attr-defined]
    return run


def register() -> None:
    """Register :func:`backend` as ``"hios_opt"`` unless the entry point (an
    installed package) or an earlier call already did."""
    try:
        lookup_backend(NAME)
    except InvalidBackend:
        register_backend(backend, name=NAME)
