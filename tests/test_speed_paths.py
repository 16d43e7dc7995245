"""The fast paths added for speed (issue 20) give exactly what the plain computations give.

The histogram's int8 bin indices, counted two at a time, against np.histogram; the edges shared
between layers against np.histogram's edges (and read-only, so no layer can change another's).
"""

from __future__ import annotations

import numpy as np
import pytest

from actstat.activations import get_activation
from actstat.stats import SMALL_BINS, _count_int8, _fixed_edges, layer_and_pre_stats, layer_stats


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bins", [1, 2, 7, 30, SMALL_BINS, SMALL_BINS + 1, 300])
@pytest.mark.parametrize("n", [1, 2, 3, 257, 4097])
def test_fixed_range_histogram_counts_are_numpys(dtype: type, bins: int, n: int) -> None:
    rng = np.random.default_rng(bins * 1000 + n)
    lo, hi = -1.0, 1.0
    h = np.tanh(rng.standard_normal((n, 3)) * 2).astype(dtype)
    edges = np.linspace(lo, hi, bins + 1)
    # entries exactly on (and one ulp either side of) bin edges, and on both ends of the range
    k = min(h.size, 3 * (bins + 1))
    on = np.repeat(edges.astype(dtype), 3)[:k]
    on[1::3] = np.nextafter(on[1::3], dtype(np.inf))
    on[2::3] = np.nextafter(on[2::3], dtype(-np.inf))
    h.flat[:k] = np.clip(on, dtype(lo), dtype(hi))
    act = get_activation("tanh")
    st = layer_stats(h, h, act, bins)
    assert st.hist.counts.tolist() == np.histogram(h, bins, range=(lo, hi))[0].tolist()
    # (the reported edges are float64 whatever the data's dtype)
    assert np.array_equal(st.hist.edges, np.histogram_bin_edges(h.astype(np.float64), bins, range=(lo, hi)))
    assert st.hist.counts.sum() == h.size and st.hist.outside == 0


def test_pairs_of_int8_indices_count_like_bincount() -> None:
    rng = np.random.default_rng(1)
    for n in (1, 2, 5, 1000, 1001):
        for bins in (1, 3, SMALL_BINS):
            ii = rng.integers(0, bins, n).astype(np.int8)
            counts = np.zeros(bins, dtype=np.int64)
            _count_int8(ii, bins, counts)
            assert counts.tolist() == np.bincount(ii.astype(np.intp), minlength=bins).tolist()


def test_shared_edges_are_numpys_and_read_only() -> None:
    edges, cmp = _fixed_edges(np.dtype(np.float32), 30, -1.0, 1.0)
    assert np.array_equal(edges, np.histogram_bin_edges(np.zeros(1), 30, range=(-1.0, 1.0)))
    assert cmp.dtype == np.float32 and np.array_equal(cmp, np.linspace(-1.0, 1.0, 31, dtype=np.float32))
    with pytest.raises(ValueError):
        edges[0] = 5.0
    # two layers share the edges; each layer's counts are its own
    rng = np.random.default_rng(2)
    act = get_activation("tanh")
    a = np.tanh(rng.standard_normal((64, 8))).astype(np.float32)
    b = np.tanh(3 * rng.standard_normal((64, 8))).astype(np.float32)
    sa, _ = layer_and_pre_stats(a, a, act)
    sb, _ = layer_and_pre_stats(b, b, act)
    assert sa.hist.edges is sb.hist.edges
    assert sa.hist.counts.tolist() == np.histogram(a, 30, range=(-1, 1))[0].tolist()
    assert sb.hist.counts.tolist() == np.histogram(b, 30, range=(-1, 1))[0].tolist()


# --- statistics overlapped with the next layer's product (float32, fan-in <= 256) --------------------


def _blas() -> object:
    from actstat.executor import _BlasThreads

    blas = _BlasThreads.find()
    assert blas is not None  # numpy's OpenBLAS exposes its thread count
    return blas


