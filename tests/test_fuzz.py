"""Fuzzed command lines. Valid combinations exit 0 (or 3 with --fail-on) with parseable output whose
numbers are finite or null; anything else exits 2 with one line and no traceback.

CI runs a few hundred examples; for a longer local run:
    pytest tests/test_fuzz.py --hypothesis-profile=fuzz-long
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actstat.activations import ACTIVATIONS
from actstat.cli import cli
from actstat.initializers import INITIALIZERS


@pytest.fixture(autouse=True, scope="module")
def _in_a_scratch_directory(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Mangled command lines may name output files (x.png): keep them out of the repository."""
    import os

    old = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("fuzz"))
    yield
    os.chdir(old)


# CI runs the numbers below; `--hypothesis-profile=fuzz-long` (registered in conftest.py) raises them
LONG = settings.default.max_examples >= 1000
FUZZ = settings(max_examples=settings.default.max_examples if LONG else 200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow], derandomize=not LONG)


def _choices(command: str, option: str) -> list[str]:
    for p in cli.commands[command].params:
        if option in getattr(p, "opts", []):
            return list(p.type.choices)  # type: ignore[attr-defined]
    raise KeyError(option)


FORMATS = _choices("probe", "--format")

ACT_SPECS = st.sampled_from(list(ACTIVATIONS)) | st.sampled_from(["leaky_relu:0.1", "elu:0.5", "maxout:3", "swish"])
INIT_SPECS = st.sampled_from(list(INITIALIZERS)) | st.sampled_from(
    ["normal:0.01", "normal:3", "constant:0.5", "uniform:0.1", "orthogonal:1.5", "truncated_normal:0.2", "kaiming"])


@st.composite
def valid_probe_args(draw: Any) -> list[str]:
    layers = draw(st.integers(1, 5))
    args = ["probe", "--layers", str(layers), "--batch", str(draw(st.integers(2, 12)))]
    if draw(st.booleans()):
        args += ["--widths", ",".join(str(draw(st.integers(1, 10))) for _ in range(layers))]
    else:
        args += ["--width", str(draw(st.integers(1, 10)))]
    if draw(st.booleans()):
        args += ["--input-dim", str(draw(st.integers(1, 10)))]
    init = draw(INIT_SPECS)
    # --init critical needs an activation with a critical sigma_w at every --bias-std
    act = draw(st.sampled_from(["relu", "tanh", "leaky_relu:0.1", "linear"]) if init == "critical" else ACT_SPECS)
    args += ["--act", act, "--init", init]
    if draw(st.booleans()):
        args += ["--gain", str(draw(st.floats(0.01, 100)))]
    if draw(st.booleans()):
        args += ["--bias-std", str(draw(st.floats(0, 10)))]
    if draw(st.booleans()):
        args += ["--batchnorm"]
    if draw(st.booleans()):
        args += ["--dropout", str(draw(st.floats(0, 0.9))), "--dropout-mode", draw(st.sampled_from(["inverted", "classic"]))]
    args += ["--input", draw(st.sampled_from(["normal", "uniform", "positive"]))]
    args += ["--seed", str(draw(st.integers(0, 2**31))), "--dtype", draw(st.sampled_from(["float32", "float64"]))]
    grad = draw(st.booleans())
    if grad:
        args += ["--grad", "--loss", draw(st.sampled_from(["softmax", "mse", "random"])),
                 "--classes", str(draw(st.integers(2, 12))), "--lr", str(draw(st.floats(1e-6, 10)))]
    if draw(st.booleans()):
        args += ["--bins", str(draw(st.integers(1, 40)))]
    if draw(st.booleans()):
        kinds = ["any", "vanishing", "saturation,dead", "symmetry"] + (["vanishing_gradient,zigzag"] if grad else [])
        args += ["--fail-on", draw(st.sampled_from(kinds))]
    args += ["--format", draw(st.sampled_from(FORMATS))]
    return args


