"""Where the bundled graphs are and how a name finds one: the lookup behind
:mod:`hios_opt.data` (which re-exports it) and :meth:`OpGraph.load
<hios_opt.graph.OpGraph.load>`. It imports no graph code, so that
``graph.py`` can import it at the top while :mod:`hios_opt.data` imports
``graph.py`` to load graphs.
"""

from __future__ import annotations

import difflib
import os
from importlib import resources
from pathlib import Path

from .errors import FormatError

__all__ = ["folder", "names", "path", "resolve"]


def folder() -> Path:
    """The folder of the bundled graphs."""
    return Path(str(resources.files("hios_opt.data")))


def names(pattern: str = "**/*.json") -> list[str]:
    """Bundled names matching a glob ``pattern`` (relative to the folder), sorted.

    >>> names("small/*")
    ['small/chain.json', 'small/diamond.json', 'small/fork-join.json', 'small/inception-block.json', 'small/wide-layer.json']
    """
    root = folder()
    return sorted(p.relative_to(root).as_posix() for p in root.glob(pattern) if p.is_file() and p.suffix == ".json")


def _suggestions(name: str, limit: int = 3) -> list[str]:
    """Bundled names close to ``name``: those that contain it, else the nearest spellings."""
    every = names()
    key = Path(name).stem.lower()
    containing = sorted((n for n in every if key and key in n.lower()), key=lambda n: (len(n), n))
    if containing:
        return containing[:limit]
    stems = {Path(n).stem: n for n in every}
    return [stems[s] for s in difflib.get_close_matches(Path(name).stem, list(stems), n=limit, cutoff=0.6)]


def _bundled_candidate(name: Path) -> Path | None:
    if name.is_absolute() or ".." in name.parts or not name.parts:
        return None
    candidate = folder() / name
    try:
        return candidate if candidate.is_file() else None
    except (OSError, ValueError):
        return None


def path(name: str | os.PathLike[str]) -> Path:
    """The file of the bundled graph ``name`` (e.g. ``"models/inception_v3_299_h100.json"``).

    Raises
    ------
    FormatError
        No bundled graph has that name; the message suggests close names.

    >>> path("small/diamond.json").name
    'diamond.json'
    """
    found = _bundled_candidate(Path(name))
    if found is None:
        raise FormatError(_not_found(str(name), bundled_only=True))
    return found


def _not_found(name: str, *, bundled_only: bool = False) -> str:
    what = "no bundled graph" if bundled_only else "no such file, nor a bundled graph"
    hint = _suggestions(name)
    more = ""
    if hint:
        more = "; did you mean " + " or ".join(hint)
        total = len([n for n in names() if Path(name).stem.lower() in n.lower()])
        if total > len(hint):
            more += f" ({total - len(hint)} more: hios_opt.data.names())"
    else:
        more = "; bundled graphs are named like models/inception_v3_299_h100.json (list: hios_opt.data.names())"
    models = {Path(n).stem.rsplit("_", 2)[0] for n in names("models/*.json")}
    if name in models:
        more += f"; or make one from the zoo model: hios-opt profile {name} --device estimate:h100 -o {name}.json"
    return f"{name}: {what} of that name{more}"


def resolve(spec: str | os.PathLike[str]) -> Path:
    """The file a graph argument names: ``spec`` itself when it exists, else
    the bundled graph of that name.

    A missing file that is not a bundled name either raises, with close
    bundled names as suggestions; anything else (a directory, an unreadable
    name) is left to the reader, which says what is wrong.

    Raises
    ------
    FormatError
        Neither a file nor a bundled name.

    >>> resolve("models/inception_v3_299_h100.json") == folder() / "models" / "inception_v3_299_h100.json"
    True
    >>> resolve("inception_v3")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hios_opt.errors.FormatError: inception_v3: no such file, nor a bundled graph of that name; did you mean models/inception_v3_... (... more: hios_opt.data.names()); or make one from the zoo model: ...
    """
    given = Path(spec)
    try:
        if given.exists() or given.is_symlink():
            return given
    except (OSError, ValueError):  # a name the file system rejects: the reader says so
        return given
    found = _bundled_candidate(given)
    if found is not None:
        return found
    raise FormatError(_not_found(str(spec)))
