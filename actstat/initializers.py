"""Weight initialisers. W has shape (fan_in, fan_out); biases are 0 unless asked.

Every initialiser draws in float64 and the result is cast to the network's dtype, so
``--dtype float32`` and ``--dtype float64`` see the same weights (rounded): comparing the
two shows the effect of precision alone.

Two names are easy to confuse, and both are kept:

* ``xavier`` is the lectures' definition, N(0, 1/fan_in) (CS231n's
  ``randn(fan_in, fan_out) / sqrt(fan_in)``).
* ``glorot_normal`` is Glorot & Bengio's paper and PyTorch's ``xavier_normal_``,
  N(0, 2/(fan_in + fan_out)). The two coincide for square layers.

``he`` (alias ``kaiming``) is N(0, 2/fan_in), i.e. std sqrt(2/fan_in), CS231n's
``randn / sqrt(fan_in/2)``. Some lecture notes misprint it as std 2/sqrt(fan_in): that
is wrong (it is sqrt(2) times too large, and explodes a deep ReLU network).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .activations import Activation
from .errors import ConfigError
from .names import exact, parse_spec
from .native import in_child, qr_q_diag

Array = np.ndarray

# Keras' truncated-normal variants divide the std by this before truncating at 2 std,
# so that the truncated distribution has the intended std.
TRUNC_STD_CORRECTION = 0.87962566103423978


@dataclass(frozen=True)
class InitContext:
    """What an initialiser may look at besides the shape."""

    act: Activation
    param: float | None
    bias_std: float = 0.0  # --init critical depends on it


Sampler = Callable[[int, int, np.random.Generator, np.dtype, InitContext], Array]
SigmaW = Callable[[int, int, InitContext], float | None]


@dataclass(frozen=True)
class Initializer:
    """One initialiser.

    sample(fan_in, fan_out, rng, dtype, ctx) -> W of shape (fan_in, fan_out).
    sigma_w(fan_in, fan_out, ctx): when W ~ N(0, sigma_w^2 / fan_in) exactly, that
    sigma_w (what the infinite-width theory needs); None for any other distribution.
    data_dependent: scaled on the probe batch after sampling (LSUV).
    """

    name: str
    formula: str
    sample: Sampler
    sigma_w: SigmaW
    param_meaning: str | None = None
    default_param: float | None = None
    data_dependent: bool = False
    std_formula: Callable[[int, int, InitContext], float] | None = None


def _normal(std: Callable[[int, int, InitContext], float]) -> Sampler:
    def sample(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: np.dtype, ctx: InitContext) -> Array:
        W = rng.standard_normal((fan_in, fan_out))
        W *= std(fan_in, fan_out, ctx)
        return W

    return sample


def _uniform(bound: Callable[[int, int, InitContext], float]) -> Sampler:
    def sample(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: np.dtype, ctx: InitContext) -> Array:
        r = bound(fan_in, fan_out, ctx)
        W = rng.random((fan_in, fan_out))
        W *= 2.0 * r
        W -= r
        return W

    return sample


def _truncated(std: Callable[[int, int, InitContext], float], corrected: bool) -> Sampler:
    """Normal truncated at 2 std (redrawn outside), as Keras' TruncatedNormal."""

    def sample(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: np.dtype, ctx: InitContext) -> Array:
        W = rng.standard_normal((fan_in, fan_out))
        bad = np.abs(W) > 2.0
        while bad.any():
            W[bad] = rng.standard_normal(int(bad.sum()))
            bad = np.abs(W) > 2.0
        s = std(fan_in, fan_out, ctx)
        W *= s / TRUNC_STD_CORRECTION if corrected else s
        return W

    return sample


