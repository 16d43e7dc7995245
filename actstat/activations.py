"""Activation functions, each next to its derivative.

Every activation maps a pre-activation matrix ``z`` of shape (batch, width * pieces)
to ``h`` of shape (batch, width). Only maxout has ``pieces > 1``: it takes the max
of ``k`` linear pieces, so its layer has ``k`` times the weights.

All functions keep the input's dtype (float32 stays float32): constants are Python
floats, never NumPy float64 scalars, which NumPy 2 would promote.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .errors import ConfigError
from .names import exact, parse_spec

Array = np.ndarray

_SQRT2 = math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRTPI = 2.0 / math.sqrt(math.pi)

# SELU constants (Klambauer et al. 2017)
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


# --- erf, vectorised, to double precision -------------------------------------------
# NumPy has no erf and SciPy is not a runtime dependency. A Taylor series is accurate
# for |x| <= 2.5 (largest term ~ e^(x^2) ~ 5e2, so ~1e-13 absolute); a continued
# fraction for erfc covers the tails (relative accuracy there too, for Phi(-x));
# beyond |x| = 6, erf is +-1 in double precision.

_SERIES_TERMS = 60
_CF_TERMS = 60


def _erfc_tail(ax: Array) -> Array:
    """erfc(x) for 2.5 < x < 6 by its continued fraction (relative accuracy ~1e-15)."""
    # erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
    frac = np.zeros_like(ax)
    for n in range(_CF_TERMS, 0, -1):
        frac = (n / 2.0) / (ax + frac)
    return np.exp(-ax * ax) / math.sqrt(math.pi) / (ax + frac)


def _erf_series(x: Array) -> Array:
    x2 = x * x
    term = x.copy()
    total = x.copy()
    for n in range(1, _SERIES_TERMS):
        term *= -x2 / n
        total += term / (2 * n + 1)
    return _TWO_OVER_SQRTPI * total


def _float_dtype(x: Array) -> np.dtype:
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)


def erf(x: Array) -> Array:
    """Error function of an array, elementwise, in the array's float dtype."""
    x = np.asarray(x)
    xd = x.astype(np.float64, copy=False)
    out = np.sign(xd)  # |x| >= 6: erf is +-1 in double precision; NaN stays NaN
    ax = np.abs(xd)
    small = ax <= 2.5
    if small.any():
        out[small] = _erf_series(xd[small])
    mid = (~small) & (ax < 6.0)
    if mid.any():
        out[mid] = np.copysign(1.0 - _erfc_tail(ax[mid]), xd[mid])
    return out.astype(_float_dtype(x), copy=False)


def normal_cdf(x: Array) -> Array:
    """Standard normal CDF Phi(x), elementwise, accurate in the left tail too."""
    x = np.asarray(x)
    xd = x.astype(np.float64, copy=False)
    u = xd / _SQRT2
    out = 0.5 * (1.0 + np.sign(u))
    au = np.abs(u)
    small = au <= 2.5
    if small.any():
        out[small] = 0.5 * (1.0 + _erf_series(u[small]))
    mid = (~small) & (au < 27.0)  # erfc underflows to 0 beyond ~26.5
    if mid.any():
        tail = 0.5 * _erfc_tail(au[mid])  # Phi(-|x|)
        out[mid] = np.where(u[mid] < 0, tail, 1.0 - tail)
    return out.astype(_float_dtype(x), copy=False)


def normal_pdf(x: Array) -> Array:
    """Standard normal density phi(x), elementwise."""
    x = np.asarray(x)
    return _INV_SQRT2PI * np.exp(-0.5 * x * x)


# --- the Activation record -----------------------------------------------------------


