"""Argument checks at the package's boundary, one place for all of them.

Each check returns the value (an ``int`` given for a float becomes a
``float``) or raises the caller's :class:`HiosError` subclass with a sentence
that names the argument and shows the value. ``bool`` is never a number:
``gpus=True`` is a mistake, not one GPU. Modelled on scikit-learn's
``check_scalar``.

>>> check_int(2, "gpus", min_value=1)
2
>>> check_int(True, "gpus", min_value=1)
Traceback (most recent call last):
...
hios_opt.errors.OptionError: gpus must be an integer >= 1, got True
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any, Literal, overload

from .errors import AlgorithmError, HiosError, OptionError

__all__ = ["is_int", "is_number", "is_finite_number", "check_int", "check_number", "check_bool", "spelling",
           "canonical_name", "shorten", "printable"]


def shorten(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, so that a culprit of
    megabytes never makes a message of megabytes.

    >>> shorten("x" * 100, 10)
    "'xxxxxxxxx"
    """
    return f"{value!r:.{limit}}"


# Control characters (C0 but tab and newline, DEL, C1) and lone surrogates.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_UNPRINTABLE_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: str, *, newlines: bool = False) -> str:
    r"""``text`` with control characters and lone surrogates written as
    escapes (``\x1b``, ``\udc80``), so that a name read from a file can
    neither drive the terminal (clear the screen, forge a line) nor fail to
    encode; tabs stay, and newlines too unless ``newlines=True``.

    >>> printable("evil\x1b[2J"), printable("a\nb", newlines=True), printable("\udc80")
    ('evil\\x1b[2J', 'a\\nb', '\\udc80')
    """
    pattern = _UNPRINTABLE_OR_NEWLINE if newlines else _UNPRINTABLE
    return pattern.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text)


def _shown(value: Any, limit: int | None) -> str:
    return repr(value) if limit is None else shorten(value, limit)


