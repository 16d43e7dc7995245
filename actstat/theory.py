"""Infinite-width theory (Poole et al. 2016; Schoenholz et al. 2017). Pure numpy.

With W_ij ~ N(0, sigma_w^2 / fan_in) and b ~ N(0, sigma_b^2), each pre-activation is Gaussian with
variance q^l over the randomness of the weights, and

    q^1 = sigma_w^2 q_0 + sigma_b^2                       (q_0: the inputs' mean square)
    q^l = sigma_w^2 E[phi(sqrt(q^{l-1}) z)^2] + sigma_b^2,    z ~ N(0, 1)

The activations' mean is E[phi(sqrt(q) z)], their std sqrt(E[phi^2] - E[phi]^2); the backward pass
multiplies the mean square of dL/dh by sigma_w^2 E[phi'(sqrt(q) z)^2] (times the width ratio) per
layer; chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2] at the fixed point q* tells ordered (< 1), critical
(= 1) or chaotic (> 1).

Expectations: closed forms for linear, relu and leaky_relu; otherwise composite Gauss-Legendre
quadrature in z, split at 0 (the kink of elu/selu, the steep part of tanh/sigmoid at large q), with
panels that shrink geometrically towards 0 on the scale 1/sqrt(q) and cover |z| <= 12. Plain
Gauss-Hermite quadrature is visibly wrong for saturating activations at large q and kinked ones.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .activations import Activation

Array = np.ndarray

Z_MAX = 12.0  # the normal density below exp(-72): nothing beyond matters at 1e-6
GL_NODES = 24
CRITICAL_TOL = 1e-3  # |chi_1 - 1| below this: critical
Q_OVERFLOW = 1e300


@functools.lru_cache(maxsize=64)
def _panels(scale: float, nodes: int = GL_NODES) -> tuple[Array, Array]:
    """Gauss-Legendre nodes and weights for z in [0, Z_MAX], panels refined towards 0 on ``scale``."""
    geometric = scale * np.geomspace(1e-3, 1.0, 13)
    uniform = np.arange(0.0, Z_MAX + 1e-9, 0.25)
    near = scale * np.arange(0.0, 8.0 + 1e-9, 0.25)
    edges = np.unique(np.concatenate([[0.0], geometric, uniform, near[near < Z_MAX], [Z_MAX]]))
    x, w = np.polynomial.legendre.leggauss(nodes)
    a, b = edges[:-1, None], edges[1:, None]
    nodes = (0.5 * (b - a) * x + 0.5 * (b + a)).ravel()
    weights = (0.5 * (b - a) * w).ravel()
    return nodes, weights * np.exp(-0.5 * nodes * nodes) / math.sqrt(2.0 * math.pi)


def gaussian_expectation(f: Callable[[Array], Array], q: float) -> float:
    """E[f(sqrt(q) z)], z ~ N(0, 1), f vectorised."""
    s = math.sqrt(q)
    z, w = _panels(min(1.0, 1.0 / s) if s > 0 else 1.0)
    with np.errstate(all="ignore"):
        return float(np.dot(w, f(s * z)) + np.dot(w, f(-s * z)))


@dataclass(frozen=True)
class Moments:
    """E[phi], E[phi^2] and E[phi'^2] at one q."""

    mean: float
    second: float
    dphi2: float


def expectations(act: Activation, q: float) -> Moments:
    """E[phi(sqrt(q) z)], E[phi(sqrt(q) z)^2], E[phi'(sqrt(q) z)^2] for z ~ N(0, 1)."""
    if act.pieces > 1:
        raise ValueError("maxout has no single-variable mean-field map")
    q = float(q)
    name = act.name
    if name == "linear":
        return Moments(0.0, q, 1.0)
    if name in ("relu", "leaky_relu"):
        a = act.param if name == "leaky_relu" and act.param is not None else 0.0
        return Moments((1.0 - a) * math.sqrt(q / (2.0 * math.pi)), 0.5 * q * (1.0 + a * a), 0.5 * (1.0 + a * a))
    f, df = act.f, act.df
    return Moments(
        gaussian_expectation(f, q),
        gaussian_expectation(lambda x: np.square(f(x)), q),
        gaussian_expectation(lambda x: np.square(df(x)), q),
    )


# --- the variance map ---------------------------------------------------------------------------


@dataclass
class TheoryLayer:
    layer: int
    q: float  # pre-activation variance
    mean: float  # of the activations
    std: float
    chi: float  # sigma_w^2 E[phi'(sqrt(q) z)^2]: this layer's gradient factor
    grad_scale: float | None = None  # predicted RMS(dL/dh_l) / RMS(dL/dh_L)


def variance_map(act: Activation, sigma_w: float | Sequence[float], sigma_b: float, q0: float, layers: int,
                 widths: Sequence[int] | None = None) -> list[TheoryLayer]:
    """Predicted statistics of each layer. ``sigma_w`` may differ per layer (e.g. Glorot on non-square
    layers); ``widths`` = (input, layer 1, ..., layer L) for the gradient's width ratios."""
    sw = [float(sigma_w)] * layers if np.isscalar(sigma_w) else [float(s) for s in sigma_w]  # type: ignore[arg-type]
    out: list[TheoryLayer] = []
    prev_second = q0  # the inputs' mean square
    for l in range(1, layers + 1):
        q = sw[l - 1] ** 2 * prev_second + sigma_b ** 2
        if not math.isfinite(q) or q > Q_OVERFLOW:
            m = Moments(math.nan, math.inf, math.nan)
            q = math.inf
        else:
            m = expectations(act, q)
        var = max(m.second - m.mean * m.mean, 0.0)
        out.append(TheoryLayer(l, q, m.mean, math.sqrt(var), sw[l - 1] ** 2 * m.dphi2))
        prev_second = m.second
    # dh_{l-1} = W_l (dh_l * phi'(z_l)): mean square grows by chi_l * width_l / width_{l-1}
    scale = 1.0
    for l in range(layers, 0, -1):
        out[l - 1].grad_scale = math.sqrt(scale) if math.isfinite(scale) else None
        if l > 1:
            ratio = widths[l] / widths[l - 1] if widths is not None else 1.0
            scale *= out[l - 1].chi * ratio
    return out


def second_moment(act: Activation, q: float) -> float:
    """E[phi(sqrt(q) z)^2] alone (what the variance map needs)."""
    if act.name in ("linear", "relu", "leaky_relu"):
        return expectations(act, q).second
    f = act.f
    return gaussian_expectation(lambda x: np.square(f(x)), q)


def _map(act: Activation, sigma_w: float, sigma_b: float, q: float) -> float:
    return sigma_w ** 2 * second_moment(act, q) + sigma_b ** 2


def fixed_point(act: Activation, sigma_w: float, sigma_b: float, q0: float = 1.0, max_iter: int = 5000) -> float:
    """q* reached by iterating the map from q^1 = sigma_w^2 q0 + sigma_b^2 (inf when q grows without bound;
    the starting q itself where the map is the identity, as for ReLU at sigma_w = sqrt(2), sigma_b = 0)."""
    q = prev = sigma_w ** 2 * q0 + sigma_b ** 2
    for _ in range(max_iter):
        new = _map(act, sigma_w, sigma_b, q)
        if not math.isfinite(new) or new > Q_OVERFLOW:
            return math.inf
        if abs(new - q) <= 1e-13 * max(q, 1e-300) or new == q:
            return new
        if new < 1e-300:
            return 0.0
        q, prev = new, q
    # not converged: a slow drift (e.g. tanh at sigma_w = 1, sigma_b = 0 creeps to 0 like 1/l;
    # ReLU at sigma_w = sqrt(2) with a bias grows linearly): name its limit
    if q > prev:
        return math.inf
    return 0.0 if q < 1e-2 * (sigma_w ** 2 * q0 + sigma_b ** 2) else q


def chi1(act: Activation, sigma_w: float, q_star: float) -> float:
    """sigma_w^2 E[phi'(sqrt(q*) z)^2]; when q grows without bound, its limit (ReLU-like tails:
    E[phi'^2] tends to a constant, e.g. 1/2 for silu and gelu)."""
    if not math.isfinite(q_star):
        if act.name in ("relu", "leaky_relu", "linear"):
            return sigma_w ** 2 * expectations(act, 1.0).dphi2
        return sigma_w ** 2 * expectations(act, 1e12).dphi2
    return sigma_w ** 2 * expectations(act, q_star).dphi2


def phase(chi: float) -> str:
    if not math.isfinite(chi):
        return "undetermined"
    if abs(chi - 1.0) <= CRITICAL_TOL:
        return "critical"
    return "ordered" if chi < 1.0 else "chaotic"


def depth_scale_q(act: Activation, sigma_w: float, sigma_b: float, q_star: float) -> float | None:
    """xi_q: |q^l - q*| ~ exp(-l / xi_q), from the slope of the variance map at q* (None: no convergence)."""
    if not (math.isfinite(q_star) and q_star > 0):
        return None
    h = 1e-4 * q_star
    slope = (_map(act, sigma_w, sigma_b, q_star + h) - _map(act, sigma_w, sigma_b, q_star - h)) / (2 * h)
    if not 0 < slope < 1:
        return None
    return -1.0 / math.log(slope)


def _gauss_hermite_2d(n: int = 80) -> tuple[Array, Array]:
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / math.sqrt(2.0 * math.pi)


def correlation_fixed_point(act: Activation, sigma_w: float, sigma_b: float, q_star: float,
                            max_iter: int = 2000) -> float:
    """c*: the fixed point of the correlation map between two inputs (1 in the ordered phase)."""
    x, w = _gauss_hermite_2d()
    z1, z2 = np.meshgrid(x, x, indexing="ij")
    ww = np.outer(w, w)
    s = math.sqrt(q_star)
    c = 0.5
    with np.errstate(all="ignore"):
        for _ in range(max_iter):
            u1 = s * z1
            u2 = s * (c * z1 + math.sqrt(max(1.0 - c * c, 0.0)) * z2)
            new = (sigma_w ** 2 * float(np.sum(ww * act.f(u1) * act.f(u2))) + sigma_b ** 2) / q_star
            new = min(max(new, -1.0), 1.0)
            if abs(new - c) < 1e-12:
                return new
            c = new
    return c


def depth_scale_c(act: Activation, sigma_w: float, sigma_b: float, q_star: float, chi: float) -> float | None:
    """xi_c = -1 / ln(chi_c): the depth over which two inputs' correlation approaches c*. In the
    ordered phase c* = 1 and chi_c = chi_1; in the chaotic phase chi_c is taken at c* < 1 (2-D
    Gauss-Hermite quadrature, an estimate); infinite at criticality (None)."""
    if not (math.isfinite(q_star) and q_star > 0 and math.isfinite(chi)):
        return None
    if abs(chi - 1.0) <= CRITICAL_TOL:
        return None
    if chi < 1.0:
        return -1.0 / math.log(chi)
    c = correlation_fixed_point(act, sigma_w, sigma_b, q_star)
    x, w = _gauss_hermite_2d()
    z1, z2 = np.meshgrid(x, x, indexing="ij")
    s = math.sqrt(q_star)
    with np.errstate(all="ignore"):
        u1 = s * z1
        u2 = s * (c * z1 + math.sqrt(max(1.0 - c * c, 0.0)) * z2)
        chi_c = sigma_w ** 2 * float(np.sum(np.outer(w, w) * act.df(u1) * act.df(u2)))
    if not 0 < chi_c < 1:
        return None
    return -1.0 / math.log(chi_c)


def critical_sigma_w(act: Activation, sigma_b: float = 0.0) -> float | None:
    """The sigma_w with chi_1 = 1, or None when there is none.

    Parametrised by the fixed point itself (Schoenholz et al.): a fixed point q* > sigma_b^2 needs
    sigma_w^2(q*) = (q* - sigma_b^2) / E[phi(sqrt(q*) z)^2], and then chi_1(q*) = sigma_w^2(q*)
    E[phi'(sqrt(q*) z)^2]. Scan q* over a log grid for chi_1 = 1, refine by bisection; the limit
    q* -> sigma_b^2 (q* -> 0 without bias) counts when chi_1 tends to 1 there (tanh at sigma_b = 0).
    """
    if act.pieces > 1:
        return None
    if act.name in ("relu", "leaky_relu", "linear"):
        return 1.0 / math.sqrt(expectations(act, 1.0).dphi2)  # chi_1 does not depend on q here
    sb2 = sigma_b ** 2

    def along(q: float) -> tuple[float, float]:
        m = expectations(act, q)
        sw2 = (q - sb2) / m.second
        return sw2, sw2 * m.dphi2 - 1.0

    def reached(sw2: float) -> bool:
        """The fixed point the map reaches from q0 = 1 is critical (excludes unstable limits)."""
        sw = math.sqrt(sw2)
        c = chi1(act, sw, fixed_point(act, sw, sigma_b, max_iter=400))
        return math.isfinite(c) and abs(c - 1.0) < 2e-2

    qs = sb2 + np.geomspace(1e-10, 1e6, 320)
    vals = [along(float(q))[1] for q in qs]
    candidates: list[float] = []
    if abs(vals[0]) <= CRITICAL_TOL * 0.1:  # the limit q* -> sigma_b^2
        candidates.append(along(float(qs[0]))[0])
    for a, b, fa, fb in zip(qs[:-1], qs[1:], vals[:-1], vals[1:]):
        if math.isfinite(fa) and math.isfinite(fb) and (fa < 0) != (fb < 0):
            a, b = float(a), float(b)
            for _ in range(100):
                m = sb2 + math.sqrt((a - sb2) * (b - sb2))
                if (along(m)[1] < 0) == (fa < 0):
                    a = m
                else:
                    b = m
                if b - a < 1e-13 * b:
                    break
            candidates.append(along(0.5 * (a + b))[0])
    for sw2 in candidates:
        if sw2 > 0 and reached(sw2):
            return math.sqrt(sw2)
    return None


@functools.lru_cache(maxsize=64)
def _critical_by_spec(spec: str, sigma_b: float) -> float | None:
    from .activations import get_activation

    return critical_sigma_w(get_activation(spec), sigma_b)


def cached_critical_sigma_w(act: Activation, sigma_b: float) -> float | None:
    """critical_sigma_w, computed once per (activation, sigma_b) in a process."""
    return _critical_by_spec(act.spec, float(sigma_b))


# --- a whole analysis ----------------------------------------------------------------------------


@dataclass
class TheoryResult:
    act: str
    sigma_w: float
    sigma_b: float
    q0: float
    q_star: float
    chi1: float
    phase: str
    xi_q: float | None
    xi_c: float | None
    critical_sigma_w: float | None
    layers: list[TheoryLayer] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "act": self.act, "sigma_w": self.sigma_w, "sigma_b": self.sigma_b, "q0": self.q0,
            "q_star": self.q_star, "chi1": self.chi1, "phase": self.phase,
            "xi_q": self.xi_q, "xi_c": self.xi_c, "critical_sigma_w": self.critical_sigma_w,
            "layers": [{"layer": t.layer, "q": t.q, "mean": t.mean, "std": t.std, "chi": t.chi,
                        "grad_scale": t.grad_scale} for t in self.layers],
        }


