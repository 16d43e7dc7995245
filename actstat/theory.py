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


def dphi2_at_zero(act: Activation) -> float:
    """lim_{q -> 0+} E[phi'(sqrt(q) z)^2] = (phi'(0-)^2 + phi'(0+)^2) / 2: half the mass on each side of 0,
    so an activation whose derivative jumps at 0 (selu, elu with alpha != 1, leaky relu) averages the
    squared one-sided derivatives."""
    with np.errstate(all="ignore"):
        d = act.df(np.array([1e-200, -1e-200]))
    return float(0.5 * (d[0] * d[0] + d[1] * d[1]))


def expectations(act: Activation, q: float) -> Moments:
    """E[phi(sqrt(q) z)], E[phi(sqrt(q) z)^2], E[phi'(sqrt(q) z)^2] for z ~ N(0, 1); at q = 0 the limits
    q -> 0+ (continuous in q)."""
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
    if q == 0.0:
        f0 = float(f(np.zeros(1))[0])
        return Moments(f0, f0 * f0, dphi2_at_zero(act))
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


def fixed_point(act: Activation, sigma_w: float, sigma_b: float, q0: float = 1.0, max_iter: int = 100) -> float:
    """q* reached by iterating the map from q^1 = sigma_w^2 q0 + sigma_b^2 (inf when q grows without bound;
    the starting q itself where the map is the identity, as for ReLU at sigma_w = sqrt(2), sigma_b = 0).

    The map is increasing in q (phi(u)^2 + phi(-u)^2 grows with |u| for every activation here), so its
    iterates move monotonically towards the nearest fixed point in their direction. After ``max_iter``
    plain steps (enough where the map contracts fast), a slow approach (near criticality, where the
    slope at q* is close to 1) is finished by bracketing that nearest root of map(q) - q on a geometric
    grid in the direction of motion and bisecting it; q* = 0 when the map stays below the identity down
    to q = 1e-12 q^1 and phi(0) = 0 without a bias (near 0 the map is chi_1(0) q to leading order)."""
    q = sigma_w ** 2 * q0 + sigma_b ** 2
    if not math.isfinite(q) or q > Q_OVERFLOW:
        return math.inf
    start = q
    up = False
    for _ in range(max_iter):
        new = _map(act, sigma_w, sigma_b, q)
        if not math.isfinite(new) or new > Q_OVERFLOW:
            return math.inf
        if abs(new - q) <= 1e-14 * q or new == q:
            return new
        if new < 1e-300:
            return 0.0
        up = new > q
        q = new

    def g(x: float) -> float:
        return _map(act, sigma_w, sigma_b, x) - x

    if up:  # g(q) > 0: the nearest root above
        lo, hi = q, q
        while g(hi) > 0:
            lo, hi = hi, hi * (1.25 if hi < 1e8 * start else 10.0)
            if hi > Q_OVERFLOW:
                return math.inf
    else:  # g(q) < 0: the nearest root below
        vanishes = sigma_b == 0.0 and expectations(act, 0.0).second == 0.0
        lo, hi = q, q
        while g(lo) < 0:
            lo, hi = lo / (1.25 if lo > 1e-12 * start else 10.0), lo
            if lo < 1e-12 * start and vanishes:
                return 0.0
            if lo < 1e-300:
                return 0.0
    for _ in range(200):
        mid = math.sqrt(lo * hi) if lo > 0 else 0.5 * hi
        if (g(mid) > 0) == (g(lo) > 0):
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * hi:
            break
    return 0.5 * (lo + hi)


def chi1(act: Activation, sigma_w: float, q_star: float) -> float:
    """sigma_w^2 E[phi'(sqrt(q*) z)^2]; at q* = 0 its limit sigma_w^2 (phi'(0-)^2 + phi'(0+)^2) / 2 (both
    one-sided derivatives); when q grows without bound, its limit there (ReLU-like tails: E[phi'^2]
    tends to a constant, e.g. 1/2 for silu and gelu)."""
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


def _depth(slope: float) -> float | None:
    """-1 / ln(slope) for a contraction 0 < slope < 1 (None: no exponential approach)."""
    if not 0 < slope < 1 or abs(slope - 1.0) <= CRITICAL_TOL:
        return None
    return -1.0 / math.log(slope)


def depth_scale_q(act: Activation, sigma_w: float, sigma_b: float, q_star: float) -> float | None:
    """xi_q: |q^l - q*| ~ exp(-l / xi_q), from the slope of the variance map at q* (None: no exponential
    convergence). At q* = 0 (no bias, phi(0) = 0) the map is chi_1 q to leading order, so q itself
    shrinks by chi_1 a layer: xi_q = -1 / ln chi_1."""
    if not math.isfinite(q_star):
        return None
    if q_star == 0.0:
        return _depth(chi1(act, sigma_w, 0.0))
    h = 1e-4 * q_star
    slope = (_map(act, sigma_w, sigma_b, q_star + h) - _map(act, sigma_w, sigma_b, q_star - h)) / (2 * h)
    return _depth(slope)


