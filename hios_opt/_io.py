"""Shared JSON file helpers: strict reading and atomic writing."""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from .checks import is_int, is_number, shorten
from .errors import FormatError, InvalidCostError, MissingFieldError

__all__ = ["read_json", "write_json_atomic", "write_bytes_atomic", "check_header", "require", "check_finite_tree",
           "max_input_bytes", "MAX_INPUT_MB"]


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise FormatError(f"duplicate key {key!r} in a JSON object")
        out[key] = value
    return out


class _NonFinite(Exception):
    """A NaN or Infinity literal: json accepts them by default; they are never valid here."""


def _reject_constant(name: str) -> float:
    raise _NonFinite(name)


class _Marker(float):
    """Stands for a NaN/Infinity literal while :func:`_find` looks for it."""


def _find(value: Any, wanted: Any, path: str = "", owner: str = "") -> tuple[str, Any] | None:
    """The place of the first item of a parsed JSON value for which
    ``wanted(item)`` holds, as ``ops[1].latency_ms (id 'b')`` (the id of the
    innermost object that has one, or its edge), and the item; ``None`` if
    nowhere."""
    if wanted(value):
        return (f"{path or 'the top level'}{owner}", value)
    if isinstance(value, dict):
        if isinstance(value.get("id"), str):
            owner = f" (id {shorten(value['id'])})"
        elif isinstance(value.get("src"), str) and isinstance(value.get("dst"), str):
            owner = f" (edge {shorten(value['src'])} -> {shorten(value['dst'])})"
        children = ((f"{path}.{_key(key)}" if path else _key(key), item) for key, item in value.items())
    elif isinstance(value, list):
        children = ((f"{path}[{k}]", item) for k, item in enumerate(value))
    else:
        return None
    for where, item in children:
        found = _find(item, wanted, where, owner)
        if found is not None:
            return found
    return None


def _key(key: str) -> str:
    return key if key.isidentifier() and len(key) <= 40 else shorten(key)


def check_finite_tree(value: Any, where: str) -> None:
    """Raise :class:`FormatError` naming the place of the first number in
    ``value`` (a parsed JSON value) that is not finite (``1e400`` parses to
    infinity): such a value could be read but never written back.

    >>> check_finite_tree({"a": [1, {"b": 1e400}]}, "g.json: field 'meta'")
    Traceback (most recent call last):
    ...
    hios_opt.errors.FormatError: g.json: field 'meta': a[1].b is inf, beyond the float range; numbers must be finite
    """
    found = _find(value, lambda item: isinstance(item, float) and not math.isfinite(item))
    if found is not None:
        place, number = found
        raise FormatError(f"{where}: {place[:300]} is {number}, beyond the float range; "
                          "numbers must be finite")


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
    except _NonFinite as exc:
        raise FormatError(f"{source}: non-finite number {exc.args[0]} is not allowed{_where_constant(text)}") from None
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise FormatError(f"{source}: JSON nested too deeply") from None
    except ValueError as exc:  # an integer literal longer than Python's digit limit
        raise FormatError(f"{source}: invalid JSON: {exc}") from None


def _where_constant(text: str) -> str:
    """`` at ops #1 (id 'b'), field 'latency_ms'`` for the first NaN/Infinity
    literal of ``text`` (parsed again, with a marker in its place)."""
    try:
        value = json.loads(text, parse_constant=lambda name: _Marker("nan"))
    except (ValueError, RecursionError):
        return ""
    found = _find(value, lambda item: isinstance(item, _Marker))
    return f" at {found[0][:300]}" if found else ""


#: Largest input file read, in MiB (a graph of 200,000 ops takes about 50):
#: the environment variable ``HIOS_OPT_MAX_INPUT_MB`` raises or lowers it.
MAX_INPUT_MB = 256


