"""The training loop: mini-batch training with statistics checkpoints. Pure numpy.

``train(cfg)`` returns the whole run as the JSON document of ``actstat train --format json``
(schema in actstat/training/__init__.py). Timeline: the loop runs steps s = 0, 1, ..., S. At each s
it does one training-mode forward and backward pass on the next mini-batch with the weights W_s
(after s updates); a checkpoint at s takes its statistics from that pass (activations of every layer
before dropout, RMS of dL/dh), plus the weight RMS of W_s, the update ratio
||W_s - W_{s-1}|| / ||W_{s-1}|| of the update actually applied (any optimiser), and the loss and
accuracies in evaluation mode on fixed samples (up to ``eval_size`` training and validation
examples; the document's ``final`` uses every example). Then, unless s = S, the optimiser applies that pass's gradient. So checkpoint 0 is the
network before any update (the network ``actstat probe`` sees with the same seed) and the last
checkpoint is the final step.

Early stop (the lecture's rule): when a mini-batch loss is NaN/inf or above 3 x the step-0
mini-batch loss, a checkpoint is taken at that step and training stops.

Epochs: each epoch is a fresh permutation of the training set in batches of ``batch_size``; the
last incomplete batch is dropped (batch norm always sees full batches), so an epoch is
n_train // batch_size steps.

BLAS threads (``blas_threads``, "auto" by default), set through threadpoolctl when it is installed
(the test extra installs it), else through OpenBLAS's C API. "auto": one thread when the step's
largest product is under AUTO_BLAS_MACS multiply-adds, else the BLAS library's own setting. Measured
on 2 cores (the plain training loop of benchmarks/bench_train.py, quiet machine): two threads train
4% faster than one at 1M multiply-adds (64 -> 5 x 100, batch 100) and 24-31% faster from 4M to 128M
(200- to 1000-wide layers); but on a busy machine small products on several OpenBLAS threads can be
far slower than on one (up to 20x measured), for the few per cent a small network could gain. Inside
a sweep's tasks (search, trainability, compare) the executor holds every task to one thread. The
thread count can change the last bits of a sum over more than one of OpenBLAS's K blocks: the same
command on the same machine gives the same bytes; on machines with different core counts a large
network's figures may differ in their last digits.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..network import NetworkSpec, dropout_description
from .datasets import Dataset, apply_preprocess, fit_preprocess, load_dataset
from .model import MLP, Pass
from .optimizers import OPTIMIZERS, get_optimizer

Array = np.ndarray

DEFAULT_EPOCHS = 10
DEFAULT_BATCH = 100
LOG_CHECKPOINTS = 40  # about this many log-spaced checkpoints by default
MAX_STEPS = 10_000_000
EVAL_BLOCK = 4096
AUTO_BLAS_MACS = 4_000_000  # "auto": one BLAS thread below this many multiply-adds in the largest product


def resolve_blas_threads(setting: int | str | None, dims: tuple[int, ...], batch: int) -> int | None:
    """The BLAS thread count training runs on (None: the library's own setting); dims: the network's
    widths from its input to its output layer."""
    if setting != "auto":
        return setting  # type: ignore[return-value]
    macs = batch * max(a * b for a, b in itertools.pairwise(dims))
    return 1 if macs < AUTO_BLAS_MACS else None


@dataclass(frozen=True)
class TrainConfig:
    """Every ``actstat train`` option. None means "the default", resolved in the document's config."""

    # the network (as actstat.probe.ProbeConfig)
    widths: tuple[int, ...] = (100,) * 5
    input_dim: int | None = None  # blobs/teacher: the features; files: must match
    act: str = "relu"
    init: str = "he"
    gain: float = 1.0
    bias_std: float = 0.0
    batchnorm: bool = False
    dropout: float = 0.0
    dropout_mode: str = "inverted"
    seed: int = 0
    dtype: str = "float64"
    bins: int = 30
    hist_range: tuple[float, float] | None = None
    force: bool = False
    # the data
    data: str = "spiral"
    train_size: int | None = None
    val_fraction: float = 0.2
    preprocess: str = "none"
    classes: int | None = None
    label_column: str | None = None
    examples: int | None = None  # synthetic sets' size (1000)
    # the training
    optimizer: str = "sgd"
    lr: float | None = None  # None: the optimiser's default
    weight_decay: float = 0.0
    batch_size: int | None = None  # None: 100, or the training set if smaller
    epochs: int | None = None  # neither epochs nor steps: 10 epochs
    steps: int | None = None
    every: int | None = None  # None: about 40 log-spaced checkpoints
    overfit: int | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    eval_size: int = 200  # the checkpoints' evaluation samples (the final figures use every example)
    blas_threads: int | str | None = "auto"  # a count, "auto" (see the docstring), None: the library's own
    overlap: bool = True  # checkpoints worth it in a helper process (actstat.training.offload; the same numbers)


def checkpoint_steps(total: int, every: int | None) -> list[int]:
    """Steps with statistics: 0, every K-th and the last; or (every None) about LOG_CHECKPOINTS
    log-spaced steps, so the first steps, where most changes, are all seen."""
    if total == 0:
        return [0]
    if every is not None:
        s = set(range(0, total + 1, every))
    else:
        s = set(np.unique(np.round(np.geomspace(1, total, num=min(total, LOG_CHECKPOINTS)))).astype(int).tolist())
    return sorted(s | {0, total})


def _batches(n: int, batch: int, rng: np.random.Generator) -> Iterator[Array]:
    while True:
        perm = rng.permutation(n)
        for k in range(n // batch):
            yield perm[k * batch:(k + 1) * batch]


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Limit BLAS to n threads while training: threadpoolctl if it is installed, else OpenBLAS's own C API
    (actstat.executor's _BlasThreads, which the executor's workers use too); nothing if neither is there."""
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        from ..executor import _BlasThreads

        blas = _BlasThreads.find()
        if blas is None:
            yield
        else:
            with blas.limit(n):
                yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def _f(x: float | None) -> float | None:
    """JSON-ready: non-finite -> None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass
class _Run:
    cfg: TrainConfig
    spec: NetworkSpec
    model: MLP
    data: Dataset
    X_train: Array
    y_train: Array
    X_val: Array
    eval_train: tuple[Array, Array]
    eval_val: tuple[Array, Array]
    steps_per_epoch: int
    weight_decay: float
    thresholds: dict[str, float]
    hist_ranges: list[tuple[float, float]] = field(default_factory=list)
    offload: bool = False  # checkpoints in a helper process (actstat.training.offload)
    threads: int | None = 1  # the BLAS threads training runs on (None: the library's own)

    def hist_edges(self) -> list[list[float]]:
        return [np.linspace(lo, hi, self.cfg.bins + 1).tolist() for lo, hi in self.hist_ranges]


def resolve(cfg: TrainConfig) -> tuple[Any, Any, Any]:
    """Check every option that can be checked before the data is loaded: (act, init, optimizer)."""
    from ..probe import ProbeConfig, validate

    probe_like = ProbeConfig(
        widths=cfg.widths, input_dim=cfg.input_dim, batch=max(2, cfg.batch_size or 2), act=cfg.act, init=cfg.init,
        gain=cfg.gain, bias_std=cfg.bias_std, batchnorm=cfg.batchnorm, dropout=cfg.dropout,
        dropout_mode=cfg.dropout_mode, seed=cfg.seed, dtype=cfg.dtype, bins=cfg.bins, hist_range=cfg.hist_range,
        preprocess=cfg.preprocess,
    )
    act, init = validate(probe_like)
    opt = get_optimizer(cfg.optimizer, cfg.lr)
    if not (math.isfinite(cfg.weight_decay) and cfg.weight_decay >= 0):
        raise ConfigError(f"--weight-decay must be a finite number >= 0, got {cfg.weight_decay:g}")
    if cfg.batch_size is not None and cfg.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {cfg.batch_size}")
    if cfg.batchnorm and cfg.batch_size is not None and cfg.batch_size < 2:
        raise ConfigError("--batchnorm needs --batch-size of at least 2 (it normalises over the batch)")
    if cfg.epochs is not None and cfg.steps is not None:
        raise ConfigError("give --epochs or --steps, not both")
    if cfg.epochs is not None and not 1 <= cfg.epochs <= MAX_STEPS:
        raise ConfigError(f"--epochs must be from 1 to {MAX_STEPS}, got {cfg.epochs}")
    if cfg.steps is not None and not 0 <= cfg.steps <= MAX_STEPS:
        raise ConfigError(f"--steps must be from 0 to {MAX_STEPS}, got {cfg.steps}")
    if cfg.every is not None and cfg.every < 1:
        raise ConfigError(f"--every must be at least 1, got {cfg.every}")
    if cfg.overfit is not None and cfg.overfit < 1:
        raise ConfigError(f"--overfit must be at least 1, got {cfg.overfit}")
    if cfg.eval_size < 1:
        raise ConfigError(f"eval_size must be at least 1, got {cfg.eval_size}")
    if cfg.examples is not None and cfg.examples < 2:
        raise ConfigError(f"--examples must be at least 2, got {cfg.examples}")
    if cfg.blas_threads != "auto" and cfg.blas_threads is not None and (
            not isinstance(cfg.blas_threads, int) or cfg.blas_threads < 1):
        raise ConfigError(f"blas_threads must be 'auto' or at least 1, got {cfg.blas_threads!r}")
    from .verdicts import check_thresholds

    check_thresholds(cfg.thresholds)
    return act, init, opt


def load_for(cfg: TrainConfig) -> Dataset:
    """The data set ``cfg`` names, split as it says."""
    return load_dataset(cfg.data, classes=cfg.classes, train_size=cfg.train_size, val_fraction=cfg.val_fraction,
                        seed=cfg.seed, label_column=cfg.label_column, input_dim=cfg.input_dim,
                        examples=cfg.examples)


StepCallback = Callable[[int, int, float], None]
CheckpointCallback = Callable[[dict[str, Any]], None]


def train(cfg: TrainConfig, data: Dataset | None = None, on_checkpoint: CheckpointCallback | None = None,
          on_step: StepCallback | None = None, on_start: CheckpointCallback | None = None) -> dict[str, Any]:
    """Train the network ``cfg`` describes and return the run's JSON document.

    data: an already loaded data set (used as given; cfg's data options are then not applied, but
    ``overfit`` and ``preprocess`` are). on_checkpoint(record): called with each checkpoint's record
    as it is taken (ndjson streaming). on_step(step, total_steps, batch_loss): after each update.
    on_start(head): once, just before the first on_checkpoint, with the document's actstat_version,
    kind, config, data, hist_edges and thresholds (the ndjson header).
    """
    from .. import __version__
    from .verdicts import babysit, thresholds_for

    act, init, opt = resolve(cfg)
    if data is None:
        data = load_for(cfg)
    if cfg.input_dim is not None and cfg.input_dim != data.features:
        raise ConfigError(f"--input-dim {cfg.input_dim} conflicts with the data's {data.features} features")
    if data.y_train.size and int(data.y_train.max()) >= data.classes:
        raise ConfigError(f"label {int(data.y_train.max())} is out of range for {data.classes} classes")
    X_tr, y_tr = data.X_train, data.y_train
    if cfg.overfit is not None:
        if cfg.overfit > X_tr.shape[0]:
            raise ConfigError(f"--overfit {cfg.overfit} is more than the {X_tr.shape[0]} training examples")
        X_tr, y_tr = X_tr[:cfg.overfit], y_tr[:cfg.overfit]
    n = X_tr.shape[0]
    if n == 0:
        raise ConfigError("no training examples")
    batch = cfg.batch_size if cfg.batch_size is not None else min(DEFAULT_BATCH, n)
    if batch > n:
        raise ConfigError(f"--batch-size {batch} is more than the {n} training examples")
    if cfg.batchnorm and batch < 2:
        raise ConfigError("--batchnorm needs batches of at least 2 examples")
    per_epoch = n // batch
    total = cfg.steps if cfg.steps is not None else per_epoch * (cfg.epochs or DEFAULT_EPOCHS)
    dtype = np.dtype(cfg.dtype)
    shift, scale = fit_preprocess(X_tr, cfg.preprocess)
    X_tr = apply_preprocess(X_tr, shift, scale).astype(dtype)
    X_val = apply_preprocess(data.X_val, shift, scale).astype(dtype)
    y_val = data.y_val
    spec = NetworkSpec(dims=(data.features, *cfg.widths), act=act, init=init, gain=cfg.gain, bias_std=cfg.bias_std,
                       batchnorm=cfg.batchnorm, dropout=cfg.dropout, dropout_mode=cfg.dropout_mode, dtype=dtype)
    kids = np.random.SeedSequence(cfg.seed).spawn(7)  # 0-3 actstat.network's streams, 4-5 the data, 6 batches
    gen = [np.random.Generator(np.random.PCG64(k)) for k in kids]
    rng_weights, rng_dropout, rng_batches = gen[1], gen[2], gen[6]
    m = min(n, cfg.eval_size)
    thresholds = thresholds_for(cfg.thresholds)
    head: dict[str, Any] = {
        "actstat_version": __version__,
        "kind": "train",
        "config": config_dict(cfg, act, init, opt, batch, total, per_epoch, data),
        "data": {"name": data.name, "train": int(n), "val": int(X_val.shape[0]), "features": data.features,
                 "classes": data.classes},
    }
    started = False

    def checkpoint(rec: dict[str, Any]) -> None:
        nonlocal started
        if not started and on_start is not None:
            on_start(head | {"hist_edges": run.hist_edges(), "thresholds": thresholds})
        started = True
        if on_checkpoint is not None:
            on_checkpoint(rec)

    dims = (data.features, *cfg.widths, data.classes)
    threads = resolve_blas_threads(cfg.blas_threads, dims, batch)
    head["config"]["blas_threads"] = threads
    with blas_threads(threads):
        model = MLP(spec, data.classes, rng_weights, lsuv_x=X_tr[:m] if init.init.data_dependent else None)
        run = _Run(cfg, spec, model, data, X_tr, y_tr, X_val, (X_tr[:m], y_tr[:m]),
                   (X_val[:cfg.eval_size], y_val[:cfg.eval_size]), per_epoch, cfg.weight_decay, thresholds,
                   offload=_offload(cfg, total, dims, m + min(X_val.shape[0], cfg.eval_size) + batch),
                   threads=threads)
        def at_the_end(step: int) -> tuple[dict[str, Any], dict[str, Any]]:  # (while a helper takes the last checkpoint)
            return (_final(model, X_tr, y_tr, X_val, y_val, cfg.weight_decay, step),
                    probe_at_step0(cfg, run.eval_train[0]))

        checkpoints, stopped, (final, probe) = _loop(run, opt, total, batch, rng_dropout, rng_batches, checkpoint,
                                                     on_step, at_the_end)
    doc: dict[str, Any] = head | {
        "checkpoints": checkpoints,
        "hist_edges": run.hist_edges(),
        "thresholds": thresholds,
        "warnings": [],
        "stopped_early": stopped,
        "final": final,
    }
    doc["warnings"] = babysit(doc, act, thresholds)
    doc["probe"] = probe
    return doc


def _offload(cfg: TrainConfig, total: int, dims: tuple[int, ...], rows: int) -> bool:
    """Checkpoints in a helper process: asked for (cfg.overlap), a second core and fork, and checkpoints
    worth a process: their forward passes (rows: the evaluation samples' and the batch's) at least
    offload.OFFLOAD_MIN_MACS multiply-adds in all. dims: the network's widths from its input to its
    output layer."""
    from . import offload

    if not cfg.overlap:
        return False
    per_row = sum(a * b for a, b in itertools.pairwise(dims))
    work = len(checkpoint_steps(total, cfg.every)) * rows * per_row
    return work >= offload.OFFLOAD_MIN_MACS and offload.available()


def probe_at_step0(cfg: TrainConfig, x: Array) -> dict[str, Any]:
    """``actstat probe``'s verdict on the network at step 0 (the same seed draws the same weights) with
    the training examples the checkpoints evaluate as its batch: so that what the probe predicts can be
    set against what training then does."""
    from ..probe import ProbeConfig, run_probe

    pc = ProbeConfig(widths=cfg.widths, input_dim=x.shape[1], batch=x.shape[0], act=cfg.act, init=cfg.init,
                     gain=cfg.gain, bias_std=cfg.bias_std, batchnorm=cfg.batchnorm and x.shape[0] > 1,
                     dropout=cfg.dropout, dropout_mode=cfg.dropout_mode, seed=cfg.seed, dtype=cfg.dtype,
                     force=True)
    res = run_probe(pc, x, prefetch=False)
    return {"batch": int(x.shape[0]), "warnings": [{k: w.to_dict()[k] for k in ("layer", "kind", "value",
                                                                              "threshold", "message", "hint")}
                                                   for w in res.warnings]}


def _loop(run: _Run, opt: Any, total: int, batch: int, rng_dropout: np.random.Generator,
          rng_batches: np.random.Generator, on_checkpoint: CheckpointCallback | None,
          on_step: StepCallback | None, at_the_end: Callable[[int], Any]) -> tuple[list[dict[str, Any]],
                                                                                   dict[str, Any] | None, Any]:
    """The steps, the checkpoints' records delivered in order, and at_the_end(last step)'s value (computed
    while a helper takes the last checkpoint). With run.offload every checkpoint of
    the run is computed in a helper process (actstat.training.offload) while the next steps train;
    every checkpoint, there or here, is computed on one BLAS thread, so the numbers do not depend on
    where (nor on the machine's core count). A helper that cannot start or dies hands the checkpoints
    back to this process, the one under way included."""
    model = run.model
    planned = set(checkpoint_steps(total, run.cfg.every))
    batches = _batches(run.X_train.shape[0], batch, rng_batches)
    records: list[dict[str, Any]] = []
    prev: list[Array] | None = None
    initial = math.nan
    stopped = None
    factor = run.thresholds["explode"]
    y_train = run.y_train
    grads = np.zeros_like(model.flat)  # every step's gradients, in model.flat's layout (see MLP._flatten)
    params = [model.flat]

    def deliver(rec: dict[str, Any]) -> None:
        records.append(rec)
        if on_checkpoint is not None:
            on_checkpoint(rec)

    from .offload import Checkpoints

    sink = Checkpoints(run, _checkpoint_one_thread, deliver, run.offload)
    try:
        for s in range(total + 1):
            idx = next(batches)
            xb, yb = run.X_train[idx], y_train[idx]
            p = model.train_pass(xb, yb, rng_dropout, run.weight_decay, keep=s in planned, grads_into=grads)
            if s == 0:
                initial = p.loss
            reason = None
            if not math.isfinite(p.loss):
                reason = "loss is not finite (NaN or inf)" if s else "the loss at initialisation is not finite"
            elif s > 0 and p.loss > factor * initial:
                reason = f"loss {p.loss:.4g} is above {factor:g} x its initial value {initial:.4g}"
            if s in planned or reason is not None:
                if not p.layers:  # an unplanned stop: the same batch again, its arrays kept for the statistics
                    p = model.train_pass(xb, yb, rng_dropout, run.weight_decay, update_running=False,
                                         grads_into=grads)
                sink.put(s, p, prev if s in planned else None, last=reason is not None or s == total)
            if reason is not None:
                stopped = {"step": s, "reason": reason}
                break
            if s == total:
                break
            prev = [W.copy() for W in model.weights()] if (s + 1) in planned else None
            opt.step(params, [grads])  # the whole network at once
            if on_step is not None:
                on_step(s + 1, total, p.loss)
            sink.poll()  # (a record as soon as the helper has it: ndjson streams it)
        end = at_the_end(s)
        sink.finish()
    finally:
        sink.close()
    return records, stopped, end


def _final(model: MLP, X_tr: Array, y_tr: Array, X_val: Array, y_val: Array, wd: float, step: int) -> dict[str, Any]:
    """The last step's loss and accuracies in evaluation mode on the whole training and validation sets
    (the checkpoints use samples of up to eval_size examples), in blocks of EVAL_BLOCK rows."""
    out: dict[str, Any] = {"step": step}
    for name, X, y in (("train", X_tr, y_tr), ("val", X_val, y_val)):
        if X.shape[0] == 0:
            loss = acc = None
        else:
            tot = cor = 0.0
            for i in range(0, X.shape[0], EVAL_BLOCK):
                lo, ac = model.evaluate(X[i:i + EVAL_BLOCK], y[i:i + EVAL_BLOCK])
                k = min(EVAL_BLOCK, X.shape[0] - i)
                tot += lo * k
                cor += ac * k
            loss, acc = tot / X.shape[0] + model.reg_loss(wd), cor / X.shape[0]
        out["loss" if name == "train" else "val_loss"] = _f(loss)
        out[f"{name}_acc"] = _f(acc)
    return out


def _hist_range(run: _Run, h: Array) -> tuple[float, float]:
    """A layer's histogram range, fixed for the whole run: --hist-range, else the activation's bounds,
    else step 0's data range widened to at least [-4, 4] (or [0, 4] for outputs >= 0)."""
    from ..stats import moments

    if run.cfg.hist_range is not None:
        return run.cfg.hist_range
    if run.spec.act.bounds is not None:
        return run.spec.act.bounds
    mm = moments(h)
    lo = mm.min if math.isfinite(mm.min) else 0.0
    hi = mm.max if math.isfinite(mm.max) else 4.0
    return (0.0 if lo >= 0 else min(lo, -4.0), max(hi, 4.0))


def _checkpoint_one_thread(run: _Run, s: int, p: Pass, prev: list[Array] | None) -> dict[str, Any]:
    """_checkpoint on one BLAS thread, wherever it runs (in line or in the helper process): the same
    numbers either way, whatever the training's own thread count."""
    with blas_threads(1) if run.threads != 1 else contextlib.nullcontext():
        return _checkpoint(run, s, p, prev)


def _checkpoint(run: _Run, s: int, p: Pass, prev: list[Array] | None) -> dict[str, Any]:
    from .checkstats import checkpoint_stats, rms_of

    def _frobenius(a: Array) -> float:  # actstat.backward.frobenius, through moments_of's rms
        return rms_of(a) * math.sqrt(a.size) if a.size else 0.0

    model = run.model
    act = run.spec.act
    if not run.hist_ranges:
        run.hist_ranges = [_hist_range(run, lp.h) for lp in p.layers]
    (loss, acc), (val_loss, val_acc) = model.evaluate_many([run.eval_train, run.eval_val], run.weight_decay)
    # the saturation rules of the activations whose derivative comes from h are stated on h (tanh,
    # sigmoid); the others' (elu, gelu, ...) on u. (stats.layer_stats's figures, all layers at once)
    all_st = checkpoint_stats([lp.h for lp in p.layers], [lp.u if act.df_out is None else None for lp in p.layers],
                              act, run.cfg.bins, run.hist_ranges)
    layers = []
    for i, (lp, L) in enumerate(zip(p.layers, model.layers)):
        st = all_st[i]
        ratio = None
        if prev is not None:
            with np.errstate(all="ignore"):
                w0 = _frobenius(prev[i])
                ratio = _frobenius(L.W - prev[i]) / w0 if w0 > 0 else None
        layers.append({
            "layer": i + 1, "width": run.spec.dims[i + 1], "mean": _f(st.mean), "std": _f(st.std),
            "saturated": _f(st.saturated_frac), "zero": _f(st.zero_frac), "dead": _f(st.dead_frac),
            "grad_rms": _f(rms_of(lp.dh)), "weight_rms": _f(rms_of(L.W)),
            "update_ratio": _f(ratio), "hist": st.hist.counts.tolist(), "hist_outside": int(st.hist.outside),
        })
    return {
        "step": s, "epoch": s / run.steps_per_epoch, "loss": _f(loss), "train_acc": _f(acc),
        "val_acc": _f(val_acc), "val_loss": _f(val_loss), "batch_loss": _f(p.loss),
        "batch_data_loss": _f(p.data_loss), "layers": layers,
    }


def config_dict(cfg: TrainConfig, act: Any, init: Any, opt: Any, batch: int, total: int, per_epoch: int,
                data: Dataset) -> dict[str, Any]:
    """Every option, resolved (names as on the command line), with the formulas in use."""
    from ..data import PREPROCESS

    d = asdict(cfg)
    d.pop("force")
    d.pop("overlap")  # (the same numbers either way)
    d["widths"] = list(cfg.widths)
    d["layers"] = len(cfg.widths)
    d["input_dim"] = data.features
    d["classes"] = data.classes
    d["act"] = act.spec
    d["init"] = init.spec
    d["init_formula"] = init.init.formula
    d["act_formula"] = act.formula
    d["optimizer"] = opt.spec
    d["optimizer_formula"] = OPTIMIZERS[opt.name].formula
    d["lr"] = opt.lr
    d["batch_size"] = batch
    d["steps"] = total
    d["epochs"] = total / per_epoch
    d["steps_per_epoch"] = per_epoch
    d["hist_range"] = list(cfg.hist_range) if cfg.hist_range else None
    d["thresholds"] = dict(cfg.thresholds)
    d["preprocess_formula"] = PREPROCESS[cfg.preprocess] + " (statistics of the training split)"
    d["dropout_scaling"] = dropout_description(cfg.dropout, cfg.dropout_mode)
    d["batchnorm_formula"] = (
        "training mode: gamma (z - batch mean) / sqrt(batch var + 1e-5) + beta, running averages"
        " r <- 0.9 r + 0.1 batch value; evaluation: the running averages" if cfg.batchnorm else None)
    d["loss_formula"] = ("mean softmax cross-entropy over the batch + 0.5 * weight_decay * sum ||W||^2"
                         " (every weight matrix; no biases, gamma or beta)")
    return d


__all__ = ["TrainConfig", "checkpoint_steps", "train"]
