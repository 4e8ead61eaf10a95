"""The ``hios-opt`` command line.

Each subcommand group lives in its own module with a ``register(subparsers)``
function; handlers import heavy libraries (torch, solvers) only when they run,
so ``hios-opt schedule`` starts fast. Every handler returns an exit code; a
:class:`~hios_opt.errors.HiosError` becomes a one-line ``error: ...`` and exit
code 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from importlib import import_module
from typing import Any, NoReturn, TextIO

from ..checks import printable
from ..errors import HiosError
from .common import check_output_paths

__all__ = ["main", "build_parser", "Parser", "UsageError", "MAX_ERROR_CHARS"]

# Subcommand modules, in the order their commands appear in --help.
COMMAND_MODULES = ("core", "sched", "exact", "zoo", "execute", "demo", "study")


class UsageError(Exception):
    """An argument the parser rejects (argparse's ``error()``)."""


class Parser(argparse.ArgumentParser):
    """``argparse`` with its rejections as one ``error:`` line (exit status
    2) instead of a usage block: :meth:`error` raises :class:`UsageError`,
    which :func:`main` prints."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = Parser(
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


def _error(message: str) -> None:
    """One ``error:`` line on stderr: whitespace collapsed, control
    characters escaped, every word longer than :data:`MAX_WORD_CHARS` cut in
    the middle (an op id of 50 MB made a line of 100 MB), and at most
    :data:`MAX_ERROR_CHARS` characters in all."""
    message = printable(_LONG_WORD.sub(_cut_word, " ".join(message.split())), newlines=True)
    if len(message) > MAX_ERROR_CHARS:
        message = f"{message[:MAX_ERROR_CHARS]}..."
    print(f"error: {message}", file=sys.stderr)


#: Longest error line the command line prints, and longest word in it.
MAX_ERROR_CHARS = 2000
MAX_WORD_CHARS = 200
_LONG_WORD = re.compile(rf"\S{{{MAX_WORD_CHARS + 1},}}")


def _cut_word(match: re.Match[str]) -> str:
    word = match.group()
    return f"{word[:MAX_WORD_CHARS // 2]}...[{len(word):,} characters]...{word[-20:]}"


class _PrintableStream:
    """A text stream that writes control characters and lone surrogates as
    escapes (:func:`~hios_opt.checks.printable`); everything else is the
    wrapped stream's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(printable(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _stdout_closed() -> None:
    """The reader of stdout has gone (``| head -1``): send what is left of
    stdout to the null device, so that the interpreter's last flush does
    not fail."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status: 0 success, 1 a result
    that could not be delivered (a solve without any schedule for ``-o``), 2
    bad input or a failure (one ``error:`` line), 130 Ctrl-C."""
    stdout = sys.stdout
    sys.stdout = _PrintableStream(stdout)
    debug = False
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        debug = args.debug
        if not getattr(args, "handler", None):
            parser.print_help()
            return 2
        check_output_paths(args)
        code = int(args.handler(args) or 0)
        sys.stdout.flush()
        return code
    except UsageError as exc:
        _error(str(exc))
        return 2
    except HiosError as exc:
        if debug:
            raise
        _error(str(exc) or type(exc).__name__)
        return 2
    except BrokenPipeError as exc:
        if exc.filename is None:  # stdout's reader has gone: not an error of this command
            _stdout_closed()
            return 0
        if debug:
            raise
        _error(f"cannot access {exc.filename}: {exc.strerror or exc}")
        return 2
    except ModuleNotFoundError as exc:  # an optional package (torch) imported directly by a handler
        from .._optional import is_missing, missing_dependency

        missing = is_missing(exc)
        if missing is None or debug:
            raise
        _error(str(missing_dependency(missing)))
        return 2
    except OSError as exc:
        if debug:
            raise
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        _error(f"cannot access{where}: {exc.strerror or exc}")
        return 2
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    finally:
        sys.stdout = stdout


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
