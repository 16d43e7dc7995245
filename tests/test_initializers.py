"""Each initialiser's empirical distribution against its formula, on a large matrix."""

from __future__ import annotations

import math

import numpy as np
import pytest

from actstat.activations import get_activation
from actstat.errors import ConfigError, UnknownNameError
from actstat.initializers import INITIALIZERS, TRUNC_STD_CORRECTION, get_initializer, sample_weights

FI, FO = 400, 900  # non-square, so fan_in and fan_out formulas differ
RELU = get_activation("relu")
TANH = get_activation("tanh")


def draw(spec: str, fan_in: int = FI, fan_out: int = FO, dtype: type = np.float64, act=TANH) -> np.ndarray:
    return sample_weights(get_initializer(spec), fan_in, fan_out, np.random.default_rng(7), np.dtype(dtype), act)


# spec -> expected std of the entries (Gaussian laws)
NORMAL_STD = {
    "normal:0.01": 0.01,
    "normal": 1.0,
    "small": 0.01,
    "xavier": math.sqrt(1 / FI),
    "lecun_normal": math.sqrt(1 / FI),
    "he": math.sqrt(2 / FI),
    "kaiming": math.sqrt(2 / FI),
    "glorot_normal": math.sqrt(2 / (FI + FO)),
}


@pytest.mark.parametrize("spec, std", NORMAL_STD.items())
def test_normal_laws(spec: str, std: float) -> None:
    W = draw(spec)
    n = W.size
    assert abs(W.mean()) < 5 * std / math.sqrt(n)
    # the sample std of n Gaussians has relative sd 1/sqrt(2n) ~ 0.1%
    assert W.std() == pytest.approx(std, rel=5 / math.sqrt(2 * n))
    # Gaussian: kurtosis 3
    assert float(np.mean(W**4) / np.mean(W**2) ** 2) == pytest.approx(3.0, abs=0.05)


def test_he_is_not_the_misprint() -> None:
    # std sqrt(2/n), not 2/sqrt(n) (which is sqrt(2) times larger)
    W = draw("he", 512, 512)
    assert W.std() == pytest.approx(math.sqrt(2 / 512), rel=0.01)
    assert abs(W.std() - 2 / math.sqrt(512)) > 0.2 * W.std()


# spec -> (low, high) of the uniform law
UNIFORM_BOUNDS = {
    "uniform": (-1 / math.sqrt(FI), 1 / math.sqrt(FI)),
    "uniform:0.1": (-0.1, 0.1),
    "uniform01": (0.0, 1.0),
    "glorot_uniform": (-math.sqrt(6 / (FI + FO)), math.sqrt(6 / (FI + FO))),
    "lecun_uniform": (-math.sqrt(3 / FI), math.sqrt(3 / FI)),
    "he_uniform": (-math.sqrt(6 / FI), math.sqrt(6 / FI)),
    "pytorch": (-1 / math.sqrt(FI), 1 / math.sqrt(FI)),
}


@pytest.mark.parametrize("spec, bounds", UNIFORM_BOUNDS.items())
def test_uniform_laws(spec: str, bounds: tuple[float, float]) -> None:
    lo, hi = bounds
    W = draw(spec)
    width = hi - lo
    assert W.min() >= lo and W.max() <= hi
    assert W.min() < lo + 0.001 * width and W.max() > hi - 0.001 * width
    assert W.std() == pytest.approx(width / math.sqrt(12), rel=0.01)
    assert W.mean() == pytest.approx((lo + hi) / 2, abs=0.005 * width)


@pytest.mark.parametrize(
    "spec, base_std",
    [("truncated_normal:0.05", None), ("he_truncated", math.sqrt(2 / FI)),
     ("lecun_truncated", math.sqrt(1 / FI)), ("glorot_truncated", math.sqrt(2 / (FI + FO)))],
)
def test_truncated_laws(spec: str, base_std: float | None) -> None:
    W = draw(spec)
    if base_std is None:  # Keras TruncatedNormal(stddev=0.05): truncation at 2 * 0.05, no correction
        s = 0.05
        target = s * 0.8796256610342398
    else:  # Keras variance scaling: std / 0.8796 before truncation, so the final std is base_std
        s = base_std / TRUNC_STD_CORRECTION
        target = base_std
    assert np.abs(W).max() <= 2 * s * (1 + 1e-12)
    assert W.std() == pytest.approx(target, rel=0.01)


@pytest.mark.parametrize("fan_in, fan_out", [(300, 300), (500, 200), (200, 500)])
@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_orthogonal(fan_in: int, fan_out: int, gain: float) -> None:
    W = draw(f"orthogonal:{gain}", fan_in, fan_out)
    k = min(fan_in, fan_out)
    G = W.T @ W if fan_in >= fan_out else W @ W.T
    np.testing.assert_allclose(G, gain**2 * np.eye(k), atol=1e-10)


def test_zeros_and_constant() -> None:
    assert not draw("zeros").any()
    np.testing.assert_array_equal(draw("constant:0.5"), np.full((FI, FO), 0.5))


def test_random_walk_gain_for_relu() -> None:
    W = draw("random_walk", 500, 500, act=RELU)
    g = math.sqrt(2) * math.exp(1.2 / (500 - 2.4))
    assert W.std() == pytest.approx(g / math.sqrt(500), rel=0.01)


def test_gain_multiplies_any_init() -> None:
    a = draw("xavier")
    b = sample_weights(get_initializer("xavier"), FI, FO, np.random.default_rng(7), np.dtype(np.float64), TANH, gain=3.0)
    np.testing.assert_allclose(b, 3.0 * a)


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_float32_stays_float32(name: str) -> None:
    W = draw(name, 40, 30, dtype=np.float32)
    assert W.dtype == np.float32


@pytest.mark.parametrize(
    "spec, fragment",
    [("normal:abc", "expected a number"), ("normal:-1", "must be > 0"), ("he:2", "takes no parameter"),
     ("uniform:nan", "must be finite"), ("orthogonal:0", "must be > 0")],
)
def test_bad_parameters(spec: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        get_initializer(spec)


def test_unknown_init_suggests_closest() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'xavier'"):
        get_initializer("xaviar")
