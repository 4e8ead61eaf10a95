"""The graphs that ship with hios_opt, found by name.

The package carries operator graphs in its ``data`` folder (``README.md``
there says how each one was made):

* ``models/``: the HIOS paper's CNNs (Inception-v3, NASNet-A, RandWire,
  SqueezeNet) with estimated V100/H100 costs, a few measured on a CPU and on
  an H100, e.g. ``models/inception_v3_299_h100.json`` (the demo's graph);
* ``random/``: random layered DAGs like the paper's simulation;
* ``small/``: the named teaching graphs as files.

A *bundled name* is a path relative to that folder. :meth:`OpGraph.load
<hios_opt.graph.OpGraph.load>`, every command of the ``hios-opt`` CLI and
:func:`load` accept one wherever they take a graph file; a file of that
name in the current folder wins. The folder is found through
:mod:`importlib.resources`, so it works the same from a wheel, an editable
install or a source checkout.

>>> from hios_opt import data
>>> "models/inception_v3_299_h100.json" in data.names("models/inception_v3_*")
True
>>> data.load("models/inception_v3_299_h100.json").n_ops
124
>>> data.load("named:diamond").name
'diamond'
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
