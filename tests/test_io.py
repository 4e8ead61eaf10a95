"""Atomic writes: the permissions of a plain open(), without touching the umask."""

from __future__ import annotations

import os
import stat
import sys
import threading

import pytest

from hios_opt._io import write_bytes_atomic, write_json_atomic

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield lambda mask: os.umask(mask)
    os.umask(saved)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002, 0o000])
def test_written_file_gets_the_umask_permissions(tmp_path, umask, mask):
    umask(mask)
    new = write_json_atomic(tmp_path / "new.json", {"a": 1})
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert mode(new) == 0o666 & ~mask == mode(plain)
    existing = tmp_path / "existing.json"  # replacing a file keeps its permissions (issue #22)
    existing.write_text("{}")
    os.chmod(existing, 0o640)
    write_json_atomic(existing, {"b": 2})
    assert mode(existing) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.json", "new.json", "plain.txt"]


def test_writing_never_changes_the_umask(tmp_path, monkeypatch):
    # Reading the umask means setting it, process-wide: another thread that
    # creates a file meanwhile would get the temporary value.
    def refuse(mask):
        raise AssertionError("os.umask called while writing")

    monkeypatch.setattr(os, "umask", refuse)
    write_bytes_atomic(tmp_path / "out.bin", b"data")
    assert (tmp_path / "out.bin").read_bytes() == b"data"


def test_concurrent_writes_keep_their_permissions(tmp_path, umask):
    umask(0o027)
    errors: list[BaseException] = []
    start = threading.Barrier(9)

    def writer(k: int) -> None:
        try:
            start.wait()
            for i in range(40):
                write_json_atomic(tmp_path / f"w{k}" / f"{i}.json", {"k": k, "i": i})
                write_bytes_atomic(tmp_path / "shared.bin", f"{k}-{i}".encode())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def plain_creator() -> None:
        start.wait()
        for i in range(200):
            (tmp_path / f"plain{i}.txt").write_text("x")

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    threads.append(threading.Thread(target=plain_creator))
    # Switch threads as often as possible, so that a write that briefly set
    # the umask would be seen by another thread's file creation.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 8 * 40 + 1 + 200  # no temporary file left behind
    assert {mode(p) for p in files} == {0o640}
