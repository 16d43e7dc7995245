"""Numeric extremes: overflow, underflow to exact zeros, NaN mid-network, float32 vs float64.
No RuntimeWarning may reach the user (pytest turns them into errors, see pyproject.toml)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from actstat import ProbeConfig, run_probe
from actstat.cli import cli


def first(result, kind: str) -> int | None:
    return next((w.layer for w in result.warnings if w.kind == kind), None)


@pytest.mark.parametrize("dtype, layers", [("float32", 200), ("float64", 360)])
def test_underflow_to_exact_zeros_is_vanishing_from_the_first_affected_layer(dtype: str, layers: int) -> None:
    # x0.1 per layer: float32 underflows past ~1e-45, float64 past ~1e-324
    r = run_probe(ProbeConfig(widths=(100,) * layers, batch=32, act="tanh", init="normal:0.01", dtype=dtype))
    assert r.layers[-1].stats.zero_frac == 1.0  # the signal underflowed to exact zeros
    rms0 = r.input.rms
    expected_first = next(L.index for L in r.layers if L.stats.rms / rms0 < 0.1)
    assert first(r, "vanishing") == expected_first
    kinds = {w.kind for w in r.warnings}
    assert kinds == {"vanishing"}, kinds  # no spurious collapse/dead from rounding residue


@pytest.mark.parametrize("dtype, layers", [("float32", 40), ("float64", 200)])
def test_overflow_and_nan_mid_network(dtype: str, layers: int) -> None:
    r = run_probe(ProbeConfig(widths=(200,) * layers, batch=16, act="relu", init="normal:10", dtype=dtype))
    bad = [L.index for L in r.layers if L.stats.moments.nonfinite_frac > 0]
    assert bad, "expected the network to overflow"
    # exploding is reported from layer 1 (x140 per layer), and overflow at the first non-finite layer
    assert first(r, "exploding") == 1
    inf_layers = [w.layer for w in r.warnings if w.kind == "exploding" and w.value == float("inf")]
    assert inf_layers[0] == bad[0]
    # past the overflow only exploding is reported
    assert {w.kind for w in r.warnings if w.layer >= bad[0]} == {"exploding"}
    # NaN appears once inf meets -inf in a matrix product
    assert any(np.isnan(L.stats.mean) for L in r.layers)
    doc = json.loads(json.dumps(_jsonable(r.to_dict())))
    assert doc["layers"][-1]["mean"] is None


def _jsonable(doc):
    from actstat.rendering.records import clean

    return clean(doc)


def test_float32_and_float64_agree_on_healthy_networks() -> None:
    a = run_probe(ProbeConfig(widths=(200,) * 5, batch=100, act="tanh", init="xavier", dtype="float32"))
    b = run_probe(ProbeConfig(widths=(200,) * 5, batch=100, act="tanh", init="xavier", dtype="float64"))
    for la, lb in zip(a.layers, b.layers):
        assert la.stats.std == pytest.approx(lb.stats.std, rel=1e-5)  # same draws, float32 rounding
    assert [w.kind for w in a.warnings] == [w.kind for w in b.warnings]


@pytest.mark.parametrize("act", ["gelu", "silu", "softplus", "selu", "elu", "sigmoid", "tanh", "maxout:3", "leaky_relu"])
def test_huge_weights_every_activation_cli(act: str) -> None:
    r = CliRunner().invoke(cli, ["probe", "--layers", "30", "--width", "50", "--batch", "8", "--act", act,
                                 "--init", "normal:1000", "--dtype", "float32", "--format", "json"],
                           catch_exceptions=False)
    assert r.exit_code == 0 and r.stderr == ""
    json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))


def test_zero_input_gives_no_division_by_zero() -> None:
    x = np.zeros((10, 20))
    r = run_probe(ProbeConfig(widths=(20,) * 3, batch=10, act="tanh"), x=x)
    assert r.input.rms == 0
    assert all(L.stats.rms == 0 for L in r.layers)
