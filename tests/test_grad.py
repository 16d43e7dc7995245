"""Gradient mode: the analytic backward pass against central finite differences, the figures
against independent computation, and the expected verdicts."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from actstat.activations import ACTIVATIONS, get_activation
from actstat.backward import LayerCache, backward, make_loss, zigzag_share
from actstat.cli import cli
from actstat.initializers import get_initializer
from actstat.network import BN_EPS, NetworkSpec, forward, make_streams
from actstat.probe import ProbeConfig, estimate_memory, run_probe

from conftest import rel_error

ACT_SPECS = [a if a != "maxout" else "maxout:3" for a in ACTIVATIONS] + ["leaky_relu:0.2", "elu:0.5"]


def plain_forward(x, Ws, bs, act, bn, masks):
    """An independent forward pass: z = x W + b, BN, act, dropout. Returns (out, caches)."""
    caches = []
    for W, b, mask in zip(Ws, bs, masks):
        z = x @ W + (b if b is not None else 0.0)
        inv_std = None
        u = z
        if bn:
            mu = z.mean(axis=0)
            var = ((z - mu) ** 2).mean(axis=0)
            inv_std = 1.0 / np.sqrt(var + BN_EPS)
            u = (z - mu) * inv_std
        if act.pieces > 1:
            h = u.reshape(u.shape[0], -1, act.pieces).max(axis=2)
        else:
            h = act.f(u)
        out = h if mask is None else h * mask
        caches.append(LayerCache(x, W, u, mask, inv_std, b is not None))
        x = out
    return x, caches


def loss_value(loss, out, spec, seed):
    rngs = make_streams(seed)
    return make_loss(loss, out, spec, rngs["loss"], rngs["weights"], 4).value


def setup(act_spec, bn, dropout, bias, loss, seed=3, batch=5, dims=(4, 5, 6, 3)):
    act = get_activation(act_spec)
    rng = np.random.default_rng(seed)
    k = act.pieces
    Ws = [rng.standard_normal((dims[i], dims[i + 1] * k)) / math.sqrt(dims[i]) for i in range(len(dims) - 1)]
    bs = [rng.standard_normal(dims[i + 1] * k) * 0.3 if bias else None for i in range(len(dims) - 1)]
    masks = [(rng.random((batch, dims[i + 1])) >= 0.3) / 0.7 if dropout else None for i in range(len(dims) - 1)]
    x = rng.standard_normal((batch, dims[0]))
    spec = NetworkSpec(dims=dims, act=act, init=get_initializer("xavier"), batchnorm=bn)
    return act, spec, x, Ws, bs, masks


def numeric_gradient(f, a: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar f() with respect to every entry of ``a`` (changed in place
    and restored)."""
    num = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + eps
        fp = f()
        a[idx] = old - eps
        fm = f()
        a[idx] = old
        num[idx] = (fp - fm) / (2 * eps)
    return num


def close(analytic, numeric):
    """Elementwise relative error 1e-5 (CS231n's bar for a correct gradient), with an absolute floor
    of 1e-8 of the largest entry for entries near zero, where the difference quotient's own
    rounding error (~1e-10) dominates."""
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8 * max(1.0, np.max(np.abs(numeric))))
    big = np.abs(numeric) > 1e-3
    if big.any():
        assert rel_error(analytic[big], numeric[big]) < 1e-6


@pytest.mark.parametrize("loss", ["softmax", "mse", "random"])
@pytest.mark.parametrize("bn,dropout,bias", [(False, False, True), (True, False, False), (False, True, True),
                                             (True, True, True)])
@pytest.mark.parametrize("act_spec", ACT_SPECS)
def test_backward_matches_finite_differences(act_spec, bn, dropout, bias, loss) -> None:
    act, spec, x, Ws, bs, masks = setup(act_spec, bn, dropout, bias, loss)
    seed = 7

    def total(Ws_, bs_):
        out, _ = plain_forward(x, Ws_, bs_, act, bn, masks)
        return loss_value(loss, out, spec, seed)

    out, caches = plain_forward(x, Ws, bs, act, bn, masks)
    rngs = make_streams(seed)
    head = make_loss(loss, out, spec, rngs["loss"], rngs["weights"], 4)
    grads = {g.index: g for g, _ in backward(spec, caches, head.d_out)}
    assert sorted(grads) == [1, 2, 3]
    for l, (W, b) in enumerate(zip(Ws, bs), start=1):
        close(grads[l].dW, numeric_gradient(lambda: total(Ws, bs), W))
        if b is not None:
            close(grads[l].db, numeric_gradient(lambda: total(Ws, bs), b))