def check_output(fmt: str, out: str) -> None:
    if fmt == "json":
        doc = json.loads(out, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        for L in doc["layers"]:
            for key in ("mean", "std", "min", "max"):
                assert L[key] is None or math.isfinite(L[key])
            for v in L.get("grad", {}).values():
                assert not isinstance(v, float) or math.isfinite(v)
    elif fmt in ("csv", "tsv"):
        rows = list(csv.reader(io.StringIO(out), dialect="excel-tab" if fmt == "tsv" else "excel"))
        assert len(rows) >= 2 and len({len(r) for r in rows}) == 1
    elif fmt == "ndjson":
        for line in out.splitlines():
            json.loads(line)
    else:
        assert "layer" in out and "Traceback" not in out


@FUZZ
@given(valid_probe_args())
def test_valid_probe_command_lines(args: list[str]) -> None:
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    expected = {0, 3} if "--fail-on" in args else {0}
    assert r.exit_code in expected, (args, r.stderr)
    check_output(args[args.index("--format") + 1], r.stdout)


JUNK = st.sampled_from(["0", "-1", "abc", "1e9", "nan", "inf", "", ":", "x", "1,2", "-", "2.5", "99999999"])
OPTIONS = ["--seed", "--seed", "--layers", "--width", "--widths", "--input-dim", "--batch", "--act", "--init", "--gain", "--bias-std",
           "--dropout", "--dropout-mode", "--input", "--seed", "--dtype", "--bins", "--hist-range", "--threshold",
           "--fail-on", "--format", "--loss", "--classes", "--lr"]


@st.composite
def mangled_probe_args(draw: Any) -> list[str]:
    args = draw(valid_probe_args())
    for _ in range(draw(st.integers(1, 3))):
        opt = draw(st.sampled_from(OPTIONS))
        value = draw(JUNK | ACT_SPECS.map(lambda s: s + "x") | INIT_SPECS.map(lambda s: s + ":zz"))
        args += [opt, value]
    return args


@FUZZ
@given(mangled_probe_args())
def test_mangled_probe_command_lines(args: list[str]) -> None:
    r = run_mangled(args)
    if r.exit_code != 2:
        check_output(args[len(args) - 1 - args[::-1].index("--format") + 1], r.stdout)


def run_mangled(args: list[str]) -> Any:
    """Any exit but a crash; an error is exit 2 with one line on stderr and nothing on stdout."""
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert r.exit_code in (0, 2, 3), (args, r.exit_code, r.stderr)
    assert "Traceback" not in r.stderr
    if r.exit_code == 2:
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error:"), (args, r.stderr)
        assert r.stdout == ""
    return r


# --- compare and theory -------------------------------------------------------------------------

FUZZ_100 = settings(max_examples=settings.default.max_examples if LONG else 100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow], derandomize=not LONG)
THEORY_ACTS = [a for a in ACTIVATIONS if a != "maxout"] + ["leaky_relu:0.1", "elu:0.5"]


@st.composite
def valid_compare_args(draw: Any) -> list[str]:
    lst = lambda s: ",".join(draw(st.lists(s, min_size=1, max_size=2)))
    args = ["compare", "--act", lst(ACT_SPECS), "--init", lst(st.sampled_from(["he", "xavier", "normal:0.5",
                                                                               "zeros", "orthogonal"])),
            "--layers", lst(st.sampled_from(["1", "2", "4"])), "--width", lst(st.sampled_from(["1", "3", "8"])),
            "--batch", str(draw(st.integers(2, 10))), "--jobs", "1", "--seed", str(draw(st.integers(0, 99)))]
    if draw(st.booleans()):
        args += ["--batchnorm-both"]
    if draw(st.booleans()):
        args += ["--grad", "--loss", draw(st.sampled_from(["softmax", "mse", "random"]))]
    if draw(st.booleans()):
        args += ["--dtype", lst(st.sampled_from(["float32", "float64"]))]
    if draw(st.booleans()):
        args += ["--fail-on", draw(st.sampled_from(["any", "vanishing,dead"]))]
    args += ["--format", draw(st.sampled_from(FORMATS))]
    return args


@st.composite
def valid_theory_args(draw: Any) -> list[str]:
    args = ["theory", "--act", draw(st.sampled_from(THEORY_ACTS)), "--layers", str(draw(st.integers(1, 30))),
            "--sigma-b", draw(st.sampled_from(["0", "0.3"])), "--q0", str(draw(st.floats(1e-3, 100)))]
    if draw(st.booleans()):
        args += ["--critical"]
    else:
        args += ["--sigma-w", str(draw(st.floats(0.01, 20)))]
    args += ["--format", draw(st.sampled_from(FORMATS))]
    return args


