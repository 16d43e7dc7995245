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
import itertools
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
    x, w = _nodes(q)
    with np.errstate(all="ignore"):
        h, d = f(x), df(x)  # one evaluation of each (erf, for gelu, is not cheap)
    return Moments(_sym_dot(w, h), _sym_dot(w, h * h), _sym_dot(w, d * d))


def _nodes(q: float) -> tuple[Array, Array]:
    """The nodes sqrt(q) z for z > 0, then for -z, and the weights of one side: E[g(sqrt(q) z)] =
    _sym_dot(w, g(x))."""
    s = math.sqrt(q)
    z, w = _panels(min(1.0, 1.0 / s) if s > 0 else 1.0)
    return np.concatenate([s * z, -s * z]), w


def _sym_dot(w: Array, v: Array) -> float:
    """Each side summed on its own, so that an odd function's mean cancels to exactly 0."""
    n = len(w)
    return float(np.dot(w, v[:n]) + np.dot(w, v[n:]))


# --- the variance map ---------------------------------------------------------------------------


@dataclass
class TheoryLayer:
    layer: int
    q: float  # pre-activation variance
    mean: float  # of the activations
    std: float
    chi: float  # sigma_w^2 E[phi'(sqrt(q) z)^2]: this layer's gradient factor
    grad_scale: float | None = None  # predicted RMS(dL/dh_l) / RMS(dL/dh_L)


SCALE_MAX = 1e150  # sigma_w, sigma_b: their squares stay within the float range
Q0_MAX = Q_OVERFLOW


def check_scales(sigma_w: float | Sequence[float], sigma_b: float, q0: float) -> None:
    """ConfigError unless sigma_w, sigma_b and q0 are finite numbers the maps can square (q^l beyond
    Q_OVERFLOW is then reported as inf, layer by layer)."""
    from .errors import ConfigError

    for s in [sigma_w] if np.isscalar(sigma_w) else sigma_w:  # type: ignore[list-item]
        if not (math.isfinite(float(s)) and 0 <= float(s) <= SCALE_MAX):  # type: ignore[arg-type]
            raise ConfigError(f"the mean-field theory needs 0 <= sigma_w <= {SCALE_MAX:g}, got {float(s):g}"
                              " (its square must stay within the float range)")  # type: ignore[arg-type]
    if not (math.isfinite(sigma_b) and 0 <= sigma_b <= SCALE_MAX):
        raise ConfigError(f"the mean-field theory needs 0 <= sigma_b <= {SCALE_MAX:g}, got {sigma_b:g}")
    if not (math.isfinite(q0) and 0 <= q0 <= Q0_MAX):
        raise ConfigError(f"the mean-field theory needs 0 <= q0 <= {Q0_MAX:g} (the inputs' mean square), got {q0:g}")


def variance_map(act: Activation, sigma_w: float | Sequence[float], sigma_b: float, q0: float, layers: int,
                 widths: Sequence[int] | None = None) -> list[TheoryLayer]:
    """Predicted statistics of each layer. ``sigma_w`` may differ per layer (e.g. Glorot on non-square
    layers); ``widths`` = (input, layer 1, ..., layer L) for the gradient's width ratios."""
    check_scales(sigma_w, sigma_b, q0)
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
# (Gauss-Legendre nodes per panel, theta panels per half sector, the finest theta panel's share):
# the fine rule holds E[phi(u1) phi(u2)] to ~1e-10; the coarse one (~1e-5) finds the root first
FINE, COARSE = (8, 9, 1e-4), (4, 4, 1e-2)