def analyse(act: Activation, sigma_w: float, sigma_b: float = 0.0, layers: int = 10, q0: float = 1.0,
            critical: bool = True) -> TheoryResult:
    """Everything `actstat theory` reports."""
    if act.pieces > 1:
        raise ValueError("maxout has no single-variable mean-field map")
    q_star = fixed_point(act, sigma_w, sigma_b, q0)
    chi = chi1(act, sigma_w, q_star)
    return TheoryResult(
        act.spec, sigma_w, sigma_b, q0, q_star, chi, phase(chi),
        depth_scale_q(act, sigma_w, sigma_b, q_star), depth_scale_c(act, sigma_w, sigma_b, q_star, chi),
        cached_critical_sigma_w(act, sigma_b) if critical else None,
        variance_map(act, sigma_w, sigma_b, q0, layers),
    )


def chi1_grid(act: Activation, sigma_ws: Array, sigma_bs: Array, iterations: int = 200) -> Array:
    """chi_1 over a (sigma_b, sigma_w) grid, for the phase diagram: the variance map iterated from
    q0 = 1 for every grid point at once, with a coarser quadrature (a picture, not a table)."""
    SW, SB = np.meshgrid(np.asarray(sigma_ws, float), np.asarray(sigma_bs, float))
    if act.name in ("relu", "leaky_relu", "linear"):
        return SW ** 2 * expectations(act, 1.0).dphi2
    z, w = _panels(0.1, 6)
    zz = np.concatenate([z, -z])
    ww = np.concatenate([w, w])
    q = SW ** 2 + SB ** 2
    with np.errstate(all="ignore"):
        for _ in range(iterations):
            x = np.sqrt(q)[..., None] * zz
            q = np.minimum(SW ** 2 * (np.square(act.f(x)) @ ww) + SB ** 2, Q_OVERFLOW)
        x = np.sqrt(q)[..., None] * zz
        return SW ** 2 * (np.square(act.df(x)) @ ww)