# --- two inputs: the correlation map -------------------------------------------------------------
#
# E[F(u1) G(u2)] with u1 = sqrt(q) z1, u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2), z1, z2 ~ N(0, 1) independent.
# In polar coordinates z1 = rho cos(theta), z2 = rho sin(theta) the arguments are sqrt(q) rho cos(theta) and
# sqrt(q) rho cos(theta - theta_c), c = cos(theta_c): their signs change only at four angles, so the
# integrand is smooth inside each of the sectors between them (a kink at 0, as in elu and selu, lies on
# a sector edge), and the density rho exp(-rho^2/2) / (2 pi) has no ridge however close c is to 1.
# Gauss-Legendre panels in theta refine geometrically towards each sector edge (where a saturating
# function turns over an angle ~ 1/(sqrt(q) rho)); panels in rho refine towards 0 on the scale 1/sqrt(q).

RHO_MAX = 10.0  # rho exp(-rho^2/2) below 2e-21 beyond
GL2_NODES = 8
THETA_FINEST, THETA_PANELS = 1e-4, 9  # per half sector


@functools.lru_cache(maxsize=16)
def _rho_panels(scale: float) -> tuple[Array, Array]:
    """Nodes and weights for rho in [0, RHO_MAX] with the weight rho exp(-rho^2/2) folded in."""
    edges = np.unique(np.concatenate([[0.0], scale * np.geomspace(1e-3, 1.0, 7), np.arange(0.0, RHO_MAX, 0.5),
                                      scale * np.arange(0.5, 6.01, 0.5), [RHO_MAX]]))
    edges = edges[edges <= RHO_MAX]
    x, w = np.polynomial.legendre.leggauss(GL2_NODES)
    a, b = edges[:-1, None], edges[1:, None]
    r = (0.5 * (b - a) * x + 0.5 * (b + a)).ravel()
    return r, (0.5 * (b - a) * w).ravel() * r * np.exp(-0.5 * r * r)


def _theta_panels(c: float) -> tuple[Array, Array]:
    """Nodes and weights (divided by 2 pi) for theta in [0, 2 pi), split where cos(theta) or
    cos(theta - arccos c) changes sign, refined geometrically towards every edge."""
    tc = math.acos(min(max(c, -1.0), 1.0))
    cuts = {0.0, 2 * math.pi, 0.5 * math.pi, 1.5 * math.pi,
            (tc + 0.5 * math.pi) % (2 * math.pi), (tc + 1.5 * math.pi) % (2 * math.pi)}
    cuts_a = np.array(sorted(cuts))
    x, w = np.polynomial.legendre.leggauss(GL2_NODES)
    nodes, weights = [], []
    frac = np.geomspace(THETA_FINEST, 0.5, THETA_PANELS)
    frac = np.concatenate([[0.0], frac[:-1], [0.5], 1.0 - frac[-2::-1], [1.0]])
    for a, b in zip(cuts_a[:-1], cuts_a[1:]):
        if b - a < 1e-15:
            continue
        e = a + (b - a) * frac
        lo, hi = e[:-1, None], e[1:, None]
        nodes.append((0.5 * (hi - lo) * x + 0.5 * (hi + lo)).ravel())
        weights.append((0.5 * (hi - lo) * w).ravel())
    return np.concatenate(nodes), np.concatenate(weights) / (2 * math.pi)


class _Bivariate:
    """E[F(u1) G(u2)] at one q for any correlation c (the u1 factor, which does not depend on c, is
    evaluated once per theta grid)."""

    def __init__(self, act: Activation, q: float) -> None:
        self.act, self.s = act, math.sqrt(q)
        self.r, self.wr = _rho_panels(min(1.0, 1.0 / self.s) if self.s > 0 else 1.0)

    def pair(self, c: float) -> tuple[float, float]:
        """(E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)]) at correlation c."""
        th, wt = _theta_panels(c)
        tc = math.acos(min(max(c, -1.0), 1.0))
        u1 = self.s * np.outer(np.cos(th), self.r)
        u2 = self.s * np.outer(np.cos(th - tc), self.r)
        with np.errstate(all="ignore"):
            pp = wt @ (self.act.f(u1) * self.act.f(u2)) @ self.wr
            dd = wt @ (self.act.df(u1) * self.act.df(u2)) @ self.wr
        return float(pp), float(dd)