@functools.lru_cache(maxsize=16)
def _rho_panels(scale: float, nodes: int) -> tuple[Array, Array]:
    """Nodes and weights for rho in [0, RHO_MAX] with the weight rho exp(-rho^2/2) folded in."""
    edges = np.unique(np.concatenate([[0.0], scale * np.geomspace(1e-3, 1.0, 7), np.arange(0.0, RHO_MAX, 0.5),
                                      scale * np.arange(0.5, 6.01, 0.5), [RHO_MAX]]))
    edges = edges[edges <= RHO_MAX]
    x, w = np.polynomial.legendre.leggauss(nodes)
    a, b = edges[:-1, None], edges[1:, None]
    r = (0.5 * (b - a) * x + 0.5 * (b + a)).ravel()
    return r, (0.5 * (b - a) * w).ravel() * r * np.exp(-0.5 * r * r)


def _theta_panels(c: float, nodes: int, panels: int, finest: float) -> tuple[Array, Array]:
    """Nodes and weights (divided by 2 pi) for theta over one turn, in the sectors between the angles
    where cos(theta) or cos(theta - arccos c) changes sign, refined geometrically towards every edge."""
    tc = math.acos(min(max(c, -1.0), 1.0))
    cuts = sorted({0.5 * math.pi, 1.5 * math.pi, (tc + 0.5 * math.pi) % (2 * math.pi),
                   (tc + 1.5 * math.pi) % (2 * math.pi)})
    cuts.append(cuts[0] + 2 * math.pi)
    x, w = np.polynomial.legendre.leggauss(nodes)
    out_x, out_w = [], []
    frac = np.geomspace(finest, 0.5, panels)
    frac = np.concatenate([[0.0], frac[:-1], [0.5], 1.0 - frac[-2::-1], [1.0]])
    for a, b in itertools.pairwise(cuts):
        if b - a < 1e-15:
            continue
        e = a + (b - a) * frac
        lo, hi = e[:-1, None], e[1:, None]
        out_x.append((0.5 * (hi - lo) * x + 0.5 * (hi + lo)).ravel())
        out_w.append((0.5 * (hi - lo) * w).ravel())
    return np.concatenate(out_x), np.concatenate(out_w) / (2 * math.pi)