@dataclass(frozen=True)
class Activation:
    """One nonlinearity.

    f(z) -> h and df(z) -> dh/dz are elementwise for every activation but maxout,
    whose ``forward``/``backward`` handle the reduction over pieces.

    bounds: the output range when the function is bounded (histogram range).
    saturated(z, h) -> bool mask: where the derivative is ~0, per ``saturation_rule``.
    df_out(h): df(z) from h = f(z), for the activations where that is exact (tanh, sigmoid, relu, ...).
    gain: torch.nn.init.calculate_gain's value (used by --init orthogonal and friends).
    """

    name: str
    f: Callable[[Array], Array]
    df: Callable[[Array], Array]
    formula: str
    param: float | None = None
    pieces: int = 1
    bounds: tuple[float, float] | None = None
    saturated: Callable[[Array, Array], Array] | None = None
    saturation_rule: str | None = None
    can_die: bool = False
    gain: float = 1.0
    spec: str = field(default="")
    # df through the output, where that is the same computation as df(z) given h = f(z) (bit for bit):
    # the backward pass then needs no z, only h, which it keeps anyway as the next layer's input
    df_out: Callable[[Array], Array] | None = None

    def forward(self, z: Array) -> Array:
        """z: (batch, width * pieces) -> h: (batch, width)."""
        if self.pieces == 1:
            return self.f(z)
        b, m = z.shape
        return z.reshape(b, m // self.pieces, self.pieces).max(axis=2)

    def backward(self, dh: Array, z: Array) -> Array:
        """dh: (batch, width), z: the forward input -> dz: (batch, width * pieces)."""
        if self.pieces == 1:
            return dh * self.df(z)
        b, m = z.shape
        k = self.pieces
        zr = z.reshape(b, m // k, k)
        # The gradient flows to the winning piece only (first one on ties).
        win = zr.argmax(axis=2)
        dz = np.zeros_like(zr)
        np.put_along_axis(dz, win[..., None], dh[..., None], axis=2)
        return dz.reshape(b, m)


# --- elementwise definitions ---------------------------------------------------------


def _sigmoid(z: Array) -> Array:
    # exp of a non-positive number only: no overflow, and relative accuracy in both tails
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _dsigmoid(z: Array) -> Array:
    return _dsigmoid_out(_sigmoid(z))


def _dsigmoid_out(h: Array) -> Array:
    return h * (1.0 - h)


def _tanh(z: Array) -> Array:
    return np.tanh(z)


def _dtanh(z: Array) -> Array:
    return _dtanh_out(np.tanh(z))


def _dtanh_out(h: Array) -> Array:
    return 1.0 - h * h


def _linear(z: Array) -> Array:
    return z


def _dlinear(z: Array) -> Array:
    return np.ones_like(z)


def _relu(z: Array) -> Array:
    return np.maximum(z, 0.0, dtype=z.dtype)


def _drelu(z: Array) -> Array:
    # derivative at exactly 0 taken as 0, as in the lectures' code (and max(0, z) > 0 iff z > 0)
    return (z > 0).astype(z.dtype)


def _softplus(z: Array) -> Array:
    return np.maximum(z, 0.0, dtype=z.dtype) + np.log1p(np.exp(-np.abs(z)))


def _gelu(z: Array) -> Array:
    return z * normal_cdf(z)


def _dgelu(z: Array) -> Array:
    return normal_cdf(z) + z * normal_pdf(z)


def _silu(z: Array) -> Array:
    return z * _sigmoid(z)


def _dsilu(z: Array) -> Array:
    s = _sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def _make_leaky(a: float) -> tuple[Callable[[Array], Array], Callable[[Array], Array]]:
    def f(z: Array) -> Array:
        return np.where(z > 0, z, a * z)

    def df(z: Array) -> Array:  # (also df from h: for 0 <= a < 1, h > 0 iff z > 0)
        return np.where(z > 0, 1.0, a).astype(z.dtype)

    return f, df


def _make_elu(alpha: float, scale: float = 1.0) -> tuple[Callable[[Array], Array], Callable[[Array], Array]]:
    sa = scale * alpha

    def f(z: Array) -> Array:
        return np.where(z > 0, scale * z, sa * np.expm1(np.minimum(z, 0.0, dtype=z.dtype)))

    def df(z: Array) -> Array:
        return np.where(z > 0, scale, sa * np.exp(np.minimum(z, 0.0, dtype=z.dtype))).astype(z.dtype)

    return f, df


# Saturation: where the derivative is ~0. Thresholds are stated in every output.
SAT_TANH = 0.99  # |h| > 0.99  <=>  tanh' < 0.0199
SAT_SIGMOID = 0.01  # h < 0.01 or h > 0.99  <=>  sigmoid' < 0.0099
SAT_EXP_Z = math.log(0.01)  # elu/selu/softplus: z < ln 0.01 = -4.61, derivative < 1% of its peak
# Where |derivative| falls below 0.01 for good on the negative side (solved numerically,
# checked in tests/test_activations.py).
SAT_GELU_Z = -3.0674
SAT_SILU_Z = -6.2614


def _sat_tanh(z: Array, h: Array) -> Array:
    return np.abs(h) > SAT_TANH


def _sat_sigmoid(z: Array, h: Array) -> Array:
    return (h < SAT_SIGMOID) | (h > 1.0 - SAT_SIGMOID)


def _sat_below(threshold: float) -> Callable[[Array, Array], Array]:
    def sat(z: Array, h: Array) -> Array:
        return z < threshold

    return sat


def _build(name: str, param: float | None) -> Activation:
    if name == "linear":
        return Activation("linear", _linear, _dlinear, "h = z", gain=1.0, df_out=_dlinear)
    if name == "sigmoid":
        return Activation(
            "sigmoid", _sigmoid, _dsigmoid, "h = 1 / (1 + exp(-z))", bounds=(0.0, 1.0),
            saturated=_sat_sigmoid, saturation_rule=f"h < {SAT_SIGMOID:g} or h > {1 - SAT_SIGMOID:g}",
            gain=1.0, df_out=_dsigmoid_out,
        )
    if name == "tanh":
        return Activation(
            "tanh", _tanh, _dtanh, "h = tanh(z)", bounds=(-1.0, 1.0), saturated=_sat_tanh,
            saturation_rule=f"|h| > {SAT_TANH:g}", gain=5.0 / 3.0, df_out=_dtanh_out,
        )
    if name == "relu":
        return Activation("relu", _relu, _drelu, "h = max(0, z)", can_die=True, gain=math.sqrt(2.0), df_out=_drelu)
    if name == "leaky_relu":
        a = 0.01 if param is None else param
        if not 0.0 <= a < 1.0:
            raise ConfigError(f"leaky_relu slope must be in [0, 1), got {a:g}")
        f, df = _make_leaky(a)
        return Activation(
            "leaky_relu", f, df, f"h = z if z > 0 else {a:g} z", param=a, can_die=(a == 0.0),
            gain=math.sqrt(2.0 / (1.0 + a * a)), df_out=df,
        )
    if name == "elu":
        alpha = 1.0 if param is None else param
        if alpha <= 0:
            raise ConfigError(f"elu alpha must be > 0, got {alpha:g}")
        f, df = _make_elu(alpha)
        return Activation(
            "elu", f, df, f"h = z if z > 0 else {alpha:g} (exp(z) - 1)", param=alpha,
            saturated=_sat_below(SAT_EXP_Z), saturation_rule=f"z < {SAT_EXP_Z:.3g} (derivative < 1% of alpha)",
            gain=1.0,
        )
    if name == "selu":
        f, df = _make_elu(SELU_ALPHA, SELU_SCALE)
        return Activation(
            "selu", f, df, "h = 1.0507 (z if z > 0 else 1.6733 (exp(z) - 1))",
            saturated=_sat_below(SAT_EXP_Z),
            saturation_rule=f"z < {SAT_EXP_Z:.3g} (derivative < 1% of its peak)", gain=0.75,
        )
    if name == "gelu":
        return Activation(
            "gelu", _gelu, _dgelu, "h = z Phi(z) (exact erf form)", saturated=_sat_below(SAT_GELU_Z),
            saturation_rule=f"z < {SAT_GELU_Z:.3g} (|derivative| < 0.01)", gain=1.0,
        )
    if name == "silu":
        return Activation(
            "silu", _silu, _dsilu, "h = z sigmoid(z)", saturated=_sat_below(SAT_SILU_Z),
            saturation_rule=f"z < {SAT_SILU_Z:.3g} (|derivative| < 0.01)", gain=1.0,
        )
    if name == "softplus":
        return Activation(
            "softplus", _softplus, _sigmoid, "h = log(1 + exp(z))", saturated=_sat_below(SAT_EXP_Z),
            saturation_rule=f"z < {SAT_EXP_Z:.3g} (derivative < 0.01)", gain=1.0,
        )
    if name == "maxout":
        k = 2.0 if param is None else param
        if k != int(k) or not 2 <= k <= 64:
            raise ConfigError(f"maxout pieces must be a whole number from 2 to 64, got {k:g}")
        return Activation(
            "maxout", _linear, _dlinear, f"h = max of {int(k)} linear pieces (k times the weights)",
            param=float(int(k)), pieces=int(k), gain=1.0,
        )
    raise AssertionError(name)  # pragma: no cover - guarded by ACTIVATIONS


# name -> (default parameter or None when the activation takes none, parameter meaning)
ACTIVATIONS: dict[str, tuple[float | None, str | None]] = {
    "linear": (None, None),
    "sigmoid": (None, None),
    "tanh": (None, None),
    "relu": (None, None),
    "leaky_relu": (0.01, "negative slope"),
    "elu": (1.0, "alpha"),
    "selu": (None, None),
    "gelu": (None, None),
    "silu": (None, None),
    "softplus": (None, None),
    "maxout": (2.0, "pieces k"),
}
ACTIVATION_ALIASES = {"swish": "silu"}


def get_activation(spec: str) -> Activation:
    """Look up ``NAME[:PARAM]`` (e.g. ``leaky_relu:0.1``, ``maxout:3``)."""
    name, value = parse_spec(
        "activation", spec, ACTIVATIONS, ACTIVATION_ALIASES, lambda n: ACTIVATIONS[n][1] is not None
    )
    default, meaning = ACTIVATIONS[name]
    act = _build(name, default if value is None else value)
    canonical = name if meaning is None else f"{name}:{exact(act.param)}"
    return _with_spec(act, canonical)


def _with_spec(act: Activation, spec: str) -> Activation:
    from dataclasses import replace

    return replace(act, spec=spec)
