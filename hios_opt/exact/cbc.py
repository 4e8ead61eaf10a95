"""PuLP's bundled CBC as a child process that never outlives the solve.

PuLP's own call (``PULP_CBC_CMD``) starts CBC and waits for it: its temporary
files (megabytes for a large model) stay behind when CBC fails or the process
is killed, CBC outlives a killed parent, and it overruns short time limits by
seconds. :func:`run_cbc` makes the same files in a private folder and runs
CBC as a child that keeps the deadline, stops on Ctrl-C and SIGTERM, dies
with its parent and leaves no file behind; how each of these is ensured is in
its Notes.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .interrupt import run_stoppable

__all__ = ["run_cbc", "CbcRun", "private_folder", "sweep_folders", "GRACE_S", "FOLDER_PREFIX"]

# Rough seconds to write a model (MPS) per variable (2-core machine, rounded
# up: 0.4 s for 4,700 variables and 320,000 nonzeros).
_WRITE_SECONDS_PER_VARIABLE = 1e-4

# What CBC's log says when its time limit ended the run.
_TIME_LIMIT_LOG = re.compile(r"Exiting on maximum time|Stopped on time|maximum time reached", re.IGNORECASE)

#: Seconds CBC has to stop after a SIGINT (Ctrl-C, or its time limit's end
#: before the deadline) before it is killed.
GRACE_S = 0.5

#: Name prefix of the folders in the temporary directory that hold CBC's files.
FOLDER_PREFIX = "hios-opt-cbc-"

# An unlocked folder is only swept once it is this old (seconds): one being
# created right now is not locked yet.
_SWEEP_AGE_S = 10.0

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no sweeping of folders left by killed processes
    fcntl = None  # type: ignore[assignment]


@dataclass
class CbcRun:
    """What became of one CBC run."""

    log: str                 # CBC's output
    returncode: int | None   # None: killed
    interrupted: bool        # Ctrl-C
    out_of_time: bool        # its time limit or the deadline ended it (an "infeasible" or a crash then means nothing)
    killed: bool             # SIGKILL was needed
    solution: bool           # a solution file was read back into the problem


class _Child:
    """The running CBC, shared by the thread that waits for it and the one
    that stops it."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.sigint_at: float | None = None
        self.killed = False
        self._lock = threading.Lock()

    def interrupt(self) -> None:
        """SIGINT, once: CBC stops and writes its best solution."""
        with self._lock:
            if self.sigint_at is None and self.process.poll() is None:
                self.sigint_at = time.monotonic()
                _signal_group(self.process, signal.SIGINT)

    def kill(self) -> None:
        with self._lock:
            if self.process.poll() is None:
                self.killed = True
                _signal_group(self.process, signal.SIGKILL)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not refused
            pass

    def wait(self, deadline: float | None) -> int:
        """Wait for CBC to end: SIGINT :data:`GRACE_S` before ``deadline``,
        SIGKILL at it, or :data:`GRACE_S` after a SIGINT for Ctrl-C."""
        while True:
            try:
                return self.process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if deadline is not None and now >= deadline - GRACE_S and self.sigint_at is None:
                self.interrupt()
            if (self.sigint_at is not None and now >= self.sigint_at + GRACE_S) or \
                    (deadline is not None and now >= deadline):
                self.kill()


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        if sys.platform != "win32":
            os.killpg(process.pid, signum)
        elif signum == signal.SIGINT:  # pragma: no cover - Windows
            process.send_signal(signal.CTRL_BREAK_EVENT)
        else:  # pragma: no cover - Windows
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass


def _die_with_parent() -> Any:
    """A ``preexec_fn`` that asks the kernel to SIGKILL the child when the
    thread that started it dies (Linux), or ``None`` elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        # Only async-signal-safe work here: the child of a threaded process.
        prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    return preexec


@contextmanager
def _sigterm_exits() -> Iterator[None]:
    """Within this block (main thread, default SIGTERM action), SIGTERM
    raises ``SystemExit(143)``, so that the ``finally`` blocks kill CBC and
    remove its files before the process ends."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def sweep_folders(directory: str | None = None) -> int:
    """Remove the CBC folders that dead processes left in ``directory``
    (default: the temporary directory); how many were removed."""
    if fcntl is None:  # pragma: no cover - Windows
        return 0
    directory = directory or tempfile.gettempdir()
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(FOLDER_PREFIX):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or \
                    time.time() - entry.stat(follow_symlinks=False).st_mtime < _SWEEP_AGE_S:
                continue
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # locked: its owner is alive
            os.close(fd)
            continue
        try:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
        finally:
            os.close(fd)
    return removed


