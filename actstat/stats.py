"""Per-layer statistics of an activation matrix. Pure numpy.

Every figure is over the whole (batch x width) matrix, as the lectures compute
them. Non-finite entries (an overflowed network) never raise or warn: mean/std
become non-finite (written as null in JSON), the histogram counts the finite
entries only, and ``nonfinite_frac`` says how many there were.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

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


# Statistics run over row blocks of about this many bytes, so that every pass over a block
# (min, max, sums, counts, histogram) reads L2 cache instead of RAM. (Tuned on a core with 1 MB
# of L2: 512 KB blocks ran the probe 3-4% faster than 256 KB on C1 and C4, see benchmarks/.)
CHUNK_BYTES = 512 * 1024


def _row_blocks(a: Array) -> list[Array]:
    """Views of ``a`` (as 2-D) in blocks of rows of about CHUNK_BYTES."""
    a2 = a.reshape(a.shape[0], -1) if a.ndim >= 2 else a.reshape(1, -1)
    rows = max(1, CHUNK_BYTES // max(1, a2.shape[1] * a2.itemsize))
    return [a2[i:i + rows] for i in range(0, a2.shape[0], rows)]


class _Moments:
    """Streaming mean / centred sum of squares / min / max over blocks (Chan et al.'s merge of
    per-block results, in float64), so one read of the matrix gives accurate moments."""

    __slots__ = ("n", "mean", "m2", "lo", "hi", "ok")

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self.lo, self.hi = math.inf, -math.inf
        self.ok = True  # False: an entry is non-finite, or squares would leave the dtype's range

    def add(self, c: Array, safe_top: tuple[float, float]) -> None:
        lo, hi = float(c.min()), float(c.max())
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)
        if not self.ok:
            return
        top = max(abs(lo), abs(hi))
        if not _all_finite(lo, hi) or (top > 0 and not safe_top[0] <= top <= safe_top[1]):
            self.ok = False
            return
        m = c.size
        flat = c.reshape(-1)
        if c.dtype == np.float64:
            # sum and sum of squares, no centred copy: the square sum loses about log10(mean^2 / var)
            # of float64's 16 digits, so a block whose mean is over ~30 stds is centred first
            s = float(flat.sum())
            q = float(np.dot(flat, flat))
            cm = s / m
            cm2 = q - s * cm
            if not cm2 > 1e-3 * q:
                d = flat - cm
                cm2 = float(np.dot(d, d))
        elif c.dtype == np.float32:
            # float32 sums (no float64 cast pass) of entries shifted by a float32 value near the
            # mean: the error is then ~1e-7 of the spread, not of the mean's magnitude. While the
            # mean is within a tenth of the std (tanh, a centred input), no shift is needed.
            cm2 = -1.0
            if self.n and self.mean * self.mean <= 1e-2 * self.m2 / self.n:
                sd = float(flat.sum())
                cm = sd / m
                cm2 = float(np.dot(flat, flat)) - sd * cm
                if not cm2 > 1e2 * cm * sd:  # this block's mean is not small: shift after all
                    cm2 = -1.0
            if cm2 < 0:
                t = c.dtype.type(self.mean if self.n else c.flat[0])
                d = flat - t
                sd = float(d.sum())
                cm = float(t) + sd / m
                cm2 = max(float(np.dot(d, d)) - sd * sd / m, 0.0)
        else:
            cm = float(c.sum(dtype=np.float64)) / m
            d = (c - c.dtype.type(cm)).ravel()
            cm2 = float(np.dot(d, d))
        n = self.n + m
        delta = cm - self.mean
        self.mean += delta * m / n
        self.m2 += cm2 + delta * delta * self.n * m / n
        self.n = n

    def result(self) -> MomentStats:
        var = self.m2 / self.n
        return MomentStats(self.mean, math.sqrt(var), self.lo, self.hi, math.sqrt(var + self.mean ** 2), 0.0)


@functools.lru_cache(maxsize=64)
def _safe_top(dtype: np.dtype, block: int) -> tuple[float, float]:
    """Magnitudes whose squares, summed over a block, stay within the dtype's normal range."""
    info = np.finfo(dtype) if dtype.kind == "f" else np.finfo(np.float64)
    return math.sqrt(float(info.tiny)) * 1e6, math.sqrt(float(info.max) / 16 / max(block, 1))


