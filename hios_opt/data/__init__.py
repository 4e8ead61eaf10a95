"""The graphs that ship with hios_opt, found by name.

The package's ``data`` folder (its ``README.md`` says how each graph was
made) holds ``models/`` (the HIOS paper's CNNs with estimated V100/H100
costs, a few measured), ``random/`` (random layered DAGs like the paper's
simulation) and ``small/`` (the named teaching graphs). A *bundled name* is a
path relative to that folder; :meth:`OpGraph.load
<hios_opt.graph.OpGraph.load>`, every ``hios-opt`` command and :func:`load`
accept one wherever they take a graph file (a file of that name in the
current folder wins). :func:`names` lists them.

>>> from hios_opt import data
>>> data.load("models/inception_v3_299_h100.json").n_ops
124
"""

from __future__ import annotations

import os

from .._bundled import folder, names, path, resolve
from ..generators import named
from ..graph import OpGraph

__all__ = ["folder", "names", "path", "resolve", "load", "NAMED_PREFIX"]

#: Prefix of a teaching graph's name in :func:`load` and on the command line (``named:diamond``).
NAMED_PREFIX = "named:"


def load(spec: str | os.PathLike[str]) -> OpGraph:
    """Load a graph from a file, a bundled name, or ``named:NAME`` (a
    teaching graph of :func:`hios_opt.generators.named`).

    Raises
    ------
    FormatError
        Neither a file nor a bundled name, or not a valid graph file.
    GraphError
        An unknown teaching graph name.
    """
    if isinstance(spec, str) and spec.startswith(NAMED_PREFIX):
        return named(spec[len(NAMED_PREFIX):])
    return OpGraph.load(spec)
