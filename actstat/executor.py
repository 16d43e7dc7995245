"""One place that runs a list of tasks: in this process, in local worker processes, or on a Dask cluster.

``run_tasks(fn, items, shared=..., jobs=N, cluster=ADDRESS)`` returns ``[fn(item, shared) for item in
items]`` (``fn(item)`` when there is nothing shared), in input order, whatever runs them:

- ``jobs <= 1`` and no cluster: this process, one after the other.
- ``jobs = N``: N forked worker processes (spawned where there is no fork), each on one BLAS thread.
  ``shared`` reaches each worker once, at its start (a fork copies it for free).
- ``cluster = "tcp://HOST:PORT"`` (or the ACTSTAT_CLUSTER environment variable, read by the CLI): an
  existing Dask distributed scheduler. ``shared`` is scattered to the workers once. dask is imported only
  here, only then. The workers must have the same actstat installed (checked with every task).

Every task runs on one BLAS thread wherever it runs, because BLAS sums in a thread-dependent order: so the
results are bit-identical whatever the executor and the number of workers, as long as ``fn`` is a pure
function of its arguments (its randomness seeded from them).

Failures: a local worker that dies (killed, out of memory) has its unfinished tasks rerun in a fresh
pool, up to ``RETRIES`` times; Dask reruns a lost worker's tasks elsewhere by itself (its
``distributed.scheduler.allowed-failures``). An exception raised by a task stops everything and reaches
the caller. Ctrl-C (any BaseException in the caller, such as the CLI's Interrupted) stops the local
workers at once and cancels every outstanding Dask task. Local workers end when the parent ends, by any
signal: on Linux the kernel kills them when the parent dies (PR_SET_PDEATHSIG), elsewhere a thread in each
worker watches the parent; SIGTERM and SIGHUP to the parent stop the workers before the parent's own
handling of the signal. A cluster that cannot be reached is a ConfigError (the CLI: one line, exit 2).

Pure Python (no click).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .errors import ActstatError, ConfigError

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
CLUSTER_ENV = "ACTSTAT_CLUSTER"
CLUSTER_TIMEOUT_ENV = "ACTSTAT_CLUSTER_TIMEOUT"  # seconds to wait for the scheduler; default below
DEFAULT_CLUSTER_TIMEOUT = 10.0
RETRIES = 3  # fresh local pools after a worker died, before giving up
_NOTHING = object()


class ExecutorError(ActstatError):
    """A task could not be run (a worker died too often, a cluster worker lacks actstat)."""


# --- BLAS threads ---------------------------------------------------------------------------------


class _BlasThreads:
    """OpenBLAS's thread count in this process, through its C API (as threadpoolctl does); None from
    find() when the loaded BLAS does not expose it (then --jobs 1 also runs in a worker process)."""

    NAMES = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads",
             "openblas_set_num_threads64_")

    def __init__(self, set_fn: Any, get_fn: Any) -> None:
        self.set_fn, self.get_fn = set_fn, get_fn

    @classmethod
    def find(cls) -> _BlasThreads | None:
        import ctypes

        try:
            with open("/proc/self/maps") as fh:
                paths = {line.split()[-1] for line in fh if "openblas" in line.lower() and "/" in line}
        except OSError:
            return None
        for path in sorted(paths):
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for name in cls.NAMES:
                if hasattr(lib, name) and hasattr(lib, name.replace("set_", "get_")):
                    return cls(getattr(lib, name), getattr(lib, name.replace("set_", "get_")))
        return None

    @contextlib.contextmanager
    def limit(self, n: int) -> Iterator[None]:
        old = int(self.get_fn())
        self.set_fn(n)
        try:
            yield
        finally:
            self.set_fn(old)


class _single_threaded_blas:
    """Set the BLAS thread variables to 1 while worker processes start (a spawned one reads them when it
    loads BLAS; a forked one inherits the parent's loaded BLAS and is set by _worker_init)."""

    def __enter__(self) -> None:
        self.saved = {k: os.environ.get(k) for k in BLAS_THREAD_VARS}
        for k in BLAS_THREAD_VARS:
            os.environ[k] = "1"

    def __exit__(self, *exc: object) -> None:
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def quiet_fork_warning() -> Iterator[None]:
    """Python 3.12+ warns at every fork of a process with more than one thread ("use of fork() may lead to
    deadlocks in the child"), and BLAS's own threads count. actstat forks knowing that: its children run
    no code that another thread may hold a lock of (they import nothing and leave by os._exit, or are
    the executor's workers). Under PYTHONWARNINGS=error the warning would end the command instead."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*fork\(\) may lead to deadlocks", category=DeprecationWarning)
        yield


# --- local worker processes -----------------------------------------------------------------------

_shared: Any = _NOTHING  # what run_tasks shares with every task, in a worker process


def _die_with_parent(parent: int) -> None:
    """End this worker when the parent process ends, however it ends (even by SIGKILL)."""
    done = False
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            done = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    if not done:
        def watch() -> None:
            import time

            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, daemon=True, name="actstat-parent-watch").start()
    if os.getppid() != parent:  # the parent died before the kernel was asked to tell us
        os._exit(1)


def _worker_init(parent: int, shared: Any) -> None:
    """Workers leave Ctrl-C to the parent, which stops them; take the default action on SIGTERM/SIGHUP
    (a forked worker inherits the parent's Python handlers); die with the parent; write nothing to the
    parent's stdout (a reader of it sees end-of-file when the parent ends); and run BLAS on one thread
    (a forked worker inherits the parent's thread count)."""
    global _shared

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, signal.SIG_DFL)
    _die_with_parent(parent)
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    _shared = shared
    blas = _BlasThreads.find()
    if blas is not None:
        blas.set_fn(1)


def _call_in_worker(fn: Callable[..., Any], item: Any) -> Any:
    return fn(item) if _shared is _NOTHING else fn(item, _shared)


@contextlib.contextmanager
def _stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """While the workers run: SIGTERM/SIGHUP first stop them, then get the handling they had before
    (a Python handler is called; the default action is taken by re-raising the signal). An ignored
    signal (nohup) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    before = {s: signal.getsignal(s) for s in sigs}

    def handler(signum: int, frame: Any) -> None:
        stop()
        prev = before[signum]
        if callable(prev):
            prev(signum, frame)
        else:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    for s in sigs:
        if before[s] is not signal.SIG_IGN:
            signal.signal(s, handler)
    try:
        yield
    finally:
        for s in sigs:
            if before[s] is not signal.SIG_IGN:
                signal.signal(s, before[s] if before[s] is not None else signal.SIG_DFL)


class _Pool:
    """A ProcessPoolExecutor whose workers can be stopped at once (not after their current task)."""

    def __init__(self, workers: int, shared: Any) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # fork where there is one (no re-import per worker); each worker then drops to one BLAS thread
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                                        initargs=(os.getpid(), shared))

    def submit(self, fn: Callable[..., Any], item: Any) -> Any:
        with _single_threaded_blas(), quiet_fork_warning():  # (the workers start at the first submit)
            return self.pool.submit(_call_in_worker, fn, item)

    def kill(self) -> None:
        _quiet_killed_pool_thread(self.pool)
        for p in list((getattr(self.pool, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                p.kill()
        self.pool.shutdown(wait=False, cancel_futures=True)


def _quiet_killed_pool_thread(pool: Any) -> None:
    """After its workers are killed, a ProcessPoolExecutor's manager thread can fail on the pipes
    shutdown(wait=False) closes (CPython gh-132969, fixed in 3.12+/3.13+): its traceback ("OSError: [Errno
    9] Bad file descriptor") would follow "Interrupted" on stderr. Exceptions from that thread of that
    pool are dropped; every other thread's are printed as before."""
    thread = getattr(pool, "_executor_manager_thread", None)
    if thread is None:
        return
    previous = threading.excepthook

    def hook(args: Any) -> None:
        if args.thread is not thread:
            previous(args)

    threading.excepthook = hook


def _run_local(fn: Callable[..., Any], items: Sequence[Any], order: list[int], shared: Any, jobs: int,
               done: Callable[[int, Any], None]) -> None:
    from concurrent.futures import as_completed
    from concurrent.futures.process import BrokenProcessPool

    todo = list(order)
    for attempt in range(RETRIES + 1):
        pool = _Pool(max(1, min(jobs, len(todo))), shared)
        try:
            with _stop_on_signals(pool.kill):
                futures = {pool.submit(fn, items[i]): i for i in todo}
                for f in as_completed(futures):
                    done(futures[f], f.result())
                    todo.remove(futures[f])
        except BrokenProcessPool:
            pool.kill()
            if attempt == RETRIES:
                raise ExecutorError(
                    f"a worker process died {RETRIES + 1} times (killed, or out of memory?); "
                    f"{len(todo)} task(s) not run") from None
            continue  # the unfinished tasks, again, in a fresh pool
        except BaseException:  # Ctrl-C or a task's error: stop the workers now, not after their task
            pool.kill()
            raise
        pool.pool.shutdown()
        return


# --- Dask -----------------------------------------------------------------------------------------


def check_cluster_address(address: str) -> str:
    """``tcp://HOST:PORT`` (or another scheme Dask knows, or HOST:PORT) or a ConfigError."""
    address = address.strip()
    rest = address.split("://", 1)[1] if "://" in address else address
    host, _, port = rest.rpartition(":")
    if not rest or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--cluster {address!r}: give the scheduler's address as tcp://HOST:PORT")
    return address if "://" in address else f"tcp://{address}"


def _cluster_timeout() -> float:
    raw = os.environ.get(CLUSTER_TIMEOUT_ENV, "")
    try:
        t = float(raw) if raw else DEFAULT_CLUSTER_TIMEOUT
    except ValueError:
        raise ConfigError(f"{CLUSTER_TIMEOUT_ENV}={raw!r}: give a number of seconds") from None
    if not 0 < t < 1e6:
        raise ConfigError(f"{CLUSTER_TIMEOUT_ENV}={raw!r}: give a positive number of seconds")
    return t


def _dask_call(fn: Callable[..., Any], item: Any, has_shared: bool, shared: Any, version: str) -> Any:
    """A task on a Dask worker: the same actstat, one BLAS thread (left at one: the worker's other task
    threads want one too, and restoring the count could race with them)."""
    from . import __version__

    if __version__ != version:
        raise ExecutorError(f"a cluster worker runs actstat {__version__}, this is {version}: "
                            "install the same version on the workers")
    blas = _BlasThreads.find()
    if blas is not None and int(blas.get_fn()) != 1:
        blas.set_fn(1)
    return fn(item, shared) if has_shared else fn(item)


@contextlib.contextmanager
def connect(address: str) -> Iterator[Any]:
    """A dask.distributed Client of the scheduler at ``address``, closed on the way out."""
    address = check_cluster_address(address)
    try:
        import logging

        import distributed
    except ImportError:
        raise ConfigError("--cluster needs dask.distributed: pip install 'actstat[dask]'") from None
    timeout = _cluster_timeout()
    logging.getLogger("distributed").setLevel(logging.ERROR)  # errors reach the user as one line
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        msg = " ".join(str(e).split()) or type(e).__name__
        raise ConfigError(f"cannot reach the Dask cluster at {address} within {timeout:g} s ({msg[:160]})") from None
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=5)


def _run_dask(fn: Callable[..., Any], items: Sequence[Any], order: list[int], shared: Any, address: str,
              done: Callable[[int, Any], None]) -> None:
    from . import __version__

    with connect(address) as client:
        import distributed

        futures: list[Any] = []
        try:
            has_shared = shared is not _NOTHING
            sh = client.scatter(shared, broadcast=True, hash=False) if has_shared else None
            index = {}
            for rank, i in enumerate(order):  # the most expensive first; pure=False: never a cached result
                f = client.submit(_dask_call, fn, items[i], has_shared, sh, __version__, pure=False,
                                  priority=len(order) - rank)
                futures.append(f)
                index[f.key] = i
            for f in distributed.as_completed(futures, loop=client.loop):
                if f.status == "error":
                    f.result()  # raises the task's exception (KilledWorker after too many lost workers)
                done(index[f.key], f.result())
        except BaseException as e:  # Ctrl-C or an error: cancel everything still outstanding
            with contextlib.suppress(Exception):
                client.cancel(futures, force=True)
            if type(e).__name__ == "KilledWorker":
                raise ExecutorError(f"a task was lost with too many Dask workers ({e})") from None
            if type(e).__name__ == "CancelledError" and isinstance(e, Exception):
                raise ExecutorError("the Dask cluster cancelled a task (scheduler restarted or lost?)") from None
            raise


# --- the entry point ------------------------------------------------------------------------------


def run_tasks(
    fn: Callable[..., Any], items: Sequence[Any], *, shared: Any = _NOTHING, jobs: int = 1,
    cluster: str | None = None, cost: Callable[[Any], float] | None = None,
    on_done: Callable[[int, int], None] | None = None, on_result: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """``[fn(item, shared) for item in items]`` (``fn(item)`` without ``shared``), run as the module
    docstring says. ``fn`` must be a module-level function (workers import it by name).

    cost: the relative work of an item; the most expensive start first (so no worker is left alone with
    a long task at the end); the results keep the input order.
    on_done(finished, total): after each finished task, in the order they finish (progress).
    on_result(i, result): each result in input order, as soon as it and every earlier one are in
    (streaming output that is the same whatever the number of workers).
    """
    n = len(items)
    got: dict[int, Any] = {}
    next_out = 0

    def done(i: int, result: Any) -> None:
        nonlocal next_out
        got[i] = result
        if on_done:
            on_done(len(got), n)
        while on_result and next_out in got:
            on_result(next_out, got[next_out])
            next_out += 1

    order = list(range(n))
    if cost is not None:
        costs = [cost(it) for it in items]
        order.sort(key=lambda i: -costs[i])
    if cluster:
        _run_dask(fn, items, order, shared, cluster, done)
    else:
        blas = _BlasThreads.find() if (jobs <= 1 or n <= 1) else None
        if blas is not None:
            # every task runs with one BLAS thread, in this process or in a worker, so that --jobs 1 and
            # --jobs N give the same bits
            with blas.limit(1):
                for i in range(n):
                    done(i, fn(items[i]) if shared is _NOTHING else fn(items[i], shared))
        elif n:
            _run_local(fn, items, order, shared, jobs, done)
    return [got[i] for i in range(n)]
