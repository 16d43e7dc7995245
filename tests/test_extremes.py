"""Numeric extremes: overflow, underflow to exact zeros, NaN mid-network, float32 vs float64.
No RuntimeWarning may reach the user (pytest turns them into errors, see pyproject.toml)."""

from __future__ import annotations

import json
import math

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


# --- issue 19 item 1: vanishing networks must never crash the histogram ----------------------------

def _scaled_oracle(a: np.ndarray, bins: int, lo: float, hi: float) -> np.ndarray:
    """np.histogram of the data and range scaled by an exact power of two into the normal range."""
    k = -math.frexp(max(abs(lo), abs(hi)))[1]
    v = a.astype(np.float64).ravel()
    v = np.ldexp(v[(v >= lo) & (v <= hi)], k)
    lo2, hi2 = math.ldexp(lo, k), math.ldexp(hi, k)
    return np.histogram(v, bins, range=(lo2, hi2))[0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("scale", [5e-324, 1e-322, 1e-310, 2.3e-308, 1e-300, 1e-45, 1e-40, 1e-38, 1e-30, 1e-3,
                                   1.0, 1e30, 1e38, 3e38, 1e300, 1.7e308])
def test_histograms_at_every_scale_count_every_entry_in_its_bin(dtype: str, scale: float) -> None:
    from actstat.stats import layer_stats

    rng = np.random.default_rng(0)
    info = np.finfo(dtype)
    s = min(scale, float(info.max) / 8)
    x = (rng.standard_normal((40, 30)) * s).astype(dtype)  # tiny scales round to a few subnormal values
    if not np.any(x):
        x.flat[0] = np.asarray(scale, dtype)  # (5e-324 in float32 is 0: then a constant matrix)
    st = layer_stats(x, None, None, bins=30)
    assert st.hist.counts.sum() == x.size and np.all(st.hist.counts >= 0)
    lo, hi = float(x.min()), float(x.max())
    if hi > lo:
        np.testing.assert_array_equal(st.hist.counts, _scaled_oracle(x, 30, lo, hi))
    k = -math.frexp(max(abs(lo), abs(hi)))[1]  # the std of the exactly rescaled data, scaled back
    assert st.std == pytest.approx(math.ldexp(float(np.std(np.ldexp(x.astype(np.float64), k))), -k), rel=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rng_", [(-1e39, 1e39), (0.0, 1e-320), (-1e-310, 1e-310), (1e-40, 2e-40), (-1.7e308, 1.7e308)])
def test_fixed_histogram_ranges_beyond_the_dtype(dtype: str, rng_: tuple[float, float]) -> None:
    from actstat.stats import layer_stats

    top = float(np.finfo(dtype).max)
    x = np.concatenate([np.linspace(max(rng_[0], -top) / 2, min(rng_[1], top) / 2, 61) * 2, [0.0, 5.0, -5.0]])
    x = x.astype(dtype).reshape(1, -1)
    st = layer_stats(x, None, None, bins=30, hist_range=rng_)
    x64 = x.astype(np.float64)
    inside = int(np.count_nonzero((x64 >= rng_[0]) & (x64 <= rng_[1])))
    assert st.hist.counts.sum() == inside and st.hist.outside == x.size - inside
    np.testing.assert_array_equal(st.hist.counts, _scaled_oracle(x, 30, *rng_))


VANISHING_CASES = [
    (["--act", "relu", "--init", "normal:0.01", "--layers", "50", "--dtype", "float32"], "vanishing"),
    (["--act", "sigmoid", "--init", "xavier", "--grad", "--layers", "60", "--dtype", "float32"], "vanishing_gradient"),
    (["--act", "relu", "--init", "normal:0.01", "--layers", "400"], "vanishing"),
    (["--gain", "1e-310"], "vanishing"),
    (["--init", "normal:1e-310"], "vanishing"),
    (["--init", "normal:5e-324", "--dtype", "float32"], "vanishing"),  # (0 in float32)
    (["--dtype", "float32", "--hist-range", "-1e39,1e39"], None),
    (["--act", "tanh", "--init", "normal:1e-310", "--grad", "--batchnorm"], "vanishing"),  # (var << BN's eps)
]


# report draws pictures (seconds each): three cases that take distinct paths through the histogram
@pytest.mark.parametrize("command, args, kind", [(c, a, k) for c in ("probe", "compare") for a, k in VANISHING_CASES]
                         + [("report", *VANISHING_CASES[i]) for i in (0, 3, 6)])
def test_vanishing_networks_are_reported_not_crashed(command: str, args: list[str], kind: str | None,
                                                     tmp_path) -> None:
    base = ["--width", "20", "--batch", "8"] + ([] if "--layers" in args else ["--layers", "6"])
    out = ["--out", str(tmp_path / "rep")] if command == "report" else ["--format", "json"]
    if command == "compare":
        args = [a for a in args if a not in ("--grad",)] + ["--jobs", "1"]
    r = CliRunner().invoke(cli, [command, *base, *args, *out], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    doc = json.loads((tmp_path / "rep" / "report.json").read_text() if command == "report" else r.stdout)
    if command == "compare":
        (row,) = doc["configs"]
        kind = None if kind == "vanishing_gradient" else kind  # (compare ran without --grad)
        assert kind in row["warnings"] if kind else not set(row["warnings"]) & {"vanishing", "exploding"}
        return
    kinds = {w["kind"] for w in doc["warnings"]}
    assert kind in kinds if kind else not kinds & {"vanishing", "exploding"}, kinds
    for L in doc["layers"]:  # every finite entry is counted, in a bin or outside the range
        n = 8 * L["width"]
        assert sum(L["hist"]["counts"]) + L["hist"]["outside"] == round(n * (1 - L["nonfinite_frac"]))
        assert min(L["hist"]["counts"]) >= 0
