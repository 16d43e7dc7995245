"""Run a probe: build the network, push a batch through it, summarise every layer, diagnose.

``ProbeConfig`` holds every option (the CLI fills it); ``run_probe`` returns a
``ProbeResult`` whose ``to_dict()`` is the stable JSON document described in the README.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ._version import __version__
from .activations import Activation, get_activation
from .diagnostics import (
    MIN_DEAD_BATCH, THRESHOLDS, Diagnostic, LayerFacts, dead_judged, default_thresholds, diagnose, diagnose_gradients,
)
from .data import PREPROCESS, as_dtype, feature_scale_ratio, is_input_file, load_input, preprocess
from .errors import ConfigError, MemoryLimitError
from .initializers import InitSpec, get_initializer
from .losses import DEFAULT_CLASSES, DEFAULT_LOSS, DEFAULT_LR, LOSSES
from .network import NetworkSpec, _Helper, draw_peak_bytes, dropout_description, forward, make_streams
from .seeds import mark_borderline
from .stats import DEFAULT_BINS, LayerStats, MomentStats, layer_and_pre_stats, layer_stats
from .suggest import assign_fixes

if TYPE_CHECKING:
    from .backward import GradStats, LayerCache

Array = np.ndarray

INPUT_KINDS = {
    "normal": "x ~ N(0, 1)",
    "uniform": "x ~ U(-1, 1)",
    "positive": "x ~ U[0, 1) (all positive, not zero-centred)",
}
DTYPES = ("float64", "float32")
MAX_LAYERS = 100_000
MAX_WIDTH = 10_000_000


@dataclass(frozen=True)
class ProbeConfig:
    """Every probe option. ``widths`` has one entry per hidden layer."""

    widths: tuple[int, ...] = (500,) * 10
    input_dim: int | None = None
    batch: int = 1000
    act: str = "tanh"
    init: str = "xavier"
    gain: float = 1.0
    bias_std: float = 0.0
    batchnorm: bool = False
    dropout: float = 0.0
    dropout_mode: str = "inverted"
    input: str = "normal"
    seed: int = 0
    dtype: str = "float64"
    bins: int = DEFAULT_BINS
    hist_range: tuple[float, float] | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    force: bool = False
    preprocess: str = "none"
    theory: bool = False
    grad: bool = False
    loss: str = DEFAULT_LOSS
    classes: int = DEFAULT_CLASSES
    lr: float = DEFAULT_LR

    @property
    def layers(self) -> int:
        return len(self.widths)

    @property
    def resolved_input_dim(self) -> int:
        return self.input_dim if self.input_dim is not None else self.widths[0]


def validate(cfg: ProbeConfig) -> tuple[Activation, InitSpec]:
    """Check everything that can be checked before any array is made."""
    if not 1 <= cfg.layers <= MAX_LAYERS:
        raise ConfigError(f"the number of layers must be from 1 to {MAX_LAYERS}, got {cfg.layers}")
    for w in cfg.widths:
        if not 1 <= w <= MAX_WIDTH:
            raise ConfigError(f"every width must be from 1 to {MAX_WIDTH}, got {w}")
    if cfg.input_dim is not None and not 1 <= cfg.input_dim <= MAX_WIDTH:
        raise ConfigError(f"--input-dim must be from 1 to {MAX_WIDTH}, got {cfg.input_dim}")
    if cfg.batch < 1:
        raise ConfigError(f"--batch must be at least 1, got {cfg.batch}")
    if cfg.batchnorm and cfg.batch < 2:
        raise ConfigError("--batchnorm needs --batch of at least 2 (it normalises over the batch)")
    if not 0.0 <= cfg.dropout < 1.0:
        raise ConfigError(f"--dropout must be in [0, 1), got {cfg.dropout:g}")
    if cfg.dropout_mode not in ("inverted", "classic"):
        raise ConfigError(f"--dropout-mode must be inverted or classic, got {cfg.dropout_mode}")
    if not (math.isfinite(cfg.gain) and cfg.gain > 0):
        raise ConfigError(f"--gain must be a positive number, got {cfg.gain:g}")
    if not (math.isfinite(cfg.bias_std) and cfg.bias_std >= 0):
        raise ConfigError(f"--bias-std must be a finite number >= 0, got {cfg.bias_std:g}")
    if cfg.seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {cfg.seed}")
    if cfg.input not in INPUT_KINDS and not is_input_file(cfg.input):
        raise ConfigError(f"--input must be one of {', '.join(INPUT_KINDS)}, or a .npy/.csv/.tsv file or -"
                          f" (CSV on stdin), got {cfg.input}")
    if cfg.preprocess not in PREPROCESS:
        raise ConfigError(f"--preprocess must be one of {', '.join(PREPROCESS)}, got {cfg.preprocess}")
    if cfg.dtype not in DTYPES:
        raise ConfigError(f"--dtype must be float32 or float64, got {cfg.dtype}")
    if not 1 <= cfg.bins <= 10_000:
        raise ConfigError(f"--bins must be from 1 to 10000, got {cfg.bins}")
    if cfg.hist_range is not None:
        lo, hi = cfg.hist_range
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ConfigError(f"--hist-range needs finite LO < HI, got {lo:g},{hi:g}")
    for k, v in cfg.thresholds.items():
        if k not in THRESHOLDS:
            raise ConfigError(f"unknown threshold '{k}'. Valid: {', '.join(THRESHOLDS)}")
        if not math.isfinite(v) or v < 0:
            raise ConfigError(f"threshold {k} must be a non-negative number, got {v:g}")
    if cfg.loss not in LOSSES:
        raise ConfigError(f"--loss must be one of {', '.join(LOSSES)}, got {cfg.loss}")
    if not 2 <= cfg.classes <= 100_000:
        raise ConfigError(f"--classes must be from 2 to 100000, got {cfg.classes}")
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        raise ConfigError(f"--lr must be a positive number, got {cfg.lr:g}")
    act = get_activation(cfg.act)
    init = get_initializer(cfg.init)
    if init.init.name == "critical":
        from .initializers import InitContext

        init.init.sigma_w(1, 1, InitContext(act, init.param, cfg.bias_std))  # ConfigError when none exists
    return act, init


# --- memory ---------------------------------------------------------------------------


def available_memory() -> int | None:
    """Bytes a new allocation can use: what the OS says is available (MemAvailable), or less under a
    ulimit on the address space or data size (what this process has mapped already counts against it)."""
    have = _os_available()
    limit = _ulimit_room()
    if limit is not None:
        have = limit if have is None else min(have, limit)
    return have


def _os_available() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _ulimit_room() -> int | None:
    try:
        import resource

        limits = [(resource.RLIMIT_AS, "VmSize:"), (resource.RLIMIT_DATA, "VmData:")]
        room = None
        for res, key in limits:
            soft = resource.getrlimit(res)[0]
            if soft == resource.RLIM_INFINITY:
                continue
            used = 0
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith(key):
                        used = int(line.split()[1]) * 1024
            free = max(0, soft - used)
            room = free if room is None else min(room, free)
        return room
    except (ImportError, OSError, ValueError):
        return None


def estimate_memory(cfg: ProbeConfig, act: Activation, keep_all: bool = False) -> int:
    """Peak bytes of a probe's arrays (a slight over-estimate).

    Streaming forward pass: the input, then per layer its weights and about six
    (batch x width) matrices alive at once (x, z, u, h, dropped-out h, a statistics
    temporary). keep_all (a backward pass, --grad): every layer's weights, activation input u (see
    keeps_u), output and dropout mask stay until the backward pass reaches that layer, plus one layer's
    gradients (dh, du, dz, dx, dW) and the softmax output layer.
    """
    item = np.dtype(cfg.dtype).itemsize
    dims = (cfg.resolved_input_dim, *cfg.widths)
    k = act.pieces
    per_layer = [cfg.batch * dims[l] * (3 * k + 3) + dims[l - 1] * dims[l] * k for l in range(1, len(dims))]
    base = cfg.batch * dims[0] * 2
    # drawing a layer's weights takes more than the weights (float64 draws, QR for orthogonal): see network
    init = get_initializer(cfg.init)
    draw = max(max(0, draw_peak_bytes(init, dims[l - 1], dims[l] * k) - item * dims[l - 1] * dims[l] * k)
               for l in range(1, len(dims)))
    if not keep_all:
        return item * (base + 2 * max(per_layer)) + draw
    masks = 1 if cfg.dropout > 0 else 0
    us = k if keeps_u(act, cfg.batchnorm, cfg.dropout) else 0
    kept = [cfg.batch * dims[l] * (us + 1 + masks) + dims[l - 1] * dims[l] * k for l in range(1, len(dims))]
    grads = max(cfg.batch * (dims[l] * (2 + 2 * k) + dims[l - 1]) + 2 * dims[l - 1] * dims[l] * k
                for l in range(1, len(dims)))
    head = (cfg.batch + dims[-1]) * cfg.classes * 3 if cfg.loss == "softmax" else cfg.batch * dims[-1] * 2
    return item * (base + sum(kept) + max(max(per_layer), grads + head)) + draw


def keeps_u(act: Activation, batchnorm: bool, dropout: float) -> bool:
    """Whether the backward pass keeps each layer's activation input u. Not when the derivative can be
    taken from the output h, which it keeps anyway as the next layer's input (no dropout between)."""
    return act.df_out is None or batchnorm or dropout > 0


