"""Shared JSON file helpers: strict reading and atomic writing."""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import FormatError, MissingFieldError

__all__ = ["read_json", "write_json_atomic", "write_bytes_atomic", "check_header", "require"]


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise FormatError(f"duplicate key {key!r} in a JSON object")
        out[key] = value
    return out


def _reject_constant(name: str) -> float:
    # json accepts NaN/Infinity by default; they are never valid costs here.
    raise FormatError(f"non-finite number {name} is not allowed")


def loads_json(text: str | bytes, source: str = "<string>") -> Any:
    """Parse JSON strictly: no duplicate keys, no NaN/Infinity, UTF-8 only."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
        )
    except FormatError as exc:
        raise FormatError(f"{source}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise FormatError(f"{source}: JSON nested too deeply") from None
    except ValueError as exc:  # an integer literal longer than Python's digit limit
        raise FormatError(f"{source}: invalid JSON: {exc}") from None


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file strictly (see :func:`loads_json`)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FormatError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:  # e.g. an embedded NUL byte in the name
        raise FormatError(f"{str(path)!r}: cannot read ({exc})") from None
    return loads_json(data, str(path))


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename, so that
    a crash never leaves half a file and a failed write never touches an
    existing one."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", str(path))
    directory = path.parent if str(path.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temp(directory, path.name)
    except OSError as exc:
        # Name the file the caller asked for, not a temporary one.
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    return path


# As tempfile.mkstemp opens its files, but with mode 0o666 instead of 0o600.
_TEMP_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
               | getattr(os, "O_CLOEXEC", 0))


def _create_temp(directory: Path, name: str) -> tuple[int, str]:
    """Create a new, uniquely named temporary file next to the target.

    Mode 0o666 is passed to ``open(2)``, so the kernel applies the process's
    umask (or the directory's default ACL) itself: the file gets the
    permissions a plain ``open()`` would give, as ``tempfile.mkstemp`` (always
    0o600) does not. Reading the umask would mean setting it (``os.umask``),
    which is process-wide and races with any other thread creating a file.
    """
    for _ in range(tempfile.TMP_MAX):
        tmp = os.path.join(directory, f".{name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, _TEMP_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary file name", str(directory))


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    """Serialise ``obj`` as indented JSON and write it atomically."""
    try:
        text = json.dumps(obj, indent=1, allow_nan=False) + "\n"
    except ValueError as exc:  # NaN or infinity: refuse before touching the file
        raise FormatError(f"{path}: cannot write ({exc})") from None
    return write_bytes_atomic(path, text.encode("utf-8"))


def check_header(data: Any, fmt: str, version: int, source: str) -> dict[str, Any]:
    """Check that ``data`` is an object with the expected format and version."""
    if not isinstance(data, dict):
        raise FormatError(f"{source}: expected a JSON object, got {type(data).__name__}")
    got_fmt = data.get("format")
    if got_fmt != fmt:
        raise FormatError(f"{source}: field 'format' is {got_fmt!r}, expected {fmt!r}")
    got_version = data.get("version")
    if got_version != version or isinstance(got_version, bool):
        raise FormatError(
            f"{source}: field 'version' is {got_version!r}, expected {version} "
            f"(this hios_opt reads {fmt} version {version})"
        )
    return data


def require(obj: Any, key: str, where: str, kind: type | tuple[type, ...] | None = None) -> Any:
    """Return ``obj[key]``, raising a clear error if it is missing or mistyped."""
    if not isinstance(obj, dict):
        raise FormatError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if key not in obj:
        raise MissingFieldError(f"{where}: missing field {key!r}")
    value = obj[key]
    if kind is not None and not _is_kind(value, kind):
        raise FormatError(
            f"{where}: field {key!r} must be {_kind_name(kind)}, got {type(value).__name__} {value!r:.40}"
        )
    return value


def _is_kind(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, kinds)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def finite(value: Any, where: str, *, minimum: float | None = 0.0, strict: bool = False) -> float:
    """Return ``value`` as a float, or raise ``InvalidCostError``."""
    from .errors import InvalidCostError

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidCostError(f"{where} must be a number, got {value!r:.40}")
    try:
        value = float(value)
    except OverflowError:  # an integer beyond the float range
        digits = int(value.bit_length() * 0.30103) + 1
        raise InvalidCostError(f"{where} is an integer of about {digits} digits, it must be a finite float") from None
    if not math.isfinite(value):
        raise InvalidCostError(f"{where} is {value}, it must be finite")
    if minimum is not None and (value < minimum or (strict and value <= minimum)):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise InvalidCostError(f"{where} is {value:g}, it must be {bound}")
    return value