@pytest.mark.parametrize("n", [10_001, 200_000])
def test_float32_dots_do_not_depend_on_the_blas_thread_count(n: int) -> None:
    """What the overlap relies on: float32 dot products (the moments, on the helper thread) are never
    threaded. (float32 products are not always the same bits on one thread as on two: with OpenBLAS's
    AVX2 kernels they differ in the last bits; the overlap runs them on one thread, as the sequential pass
    it is compared with below.)"""
    blas = _blas()
    v = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    with blas.limit(1):  # type: ignore[attr-defined]
        one = np.dot(v, v)
    with blas.limit(2):  # type: ignore[attr-defined]
        two = np.dot(v, v)
    assert one == two


@pytest.mark.parametrize("kw", [
    {"widths": (200,) * 6, "batch": 300, "act": "tanh"},
    {"widths": (160, 200, 256), "batch": 260, "act": "relu", "init": "he", "bias_std": 0.2},
    {"widths": (128,) * 4, "batch": 400, "act": "relu", "init": "he", "batchnorm": True, "dropout": 0.3},
    {"widths": (200,) * 4, "batch": 300, "act": "tanh", "grad": True},
    {"widths": (128,) * 3, "batch": 300, "act": "maxout", "init": "he"},
])
def test_overlapped_statistics_give_the_same_document(kw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from actstat import probe

    cfg = probe.ProbeConfig(dtype="float32", **kw)
    helpers: list[object] = []
    real_helper = probe._Helper

    def counted(fn: object) -> object:
        helpers.append(fn)
        return real_helper(fn)  # type: ignore[arg-type]

    monkeypatch.setattr(probe, "_Helper", counted)
    before = set(threading.enumerate())
    done: list[int] = []
    overlapped = probe.run_probe(cfg, on_layer=lambda d, t: done.append(d)).to_dict()
    assert len(helpers) == 1  # the statistics did run on a helper thread
    assert set(threading.enumerate()) == before
    assert done == list(range(1, len(done) + 1)) and len(done) == cfg.layers * (2 if cfg.grad else 1)

    class InLine:  # the same pass (its products on one BLAS thread), each layer's statistics computed at once
        def __init__(self, fn) -> None:
            self.fn, self.value = fn, None

        def submit(self, i: int) -> None:
            self.value = self.fn(i)

        def result(self):
            return self.value

        def close(self) -> None:
            pass

    monkeypatch.setattr(probe, "_Helper", InLine)
    plain = probe.run_probe(cfg).to_dict()
    assert len(helpers) == 1
    assert overlapped == plain


def test_no_overlap_for_float64_wide_or_small_layers() -> None:
    from actstat.activations import get_activation
    from actstat.initializers import get_initializer
    from actstat.network import NetworkSpec
    from actstat.probe import overlap_statistics

    def spec(dims: tuple[int, ...], dtype: str) -> NetworkSpec:
        return NetworkSpec(dims=dims, act=get_activation("tanh"), init=get_initializer("xavier"), dtype=np.dtype(dtype))

    assert overlap_statistics(spec((256,) * 5, "float32"), 1024) is not None
    assert overlap_statistics(spec((256,) * 5, "float64"), 1024) is None  # float64 dots are threaded
    assert overlap_statistics(spec((784, 256, 256), "float32"), 1024) is None  # a fan-in over 256
    assert overlap_statistics(spec((256,) * 5, "float32"), 16) is None  # too little work per layer
    assert overlap_statistics(spec((256, 256), "float32"), 1024) is None  # one layer: nothing to overlap


def test_an_error_in_overlapped_statistics_reaches_the_caller_and_leaves_no_thread(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from actstat import probe

    real = probe.layer_and_pre_stats
    calls: list[int] = []

    def failing(*a: object, **k: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise ZeroDivisionError("third layer")
        return real(*a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(probe, "layer_and_pre_stats", failing)
    before = set(threading.enumerate())
    with pytest.raises(ZeroDivisionError, match="third layer"):
        probe.run_probe(probe.ProbeConfig(widths=(200,) * 6, batch=300, dtype="float32"))
    assert set(threading.enumerate()) == before