def check_report(args: list[str], r: Any) -> None:
    fmt = args[len(args) - 1 - args[::-1].index("--format") + 1]
    if fmt == "json":
        doc = json.loads(r.stdout, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        rows = doc.get("configs") or doc.get("layers")
        assert rows
        for row in rows:
            for v in row.values():
                assert not isinstance(v, float) or math.isfinite(v)
    elif fmt in ("csv", "tsv"):
        rows = list(csv.reader(io.StringIO(r.stdout), dialect="excel-tab" if fmt == "tsv" else "excel"))
        assert len(rows) >= 2 and len({len(x) for x in rows}) == 1
    elif fmt == "ndjson":
        for line in r.stdout.splitlines():
            json.loads(line)
    else:
        assert r.stdout.strip() and "Traceback" not in r.stdout


@FUZZ_100
@given(valid_compare_args())
def test_valid_compare_command_lines(args: list[str]) -> None:
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert r.exit_code in ({0, 3} if "--fail-on" in args else {0}), (args, r.stderr)
    check_report(args, r)


@FUZZ_100
@given(valid_theory_args())
def test_valid_theory_command_lines(args: list[str]) -> None:
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    if "--critical" in args and r.exit_code == 2:  # a real answer: no critical sigma_w for this act and bias
        assert "no critical sigma_w" in r.stderr and r.stderr.count("\n") == 1
        return
    assert r.exit_code == 0, (args, r.stderr)
    check_report(args, r)


THEORY_OPTIONS = ["--act", "--sigma-w", "--sigma-b", "--layers", "--q0", "--format", "--phase-diagram", "--dpi"]
COMPARE_OPTIONS = ["--act", "--init", "--layers", "--width", "--batch", "--dropout", "--gain", "--dtype", "--jobs",
                   "--threshold", "--fail-on", "--format", "--loss", "--input"]


@st.composite
def mangled(draw: Any, base: Any, options: list[str]) -> list[str]:
    args = draw(base)
    for _ in range(draw(st.integers(1, 3))):
        args += [draw(st.sampled_from(options)), draw(JUNK | st.sampled_from(["tanh,", ",", "x.png", "maxout"]))]
    return args


@FUZZ_100
@given(st.one_of(mangled(valid_compare_args(), COMPARE_OPTIONS), mangled(valid_theory_args(), THEORY_OPTIONS)))
def test_mangled_compare_and_theory_command_lines(args: list[str]) -> None:
    run_mangled(args)


# --- extreme scales (issue 19): gains, init scales and biases from 1e-310 to 1e308, depths to 1000, both
# dtypes, every command and format. The pathologies actstat diagnoses must never crash it or warn. ---------

FUZZ_FEW = settings(max_examples=settings.default.max_examples if LONG else 6, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow], derandomize=not LONG)
SCALES = st.floats(-310, 308).map(lambda e: 10.0 ** e) | st.sampled_from([5e-324, 2.2250738585072014e-308, 1.7e308])
SCALED_INITS = ["normal", "uniform", "constant", "orthogonal", "truncated_normal"]


def _scaled_init(draw: Any) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from(["he", "xavier", "lsuv", "zeros", "glorot_normal", "pytorch"]))
    return f"{draw(st.sampled_from(SCALED_INITS))}:{draw(SCALES)!r}"


@st.composite
def extreme_network_args(draw: Any, depths: tuple[int, ...] = (1, 2, 5, 40, 200)) -> list[str]:
    args = ["--layers", str(draw(st.sampled_from(depths))), "--width", str(draw(st.integers(1, 4))),
            "--batch", str(draw(st.integers(2, 4))), "--act", draw(ACT_SPECS), "--init", _scaled_init(draw),
            "--dtype", draw(st.sampled_from(["float32", "float64"])), "--seed", str(draw(st.integers(0, 9)))]
    if draw(st.booleans()):
        args += ["--gain", repr(draw(SCALES))]
    if draw(st.booleans()):
        args += ["--bias-std", repr(draw(SCALES))]
    if draw(st.booleans()):
        args += ["--batchnorm"]
    return args


def check_extreme(args: list[str], r: Any) -> None:
    """Exit 0 (3 under --fail-on), no warning on stderr, parseable output whose numbers are finite or
    null; the only refusal allowed is theory's, for scales whose squares leave the float range."""
    if r.exit_code == 2 and "mean-field theory needs" in r.stderr:
        assert r.stderr.count("\n") == 1 and r.stdout == "", r.stderr
        return
    assert r.exit_code in ({0, 3} if "--fail-on" in args else {0}), (args, r.exit_code, r.stderr)
    assert "Warning" not in r.stderr and "Traceback" not in r.stderr, r.stderr