def moments(a: Array) -> MomentStats:
    """Moments of any array in float64 precision, streamed over cache-sized blocks (see _Moments);
    arrays with non-finite entries or extreme magnitudes take the whole-array path below."""
    if a.size == 0:
        return _moments_whole(a)
    acc = _Moments()
    with np.errstate(all="ignore"):
        blocks = _row_blocks(a)
        safe = _safe_top(a.dtype, blocks[0].size)
        for c in blocks:
            acc.add(c, safe)
    return acc.result() if acc.ok else _moments_whole(a)


def _moments_whole(a: Array) -> MomentStats:
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


def _range_and_edges(bins: int, lo: float, hi: float) -> tuple[float, float, Array]:
    """The range np.histogram uses for [lo, hi] (finite) and its bins + 1 edges."""
    if hi <= lo:  # a constant matrix: numpy widens the range by 0.5 each side
        pad = max(0.5, abs(lo) * 1e-12)  # (relative at magnitudes where +-0.5 rounds away)
        fmax = float(np.finfo(np.float64).max)
        lo, hi = max(lo - pad, -fmax), min(hi + pad, fmax)
    # values near the float limits: work in halves so that hi - lo cannot overflow
    c = 1.0 if math.isfinite(hi - lo) else 0.5
    with np.errstate(all="ignore"):  # (linspace near the float limits overflows on its way)
        return lo, hi, np.linspace(lo * c, hi * c, bins + 1) / c


def _fast_ok(dtype: np.dtype, bins: int, lo: float, hi: float) -> bool:
    """True when floor((v - lo) * bins / (hi - lo)) can be computed in ``dtype`` for v in [lo, hi]: the
    range, its width and its scale are finite there, and a bin is wide enough that its edges keep the
    dtype's full precision (a vanished signal's subnormal range does not: see _tiny_histogram)."""
    if dtype.kind != "f":
        return False
    w = hi - lo
    if not (math.isfinite(w) and w > 0):
        return False
    info = np.finfo(dtype)
    return max(abs(lo), abs(hi), w) <= float(info.max) / 2 and w >= bins * _tiny_width(info)


def _tiny_width(info: np.finfo) -> float:
    """The narrowest bin whose edges are still normal-precision numbers: tiny * 2**nmant."""
    return math.ldexp(float(info.tiny), int(info.nmant))


def _tiny_histogram(vals: Array, bins: int, lo: float, hi: float, n_out: int) -> Histogram:
    """Histogram of ``vals`` (all in [lo, hi]) for a range so narrow that bins / (hi - lo) overflows or
    its edges are subnormal: data and range are scaled by a power of two into the normal range (exact,
    as subnormals only gain bits), counted there, and the edges scaled back (rounded to what the
    dtype can hold)."""
    k = -math.frexp(max(abs(lo), abs(hi)))[1]
    h = histogram(np.ldexp(vals.astype(np.float64), k), bins, math.ldexp(lo, k), math.ldexp(hi, k))
    return Histogram(np.ldexp(h.edges, -k), h.counts, n_out)


