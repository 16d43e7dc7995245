"""The executor: local processes and a Dask cluster give the serial results, in order; lost workers are
replaced; errors, Ctrl-C and unreachable clusters end cleanly; workers die with the parent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from actstat.compare import _probe
from actstat.errors import ConfigError
from actstat.executor import ExecutorError, check_cluster_address, run_tasks
from actstat.probe import ProbeConfig

CONFIGS = [ProbeConfig(widths=(24,) * 6, batch=40, act=a, init=i, seed=3, grad=True)
           for a in ("tanh", "relu", "sigmoid") for i in ("xavier", "he")]


def _square_or_fail(item: int) -> int:
    if item == 5:
        raise ConfigError("task 5 refuses")
    return item * item


def _die_once(item: int, marker: str) -> int:
    """Kill this worker process the first time item 3 is run (a lost worker)."""
    if item == 3 and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(9)
    return item + 100


def _always_die(item: int) -> int:
    os._exit(9)


@pytest.fixture(scope="module")
def cluster():
    """One two-worker LocalCluster (processes, 127.0.0.1) for the module: its start-up is slow."""
    import logging

    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    with (LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                       dashboard_address=None, worker_dashboard_address=None) as lc,
          Client(lc.scheduler_address, set_as_default=False) as client):
        client.wait_for_workers(2, timeout=60)
        yield lc.scheduler_address, client


def test_local_results_in_input_order_and_streamed_in_order() -> None:
    serial = run_tasks(_probe, CONFIGS, shared=None, jobs=1)
    streamed: list[int] = []
    progress: list[tuple[int, int]] = []
    costs = [float(i % 3) for i in range(len(CONFIGS))]  # any order of starting
    par = run_tasks(_probe, CONFIGS, shared=None, jobs=2, cost=lambda c: costs[CONFIGS.index(c)],
                    on_result=lambda i, r: streamed.append(i), on_done=lambda k, n: progress.append((k, n)))
    assert json.dumps(par) == json.dumps(serial)  # bit-identical, same order
    assert [d["config"]["act"] for d in par] == [c.act for c in CONFIGS]
    assert streamed == list(range(len(CONFIGS)))
    assert progress == [(k, len(CONFIGS)) for k in range(1, len(CONFIGS) + 1)]


def test_a_task_error_reaches_the_caller() -> None:
    assert run_tasks(_square_or_fail, [1, 2, 3], jobs=2) == [1, 4, 9]
    with pytest.raises(ConfigError, match="task 5 refuses"):
        run_tasks(_square_or_fail, list(range(8)), jobs=2)


def test_a_lost_local_worker_has_its_task_rerun(tmp_path: Path) -> None:
    marker = str(tmp_path / "died")
    assert run_tasks(_die_once, list(range(6)), shared=marker, jobs=2) == [i + 100 for i in range(6)]
    assert os.path.exists(marker)  # a worker did die
    with pytest.raises(ExecutorError, match="died 4 times"):
        run_tasks(_always_die, [1, 2], jobs=2)


def test_cluster_addresses() -> None:
    assert check_cluster_address("tcp://10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert check_cluster_address("sched.example:8786") == "tcp://sched.example:8786"
    for bad in ("", "tcp://", "tcp://host", "host:port", "tcp://host:0", "tcp://host:70000"):
        with pytest.raises(ConfigError, match="tcp://HOST:PORT"):
            check_cluster_address(bad)


def test_an_unreachable_cluster_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTSTAT_CLUSTER_TIMEOUT", "0.5")
    t = time.monotonic()
    with pytest.raises(ConfigError, match="cannot reach the Dask cluster at tcp://127.0.0.1:9"):
        run_tasks(_probe, CONFIGS[:2], shared=None, cluster="tcp://127.0.0.1:9")
    assert time.monotonic() - t < 15


def test_dask_cluster_gives_the_serial_bits(cluster) -> None:
    address, _ = cluster
    x = np.random.default_rng(0).standard_normal((40, 24))
    serial = run_tasks(_probe, CONFIGS, shared=x, jobs=1)
    on_cluster = run_tasks(_probe, CONFIGS, shared=x, cluster=address)
    assert json.dumps(on_cluster) == json.dumps(serial)
    with pytest.raises(ConfigError, match="task 5 refuses"):  # a task's error, as raised
        run_tasks(_square_or_fail_remote, list(range(8)), cluster=address)


def _square_or_fail_remote(item: int) -> int:
    return _square_or_fail(item)


def test_search_and_trainability_on_the_cluster_equal_local_runs(cluster) -> None:
    import math

    from actstat.search import parse_dim, run_search
    from actstat.trainability import run_trainability
    from actstat.training import TrainConfig

    address, _ = cluster
    base = TrainConfig(widths=(8, 8), data="blobs", examples=200, steps=10, eval_size=200)
    space = [parse_dim("lr", "1e-3:1"), parse_dim("optimizer", "sgd,momentum")]
    assert json.dumps(run_search(base, space, trials=3, stages=2, cluster=address)) == \
        json.dumps(run_search(base, space, trials=3, stages=2, jobs=1))
    tb = TrainConfig(act="tanh", bias_std=math.sqrt(0.05), data="blobs", examples=200, steps=10, every=10)
    assert json.dumps(run_trainability(tb, [1.0, 2.0], [2, 4], width=8, cluster=address)) == \
        json.dumps(run_trainability(tb, [1.0, 2.0], [2, 4], width=8, jobs=1))


def test_the_readme_cluster_recipe_on_a_local_cluster(cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's `export ACTSTAT_CLUSTER=...` then `actstat ...`: on the cluster, the local run's bytes."""
    import re
    import shlex

    from click.testing import CliRunner

    from actstat.cli import cli

    address, _ = cluster
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    m = re.search(r"\nexport ACTSTAT_CLUSTER=(\S+)\n(actstat [^\n]+)\n", readme)
    assert m, "README lacks the cluster recipe"
    args = shlex.split(m[2])[1:]
    local = CliRunner().invoke(cli, [*args, "--jobs", "1"], catch_exceptions=False)
    monkeypatch.setenv("ACTSTAT_CLUSTER", address)
    remote = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert remote.exit_code == local.exit_code == 0
    assert remote.stdout == local.stdout and len(remote.stdout.splitlines()) > 3
    both = CliRunner().invoke(cli, [*args, "--jobs", "2"], catch_exceptions=False)  # --jobs wins over the variable
    assert both.exit_code == 0 and both.stdout == local.stdout
    monkeypatch.setenv("ACTSTAT_CLUSTER_TIMEOUT", "0.5")
    gone = CliRunner().invoke(cli, [*args, "--cluster", "tcp://127.0.0.1:9"], catch_exceptions=False)
    assert gone.exit_code == 2 and gone.stdout == "" and len(gone.stderr.strip().splitlines()) == 1
    assert "cannot reach the Dask cluster" in gone.stderr


