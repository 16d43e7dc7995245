"""The command line: parsed output, exit codes, one-line errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from actstat import ProbeConfig, __version__, run_probe
from actstat.cli import cli

SMALL = ["--layers", "4", "--width", "60", "--batch", "80"]


def invoke(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def probe_json(args: list[str]) -> dict:
    r = invoke(["probe", *args, "--format", "json"])
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_version() -> None:
    r = invoke(["--version"])
    assert r.exit_code == 0 and __version__ in r.stdout


@pytest.mark.parametrize("command", sorted(cli.commands))
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_every_command_has_help_with_an_example(command: str, flag: str) -> None:
    r = invoke([command, flag])
    assert r.exit_code == 0
    assert "Example" in r.stdout and "actstat " in r.stdout


def test_json_document_schema_and_values() -> None:
    doc = probe_json([*SMALL, "--act", "tanh", "--init", "xavier", "--seed", "3"])
    assert doc["actstat_version"] == __version__
    cfg = doc["config"]
    assert cfg["widths"] == [60] * 4 and cfg["layers"] == 4 and cfg["input_dim"] == 60
    assert cfg["act"] == "tanh" and cfg["init"] == "xavier" and cfg["seed"] == 3 and cfg["batch"] == 80
    assert set(doc["thresholds"]) >= {"vanishing", "exploding", "saturation", "collapse", "dead", "not_centered"}
    assert doc["saturation_rule"] == "|h| > 0.99"
    assert len(doc["layers"]) == 4
    for i, L in enumerate(doc["layers"], start=1):
        assert L["layer"] == i and L["width"] == 60
        assert {"mean", "std", "min", "max", "saturated_frac", "zero_frac", "dead_frac", "pre", "hist"} <= set(L)
        assert sum(L["hist"]["counts"]) == 80 * 60 and len(L["hist"]["edges"]) == 31
        assert L["hist"]["edges"][0] == -1.0 and L["hist"]["edges"][-1] == 1.0
    # the numbers are those of the library on the same configuration
    ref = run_probe(ProbeConfig(widths=(60,) * 4, batch=80, act="tanh", init="xavier", seed=3))
    for L, R in zip(doc["layers"], ref.layers):
        assert L["std"] == pytest.approx(R.stats.std, rel=1e-12)
        assert L["pre"]["std"] == pytest.approx(R.pre.std, rel=1e-12)
    assert doc["input"]["std"] == pytest.approx(ref.input.std)


def test_mean_and_std_are_over_the_whole_matrix() -> None:
    # independent recomputation of layer 1 with the documented random streams
    from actstat.network import make_streams

    doc = probe_json(["--layers", "1", "--width", "30", "--batch", "50", "--act", "tanh", "--init", "xavier"])
    r = make_streams(0)
    x = r["input"].standard_normal((50, 30))
    h = np.tanh(x @ (r["weights"].standard_normal((30, 30)) / np.sqrt(30)))
    assert doc["layers"][0]["mean"] == pytest.approx(h.mean(), rel=1e-10)
    assert doc["layers"][0]["std"] == pytest.approx(h.std(), rel=1e-10)


def test_table_output_has_a_row_per_layer_and_the_warnings() -> None:
    r = invoke(["probe", *SMALL, "--act", "tanh", "--init", "normal:0.01"])
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    rows = [ln.split() for ln in lines if re.match(r"^\s*(input|\d+)\s+60\s", ln)]
    assert [row[0] for row in rows] == ["input", "1", "2", "3", "4"]
    doc = probe_json([*SMALL, "--act", "tanh", "--init", "normal:0.01"])
    for row, L in zip(rows[1:], doc["layers"]):
        assert float(row[3]) == pytest.approx(L["std"], rel=5e-3)  # 3 significant digits
    assert "vanishing" in r.stdout and "fix: --init critical (sigma_w 1 makes tanh critical" in r.stdout
    assert "|h| > 0.99" in r.stdout and "thresholds:" in r.stdout
    assert "\x1b[" not in r.stdout


def test_float32_stays_float32_end_to_end() -> None:
    doc = probe_json([*SMALL, "--dtype", "float32"])
    assert doc["config"]["dtype"] == "float32"
    from actstat.network import forward, make_streams
    from actstat.probe import validate

    # and every array in the network is float32
    from actstat.network import NetworkSpec

    act, init = validate(ProbeConfig(dtype="float32"))
    s = NetworkSpec(dims=(20, 20, 20), act=act, init=init, dtype=np.dtype(np.float32), batchnorm=True, dropout=0.1)
    g = make_streams(0)
    x = g["input"].standard_normal((8, 20), dtype=np.float32)
    assert all(t.h.dtype == np.float32 and t.out.dtype == np.float32 for t in forward(s, x, g["weights"], g["dropout"]))


def test_overflow_still_gives_valid_json_with_nulls() -> None:
    r = invoke(["probe", "--layers", "30", "--width", "300", "--batch", "16", "--act", "relu",
                "--init", "normal:10", "--dtype", "float32", "--format", "json"])
    assert r.exit_code == 0 and r.stderr == ""
    doc = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert doc["layers"][-1]["mean"] is None
    assert any(w["kind"] == "exploding" and w["value"] is None for w in doc["warnings"])


@pytest.mark.parametrize(
    "args, code",
    [(["--fail-on", "vanishing"], 3), (["--fail-on", "saturation"], 0), (["--fail-on", "any"], 3),
     (["--fail-on", "saturation,vanishing"], 3)],
)
def test_fail_on(args: list[str], code: int) -> None:
    r = invoke(["probe", *SMALL, "--act", "tanh", "--init", "normal:0.01", "--format", "json", *args])
    assert r.exit_code == code
    json.loads(r.stdout)  # the report is still written


def test_fail_on_any_ignores_informational_kinds() -> None:
    r = invoke(["probe", *SMALL, "--act", "relu", "--init", "he", "--fail-on", "any"])
    assert r.exit_code == 0 and "not_centered" in r.stdout
    r = invoke(["probe", *SMALL, "--act", "relu", "--init", "he", "--fail-on", "not_centered"])
    assert r.exit_code == 3


BAD = [
    (["probe", "--init", "xaviar"], "Did you mean 'xavier'"),
    (["probe", "--act", "rellu"], "Did you mean 'relu'"),
    (["probe", "--init", "normal:abc"], "expected a number"),
    (["probe", "--act", "leaky_relu:-"], "invalid parameter"),
    (["probe", "--layers", "0"], "0"),
    (["probe", "--width", "-5"], "-5"),
    (["probe", "--batch", "0"], "0"),
    (["probe", "--widths", "500,abc"], "list of widths"),
    (["probe", "--widths", "500,250", "--layers", "3"], "--widths has 2 entries"),
    (["probe", "--width", "10", "--widths", "10,10"], "not both"),
    (["probe", "--dropout", "1.5"], "--dropout must be in [0, 1)"),
    (["probe", "--gain", "0"], "--gain"),
    (["probe", "--seed", "-1"], "-1"),
    (["probe", "--bias-std", "inf"], "finite"),
    (["probe", "--fail-on", "vanishng"], "unknown warning kind vanishng"),
    (["probe", "--threshold", "bogus=1"], "KIND=VALUE"),
    (["probe", "--threshold", "dead=x"], "not a number"),
    (["probe", "--hist-range", "1,0"], "LO must be below HI"),
    (["probe", "--batch", "1", "--batchnorm"], "--batchnorm needs --batch"),
    (["probe", "--format", "xml"], "xml"),
    (["probe", "--width", "10000000", "--layers", "1000"], "needs about"),
    (["nosuchcommand"], "No such command"),
]


@pytest.mark.parametrize("args, fragment", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2(args: list[str], fragment: str) -> None:
    r = invoke(args)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), r.stderr
    assert fragment in lines[0]
    assert "Traceback" not in r.stderr


def test_memory_refusal_states_estimate_and_available() -> None:
    r = invoke(["probe", "--width", "200000", "--batch", "200000", "--layers", "2"])
    assert r.exit_code == 2
    assert re.search(r"needs about [\d.]+ (GiB|MiB) of memory and [\d.]+ (GiB|MiB) is available", r.stderr)
    assert "--force" in r.stderr


def test_list_shows_every_formula() -> None:
    from actstat.activations import ACTIVATIONS
    from actstat.initializers import INITIALIZERS

    r = invoke(["list", "--format", "json"])
    doc = json.loads(r.stdout)
    assert [d["name"] for d in doc["inits"]] == list(INITIALIZERS)
    assert [d["name"] for d in doc["activations"]] == list(ACTIVATIONS)
    he = next(d for d in doc["inits"] if d["name"] == "he")
    assert "2/fan_in" in he["formula"] and "kaiming" in he["aliases"]
    r = invoke(["list"])
    for name in list(INITIALIZERS) + list(ACTIVATIONS):
        assert name in r.stdout


def test_python_dash_m(tmp_path) -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "actstat", "--version"], capture_output=True, text=True, check=True)
    assert __version__ in out.stdout
