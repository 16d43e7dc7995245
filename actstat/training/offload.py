"""Checkpoints computed in a helper process while training goes on. Pure Python and numpy.

A checkpoint (the evaluation of the fixed samples, every layer's statistics, the gradient, weight and
update figures) costs a small network about three of its training steps: at ``--every 10`` that was
a quarter of the training time. On a machine with a second core it can run there instead.

Threads cannot do it: a checkpoint is many short numpy calls, and so is a training step, and two
threads hand the GIL to each other at every call. Measured on 2 cores (64 -> 5 x 100, batch 100,
``--every 10``): the checkpoints on a helper thread saved 5% of the wall time and cost 20% more CPU.
A forked process has an interpreter of its own.

How: at the first checkpoint the arrays a checkpoint reads (each layer's h, u where the activation's
derivative needs it, dL/dh; the network's parameters and running averages; the previous weights for
the update ratio) are laid out in one block of shared memory, and the process is forked; it inherits
the run (the samples, the options, the histogram ranges). At each checkpoint the training copies the
arrays into the block, sends the step and the batch's loss, and goes on; the process computes the
record with the training's own code (``loop._checkpoint``) on one BLAS thread, and sends it back; the
training collects it as soon as it is in (it polls the pipe after each step), so a stream shows it at
once. Checkpoints computed in line run on one BLAS thread too, so the numbers are the same wherever a
checkpoint is computed. One checkpoint at a time: the next one first collects the previous record.
A helper that cannot be started (no fork: out of processes or memory) or dies (killed) raises
HelperLost; the training then computes the checkpoint under way itself, from the block, and the rest
of the run's in line. The process ignores Ctrl-C (the training stops it),
dies with the training (PR_SET_PDEATHSIG), writes nothing to stdout. Linux only (macOS's system
libraries are not safe to use after a fork), and never from a daemonic process (a multiprocessing.Pool
worker may not have children).
"""

from __future__ import annotations

import contextlib
import copy
import mmap
import os
import select
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

Array = np.ndarray
Compute = Callable[[Any, int, Any, "list[Array] | None"], dict[str, Any]]  # (run, step, pass, prev) -> record

# Less checkpoint work than this many multiply-adds (about 40 ms on one core; forking and the shared
# block cost a few ms): in line, no process. 64 -> 5 x 100 -> 10 with ~1,000 rows a checkpoint passes it
# from about 11 checkpoints; the tests' 16-wide networks never do.
OFFLOAD_MIN_MACS = 500_000_000


def available() -> bool:
    """Linux (fork; macOS's system libraries are not safe to use after a fork), a second core for this
    process, and a process that may have children (a multiprocessing.Pool's workers are daemonic)."""
    import multiprocessing

    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    if multiprocessing.current_process().daemon:
        return False
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return cores >= 2


class HelperLost(Exception):
    """The helper process could not be started, or died (killed, out of memory): the checkpoints go on
    in line."""


class Checkpoints:
    """Where a run's checkpoints are computed, and their records delivered in order: in line, or (with
    ``helper``, from the first checkpoint, step 0, on) in a CheckpointProcess, falling back to in line
    when it cannot start or is lost. ``put`` at each checkpoint, ``poll`` after each step (a record is
    delivered as soon as it is in), ``finish`` when the run is through (the last record), ``close`` at the
    end however the run ends."""

    def __init__(self, run: Any, compute: Compute, deliver: Callable[[dict[str, Any]], None], helper: bool) -> None:
        self.run, self.compute, self.deliver = run, compute, deliver
        self.want_helper = helper
        self.helper: CheckpointProcess | None = None

    def put(self, s: int, p: Any, prev: list[Array] | None, last: bool) -> None:
        """Checkpoint s from pass p (prev: the previous weights); last: the run's last (no helper is started
        for it; finish() collects it)."""
        self._collect()
        if self.want_helper and not last:
            try:
                self.helper = CheckpointProcess(self.run, p, self.run.model.weights(), self.compute)
            except HelperLost:
                pass
        self.want_helper = False  # (only at the first checkpoint: all of a run's in one place)
        if self.helper is not None:
            try:
                self.helper.submit(s, p, prev)
            except HelperLost:
                self.close()
            else:
                return
        self.deliver(self.compute(self.run, s, p, prev))

    def finish(self) -> None:
        """Deliver the record under way, if any."""
        self._collect()

    def poll(self) -> None:
        if self.helper is not None and self.helper.ready():
            self._collect()

    def _collect(self) -> None:
        h = self.helper
        if h is None or not h.waiting:
            return
        try:
            rec = h.collect()
        except HelperLost:  # (its arrays are still in the block: computed here, and the rest of the run)
            rec = h.compute_here()
            self.close()
        self.deliver(rec)

    def close(self) -> None:
        if self.helper is not None:
            self.helper.close()
            self.helper = None


