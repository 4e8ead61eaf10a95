"""Run a study: the cells of a spec not yet in the store, in this process,
in a local process pool, or on a Dask cluster.

The process that calls :func:`run` is the only one that writes the store:
workers (pool processes or Dask workers) return rows, and each task's rows
are committed in one transaction as soon as it ends, under their cells'
keys. So a crash or a Ctrl-C keeps every finished cell and never stores half
of one, a cell retried after its worker died is stored once, and a rerun of
the spec runs only what is missing.
"""

from __future__ import annotations

import inspect
import math
import os
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .. import __version__
from ..checks import check_int
from ..errors import MissingDependencyError, StudyError
from .pool import LocalPool
from .spec import Cell, Plan, StudySpec, load_spec
from .store import Store
from .worker import failure_row, probe, run_task

__all__ = ["run", "status", "only_algorithms", "StudyRun", "StudyStatus", "default_store", "DEFAULT_RETRIES"]

#: Attempts of a task beyond the first when its worker dies (Dask retries each
#: attempt itself too, up to its ``distributed.scheduler.allowed-failures``).
DEFAULT_RETRIES = 2
_MAX_CHUNK = 64


@dataclass
class _Task:
    id: int
    graph: str
    cells: list[Cell]
    slots: int = 1
    attempts: int = 0


@dataclass
class StudyRun:
    """What :func:`run` did."""

    name: str
    store: Path
    cells: int
    done_before: int
    to_run: int
    ran: int = 0
    failed: int = 0
    wall_s: float = 0.0
    backend: str = ""

    def __str__(self) -> str:
        return (f"{self.name}: {self.cells} cells, {self.done_before} done before, ran {self.ran} "
                f"({self.failed} failed) in {self.wall_s:.1f} s on {self.backend}; store {self.store}")


@dataclass
class StudyStatus:
    """Where a study stands in a store: cells, done, failed, to run, by algorithm."""

    name: str
    store: Path
    cells: int
    done: int
    failed: int
    to_run: int
    by_algorithm: Any = field(repr=False, default=None)

    def __str__(self) -> str:
        return f"{self.name}: {self.cells} cells, {self.done} done ({self.failed} failed), {self.to_run} to run"


def only_algorithms(names: Iterable[str]) -> Callable[[Cell], bool]:
    """A filter for :func:`run`'s ``only``: the cells whose ``algorithm``
    (``"heft"``, ``"exact-cpsat"`` ...) or ``variant`` is one of ``names``."""
    wanted = {n.strip() for n in names if n.strip()}
    return lambda cell: cell.algorithm in wanted or cell.variant in wanted


def _selected(plan: Plan, only: Callable[[Cell], bool] | None) -> Plan:
    if only is None:
        return plan
    if not callable(only):
        raise StudyError(f"only must be a function of a cell, got {type(only).__name__}")
    cells = [c for c in plan.cells if only(c)]
    if not cells:
        raise StudyError(f"{plan.name}: no cell is selected")
    return Plan(plan.name, plan.graphs, cells)


def default_store(spec: StudySpec) -> Path:
    """The store of a spec when none is given: ``<name>.sqlite`` in the current folder."""
    return Path(f"{spec.name}.sqlite")


def _to_run(plan: Plan, store: Store, force: bool, retry_failed: bool) -> tuple[list[Cell], int]:
    stored = store.keys()
    failed = store.keys(failed=True) if retry_failed else set()
    done = sum(1 for c in plan.cells if c.key in stored)
    if force:
        return list(plan.cells), done
    return [c for c in plan.cells if c.key not in stored or c.key in failed], done


def _tasks(plan: Plan, cells: list[Cell], workers: int) -> list[_Task]:
    """Exact cells one per task, longest first; heuristic cells of one graph
    in chunks, enough of them to keep every worker busy."""
    exact = sorted((c for c in cells if c.kind == "exact"),
                   key=lambda c: -c.settings["time_limit"] * c.slots)
    heuristic = [c for c in cells if c.kind != "exact"]
    size = max(1, min(_MAX_CHUNK, math.ceil(len(heuristic) / (8 * max(1, workers)))))
    tasks = [_Task(0, c.graph, [c], c.slots) for c in exact]
    by_graph: dict[str, list[Cell]] = {}
    for c in heuristic:
        by_graph.setdefault(c.graph, []).append(c)
    for graph, group in by_graph.items():
        tasks += [_Task(0, graph, group[i:i + size]) for i in range(0, len(group), size)]
    for i, task in enumerate(tasks):
        task.id = i
    return tasks


