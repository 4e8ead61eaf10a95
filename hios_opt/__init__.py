"""hios_opt: multi-GPU inference schedules for DAG-shaped models, with proofs.

The problem (an operator graph, a platform, a stage-latency model), one
schedule format, one evaluator, the HIOS-LP heuristic and its baselines, and
exact CP-SAT / MILP models that give the optimum or a proven lower bound.
Importing ``hios_opt`` does not import torch; the model zoo, tracing,
profiling, the executor and :func:`optimize` live in submodules that do, and
need the optional ``torch`` extra. Bundled graphs are found by name through
:mod:`hios_opt.data`.

>>> import hios_opt as ho
>>> g = ho.generators.diamond()
>>> s = ho.Schedule.sequential(g.topological_order())
>>> ho.evaluate(g, ho.Platform(), s).makespan
7.0
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from . import errors, generators
from .bounds import critical_path_bound, lower_bound, work_bound
from .costs import AnalyticModel, MeasuredModel, StageModel
from .errors import HiosError
from .evaluate import Timeline, evaluate, simulate
from .graph import Edge, Op, OpGraph
from .platform import Platform
from .schedules import Schedule, Stage

__version__ = "0.1.0"

__all__ = [
    "OpGraph", "Op", "Edge", "Platform", "Schedule", "Stage", "evaluate", "simulate", "Timeline",
    "AnalyticModel", "MeasuredModel", "StageModel", "lower_bound", "critical_path_bound", "work_bound",
    "generators", "errors", "HiosError", "schedule", "algorithms", "compare", "solve", "study", "__version__",
    "optimize", "ScheduledModule",
]

# Entry points that live in modules with heavier imports, loaded on first use.
_LAZY = {
    "schedule": ("hios_opt.heuristics", "schedule"),
    "algorithms": ("hios_opt.heuristics", "algorithms"),
    "compare": ("hios_opt.comparison", "compare"),
    "solve": ("hios_opt.exact", "solve"),
    "SolveResult": ("hios_opt.exact", "SolveResult"),
    "optimize": ("hios_opt.scheduled", "optimize"),
    "ScheduledModule": ("hios_opt.scheduled", "ScheduledModule"),
}


# Subpackages with heavier imports, loaded on first use (``ho.study.run(...)``).
_LAZY_MODULES = ("study",)


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return import_module(f"{__name__}.{name}")
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hios_opt' has no attribute {name!r}")