@settings(FUZZ_FEW, max_examples=settings.default.max_examples if LONG else 40)
@given(extreme_network_args(), st.sampled_from(FORMATS), st.booleans(), st.booleans())
def test_extreme_scales_probe(args: list[str], fmt: str, grad: bool, theory: bool) -> None:
    args = ["probe", *args, *(["--grad"] if grad else []), *(["--theory"] if theory else []), "--format", fmt]
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    check_extreme(args, r)
    if r.exit_code == 0:
        check_output(fmt, r.stdout)


@FUZZ_FEW
@given(extreme_network_args(depths=(1, 3, 30)), st.sampled_from(FORMATS), st.data())
def test_extreme_scales_compare(args: list[str], fmt: str, data: Any) -> None:
    extra = ["--gain", f"{data.draw(SCALES)!r},{data.draw(SCALES)!r}"] if "--gain" not in args else []
    args = ["compare", *args, *extra, "--jobs", "1", "--format", fmt]
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    check_extreme(args, r)
    check_report(args, r)


@settings(max_examples=settings.default.max_examples if LONG else 1, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture], derandomize=not LONG)
@given(extreme_network_args(depths=(2, 40)), st.booleans())
def test_extreme_scales_report(tmp_path: Any, args: list[str], grad: bool) -> None:
    import shutil

    out = tmp_path / "rep"
    shutil.rmtree(out, ignore_errors=True)
    args = ["report", *args, *(["--grad"] if grad else []), "--out", str(out), "--dpi", "30"]
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    check_extreme(args, r)
    doc = json.loads((out / "report.json").read_text(), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert doc["layers"]


@settings(FUZZ_FEW, max_examples=settings.default.max_examples if LONG else 20)
@given(st.sampled_from(THEORY_ACTS), SCALES, SCALES | st.just(0.0), SCALES, st.sampled_from([1, 7, 100]),
       st.sampled_from(FORMATS))
def test_extreme_scales_theory(act: str, sw: float, sb: float, q0: float, layers: int, fmt: str) -> None:
    args = ["theory", "--act", act, "--sigma-w", repr(sw), "--sigma-b", repr(sb), "--q0", repr(q0),
            "--layers", str(layers), "--format", fmt]
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    check_extreme(args, r)
    if r.exit_code == 0:
        check_report(args, r)


@pytest.mark.parametrize("dtype, scale", [("float32", "--gain=1e-310"), ("float64", "--init=normal:1e308")])
def test_a_thousand_layers_at_the_float_limits(dtype: str, scale: str) -> None:
    args = ["probe", "--layers", "1000", "--width", "3", "--batch", "3", "--act", "tanh", scale, "--dtype", dtype,
            "--format", "json"]
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    check_extreme(args, r)
    doc = json.loads(r.stdout)
    assert len(doc["layers"]) == 1000
    assert {w["kind"] for w in doc["warnings"]} & {"vanishing", "exploding", "saturation"}


TRAINING_COMMANDS = {
    "train": lambda s: ["train", "--data", "spiral", "--steps", "2", "--layers", "2", "--width", "4", *s],
    "trainability": lambda s: ["trainability", "--data", "blobs", "--sigma-w", "1e-300:1e150:2", "--layers",
                               "2:4:2", "--width", "3", "--steps", "2", *s[4:]],  # (its init is N(0, sigma_w^2/n))
    "search": lambda s: ["search", "--data", "blobs", "--trials", "2", "--epochs", "1", "--width", "3",
                         "--layers", "2", "--lr", "1e-3,1e-2", *s],
}


@FUZZ_FEW
@given(st.sampled_from(sorted(TRAINING_COMMANDS)), st.data())
def test_extreme_scales_training_commands(command: str, data: Any) -> None:
    fmt = data.draw(st.sampled_from(_choices(command, "--format")))
    scale = ["--init", _scaled_init(data.draw), "--gain", repr(data.draw(SCALES)),
             "--dtype", data.draw(st.sampled_from(["float32", "float64"]))]
    args = [*TRAINING_COMMANDS[command](scale), "--format", fmt]
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    check_extreme(args, r)
    assert r.stdout.strip()
