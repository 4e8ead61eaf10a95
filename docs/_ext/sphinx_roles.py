"""A griffe extension for the API reference: Sphinx roles in docstrings become links.

The package's docstrings are numpy style and name other objects with Sphinx
roles (:func:`hios_opt.evaluate`, :class:`~hios_opt.graph.OpGraph`,
:mod:`.astar`, :meth:`load <OpGraph.load>`). mkdocstrings reads Markdown, so this extension rewrites each
role into an autorefs cross-reference (``[`OpGraph`][hios_opt.graph.OpGraph]``)
when the name resolves to a public object of a module that the API reference
renders (a ``::: module`` line in ``docs/``), and into plain code otherwise
(``torch.fx.GraphModule``, private helpers, modules not yet in the
reference). ``mkdocs build --strict`` then fails on any cross-reference that
the site cannot resolve.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import griffe

ROLE = re.compile(
    r":(?:py:)?(?:func|meth|class|mod|data|attr|obj|exc|const):`(~?)(?:([^`<]*?)\s*<([.\w]+)>|([.\w]+)(?:\(\))?)`")
PACKAGE = "hios_opt"


def _find(root: griffe.Module, path: str) -> Any:
    if path == PACKAGE:
        return root
    if not path.startswith(PACKAGE + "."):
        return None
    try:
        found = root[path[len(PACKAGE) + 1:]]
    except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
    try:
        return found.final_target if found.is_alias else found
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _candidates(obj: griffe.Object, name: str) -> list[str]:
    module = obj if obj.is_module else obj.module
    if name.startswith("."):
        dots = len(name) - len(name.lstrip("."))
        base = module.path.split(".")
        base = base[: len(base) - dots + (1 if module.is_package or module.is_init_module else 0)]
        return [".".join([*base, name.lstrip(".")])]
    scopes = []
    node: Any = obj
    while node is not None:
        scopes.append(node.path)
        node = node.parent
    return [name, *(f"{scope}.{name}" for scope in scopes), f"{PACKAGE}.{name}"]


@cache
def _rendered() -> tuple[str, ...]:
    """Modules that some page of the site renders with ``::: module``."""
    docs = Path(__file__).resolve().parents[1]
    found = set()
    for page in docs.rglob("*.md"):
        found.update(re.findall(r"^::: ([\w.]+)\s*$", page.read_text(encoding="utf-8"), flags=re.M))
    return tuple(sorted(found))


def _linkable(target: griffe.Object) -> bool:
    """A public object whose module the site renders."""
    if any(part.startswith("_") for part in target.path.split(".")):
        return False
    module = target if target.is_module else target.module
    return module.path in _rendered()


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring of the package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.path == PACKAGE:
            self._walk(pkg, pkg, set())

    def _walk(self, root: griffe.Module, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(lambda m: self._link(root, obj, m), obj.docstring.value)
        members = list(obj.members.values())
        if obj.is_module:  # a submodule shadowed by a same-named import is still documented
            members += list(obj.modules.values())
        for member in members:
            if not member.is_alias:
                self._walk(root, member, seen)

    def _link(self, root: griffe.Module, obj: griffe.Object, match: re.Match[str]) -> str:
        short, title = match.group(1) == "~", match.group(2)
        name = match.group(3) or match.group(4)
        shown = title or (name.rsplit(".", 1)[-1] if short else name.lstrip("."))
        for path in _candidates(obj, name):
            target = _find(root, path)
            if target is not None and _linkable(target):
                return f"[`{shown}`][{target.path}]"
        return f"`{shown}`"
