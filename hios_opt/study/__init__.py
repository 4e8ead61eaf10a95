"""Studies: sweeps of graphs x platforms x algorithms x exact solvers as one
resumable job, locally or on a Dask cluster.

A *spec* (:mod:`.spec`, a TOML file or a dict) lists graphs, platforms,
heuristics and solvers; every combination is a *cell* with a stable key.
:func:`run` runs the cells a *store* (:mod:`.store`, one SQLite file) does
not hold yet, in a local process pool (:mod:`.pool`) or on Dask workers,
and stores each row as soon as it is done; :func:`load` reads a store as one
DataFrame in the package's result schema (:mod:`hios_opt.results`), also
while the study runs (its Examples show a whole study); :mod:`.plots` draws
the standard figures. Importing this module does not import Dask; a cluster
run does.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import Any

from .runner import DEFAULT_RETRIES, StudyRun, StudyStatus, default_store, only_algorithms, run, status
from .spec import Cell, GraphItem, Plan, StudySpec, cell_key, graph_hash, load_spec, parse_spec, spec_names
from .store import Store

__all__ = ["run", "status", "only_algorithms", "load", "load_spec", "parse_spec", "spec_names", "StudySpec", "Plan", "Cell",
           "GraphItem", "Store", "StudyRun", "StudyStatus", "default_store", "graph_hash", "cell_key",
           "DEFAULT_RETRIES", "plots"]


def load(store: str | os.PathLike[str], *, spec: Any = None, study: str | None = None) -> Any:
    """The rows of a store as one tidy pandas DataFrame (the package's
    result schema first, :func:`hios_opt.results.result_frame`, then the
    study's columns: ``key``, ``variant``, the cell's settings, graph hash
    and source, ``cpu_s``, ``host``, ``version``, ``error`` ...).

    ``spec`` (a spec file, shipped name, dict or :class:`StudySpec`): only
    the rows of that spec's cells, whichever study ran them; ``study``: only
    the rows that the study of this name ran. Safe while a study writes to
    the store (it reads the last commit). ``df.attrs["store"]`` is the path.

    Examples
    --------
    A study run, read, and run again (nothing left to run):

    >>> import tempfile, os
    >>> import hios_opt as ho
    >>> spec = {"name": "tiny", "graphs": ["named:diamond", "named:fork-join"], "gpus": [1, 2],
    ...         "algorithms": ["sequential", "heft"]}
    >>> store = os.path.join(tempfile.mkdtemp(), "tiny.sqlite")
    >>> ho.study.run(spec, store, workers=0, progress=False).ran  # doctest: +ELLIPSIS
    tiny: 0 done, 8 to run; store ...
    tiny: ran 8 cells (0 failed) in ... s
    8
    >>> df = ho.study.load(store)
    >>> df.groupby("algorithm").makespan_ms.mean().round(3).to_dict()
    {'heft': 7.125, 'sequential': 8.5}
    >>> ho.study.run(spec, store, workers=0, progress=False).to_run  # doctest: +ELLIPSIS
    tiny: 8 done, 0 to run; store ...
    0
    """
    from ..results import result_frame

    keys = None if spec is None else {cell.key for cell in load_spec(spec).plan().cells}
    with Store(store, readonly=True) as db:
        rows = list(db.rows(study, keys))
    return result_frame(rows, store=str(store))


def __getattr__(name: str) -> Any:
    if name == "plots":
        return import_module(f"{__name__}.plots")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
