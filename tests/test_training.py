"""The training core: the full gradient against finite differences, batch norm's running averages,
dropout's test-time rule, the update ratio, the loop's checkpoints, early stop and the verdicts."""

from __future__ import annotations

import json
from dataclasses import replace
import math

import numpy as np
import pytest

from actstat.activations import get_activation
from actstat.errors import ConfigError
from actstat.initializers import get_initializer
from actstat.network import NetworkSpec, make_streams
from actstat.training import Dataset, TrainConfig, checkpoint_steps, train
from actstat.training.model import MLP
from actstat.training.optimizers import get_optimizer


def numeric_gradient(f, a: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar f() with respect to every entry of ``a`` (in place, restored)."""
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


def small_model(act="tanh", bn=True, dropout=0.3, mode="inverted", classes=3, seed=1, bias_std=0.1):
    spec = NetworkSpec(dims=(4, 5, 6), act=get_activation(act), init=get_initializer("xavier"), bias_std=bias_std,
                       batchnorm=bn, dropout=dropout, dropout_mode=mode)
    return MLP(spec, classes, make_streams(seed)["weights"])


@pytest.mark.parametrize("act", ["tanh", "leaky_relu:0.1", "maxout:2"])
@pytest.mark.parametrize("bn,dropout,mode", [(True, 0.3, "inverted"), (False, 0.3, "classic"), (True, 0.0, "inverted"),
                                             (False, 0.0, "inverted")])
def test_full_gradient_matches_finite_differences(act, bn, dropout, mode, rng) -> None:
    """Weight decay, batch norm (with gamma and beta) and dropout (a fixed mask) in training mode."""
    m = small_model(act, bn, dropout, mode)
    for L in m.layers:  # gamma and beta away from 1 and 0, so that their gradients are tested for real
        if L.gamma is not None:
            L.gamma[:] = rng.uniform(0.5, 1.5, L.gamma.shape)
            L.beta[:] = rng.normal(0, 0.3, L.beta.shape)
    x = rng.standard_normal((7, 4))
    y = rng.integers(0, 3, 7)
    masks = None
    if dropout:
        scale = 1 / (1 - dropout) if mode == "inverted" else 1.0
        masks = [(rng.random((7, w)) >= dropout) * scale for w in (5, 6)]
    wd = 0.07
    p = m.train_pass(x, y, rng, wd, masks=masks, update_running=False)
    params = m.params()
    assert len(p.grads) == len(params)

    def f() -> float:
        return m.train_pass(x, y, rng, wd, masks=masks, update_running=False).loss

    for a, g in zip(params, p.grads):
        num = numeric_gradient(f, a, 1e-6)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("act,bn,dropout", [("relu", False, 0.0), ("tanh", True, 0.3), ("maxout:2", False, 0.3)])
def test_the_lean_pass_gives_the_same_gradients(act, bn, dropout, rng) -> None:
    """keep=False (the steps between checkpoints) frees arrays early: the very same numbers."""
    m = small_model(act, bn, dropout)
    x, y = rng.standard_normal((9, 4)), rng.integers(0, 3, 9)
    masks = [(rng.random((9, w)) >= 0.3) / 0.7 for w in (5, 6)] if dropout else None
    a = m.train_pass(x, y, rng, 0.1, masks=masks, update_running=False)
    b = m.train_pass(x, y, rng, 0.1, masks=masks, update_running=False, keep=False)
    assert a.loss == b.loss and b.layers == []
    for ga, gb in zip(a.grads, b.grads, strict=True):
        assert np.array_equal(ga, gb)


@pytest.mark.parametrize("act,bn,dropout,dtype", [("relu", False, 0.0, "float64"), ("tanh", True, 0.3, "float32"),
                                                  ("maxout:2", False, 0.3, "float64")])
@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adadelta", "adam"])
def test_the_whole_network_at_once_is_the_same_training(act, bn, dropout, dtype, optimizer, rng) -> None:
    """The loop's path: gradients written into one buffer laid out as MLP.flat, and the optimiser
    stepping that one array, against per-array gradients and steps: the very same bits, step after step;
    the padding between the arrays stays 0."""
    spec = NetworkSpec(dims=(4, 5, 6), act=get_activation(act), init=get_initializer("xavier"), bias_std=0.1,
                       batchnorm=bn, dropout=dropout, dtype=np.dtype(dtype))
    one, two = (MLP(spec, 3, make_streams(1)["weights"]) for _ in range(2))
    assert all(np.shares_memory(p, one.flat) for p in one.params())
    used = np.zeros(one.flat.size, bool)
    for p in one.params():
        used[(p.ctypes.data - one.flat.ctypes.data) // p.itemsize + np.arange(p.size)] = True
    opt_a, opt_b = get_optimizer(optimizer, 0.05), get_optimizer(optimizer, 0.05)
    buf = np.zeros_like(one.flat)
    for _ in range(5):
        x, y = rng.standard_normal((9, 4)).astype(dtype), rng.integers(0, 3, 9)
        seed = int(rng.integers(1 << 30))
        a = one.train_pass(x, y, np.random.default_rng(seed), 0.1)
        b = two.train_pass(x, y, np.random.default_rng(seed), 0.1, grads_into=buf)
        assert a.loss == b.loss and all(np.shares_memory(g, buf) for g in b.grads)
        for ga, gb in zip(a.grads, b.grads, strict=True):
            assert np.array_equal(ga, gb)
        opt_a.step(one.params(), a.grads)
        opt_b.step([two.flat], [buf])
        assert np.array_equal(one.flat, two.flat) and not two.flat[~used].any()
    for L1, L2 in zip(one.layers, two.layers):
        assert L1.run_mean is None or np.array_equal(L1.run_mean, L2.run_mean)


def test_an_unplanned_early_stop_still_gets_its_statistics() -> None:
    doc = train(blobs_cfg(optimizer="sgd", lr=1e6, steps=50, every=25))
    stop = doc["stopped_early"]["step"]
    last = doc["checkpoints"][-1]
    assert stop not in (0, 25, 50) and last["step"] == stop
    assert all(L["weight_rms"] is not None and len(L["hist"]) == 30 for L in last["layers"])


def test_weight_decay_term_is_half_lambda_w_squared(rng) -> None:
    m = small_model(bn=False, dropout=0.0)
    x, y = rng.standard_normal((5, 4)), rng.integers(0, 3, 5)
    a = m.train_pass(x, y, rng, 0.0).loss
    b = m.train_pass(x, y, rng, 0.3).loss
    expected = 0.5 * 0.3 * sum(float(np.sum(W ** 2)) for W in [L.W for L in m.layers] + [m.W_out])
    assert b - a == pytest.approx(expected, rel=1e-12)


def test_batchnorm_running_averages_and_evaluation(rng) -> None:
    m = small_model(bn=True, dropout=0.0)
    L1 = m.layers[0]
    rm, rv = np.zeros(5), np.ones(5)
    for _ in range(6):  # no update: the first layer's W stays, so its z is known
        x = rng.standard_normal((8, 4)) * 2 + 1
        z = x @ L1.W
        rm = 0.9 * rm + 0.1 * z.mean(axis=0)
        rv = 0.9 * rv + 0.1 * z.var(axis=0)
        m.train_pass(x, rng.integers(0, 3, 8), rng)
    np.testing.assert_allclose(L1.run_mean, rm, rtol=1e-12)
    np.testing.assert_allclose(L1.run_var, rv, rtol=1e-12)
    # evaluation uses them: recompute the scores by hand
    x = rng.standard_normal((3, 4))
    h = x
    for L in m.layers:
        z = h @ L.W
        h = np.tanh((z - L.run_mean) / np.sqrt(L.run_var + 1e-5) * L.gamma + L.beta)
    np.testing.assert_allclose(m.scores(x), h @ m.W_out + m.b_out, rtol=1e-12)


def test_dropout_test_time_rules(rng) -> None:
    """Inverted: evaluation uses h as is; classic: (1 - p) h. Same weights either way."""
    inv = small_model(bn=False, dropout=0.4, mode="inverted")
    cla = small_model(bn=False, dropout=0.4, mode="classic")
    x = rng.standard_normal((3, 4))
    h_inv, h_cla = x, x
    for L in inv.layers:
        h_inv = np.tanh(h_inv @ L.W + L.b)
        h_cla = 0.6 * np.tanh(h_cla @ L.W + L.b)
    np.testing.assert_allclose(inv.scores(x), h_inv @ inv.W_out + inv.b_out, rtol=1e-12)
    np.testing.assert_allclose(cla.scores(x), h_cla @ cla.W_out + cla.b_out, rtol=1e-12)
    # training: about p of the units are dropped, the kept ones scaled by 1/(1 - p) (inverted)
    p = inv.train_pass(rng.standard_normal((400, 4)), rng.integers(0, 3, 400), rng)
    mask = p.layers[0].mask
    assert set(np.unique(mask)) == {0.0, 1 / 0.6}
    assert abs(np.mean(mask == 0) - 0.4) < 0.05


def test_checkpoint_steps() -> None:
    s = checkpoint_steps(1000, None)
    assert s[:6] == [0, 1, 2, 3, 4, 5] and s[-1] == 1000 and len(s) <= 41
    assert s == sorted(set(s))
    assert checkpoint_steps(25, 10) == [0, 10, 20, 25]
    assert checkpoint_steps(0, None) == [0]


def blobs_cfg(**kw) -> TrainConfig:
    base = {"widths": (16, 16), "data": "blobs", "examples": 300, "preprocess": "standardize", "steps": 30,
            "every": 10, "optimizer": "momentum", "lr": 0.05}
    return TrainConfig(**(base | kw))


def test_step0_is_the_network_the_probe_sees() -> None:
    """The same seed, the same weights: with the whole training set as one batch (no dropout or batch norm,
    so training mode is the probe's forward pass) step 0's per-layer figures are actstat probe's on the
    same rows (in another order: the figures are over the whole matrix)."""
    from actstat.probe import ProbeConfig, run_probe
    from actstat.training import load_dataset
    from actstat.training.datasets import apply_preprocess, fit_preprocess

    doc = train(blobs_cfg(init="normal:0.01", steps=0, batch_size=240))
    d = load_dataset("blobs", examples=300)
    x = apply_preprocess(d.X_train, *fit_preprocess(d.X_train, "standardize"))
    res = run_probe(ProbeConfig(widths=(16, 16), act="relu", init="normal:0.01", batch=240, input_dim=2), x=x)
    for lay, r in zip(doc["checkpoints"][0]["layers"], res.layers):
        assert lay["std"] == pytest.approx(r.stats.std, rel=1e-9)
        assert lay["zero"] == r.stats.zero_frac and lay["dead"] == r.stats.dead_frac
    assert [w["kind"] for w in doc["probe"]["warnings"]] == [w.kind for w in res.warnings]
    assert "vanishing" in [w.kind for w in res.warnings]


def test_document_schema_and_determinism() -> None:
    streamed = []
    doc = train(blobs_cfg(eval_size=1000), on_checkpoint=streamed.append)  # (the checkpoints: all 240 examples)
    again = train(blobs_cfg(eval_size=1000))
    assert json.dumps(doc) == json.dumps(again)
    assert [c["step"] for c in doc["checkpoints"]] == [0, 10, 20, 30]
    assert streamed == doc["checkpoints"]
    assert {"actstat_version", "kind", "config", "data", "checkpoints", "hist_edges", "warnings",
            "stopped_early", "final"} <= set(doc)
    assert doc["kind"] == "train" and doc["stopped_early"] is None
    assert doc["data"] == {"name": "blobs", "train": 240, "val": 60, "features": 2, "classes": 3}
    c0, c3 = doc["checkpoints"][0], doc["checkpoints"][-1]
    assert c0["epoch"] == 0 and c3["epoch"] == pytest.approx(30 / 2)  # 240 // 100 = 2 steps per epoch
    for lay in c0["layers"]:
        assert lay["update_ratio"] is None
        assert sum(lay["hist"]) + lay["hist_outside"] == 100 * 16
        assert 0 <= lay["dead"] <= lay["zero"] <= 1  # a dead unit is zero in every example
    assert len(doc["hist_edges"]) == 2 and len(doc["hist_edges"][0]) == 31
    assert doc["final"]["train_acc"] == c3["train_acc"] > c0["train_acc"]
    assert c3["loss"] < c0["loss"]
    assert doc["config"]["lr"] == 0.05 and doc["config"]["optimizer"] == "momentum:0.9"
    json.dumps(doc, allow_nan=False)


@pytest.mark.parametrize("kw", [
    dict(),
    dict(act="elu", batchnorm=True, dropout=0.2, optimizer="adam", lr=1e-2, every=1, steps=12),  # u shipped too
    dict(optimizer="sgd", lr=1e6, steps=50, every=1),  # an early stop, computed here
])
def test_checkpoints_in_the_helper_process_are_the_same_numbers(kw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checkpoints computed in the forked helper process give the document, and the streamed records
    in order, of the checkpoints computed in line; the process is gone afterwards."""
    import multiprocessing

    from actstat.training import offload

    monkeypatch.setattr(offload, "OFFLOAD_MIN_MACS", 1)
    started = []
    real = offload.CheckpointProcess.__init__

    def spy(self, *a, **k):
        real(self, *a, **k)
        started.append(self.proc)

    monkeypatch.setattr(offload.CheckpointProcess, "__init__", spy)
    streamed: list[dict] = []
    helped = train(blobs_cfg(**kw), on_checkpoint=streamed.append)
    inline = train(blobs_cfg(**kw, overlap=False))
    assert offload.available() and len(started) == 1  # (one process for the first run, none for the second)
    assert json.dumps(helped) == json.dumps(inline)
    assert streamed == helped["checkpoints"] and "overlap" not in helped["config"]
    assert not started[0].is_alive() and not multiprocessing.active_children()


def test_an_interrupted_run_leaves_no_helper_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing

    from actstat.training import offload

    monkeypatch.setattr(offload, "OFFLOAD_MIN_MACS", 1)
    seen = []

    def stop(rec: dict) -> None:
        seen.append(multiprocessing.active_children())
        if rec["step"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(blobs_cfg(every=1, steps=30), on_checkpoint=stop)
    assert seen[-1] and not multiprocessing.active_children()


def test_update_ratio_is_the_applied_update_for_adam() -> None:
    """Adam's first step is lr * g / (|g| + eps), i.e. lr * sign(g) entry by entry: so the ratio is
    lr * sqrt(non-zero gradient entries) / ||W_0||, whatever the gradient's size."""
    cfg = blobs_cfg(optimizer="adam", lr=1e-3, steps=1, every=1)
    doc = train(cfg)
    m = MLP(NetworkSpec(dims=(2, 16, 16), act=get_activation("relu"), init=get_initializer("he")), 3,
            np.random.Generator(np.random.PCG64(np.random.SeedSequence(0).spawn(7)[1])))
    c1 = doc["checkpoints"][1]
    for lay, lay0, L in zip(c1["layers"], doc["checkpoints"][0]["layers"], m.layers):
        w0 = float(np.linalg.norm(L.W))
        assert lay0["weight_rms"] == pytest.approx(np.sqrt(np.mean(L.W ** 2)), rel=1e-12)  # the same W_0
        ratio = lay["update_ratio"]
        k = round((ratio * w0 / 1e-3) ** 2)  # the number of entries with a non-zero gradient
        assert 1 <= k <= L.W.size
        assert ratio == pytest.approx(1e-3 * math.sqrt(k) / w0, rel=1e-4)  # (sqrt(k +- 1) is 1e-3 away)


def test_learning_rate_too_high_stops_early() -> None:
    doc = train(blobs_cfg(optimizer="sgd", lr=1e6, steps=50, every=None))
    stop = doc["stopped_early"]
    assert stop is not None and stop["step"] < 50
    assert doc["checkpoints"][-1]["step"] == stop["step"]
    kinds = {w["kind"]: w for w in doc["warnings"]}
    assert kinds["loss_exploded"]["step"] == stop["step"] and "lower --lr" in kinds["loss_exploded"]["hint"]
    json.dumps(doc, allow_nan=False)


def test_learning_rate_too_low_and_update_ratio() -> None:
    doc = train(blobs_cfg(optimizer="sgd", lr=1e-6))
    kinds = [w["kind"] for w in doc["warnings"]]
    assert "loss_not_decreasing" in kinds
    low = [w for w in doc["warnings"] if w["kind"] == "update_ratio"]
    assert {w["layer"] for w in low} == {1, 2} and all(w["value"] < 1e-4 for w in low)
    good = train(blobs_cfg())
    assert "loss_not_decreasing" not in [w["kind"] for w in good["warnings"]]


def test_overfit_a_small_subset() -> None:
    ok = train(blobs_cfg(optimizer="adam", lr=0.01, overfit=20, steps=200, every=100, data="spiral"))
    assert ok["data"]["train"] == 20 and ok["config"]["batch_size"] == 20
    assert ok["final"]["train_acc"] == 1.0
    assert "cannot_overfit" not in [w["kind"] for w in ok["warnings"]]
    bad = train(blobs_cfg(optimizer="sgd", lr=1e-5, overfit=20, steps=20, data="spiral"))
    w = [w for w in bad["warnings"] if w["kind"] == "cannot_overfit"]
    assert w and w[0]["value"] < 0.98


def test_initial_loss_sanity_check() -> None:
    # raw blobs (centres ~ N(0, 9)): large scores at init, far from ln 3
    raw = train(blobs_cfg(preprocess="none", steps=0))
    w = [w for w in raw["warnings"] if w["kind"] == "initial_loss"]
    assert w and w[0]["value"] > w[0]["threshold"] == pytest.approx(1.5 * math.log(3))
    tidy = train(blobs_cfg(init="normal:0.01", steps=0))
    assert "initial_loss" not in [w["kind"] for w in tidy["warnings"]]
    assert tidy["checkpoints"][0]["batch_data_loss"] == pytest.approx(math.log(3), rel=1e-3)


def test_overfitting_verdict() -> None:
    data = Dataset(np.eye(8)[np.arange(40) % 8] + 0.0, np.arange(40) % 2, np.eye(8)[np.arange(40) % 8] + 0.0,
                   (np.arange(40) + 1) % 2, 2, "mismatched")  # validation labels are the opposite
    doc = train(TrainConfig(widths=(8,), steps=100, every=50, optimizer="adam", lr=0.05, batch_size=20), data=data)
    assert doc["final"]["train_acc"] == 1.0 and doc["final"]["val_acc"] == 0.0
    assert next(w for w in doc["warnings"] if w["kind"] == "overfitting")["value"] == 1.0


def test_bad_configs() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'adam'"):
        train(blobs_cfg(optimizer="adm"))
    with pytest.raises(ConfigError, match="--lr"):
        train(blobs_cfg(lr=-1.0))
    with pytest.raises(ConfigError, match="more than the 240 training"):
        train(blobs_cfg(batch_size=500))
    with pytest.raises(ConfigError, match="not both"):
        train(blobs_cfg(epochs=2))
    with pytest.raises(ConfigError, match="threshold"):
        train(blobs_cfg(thresholds={"nope": 1.0}))


def test_float32_training_stays_float32() -> None:
    a = train(blobs_cfg(dtype="float32", batchnorm=True, dropout=0.2))
    b = train(blobs_cfg(dtype="float64", batchnorm=True, dropout=0.2))
    assert a["final"]["train_acc"] == pytest.approx(b["final"]["train_acc"], abs=0.05)


def test_init_ordering_on_digits_agrees_with_the_probe() -> None:
    """The notes' figure: ReLU 5 x 100, std 0.01 barely learns, He learns fastest, Xavier between;
    and the probe's step-0 verdict on the same network and data says why."""
    from actstat.training import load_dataset

    data = load_dataset("digits")
    loss = {}
    for init in ("normal:0.01", "xavier", "he"):
        doc = train(TrainConfig(widths=(100,) * 5, act="relu", init=init, optimizer="sgd", lr=0.01, steps=120,
                                batch_size=64, every=60, eval_size=500), data=data)
        loss[init] = doc["final"]["loss"]
        vanishing = any(w["kind"] == "vanishing" for w in doc["probe"]["warnings"])
        assert vanishing == (init != "he"), init
    assert loss["normal:0.01"] > loss["xavier"] > loss["he"]
    assert loss["normal:0.01"] > 0.99 * math.log(10)


def _same_stats(a, b) -> None:
    assert repr(a.moments) == repr(b.moments)  # mean, std, min, max, rms: the same float64 numbers (NaN too)
    assert (a.saturated_frac, a.zero_frac, a.dead_frac) == (b.saturated_frac, b.zero_frac, b.dead_frac)
    assert np.array_equal(a.hist.edges, b.hist.edges)
    assert a.hist.counts.tolist() == b.hist.counts.tolist() and a.hist.outside == b.hist.outside


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "elu", "maxout:2"])
def test_checkpoint_statistics_are_layer_stats(act, rng) -> None:
    """The checkpoints' all-layers-at-once statistics against the general stats.layer_stats, layer by layer:
    entries on bin edges, outside the range, exact zeros, dead units, widths that differ, and the layers
    the lean path hands back to layer_stats (NaN, float32, a constant layer, one over stats' row block)."""
    from actstat.stats import layer_stats, moments
    from actstat.training.checkstats import checkpoint_stats, moments_of

    a = get_activation(act)
    bins = 12
    edges = np.linspace(-1.5, 2.5, bins + 1)
    hs, ranges = [], []
    for k, width in enumerate((20, 7, 33, 20, 20, 20, 20, 3000)):
        u = rng.standard_normal((16, width * a.pieces)) * (1 + k)
        h = a.forward(u)
        h.flat[::5] = rng.choice(edges, h.flat[::5].size)  # exactly on the edges, the ends included
        h.flat[1::5] = np.nextafter(rng.choice(edges, h.flat[1::5].size), -np.inf)  # and an ulp either side
        h.flat[2::5] = np.nextafter(rng.choice(edges, h.flat[2::5].size), np.inf)
        if k == 1:
            h[:, 2] = 0.0  # a dead unit
        if k == 3:
            h.flat[3] = np.nan
        if k == 4:
            h = h.astype(np.float32)
        if k == 5:
            h[:] = 0.25
        hs.append(h)
        ranges.append((-1.5, 2.5) if k % 2 else (float(h.min()) - 0.1 if k != 3 else -1.0, 2.0))
    us = [None] * len(hs)
    got = checkpoint_stats(hs, us, a, bins, ranges)
    for h, r, st in zip(hs, ranges, got):
        _same_stats(st, layer_stats(h, None, a, bins, r))
    assert any(st.hist.outside for st in got) and got[1].dead_frac == pytest.approx(1 / 7)
    again = checkpoint_stats(hs[:3], us[:3], a, bins, ranges[:3])  # (other layouts: their own buffers)
    for h, r, st in zip(hs[:3], ranges[:3], again):
        _same_stats(st, layer_stats(h, None, a, bins, r))
    for m in (hs[0], hs[3], hs[4], rng.standard_normal((50, 40)) * 1e-200, rng.standard_normal((3000, 60))):
        assert repr(moments_of(m)) == repr(moments(m))


def test_rms_of_is_the_moments_rms_bit_for_bit(rng) -> None:
    """The checkpoints' grad, weight and update RMS: moments_of's rms, the same bits, on typical matrices
    and on the ones the shortcut hands back (extreme magnitudes, non-finite, float32, several row blocks,
    a mean of many stds)."""
    from actstat.stats import moments
    from actstat.training.checkstats import rms_of

    cases = [rng.standard_normal((100, 100)), rng.standard_normal((16, 3)) * 1e-3, np.zeros((4, 5)),
             rng.standard_normal((50, 40)) * 1e-160, rng.standard_normal((50, 40)) * 1e150,
             rng.standard_normal((3000, 60)), rng.standard_normal((10, 10)).astype(np.float32),
             1e6 + rng.standard_normal((20, 20)), np.full((3, 3), np.inf), np.full((3, 3), np.nan)]
    for m in cases:
        want = moments(m).rms
        got = rms_of(m)
        assert repr(got) == repr(want), (m.dtype, m.shape, got, want)


def test_checkpoint_evaluation_is_evaluate(rng) -> None:
    """evaluate_many (reused buffers, in-place steps) gives evaluate's numbers bit for bit, call after call."""
    for act, bn, dropout, mode in (("relu", False, 0.0, "inverted"), ("tanh", True, 0.3, "classic"),
                                   ("relu", True, 0.2, "inverted")):
        m = small_model(act, bn, dropout, mode, classes=4)
        x, y = rng.standard_normal((30, 4)), rng.integers(0, 4, 30)
        x2, y2 = rng.standard_normal((7, 4)), rng.integers(0, 4, 7)
        for _ in range(3):
            m.train_pass(x[:10], y[:10], rng, 0.01)  # running averages move; weights too below
            for L in m.layers:
                L.W += 0.1 * rng.standard_normal(L.W.shape)
            got = m.evaluate_many([(x, y), (x2, y2), (x[:0], y[:0])], 0.01)
            want = [m.evaluate(x, y, 0.01), m.evaluate(x2, y2, 0.01)]
            assert got[:2] == want and all(math.isnan(v) for v in got[2])


def test_the_helper_process_starts_under_warnings_as_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.12+ warns at a fork of a multi-threaded process (BLAS's threads count): under
    PYTHONWARNINGS=error that warning must not end the run. (Simulated here: os.fork warns as 3.12 does.)"""
    import os
    import warnings

    from actstat.training import offload

    real_fork = os.fork

    def fork_312() -> int:
        pid = real_fork()
        if pid:
            warnings.warn("This process is multi-threaded, use of fork() may lead to deadlocks in the child.",
                          DeprecationWarning, stacklevel=2)
        return pid

    monkeypatch.setattr(os, "fork", fork_312)
    monkeypatch.setattr(offload, "OFFLOAD_MIN_MACS", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        doc = train(blobs_cfg(every=1, steps=5))
    assert [c["step"] for c in doc["checkpoints"]] == list(range(6))


def _force_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    from actstat.training import offload

    monkeypatch.setattr(offload, "OFFLOAD_MIN_MACS", 1)


def _pool_job(_: int) -> str:
    return json.dumps(train(blobs_cfg(every=1, steps=6)))


def test_no_helper_where_a_process_may_not_have_children(monkeypatch: pytest.MonkeyPatch) -> None:
    """A multiprocessing.Pool's workers are daemonic and may not start processes: train runs there, in line."""
    import multiprocessing

    _force_helper(monkeypatch)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.map(_pool_job, [0])
    assert got == [json.dumps(train(blobs_cfg(every=1, steps=6, overlap=False)))]


def test_a_helper_that_cannot_start_or_dies_hands_the_checkpoints_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing
    import os
    import signal

    _force_helper(monkeypatch)
    want = json.dumps(train(blobs_cfg(every=1, steps=12, overlap=False)))

    def killer(rec: dict) -> None:  # the helper killed (out of memory, say) with a checkpoint under way
        if rec["step"] == 4:
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGKILL)
                child.join(5)

    assert json.dumps(train(blobs_cfg(every=1, steps=12), on_checkpoint=killer)) == want
    real_fork = os.fork

    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    assert json.dumps(train(blobs_cfg(every=1, steps=12))) == want
    monkeypatch.setattr(os, "fork", real_fork)
    assert not multiprocessing.active_children()


def test_a_record_is_delivered_as_soon_as_the_helper_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """ndjson streams each checkpoint when it is ready, not when training reaches the next one."""
    import time

    _force_helper(monkeypatch)
    at: list[int] = []
    lag: list[tuple[int, int]] = []

    def step(s: int, total: int, loss: float) -> None:
        at.append(s)
        time.sleep(0.002)  # (slow steps: the helper has ample time)

    train(blobs_cfg(every=100, steps=300), on_step=step, on_checkpoint=lambda r: lag.append((r["step"], at[-1] if at else 0)))
    assert [c for c, _ in lag] == [0, 100, 200, 300]
    assert all(d - c < 50 for c, d in lag[:-1]), lag  # (in line with every=100 it would be 100 steps late)


def test_checkpoints_are_one_blas_thread_figures_wherever_computed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A network trained on several BLAS threads: its checkpoints computed in line and in the helper are
    the same numbers (both on one thread; a product with a fan-in of 1000 sums in a thread-dependent order)."""
    _force_helper(monkeypatch)
    cfg = blobs_cfg(widths=(1000, 1000), every=1, steps=3, blas_threads=2)
    assert json.dumps(train(cfg)) == json.dumps(train(replace(cfg, overlap=False)))
