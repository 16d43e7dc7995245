"""The checkpoints' per-layer statistics with little per-call overhead. Pure numpy.

``actstat.stats.layer_stats`` is the general path: it streams any matrix in cache-sized blocks and
handles every dtype, non-finite entries and extreme magnitudes. A training checkpoint's matrices are a
small batch's activations (batch x width, a few layers), where that path's per-call Python overhead is
most of the cost (~0.2-0.3 ms a layer on a 100 x 100 layer). ``checkpoint_stats`` gives the same
figures bit for bit: the moments by stats' own one-block arithmetic step for step, and the histograms,
zeros and saturated entries for every layer together, the layers' entries laid end to end in buffers
kept from checkpoint to checkpoint: one bin-index computation floor((v - lo) * bins / (hi - lo)) (plus
the layer's offset), the entries within rounding distance of an edge settled against the edges
np.histogram compares with (as stats does), one bincount. A layer it cannot vouch for (not float64,
more than one of stats' row blocks, non-finite entries, magnitudes whose squares leave float64's normal
range, a maxout layer, a range the fast histogram cannot take) goes through stats.layer_stats itself.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from ..activations import Activation
from ..stats import (
    Histogram,
    LayerStats,
    MomentStats,
    _fast_ok,
    _fixed_edges,
    _row_blocks,
    _safe_top,
    layer_stats,
    moments,
)

Array = np.ndarray


def checkpoint_stats(hs: list[Array], us: list[Array | None], act: Activation, bins: int,
                     ranges: list[tuple[float, float]]) -> list[LayerStats]:
    """stats.layer_stats(hs[i], us[i], act, bins, ranges[i]) for every layer i, the same numbers. (us is
    passed on to layer_stats, which counts saturated entries on h: so does this.)"""
    n_l = len(hs)
    out: list[LayerStats | None] = [None] * n_l
    # (one row block of stats' streaming, so that the moments below are its numbers bit for bit)
    lean = [i for i, h in enumerate(hs)
            if h.dtype == np.float64 and h.ndim == 2 and h.size and act.pieces == 1
            and len(_row_blocks(h)) == 1 and _fast_ok(h.dtype, bins, *ranges[i])]
    if lean:
        with np.errstate(all="ignore"):
            _lean(hs, us, act, bins, ranges, lean, out)
    for i in range(n_l):
        if out[i] is None:
            out[i] = layer_stats(hs[i], us[i], act, bins, ranges[i])
    return out  # type: ignore[return-value]


_LOCAL = threading.local()  # the layouts and their work buffers, per thread (dask workers may train in threads)


def _layout(sizes: tuple[int, ...], rngs: tuple[tuple[float, float], ...], bins: int) -> tuple[Any, ...]:
    """Per-entry lower bounds, upper bounds, scales and bin offsets (layer * bins) of the layers laid end to
    end, the layers' compare edges (bins + 1 a layer) and work buffers: the same at every checkpoint of a
    run, so kept (per thread)."""
    key = (sizes, rngs, bins)
    cache = _LOCAL.__dict__.setdefault("layouts", {})
    got = cache.get(key)
    if got is None:
        counts = np.array(sizes)
        lo = np.repeat([r[0] for r in rngs], counts).astype(np.float64)
        hi = np.repeat([r[1] for r in rngs], counts).astype(np.float64)
        scale = np.repeat([bins / (r[1] - r[0]) for r in rngs], counts).astype(np.float64)
        off = np.repeat(np.arange(len(sizes)) * bins, counts).astype(np.float64)
        cmp = np.stack([_fixed_edges(np.dtype(np.float64), bins, r[0], r[1])[1] for r in rngs])
        n = int(counts.sum())
        work = {k: np.empty(n, dt) for k, dt in (("flat", np.float64), ("f", np.float64), ("g", np.float64),
                                                  ("frac", np.float64), ("near", bool), ("inside", bool),
                                                  ("tmp", bool), ("zero", bool), ("i32", np.int32),
                                                  ("i", np.intp))}
        got = (lo, hi, scale, off, cmp, work)
        if len(cache) > 8:
            cache.clear()
        cache[key] = got
    return got


def _lean(hs: list[Array], us: list[Array | None], act: Activation, bins: int, ranges: list[tuple[float, float]],
          lean: list[int], out: list[LayerStats | None]) -> None:
    sizes = tuple(hs[i].size for i in lean)
    bounds = np.concatenate(([0], np.cumsum(sizes)))
    n_l = len(lean)
    lo_e, hi_e, scale_e, off_e, cmp, w = _layout(sizes, tuple(ranges[i] for i in lean), bins)
    flat = np.concatenate([hs[i].reshape(-1) for i in lean], out=w["flat"])
    # histograms: floor((v - lo) * bins / (hi - lo)) (+ the layer's offset) for every entry, as stats'
    # fast path computes it; the entries within rounding distance of an edge settled against the edges
    # np.histogram compares with; entries outside the range (or NaN) counted in a spare bin. Every
    # temporary in buffers kept from checkpoint to checkpoint (fresh ones cost page faults).
    f, g, frac, near, inside, idx32, idx = w["f"], w["g"], w["frac"], w["near"], w["inside"], w["i32"], w["i"]
    np.subtract(flat, lo_e, out=f)
    f *= scale_e
    np.floor(f, out=g)
    np.subtract(f, g, out=frac)
    frac -= 0.5
    np.abs(frac, out=frac)
    np.greater(frac, 0.5 - 1e-9, out=near)
    # (an entry equal to its range's lower end, every ReLU zero with a range from 0, is in bin 0 as it
    # stands: f = 0 exactly and the first edge is lo)
    near &= np.not_equal(f, 0.0, out=w["tmp"])
    np.greater_equal(flat, lo_e, out=inside)
    inside &= np.less_equal(flat, hi_e, out=w["tmp"])
    all_in = bool(inside.all())
    g += off_e
    if not all_in:
        np.logical_not(inside, out=w["tmp"])
        g[w["tmp"]] = n_l * bins  # (the spare bin; also keeps NaN and inf out of the cast)
        near &= inside
    np.copyto(idx32, g, casting="unsafe")  # (float -> int32 -> intp: two fast casts)
    np.copyto(idx, idx32)
    if near.any():
        where = np.flatnonzero(near)
        v = flat[where]
        layer = np.searchsorted(bounds, where, side="right") - 1
        k = np.clip(idx[where] - layer * bins, 0, bins - 1)
        ctab = cmp.reshape(-1)
        base = layer * (bins + 1)
        k -= v < ctab[base + k]
        k += (v >= ctab[base + k + 1]) & (k != bins - 1)
        np.clip(k, 0, bins - 1, out=k)
        idx[where] = layer * bins + k
    counts = np.bincount(idx, minlength=n_l * bins + 1)[:n_l * bins].reshape(n_l, bins)
    zero = np.equal(flat, 0, out=w["zero"])
    sat = None if act.saturated is None else act.saturated(flat, flat)  # (on h, as stats.layer_stats: its
    # streaming pass is given no z)
    for j, i in enumerate(lean):
        h = hs[i]
        a, b = int(bounds[j]), int(bounds[j + 1])
        n = b - a
        mom = _one_block_moments(h)
        if mom is None:
            continue  # the general path (non-finite entries, extreme magnitudes)
        sat_f = None if sat is None else int(np.count_nonzero(sat[a:b])) / n
        dead = (h.shape[1] - int(np.count_nonzero(h.any(axis=0)))) / h.shape[1]
        edges = _fixed_edges(h.dtype, bins, ranges[i][0], ranges[i][1])[0]
        n_out = 0 if all_in else n - int(np.count_nonzero(inside[a:b]))
        hist = Histogram(edges, counts[j].astype(np.int64), n_out)
        out[i] = LayerStats(mom, sat_f, int(np.count_nonzero(zero[a:b])) / n, dead, hist)


def moments_of(a: Array) -> MomentStats:
    """stats.moments(a), the same numbers, with less overhead for a float64 matrix of one row block."""
    if a.dtype == np.float64 and a.ndim == 2 and a.size and len(_row_blocks(a)) == 1:
        with np.errstate(all="ignore"):
            m = _one_block_moments(a)
        if m is not None:
            return m
    return moments(a)


def rms_of(a: Array) -> float:
    """moments_of(a).rms, the same number, from one sum and one dot product (no min, max or record) when
    the sum of squares shows that moments_of's one-block path applies: every magnitude within
    [sqrt(q / n), sqrt(q)], so within its safe range whenever that interval is. Else moments_of itself."""
    if a.dtype == np.float64 and a.ndim == 2 and a.size and len(_row_blocks(a)) == 1:
        v = a.reshape(-1)
        n = v.size
        with np.errstate(all="ignore"):
            s = float(v.sum())
            q = float(np.dot(v, v))
            lo, hi = _safe_top(a.dtype, n)
            if math.isfinite(q) and lo <= math.sqrt(q / n) and math.sqrt(q) <= hi:
                cm = s / n
                cm2 = q - s * cm
                if not cm2 > 1e-3 * q:  # (as _one_block_moments)
                    d = v - cm
                    cm2 = float(np.dot(d, d))
                mean = 0.0 + cm * n / n
                var = (0.0 + (cm2 + 0.0)) / n
                return math.sqrt(var + mean ** 2)
    return moments_of(a).rms


def _one_block_moments(h: Array) -> MomentStats | None:
    """stats._Moments.add on h as its one block, then .result(), step for step (the same numbers); None
    where stats takes its whole-array path (non-finite entries, magnitudes whose squares leave the range)."""
    lo, hi = float(h.min()), float(h.max())
    top = max(abs(lo), abs(hi))
    safe = _safe_top(h.dtype, h.size)
    if not (math.isfinite(lo) and math.isfinite(hi)) or (top > 0 and not safe[0] <= top <= safe[1]):
        return None
    v = h.reshape(-1)
    n = v.size
    s = float(v.sum())
    q = float(np.dot(v, v))
    cm = s / n
    cm2 = q - s * cm
    if not cm2 > 1e-3 * q:  # a mean of over ~30 stds (or a constant matrix): centre first
        d = v - cm
        cm2 = float(np.dot(d, d))
    mean = 0.0 + cm * n / n
    var = (0.0 + (cm2 + 0.0)) / n
    return MomentStats(mean, math.sqrt(var), lo, hi, math.sqrt(var + mean ** 2), 0.0)
