"""The verdict table of BACKGROUND.md is the acceptance test: each canonical experiment gets exactly
its verdict (not_centered, being informational, may accompany any of them)."""

from __future__ import annotations

import pytest

from actstat import ProbeConfig, run_probe

CS231N = dict(widths=(500,) * 10, batch=1000)  # X ~ N(0,1) (1000, 500), 10 layers of 500
DLFS = dict(widths=(100,) * 5, batch=1000)  # x ~ N(0,1) (1000, 100), 5 layers of 100

CANONICAL = [
    # (name, config, expected kinds other than not_centered, layers that must carry them)
    ("cs231n tanh std 0.01", dict(CS231N, act="tanh", init="normal:0.01"), {"vanishing"}, range(2, 11)),
    ("cs231n tanh std 1.0", dict(CS231N, act="tanh", init="normal:1.0"), {"saturation"}, range(1, 11)),
    ("cs231n tanh xavier", dict(CS231N, act="tanh", init="xavier"), set(), ()),
    ("cs231n relu xavier", dict(CS231N, act="relu", init="xavier"), {"vanishing"}, range(5, 11)),
    ("cs231n relu he", dict(CS231N, act="relu", init="he"), set(), ()),
    ("dlfs sigmoid std 1", dict(DLFS, act="sigmoid", init="normal:1"), {"saturation"}, range(1, 6)),
    ("dlfs sigmoid std 0.01", dict(DLFS, act="sigmoid", init="normal:0.01"), {"collapse"}, range(1, 6)),
    ("dlfs sigmoid xavier", dict(DLFS, act="sigmoid", init="xavier"), set(), ()),
    ("dlfs relu std 0.01", dict(DLFS, act="relu", init="normal:0.01"), {"vanishing"}, range(1, 6)),
    ("dlfs relu xavier", dict(DLFS, act="relu", init="xavier"), {"vanishing"}, range(4, 6)),
    ("dlfs relu he", dict(DLFS, act="relu", init="he"), set(), ()),
    ("dlfs relu std 0.01 + batchnorm", dict(DLFS, act="relu", init="normal:0.01", batchnorm=True), set(), ()),
    ("cs231n relu std 0.01 + batchnorm", dict(CS231N, act="relu", init="normal:0.01", batchnorm=True), set(), ()),
    ("zeros tanh", dict(DLFS, act="tanh", init="zeros"), {"symmetry", "vanishing"}, range(1, 6)),
    ("zeros relu", dict(DLFS, act="relu", init="zeros"), {"symmetry", "vanishing"}, range(1, 6)),
    ("zeros sigmoid", dict(DLFS, act="sigmoid", init="zeros"), {"symmetry"}, range(1, 6)),
]


def kinds(result) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for w in result.warnings:
        if w.kind != "not_centered":
            out.setdefault(w.kind, set()).add(w.layer)
    return out


@pytest.mark.parametrize("name, cfg, expected, layers", CANONICAL, ids=[c[0] for c in CANONICAL])
@pytest.mark.parametrize("seed", [0, 1])
def test_canonical_verdicts(name: str, cfg: dict, expected: set[str], layers: range, seed: int) -> None:
    found = kinds(run_probe(ProbeConfig(seed=seed, **cfg)))
    assert set(found) == expected, found
    for kind in expected:
        assert set(layers) <= found[kind], (kind, found[kind])


def test_symmetry_for_constant_init_whatever_else() -> None:
    r = run_probe(ProbeConfig(widths=(50,) * 4, batch=100, act="tanh", init="constant:0.5"))
    assert {w.layer for w in r.warnings if w.kind == "symmetry"} == {1, 2, 3, 4}
    assert not any(w.kind in ("dead", "collapse") for w in r.warnings)


def test_sigmoid_and_relu_are_flagged_not_centered_but_tanh_is_not() -> None:
    for act, expect in [("sigmoid", True), ("relu", True), ("tanh", False)]:
        r = run_probe(ProbeConfig(widths=(100,) * 3, batch=200, act=act, init="xavier" if act != "relu" else "he"))
        assert any(w.kind == "not_centered" for w in r.warnings) is expect, act


def test_positive_inputs_are_flagged_at_the_input() -> None:
    r = run_probe(ProbeConfig(widths=(100,) * 3, batch=200, act="tanh", input="positive"))
    assert any(w.kind == "not_centered" and w.layer == 0 for w in r.warnings)
    r = run_probe(ProbeConfig(widths=(100,) * 3, batch=200, act="tanh", input="normal"))
    assert not any(w.layer == 0 for w in r.warnings)


def test_dead_relu_units() -> None:
    # a strongly negative bias kills most ReLU units
    r = run_probe(ProbeConfig(widths=(200,) * 3, batch=300, act="relu", init="normal:0.001", bias_std=1.0))
    dead = [w for w in r.warnings if w.kind == "dead"]
    assert dead and all(w.value > 0.1 for w in dead)
    # and the value is the measured fraction of units that are zero for every example
    assert dead[0].value == pytest.approx(r.layers[dead[0].layer - 1].stats.dead_frac)


def test_exploding_and_overflow_are_reported_not_raised() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # x158 per layer: float32 overflows within 20 layers (float64 would need ~140)
        r = run_probe(ProbeConfig(widths=(500,) * 50, batch=32, act="relu", init="normal:10", dtype="float32"))
    ex = [w for w in r.warnings if w.kind == "exploding"]
    assert ex and ex[0].layer == 1
    assert any(w.value == float("inf") for w in ex)  # overflow reached
    assert r.layers[-1].stats.moments.nonfinite_frac > 0


def test_thresholds_can_be_overridden() -> None:
    cfg = dict(widths=(500,) * 10, batch=500, act="tanh", init="xavier")
    assert not kinds(run_probe(ProbeConfig(**cfg)))
    r = run_probe(ProbeConfig(thresholds={"vanishing": 0.5}, **cfg))
    v = [w for w in r.warnings if w.kind == "vanishing"]
    assert v and all(w.threshold == 0.5 and w.value < 0.5 for w in v)
    assert r.thresholds["vanishing"] == 0.5