class _Bivariate:
    """E[F(u1) G(u2)] at one q for any correlation c, by one rule (FINE or COARSE)."""

    def __init__(self, act: Activation, q: float, rule: tuple[int, int, float] = FINE) -> None:
        self.act, self.s, self.rule = act, math.sqrt(q), rule
        self.r, self.wr = _rho_panels(min(1.0, 1.0 / self.s) if self.s > 0 else 1.0, rule[0])

    def pair(self, c: float) -> tuple[float, float]:
        """(E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)]) at correlation c."""
        th, wt = _theta_panels(c, *self.rule)
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
    is exactly one root c* < 1, and Newton's method from c = 0 climbs to it monotonically (quadratically),
    first with a coarse quadrature, then with the fine one from there. When chi_1 <= 1, c* = 1 and
    chi_c = chi_1."""
    chi = chi1(act, sigma_w, q_star)
    if chi <= 1.0:
        return 1.0, chi
    c = 0.0
    for rule, tol in ((COARSE, 1e-6), (FINE, 1e-9)):  # the coarse root, then one or two fine steps
        bv = _Bivariate(act, q_star, rule)
        lo, hi = 0.0, 1.0  # h(lo) >= 0 > h on (c*, hi): Newton kept inside, else bisection
        for _ in range(100):
            pp, dd = bv.pair(c)
            h = (sigma_w ** 2 * pp + sigma_b ** 2) / q_star - c
            slope = sigma_w ** 2 * dd - 1.0
            if h >= 0.0:
                lo = c
            else:
                hi = c
            new = c - h / slope if slope < 0.0 else math.nan
            if not lo <= new <= hi:
                new = 0.5 * (lo + hi)
            step, c = abs(new - c), new
            if step <= tol or hi - lo <= tol:  # Newton: the error left is ~ step^2
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
    check_scales(sigma_w, sigma_b, q0)
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


# --- measurement against prediction at finite width -----------------------------------------------

AGREE_SIGMAS = 3.0  # a layer agrees when its measurement lies within this many expected fluctuations
AGREE_FLOOR = 0.01  # and is never asked to come closer than 1% (quadrature, float32 sums, a finite batch)
LOOSE_FACTOR = 2.0  # a prediction whose band spans more than x/÷ this is only a rough guide


@dataclass(frozen=True)
class Band:
    """The fluctuation a finite network is expected to show around one layer's prediction: the std of
    ln(measured q / predicted q) and of ln(measured std / predicted std), and the deviation of the
    measured mean allowed (absolute)."""

    sd_ln_q: float
    sd_ln_std: float
    mean_tol: float

    @property
    def std_tol(self) -> float:
        """|ln(measured std / predicted std)| allowed."""
        return AGREE_SIGMAS * self.sd_ln_std + AGREE_FLOOR


def _unit_moments(act: Activation, q: float) -> tuple[float, float, float, float, float]:
    """(E[phi], ln E[phi^2], ln Var(phi), Var(phi^2) / E[phi^2]^2, Var((phi - mean)^2) / Var(phi)^2) at
    q, by the split panel quadrature (one evaluation of phi), computed on phi / max|phi| so that no
    power overflows however large q is."""
    x, w = _nodes(q)
    with np.errstate(all="ignore"):
        h = act.f(x)
    scale = float(np.max(np.abs(h)))
    if not (math.isfinite(scale) and scale > 0):
        return 0.0, -math.inf, -math.inf, 2.0, 2.0
    hs = h / scale
    m1 = _sym_dot(w, hs)
    m2 = _sym_dot(w, hs * hs)
    var = max(m2 - m1 * m1, 0.0)
    k2 = _sym_dot(w, (hs * hs) ** 2) / (m2 * m2) - 1.0 if m2 > 0 else 2.0
    kv = _sym_dot(w, (hs - m1) ** 4) / (var * var) - 1.0 if var > 0 else 2.0
    ln_s2 = 2.0 * math.log(scale)
    return (scale * m1, ln_s2 + math.log(m2) if m2 > 0 else -math.inf,
            ln_s2 + math.log(var) if var > 0 else -math.inf, max(k2, 0.0), max(kv, 0.0))


def finite_width_bands(act: Activation, sigma_w: float | Sequence[float], sigma_b: float,
                       pred: Sequence[TheoryLayer], widths: Sequence[int]) -> list[Band]:
    """Per layer, the fluctuation of the measured statistics expected at these widths (``widths`` =
    (input, layer 1, ..., layer L)), an upper bound derived as follows.

    A layer's measured statistics are averages over its width_l units. Where the batch's inputs are
    strongly correlated (deep in the ordered phase, or wherever the activations share a large mean) each
    unit contributes one Gaussian draw z_j ~ N(0, q^l), so the measured E[phi^2] carries a relative
    variance kappa(q^l) / width_l, kappa = Var(phi(z)^2) / E[phi(z)^2]^2 (2 for a linear unit, 5 for
    ReLU); less correlated inputs average more draws, so this bounds the fluctuation from above. It
    passes to the next layer's q through the map linearised in ln q:

        var(ln q^{l+1}) = b_l^2 (s_l^2 var(ln q^l) + kappa(q^l) / width_l),    var(ln q^1) = 0

    with s_l = d ln E[phi^2] / d ln q at q^l and b_l = sigma_w^2 E[phi^2] / q^{l+1} (the bias's share
    does not fluctuate): fluctuations fade where the map contracts in ln q (tanh near its fixed point),
    accumulate where it is linear (ReLU at He, any map as q -> 0) and grow where it expands (GELU at He
    on its way from q ~ 1 to 0). The measured std moves by d ln std / d ln q times that, plus its own
    sampling over the units (kappa_v / (4 width_l), kappa_v the same ratio for the centred square); the
    mean by a factor exp(+-d ln mean / d ln q times it), plus the scatter of the units' means,
    std / sqrt(width_l). Checked against the spread over seeds in tests/test_theory_independent.py."""
    L = len(pred)
    sw = [float(sigma_w)] * L if np.isscalar(sigma_w) else [float(s) for s in sigma_w]  # type: ignore[arg-type]
    e = 1e-3
    out: list[Band] = []
    v = 0.0  # var(ln q^l)
    for l, t in enumerate(pred):
        n = widths[l + 1]
        if not (math.isfinite(t.q) and t.q > 0 and t.std > 0):
            out.append(Band(math.inf, math.inf, math.inf))
            v = math.inf
            continue
        m1, ln_m2, ln_var, k2, kv = _unit_moments(act, t.q)
        hi, lo = _unit_moments(act, t.q * math.exp(e)), _unit_moments(act, t.q * math.exp(-e))
        if not all(math.isfinite(x) for x in (ln_m2, ln_var, hi[1], lo[1], hi[2], lo[2])):
            out.append(Band(math.inf, math.inf, math.inf))
            v = math.inf
            continue
        s_l = (hi[1] - lo[1]) / (2 * e)  # d ln E[phi^2] / d ln q
        d_ln_std = (hi[2] - lo[2]) / (4 * e)
        alpha = abs((hi[0] - lo[0]) / (2 * e * m1)) if m1 != 0 else 0.0  # |d ln mean / d ln q|
        std = math.exp(0.5 * ln_var)
        sd_q = math.sqrt(v)
        # the mean moves multiplicatively with q (a wide band is not symmetric in the mean itself)
        mean_tol = (AGREE_SIGMAS * std / math.sqrt(n) + abs(m1) * math.expm1(min(AGREE_SIGMAS * alpha * sd_q, 700.0))
                    + AGREE_FLOOR * max(abs(m1), std))
        out.append(Band(sd_q, math.sqrt(d_ln_std ** 2 * v + kv / (4.0 * n)), mean_tol))
        if l + 1 < L:
            q_next = pred[l + 1].q
            b_l = (math.exp(2 * math.log(sw[l + 1]) + ln_m2 - math.log(q_next))
                   if math.isfinite(q_next) and q_next > 0 else 1.0)
            v = b_l * b_l * (s_l * s_l * v + k2 / n)
    return out


@dataclass(frozen=True)
class Verdict:
    """One layer's measurement against its prediction."""

    agrees: bool
    ratio: float  # measured std / predicted std
    tolerance: float  # the factor allowed either way on the std: exp(std_tol)
    reason: str | None  # why they part (None when they agree)


