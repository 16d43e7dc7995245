"""The verdict table of BACKGROUND.md is the acceptance test: each canonical experiment gets exactly
its verdict (not_centered, being informational, may accompany any of them)."""

from __future__ import annotations

import numpy as np
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


# --- wording (issue 15): one rule per summary line, no "collapse to zero" at a saturated layer, raw
# data called raw, no dead-unit verdict on a batch too small to judge one ---------------------------


def _cli(argv: list[str]) -> tuple[str, dict]:
    import json

    from click.testing import CliRunner

    from actstat.cli import cli

    table = CliRunner().invoke(cli, ["probe", *argv], catch_exceptions=False)
    js = CliRunner().invoke(cli, ["probe", *argv, "--format", "json"], catch_exceptions=False)
    assert table.exit_code == 0 and js.exit_code == 0
    return table.stdout, json.loads(js.stdout)


def test_each_rule_has_its_own_summary_line_with_its_own_range_and_threshold() -> None:
    import re

    from actstat.rendering.table import layer_ranges, num

    text, doc = _cli(["--act", "relu", "--init", "xavier", "--layers", "10", "--width", "200", "--batch", "200"])
    rules: dict[str, list[dict]] = {}
    for w in doc["warnings"]:
        if w["kind"] == "vanishing":
            rules.setdefault(w["rule"], []).append(w)
    assert set(rules) == {"vanishing", "vanishing_rate"}  # ReLU + Xavier: both rules fire
    lines = [ln for ln in text.splitlines() if ln.startswith("  vanishing (")]
    assert len(lines) == 2
    for rule, ws in rules.items():
        line = [ln for ln in lines if f"({rule}:" in ln]
        assert len(line) == 1
        vals = [w["value"] for w in ws]
        lo, hi = min(vals), max(vals)
        assert f"layers {layer_ranges([w['layer'] for w in ws])}" in line[0]
        assert f"value {num(lo)}..{num(hi)}, threshold {num(ws[0]['threshold'])}" in line[0]
        assert all(w["threshold"] == doc["thresholds"][rule] for w in ws)
        # every value is on the warned side of its own threshold
        assert all(v < doc["thresholds"][rule] for v in vals)
    assert re.search(r"threshold 0\.75 \(vanishing_rate", text) and re.search(r"threshold 0\.1 \(vanishing:", text)


def test_raw_user_data_is_called_raw_and_saturation_is_not_collapse(tmp_path) -> None:
    rng = np.random.default_rng(3)
    path = tmp_path / "raw.npy"
    np.save(path, 300 + 30 * rng.standard_normal((200, 50)))  # RMS ~ 300, like grams
    argv = ["--act", "tanh", "--init", "xavier", "--layers", "5", "--width", "50", "--input", str(path)]
    text, doc = _cli(argv)
    by_layer: dict[int, set[str]] = {}
    for w in doc["warnings"]:
        by_layer.setdefault(w["layer"], set()).add(w["kind"])
    raw = [w for w in doc["warnings"] if w["kind"] == "unscaled_input"]
    assert raw and raw[0]["layer"] == 0 and raw[0]["value"] == pytest.approx(doc["input"]["rms"])
    assert raw[0]["fix"] == ["--preprocess", "standardize"]
    assert "saturation" in by_layer[1]
    assert all(not {"saturation", "vanishing"} <= k for k in by_layer.values())
    assert "collapse to zero" not in text
    assert all(w["fix"] == ["--preprocess", "standardize"] for w in doc["warnings"] if w["kind"] == "saturation")
    _, fixed = _cli(argv + ["--preprocess", "standardize"])
    assert not [w for w in fixed["warnings"] if w["kind"] in ("unscaled_input", "saturation")]


@pytest.mark.parametrize("batch", [1, 8])
def test_small_batches_do_not_judge_dead_units(batch: int) -> None:
    from actstat.diagnostics import MIN_DEAD_BATCH

    text, doc = _cli(["--act", "relu", "--init", "he", "--layers", "4", "--width", "50", "--batch", str(batch)])
    assert batch < MIN_DEAD_BATCH
    assert all(L["dead_frac"] is None for L in doc["layers"])
    assert not [w for w in doc["warnings"] if w["kind"] == "dead"]
    assert any("dead units are not judged" in n for n in doc["notes"])
    assert "dead units are not judged" in text
    # a batch large enough judges them again (and ReLU + He has some)
    _, big = _cli(["--act", "relu", "--init", "he", "--layers", "4", "--width", "50", "--batch", str(MIN_DEAD_BATCH)])
    assert all(L["dead_frac"] is not None for L in big["layers"])
