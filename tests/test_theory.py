"""Infinite-width theory: expectations against an independent adaptive integral, known critical
points, agreement with wide networks, and the CLI."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from actstat.activations import ACTIVATIONS, get_activation
from actstat.cli import cli
from actstat.probe import ProbeConfig, run_probe
from actstat.theory import (
    chi1, critical_sigma_w, expectations, fixed_point, phase, variance_map,
)

SMOOTH_OR_KINKED = [a for a in ACTIVATIONS if a != "maxout"] + ["leaky_relu:0.2", "elu:0.5"]


# Gauss-Kronrod 7-15 nodes and weights on [-1, 1]
_XK = np.array([0.991455371120813, 0.949107912342759, 0.864864423359769, 0.741531185599394, 0.586087235467691,
                0.405845151377397, 0.207784955007898, 0.0])
_WK = np.array([0.022935322010529, 0.063092092629979, 0.104790010322250, 0.140653259715525, 0.169004726639267,
                0.190350578064785, 0.204432940075298, 0.209482141084728])
_WG = np.array([0.129484966168870, 0.279705391489277, 0.381830050505119, 0.417959183673469])  # at _XK[1::2]


def adaptive_gauss_kronrod(f, a: float, b: float, tol: float = 1e-13, max_levels: int = 60) -> float:
    """Adaptive Gauss-Kronrod (G7/K15) quadrature, vectorised over intervals: an interval is split in two
    until the Kronrod and Gauss estimates agree to ``tol`` relative to the running total (an independent
    reference: it shares no code with actstat.theory)."""
    x = np.concatenate([-_XK[:-1], _XK[::-1]])
    wk = np.concatenate([_WK[:-1], _WK[::-1]])
    wg = np.zeros(15)
    wg[1::2][:3], wg[7], wg[9::2] = _WG[:3], _WG[3], _WG[:3][::-1]
    lo, hi = np.array([a]), np.array([b])
    total = 0.0
    for _ in range(max_levels):
        mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
        fx = f(mid[:, None] + half[:, None] * x[None, :])
        k = half * (fx @ wk)
        g = half * (fx @ wg)
        err = np.abs(k - g)
        scale = max(abs(total + k.sum()), 1e-300)
        ok = err <= tol * scale * np.maximum(half / (0.5 * (b - a)), 1e-3)
        total += float(k[ok].sum())
        if ok.all():
            return total
        lo, hi = np.concatenate([lo[~ok], mid[~ok]]), np.concatenate([mid[~ok], hi[~ok]])
    return total + float(k[~ok].sum())


def reference(g, q: float) -> float:
    """E[g(sqrt(q) z)] by adaptive quadrature in z over [-14, 14], split at 0 (every kink here is at 0)
    and at +-1/sqrt(q) (where a saturating function turns at large q)."""
    s = math.sqrt(q)

    def integrand(z: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return g(s * z) * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

    cuts = sorted({-14.0, 0.0, 14.0} | ({-1 / s, 1 / s} if 1 / s < 14 else set()))
    return sum(adaptive_gauss_kronrod(integrand, lo, hi) for lo, hi in zip(cuts[:-1], cuts[1:]))


@pytest.mark.parametrize("q", [1e-6, 1e-3, 0.1, 1.0, 10.0, 1e3])
@pytest.mark.parametrize("name", SMOOTH_OR_KINKED)
def test_expectations_to_1e6_against_adaptive_quadrature(name: str, q: float) -> None:
    act = get_activation(name)
    m = expectations(act, q)
    for got, g in ((m.mean, act.f), (m.second, lambda x: act.f(x) ** 2), (m.dphi2, lambda x: act.df(x) ** 2)):
        want = reference(g, q)
        scale = max(abs(want), 1e-9 * math.sqrt(q))  # odd functions: E[phi] = 0 exactly
        assert abs(got - want) <= 1e-6 * scale, (name, q, got, want)


def test_closed_forms() -> None:
    relu = expectations(get_activation("relu"), 4.0)
    assert (relu.mean, relu.second, relu.dphi2) == (pytest.approx(math.sqrt(4 / (2 * math.pi))), 2.0, 0.5)
    lin = expectations(get_activation("linear"), 3.0)
    assert (lin.mean, lin.second, lin.dphi2) == (0.0, 3.0, 1.0)


@pytest.mark.parametrize("sigma_b", [0.0, 0.1, 0.5, 1.0])
def test_relu_critical_at_sqrt2_for_any_bias(sigma_b: float) -> None:
    assert critical_sigma_w(get_activation("relu"), sigma_b) == pytest.approx(math.sqrt(2), rel=1e-12)


def test_known_critical_points() -> None:
    assert critical_sigma_w(get_activation("tanh"), 0.0) == pytest.approx(1.0, abs=1e-6)
    assert critical_sigma_w(get_activation("linear"), 0.0) == 1.0
    assert critical_sigma_w(get_activation("leaky_relu:0.2"), 0.0) == pytest.approx(math.sqrt(2 / 1.04))
    tanh = get_activation("tanh")
    for sb in (0.05, 0.3):  # with a bias the critical sigma_w makes chi_1 = 1 at its fixed point
        sw = critical_sigma_w(tanh, sb)
        assert sw > 1 and chi1(tanh, sw, fixed_point(tanh, sw, sb)) == pytest.approx(1, abs=1e-6)
    assert critical_sigma_w(get_activation("softplus"), 0.0) is None  # no sigma_w makes chi_1 = 1
    assert critical_sigma_w(get_activation("gelu"), 0.0) is None


def test_phases() -> None:
    tanh = get_activation("tanh")
    assert phase(chi1(tanh, 0.5, fixed_point(tanh, 0.5, 0.0))) == "ordered"
    assert phase(chi1(tanh, 2.5, fixed_point(tanh, 2.5, 0.0))) == "chaotic"
    relu = get_activation("relu")
    assert phase(chi1(relu, math.sqrt(2), fixed_point(relu, math.sqrt(2), 0.0))) == "critical"


def test_variance_map_is_the_recursion() -> None:
    tanh = get_activation("tanh")
    out = variance_map(tanh, 1.3, 0.2, 0.7, 4)
    q = 1.3 ** 2 * 0.7 + 0.04
    for t in out:
        assert t.q == pytest.approx(q, rel=1e-12)
        m = expectations(tanh, q)
        assert t.std == pytest.approx(math.sqrt(m.second - m.mean ** 2))
        q = 1.3 ** 2 * m.second + 0.04
    assert out[-1].grad_scale == 1.0
    assert out[0].grad_scale == pytest.approx(math.sqrt(out[1].chi * out[2].chi * out[3].chi))


@pytest.mark.parametrize(
    "act,init,bias,tol",
    [("tanh", "xavier", 0.0, 0.02), ("tanh", "normal:0.06", 0.1, 0.02), ("sigmoid", "xavier", 0.0, 0.04),
     ("relu", "he", 0.0, 0.05), ("relu", "xavier", 0.2, 0.05), ("gelu", "he", 0.0, 0.05),
     ("selu", "lecun_normal", 0.0, 0.04)],
)
def test_theory_agrees_with_a_wide_network(act: str, init: str, bias: float, tol: float) -> None:
    """Width 2000: the measured std per layer is within a few percent of the prediction. The noise is
    seed noise of O(1/sqrt(width)) in each layer's variance, compounding with depth; ReLU-like maps
    pass their fluctuations on unshrunk (chi_1 = 1 at He), hence the wider tolerance (max errors over
    seeds 0-2: tanh, selu 0.2%; relu, gelu 1.4-4%). Sigmoid sits 2-3% below the prediction at every
    seed tried: a finite-width effect of its large common mean (0.5), allowed 4%."""
    doc = run_probe(ProbeConfig(widths=(2000,) * 5, batch=300, act=act, init=init, bias_std=bias,
                                theory=True)).to_dict()
    for L in doc["layers"]:
        t = L["theory"]
        assert L["std"] == pytest.approx(t["std"], rel=tol), (L["layer"], L["std"], t["std"])
        assert abs(L["mean"] - t["mean"]) <= tol * max(t["std"], abs(t["mean"]))


def test_theory_predicts_the_measured_gradient_ratio() -> None:
    doc = run_probe(ProbeConfig(widths=(2000,) * 5, batch=300, act="tanh", init="normal:0.035", theory=True,
                                grad=True, loss="random")).to_dict()
    for L in doc["layers"]:
        assert L["grad"]["norm_ratio_to_last"] == pytest.approx(L["theory"]["grad_scale"], rel=0.03)


@pytest.mark.parametrize(
    "extra,why",
    [(dict(init="orthogonal"), "orthogonal"), (dict(init="lsuv"), "lsuv"), (dict(batchnorm=True), "batch norm"),
     (dict(dropout=0.2), "dropout"), (dict(act="maxout"), "maxout"), (dict(init="he_uniform"), "he_uniform")],
)
def test_not_applicable_says_so_once(extra: dict, why: str) -> None:
    cfg = dict(widths=(10,) * 3, batch=20, theory=True) | extra
    doc = run_probe(ProbeConfig(**cfg)).to_dict()
    assert all(L["theory"] is None for L in doc["layers"])
    notes = [n for n in doc["notes"] if n.startswith("theory:")]
    assert len(notes) == 1 and "not applicable" in notes[0] and why in notes[0]


def test_glorot_on_non_square_layers_uses_each_layers_sigma() -> None:
    doc = run_probe(ProbeConfig(widths=(3000, 1500, 3000), input_dim=1000, batch=200, act="tanh",
                                init="glorot_normal", theory=True)).to_dict()
    for L in doc["layers"]:
        assert L["std"] == pytest.approx(L["theory"]["std"], rel=0.02)


def test_init_critical() -> None:
    doc = run_probe(ProbeConfig(widths=(400,) * 3, batch=100, act="relu", init="critical", bias_std=0.3,
                                theory=True)).to_dict()
    assert "critical" in doc["config"]["init_formula"]
    r = CliRunner().invoke(cli, ["probe", "--act", "gelu", "--init", "critical", "--layers", "2"])
    assert r.exit_code == 2 and "no critical sigma_w" in r.stderr
    # the weights are N(0, 2/fan_in) for relu: the same draws as --init he
    he = run_probe(ProbeConfig(widths=(50,) * 3, batch=20, act="relu", init="he")).to_dict()
    crit = run_probe(ProbeConfig(widths=(50,) * 3, batch=20, act="relu", init="critical")).to_dict()
    for a, b in zip(he["layers"], crit["layers"]):
        assert a["std"] == pytest.approx(b["std"], rel=1e-12)
    assert "critical" in CliRunner().invoke(cli, ["list"]).stdout


def test_theory_command_json_and_formats(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["theory", "--act", "tanh", "--sigma-w", "1.5", "--sigma-b", "0.05", "--layers",
                                 "4", "--format", "json"], catch_exceptions=False)
    doc = json.loads(r.stdout)
    assert {"q_star", "chi1", "phase", "critical_sigma_w", "layers"} <= set(doc)
    assert [set(L) >= {"layer", "q", "mean", "std"} for L in doc["layers"]] == [True] * 4
    tanh = get_activation("tanh")
    assert doc["q_star"] == pytest.approx(fixed_point(tanh, 1.5, 0.05))
    assert doc["chi1"] > 1 and doc["phase"] == "chaotic"
    assert doc["layers"][0]["q"] == pytest.approx(1.5 ** 2 + 0.05 ** 2)
    r = CliRunner().invoke(cli, ["theory", "--act", "relu", "--critical", "--format", "json"])
    doc = json.loads(r.stdout)
    assert doc["sigma_w"] == pytest.approx(math.sqrt(2)) and doc["phase"] == "critical" and doc["xi_c"] is None
    r = CliRunner().invoke(cli, ["theory", "--act", "softplus", "--critical"])
    assert r.exit_code == 2 and "no critical sigma_w" in r.stderr
    assert CliRunner().invoke(cli, ["theory", "--act", "maxout"]).exit_code == 2
    csv_out = CliRunner().invoke(cli, ["theory", "--format", "csv", "--layers", "3"]).stdout.splitlines()
    assert csv_out[0].startswith("type,layer,q,mean,std") and len(csv_out) == 4


def test_phase_diagram_png(tmp_path: Path) -> None:
    out = tmp_path / "phase.png"
    r = CliRunner().invoke(cli, ["theory", "--act", "tanh", "--sigma-b", "0.2", "--critical", "--phase-diagram",
                                 str(out), "--dpi", "60"], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    assert 300 < w < 7 * 60 + 50 and 200 < h < 5.2 * 60 + 50
    r = CliRunner().invoke(cli, ["theory", "--phase-diagram", str(tmp_path / "x" / "p.png")])
    assert r.exit_code == 2 and "does not exist" in r.stderr


def test_probe_theory_columns() -> None:
    r = CliRunner().invoke(cli, ["probe", "--act", "tanh", "--init", "xavier", "--layers", "3", "--width", "50",
                                 "--batch", "40", "--theory", "--grad"], catch_exceptions=False)
    assert "theory mean" in r.stdout and "theory ratio" in r.stdout
    r = CliRunner().invoke(cli, ["probe", "--layers", "3", "--width", "50", "--batch", "40", "--theory",
                                 "--format", "csv"])
    assert "theory_std" in r.stdout.splitlines()[0]