UNEQUAL_INPUTS = 0.25  # coefficient of variation of the examples' mean squares beyond which q0 misleads


def judge_layers(pred: Sequence[TheoryLayer], bands: Sequence[Band], measured: Sequence[tuple[float, float]],
                 widths: Sequence[int], input_cv: float = 0.0) -> tuple[list[Verdict], list[str]]:
    """Each layer's verdict, and the notes that say where the prediction stops describing the network.

    measured: per layer (mean, std). A layer agrees when |ln(measured std / predicted std)| <=
    AGREE_SIGMAS sd_ln_std + AGREE_FLOOR and its mean is within the band's mean_tol: AGREE_SIGMAS
    std / sqrt(width) + |mean| (exp(AGREE_SIGMAS |d ln mean / d ln q| sd_ln_q) - 1) + AGREE_FLOOR
    max(|mean|, std), all predicted. Since the band bounds finite-width noise from above, a layer that
    parts has another cause: an overflow (inf/NaN); inputs of unequal length (``input_cv``, the
    coefficient of variation of the examples' mean squares, above UNEQUAL_INPUTS: the prediction follows
    their average q0, while each example travels its own variance map); else a network the mean field
    does not describe. Layers that agree within a band wider than x/÷ LOOSE_FACTOR are named too, with
    why the band is wide: finite width in the ordered phase (the prediction shrinks towards q* = 0, a
    finite network's fluctuations do not shrink with it) or fluctuations accumulating over many layers
    where the map is close to linear."""
    verdicts: list[Verdict] = []
    for t, b, (mean, std) in zip(pred, bands, measured):
        if not all(math.isfinite(x) for x in (mean, std, t.mean, t.std, b.sd_ln_std)):
            both = not math.isfinite(t.q) and not (math.isfinite(mean) and math.isfinite(std))
            verdicts.append(Verdict(both, math.nan, math.inf, None if both else "overflow"))
            continue
        ratio = std / t.std if t.std > 0 else (1.0 if std == 0 else math.inf)
        ln_r = abs(math.log(ratio)) if 0 < ratio < math.inf else math.inf
        ok = ln_r <= b.std_tol and abs(mean - t.mean) <= b.mean_tol
        reason = None if ok else "unequal inputs" if input_cv > UNEQUAL_INPUTS else "beyond the mean field"
        verdicts.append(Verdict(ok, ratio, math.exp(b.std_tol), reason))
    return verdicts, _notes(pred, verdicts, widths, input_cv)