def check_memory(cfg: ProbeConfig, act: Activation, keep_all: bool = False) -> None:
    need = estimate_memory(cfg, act, keep_all)
    have = available_memory()
    if cfg.force or have is None:
        return
    if need > 0.8 * have:
        raise MemoryLimitError(
            f"this configuration needs about {_gib(need)} of memory and {_gib(have)} is available;"
            " use smaller --batch/--width/--layers, or --force to try anyway"
        )


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


# --- input ----------------------------------------------------------------------------


def make_input(kind: str, batch: int, dim: int, rng: np.random.Generator, dtype: np.dtype) -> Array:
    """The probe batch (batch, dim) in ``dtype`` (drawn in float64, so every dtype sees the same batch)."""
    if kind == "normal":
        return rng.standard_normal((batch, dim)).astype(dtype, copy=False)
    x = rng.random((batch, dim))
    if kind == "uniform":
        x *= 2.0
        x -= 1.0
    return x.astype(dtype, copy=False)


def fit_to_data(cfg: ProbeConfig, x: Array, batch_given: bool) -> tuple[ProbeConfig, Array]:
    """Reconcile the options with user data x (rows = examples): the input dimension comes from the
    data (a conflicting --input-dim is an error); the batch is every row, or the first --batch rows."""
    from dataclasses import replace

    rows, dim = x.shape
    if cfg.input_dim is not None and cfg.input_dim != dim:
        raise ConfigError(f"--input-dim {cfg.input_dim} conflicts with the data's {dim} columns")
    batch = rows
    if batch_given:
        if cfg.batch > rows:
            raise ConfigError(f"--batch {cfg.batch} is more than the data's {rows} rows")
        batch = cfg.batch
    if cfg.batchnorm and batch < 2:
        raise ConfigError("--batchnorm needs at least 2 rows of data")
    return replace(cfg, input_dim=dim, batch=batch), x[:batch]