@contextmanager
def private_folder() -> Iterator[str]:
    """A new folder in the temporary directory, locked while the block runs
    and removed after it (folders of dead processes are swept first)."""
    sweep_folders()
    folder = tempfile.mkdtemp(prefix=FOLDER_PREFIX)
    fd = None
    try:
        if fcntl is not None:
            fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if fd is not None:
            os.close(fd)


def run_cbc(prob: Any, solver: Any, *, warm: bool, deadline: float | None) -> CbcRun:
    """Solve ``prob`` with CBC as configured in ``solver`` (a
    ``pulp.PULP_CBC_CMD``; its own time limit is ignored) until ``deadline``
    (``time.monotonic()`` seconds, ``None``: none; see Notes).
    The solution, if one came back, is loaded into ``prob`` (values and
    status), as PuLP's ``prob.solve(solver)`` would.

    Notes
    -----
    PuLP's writers and reader make the model, MIP start and solution files
    in a private folder, and CBC runs as a child that

    - runs in its own process group, so that a terminal's Ctrl-C reaches it
      only through the solve, which sends one SIGINT (CBC stops and writes its
      best solution) and SIGKILL :data:`GRACE_S` later if CBC has not stopped;
    - has its own time limit (``-sec``, wall clock) end :data:`GRACE_S` before
      the deadline, gets SIGINT then if it is still running, and SIGKILL at
      the deadline: CBC checks neither its clock nor SIGINT while it
      preprocesses or cuts at the root, and a time limit that ends there
      makes it report the model infeasible or crash, which
      :attr:`CbcRun.out_of_time` tells apart from an answer;
    - is killed by the kernel, on Linux, when the thread that started it dies
      (``PR_SET_PDEATHSIG``): also when the process is killed with SIGKILL;
    - is killed, and the folder removed, on every way out: return, error,
      Ctrl-C, and SIGTERM, which becomes ``SystemExit(143)`` while CBC runs
      (unless the program has a SIGTERM handler of its own).

    A folder that a process killed with SIGKILL leaves behind is removed by
    the next solve: each folder is locked (``flock``) by its owner as long as
    it lives, and the kernel drops the lock when the owner dies.
    """
    if deadline is not None and deadline - GRACE_S - time.monotonic() < _WRITE_SECONDS_PER_VARIABLE * len(
            prob.variables()):
        return CbcRun("", None, False, True, False, False)  # no time left to write the model and run CBC
    with private_folder() as folder, _sigterm_exits():
        model, start, solution, log = (os.path.join(folder, name)
                                       for name in ("model.mps", "start.mst", "model.sol", "cbc.log"))
        variables, variable_names, constraint_names, _ = prob.writeMPS(model, rename=1)
        args = [solver.path, model]
        if warm:
            solver.writesol(start, prob, variables, variable_names, constraint_names)
            args += ["-mips", start]
        for option in list(solver.options) + solver.getOptions():  # with "timeMode elapsed"
            args += f"-{option}".split()
        stop_at = None if deadline is None else deadline - GRACE_S
        limit = float("inf")  # CBC's own (-sec)
        if stop_at is not None:  # counted from CBC's start, after the files are written
            if stop_at - time.monotonic() < 0.05:  # writing the files used the time
                return CbcRun("", None, False, True, False, False)
            limit = stop_at - time.monotonic()
            args += ["-sec", f"{limit:.3f}"]
        args += ["-solve", "-printingOptions", "all", "-solution", solution]
        child: _Child | None = None
        pressed = False
        try:
            with open(log, "wb") as out:
                process = subprocess.Popen(
                    args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=os.name == "posix", preexec_fn=_die_with_parent(),
                    creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0))
            launched = time.monotonic()
            child = _Child(process)
            returncode, pressed = run_stoppable(lambda: child.wait(deadline), child.interrupt, "hios-opt-cbc")
        finally:
            if child is not None:
                child.kill()  # a no-op when it has ended
        with open(log, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        found = False
        if os.path.exists(solution) and not child.killed:
            try:
                status, values, _, _, _, sol_status = solver.readsol_MPS(
                    solution, prob, variables, variable_names, constraint_names)
            except (OSError, ValueError, IndexError):  # a file cut short
                pass
            else:
                prob.assignVarsVals(values)
                prob.assignStatus(status, sol_status)
                found = True
        # CBC may end its search somewhat before its limit (it stops when the
        # next step would pass it), and then, in preprocessing, call the model
        # infeasible: most of the limit used, or its log saying so, is out of time.
        out_of_time = stop_at is not None and (time.monotonic() - launched >= 0.75 * limit
                                               or bool(_TIME_LIMIT_LOG.search(text)))
        return CbcRun(text, None if child.killed else returncode, pressed, out_of_time, child.killed, found)
