"""Exception types of hios_opt.

Every error the package raises on bad input is a :class:`HiosError`. Each
subclass names one kind of fault, and its message names the culprit (an op id,
an edge, a field, a stage), so that the command line can print it on one line
and a script can catch exactly what it expects.
"""

from __future__ import annotations

__all__ = [
    "HiosError",
    "FormatError",
    "MissingFieldError",
    "GraphError",
    "DuplicateOpError",
    "UnknownOpError",
    "SelfLoopError",
    "CycleError",
    "InvalidCostError",
    "EmptyGraphError",
    "PlatformError",
    "ScheduleError",
    "CoverageError",
    "StageSizeError",
    "DependentStageError",
    "GpuIndexError",
    "DeadlockError",
    "AlgorithmError",
    "OptionError",
    "SolverError",
    "ProblemTooLargeError",
    "ModelError",
    "TraceError",
    "ProfileError",
    "ExecutorError",
    "OpExecutionError",
    "DeviceError",
    "ModelMismatchError",
    "InputMismatchError",
    "NotFasterWarning",
    "MissingDependencyError",
    "SpecError",
    "StoreError",
    "StudyError",
]


class HiosError(Exception):
    """Base class of every error raised by hios_opt on bad input or a fault."""


# --- files and formats -------------------------------------------------------
class FormatError(HiosError, ValueError):
    """A file is not what it claims: wrong ``format``/``version``, bad JSON,
    wrong types, bytes that are not UTF-8, a truncated file."""


class MissingFieldError(FormatError):
    """A required field is absent from a JSON object."""


# --- graphs ------------------------------------------------------------------
class GraphError(HiosError, ValueError):
    """The operator graph is invalid."""


class DuplicateOpError(GraphError):
    """Two operators share one id."""


class UnknownOpError(GraphError, KeyError):
    """An op id is referenced that the graph does not contain."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class SelfLoopError(GraphError):
    """An edge goes from an operator to itself."""


class CycleError(GraphError):
    """The operator graph has a directed cycle; the message names one."""


class InvalidCostError(GraphError):
    """A latency, communication cost, size or utilization is negative, NaN,
    infinite or out of its range."""


class EmptyGraphError(GraphError):
    """The graph has no operator."""


# --- platform ----------------------------------------------------------------
class PlatformError(HiosError, ValueError):
    """The platform description is invalid (``gpus < 1``, ``streams < 1``,
    a link matrix of the wrong shape ...)."""


# --- schedules ---------------------------------------------------------------
class ScheduleError(HiosError, ValueError):
    """A schedule does not fit its graph or platform."""


class CoverageError(ScheduleError):
    """An operator is missing from the schedule, placed twice, or unknown."""


class StageSizeError(ScheduleError):
    """A stage holds more operators than the platform has streams."""


class DependentStageError(ScheduleError):
    """Two operators of one stage depend on each other."""


class GpuIndexError(ScheduleError):
    """A stage names a GPU outside ``0 .. gpus-1``."""


class DeadlockError(ScheduleError):
    """The stage order contradicts the dependencies: no execution exists."""


# --- algorithms and solvers --------------------------------------------------
class AlgorithmError(HiosError, ValueError):
    """Unknown algorithm or solver name."""


class OptionError(HiosError, ValueError):
    """An option is out of range or does not apply to the chosen algorithm."""


class SolverError(HiosError, RuntimeError):
    """An exact solver cannot run (not installed, failed, bad parameters)."""


class ProblemTooLargeError(SolverError):
    """The exact model would not fit in memory or time; the message says how
    large it would be and what to change."""


# --- models, tracing, profiling, execution ----------------------------------
class ModelError(HiosError, ValueError):
    """Unknown model name or invalid model parameters."""


class TraceError(HiosError, RuntimeError):
    """A PyTorch module cannot be traced into an operator graph."""


class ProfileError(HiosError, RuntimeError):
    """Costs cannot be measured or estimated."""


class ExecutorError(HiosError, RuntimeError):
    """A plan cannot be compiled or run."""


class OpExecutionError(ExecutorError):
    """An operator raised while the plan ran; the message names it."""


class DeviceError(ExecutorError):
    """A requested device is not available."""


# --- scheduled modules (hios_opt.optimize) ----------------------------------
class ModelMismatchError(HiosError, ValueError):
    """A saved schedule is loaded for a model whose traced graph differs; the
    message names the first op that differs."""


class InputMismatchError(HiosError, ValueError):
    """A scheduled module is called with inputs of another shape, dtype or
    device than the ones it was scheduled for; the message names the input."""


class NotFasterWarning(UserWarning):
    """``optimize()`` measured no gain from the schedule and runs the model's
    plain forward pass instead (the measured numbers are in the message)."""


# --- installation ------------------------------------------------------------
class MissingDependencyError(HiosError, ImportError):
    """A feature needs an optional package that is not installed (PyTorch
    for tracing, profiling and the executor); the message names the extra
    to install, e.g. ``pip install 'hios_opt[torch]'``."""


# --- studies -------------------------------------------------------------------
class SpecError(HiosError, ValueError):
    """A study spec is invalid: an unknown key or a bad value; the message
    names the key's path (``generate[0].ccr``) and the file's line."""


class StoreError(HiosError, RuntimeError):
    """A study store cannot be used: corrupt, not a study store, or written by
    a newer version. It is refused, never overwritten."""


class StudyError(HiosError, RuntimeError):
    """A study cannot run (no usable cluster, workers without hios_opt ...)."""