def orthogonal(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: np.dtype, gain: float) -> Array:
    """A (semi-)orthogonal matrix times gain (Saxe et al. 2014), as torch's orthogonal_."""
    big, small = max(fan_in, fan_out), min(fan_in, fan_out)
    A = rng.standard_normal((big, small))
    # np.linalg.qr(A), a large one in a child process that Ctrl-C stops at once (see actstat.native)
    q, d = qr_q_diag(A)
    del A
    q *= np.sign(d)  # makes the distribution uniform (Haar)
    W = q if fan_in >= fan_out else q.T
    return W * gain


def _orth_sample(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: np.dtype, ctx: InitContext) -> Array:
    return orthogonal(fan_in, fan_out, rng, dtype, 1.0 if ctx.param is None else ctx.param)


def _lsuv_sample(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: np.dtype, ctx: InitContext) -> Array:
    return orthogonal(fan_in, fan_out, rng, dtype, 1.0)


def _zeros(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: np.dtype, ctx: InitContext) -> Array:
    return np.zeros((fan_in, fan_out))


def _constant(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: np.dtype, ctx: InitContext) -> Array:
    return np.full((fan_in, fan_out), ctx.param)


def _uniform01(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: np.dtype, ctx: InitContext) -> Array:
    return rng.random((fan_in, fan_out))


def _random_walk_gain(fan_in: int, ctx: InitContext) -> float:
    # Sussillo & Abbott 2014: the gain that keeps the log-norm of a random walk
    # through depth from drifting.
    if ctx.act.name in ("relu", "leaky_relu", "maxout"):
        return math.sqrt(2.0) * math.exp(1.2 / (max(fan_in, 6) - 2.4))
    return math.exp(1.0 / (2.0 * fan_in)) * ctx.act.gain


def _critical(ctx: InitContext) -> float:
    from .theory import cached_critical_sigma_w

    s = cached_critical_sigma_w(ctx.act, ctx.bias_std)
    if s is None:
        raise ConfigError(f"--init critical: {ctx.act.spec} has no critical sigma_w at --bias-std"
                          f" {ctx.bias_std:g} (no sigma_w makes chi_1 = 1); try another --bias-std")
    return s


def _none(fan_in: int, fan_out: int, ctx: InitContext) -> float | None:
    return None


def _fan_in_scaled(scale: float) -> SigmaW:
    """sigma_w for W ~ N(0, scale/fan_in): sqrt(scale)."""

    def sigma(fan_in: int, fan_out: int, ctx: InitContext) -> float | None:
        return math.sqrt(scale)

    return sigma


def _std_param(fan_in: int, fan_out: int, ctx: InitContext) -> float:
    assert ctx.param is not None
    return ctx.param


def _glorot_std(fan_in: int, fan_out: int, ctx: InitContext) -> float:
    return math.sqrt(2.0 / (fan_in + fan_out))


def _glorot_sigma(fan_in: int, fan_out: int, ctx: InitContext) -> float | None:
    # N(0, 2/(fi+fo)) is of the form N(0, s^2/fan_in) with s^2 = 2 fi/(fi+fo)
    return math.sqrt(2.0 * fan_in / (fan_in + fan_out))


def _fan(scale: float) -> Callable[[int, int, InitContext], float]:
    def std(fan_in: int, fan_out: int, ctx: InitContext) -> float:
        return math.sqrt(scale / fan_in)

    return std


