"""The block-wise (cache-sized) statistics give the plain numpy figures, whatever the block size:
moments to rounding, histogram counts exactly (values on bin edges included), zero/dead/saturated
counts exactly."""

from __future__ import annotations

import numpy as np
import pytest

from actstat import stats
from actstat.activations import get_activation
from actstat.stats import layer_and_pre_stats, layer_stats, moments

SHAPES = [(1, 1), (1, 257), (257, 1), (300, 70), (40, 300)]


def matrix(shape: tuple[int, int], dtype: type, kind: str, rng: np.random.Generator) -> np.ndarray:
    a = (rng.standard_normal(shape) * 0.7).astype(dtype)
    if kind == "const":
        a[...] = dtype(0.375)
    elif kind == "nonfinite":
        flat = a.ravel()
        idx = rng.choice(flat.size, size=max(1, flat.size // 20), replace=False)
        flat[idx[0::3]] = np.nan
        flat[idx[1::3]] = np.inf
        flat[idx[2::3]] = -np.inf
    elif kind == "zeros":
        a[a < 0.3] = 0
    elif kind == "edges":  # values exactly on the bins' edges, as numpy computes them for this dtype
        edges = np.linspace(dtype(-1), dtype(1), 31, dtype=dtype)
        flat = a.ravel()
        flat[::3] = rng.choice(edges, size=flat[::3].size)
    return a


@pytest.mark.parametrize("chunk", [8, 4096, stats.CHUNK_BYTES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["normal", "const", "nonfinite", "zeros", "edges"])
@pytest.mark.parametrize("shape", SHAPES)
def test_blocked_statistics_equal_plain_numpy(monkeypatch: pytest.MonkeyPatch, chunk: int, dtype: type, kind: str,
                                               shape: tuple[int, int], rng: np.random.Generator) -> None:
    monkeypatch.setattr(stats, "CHUNK_BYTES", chunk)
    h = np.clip(matrix(shape, dtype, kind, rng), dtype(-1), dtype(1)) if kind != "nonfinite" else \
        matrix(shape, dtype, kind, rng)
    z = matrix(shape, dtype, "normal", rng)
    tanh = get_activation("tanh")
    for rng_ in [None, (-1.0, 1.0), (-0.3, 0.5)]:
        st, pre = layer_and_pre_stats(h, z, tanh, 30, rng_)
        finite = h[np.isfinite(h)]
        lo, hi = rng_ if rng_ else (-1.0, 1.0)
        np.testing.assert_array_equal(st.hist.counts, np.histogram(finite, 30, range=(lo, hi))[0])
        assert st.hist.outside == int(np.count_nonzero((finite < lo) | (finite > hi)))
        assert st.zero_frac == (h.size - np.count_nonzero(h)) / h.size
        assert st.saturated_frac == np.count_nonzero(np.abs(h) > 0.99) / h.size
        assert st.dead_frac == np.count_nonzero(~(h != 0).any(axis=0)) / h.shape[1]
        ref = z.astype(np.float64)
        assert pre.mean == pytest.approx(ref.mean(), rel=1e-6, abs=1e-7)
        assert pre.std == pytest.approx(ref.std(), rel=1e-6)
    m = moments(h)
    if kind != "nonfinite":
        ref = h.astype(np.float64)
        assert m.mean == pytest.approx(ref.mean(), rel=1e-6, abs=1e-7)
        assert m.std == pytest.approx(ref.std(), rel=1e-5, abs=1e-7)
        assert (m.min, m.max) == (ref.min(), ref.max())
    else:
        assert m.nonfinite_frac == pytest.approx(np.count_nonzero(~np.isfinite(h)) / h.size)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unbounded_activation_histogram_over_the_data_range(dtype: type, rng: np.random.Generator) -> None:
    z = rng.standard_normal((123, 77)).astype(dtype)
    h = np.maximum(z, 0)
    st = layer_stats(h, z, get_activation("relu"), 30)
    np.testing.assert_array_equal(st.hist.counts, np.histogram(h, 30, range=(float(h.min()), float(h.max())))[0])


def hard_matrix(kind: str, rng: np.random.Generator) -> np.ndarray:
    n = (8 * stats.CHUNK_BYTES // (256 * 4), 256)  # eight float32 blocks, sixteen float64 blocks
    if kind == "late_offset":  # centred blocks first (no shift), then blocks far from the running mean
        a = rng.standard_normal(n)
        a[n[0] // 2:] += 1000
        return a
    return {"offset": lambda: 1000 + rng.standard_normal(n),
            "centred": lambda: rng.standard_normal(n),
            "sorted": lambda: np.sort(rng.standard_normal(n[0] * n[1]) * 100 + 50).reshape(n),
            "narrow": lambda: 0.5 + 1e-3 * rng.standard_normal(n),
            "skewed": lambda: rng.exponential(1.0, n)}[kind]()


KINDS = ["offset", "centred", "late_offset", "sorted", "narrow", "skewed"]


@pytest.mark.parametrize("kind", KINDS)
def test_float32_moments_over_many_blocks_keep_float64_accuracy(kind: str, rng: np.random.Generator) -> None:
    # float32 blocks are summed in float32 (after a shift by the running mean unless it is small
    # next to the spread): the error must stay ~1e-7 of the spread however far the mean is from zero
    # or drifts from block to block
    a = hard_matrix(kind, rng).astype(np.float32)
    assert len(stats._row_blocks(a)) > 4
    m, ref = moments(a), a.astype(np.float64)
    assert abs(m.mean - ref.mean()) < 1e-6 * ref.std()
    assert m.std == pytest.approx(ref.std(), rel=1e-6)
    assert m.rms == pytest.approx(np.sqrt(np.mean(ref * ref)), rel=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_float64_moments_over_many_blocks_keep_float64_accuracy(kind: str, rng: np.random.Generator) -> None:
    # float64 blocks use the sum of squares unless the mean dwarfs the spread: still ~1e-12 relative
    a = hard_matrix(kind, rng)
    assert len(stats._row_blocks(a)) > 4
    m = moments(a)
    mean = float(np.mean(a))
    std = float(np.sqrt(np.mean((a - mean) ** 2)))
    assert abs(m.mean - mean) < 1e-12 * std
    assert m.std == pytest.approx(std, rel=1e-11)
    assert m.rms == pytest.approx(np.sqrt(np.mean(a * a)), rel=1e-11)


@pytest.mark.parametrize("chunk", [8, 4096, stats.CHUNK_BYTES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["normal", "const", "nonfinite", "zeros", "edges", "relu"])
@pytest.mark.parametrize("shape", SHAPES)
def test_data_range_histogram_equals_numpy(monkeypatch: pytest.MonkeyPatch, chunk: int, dtype: type, kind: str,
                                           shape: tuple[int, int], rng: np.random.Generator) -> None:
    # the histogram over a matrix's own range (unbounded activations, gradients): np.histogram's counts
    # over the finite entries, values on the extremes and on the bins' edges included
    monkeypatch.setattr(stats, "CHUNK_BYTES", chunk)
    if kind == "relu":
        a = np.maximum(matrix(shape, dtype, "normal", rng), dtype(0))
    else:
        a = matrix(shape, dtype, kind, rng) * dtype(3)
    if kind == "edges" and a.size > 2:  # the data's extremes exactly +-3, so the edges above are bin edges
        a.flat[0], a.flat[1] = dtype(-3), dtype(3)
    finite = a[np.isfinite(a)]
    h = stats.data_histogram(a, moments(a), 30)
    if finite.size:
        ref_counts, ref_edges = np.histogram(finite, 30, range=(float(finite.min()), float(finite.max())))
        np.testing.assert_array_equal(h.counts, ref_counts)
        np.testing.assert_allclose(h.edges, ref_edges, rtol=1e-6 if dtype == np.float32 else 1e-12)  # (ours float64)
        assert h.outside == 0
    else:
        assert h.counts.sum() == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_data_range_histogram_near_the_float_limits(dtype: type, rng: np.random.Generator) -> None:
    big = float(np.finfo(dtype).max)
    a = (rng.uniform(-0.5, 0.5, (64, 33)) * big).astype(dtype)
    a.flat[0], a.flat[1] = dtype(0), dtype(big)  # [0, max]: hi - lo is still finite
    a = np.abs(a)
    with np.errstate(all="ignore"):  # (numpy's own linspace overflows on its way, harmlessly)
        ref = np.histogram(a, 30, range=(float(a.min()), float(a.max())))[0]
    np.testing.assert_array_equal(stats.data_histogram(a, moments(a), 30).counts, ref)