def is_int(value: Any) -> bool:
    """An ``int`` that is not a ``bool``.

    >>> is_int(3), is_int(True), is_int(3.0)
    (True, False, False)
    """
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An ``int`` or ``float`` that is not a ``bool``."""
    return not isinstance(value, bool) and isinstance(value, (int, float))


def is_finite_number(value: Any) -> bool:
    """A number (:func:`is_number`) that is finite as a float: an integer
    beyond the float range is not.

    >>> is_finite_number(1), is_finite_number(float("nan")), is_finite_number(10**400), is_finite_number(True)
    (True, False, False, False)
    """
    if not is_number(value):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _range_text(min_value: float | None, max_value: float | None, include_min: bool, include_max: bool) -> str:
    if min_value is not None and max_value is not None:
        if include_min and include_max and isinstance(min_value, int) and isinstance(max_value, int):
            return f" in {min_value}..{max_value}"
        left = "[" if include_min else "("
        right = "]" if include_max else ")"
        return f" in {left}{min_value}, {max_value}{right}"
    if min_value is not None:
        return f" {'>=' if include_min else '>'} {min_value}"
    if max_value is not None:
        return f" {'<=' if include_max else '<'} {max_value}"
    return ""


def _in_range(value: float, min_value: float | None, max_value: float | None, include_min: bool,
              include_max: bool) -> bool:
    if min_value is not None and (value < min_value or (not include_min and value == min_value)):
        return False
    return not (max_value is not None and (value > max_value or (not include_max and value == max_value)))


@overload
def check_int(
    value: Any,
    name: str,
    *,
    min_value: int | None = None,
    max_value: int | None = None,
    error: type[HiosError] = OptionError,
    expected: str | None = None,
    none_ok: Literal[False] = False,
    limit: int | None = 40,
) -> int: ...


@overload
def check_int(
    value: Any,
    name: str,
    *,
    min_value: int | None = None,
    max_value: int | None = None,
    error: type[HiosError] = OptionError,
    expected: str | None = None,
    none_ok: bool,
    limit: int | None = 40,
) -> int | None: ...


def check_int(
    value: Any,
    name: str,
    *,
    min_value: int | None = None,
    max_value: int | None = None,
    error: type[HiosError] = OptionError,
    expected: str | None = None,
    none_ok: bool = False,
    limit: int | None = 40,
) -> int | None:
    """``value`` if it is an ``int`` (not a ``bool``) within the bounds
    (inclusive), else ``error``. ``expected`` replaces the generated
    description (``"an integer >= 1"``); ``none_ok`` lets ``None`` through;
    ``limit``: the most characters of the value the message shows (``None``:
    all of its ``repr``).

    >>> check_int(5, "streams", min_value=1, max_value=4)
    Traceback (most recent call last):
    ...
    hios_opt.errors.OptionError: streams must be an integer in 1..4, got 5
    """
    if value is None and none_ok:
        return None
    what = expected or "an integer" + _range_text(min_value, max_value, True, True)
    if not is_int(value) or not _in_range(value, min_value, max_value, True, True):
        raise error(f"{name} must be {what}, got {_shown(value, limit)}")
    return value


@overload
def check_number(
    value: Any,
    name: str,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    include_min: bool = True,
    include_max: bool = True,
    finite: bool = True,
    error: type[HiosError] = OptionError,
    expected: str | None = None,
    none_ok: Literal[False] = False,
    limit: int | None = 40,
) -> float: ...


@overload
def check_number(
    value: Any,
    name: str,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    include_min: bool = True,
    include_max: bool = True,
    finite: bool = True,
    error: type[HiosError] = OptionError,
    expected: str | None = None,
    none_ok: bool,
    limit: int | None = 40,
) -> float | None: ...


def check_number(
    value: Any,
    name: str,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    include_min: bool = True,
    include_max: bool = True,
    finite: bool = True,
    error: type[HiosError] = OptionError,
    expected: str | None = None,
    none_ok: bool = False,
    limit: int | None = 40,
) -> float | None:
    """``value`` as a ``float`` if it is a number (not a ``bool``; finite
    unless ``finite=False``; NaN never passes) within the bounds, else
    ``error``. ``include_min`` / ``include_max`` say whether the bounds
    themselves are allowed; ``limit`` as for :func:`check_int`.

    >>> check_number(0, "time_limit", min_value=0, include_min=False, expected="a number of seconds > 0")
    Traceback (most recent call last):
    ...
    hios_opt.errors.OptionError: time_limit must be a number of seconds > 0, got 0
    >>> check_number(float("inf"), "deadline_ms", min_value=0)
    Traceback (most recent call last):
    ...
    hios_opt.errors.OptionError: deadline_ms must be a finite number >= 0, got inf
    """
    if value is None and none_ok:
        return None
    what = expected or ("a finite number" if finite else "a number") + _range_text(
        min_value, max_value, include_min, include_max)
    ok = is_finite_number(value) if finite else is_number(value) and not math.isnan(value)
    if not ok or not _in_range(value, min_value, max_value, include_min, include_max):
        raise error(f"{name} must be {what}, got {_shown(value, limit)}")
    return float(value)


def check_bool(value: Any, name: str, *, error: type[HiosError] = OptionError) -> bool:
    """``value`` if it is ``True`` or ``False``, else ``error``.

    >>> check_bool(1, "intra")
    Traceback (most recent call last):
    ...
    hios_opt.errors.OptionError: intra must be True or False, got 1
    """
    if not isinstance(value, bool):
        raise error(f"{name} must be True or False, got {shorten(value)}")
    return value


def spelling(name: str) -> str:
    """A name as the registries spell it: case, surrounding blanks and
    ``_`` for ``-`` do not matter.

    >>> spelling(" HIOS_LP ")
    'hios-lp'
    """
    return name.strip().lower().replace("_", "-")


def canonical_name(name: Any, valid: Iterable[str], *, what: str = "algorithm",
                   error: type[HiosError] = AlgorithmError) -> str:
    """The canonical spelling of a name: case, surrounding blanks and ``_``
    for ``-`` do not matter. ``error`` lists the valid names.

    >>> canonical_name(" HIOS_LP ", ["sequential", "hios-lp"])
    'hios-lp'
    >>> canonical_name("lp", ["sequential", "hios-lp"])
    Traceback (most recent call last):
    ...
    hios_opt.errors.AlgorithmError: unknown algorithm 'lp'; valid: sequential, hios-lp
    """
    names = list(valid)
    if not isinstance(name, str):
        raise error(f"{what} must be a name, got {type(name).__name__}; valid: {', '.join(names)}")
    canonical = spelling(name)
    if canonical not in names:
        raise error(f"unknown {what} {shorten(name, 80)}; valid: {', '.join(names)}")
    return canonical
