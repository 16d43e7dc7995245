"""The forward pass against an independent numpy computation, batch norm, dropout, LSUV, symmetry."""

from __future__ import annotations

import numpy as np
import pytest

from actstat.activations import get_activation
from actstat.initializers import get_initializer
from actstat.network import BN_EPS, NetworkSpec, forward, make_streams
from actstat.probe import ProbeConfig, make_input, run_probe


def spec(act: str = "tanh", init: str = "xavier", dims=(20, 30, 30, 10), **kw) -> NetworkSpec:
    return NetworkSpec(dims=tuple(dims), act=get_activation(act), init=get_initializer(init), **kw)


def test_forward_matches_plain_numpy() -> None:
    s = spec(bias_std=0.1)
    r = make_streams(3)
    x = r["input"].standard_normal((50, 20))
    traces = list(forward(s, x, r["weights"], r["dropout"]))
    # independent recomputation: same weight stream order (W then b per layer)
    g = make_streams(3)["weights"]
    h = x
    for l, tr in enumerate(traces, start=1):
        fi, fo = s.dims[l - 1], s.dims[l]
        W = g.standard_normal((fi, fo)) * np.sqrt(1.0 / fi)
        b = g.standard_normal(fo) * 0.1
        h = np.tanh(h @ W + b)
        np.testing.assert_allclose(tr.h, h, rtol=1e-12)


def test_batchnorm_normalises_every_unit() -> None:
    s = spec(act="relu", init="normal:0.01", batchnorm=True)
    r = make_streams(0)
    x = r["input"].standard_normal((200, 20))
    for tr in forward(s, x, r["weights"], r["dropout"]):
        np.testing.assert_allclose(tr.u.mean(axis=0), 0, atol=1e-10)
        var = tr.z.var(axis=0)
        np.testing.assert_allclose(tr.u.var(axis=0), var / (var + BN_EPS), rtol=1e-8)


@pytest.mark.parametrize("mode, scale", [("inverted", 1 / 0.75), ("classic", 1.0)])
def test_dropout_mask_and_scaling(mode: str, scale: float) -> None:
    s = spec(dropout=0.25, dropout_mode=mode, dims=(20, 400, 400))
    r = make_streams(0)
    x = r["input"].standard_normal((300, 20))
    for tr in forward(s, x, r["weights"], r["dropout"]):
        assert tr.mask is not None
        kept = tr.mask != 0
        assert kept.mean() == pytest.approx(0.75, abs=0.01)
        np.testing.assert_allclose(tr.out[kept], tr.h[kept] * scale)
        assert not tr.out[~kept].any()


def test_lsuv_gives_unit_variance_pre_activations() -> None:
    s = spec(act="relu", init="lsuv", dims=(50, 80, 80, 80))
    r = make_streams(1)
    x = r["input"].standard_normal((400, 50)) * 7.0
    for tr in forward(s, x, r["weights"], r["dropout"]):
        assert abs(tr.z.var() - 1.0) < 0.1
        assert tr.lsuv_iters >= 1 or tr.index > 1


def test_symmetry_flag() -> None:
    r = make_streams(0)
    x = r["input"].standard_normal((10, 20))
    assert all(tr.symmetric for tr in forward(spec(init="zeros"), x, r["weights"], r["dropout"]))
    assert all(tr.symmetric for tr in forward(spec(init="constant:0.3"), x, r["weights"], r["dropout"]))
    assert not any(tr.symmetric for tr in forward(spec(init="he"), x, r["weights"], r["dropout"]))


@pytest.mark.parametrize("act", ["tanh", "relu", "gelu", "maxout:3", "sigmoid", "selu"])
@pytest.mark.parametrize("extra", [{}, {"batchnorm": True, "dropout": 0.2}])
def test_float32_stays_float32(act: str, extra: dict) -> None:
    s = spec(act=act, dtype=np.dtype(np.float32), **extra)
    r = make_streams(0)
    x = make_input("normal", 16, 20, r["input"], np.dtype(np.float32))
    for tr in forward(s, x, r["weights"], r["dropout"]):
        for name in ("x", "W", "z", "u", "h", "out"):
            assert getattr(tr, name).dtype == np.float32, name


