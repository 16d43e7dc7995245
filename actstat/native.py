"""Long LAPACK calls that Ctrl-C stops at once: the QR of a large matrix in a forked child process.

Python runs signal handlers on the main thread between bytecodes, so during a LAPACK call that lasts
minutes (``np.linalg.qr`` of a 6000 x 6000 matrix for ``--init orthogonal``) the CLI's SIGINT handler
would wait for the call to return. Running the call on a helper thread does not do: the main thread
could stop waiting, but the process cannot then end while the thread is inside OpenBLAS, whose
library destructor (run by ``exit()``) joins OpenBLAS's worker threads, still busy with the abandoned
call: the process hangs after printing "Interrupted" (seen in gdb: ``gotoblas_quit`` ->
``blas_thread_shutdown_`` -> ``pthread_join``).

So the call runs in a forked child process, which writes its result into shared memory; the parent
waits in ``waitpid``, which a signal interrupts; on any exception there (the CLI's Interrupted,
KeyboardInterrupt, Terminated) the child is killed and reaped before the exception goes on, so the
parent ends normally (its temporary files removed, its OpenBLAS idle). The child runs the same numpy
call on the same data with the same BLAS and thread count (inherited), so the result is the same bit
for bit (tests/test_reliability.py checks it).

Only on Linux and on the main thread: elsewhere (other systems, the weight-drawing helper thread,
a Dask worker's thread) the call runs in this process as before. Forking is safe only while no other
thread is inside BLAS (OpenBLAS's fork handler stops its worker threads first), and the child's
PR_SET_PDEATHSIG follows the thread that forked it: hence the main thread only, and network.forward
draws such layers on the main thread, not on its helper thread.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

import numpy as np

Array = np.ndarray

# Below this many entries (2048 x 2048) a QR takes about a second at most, and a child process would add
# a noticeable part to it (40-100 ms, measured at 1100 x 1100, where the QR itself takes about 120 ms)
CHILD_MIN_ENTRIES = 1 << 22

_CHILD_OUT_OF_MEMORY = 3
_CHILD_FAILED = 4


def forks_here() -> bool:
    """Whether qr_q_diag would run a large QR in a child process when called from this thread."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork") and hasattr(signal, "pthread_sigmask")
            and threading.current_thread() is threading.main_thread())


def in_child(size: int) -> bool:
    """Whether a QR of ``size`` entries, called from this thread, runs in a child process."""
    return size >= CHILD_MIN_ENTRIES and forks_here()


def qr_q_diag(A: Array) -> tuple[Array, Array]:
    """``q, r = np.linalg.qr(A)``: q and r's diagonal (a copy), bit for bit; in a child process when
    in_child(A.size), so that a signal stops it at once (the child is killed, the exception goes on)."""
    if in_child(A.size):
        try:
            return _qr_in_child(A)
        except _NoChild:
            pass
    q, r = np.linalg.qr(A)
    return q, np.diag(r).copy()


class _NoChild(Exception):
    """The child process or its shared memory could not be made: compute here instead."""


def _qr_in_child(A: Array) -> tuple[Array, Array]:
    import ctypes  # noqa: F401  (imported here, not in the child)
    import mmap

    from .executor import _die_with_parent, quiet_fork_warning  # (likewise)

    n = min(A.shape)
    q_shape = (A.shape[0], n)
    q_bytes = q_shape[0] * q_shape[1] * 8
    try:
        buf = mmap.mmap(-1, q_bytes + n * 8)  # shared and anonymous: the child's writes are seen here
    except (OSError, ValueError) as e:
        raise _NoChild() from e
    q_out = np.frombuffer(buf, dtype=np.float64, count=q_shape[0] * q_shape[1]).reshape(q_shape)
    d_out = np.frombuffer(buf, dtype=np.float64, count=n, offset=q_bytes)
    qr = np.linalg.qr
    parent = os.getpid()
    sigs = {signal.SIGINT, signal.SIGTERM} | ({signal.SIGHUP} if hasattr(signal, "SIGHUP") else set())
    # signals wait until the parent is ready to kill the child, and the child to ignore them
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        with quiet_fork_warning():
            pid = os.fork()
    except OSError as e:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        raise _NoChild() from e
    if pid == 0:  # the child: compute, write, leave without Python's exit (nothing of the parent's runs)
        code = _CHILD_FAILED
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # (Ctrl-C reaches the whole group: the parent acts)
            for s in sigs - {signal.SIGINT}:
                signal.signal(s, signal.SIG_DFL)
            _die_with_parent(parent)
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
            q, r = qr(A)
            q_out[...] = q
            d_out[...] = np.diag(r)
            code = 0
        except MemoryError:
            code = _CHILD_OUT_OF_MEMORY
        except BaseException:  # noqa: BLE001  (reported by the parent)
            code = _CHILD_FAILED
        finally:
            os._exit(code)
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)  # (a pending signal's handler runs here)
        _, status = os.waitpid(pid, 0)
    except BaseException:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(pid, 0)
        raise
    code = os.waitstatus_to_exitcode(status)
    if code == _CHILD_OUT_OF_MEMORY or code == -signal.SIGKILL:  # (SIGKILL: the kernel's OOM killer)
        raise MemoryError(f"out of memory in the QR of a {A.shape[0]} x {A.shape[1]} matrix")
    if code != 0:
        raise RuntimeError(f"the QR of a {A.shape[0]} x {A.shape[1]} matrix failed in its child process"
                           f" (exit status {code})")
    return q_out, d_out.copy()