def _ranges(layers: Sequence[int]) -> str:
    runs: list[list[int]] = []
    for x in layers:
        if runs and runs[-1][-1] == x - 1:
            runs[-1].append(x)
        else:
            runs.append([x])
    text = ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)
    return ("layer " if len(layers) == 1 else "layers ") + text


def _notes(pred: Sequence[TheoryLayer], verdicts: Sequence[Verdict], widths: Sequence[int],
           input_cv: float) -> list[str]:
    notes: list[str] = []
    width = (f"width {widths[1]}" if len(set(widths[1:])) == 1
             else f"widths {min(widths[1:])}..{max(widths[1:])}")
    why = {
        "overflow": "overflow: the measurement or the prediction is not finite",
        "unequal inputs": f"the examples' mean squares differ (coefficient of variation {input_cv:.3g}): the"
        " prediction follows their average q0, each example its own variance map",
        "beyond the mean field": "not finite-width noise (the band bounds it from above): the mean field's"
        " independent Gaussian pre-activations do not describe these layers",
    }
    for reason in dict.fromkeys(v.reason for v in verdicts if v.reason):
        layers = [l + 1 for l, v in enumerate(verdicts) if v.reason == reason]
        v = verdicts[layers[-1] - 1]
        verb = "parts" if len(layers) == 1 else "part"
        if reason == "overflow":
            notes.append(f"theory: {_ranges(layers)} {verb} from the prediction: {why[reason]}")
            continue
        notes.append(f"theory: {_ranges(layers)} {verb} from the prediction by more than the expected"
                     f" finite-width fluctuation (layer {layers[-1]}: measured std / predicted {v.ratio:.3g},"
                     f" allowed x/÷ {v.tolerance:.3g}); likely reason: {why[reason]}")
    loose = [l + 1 for l, v in enumerate(verdicts) if v.agrees and v.tolerance > LOOSE_FACTOR]
    if loose:
        last = loose[-1]
        v = verdicts[last - 1]
        ordered = pred[last - 1].chi < 1.0 and pred[last - 1].q < 0.5 * pred[0].q
        cause = (f"finite {width} in the ordered phase: the prediction shrinks towards q* = 0 each layer,"
                 " a finite network's fluctuations do not shrink with it" if ordered else
                 f"finite {width}: fluctuations add up over layers where the variance map is close to linear"
                 " (chi near 1)")
        verb = "agrees" if len(loose) == 1 else "agree"
        notes.append(f"theory: {_ranges(loose)} {verb} only loosely: the expected fluctuation around the"
                     f" prediction reaches x/÷ {v.tolerance:.3g} by layer {last} (measured std / predicted"
                     f" {v.ratio:.3g}); likely reason: {cause}; the mean field is exact only as the width grows")
    return notes