class CheckpointProcess:
    """The helper process and its shared block. ``submit(s, p, prev)`` copies checkpoint s's arrays in and
    returns at once; ``collect()`` waits for that record."""

    def __init__(self, run: Any, p: Any, prev_shapes: list[Array], compute: Compute) -> None:
        import multiprocessing

        self.run = run
        self.compute = compute
        self.needs_u = run.spec.act.df_out is None
        arrays = self._arrays(p, run.model, prev_shapes)
        self.layout: list[tuple[tuple[int, ...], np.dtype, int]] = []
        off = 0
        for a in arrays:
            off = -(-off // 64) * 64
            self.layout.append((a.shape, a.dtype, off))
            off += a.nbytes
        self.buf = mmap.mmap(-1, max(off, 1))  # anonymous and shared: a forked child sees the same pages
        self.views = [np.ndarray(shape, dt, buffer=self.buf, offset=o) for shape, dt, o in self.layout]
        self.n_layers = len(p.layers)
        self.n_state = len(run.model.state())
        self.waiting = False
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.poller = select.poll()  # (a few times cheaper than Connection.poll, which builds a selector per call)
        self.poller.register(self.conn.fileno(), select.POLLIN)
        self.proc = ctx.Process(target=_serve, args=(child, self, os.getpid()), daemon=True,
                                name="actstat-checkpoints")
        from ..executor import quiet_fork_warning

        try:
            with quiet_fork_warning():
                self.proc.start()
        except (OSError, AssertionError) as e:  # (no fork: out of processes or memory)
            self.close()
            raise HelperLost(str(e)) from e
        finally:
            child.close()

    def _arrays(self, p: Any, model: Any, prev: list[Array] | None) -> list[Array]:
        out: list[Array] = []
        for lp in p.layers:
            out.append(lp.h)
            if self.needs_u:
                out.append(lp.u)
            out.append(lp.dh)
        out += model.state()
        if prev is not None:
            out += prev
        return out

    def submit(self, s: int, p: Any, prev: list[Array] | None) -> None:
        for dst, src in zip(self.views, self._arrays(p, self.run.model, prev)):
            np.copyto(dst, src)
        self.sent = (s, p.loss, p.data_loss, prev is not None)
        try:
            self.conn.send(self.sent)
        except OSError as e:  # (the process is gone)
            raise HelperLost(str(e)) from e
        self.waiting = True

    def ready(self) -> bool:
        """The record sent for is in (or the process is gone): collect() will not wait."""
        try:
            return self.waiting and bool(self.poller.poll(0))  # (POLLHUP/POLLERR too: gone)
        except OSError:
            return True

    def collect(self) -> dict[str, Any]:
        try:
            ok, value, ranges = self.conn.recv()
        except (EOFError, OSError) as e:  # (killed, out of memory: the last checkpoint is still in the block)
            raise HelperLost(str(e) or type(e).__name__) from e
        self.waiting = False
        if not ok:
            raise value
        if not self.run.hist_ranges:
            self.run.hist_ranges = ranges
        return value

    def compute_here(self) -> dict[str, Any]:
        """The checkpoint last sent, computed in this process from the block (the helper is lost)."""
        run, layers, prev_views = _bind(self)
        s, loss, data_loss, has_prev = self.sent
        from .model import Pass

        rec = self.compute(run, s, Pass(loss, data_loss, 0, layers), prev_views if has_prev else None)
        if not self.run.hist_ranges:
            self.run.hist_ranges = run.hist_ranges
        self.waiting = False
        return rec

    def close(self) -> None:
        """Stop the process (at once: it holds nothing worth finishing) and free the block."""
        with contextlib.suppress(Exception):
            self.proc.kill()
            self.proc.join(5)
        with contextlib.suppress(Exception):
            self.conn.close()
        self.views = []
        with contextlib.suppress(BufferError):
            self.buf.close()


def _bind(shared: CheckpointProcess) -> tuple[Any, list[Any], list[Array]]:
    """A copy of the run whose network reads its arrays from the shared block, the layers' pass arrays
    there, and the previous weights there."""
    from .model import LayerPass

    run = copy.copy(shared.run)
    model = copy.copy(run.model)
    model.__dict__.pop("_eval_buffers", None)
    model.layers = [copy.copy(L) for L in model.layers]
    views = shared.views
    per = 3 if shared.needs_u else 2
    k = per * shared.n_layers
    for (obj, name), v in zip(model.state_slots(), views[k:k + shared.n_state], strict=True):
        setattr(obj, name, v)
    run.model = model
    layers = []
    for i in range(shared.n_layers):
        h, *u, dh = views[per * i:per * (i + 1)]
        layers.append(LayerPass(None, u[0] if u else None, h, None, dh=dh))  # type: ignore[arg-type]
    return run, layers, views[k + shared.n_state:]


def _serve(conn: Any, shared: CheckpointProcess, parent: int) -> None:
    """The helper process: bind a copy of the network to the shared block, then answer each checkpoint."""
    from ..executor import _NOTHING, _worker_init
    from .model import Pass

    _worker_init(parent, _NOTHING)  # Ctrl-C ignored, dies with the parent, stdout closed, one BLAS thread
    try:
        run, layers, prev_views = _bind(shared)
        while True:
            try:
                msg = conn.recv()
            except EOFError:
                break
            s, loss, data_loss, has_prev = msg
            try:
                rec = shared.compute(run, s, Pass(loss, data_loss, 0, layers), prev_views if has_prev else None)
                conn.send((True, rec, run.hist_ranges))
            except Exception as e:  # noqa: BLE001 (handed to the training, raised there)
                try:
                    conn.send((False, e, None))
                except Exception:  # noqa: BLE001 (an exception that does not pickle)
                    conn.send((False, RuntimeError(f"{type(e).__name__}: {e}"), None))
    finally:
        os._exit(0)
