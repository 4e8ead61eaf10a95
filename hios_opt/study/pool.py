"""The local process pool of a study.

:class:`LocalPool` runs the cells of a study on local processes. Unlike
:class:`concurrent.futures.ProcessPoolExecutor` it charges a dead process to
its own task only, counts cores rather than processes, and keeps Ctrl-C to
the coordinator; its Notes say how.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

__all__ = ["LocalPool"]


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)


def _worker_main(conn: Connection) -> None:
    """A pool process: run the tasks its pipe brings until it closes."""
    if hasattr(os, "setpgrp"):
        os.setpgrp()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    # Imported here, once Ctrl-C is ignored: an interrupt during the import must not kill the pool process.
    from .worker import run_task

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        task_id, args = message
        reply: tuple[str, Any, Any]
        try:
            reply = ("ok", task_id, run_task(*args))
        except KeyboardInterrupt:
            reply = ("interrupted", task_id, None)
        except Exception as exc:  # not a cell's error (those are rows): the task's
            reply = ("error", task_id, f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


def _context() -> Any:
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["hios_opt.study.worker", "hios_opt.heuristics"])
        return ctx
    return mp.get_context("spawn")


@dataclass
class _Proc:
    process: Any
    conn: Connection
    task: Any = None
    slots: int = 0


class LocalPool:
    """``size`` processes sharing ``size`` slots (cores).

    :meth:`run` sends each task (``task.id``, ``task.slots``,
    ``task.attempts``) with its arguments to a free process and calls
    ``done(task, rows)`` with its rows, ``failed(task, message)`` when it
    raised or its process died too often.

    Notes
    -----
    A small pool on :mod:`multiprocessing` rather than
    :class:`concurrent.futures.ProcessPoolExecutor`, for three things that one
    cannot do:

    * it knows which task each process runs, so a process that dies (killed,
      out of memory, a crash in a solver's native code) costs exactly its own
      task one attempt, and the others go on; a task whose process died
      ``max_retries + 1`` times becomes error rows;
    * it counts cores, not processes: a task whose exact solver runs ``w``
      threads takes ``w`` of the pool's slots, so the machine is never
      oversubscribed;
    * its processes run in their own process group, so the Ctrl-C that a
      terminal sends to the study's process group reaches the coordinator
      only; it stops them itself, and they never store half a cell.

    Processes are started by a fork server (``spawn`` where there is none) that
    has imported the scheduling code once, so a replacement starts in
    milliseconds. A process exits when its coordinator's pipe closes or when its
    parent changes (the coordinator died).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._ctx = _context()
        self._procs: list[_Proc] = []

    def _start(self) -> _Proc:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_worker_main, args=(child,), daemon=True, name="hios-study-worker")
        process.start()
        child.close()
        proc = _Proc(process, parent)
        self._procs.append(proc)
        return proc

    def run(self, tasks: list[Any], arguments: Callable[[Any], tuple], done: Callable[[Any, list], None],
            failed: Callable[[Any, str], None], max_retries: int) -> None:
        pending = deque(tasks)
        idle = [self._start() for _ in range(min(self.size, len(tasks)))]
        busy: list[_Proc] = []
        free = self.size
        try:
            while pending or busy:
                while pending and idle:
                    need = min(pending[0].slots, self.size)
                    if need > free:
                        break
                    task = pending.popleft()
                    proc = idle.pop()
                    try:
                        proc.conn.send((task.id, arguments(task)))
                    except OSError:  # it died after its last reply: replace it, the task waits
                        self._retire(proc)
                        pending.appendleft(task)
                        idle.append(self._start())
                        continue
                    proc.task, proc.slots = task, need
                    free -= need
                    busy.append(proc)
                ready = set(wait([p.conn for p in busy] + [p.process.sentinel for p in busy]))
                for proc in list(busy):
                    reply = None
                    if proc.conn in ready or proc.process.sentinel in ready:
                        try:
                            if proc.conn.poll():
                                reply = proc.conn.recv()
                        except (EOFError, OSError):
                            reply = None
                        if reply is None and proc.process.sentinel not in ready:
                            continue
                    else:
                        continue
                    task = proc.task
                    busy.remove(proc)
                    free += proc.slots
                    proc.task = None
                    if reply is not None and reply[0] == "ok":
                        idle.append(proc)
                        done(task, reply[2])
                    elif reply is not None and reply[0] == "error":
                        idle.append(proc)
                        failed(task, reply[2])
                    elif reply is not None:  # a signal interrupted the cell: not a result, run it again
                        idle.append(proc)
                        task.attempts += 1
                        if task.attempts > max_retries:
                            failed(task, f"Interrupted: a signal stopped this cell {task.attempts} times")
                        else:
                            pending.appendleft(task)
                    else:
                        # The process died (or was interrupted) running this task.
                        self._retire(proc)
                        task.attempts += 1
                        code = proc.process.exitcode
                        if task.attempts > max_retries:
                            failed(task, f"WorkerDied: the worker process died (exit code {code}) "
                                         f"{task.attempts} times running this cell")
                        else:
                            pending.appendleft(task)
                        if pending:
                            idle.append(self._start())
        finally:
            self.close()

    def _retire(self, proc: _Proc) -> None:
        proc.process.join(timeout=5.0)
        if proc.process.is_alive():
            proc.process.kill()
            proc.process.join()
        proc.conn.close()
        self._procs.remove(proc)

    def close(self) -> None:
        """Stop every process: idle ones are told to exit, busy ones killed."""
        for proc in self._procs:
            try:
                if proc.task is None:
                    proc.conn.send(None)
                else:
                    proc.process.kill()
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 5.0
        for proc in self._procs:
            proc.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if proc.process.is_alive():
                proc.process.kill()
                proc.process.join()
            proc.conn.close()
        self._procs.clear()

    def pids(self) -> list[int]:
        """The process ids of the pool's live processes (for tests and monitors)."""
        return [p.process.pid for p in self._procs if p.process.is_alive()]