def histogram(a: Array, bins: int, lo: float, hi: float) -> Histogram:
    """Fixed-range histogram of the finite entries of ``a``; the same counts as
    ``np.histogram(a, bins, range=(lo, hi))`` without its sorting fallbacks, at every scale: a range
    the data's dtype cannot hold or subtract (float32 data, --hist-range +-1e39) is counted in
    float64, a subnormal one after scaling by a power of two."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return Histogram(np.linspace(0.0, 1.0, bins + 1), np.zeros(bins, dtype=np.int64), 0)
    lo, hi, edges = _range_and_edges(bins, lo, hi)
    half = not math.isfinite(hi - lo)
    c = 0.5 if half else 1.0
    with np.errstate(all="ignore"):
        flat = a.ravel()
        dtype = a.dtype
        if dtype.kind == "f" and dtype != np.float64 and not _fast_ok(dtype, bins, lo, hi):
            flat, dtype = flat.astype(np.float64), np.dtype(np.float64)
        keep = (flat >= lo) & (flat <= hi)  # NaN and +-inf fall out here
        n_keep = int(np.count_nonzero(keep))
        n_out = int(np.count_nonzero(np.isfinite(flat))) - n_keep if n_keep < flat.size else 0
        vals = flat if n_keep == flat.size else flat[keep]
        if hi - lo < bins * _tiny_width(np.finfo(np.float64)):
            return _tiny_histogram(vals, bins, lo, hi, n_out)
        scale = bins / (hi * c - lo * c)
        ii = ((vals * c - lo * c) * scale if half else (vals - lo) * scale).astype(np.intp)
        np.minimum(ii, bins - 1, out=ii)  # the right edge belongs to the last bin
        # rounding can put a value next to an edge in the neighbouring bin: numpy
        # corrects that against the edges, and so must we to give the same counts
        np.maximum(ii, 0, out=ii)
        cmp = _compare_edges(dtype, bins, lo, hi, edges)
        ii -= vals < cmp[ii]
        ii += (vals >= cmp[ii + 1]) & (ii != bins - 1)
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
    m, _, counts = _fused(h, None, act, bins, _fixed_range(act, hist_range))
    return _finish(h, m, counts, act, bins, hist_range)


def layer_and_pre_stats(
    h: Array, u: Array, act: Activation, bins: int = DEFAULT_BINS,
    hist_range: tuple[float, float] | None = None,
) -> tuple[LayerStats, MomentStats]:
    """A layer's statistics and its pre-activation moments, from one streamed read of h and u."""
    m, pre, counts = _fused(h, u, act, bins, _fixed_range(act, hist_range))
    return _finish(h, m, counts, act, bins, hist_range), pre  # type: ignore[return-value]


def _fixed_range(act: Activation | None, hist_range: tuple[float, float] | None) -> tuple[float, float] | None:
    if hist_range is not None:
        return hist_range
    if act is not None and act.bounds is not None:
        return act.bounds
    return None


def _fused(h: Array, u: Array | None, act: Activation | None, bins: int,
           rng: tuple[float, float] | None) -> tuple[MomentStats, MomentStats | None, dict[str, Any]]:
    """One pass over row blocks of h (and u, the activation's input): moments of both, exact zeros,
    saturated entries, units alive in some example, and the histogram when its range is known."""
    n = h.size
    hm, um = _Moments(), _Moments()
    zeros = sat = 0
    all_alive = False
    alive = np.zeros(h.shape[1] if h.ndim == 2 else 1, dtype=bool)
    hist = np.zeros(bins, dtype=np.int64)
    outside = 0
    edges = None
    work: dict[str, Array] = {}
    with np.errstate(all="ignore"):
        hb = _row_blocks(h)
        ub = _row_blocks(u) if u is not None else [None] * len(hb)
        if u is not None and len(ub) != len(hb):  # maxout: u has more columns; match the row blocks
            rows = hb[0].shape[0]
            u2 = u.reshape(u.shape[0], -1)
            ub = [u2[i:i + rows] for i in range(0, u2.shape[0], rows)]
        safe_h = _safe_top(h.dtype, hb[0].size)
        safe_u = _safe_top(u.dtype, ub[0].size) if u is not None else safe_h
        sat_rule = act.saturated if (act is not None and act.pieces == 1) else None
        for hc, uc in zip(hb, ub):
            hm.add(hc, safe_h)
            if uc is not None:
                um.add(uc, safe_u)
            zeros += int(np.count_nonzero(hc == 0))  # (a SIMD compare: faster than count_nonzero(hc))
            if act is not None:
                if sat_rule is not None:
                    sat += int(np.count_nonzero(sat_rule(uc if uc is not None else hc, hc)))
                if not all_alive:  # once every unit has been non-zero somewhere, nothing can change
                    np.logical_or(alive, hc.any(axis=0), out=alive)
                    all_alive = bool(alive.all())
            if rng is not None:
                if edges is None:
                    edges, cmp = _fixed_edges(h.dtype, bins, rng[0], rng[1])
                inside = hm.ok and rng[0] <= hm.lo and hm.hi <= rng[1]  # (hm has seen this block)
                if not (inside and _histogram_inside(hc, bins, rng[0], rng[1], cmp, hist, work)):
                    part = histogram(hc, bins, rng[0], rng[1])
                    hist += part.counts
                    outside += part.outside
    m = hm.result() if hm.ok else _moments_whole(h)
    pre = None if u is None else (um.result() if um.ok else _moments_whole(u))
    counts = {"zero_frac": zeros / n if n else 0.0,
              "sat": (sat / n) if sat_rule is not None else None,
              "dead": (alive.size - int(np.count_nonzero(alive))) / alive.size if act is not None else None,
              "hist": Histogram(edges, hist, outside) if edges is not None else None}
    return m, pre, counts