class _Recorder:
    """Writes each task's rows as it ends and keeps the progress bar."""

    def __init__(self, plan: Plan, store: Store, replace: bool, total: int, progress: bool) -> None:
        self.plan = plan
        self.store = store
        self.replace = replace
        self.ran = 0
        self.failed = 0
        self.bar = None
        if progress:
            self.bar = tqdm(total=total, unit="cell", desc=plan.name, file=sys.stderr, dynamic_ncols=True,
                            smoothing=0.05)
            self.bar.set_postfix(failed=0)

    def done(self, task: _Task, rows: list[dict]) -> None:
        for row in rows:
            row["study"] = self.plan.name
            row["attempts"] = task.attempts + 1
        written = self.store.write(rows, replace=self.replace)
        self.ran += written
        errors = sum(1 for r in rows if r.get("status") == "error")
        self.failed += errors
        if self.bar is not None:
            self.bar.update(len(rows))
            if errors:
                self.bar.set_postfix(failed=self.failed)

    def task_failed(self, task: _Task, message: str) -> None:
        graph = self.plan.graphs[task.graph]
        self.done(task, [failure_row(graph.data, graph.columns, cell, message) for cell in task.cells])

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _arguments(plan: Plan, task: _Task) -> tuple:
    graph = plan.graphs[task.graph]
    return graph.hash, graph.data, graph.columns, task.cells


def run(
    spec: str | os.PathLike[str] | Mapping[str, Any] | StudySpec,
    store: str | os.PathLike[str] | None = None,
    *,
    workers: int | None = None,
    client: Any = None,
    force: bool = False,
    retry_failed: bool = False,
    progress: bool = True,
    verbose: bool = True,
    max_retries: int = DEFAULT_RETRIES,
    only: Callable[[Cell], bool] | None = None,
) -> StudyRun:
    """Run every cell of ``spec`` that ``store`` does not hold yet.

    Parameters
    ----------
    spec
        A spec file, a shipped spec's name, a dict, or a :class:`StudySpec`.
    store : path, optional
        The SQLite store (created if absent); default ``<name>.sqlite`` in
        the current folder.
    workers : int, optional
        Local processes (default: the cores); ``0`` runs the cells in this
        process, one after the other. An exact cell with ``workers = w``
        takes ``w`` of them.
    client : dask.distributed.Client or str, optional
        Run on this Dask cluster instead (a client, or a scheduler address
        such as ``"tcp://host:8786"``).
    force : bool
        Run every cell again; a new row replaces the stored one.
    retry_failed : bool
        Run again the cells stored with ``status = "error"``.
    progress, verbose
        A tqdm bar on stderr; the ``N done, M to run`` line on stdout.
    max_retries : int
        Attempts of a task beyond the first when its worker dies.
    only : callable, optional
        Run only the cells for which ``only(cell)`` is true (see
        :func:`only_algorithms`); the others are neither run nor counted.

    Returns
    -------
    StudyRun

    Raises
    ------
    SpecError, StoreError, StudyError
        A bad spec, an unusable store, a cluster that cannot run the study.
    KeyboardInterrupt
        On Ctrl-C, after stopping the workers; every finished cell is stored.
    """
    spec = load_spec(spec)
    check_int(workers, "workers", min_value=0, none_ok=True, error=StudyError)
    check_int(max_retries, "max_retries", min_value=0, error=StudyError)
    plan = _selected(spec.plan(), only)
    path = Path(store) if store is not None else default_store(spec)
    with Store(path) as db:
        cells, done_before = _to_run(plan, db, force, retry_failed)
        result = StudyRun(spec.name, path, len(plan.cells), done_before, len(cells))
        if verbose:
            extra = " (forced: all run again)" if force else ""
            print(f"{spec.name}: {done_before} done, {len(cells)} to run{extra}; store {path}", flush=True)
        if not cells:
            return result
        size = workers if workers is not None else (os.cpu_count() or 1)
        if client is not None:
            size = max(1, size)
        tasks = _tasks(plan, cells, max(1, size))
        recorder = _Recorder(plan, db, force, len(cells), progress)
        started = time.monotonic()
        try:
            if client is not None:
                result.backend = _run_dask(plan, tasks, recorder, client, max_retries)
            elif size == 0:
                result.backend = "this process"
                for task in tasks:
                    recorder.done(task, run_task(*_arguments(plan, task)))
            else:
                result.backend = f"a local pool of {size} process{'es' if size > 1 else ''}"
                LocalPool(size).run(tasks, lambda t: _arguments(plan, t), recorder.done, recorder.task_failed,
                                    max_retries)
        except KeyboardInterrupt:
            recorder.close()
            if verbose:
                print(f"{spec.name}: interrupted; {recorder.ran} cells of this run are stored, "
                      f"{len(cells) - recorder.ran} left: run again to resume", file=sys.stderr, flush=True)
            raise
        finally:
            recorder.close()
        result.ran, result.failed = recorder.ran, recorder.failed
        result.wall_s = time.monotonic() - started
        if verbose:
            print(f"{spec.name}: ran {result.ran} cells ({result.failed} failed) in {result.wall_s:.1f} s",
                  flush=True)
        return result