def correlation_map(act: Activation, sigma_w: float, sigma_b: float, q_star: float, c: float) -> tuple[float, float]:
    """(c', dc'/dc): the correlation of two inputs one layer on, c' = (sigma_w^2 E[phi(u1) phi(u2)] +
    sigma_b^2) / q*, and its slope sigma_w^2 E[phi'(u1) phi'(u2)] (Price's theorem), both at q*."""
    pp, dd = _Bivariate(act, q_star).pair(c)
    return (sigma_w ** 2 * pp + sigma_b ** 2) / q_star, sigma_w ** 2 * dd


def correlation_fixed_point(act: Activation, sigma_w: float, sigma_b: float, q_star: float) -> tuple[float, float]:
    """(c*, chi_c): the stable fixed point of the correlation map in [0, 1] and the map's slope there.

    For c >= 0, E[phi(u1) phi(u2)] = sum_n a_n^2 c^n (the Hermite expansion), so h(c) = c' - c is convex
    with h(0) = (sigma_w^2 E[phi]^2 + sigma_b^2) / q* >= 0 and h(1) = 0: when chi_1 = h'(1) + 1 > 1 there
    is exactly one root c* < 1, and Newton's method from c = 0 climbs to it monotonically (quadratically).
    When chi_1 <= 1, c* = 1 and chi_c = chi_1."""
    chi = chi1(act, sigma_w, q_star)
    if chi <= 1.0:
        return 1.0, chi
    bv = _Bivariate(act, q_star)
    c = 0.0
    for _ in range(60):
        pp, dd = bv.pair(c)
        h = (sigma_w ** 2 * pp + sigma_b ** 2) / q_star - c
        slope = sigma_w ** 2 * dd - 1.0
        if h <= 0.0 or slope >= 0.0:  # at the root to rounding
            return c, slope + 1.0
        step = -h / slope
        c = min(c + step, 1.0)
        if step <= 1e-8:  # quadratic convergence: the error left is ~ step^2
            break
    return c, sigma_w ** 2 * bv.pair(c)[1]


def depth_scale_c(act: Activation, sigma_w: float, sigma_b: float, q_star: float, chi: float) -> float | None:
    """xi_c = -1 / ln(chi_c): the depth over which two inputs' correlation approaches c*. In the ordered
    phase c* = 1 and chi_c = chi_1; in the chaotic phase chi_c is the correlation map's slope at c* < 1
    (the 2-D Gaussian expectation in polar coordinates, converged to ~1e-10); infinite at criticality
    (None). At q* = 0 the two inputs' covariance shrinks by chi_1 a layer, like q itself: xi_c = xi_q."""
    if not (math.isfinite(q_star) and math.isfinite(chi)):
        return None
    if abs(chi - 1.0) <= CRITICAL_TOL:
        return None
    if q_star == 0.0 or chi < 1.0:
        return _depth(chi)
    return _depth(correlation_fixed_point(act, sigma_w, sigma_b, q_star)[1])


def critical_sigma_w(act: Activation, sigma_b: float = 0.0) -> float | None:
    """The sigma_w with chi_1 = 1, or None when there is none.

    Parametrised by the fixed point itself (Schoenholz et al.): a fixed point q* > sigma_b^2 needs
    sigma_w^2(q*) = (q* - sigma_b^2) / E[phi(sqrt(q*) z)^2], and then chi_1(q*) = sigma_w^2(q*)
    E[phi'(sqrt(q*) z)^2]. Scan q* over a log grid for chi_1 = 1, refine by bisection. Without a bias,
    for phi(0) = 0, the limit q* -> 0 is a candidate too: there sigma_w^2 -> 2 / (phi'(0-)^2 + phi'(0+)^2)
    and chi_1 -> 1 (tanh at 1; selu, elu with any alpha). A candidate counts only when the map, iterated
    from q0 = 1, reaches a fixed point with chi_1 = 1 there (not another, stable one).
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
        c = chi1(act, sw, fixed_point(act, sw, sigma_b))
        return math.isfinite(c) and abs(c - 1.0) < 2e-2

    qs = sb2 + np.geomspace(1e-10, 1e6, 320)
    vals = [along(float(q))[1] for q in qs]
    candidates: list[float] = []
    if sigma_b == 0.0 and expectations(act, 0.0).second == 0.0:
        # the limit q* -> 0: sigma_w^2 -> 1 / lim E[phi'^2] and chi_1 -> 1 (a continuous transition when the
        # map bends below the identity, as for tanh, elu and selu; `reached` tells)
        candidates.append(1.0 / dphi2_at_zero(act))
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
        # q underflowed to 0 still sees both sides of 0 (the one-sided derivatives of elu, selu)
        x = np.maximum(np.sqrt(q), 1e-150)[..., None] * zz
        return SW ** 2 * (np.square(act.df(x)) @ ww)
