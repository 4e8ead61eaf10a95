"""The study store: SQLite in WAL mode, one row per key, foreign and corrupt files refused untouched."""

from __future__ import annotations

import sqlite3

import pytest

from hios_opt.errors import StoreError
from hios_opt.study import Store, load, run

ROW = {"key": "k1", "study": "s", "algorithm": "heft", "status": "heuristic", "makespan_ms": 1.0}


def test_rows_are_stored_once_per_key(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        assert store.write([ROW, dict(ROW, key="k2")]) == 2
        assert store.write([dict(ROW, makespan_ms=9.0)]) == 0          # skipped: k1 is stored
        assert [r["makespan_ms"] for r in store.rows()] == [1.0, 1.0]
        assert store.write([dict(ROW, makespan_ms=9.0)], replace=True) == 1
        assert store.count() == 2
        assert store.keys() == {"k1", "k2"}
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_readers_see_commits_while_a_writer_holds_the_store(tmp_path):
    path = tmp_path / "s.sqlite"
    writer = Store(path)
    writer.write([ROW])
    assert len(load(path)) == 1
    writer.write([dict(ROW, key="k2")])
    assert len(load(path)) == 2
    writer.close()


def _refused(path, match):
    before = path.read_bytes()
    with pytest.raises(StoreError, match=match):
        Store(path)
    with pytest.raises(StoreError, match=match):
        run({"name": "x", "graphs": ["named:diamond"], "algorithms": ["heft"]}, path, workers=0, progress=False,
            verbose=False)
    assert path.read_bytes() == before  # never overwritten


def test_foreign_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE results (x INTEGER)")
    db.execute("INSERT INTO results VALUES (1)")
    db.commit()
    db.close()
    _refused(path, "not a study store .tables: results.")


def test_other_files_are_refused(tmp_path):
    text = tmp_path / "notes.sqlite"
    text.write_text("my precious notes\n")
    _refused(text, "not an SQLite file")
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\xff" * 2000)
    _refused(corrupt, "corrupt or not a study store")


def test_a_truncated_store_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        store.write([ROW])
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\x00" * 50)
    _refused(path, "corrupt or not a study store")


def test_newer_store_version_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE name = 'version'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="version 99"):
        Store(path)


def test_empty_file_becomes_a_store_and_missing_store_cannot_be_loaded(tmp_path):
    path = tmp_path / "empty.sqlite"
    path.touch()
    with Store(path) as store:
        store.write([ROW])
    assert len(load(path)) == 1
    with pytest.raises(StoreError, match="no such study store"):
        load(tmp_path / "absent.sqlite")
    with pytest.raises(StoreError, match="is a folder"):
        Store(tmp_path)