# --- result ---------------------------------------------------------------------------


@dataclass
class LayerResult:
    index: int
    width: int
    stats: LayerStats
    pre: MomentStats
    symmetric: bool
    lsuv_iters: int = 0
    grad: GradStats | None = None
    theory: dict[str, Any] | None = None


@dataclass
class ProbeResult:
    config: dict[str, Any]
    thresholds: dict[str, float]
    input: LayerStats
    layers: list[LayerResult]
    warnings: list[Diagnostic]
    saturation_rule: str | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON document (non-finite floats still present: the writer nulls them)."""
        return {
            "actstat_version": __version__,
            "config": self.config,
            "thresholds": self.thresholds,
            "saturation_rule": self.saturation_rule,
            "input": _stats_dict(self.input) | {"width": self.config["input_dim"]},
            "layers": [
                {"layer": r.index, "width": r.width, **_stats_dict(r.stats),
                 "pre": _moments_dict(r.pre)}
                | ({"lsuv_iters": r.lsuv_iters} if self.config["init"] == "lsuv" else {})
                | ({"grad": _grad_dict(r.grad)} if r.grad is not None else {})
                | ({"theory": r.theory} if self.config.get("theory") else {})
                for r in self.layers
            ],
            "warnings": [w.to_dict() for w in self.warnings],
            "notes": self.notes,
        }


def theory_not_applicable(cfg: ProbeConfig, spec: NetworkSpec, x: Array, thresholds: dict[str, float]) -> list[str]:
    """Why the infinite-width prediction does not describe this network (empty: it does)."""
    from .initializers import InitContext

    why = []
    if spec.act.pieces > 1:
        why.append("maxout is a max over several pre-activations, not one Gaussian")
    if spec.init.init.sigma_w(spec.dims[0], spec.dims[1], InitContext(spec.act, spec.init.param, spec.bias_std)) \
            is None:
        why.append(f"--init {spec.init.spec} is not of the form N(0, sigma_w^2/fan_in)")
    if spec.batchnorm:
        why.append("batch norm renormalises every layer with batch statistics")
    if spec.dropout > 0:
        why.append("dropout changes the variance map")
    ratio = feature_scale_ratio(x)
    if ratio is not None and ratio > thresholds["scale_mismatch"]:
        why.append(f"the input features' scales differ {ratio:.3g}x, so pre-activations are far from Gaussian")
    return why


def attach_theory(cfg: ProbeConfig, spec: NetworkSpec, x: Array, results: list[LayerResult],
                  thresholds: dict[str, float]) -> list[str]:
    """Give each layer its infinite-width prediction and its verdict against the measurement (within the
    fluctuation expected at these widths: theory.finite_width_bands, theory.judge_layers), and return the
    notes: what was predicted and where it parts from the measurement, or the one note saying why not."""
    from .initializers import InitContext
    from .theory import finite_width_bands, judge_layers, variance_map

    why = theory_not_applicable(cfg, spec, x, thresholds)
    if why:
        return ["theory: not applicable here (" + "; ".join(why) + "); every layer's theory is null"]
    ctx = InitContext(spec.act, spec.init.param, spec.bias_std)
    sigma_w = [spec.gain * spec.init.init.sigma_w(spec.dims[l - 1], spec.dims[l], ctx)  # type: ignore[operator]
               for l in range(1, spec.depth + 1)]
    with np.errstate(all="ignore"):
        q0 = float(np.mean(np.square(x, dtype=np.float64)))
    pred = variance_map(spec.act, sigma_w, spec.bias_std, q0, spec.depth, spec.dims)
    bands = finite_width_bands(spec.act, sigma_w, spec.bias_std, pred, spec.dims)
    with np.errstate(all="ignore"):
        ms = np.mean(np.square(x, dtype=np.float64), axis=1)  # each example's mean square
        cv = float(np.std(ms) / np.mean(ms)) if np.mean(ms) > 0 else 0.0
    verdicts, parted = judge_layers(pred, bands, [(r.stats.mean, r.stats.std) for r in results], spec.dims, cv)
    for r, t, v in zip(results, pred, verdicts):
        r.theory = {"mean": t.mean, "std": t.std, "q": t.q, "chi": t.chi}
        if cfg.grad:
            r.theory["grad_scale"] = t.grad_scale
        r.theory |= {"agrees": v.agrees, "tolerance": v.tolerance, "reason": v.reason}
    head = (f"theory: infinite-width mean-field prediction (q0 = {q0:.4g}, the inputs' mean square;"
            f" sigma_w = {sigma_w[0]:.4g}{' (first layer)' if len(set(sigma_w)) > 1 else ''}, sigma_b ="
            f" {spec.bias_std:g}); a layer agrees within 3 sigma of the fluctuation expected at its"
            " width (theory.agrees, theory.tolerance: the factor allowed either way on the std)")
    return [head, *parted]


def _grad_dict(g: GradStats) -> dict[str, Any]:
    h = g.hist
    return {"mean": g.mean, "std": g.std, "rms": g.rms, "pre_std": g.pre_std, "pre_rms": g.pre_rms,
            "weight_norm": g.weight_norm, "weight_mean_abs": g.weight_mean_abs, "zero_frac": g.zero_frac,
            "update_ratio": g.update_ratio, "norm_ratio_to_last": g.norm_ratio_to_last, "zigzag": g.zigzag,
            "hist": {"edges": h.edges.tolist(), "counts": h.counts.tolist(), "outside": h.outside} if h else None}


def _moments_dict(m: MomentStats) -> dict[str, float]:
    return {"mean": m.mean, "std": m.std, "min": m.min, "max": m.max, "rms": m.rms,
            "nonfinite_frac": m.nonfinite_frac}


def _stats_dict(s: LayerStats) -> dict[str, Any]:
    return _moments_dict(s.moments) | {
        "saturated_frac": s.saturated_frac,
        "zero_frac": s.zero_frac,
        "dead_frac": s.dead_frac,
        "hist": {"edges": s.hist.edges.tolist(), "counts": s.hist.counts.tolist(), "outside": s.hist.outside},
    }


def config_dict(cfg: ProbeConfig, act: Activation, init: InitSpec) -> dict[str, Any]:
    """Every option, resolved (names as on the command line)."""
    d = asdict(cfg)
    d.pop("force")
    d["widths"] = list(cfg.widths)
    d["layers"] = cfg.layers
    d["input_dim"] = cfg.resolved_input_dim
    d["act"] = act.spec
    d["init"] = init.spec
    d["init_formula"] = init.init.formula
    d["act_formula"] = act.formula
    d["input_formula"] = INPUT_KINDS.get(cfg.input, f"the rows of {cfg.input}")
    d["preprocess_formula"] = PREPROCESS[cfg.preprocess]
    d["dropout_scaling"] = dropout_description(cfg.dropout, cfg.dropout_mode)
    d["batchnorm_formula"] = (
        "training mode: (z - batch mean) / sqrt(batch var + 1e-5), gamma 1, beta 0; FC -> BN -> act"
        if cfg.batchnorm else None
    )
    d["hist_range"] = list(cfg.hist_range) if cfg.hist_range else None
    d["thresholds"] = dict(cfg.thresholds)
    if cfg.grad:
        d["loss_formula"] = LOSSES[cfg.loss]
    else:  # the gradient options mean nothing without --grad
        for k in ("loss", "classes", "lr"):
            d.pop(k)
    return d


LayerCallback = Callable[[int, int], None]

# Overlapping a layer's statistics with the next layer's product pays where per-layer overhead matters:
# narrow layers (C4, 500 x 256). The product then runs on one BLAS thread (two would fight the
# statistics' thread for the cores), as in a sweep's tasks; the statistics are the same numbers as
# sequential statistics on one thread (float32 moments' dot products are never threaded; float64's are,
# above 10,000 entries, which is why float64 keeps the sequential pass). Whether a float32 product on one
# thread has the same bits as on two depends on the CPU's OpenBLAS kernels: yes with the AVX-512 ones,
# no with the AVX2 (Haswell) ones of an AMD EPYC without AVX-512 (last-bit differences, measured), so a
# probe that overlaps may differ in its last digits from the same probe under OPENBLAS_NUM_THREADS=2
# on such a CPU. tests/test_speed_paths.py checks that the probe gives the same document as the
# sequential pass on one thread.
OVERLAP_MAX_FAN_IN = 256
OVERLAP_MIN_ENTRIES = 1 << 15  # per layer (batch x width): below it the hand-over costs more than it saves


def overlap_statistics(spec: NetworkSpec, batch: int) -> contextlib.AbstractContextManager[None] | None:
    """A context that puts BLAS on one thread, when the probe of ``spec`` should compute each layer's
    statistics on a helper thread during the next layer's product; None when it should not."""
    if spec.dtype != np.float32 or spec.depth < 2 or max(spec.dims[:-1]) > OVERLAP_MAX_FAN_IN \
            or batch * min(spec.dims[1:]) < OVERLAP_MIN_ENTRIES:
        return None
    from .executor import _BlasThreads

    blas = _BlasThreads.find()
    return blas.limit(1) if blas is not None else None


