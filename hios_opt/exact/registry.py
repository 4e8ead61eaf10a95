"""The exact solvers by name: what :func:`hios_opt.exact.solve` can run.

Each solver is a :class:`SolverSpec`: ``prepare`` checks that the instance
fits the solver and builds what it needs (stage candidates ...) before any
time goes into a warm start, and ``run`` solves a
:class:`~hios_opt.exact.request.SolveRequest`. A name may carry a variant
after a colon (``"milp:cbc"``: the MILP with PuLP's CBC).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import AlgorithmError, ProblemTooLargeError
from .astar import solve_astar
from .candidates import stage_candidates
from .cpsat import cpsat_candidates, solve_cpsat
from .lns import LnsOptions, solve_lns
from .milp import check_size, default_backend, pulp_solver, solve_milp
from .portfolio import solve_portfolio
from .request import SolveRequest
from .result import SolveResult

__all__ = ["SolverSpec", "register_solver", "solver_spec", "solver_names", "SOLVERS"]


@dataclass(frozen=True)
class SolverSpec:
    """An exact solver: ``prepare(request, variant) -> (prepared, label)``
    (``label``: the solver's name in results, e.g. ``"milp:HiGHS"``) and
    ``run(request, prepared) -> SolveResult``; ``options``: the names of the
    solver's own options (``solve(..., options={...})``)."""

    name: str
    summary: str
    prepare: Callable[[SolveRequest, str], tuple[Any, str]]
    run: Callable[[SolveRequest, Any], SolveResult]
    variants: bool = False
    options: frozenset[str] = frozenset()


_REGISTRY: dict[str, SolverSpec] = {}


def register_solver(spec: SolverSpec) -> SolverSpec:
    """Add (or replace) a solver under ``spec.name``."""
    _REGISTRY[spec.name] = spec
    return spec


def solver_names() -> list[str]:
    """The registered solver names, in registration order."""
    return list(_REGISTRY)


def solver_spec(name: Any) -> tuple[SolverSpec, str]:
    """The solver a name asks for, and the variant after its colon (``""``).

    >>> solver_spec("milp:cbc")[0].name, solver_spec("milp:cbc")[1]
    ('milp', 'cbc')
    """
    base, _, variant = name.partition(":") if isinstance(name, str) else ("", "", "")
    spec = _REGISTRY.get(base)
    if spec is None or (variant and not spec.variants) or (name.endswith(":") if isinstance(name, str) else False):
        choices = ", ".join(repr(n) for n in _REGISTRY)
        raise AlgorithmError(f"unknown solver {name!r}; valid: {choices}, or 'milp:NAME' with a PuLP solver "
                             "name such as 'milp:PULP_CBC_CMD'")
    return spec, variant


# ------------------------------------------------------------------ solvers
def _prepare_cpsat(request: SolveRequest, variant: str) -> tuple[Any, str]:
    return cpsat_candidates(request.graph, request.platform, request.cost_model), "cpsat"


def _prepare_astar(request: SolveRequest, variant: str) -> tuple[Any, str]:
    return stage_candidates(request.graph, request.platform.streams, request.cost_model), "astar"


def _prepare_portfolio(request: SolveRequest, variant: str) -> tuple[Any, str]:
    # Too many stages for the exact searches is no reason to refuse: the
    # improvement search runs alone then.
    try:
        cands = stage_candidates(request.graph, request.platform.streams, request.cost_model)
    except ProblemTooLargeError as exc:
        return (None, None, f"too large for the exact models: {exc}"), "portfolio"
    try:
        return (cands, cpsat_candidates(request.graph, request.platform, request.cost_model), None), "portfolio"
    except ProblemTooLargeError as exc:
        return (cands, None, f"CP-SAT model too large: {exc}"), "portfolio"


def _prepare_milp(request: SolveRequest, variant: str) -> tuple[Any, str]:
    backend = pulp_solver(variant or default_backend())
    cands = stage_candidates(request.graph, request.platform.streams, request.cost_model)
    check_size(request.graph, request.platform, cands)
    return (cands, backend), f"milp:{backend}"


register_solver(SolverSpec(
    "cpsat", "OR-Tools CP-SAT on the model of hios_opt.exact.cpsat (time grid, placement, stages)",
    _prepare_cpsat, lambda request, cands: solve_cpsat(request, cands)))
register_solver(SolverSpec(
    "milp", "the MILP of hios_opt.exact.milp with PuLP and HiGHS ('milp:NAME': another PuLP solver)",
    _prepare_milp, lambda request, prepared: solve_milp(request, *prepared), variants=True))
register_solver(SolverSpec(
    "astar", "best-first branch and bound over partial schedules, forward and backward in turns",
    _prepare_astar, lambda request, cands: solve_astar(request, cands)))
register_solver(SolverSpec(
    "lns", "anytime improvement of the best heuristic: local moves on the critical chain, exact window repairs",
    lambda request, variant: (None, "lns"),
    lambda request, prepared: solve_lns(request, LnsOptions(**request.options)),
    options=frozenset(LnsOptions.__dataclass_fields__)))
register_solver(SolverSpec(
    "portfolio", "CP-SAT and the A* search at once, sharing the best schedule; the first proof wins",
    _prepare_portfolio, lambda request, prepared: solve_portfolio(request, *prepared)))

#: Solver names :func:`hios_opt.exact.solve` accepts; ``"milp:NAME"`` picks a PuLP solver by name.
SOLVERS = tuple(solver_names())