@pytest.mark.parametrize("loss", ["softmax", "mse", "random"])
def test_loss_gradient_matches_finite_differences(loss) -> None:
    act, spec, x, Ws, bs, masks = setup("tanh", False, False, False, loss)
    out = np.random.default_rng(0).standard_normal((5, 3))
    rngs = make_streams(11)
    head = make_loss(loss, out, spec, rngs["loss"], rngs["weights"], 4)
    num = numeric_gradient(lambda: loss_value(loss, out, spec, 11), out)
    assert rel_error(head.d_out, num) < 1e-7


def test_softmax_loss_is_log_classes_for_a_silent_network() -> None:
    spec = NetworkSpec(dims=(3, 3), act=get_activation("relu"), init=get_initializer("xavier"))
    rngs = make_streams(0)
    head = make_loss("softmax", np.zeros((8, 3)), spec, rngs["loss"], rngs["weights"], 10)
    assert head.value == pytest.approx(math.log(10))


@pytest.mark.parametrize("act", ["relu", "tanh", "maxout"])
@pytest.mark.parametrize("extra", [{}, {"batchnorm": True}, {"dropout": 0.3, "bias_std": 0.5}])
def test_probe_figures_equal_an_independent_backward(act, extra) -> None:
    """run_probe --grad reports, per layer, figures of the same gradients an independent forward and
    finite-difference-checked backward give for the same weights, masks and input."""
    cfg = ProbeConfig(widths=(6, 5, 4), input_dim=3, batch=7, act=act, init="he", grad=True, loss="mse",
                      lr=0.01, seed=4, **extra)
    doc = run_probe(cfg).to_dict()
    a = get_activation(act)
    spec = NetworkSpec(dims=(3, 6, 5, 4), act=a, init=get_initializer("he"), batchnorm=cfg.batchnorm,
                       dropout=cfg.dropout, bias_std=cfg.bias_std)
    rngs = make_streams(4)
    x = rngs["input"].standard_normal((7, 3))
    traces = list(forward(spec, x, rngs["weights"], rngs["dropout"], keep=True))
    out, caches = plain_forward(x, [t.W for t in traces], [t.b for t in traces], a, cfg.batchnorm,
                                [t.mask for t in traces])
    np.testing.assert_allclose(out, traces[-1].out, rtol=1e-12, atol=1e-14)
    y = rngs["loss"].standard_normal(out.shape)
    d_out = (out - y) / 7
    grads = {g.index: g for g, _ in backward(spec, caches, d_out)}
    rms_last = np.sqrt(np.mean(grads[3].dh ** 2))
    for L in doc["layers"]:
        g, mine = L["grad"], grads[L["layer"]]
        assert g["weight_norm"] == pytest.approx(np.linalg.norm(mine.dW), rel=1e-10)
        assert g["weight_mean_abs"] == pytest.approx(np.abs(mine.dW).mean(), rel=1e-10)
        assert g["std"] == pytest.approx(mine.dh.std(), rel=1e-9)
        assert g["pre_std"] == pytest.approx(mine.dz.std(), rel=1e-9)
        assert g["zero_frac"] == np.mean(mine.dW == 0)
        W = traces[L["layer"] - 1].W
        assert g["update_ratio"] == pytest.approx(0.01 * np.linalg.norm(mine.dW) / np.linalg.norm(W), rel=1e-10)
        assert g["norm_ratio_to_last"] == pytest.approx(np.sqrt(np.mean(mine.dh ** 2)) / rms_last, rel=1e-10)


def test_zigzag_share() -> None:
    x = np.abs(np.random.default_rng(0).standard_normal((4, 6)))
    dz = np.random.default_rng(1).standard_normal((4, 3))
    assert zigzag_share(x, dz) == 1.0  # positive inputs: every unit's gradient has one sign
    x[:, 0] *= -1
    assert zigzag_share(x, dz) == 0.0
    x[2] = np.abs(x[2])  # one example of four all positive
    assert zigzag_share(x, dz) == pytest.approx(0.25)
    assert zigzag_share(x, np.zeros_like(dz)) is None


# --- expected verdicts ------------------------------------------------------------------------

GRAD_KINDS = ("vanishing_gradient", "exploding_gradient")