def run_probe(cfg: ProbeConfig, x: Array | None = None, on_layer: LayerCallback | None = None,
              prefetch: bool = True) -> ProbeResult:
    """Probe the network ``cfg`` describes.

    x: an optional (batch, input_dim) input; drawn from ``cfg.input`` when None.
    on_layer(done, total): called after each layer (for progress bars).
    prefetch: draw each layer's weights on a helper thread during the previous layer's statistics
    (the same numbers; False keeps the probe on one core, as compare's workers do).
    """
    act, init = validate(cfg)
    check_memory(cfg, act, keep_all=cfg.grad)
    if cfg.grad:
        from .backward import LayerCache, backward, grad_stats, make_loss, with_ratios
    dtype = np.dtype(cfg.dtype)
    rngs = make_streams(cfg.seed)
    if x is None and cfg.input not in INPUT_KINDS:
        cfg, x = fit_to_data(cfg, load_input(cfg.input, force=cfg.force), batch_given=False)
    if x is None:
        x = make_input(cfg.input, cfg.batch, cfg.resolved_input_dim, rngs["input"], dtype)
    elif x.shape != (cfg.batch, cfg.resolved_input_dim):
        raise ConfigError(f"the input has shape {x.shape}, expected ({cfg.batch}, {cfg.resolved_input_dim})")
    x = as_dtype(preprocess(x, cfg.preprocess), dtype)  # (preprocessed in float64: data float32 cannot hold)
    spec = NetworkSpec(
        dims=(cfg.resolved_input_dim, *cfg.widths), act=act, init=init, gain=cfg.gain,
        bias_std=cfg.bias_std, batchnorm=cfg.batchnorm, dropout=cfg.dropout,
        dropout_mode=cfg.dropout_mode, dtype=dtype,
    )
    # --hist-range is for the layers' activations (as the lectures' (0, 1) plots); the input keeps its own
    # range. The input's statistics are taken while the first layer's weights are drawn.
    inputs: list[LayerStats] = []

    def input_statistics() -> None:
        inputs.append(layer_stats(x, None, None, cfg.bins, None))

    results: list[LayerResult] = []
    caches: list[LayerCache] = []
    out = x
    total = spec.depth * (2 if cfg.grad else 1)
    keep_u = keeps_u(act, spec.batchnorm, spec.dropout)

    def add_result(index: int, symmetric: bool, lsuv_iters: int, st: LayerStats, pre: MomentStats) -> None:
        if st.dead_frac is not None and not dead_judged(cfg.batch):
            st = replace(st, dead_frac=None)  # too few examples to tell a dead unit from a live one
        results.append(LayerResult(index, spec.dims[index], st, pre, symmetric, lsuv_iters))
        if on_layer is not None:
            on_layer(len(results), total)

    # small float32 layers: each layer's statistics on a helper thread while the next layer's product runs
    # (on one BLAS thread, so that the two do not fight for the cores); see overlap_statistics
    overlap = overlap_statistics(spec, cfg.batch) if prefetch else None
    arrays: dict[int, tuple[Array, Array]] = {}
    helper = _Helper(lambda l: layer_and_pre_stats(*arrays.pop(l), act, cfg.bins, cfg.hist_range)) \
        if overlap is not None else None
    waiting: tuple[int, bool, int] | None = None
    try:
        with overlap if overlap is not None else contextlib.nullcontext():
            for tr in forward(spec, x, rngs["weights"], rngs["dropout"], keep=cfg.grad, prefetch=prefetch,
                              meanwhile=input_statistics):
                if helper is None:
                    add_result(tr.index, tr.symmetric, tr.lsuv_iters,
                               *layer_and_pre_stats(tr.h, tr.u, act, cfg.bins, cfg.hist_range))
                else:
                    if waiting is not None:
                        add_result(*waiting, *helper.result())
                    arrays[tr.index] = (tr.h, tr.u)
                    helper.submit(tr.index)
                    waiting = (tr.index, tr.symmetric, tr.lsuv_iters)
                if cfg.grad:
                    u = tr.u if keep_u else None  # (else the derivative comes from h, kept as the next layer's x)
                    caches.append(LayerCache(tr.x, tr.W, u, tr.mask, tr.bn.inv_std if tr.bn else None,
                                             tr.b is not None))
                    out = tr.out
                del tr
            if waiting is not None:
                add_result(*waiting, *helper.result())  # type: ignore[union-attr]
    finally:
        if helper is not None:
            helper.close()  # (a layer's statistics under way finish first)
    input_stats = inputs[0]
    thresholds = default_thresholds() | cfg.thresholds
    facts = [LayerFacts(r.index, r.stats, r.symmetric) for r in results]
    # random inputs have equal feature scales by construction; the user's data may not
    ratio = feature_scale_ratio(x) if cfg.input not in INPUT_KINDS else None
    warnings = diagnose(input_stats.moments, facts, act, thresholds, ratio, user_data=cfg.input not in INPUT_KINDS,
                        batch=cfg.batch)
    notes = []
    if act.can_die and not dead_judged(cfg.batch):
        notes.append(f"dead units are not judged: a batch of {cfg.batch} (under {MIN_DEAD_BATCH}) cannot tell a dead"
                     " unit from one that is merely 0 on these examples; dead % is null")
    if cfg.dropout > 0:
        notes.append("statistics describe each layer's activations before dropout; the next layer receives"
                     " them after dropout (" + dropout_description(cfg.dropout, cfg.dropout_mode) + ")")
    if cfg.theory:
        notes += attach_theory(cfg, spec, x, results, thresholds)
    if cfg.grad:
        head = make_loss(cfg.loss, out, spec, rngs["loss"], rngs["weights"], cfg.classes)
        grads: list[GradStats] = []
        layers = backward(spec, caches, head.d_out, out)
        del out
        for g, c in layers:
            grads.append(grad_stats(g, c, cfg.lr, cfg.bins))
            del g, c
            if on_layer is not None:
                on_layer(spec.depth + len(grads), total)
        grads = with_ratios(grads[::-1])
        for r, g in zip(results, grads):
            r.grad = g
        warnings += diagnose_gradients(grads, act, thresholds)
        notes.append(f"backward pass from the {cfg.loss} loss = {head.value:.6g}"
                     + ("; dL/dh includes dropout's mask" if cfg.dropout > 0 else ""))
    warnings = mark_borderline(assign_fixes(cfg, act, warnings), cfg.widths)
    return ProbeResult(config_dict(cfg, act, init), thresholds, input_stats, results, warnings,
                       act.saturation_rule, notes)