def test_same_seed_same_numbers_and_input_independent_of_layers() -> None:
    a = run_probe(ProbeConfig(widths=(30,) * 3, batch=40, seed=5)).to_dict()
    b = run_probe(ProbeConfig(widths=(30,) * 3, batch=40, seed=5)).to_dict()
    assert a == b
    c = run_probe(ProbeConfig(widths=(30,) * 6, batch=40, seed=5, batchnorm=True)).to_dict()
    assert c["input"] == a["input"]
    d = run_probe(ProbeConfig(widths=(30,) * 3, batch=40, seed=6)).to_dict()
    assert d["input"]["mean"] != a["input"]["mean"]


@pytest.mark.parametrize("kw", [
    {"act": "tanh", "init": "xavier", "bias_std": 0.1},
    {"act": "relu", "init": "orthogonal", "dropout": 0.3},
    {"act": "maxout:3", "init": "he", "batchnorm": True},
    {"act": "tanh", "init": "lsuv"},
    {"act": "tanh", "init": "critical", "bias_std": 0.05},
])
def test_prefetched_weights_give_the_same_network(kw: dict) -> None:
    # the next layer's weights drawn on a helper thread: the same draws in the same order
    s = spec(dims=(20, 30, 30, 25, 10), **kw)
    runs = []
    for prefetch in (False, True):
        r = make_streams(5)
        x = r["input"].standard_normal((40, 20))
        traces = list(forward(s, x, r["weights"], r["dropout"], prefetch=prefetch))
        runs.append((traces, r["weights"].standard_normal(3)))  # (the stream continues where it should)
    for a, b in zip(runs[0][0], runs[1][0]):
        for name in ("W", "z", "h", "out"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_stopping_a_prefetching_forward_pass_leaves_no_thread() -> None:
    import threading

    r = make_streams(0)
    x = r["input"].standard_normal((40, 20))
    gen = forward(spec(dims=(20,) * 8), x, r["weights"], r["dropout"], prefetch=True)
    next(gen)
    assert any(t.name.startswith("actstat-weights") for t in threading.enumerate())
    gen.close()
    assert not any(t.name.startswith("actstat-weights") for t in threading.enumerate())


def test_probe_with_and_without_prefetch_is_identical() -> None:
    cfg = ProbeConfig(widths=(64,) * 6, batch=50, act="gelu", init="he", bias_std=0.1, dropout=0.2, grad=True)
    assert run_probe(cfg, prefetch=True).to_dict() == run_probe(cfg, prefetch=False).to_dict()


def test_an_error_in_a_prefetched_draw_reaches_the_caller_and_leaves_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from actstat import network

    calls = []
    real = network.sample_weights

    def failing(*a, **k):
        calls.append(threading.current_thread().name)
        if len(calls) == 3:
            raise MemoryError("no room for layer 3's weights")
        return real(*a, **k)

    monkeypatch.setattr(network, "sample_weights", failing)
    r = make_streams(0)
    x = r["input"].standard_normal((40, 20))
    seen = []
    with pytest.raises(MemoryError, match="layer 3"):
        for tr in forward(spec(dims=(20,) * 6), x, r["weights"], r["dropout"], prefetch=True):
            seen.append(tr.index)
    assert seen == [1, 2]  # layer 3's draw failed on the helper thread; the error surfaced in its turn
    assert all(name.startswith("actstat-weights") for name in calls)
    assert not any(t.name.startswith("actstat-weights") for t in threading.enumerate())


@pytest.mark.parametrize("prefetch", [False, True])
@pytest.mark.parametrize("depth", [1, 4])
def test_meanwhile_runs_once_before_the_first_layer(prefetch: bool, depth: int) -> None:
    r = make_streams(2)
    x = r["input"].standard_normal((30, 20))
    log: list[str] = []
    traces = []
    for tr in forward(spec(dims=(20,) * (depth + 1)), x, r["weights"], r["dropout"], prefetch=prefetch,
                      meanwhile=lambda: log.append("meanwhile")):
        log.append(f"layer {tr.index}")
        traces.append(tr)
    assert log == ["meanwhile"] + [f"layer {l}" for l in range(1, depth + 1)]
    r2 = make_streams(2)
    plain = list(forward(spec(dims=(20,) * (depth + 1)), r2["input"].standard_normal((30, 20)), r2["weights"],
                         r2["dropout"]))
    for a, b in zip(traces, plain):
        np.testing.assert_array_equal(a.W, b.W)
        np.testing.assert_array_equal(a.h, b.h)
