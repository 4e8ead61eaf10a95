"""Studies on a real Dask cluster: a LocalCluster of two worker processes."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from hios_opt.errors import StudyError
from hios_opt.study import load, run
from hios_opt.study import runner as runner_module

from .support.study import LONG_EXACT, SMALL, comparable

distributed = pytest.importorskip("distributed")

QUIET = {"progress": False, "verbose": False}


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as local, distributed.Client(local) as client:
        yield local, client


def test_dask_gives_the_rows_of_the_pool_and_of_a_serial_run(tmp_path, cluster):
    local, client = cluster
    on_dask = run(SMALL, tmp_path / "dask.sqlite", client=client, **QUIET)
    assert on_dask.ran == 36 and on_dask.failed == 0 and "Dask" in on_dask.backend
    run(SMALL, tmp_path / "serial.sqlite", workers=0, **QUIET)
    run(SMALL, tmp_path / "pool.sqlite", workers=2, **QUIET)
    dask_rows = load(tmp_path / "dask.sqlite")
    assert comparable(dask_rows).equals(comparable(load(tmp_path / "serial.sqlite")))
    assert comparable(dask_rows).equals(comparable(load(tmp_path / "pool.sqlite")))
    assert os.getpid() not in set(dask_rows.worker_pid)
    # a scheduler address instead of a client: the same cells are found done
    again = run(SMALL, tmp_path / "dask.sqlite", client=local.scheduler_address, **QUIET)
    assert (again.done_before, again.to_run) == (36, 0)


@pytest.mark.slow
def test_a_worker_killed_mid_study_has_its_cell_run_elsewhere_once(tmp_path, cluster):
    _, client = cluster
    path = tmp_path / "s.sqlite"
    outcome = {}

    def target():
        try:
            outcome["result"] = run(LONG_EXACT, path, client=client, **QUIET)
        except BaseException as exc:  # noqa: B036 - the test asserts on it
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    deadline = time.monotonic() + 60
    victim = None
    while victim is None and time.monotonic() < deadline:
        busy = [address for address, keys in client.processing().items() if keys]
        if busy:
            victim = client.run(os.getpid, workers=[busy[0]])[busy[0]]
        else:
            time.sleep(0.05)
    assert victim is not None
    time.sleep(0.3)  # the worker is inside its solve
    os.kill(victim, signal.SIGKILL)
    thread.join(120)
    assert "error" not in outcome, outcome
    assert outcome["result"].ran == 4  # rows written: none twice
    df = load(path)
    assert len(df) == 4 and df.key.is_unique
    assert set(df.status) <= {"optimal", "feasible"} and df.error.isna().all()
    assert victim not in set(df.worker_pid)


def test_workers_with_another_hios_opt_are_refused(tmp_path, cluster, monkeypatch):
    _, client = cluster
    monkeypatch.setattr(runner_module, "__version__", "0.0.0-other")  # this process's, where the check reads it
    with pytest.raises(StudyError, match=r"runs hios_opt .*, this process 0.0.0-other"):
        run(SMALL, tmp_path / "s.sqlite", client=client, **QUIET)


def test_a_client_of_the_wrong_type_is_refused(tmp_path):
    with pytest.raises(StudyError, match="client must be a dask.distributed.Client"):
        run(SMALL, tmp_path / "s.sqlite", client=42, **QUIET)


@pytest.mark.slow
def test_ctrl_c_cancels_the_cluster_tasks_and_keeps_finished_cells(tmp_path, cluster, python_sigint):
    import _thread

    from .support.study import wait_for_rows

    _, client = cluster
    path = tmp_path / "s.sqlite"
    spec = dict(LONG_EXACT, exact=[{"solver": "cpsat", "time_limit": 1.0, "workers": 1}],
                generate=[dict(LONG_EXACT["generate"][0], seeds=[0, 1, 2, 3, 4, 5])])

    def interrupt():
        wait_for_rows(path, 1)
        _thread.interrupt_main()

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run(spec, path, client=client, **QUIET)
    kept = load(path).set_index("key")
    assert 1 <= len(kept) < 6
    deadline = time.monotonic() + 10
    while any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(client.processing().values())  # nothing left running on the cluster
    again = run(spec, path, client=client, **QUIET)
    assert (again.done_before, again.ran) == (len(kept), 6 - len(kept))
    df = load(path).set_index("key")
    assert (df.finished_at[kept.index] == kept.finished_at).all()
