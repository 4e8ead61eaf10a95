"""The store of a study's rows: one SQLite file in WAL mode.

:class:`Store` commits each finished cell as one row under its key, so a
crash leaves no half-written row and no cell is stored twice, while readers
see the last commit without blocking the writer (why SQLite, and what
survives a crash, is in its Notes). Only the process that runs the study
writes (the workers return rows to it), so a Dask cluster needs no shared
file system. A file that is not a study store is refused with
:class:`~hios_opt.errors.StoreError` and never written to.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import StoreError

__all__ = ["Store", "STORE_FORMAT", "STORE_VERSION"]

STORE_FORMAT = "hios-opt/study-store"
STORE_VERSION = 1
_SQLITE_HEADER = b"SQLite format 3\x00"
_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE cells (
    key TEXT PRIMARY KEY,
    study TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    finished_at REAL NOT NULL,
    row TEXT NOT NULL
);
CREATE INDEX cells_study ON cells (study);
"""


class Store:
    """A study store at ``path``; created (with its folder) when absent
    unless ``create=False``; opened read-only with ``readonly=True``.

    Notes
    -----
    Why SQLite rather than a Parquet dataset: a finished cell is one row
    committed in one transaction under its key (the table's primary key), so
    a crash (of the process, at any instant) leaves every committed row whole
    and none half-written, and a cell can never be stored twice; readers (a
    notebook calling :func:`hios_opt.study.load` while the study runs) see
    the last commit without blocking the writer (write-ahead log); it is in
    the standard library and is one file. A Parquet dataset would need one
    file per commit (or rewrites), a new dependency, and its own duplicate
    detection.

    Writes use ``synchronous=NORMAL``: a committed row survives a crash of
    the process; a power cut may lose the last commits (never corrupt the
    file), and those cells are run again.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "s.sqlite")
    >>> with Store(path) as store:
    ...     store.write([{"key": "k1", "algorithm": "heft", "status": "heuristic", "study": "x"}])
    ...     sorted(store.keys())
    1
    ['k1']
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        exists = self.path.exists()
        if exists:
            self._check_file()
        elif not create or readonly:
            raise StoreError(f"{self.path}: no such study store")
        if not exists:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        uri = f"file:{self.path.resolve()}?mode={'ro' if readonly else 'rwc'}"
        try:
            self._db = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the study store ({exc})") from None
        try:
            if exists and self.path.stat().st_size > 0:
                self._check_meta()
            elif readonly:
                raise StoreError(f"{self.path}: empty file, not a study store")
            else:
                self._create()
            if not readonly:
                self._db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(f"{self.path}: corrupt or not a study store ({exc}); it was left untouched") from None
        except BaseException:
            self._db.close()
            raise

    # -- opening
    def _check_file(self) -> None:
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a folder, not a study store")
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(len(_SQLITE_HEADER))
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read ({exc.strerror})") from None
        if not head:
            wal = Path(f"{self.path}-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise StoreError(f"{self.path}: empty file beside a write-ahead log: a damaged store; left untouched")
            return  # an empty file: nothing to lose, it becomes the store
        if head != _SQLITE_HEADER:
            raise StoreError(f"{self.path}: not a study store (not an SQLite file); refusing to touch it")

    def _check_meta(self) -> None:
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "meta" not in tables or "cells" not in tables:
            raise StoreError(f"{self.path}: an SQLite database that is not a study store "
                             f"(tables: {', '.join(sorted(tables)) or 'none'}); refusing to touch it")
        meta = dict(self._db.execute("SELECT name, value FROM meta"))
        if meta.get("format") != STORE_FORMAT:
            raise StoreError(f"{self.path}: format {meta.get('format')!r}, expected {STORE_FORMAT!r}; "
                             "refusing to touch it")
        version = meta.get("version")
        if version != str(STORE_VERSION):
            raise StoreError(f"{self.path}: study store version {version}, this hios_opt reads version "
                             f"{STORE_VERSION}")

    def _create(self) -> None:
        self._db.execute("PRAGMA journal_mode=WAL")
        with self._transaction():
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("format", STORE_FORMAT), ("version", str(STORE_VERSION)), ("created_at", repr(time.time())),
                ("created_by", f"hios_opt {__version__}")])

    def _transaction(self) -> Any:
        db = self._db

        class _Tx:
            def __enter__(self) -> None:
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, kind: Any, value: Any, tb: Any) -> None:
                db.execute("COMMIT" if kind is None else "ROLLBACK")

        return _Tx()

    # -- use
    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def keys(self, *, failed: bool | None = None) -> set[str]:
        """Keys of the stored cells (``failed=True``: only those that failed,
        ``False``: only those that did not)."""
        query = "SELECT key FROM cells"
        if failed is True:
            query += " WHERE status = 'error'"
        elif failed is False:
            query += " WHERE status != 'error'"
        return {r[0] for r in self._query(query)}

    def write(self, rows: Iterable[dict[str, Any]], *, replace: bool = False) -> int:
        """Store rows in one transaction; a row whose key is stored already is
        skipped (``replace=True``: it replaces the stored one). The number of
        rows written."""
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only")
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        values = [(r["key"], r.get("study", ""), r["algorithm"], r["status"], r.get("error"),
                   r.get("finished_at") or time.time(), json.dumps(r, default=str)) for r in rows]
        with self._transaction():
            before = self._db.total_changes
            self._db.executemany(f"{verb} INTO cells VALUES (?, ?, ?, ?, ?, ?, ?)", values)
            return self._db.total_changes - before

    def rows(self, study: str | None = None, keys: Collection[str] | None = None) -> Iterator[dict[str, Any]]:
        """The stored rows, in the order they were stored; only those one
        study ran (``study``), only those of some cells (``keys``)."""
        query = "SELECT key, row FROM cells" + (" WHERE study = ?" if study is not None else "") + " ORDER BY rowid"
        for key, text in self._query(query, () if study is None else (study,)):
            if keys is None or key in keys:
                yield json.loads(text)

    def count(self) -> int:
        return self._query("SELECT COUNT(*) FROM cells")[0][0]

    def _query(self, query: str, args: tuple = ()) -> list[tuple]:
        try:
            return self._db.execute(query, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot read the study store ({exc})") from None