def max_input_bytes() -> int:
    """The input size cap in bytes: ``HIOS_OPT_MAX_INPUT_MB`` (MiB) or
    :data:`MAX_INPUT_MB`."""
    text = os.environ.get("HIOS_OPT_MAX_INPUT_MB")
    if text is None:
        return MAX_INPUT_MB << 20
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise FormatError(f"environment variable HIOS_OPT_MAX_INPUT_MB must be a number of MiB > 0, "
                          f"got {shorten(text)}")
    return int(value * (1 << 20))


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file strictly (see :func:`loads_json`).

    Only a regular file is read (a FIFO would block, ``/dev/zero`` never
    ends), and at most :func:`max_input_bytes` of it: a larger one is a
    :class:`FormatError` that says how to raise the cap.
    """
    path = Path(path)
    limit = max_input_bytes()
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (no effect on files).
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FormatError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:  # e.g. an embedded NUL byte in the name
        raise FormatError(f"{str(path)!r}: cannot read ({exc})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise FormatError(f"{path}: is a directory, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise FormatError(f"{path}: is a {_kind_of_file(st.st_mode)}, not a regular file; hios-opt reads "
                              "inputs from files only (save the data to a file first)")
        if st.st_size > limit:
            raise FormatError(f"{path}: {_megabytes(st.st_size)}, more than the {_megabytes(limit)} hios-opt reads; "
                              "set the environment variable HIOS_OPT_MAX_INPUT_MB to raise the cap")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew while being read
        raise FormatError(f"{path}: more than the {_megabytes(limit)} hios-opt reads; set the environment "
                          "variable HIOS_OPT_MAX_INPUT_MB to raise the cap")
    return loads_json(data, str(path))


def _megabytes(size: int) -> str:
    return f"{size / (1 << 20):,.1f} MiB" if size >= 1 << 20 else f"{size:,} bytes"


def _kind_of_file(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename, so that
    a crash never leaves half a file and a failed write never touches an
    existing one.

    - An existing file keeps its permission bits (and, where the process may
      set them, its owner and group).
    - A symbolic link is followed: the file it points to is replaced, the
      link stays.
    - A character device or a FIFO (``/dev/null``, ``/dev/stdout``, a named
      pipe) is written to directly, never replaced; an error such as ENOSPC
      (``/dev/full``) is raised. A directory, a block device or a socket is
      refused (``OSError`` naming ``path``).
    - Missing folders are created (the command line refuses a missing one
      before it starts: ``-o /nonexistent/dir/x.json`` made folders at the root).
    """
    path = Path(path)
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:  # ENOTDIR (a file as a folder), ELOOP, EACCES ...
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        return _write_special(path, st, data)
    # A link (even a dangling one) names the file to replace.
    target = Path(os.path.realpath(path)) if os.path.islink(path) else path
    directory = target.parent if str(target.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temp(directory, target.name)
    except OSError as exc:
        # Name the file the caller asked for, not a temporary one.
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        if st is not None:
            _copy_mode_and_owner(fd, st)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    return path


def _write_special(path: Path, st: os.stat_result, data: bytes) -> Path:
    """Write to an existing file that is not a regular one, or refuse."""
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", str(path))
    if not (stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        raise OSError(errno.EINVAL, "not a regular file, a character device or a FIFO; refusing to replace it",
                      str(path))
    try:
        with open(path, "wb", buffering=0) as fh:
            view = memoryview(data)
            while view:  # a pipe may take less than all at once
                view = view[fh.write(view):]
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    return path


def _copy_mode_and_owner(fd: int, st: os.stat_result) -> None:
    """Give the new file the permission bits of the one it replaces, and its
    owner and group where this process may."""
    if hasattr(os, "fchmod"):
        os.fchmod(fd, stat.S_IMODE(st.st_mode) & 0o777)
    if hasattr(os, "fchown") and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
        try:
            os.fchown(fd, st.st_uid, st.st_gid)
        except OSError:  # not root: the file becomes the writer's, as any new file would
            pass


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
    if float in kinds and is_int(value):
        return True
    return isinstance(value, kinds)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def finite(value: Any, where: str, *, minimum: float | None = 0.0, strict: bool = False) -> float:
    """Return ``value`` as a float, or raise ``InvalidCostError``."""
    if not is_number(value):
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