# --------------------------------------------------------------------- Dask
def _client(client: Any) -> tuple[Any, bool]:
    """A Dask client, and whether this call made it (and must close it)."""
    try:
        from distributed import Client
    except ModuleNotFoundError:
        raise MissingDependencyError("dask.distributed is not installed, and studies on a Dask cluster need it: "
                                     "pip install 'hios_opt[study]'") from None
    if isinstance(client, str):
        try:
            return Client(client, timeout="20s"), True
        except (OSError, TimeoutError) as exc:
            raise StudyError(f"cannot reach the Dask scheduler at {client}: {exc}") from None
    if not isinstance(client, Client):
        raise StudyError(f"client must be a dask.distributed.Client or a scheduler address, "
                         f"got {type(client).__name__}")
    return client, False


def _check_workers(client: Any) -> int:
    """Threads of the cluster's workers, after checking they run this hios_opt."""
    if not client.scheduler_info().get("workers"):
        # Batch-queue workers (dask-jobqueue) may start hours later; Ctrl-C stops the wait.
        print(f"waiting for Dask workers to join {client.scheduler.address} ...", file=sys.stderr, flush=True)
        client.wait_for_workers(1)
    try:
        answers = client.run(probe)
    except ModuleNotFoundError as exc:
        raise StudyError(f"the Dask workers cannot import {exc.name}: install hios_opt on every worker") from None
    for address, answer in answers.items():
        if answer["version"] != __version__:
            raise StudyError(f"Dask worker {address} runs hios_opt {answer['version']}, this process "
                             f"{__version__}: cell keys and results would differ")
    info = client.scheduler_info(n_workers=-1) if _takes_n_workers(client) else client.scheduler_info()
    return sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()) or 1


def _check_version(rows: list[dict]) -> None:
    """Rows of a worker that joined after the check must come from this hios_opt too."""
    for row in rows:
        if row.get("version") != __version__:
            raise StudyError(f"Dask worker on {row.get('host')} runs hios_opt {row.get('version')}, this process "
                             f"{__version__}: cell keys and results would differ; its rows were not stored")


def _takes_n_workers(client: Any) -> bool:
    return "n_workers" in inspect.signature(client.scheduler_info).parameters


def _run_dask(plan: Plan, tasks: list[_Task], recorder: _Recorder, client: Any, max_retries: int) -> str:
    from distributed import as_completed

    try:
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover - older distributed
        from distributed import KilledWorker

    client, own = _client(client)
    nonce = uuid.uuid4().hex[:8]
    try:
        threads = _check_workers(client)
        window = max(16, 4 * threads)
        pending = deque(tasks)
        running: dict[str, tuple[_Task, Any]] = {}
        queue = as_completed()

        def submit(task: _Task) -> None:
            future = client.submit(run_task, *_arguments(plan, task), pure=False,
                                   key=f"hios-study-{nonce}-{task.id}-{task.attempts}")
            running[future.key] = (task, future)
            queue.add(future)

        try:
            while pending and len(running) < window:
                submit(pending.popleft())
            for future in queue:
                task, _ = running.pop(future.key)
                try:
                    rows = future.result()
                except KilledWorker as exc:
                    task.attempts += 1
                    if task.attempts > max_retries:
                        recorder.task_failed(task, f"KilledWorker: {exc}")
                    else:
                        pending.appendleft(task)
                except Exception as exc:
                    recorder.task_failed(task, f"{type(exc).__name__}: {exc}")
                else:
                    _check_version(rows)
                    recorder.done(task, rows)
                future.release()
                while pending and len(running) < window:
                    submit(pending.popleft())
        except BaseException:
            client.cancel([f for _, f in running.values()])
            raise
        return f"the Dask cluster at {client.scheduler.address} ({threads} threads)"
    finally:
        if own:
            client.close()


# ------------------------------------------------------------------- status
def status(spec: str | os.PathLike[str] | Mapping[str, Any] | StudySpec,
           store: str | os.PathLike[str] | None = None, *,
           only: Callable[[Cell], bool] | None = None) -> StudyStatus:
    """How many of a spec's cells a store holds, failed and not, by algorithm."""
    import pandas as pd

    spec = load_spec(spec)
    plan = _selected(spec.plan(), only)
    path = Path(store) if store is not None else default_store(spec)
    if path.exists():
        with Store(path, readonly=True) as db:
            stored, failed = db.keys(), db.keys(failed=True)
    else:
        stored, failed = set(), set()
    rows = []
    for cell in plan.cells:
        rows.append({"algorithm": cell.algorithm, "done": cell.key in stored and cell.key not in failed,
                     "failed": cell.key in failed, "to_run": cell.key not in stored})
    frame = pd.DataFrame(rows, columns=["algorithm", "done", "failed", "to_run"])
    table = frame.groupby("algorithm", sort=False).sum().astype(int)
    table.insert(0, "cells", frame.groupby("algorithm", sort=False).size())
    return StudyStatus(spec.name, path, len(plan.cells), int(frame.done.sum() + frame.failed.sum()),
                       int(frame.failed.sum()), int(frame.to_run.sum()), table)