INITIALIZERS: dict[str, Initializer] = {
    "zeros": Initializer("zeros", "W = 0 (symmetry is never broken)", _zeros, _none),
    "constant": Initializer(
        "constant", "W = c everywhere (c from constant:C, default 0.01)", _constant, _none,
        param_meaning="value c", default_param=0.01,
    ),
    "uniform01": Initializer(
        "uniform01", "W ~ U[0, 1) (ignores negative weights)", _uniform01, _none,
    ),
    "uniform": Initializer(
        "uniform", "W ~ U(-r, r), r from uniform:R, default r = 1/sqrt(fan_in)",
        _uniform(lambda fi, fo, c: 1.0 / math.sqrt(fi) if c.param is None else c.param), _none,
        param_meaning="half-width r",
    ),
    "normal": Initializer(
        "normal", "W ~ N(0, s^2), s from normal:S (default 1.0; 0.01 'small', 0.001 as in AlexNet)",
        _normal(_std_param), lambda fi, fo, c: (c.param or 0.0) * math.sqrt(fi),
        param_meaning="std s", default_param=1.0, std_formula=_std_param,
    ),
    "small": Initializer(
        "small", "W ~ N(0, 0.01^2) (same as normal:0.01)",
        _normal(lambda fi, fo, c: 0.01), lambda fi, fo, c: 0.01 * math.sqrt(fi),
        std_formula=lambda fi, fo, c: 0.01,
    ),
    "xavier": Initializer(
        "xavier", "W ~ N(0, 1/fan_in) (the lectures' Xavier: randn / sqrt(fan_in))",
        _normal(_fan(1.0)), _fan_in_scaled(1.0), std_formula=_fan(1.0),
    ),
    "glorot_normal": Initializer(
        "glorot_normal", "W ~ N(0, 2/(fan_in + fan_out)) (Glorot's paper, torch xavier_normal_)",
        _normal(_glorot_std), _glorot_sigma, std_formula=_glorot_std,
    ),
    "glorot_uniform": Initializer(
        "glorot_uniform", "W ~ U(-r, r), r = sqrt(6/(fan_in + fan_out)) (torch xavier_uniform_)",
        _uniform(lambda fi, fo, c: math.sqrt(6.0 / (fi + fo))), _none,
    ),
    "lecun_normal": Initializer(
        "lecun_normal", "W ~ N(0, 1/fan_in) (LeCun 1998; the same law as xavier here)",
        _normal(_fan(1.0)), _fan_in_scaled(1.0), std_formula=_fan(1.0),
    ),
    "lecun_uniform": Initializer(
        "lecun_uniform", "W ~ U(-r, r), r = sqrt(3/fan_in)",
        _uniform(lambda fi, fo, c: math.sqrt(3.0 / fi)), _none,
    ),
    "he": Initializer(
        "he", "W ~ N(0, 2/fan_in), std sqrt(2/fan_in) (not 2/sqrt(fan_in), a common misprint)",
        _normal(_fan(2.0)), _fan_in_scaled(2.0), std_formula=_fan(2.0),
    ),
    "he_uniform": Initializer(
        "he_uniform", "W ~ U(-r, r), r = sqrt(6/fan_in)",
        _uniform(lambda fi, fo, c: math.sqrt(6.0 / fi)), _none,
    ),
    "pytorch": Initializer(
        "pytorch",
        "W ~ U(-r, r), r = 1/sqrt(fan_in): torch nn.Linear's default (kaiming_uniform_ with a = sqrt(5));"
        " nn.Linear also draws its bias from that range, here bias stays --bias-std",
        _uniform(lambda fi, fo, c: 1.0 / math.sqrt(fi)), _none,
    ),
    "truncated_normal": Initializer(
        "truncated_normal", "W ~ N(0, s^2) truncated at 2s, s from truncated_normal:S (default 0.05, Keras)",
        _truncated(_std_param, corrected=False), _none, param_meaning="std s before truncation",
        default_param=0.05,
    ),
    "he_truncated": Initializer(
        "he_truncated", "Keras he_normal: N(0, 2/fan_in) std / 0.8796, truncated at 2 std",
        _truncated(_fan(2.0), corrected=True), _none,
    ),
    "lecun_truncated": Initializer(
        "lecun_truncated", "Keras lecun_normal: N(0, 1/fan_in) std / 0.8796, truncated at 2 std",
        _truncated(_fan(1.0), corrected=True), _none,
    ),
    "glorot_truncated": Initializer(
        "glorot_truncated", "Keras glorot_normal: N(0, 2/(fan_in+fan_out)) std / 0.8796, truncated at 2 std",
        _truncated(_glorot_std, corrected=True), _none,
    ),
    "orthogonal": Initializer(
        "orthogonal", "W = g Q, Q (semi-)orthogonal from the QR of a Gaussian matrix (Saxe et al. 2014),"
        " g from orthogonal:G (default 1; torch gains: tanh 5/3, relu sqrt(2), selu 3/4)",
        _orth_sample, _none, param_meaning="gain g", default_param=1.0,
    ),
    "critical": Initializer(
        "critical", "W ~ N(0, s^2/fan_in), s the sigma_w that makes the activation critical (chi_1 = 1,"
        " Schoenholz et al. 2017) at --bias-std: sqrt(2) for relu, 1 for tanh without bias",
        _normal(lambda fi, fo, c: _critical(c) / math.sqrt(fi)), lambda fi, fo, c: _critical(c),
        std_formula=lambda fi, fo, c: _critical(c) / math.sqrt(fi),
    ),
    "lsuv": Initializer(
        "lsuv", "orthogonal, then each layer rescaled in turn until its pre-activation variance on"
        " the probe batch is 1 (within 0.1, at most 10 passes; Mishkin & Matas 2016)",
        _lsuv_sample, _none, data_dependent=True,
    ),
    "random_walk": Initializer(
        "random_walk", "W ~ N(0, g^2/fan_in), g = sqrt(2) exp(1.2/(max(fan_in, 6) - 2.4)) for ReLU-like,"
        " else exp(1/(2 fan_in)) times the activation's gain (Sussillo & Abbott 2014)",
        _normal(lambda fi, fo, c: _random_walk_gain(fi, c) / math.sqrt(fi)),
        lambda fi, fo, c: _random_walk_gain(fi, c),
        std_formula=lambda fi, fo, c: _random_walk_gain(fi, c) / math.sqrt(fi),
    ),
}
INIT_ALIASES = {"kaiming": "he", "kaiming_uniform": "he_uniform", "xavier_uniform": "glorot_uniform"}

