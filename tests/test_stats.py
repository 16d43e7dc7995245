"""Statistics against plain numpy, plus property tests."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from actstat.activations import get_activation
from actstat.rendering.records import to_json
from actstat.stats import histogram, layer_stats, moments


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_moments_match_numpy(dtype: type, rng: np.random.Generator) -> None:
    a = (rng.standard_normal((300, 40)) * 3 + 1).astype(dtype)
    m = moments(a)
    ref = a.astype(np.float64)
    assert m.mean == pytest.approx(ref.mean(), rel=1e-6)
    assert m.std == pytest.approx(ref.std(), rel=1e-6)
    assert m.rms == pytest.approx(np.sqrt(np.mean(ref**2)), rel=1e-6)
    assert (m.min, m.max) == (ref.min(), ref.max())
    assert m.nonfinite_frac == 0.0


def test_tiny_std_next_to_large_mean_is_accurate() -> None:
    a = 0.5 + 1e-6 * np.random.default_rng(0).standard_normal((1000, 100))
    assert moments(a).std == pytest.approx(a.std(), rel=1e-6)
    assert moments(a.astype(np.float32)).std == pytest.approx(a.astype(np.float32).astype(np.float64).std(), rel=1e-2)


def test_nonfinite_entries_are_counted_not_raised() -> None:
    import warnings

    a = np.ones((4, 5))
    a[0, 0] = np.inf
    a[1, 1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = moments(a)
        s = layer_stats(a, a, get_activation("relu"))
    assert m.nonfinite_frac == pytest.approx(2 / 20)
    assert s.hist.counts.sum() == 18


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rng_range", [(-1.0, 1.0), (0.0, 1.0), None])
def test_histogram_equals_numpy(dtype: type, rng_range: tuple[float, float] | None, rng: np.random.Generator) -> None:
    a = rng.standard_normal((500, 60)).astype(dtype)
    lo, hi = rng_range if rng_range else (float(a.min()), float(a.max()))
    h = histogram(a, 30, lo, hi)
    counts, edges = np.histogram(a, 30, range=(lo, hi))
    np.testing.assert_array_equal(h.counts, counts)
    np.testing.assert_allclose(h.edges, edges)
    assert h.outside == int(np.sum((a < lo) | (a > hi)))


def test_layer_stats_fractions() -> None:
    relu = get_activation("relu")
    z = np.array([[-1.0, 2.0, -3.0], [-1.0, 0.5, -2.0]])
    s = layer_stats(relu.forward(z), z, relu)
    assert s.zero_frac == pytest.approx(4 / 6)
    assert s.dead_frac == pytest.approx(2 / 3)  # units 0 and 2 are zero for every example
    assert s.saturated_frac is None
    tanh = get_activation("tanh")
    z = np.array([[0.0, 3.0, -3.0, 0.1]])
    s = layer_stats(tanh.forward(z), z, tanh)
    assert s.saturated_frac == pytest.approx(0.5)  # tanh(3) = 0.995
    np.testing.assert_allclose(s.hist.edges[[0, -1]], [-1.0, 1.0])  # bounded: fixed range


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=64)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 9)), elements=finite))
def test_properties(a: np.ndarray) -> None:
    s = layer_stats(a, a, get_activation("tanh"))
    assert s.std >= 0
    assert 0.0 <= s.zero_frac <= 1.0
    assert s.dead_frac is not None and 0.0 <= s.dead_frac <= 1.0
    assert s.saturated_frac is not None and 0.0 <= s.saturated_frac <= 1.0
    assert s.moments.min <= s.mean + 1e-9 * max(1.0, abs(s.mean)) and s.mean <= s.moments.max + 1e-9 * max(1.0, abs(s.mean))
    assert s.hist.counts.sum() + s.hist.outside == a.size


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 5)),
              elements=st.floats(allow_nan=True, allow_infinity=True, width=64)))
def test_json_round_trip_is_valid_and_stable(a: np.ndarray) -> None:
    s = layer_stats(a, a, get_activation("relu"))
    doc = {"mean": s.mean, "std": s.std, "rms": s.rms, "counts": s.hist.counts, "edges": s.hist.edges}
    text = to_json(doc)
    back = json.loads(text)  # strict JSON: json.loads would accept NaN, so also check the text
    assert "NaN" not in text and "Infinity" not in text
    assert to_json(back) == text


@pytest.mark.parametrize("dtype, scale", [(np.float64, 1e-200), (np.float64, 1e150), (np.float32, 1e-30), (np.float32, 1e25)])
def test_moments_survive_squares_that_would_underflow_or_overflow(dtype: type, scale: float, rng: np.random.Generator) -> None:
    base = rng.standard_normal((200, 30)) + 0.3
    a = (base * scale).astype(dtype)
    m = moments(a)
    ref = a.astype(np.float64) / scale  # independent: moments of the unscaled data
    assert m.mean / scale == pytest.approx(ref.mean(), rel=1e-5)
    assert m.std / scale == pytest.approx(ref.std(), rel=1e-5)
    assert m.rms / scale == pytest.approx(np.sqrt(np.mean(ref**2)), rel=1e-5)
    assert m.nonfinite_frac == 0.0