def _finish(h: Array, m: MomentStats, counts: dict[str, Any], act: Activation | None, bins: int,
            hist_range: tuple[float, float] | None) -> LayerStats:
    hist = counts["hist"]
    if hist is None:  # the range is the data's: known only now
        hist = data_histogram(h, m, bins)
    sat = counts["sat"]
    if act is not None and act.saturated is None:
        sat = None
    return LayerStats(m, sat, float(counts["zero_frac"]), counts["dead"], hist)


@functools.lru_cache(maxsize=64)
def _fixed_edges(dtype: np.dtype, bins: int, lo: float, hi: float) -> tuple[Array, Array]:
    """A fixed range's edges and compare edges (the same for every layer of a network: computed once,
    shared read-only)."""
    edges = _range_and_edges(bins, lo, hi)[2]
    cmp = _compare_edges(dtype, bins, lo, hi, edges)
    for e in (edges, cmp):
        e.setflags(write=False)
    return edges, cmp


def _compare_edges(dtype: np.dtype, bins: int, lo: float, hi: float, edges: Array) -> Array:
    """The edges np.histogram compares values with: computed in the data's dtype (float32 data,
    float32 edges: its bins follow np.result_type of the data and the range)."""
    if dtype == np.float32:
        with np.errstate(all="ignore"):
            e = np.linspace(lo, hi, bins + 1, dtype=np.float32)
        if np.all(np.isfinite(e)):
            return e
    return edges