# parameters that must be positive (a std, a half-width, a gain)
_POSITIVE = {"normal", "uniform", "truncated_normal", "orthogonal"}


@dataclass(frozen=True)
class InitSpec:
    """A resolved ``--init NAME[:PARAM]``."""

    init: Initializer
    param: float | None

    @property
    def spec(self) -> str:
        if self.init.param_meaning is None or self.param is None:
            return self.init.name
        return f"{self.init.name}:{exact(self.param)}"


def get_initializer(spec: str) -> InitSpec:
    """Look up ``NAME[:PARAM]`` (e.g. ``normal:0.01``, ``orthogonal:1.0``)."""
    name, value = parse_spec(
        "init", spec, INITIALIZERS, INIT_ALIASES, lambda n: INITIALIZERS[n].param_meaning is not None
    )
    init = INITIALIZERS[name]
    if value is None:
        return InitSpec(init, init.default_param)
    if name in _POSITIVE and value <= 0:
        raise ConfigError(f"the {init.param_meaning} of init '{name}' must be > 0, got {value:g}")
    return InitSpec(init, value)


def draws_in_child(spec: InitSpec, fan_in: int, fan_out: int) -> bool:
    """Whether drawing a (fan_in, fan_out) matrix from this thread runs a large QR in a child process
    (actstat.native): then no other thread may be inside BLAS meanwhile (see network.forward)."""
    return spec.init.sample in (_orth_sample, _lsuv_sample) and in_child(fan_in * fan_out)


def sample_weights(
    spec: InitSpec, fan_in: int, fan_out: int, rng: np.random.Generator, dtype: np.dtype,
    act: Activation, gain: float = 1.0, bias_std: float = 0.0,
) -> Array:
    """Draw W (fan_in, fan_out) in ``dtype``; ``gain`` multiplies any init."""
    with np.errstate(over="ignore"):  # scales near the float limits give inf weights: an exploding network
        W = spec.init.sample(fan_in, fan_out, rng, np.dtype(dtype), InitContext(act, spec.param, bias_std))
        if gain != 1.0:
            W *= gain
        return W.astype(dtype, copy=False)
