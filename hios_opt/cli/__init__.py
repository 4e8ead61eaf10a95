"""The ``hios-opt`` command line.

Each subcommand group lives in its own module with a ``register(subparsers)``
function; handlers import heavy libraries (torch, solvers) only when they run,
so ``hios-opt schedule`` starts fast. Every handler returns an exit code; a
:class:`~hios_opt.errors.HiosError` becomes a one-line ``error: ...`` and exit
code 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module

from ..errors import HiosError

__all__ = ["main", "build_parser"]

# Subcommand modules, in the order their commands appear in --help.
COMMAND_MODULES = ("core", "sched", "exact", "zoo", "execute", "demo")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="hios-opt",
        description="Multi-GPU inference schedules for DAG-shaped models: HIOS-LP, baselines, exact optima.",
    )
    parser.add_argument("--version", action="version", version=f"hios-opt {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except HiosError as exc:
        if args.debug:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # an optional package (torch) imported directly by a handler
        from .._optional import is_missing, missing_dependency

        missing = is_missing(exc)
        if missing is None or args.debug:
            raise
        print(f"error: {missing_dependency(missing)}", file=sys.stderr)
        return 2
    except OSError as exc:
        if args.debug:
            raise
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"error: cannot access{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