def _histogram_inside(c: Array, bins: int, lo: float, hi: float, cmp: Array, counts: Array,
                      work: dict[str, Array]) -> bool:
    """Add ``c``'s histogram to ``counts``; the caller knows every entry is finite and inside [lo, hi].
    False (nothing added) for a range this cannot handle: empty, or too wide to subtract.

    The bin index is floor((v - lo) * bins / (hi - lo)) in the data's dtype, into reused buffers;
    only entries within rounding distance of a bin edge (a tiny share) are then settled by comparing
    with ``cmp``, the edges np.histogram compares with, so the counts are np.histogram's."""
    if not _fast_ok(c.dtype, bins, lo, hi):
        return False
    flat = c.reshape(-1)
    n = flat.size
    t = c.dtype.type
    # bin indices as int8 when they fit (one small SIMD cast, and pairs of them counted at once below);
    # else float -> int32 -> intp: two SIMD casts, several times faster than float -> int64 directly
    small = bins <= SMALL_BINS
    if work.get("f") is None or work["f"].size < n or work["f"].dtype != c.dtype:
        work["f"], work["g"] = np.empty(n, c.dtype), np.empty(n, c.dtype)
        work["i8"], work["b"] = np.empty(n, np.int8), np.empty(n, bool)
        work["i32"] = work["i"] = None
    if not small and work["i"] is None:
        work["i32"], work["i"] = np.empty(work["f"].size, np.int32), np.empty(work["f"].size, np.intp)
    f, g, b = work["f"][:n], work["g"][:n], work["b"][:n]
    ii = work["i8"][:n] if small else work["i"][:n]
    np.subtract(flat, t(lo), out=f)
    f *= t(bins / (hi - lo))  # 0 <= f <= bins (up to rounding)
    np.floor(f, out=g)
    if small:  # (floor is in -1..bins: an index out of 0..bins-1 is next to an edge, and settled below)
        np.copyto(ii, g, casting="unsafe")
    else:
        i32 = work["i32"][:n]
        np.copyto(i32, g, casting="unsafe")
        np.copyto(ii, i32)
    np.subtract(f, g, out=g)  # the fractional part, in [0, 1)
    g -= t(0.5)
    np.abs(g, out=g)
    tol = 1e-4 if c.dtype.itemsize <= 4 else 1e-9
    np.greater(g, t(0.5 - tol), out=b)  # within tol of an edge (v == hi included)
    if np.count_nonzero(b):
        near = np.flatnonzero(b)
        v = flat[near]
        k = np.clip(ii[near], 0, bins - 1).astype(np.intp, copy=False)
        k -= v < cmp[k]
        k += (v >= cmp[k + 1]) & (k != bins - 1)
        np.clip(k, 0, bins - 1, out=k)
        ii[near] = k
    if small:
        _count_int8(ii, bins, counts)
    else:
        counts += np.bincount(ii, minlength=bins)[:bins]
    return True


# int8 bin indices (0..bins-1) are counted two at a time: a pair of bytes read as one uint16 is
# i + 256 j, so one np.bincount over n/2 values (bincount's cost is per value) gives the pair counts,
# whose row and column sums are the counts of the two bytes (which byte is which does not matter).
SMALL_BINS = 127


def _count_int8(ii: Array, bins: int, counts: Array) -> None:
    n = ii.size
    m = n - n % 2
    if m:
        pairs = np.bincount(ii[:m].view(np.uint16), minlength=256 * bins)[:256 * bins].reshape(bins, 256)
        pairs = pairs[:, :bins]
        counts += pairs.sum(axis=0)
        counts += pairs.sum(axis=1)
    if n % 2:
        counts[int(ii[n - 1])] += 1


def data_histogram(a: Array, m: MomentStats, bins: int) -> Histogram:
    """Histogram of ``a`` over its own finite range; ``m`` is ``a``'s moments (which know its extremes)."""
    if m.nonfinite_frac != 0.0:
        finite = a[np.isfinite(a)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (math.nan, math.nan)
        return _blocked_histogram(a, bins, lo, hi)
    lo, hi = m.min, m.max
    if a.size and _fast_ok(a.dtype, bins, lo, hi):
        # every entry is finite and inside [lo, hi]: the fast in-range path, block by block
        edges = _range_and_edges(bins, lo, hi)[2]
        with np.errstate(all="ignore"):
            cmp = _compare_edges(a.dtype, bins, lo, hi, edges)
            counts = np.zeros(bins, dtype=np.int64)
            work: dict[str, Array] = {}
            for c in _row_blocks(a):
                _histogram_inside(c, bins, lo, hi, cmp, counts, work)
        return Histogram(edges, counts, 0)
    return _blocked_histogram(a, bins, lo, hi)


def _blocked_histogram(a: Array, bins: int, lo: float, hi: float) -> Histogram:
    """histogram() over cache-sized row blocks (the same counts, summed)."""
    blocks = _row_blocks(a)
    first = histogram(blocks[0], bins, lo, hi)
    counts, outside = first.counts.copy(), first.outside
    for c in blocks[1:]:
        part = histogram(c, bins, lo, hi)
        counts += part.counts
        outside += part.outside
    return Histogram(first.edges, counts, outside)