def grad_verdict(*args: str) -> tuple[set[str], dict]:
    r = CliRunner().invoke(cli, ["probe", "--grad", "--format", "json", *args], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    return {w["kind"] for w in doc["warnings"] if w["kind"] in GRAD_KINDS}, doc


@pytest.mark.parametrize("seed", ["0", "1"])
@pytest.mark.parametrize(
    "args,expected",
    [
        (["--act", "tanh", "--init", "normal:0.01"], {"vanishing_gradient"}),
        (["--act", "relu", "--init", "xavier"], {"vanishing_gradient"}),
        (["--act", "relu", "--init", "xavier", "--layers", "15"], {"vanishing_gradient"}),
        (["--act", "relu", "--init", "he"], set()),
        (["--act", "relu", "--init", "normal:0.01", "--batchnorm"], set()),
        (["--act", "tanh", "--init", "xavier"], set()),
        (["--act", "tanh", "--init", "normal:1"], {"exploding_gradient"}),
        (["--act", "sigmoid", "--init", "xavier", "--layers", "5", "--width", "100"], {"vanishing_gradient"}),
        (["--act", "sigmoid", "--init", "normal:0.01", "--layers", "5", "--width", "100"], {"vanishing_gradient"}),
        (["--act", "relu", "--init", "normal:0.01", "--layers", "5", "--width", "100"], {"vanishing_gradient"}),
    ],
)
def test_expected_gradient_verdicts(args, expected, seed) -> None:
    loss = ("softmax", "random")[int(seed)]  # each loss at one seed (both were checked at both seeds)
    kinds, doc = grad_verdict(*args, "--seed", seed, "--batch", "300", "--loss", loss)
    assert kinds == expected, (args, loss)
    ratios = [L["grad"]["norm_ratio_to_last"] for L in doc["layers"]]
    if not expected:  # the healthy ones are not borderline: within a factor 5 of the last layer
        assert all(0.2 < r < 8 for r in ratios), ratios
    if expected == {"vanishing_gradient"}:  # and the first layer is the worst
        assert ratios[0] == min(ratios) < 0.1


def test_sigmoid_std1_backward_gain_matches_its_local_derivative() -> None:
    """Sigmoid with std 1 saturates (the forward verdict), yet the back-propagated gradient does not
    vanish at these widths: each layer multiplies it by about sqrt(width) * std_w * RMS(sigmoid'(z)),
    and the large weights make up for the small derivative. Checked against that product."""
    cfg = ProbeConfig(widths=(100,) * 5, batch=500, act="sigmoid", init="normal:1", grad=True, loss="random")
    doc = run_probe(cfg).to_dict()
    kinds = {w["kind"] for w in doc["warnings"]}
    assert "saturation" in kinds and not kinds & set(GRAD_KINDS)
    spec = NetworkSpec(dims=(100,) * 6, act=get_activation("sigmoid"), init=get_initializer("normal:1"))
    rngs = make_streams(0)
    x = rngs["input"].standard_normal((500, 100))
    gains = []
    for tr in forward(spec, x, rngs["weights"], rngs["dropout"]):
        s = 1 / (1 + np.exp(-tr.z))
        gains.append(math.sqrt(100) * np.sqrt(np.mean((s * (1 - s)) ** 2)))
    rms = [L["grad"]["rms"] for L in doc["layers"]]
    for l in range(4):  # dh_l = (dh_{l+1} * sigmoid'(z_{l+1})) W_{l+1}^T
        assert rms[l] / rms[l + 1] == pytest.approx(gains[l + 1], rel=0.15)


def test_overflowed_network_gives_valid_json_and_exploding_gradient() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = CliRunner().invoke(cli, ["probe", "--act", "relu", "--init", "normal:10", "--layers", "300",
                                     "--width", "20", "--batch", "10", "--grad", "--format", "json"],
                               catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert doc["layers"][-1]["grad"]["std"] is None
    kinds = [(w["layer"], w["kind"]) for w in doc["warnings"]]
    assert (1, "exploding_gradient") in kinds


@pytest.mark.parametrize("loss", ["softmax", "mse", "random"])
def test_float32_stays_float32_through_backward(loss) -> None:
    spec = NetworkSpec(dims=(4, 6, 5), act=get_activation("tanh"), init=get_initializer("xavier"),
                       batchnorm=True, dropout=0.2, bias_std=0.1, dtype=np.dtype(np.float32))
    rngs = make_streams(0)
    x = rngs["input"].standard_normal((8, 4)).astype(np.float32)
    traces = list(forward(spec, x, rngs["weights"], rngs["dropout"], keep=True))
    caches = [LayerCache(t.x, t.W, t.u, t.mask, t.bn.inv_std, True) for t in traces]
    head = make_loss(loss, traces[-1].out, spec, rngs["loss"], rngs["weights"], 3)
    assert head.d_out.dtype == np.float32
    for g, _ in backward(spec, caches, head.d_out):
        for a in (g.dh, g.dz, g.dW, g.db):
            assert a.dtype == np.float32


def test_float32_and_float64_gradients_agree() -> None:
    docs = [run_probe(ProbeConfig(widths=(50,) * 4, batch=64, act="tanh", init="xavier", grad=True,
                                  dtype=dt)).to_dict() for dt in ("float32", "float64")]
    for a, b in zip(docs[0]["layers"], docs[1]["layers"]):
        assert a["grad"]["weight_norm"] == pytest.approx(b["grad"]["weight_norm"], rel=1e-4)


def test_fail_on_gradient_kinds_and_table() -> None:
    args = ["probe", "--act", "tanh", "--init", "normal:0.01", "--batch", "100", "--grad"]
    r = CliRunner().invoke(cli, [*args, "--fail-on", "vanishing_gradient"])
    assert r.exit_code == 3
    assert "backward pass" in r.stdout and "ratio to last" in r.stdout
    assert "vanishing_gradient (layers 1-" in r.stdout
    r = CliRunner().invoke(cli, ["probe", "--act", "relu", "--init", "he", "--batch", "100", "--grad",
                                 "--fail-on", "any"])
    assert r.exit_code == 0  # zigzag fires, but it is informational
    assert "zigzag" in r.stdout
    r = CliRunner().invoke(cli, ["probe", "--grad", "--lr", "0"])
    assert r.exit_code == 2 and r.stderr.startswith("Error:")
    r = CliRunner().invoke(cli, ["probe", "--grad", "--classes", "1"])
    assert r.exit_code == 2


def test_json_config_and_grad_keys() -> None:
    _, doc = grad_verdict("--layers", "3", "--width", "20", "--batch", "30", "--loss", "mse", "--lr", "0.1")
    cfg = doc["config"]
    assert (cfg["grad"], cfg["loss"], cfg["lr"]) == (True, "mse", 0.1)
    assert set(doc["layers"][0]["grad"]) >= {"std", "rms", "pre_std", "weight_norm", "weight_mean_abs",
                                             "zero_frac", "update_ratio", "norm_ratio_to_last"}
    assert doc["layers"][-1]["grad"]["norm_ratio_to_last"] == 1.0
    r = CliRunner().invoke(cli, ["probe", "--layers", "2", "--width", "5", "--batch", "4", "--format", "json"])
    doc = json.loads(r.stdout)
    assert "grad" not in doc["layers"][0] and "loss" not in doc["config"]


def test_zero_init_gradients_are_zero_without_division_by_zero() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        doc = run_probe(ProbeConfig(widths=(5, 5), batch=4, init="zeros", grad=True)).to_dict()
    for L in doc["layers"]:
        assert L["grad"]["weight_norm"] == 0 and L["grad"]["update_ratio"] is None
        assert L["grad"]["norm_ratio_to_last"] is None


@pytest.mark.parametrize("act_name, extra, kept", [
    ("relu", {}, 1),  # the output only: relu' comes from h, which is the next layer's input anyway
    ("gelu", {}, 2),  # gelu' needs z: u and the output
    ("relu", {"batchnorm": True}, 2),  # batch norm's backward needs x-hat
    ("relu", {"dropout": 0.5}, 3),  # u, the output and the mask
])
def test_memory_estimate_for_grad_covers_the_kept_layers(act_name: str, extra: dict, kept: int) -> None:
    act = get_activation(act_name)
    fwd = estimate_memory(ProbeConfig(widths=(256,) * 500, batch=1024, act=act_name, **extra), act)
    bwd = estimate_memory(ProbeConfig(widths=(256,) * 500, batch=1024, act=act_name, grad=True, **extra), act,
                          keep_all=True)
    # the backward pass keeps `kept` (batch x width) matrices of every layer
    assert bwd >= kept * 500 * 1024 * 256 * 8 > 25 * kept * fwd
    assert bwd < (kept + 1) * 500 * 1024 * 256 * 8


@pytest.mark.parametrize("act_name, extra", [("tanh", {}), ("gelu", {}), ("tanh", {"dropout": 0.3}),
                                             ("relu", {"batchnorm": True})])
def test_memory_estimate_for_grad_bounds_the_measured_peak(act_name: str, extra: dict) -> None:
    import tracemalloc

    cfg = ProbeConfig(widths=(64,) * 40, batch=256, act=act_name, grad=True, **extra)
    est = estimate_memory(cfg, get_activation(act_name), keep_all=True)
    run_probe(cfg)  # (warm: imports and caches outside the measurement)
    tracemalloc.start()
    try:
        run_probe(cfg)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    arrays = 40 * 256 * 64 * 8  # one (batch x width) float64 matrix per layer
    assert peak <= est + 2 * 2**20  # (+ the figures' Python objects)
    assert est - peak < 1.5 * arrays  # and not a gross over-estimate


def test_gradient_options_without_grad_are_usage_errors() -> None:
    for args in (["--loss", "mse"], ["--classes", "5"], ["--lr", "0.1"], ["--fail-on", "vanishing_gradient"]):
        r = CliRunner().invoke(cli, ["probe", "--layers", "2", "--width", "4", "--batch", "4", *args])
        assert r.exit_code == 2 and "--grad" in r.stderr, args
    r = CliRunner().invoke(cli, ["compare", "--layers", "2", "--width", "4", "--batch", "4", "--lr", "0.1"])
    assert r.exit_code == 2