def test_ctrl_c_cancels_every_outstanding_dask_task(cluster) -> None:
    address, client = cluster
    slow = [ProbeConfig(widths=(100,) * 40, batch=100, seed=s) for s in range(12)]

    def interrupt(k: int, n: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_tasks(_probe, slow, shared=None, cluster=address, on_done=interrupt)
    deadline = time.monotonic() + 20
    while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0


def test_a_dask_worker_killed_mid_sweep_loses_nothing(cluster) -> None:
    address, client = cluster
    configs = [ProbeConfig(widths=(100,) * 40, batch=100, seed=s, grad=True) for s in range(4)]
    serial = run_tasks(_probe, configs, shared=None, jobs=1)
    pids = list(client.run(os.getpid).values())
    killed: list[int] = []

    def kill_one(k: int, n: int) -> None:
        if not killed:  # both workers are busy with the next probes now
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    got = run_tasks(_probe, configs, shared=None, cluster=address, on_done=kill_one)
    assert killed and json.dumps(got) == json.dumps(serial)
    assert not _alive(pids[0])


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


COMPARE_LONG = ["compare", "--act", "tanh,relu", "--init", "xavier,he", "--layers", "20000", "--width", "300",
                "--batch", "300", "--jobs", "2", "--format", "json"]
SEARCH_LONG = ["search", "--data", "blobs", "--lr", "1e-4:1e-3", "--trials", "4", "--steps", "100000", "--widths",
               "64x10", "--jobs", "2", "--format", "ndjson", "--plot", "s.png"]
TRAINABILITY_LONG = ["trainability", "--sigma-w", "1:2:2", "--layers", "30,40", "--steps", "100000", "--jobs", "2",
                     "--plot", "m.png"]


def test_workers_end_with_the_parent(tmp_path: Path) -> None:
    """SIGTERM and SIGKILL to `compare --jobs 2`, SIGHUP to search, SIGTERM to trainability: no worker
    outlives its parent, stdout reaches end-of-file, no file is left behind."""
    runs = [(COMPARE_LONG, signal.SIGTERM), (COMPARE_LONG, signal.SIGKILL), (SEARCH_LONG, signal.SIGHUP),
            (TRAINABILITY_LONG, signal.SIGTERM)]
    dirs = [tmp_path / str(k) for k in range(len(runs))]
    for d in dirs:
        d.mkdir()
    procs = [subprocess.Popen(
        [sys.executable, "-m", "actstat", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=d,
        env=dict(os.environ, NO_COLOR="1"),
    ) for (args, _), d in zip(runs, dirs)]
    deadline = time.monotonic() + 40
    while min(len(_children(p.pid)) for p in procs) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = [_children(p.pid) for p in procs]
    assert [len(w) for w in workers] == [2] * len(runs) and all(p.poll() is None for p in procs)
    time.sleep(0.3)  # busy
    for p, (_, sig) in zip(procs, runs):
        p.send_signal(sig)
    for p, (args, sig), d in zip(procs, runs, dirs):
        out, _ = p.communicate(timeout=30)  # stdout reaches end-of-file: no worker holds it open
        assert p.returncode in (-sig, 128 + sig), args[0]
        assert all(json.loads(x)["type"] in ("search", "trial") for x in out.splitlines())  # whole lines only
        assert not [f.name for f in d.iterdir() if not f.name.startswith(".")]  # no picture
    deadline = time.monotonic() + 5
    while any(_alive(w) for ws in workers for w in ws) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for ws in workers for w in ws if _alive(w)]


@pytest.mark.parametrize("args", [SEARCH_LONG, TRAINABILITY_LONG], ids=["search", "trainability"])
def test_ctrl_c_stops_the_workers_and_exits_130(tmp_path: Path, args: list[str]) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "actstat", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path, env=dict(os.environ, NO_COLOR="1"))
    deadline = time.monotonic() + 40
    while len(workers := _children(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(workers) == 2
    time.sleep(0.3)
    t = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - t < 10  # not after the trials (hours away)
    assert proc.returncode == 130 and err.strip().splitlines()[-1].startswith("Interrupted")
    assert all(json.loads(x)["type"] in ("search", "trial") for x in out.splitlines())  # whole lines only
    assert list(tmp_path.iterdir()) == []
    deadline = time.monotonic() + 5
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)]


def test_a_killed_pools_manager_thread_fails_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    """CPython gh-132969: after its workers are killed, a ProcessPoolExecutor's manager thread can raise
    OSError (EBADF) on the pipes shutdown(wait=False) closed; its traceback must not follow
    "Interrupted" on stderr. Other threads' exceptions still reach the hook that was there."""
    import threading
    import types

    from actstat.executor import _quiet_killed_pool_thread

    seen: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.thread.name))

    def fail() -> None:
        raise OSError(9, "Bad file descriptor")

    manager = threading.Thread(target=fail, name="ExecutorManagerThread")
    other = threading.Thread(target=fail, name="someone-else")
    _quiet_killed_pool_thread(types.SimpleNamespace(_executor_manager_thread=manager))
    for t in (manager, other):
        t.start()
        t.join()
    assert seen == ["someone-else"]
