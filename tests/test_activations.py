"""Each activation against its formula (independent math), each derivative against central differences."""

from __future__ import annotations

import math

import numpy as np
import pytest

from actstat.activations import (
    ACTIVATIONS, SAT_GELU_Z, SAT_SILU_Z, SELU_ALPHA, SELU_SCALE, erf, get_activation, normal_cdf,
)
from actstat.errors import ConfigError, UnknownNameError
from conftest import rel_error

Z = np.concatenate([np.linspace(-6, 6, 241), [-30.0, -12.5, 12.5, 30.0]])


def _reference(name: str, z: float) -> float:
    """Scalar formulas written independently with the math module."""
    if name == "linear":
        return z
    if name == "sigmoid":
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
    if name == "tanh":
        return math.tanh(z)
    if name == "relu":
        return max(0.0, z)
    if name == "leaky_relu":
        return z if z > 0 else 0.01 * z
    if name == "elu":
        return z if z > 0 else math.exp(z) - 1.0
    if name == "selu":
        return SELU_SCALE * (z if z > 0 else SELU_ALPHA * (math.exp(z) - 1.0))
    if name == "gelu":
        return z * 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    if name == "silu":
        return z / (1.0 + math.exp(-z))
    if name == "softplus":
        return math.log1p(math.exp(z)) if z < 30 else z + math.log1p(math.exp(-z))
    raise KeyError(name)


ELEMENTWISE = [n for n in ACTIVATIONS if n != "maxout"]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_forward_matches_formula(name: str) -> None:
    act = get_activation(name)
    ref = np.array([_reference(name, float(z)) for z in Z])
    got = act.forward(Z.reshape(1, -1)).ravel()
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_central_differences(name: str) -> None:
    act = get_activation(name)
    z = Z[np.abs(Z) > 1e-3]  # away from the kink at 0
    h = 1e-6
    num = (act.f(z + h) - act.f(z - h)) / (2 * h)
    # rounding in f(z +- h) limits the difference quotient to ~1e-10 absolute
    np.testing.assert_allclose(act.df(z), num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_dtype_is_kept(name: str) -> None:
    act = get_activation(name)
    z = np.random.default_rng(0).standard_normal((7, 12)).astype(np.float32)
    h = act.forward(z)
    assert h.dtype == np.float32
    assert act.backward(np.ones_like(h), z).dtype == np.float32


def test_leaky_relu_slope_parameter() -> None:
    act = get_activation("leaky_relu:0.1")
    np.testing.assert_allclose(act.forward(np.array([[-2.0, 3.0]])), [[-0.2, 3.0]])
    assert act.spec == "leaky_relu:0.1"


def test_maxout_takes_the_max_of_k_pieces_and_routes_gradient() -> None:
    act = get_activation("maxout:3")
    assert act.pieces == 3
    z = np.array([[1.0, 5.0, -2.0, 0.5, -1.0, 0.2]])  # two units x three pieces
    np.testing.assert_array_equal(act.forward(z), [[5.0, 0.5]])
    dz = act.backward(np.array([[2.0, 3.0]]), z)
    np.testing.assert_array_equal(dz, [[0.0, 2.0, 0.0, 3.0, 0.0, 0.0]])
    # finite differences through the reduction
    rng = np.random.default_rng(1)
    z = rng.standard_normal((4, 9))
    dh = rng.standard_normal((4, 3))
    num = np.zeros_like(z)
    for idx in np.ndindex(*z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += 1e-6
        zm[idx] -= 1e-6
        num[idx] = ((act.forward(zp) - act.forward(zm)) * dh).sum() / 2e-6
    assert rel_error(act.backward(dh, z), num) < 1e-7


def test_erf_and_normal_cdf_match_math() -> None:
    x = np.linspace(-9, 9, 4001)
    np.testing.assert_allclose(erf(x), [math.erf(v) for v in x], rtol=0, atol=1e-14)
    xs = np.linspace(-35, 8, 2001)
    ref = np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) for v in xs])
    np.testing.assert_allclose(normal_cdf(xs), ref, rtol=1e-10, atol=1e-300)


def test_saturation_thresholds_are_where_the_derivative_is_one_percent() -> None:
    gelu, silu = get_activation("gelu"), get_activation("silu")
    assert abs(abs(gelu.df(np.array([SAT_GELU_Z]))[0]) - 0.01) < 1e-4
    assert abs(abs(silu.df(np.array([SAT_SILU_Z]))[0]) - 0.01) < 1e-4
    # beyond the threshold the derivative stays below 0.01
    z = np.linspace(SAT_GELU_Z - 10, SAT_GELU_Z, 500)
    assert np.all(np.abs(gelu.df(z)) <= 0.01 + 1e-6)
    tanh = get_activation("tanh")
    h = np.array([0.985, 0.995, -0.995])
    assert tanh.saturated(np.arctanh(h), h).tolist() == [False, True, True]
    assert get_activation("relu").saturated is None  # ReLU's flat side is "dead", not saturated


def test_swish_is_an_alias_of_silu() -> None:
    assert get_activation("swish").name == "silu"


@pytest.mark.parametrize(
    "spec, fragment",
    [("leaky_relu:-", "invalid parameter '-'"), ("leaky_relu:abc", "expected a number"),
     ("tanh:2", "takes no parameter"), ("maxout:1", "maxout pieces"), ("maxout:2.5", "whole number"),
     ("elu:0", "alpha must be > 0"), ("leaky_relu:1.5", "slope"), ("leaky_relu:", "missing parameter")],
)
def test_bad_parameters(spec: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        get_activation(spec)


def test_unknown_name_suggests_closest() -> None:
    with pytest.raises(UnknownNameError) as e:
        get_activation("tahn")
    assert "Did you mean 'tanh'" in str(e.value)
    assert "relu" in str(e.value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", [n for n in ACTIVATIONS if get_activation(n).df_out is not None])
def test_derivative_from_the_output_is_the_derivative_bit_for_bit(name: str, dtype: type) -> None:
    # the backward pass drops z for these activations and takes df from h = f(z): it must be the
    # very same numbers, specials included
    act = get_activation(name)
    rng = np.random.default_rng(3)
    z = np.concatenate([rng.standard_normal(2000) * 3, [0.0, -0.0, 1e-30, -1e-30, 40.0, -40.0, np.inf, -np.inf,
                                                          np.nan]]).astype(dtype)
    with np.errstate(all="ignore"):
        expected = act.df(z)
        got = act.df_out(act.f(z))
    assert got.dtype == expected.dtype == dtype
    np.testing.assert_array_equal(got, expected)


def test_derivative_from_the_output_where_it_is_exact() -> None:
    have = {n for n in ACTIVATIONS if get_activation(n).df_out is not None}
    assert {"tanh", "sigmoid", "relu", "leaky_relu", "linear"} <= have
    assert get_activation("leaky_relu:0.2").df_out is not None
    assert not have & {"elu", "selu", "gelu", "silu", "softplus", "maxout"}  # (h + alpha would round differently)
