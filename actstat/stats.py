"""Per-layer statistics of an activation matrix. Pure numpy.

Every figure is over the whole (batch x width) matrix, as the lectures compute
them. Non-finite entries (an overflowed network) never raise or warn: mean/std
become non-finite (written as null in JSON), the histogram counts the finite
entries only, and ``nonfinite_frac`` says how many there were.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .activations import Activation

Array = np.ndarray

DEFAULT_BINS = 30


@dataclass(frozen=True)
class Histogram:
    """counts[i] entries fall in [edges[i], edges[i+1]) (the last bin includes its right edge).

    outside: finite entries outside [edges[0], edges[-1]] (only with a fixed range).
    """

    edges: Array
    counts: Array
    outside: int = 0


@dataclass(frozen=True)
class MomentStats:
    """mean, std, min, max and RMS of a matrix (float64 figures)."""

    mean: float
    std: float
    min: float
    max: float
    rms: float
    nonfinite_frac: float


@dataclass(frozen=True)
class LayerStats:
    """What actstat reports about one matrix of activations (post-activation)."""

    moments: MomentStats
    saturated_frac: float | None  # None: the activation has no saturating region
    zero_frac: float
    dead_frac: float | None  # units that are exactly 0 for every example
    hist: Histogram

    @property
    def mean(self) -> float:
        return self.moments.mean

    @property
    def std(self) -> float:
        return self.moments.std

    @property
    def rms(self) -> float:
        return self.moments.rms


def _all_finite(lo: float, hi: float) -> bool:
    # min/max propagate NaN and reach +-inf, so finite extremes mean a finite matrix
    return math.isfinite(lo) and math.isfinite(hi)


def moments(a: Array) -> MomentStats:
    """Moments of a 2-D (or any) array, computed in float64 precision.

    Two passes (mean, then the centred sum of squares), so that std stays accurate
    when it is tiny next to the mean (sigmoid outputs ~0.5 +- 1e-3). Entries so
    small or so large that their squares would underflow or overflow (a vanished
    or exploded signal) are rescaled by a power of two first.
    """
    n = a.size
    if n == 0:
        nan = float("nan")
        return MomentStats(nan, nan, nan, nan, nan, 0.0)
    with np.errstate(all="ignore"):
        lo = float(a.min())
        hi = float(a.max())
        if not _all_finite(lo, hi):
            nf = n - int(np.count_nonzero(np.isfinite(a)))
            vals = a.astype(np.float64, copy=False)
            mean = float(vals.mean())
            return MomentStats(mean, float(vals.std()), lo, hi, float(np.sqrt(np.mean(np.square(vals)))), nf / n)
        top = max(abs(lo), abs(hi))
        info = np.finfo(a.dtype) if a.dtype.kind == "f" else np.finfo(np.float64)
        # squares (and their sum over n entries) must stay within the dtype's normal range
        if top > 0 and (top < math.sqrt(float(info.tiny)) * 1e6 or top * top * n > float(info.max) / 16):
            k = math.frexp(top)[1]  # top = m * 2**k, 0.5 <= m < 1
            m = moments(np.ldexp(a.astype(np.float64), -k))
            return MomentStats(
                math.ldexp(m.mean, k), math.ldexp(m.std, k), lo, hi, math.ldexp(m.rms, k), 0.0,
            )
        mean = float(a.mean(dtype=np.float64))
        d = (a - a.dtype.type(mean)).ravel()
        var = float(np.dot(d, d)) / n
        std = math.sqrt(var)
        rms = math.sqrt(var + mean * mean)
        return MomentStats(mean, std, lo, hi, rms, 0.0)


def histogram(a: Array, bins: int, lo: float, hi: float) -> Histogram:
    """Fixed-range histogram of the finite entries of ``a``; the same counts as
    ``np.histogram(a, bins, range=(lo, hi))`` without its sorting fallbacks."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return Histogram(np.linspace(0.0, 1.0, bins + 1), np.zeros(bins, dtype=np.int64), 0)
    if hi <= lo:  # a constant matrix: numpy widens the range by 0.5 each side
        pad = max(0.5, abs(lo) * 1e-12)  # (relative at magnitudes where +-0.5 rounds away)
        fmax = float(np.finfo(np.float64).max)
        lo, hi = max(lo - pad, -fmax), min(hi + pad, fmax)
    # values near the float limits: work in halves so that hi - lo cannot overflow
    half = not math.isfinite(hi - lo)
    c = 0.5 if half else 1.0
    with np.errstate(all="ignore"):
        edges = np.linspace(lo * c, hi * c, bins + 1) / c
        flat = a.ravel()
        keep = (flat >= lo) & (flat <= hi)  # NaN and +-inf fall out here
        n_keep = int(np.count_nonzero(keep))
        n_out = int(np.count_nonzero(np.isfinite(flat))) - n_keep if n_keep < flat.size else 0
        vals = flat if n_keep == flat.size else flat[keep]
        scale = bins / (hi * c - lo * c)
        ii = ((vals * c - lo * c) * scale if half else (vals - lo) * scale).astype(np.intp)
        np.minimum(ii, bins - 1, out=ii)  # the right edge belongs to the last bin
        # rounding can put a value next to an edge in the neighbouring bin: numpy
        # corrects that against the edges, and so must we to give the same counts
        np.maximum(ii, 0, out=ii)
        ii -= vals < edges[ii]
        ii += (vals >= edges[ii + 1]) & (ii != bins - 1)
        np.clip(ii, 0, bins - 1, out=ii)
        counts = np.bincount(ii, minlength=bins).astype(np.int64)
    return Histogram(edges, counts, n_out)


def layer_stats(
    h: Array,
    z: Array | None,
    act: Activation | None,
    bins: int = DEFAULT_BINS,
    hist_range: tuple[float, float] | None = None,
) -> LayerStats:
    """Statistics of one layer's output.

    h: (batch, width) activations; z: (batch, width * pieces) the activation's input
    (needed for saturation rules stated on z); act: None for the input layer.
    The histogram range is ``hist_range`` if given, else the activation's bounds
    if it is bounded, else the finite data range.
    """
    m = moments(h)
    n = h.size
    with np.errstate(all="ignore"):
        zero_frac = 1.0 - np.count_nonzero(h) / n if n else 0.0
        sat: float | None = None
        dead: float | None = None
        if act is not None:
            if act.saturated is not None:
                zz = z if z is not None else h
                if act.pieces == 1:
                    sat = float(np.count_nonzero(act.saturated(zz, h))) / n
            dead = float(np.count_nonzero(np.count_nonzero(h, axis=0) == 0)) / h.shape[1]
    if hist_range is not None:
        lo, hi = hist_range
    elif act is not None and act.bounds is not None:
        lo, hi = act.bounds
    elif m.nonfinite_frac == 0.0:
        lo, hi = m.min, m.max
    else:
        finite = h[np.isfinite(h)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (math.nan, math.nan)
    return LayerStats(m, sat, float(zero_frac), dead, histogram(h, bins, lo, hi))
