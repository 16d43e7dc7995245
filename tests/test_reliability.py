"""Issue 19: the memory guard, file and config limits, warnings at the float limits, clear errors
instead of internal ones, temporary files on signals, reproducible bytes, option precedence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from actstat.cli import cli


def run(*args: str, code: int | None = 0, **kw) -> object:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False, **kw)
    if code is not None:
        assert r.exit_code == code, (args, r.exit_code, r.stderr)
    return r


def one_line_error(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("Error:"), (r.exit_code, r.stderr)
    assert "internal error" not in lines[0] and r.stdout == ""
    return lines[0]


# --- item 4: sizes are checked before anything is allocated -------------------------------------

HUGE_SIZES = [["--layers", "2147483648", "--width", "1"], ["--layers", "4294967296"],
              ["--layers", "99999999999999999999"], ["--widths", "4x99999999999"], ["--widths", "99999999999x4"],
              ["--width", "99999999999999999999"], ["--input-dim", "99999999999999999999"],
              ["--batch", "99999999999999999999"]]


@pytest.mark.parametrize("args", HUGE_SIZES)
@pytest.mark.parametrize("command", ["probe", "report"])
def test_impossible_sizes_are_refused_at_once(command: str, args: list[str], tmp_path: Path) -> None:
    out = ["--out", str(tmp_path / "r")] if command == "report" else []
    t = time.monotonic()
    msg = one_line_error(run(command, *args, *out, code=None))
    assert time.monotonic() - t < 5
    assert "must be" in msg or "range" in msg or "needs about" in msg, msg
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("value", ["2147483648", "99999999999999999999"])
def test_impossible_sizes_from_toml_and_compare(value: str, tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(f"layers = {value}\n")
    one_line_error(run("probe", "--config", str(toml), code=None))
    one_line_error(run("compare", "--config", str(toml), "--jobs", "1", code=None))
    one_line_error(run("compare", "--layers", value, "--jobs", "1", code=None))
    one_line_error(run("compare", "--width", value, "--jobs", "1", code=None))
    one_line_error(run("theory", "--layers", value, code=None))


def test_the_size_limits_match_the_core() -> None:
    from actstat import probe
    from actstat.cli.options import MAX_LAYERS, MAX_WIDTH

    assert (MAX_LAYERS, MAX_WIDTH) == (probe.MAX_LAYERS, probe.MAX_WIDTH)


_PEAK = """
import sys, tracemalloc
from actstat import ProbeConfig, run_probe
from actstat.probe import estimate_memory
from actstat.activations import get_activation
cfg = ProbeConfig(widths=({w},) * 2, input_dim={w}, batch=4, act="tanh", init="{init}", dtype="{dtype}", force=True)
tracemalloc.start()  # numpy reports its array allocations to tracemalloc: the probe's own peak
run_probe(cfg, prefetch=True)
print(tracemalloc.get_traced_memory()[1], estimate_memory(cfg, get_activation("tanh")))
"""


@pytest.mark.parametrize("init, dtype", [("orthogonal", "float32"), ("orthogonal", "float64"),
                                         ("lsuv", "float32"), ("truncated_normal", "float32"), ("he", "float64")])
def test_the_memory_estimate_covers_every_initialiser(init: str, dtype: str) -> None:
    # the weights dominate (batch 4): the estimate must cover the measured peak and not be far above it
    code = _PEAK.format(w=2500, init=init, dtype=dtype)
    # import numpy and warm up first, so that the measured peak is the probe's own; a large QR runs in this
    # process (as off Linux or off the main thread), not in a child (actstat.native), whose arrays tracemalloc
    # would not see: the two processes together hold A, the shared q, and the child's copy of A, q and r (5)
    code = ("import numpy, numpy.linalg; numpy.linalg.qr(numpy.ones((4, 4)))\n"
            "import actstat.native; actstat.native.CHILD_MIN_ENTRIES = 1 << 62\n" + code)
    peak, est = map(int, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                        check=True).stdout.split())
    assert peak <= est <= 3 * peak + 2**20, (peak, est)


def _npy_header(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_a_npy_whose_header_claims_more_than_it_holds_is_a_bad_file(tmp_path: Path) -> None:
    f = tmp_path / "liar.npy"
    f.write_bytes(_npy_header((10**6, 10**6)) + b"\0" * 64)
    msg = one_line_error(run("probe", "--input", str(f), code=None))
    assert "liar.npy" in msg and "truncated" in msg, msg
    g = tmp_path / "bad.npy"
    g.write_bytes(_npy_header((3, 2), "|O") + b"\0" * 48)
    assert "objects" in one_line_error(run("probe", "--input", str(g), code=None))


def test_input_files_are_checked_against_memory_before_reading(tmp_path: Path, monkeypatch) -> None:
    import actstat.probe

    x = np.random.default_rng(0).standard_normal((2000, 100))
    np.save(tmp_path / "x.npy", x)
    np.savetxt(tmp_path / "x.csv", x, delimiter=",")
    monkeypatch.setattr(actstat.probe, "available_memory", lambda: 1_000_000)  # 1 MB: the data is 1.6 MB
    for name in ("x.npy", "x.csv"):
        msg = one_line_error(run("probe", "--input", str(tmp_path / name), "--width", "2", code=None))
        assert "needs about" in msg and name in msg, msg
    run("probe", "--input", str(tmp_path / "x.npy"), "--width", "2", "--layers", "1", "--force")


def test_csv_input_is_parsed_without_a_tenfold_peak(tmp_path: Path) -> None:
    import tracemalloc

    from actstat.data import load_input

    x = np.random.default_rng(0).standard_normal((20000, 20))
    f = tmp_path / "x.csv"
    np.savetxt(f, x, delimiter=",", header="," .join(f"f{i}" for i in range(20)), comments="")
    size = f.stat().st_size
    tracemalloc.start()
    a = load_input(str(f))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_allclose(a, x, rtol=1e-15)
    assert peak < 3 * a.nbytes + size / 4, (peak, a.nbytes, size)


def test_config_reads_are_capped(tmp_path: Path) -> None:
    t = time.monotonic()
    msg = one_line_error(run("probe", "--config", "/dev/zero", code=None))
    assert time.monotonic() - t < 5 and "too large" in msg, msg
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (2 << 20) + "\n")
    assert "too large" in one_line_error(run("probe", "--config", str(big), code=None))
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b"act = \"tanh\" # caf\xe9\n")
    assert "UTF-8" in one_line_error(run("probe", "--config", str(bad), code=None))


def test_the_memory_guard_sees_a_ulimit() -> None:
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.RLIM_INFINITY))

    # orthogonal 15000: 1.8 GB of weights, about 10 GB to draw; MemAvailable alone may well allow it
    p = subprocess.run([sys.executable, "-m", "actstat", "probe", "--init", "orthogonal", "--width", "15000",
                        "--layers", "2", "--batch", "4"], check=False, capture_output=True, text=True,
                       preexec_fn=limit,
                       timeout=60)
    assert p.returncode == 2 and "needs about" in p.stderr and p.stderr.count("\n") == 1, p.stderr


# --- item 8: no RuntimeWarning at the float limits (pytest turns them into errors) ----------------

EXTREME_VALUES = [["--gain", "1.7e308"], ["--bias-std", "1.7e308"], ["--init", "normal:1e308"],
                  ["--dtype", "float32", "--gain", "1e100"], ["--dtype", "float32", "--init", "normal:1e300"],
                  ["--dtype", "float32", "--bias-std", "1e300"], ["--init", "uniform:1.7e308", "--grad"],
                  ["--init", "orthogonal:1e308", "--batchnorm", "--grad"], ["--gain", "1e-310", "--grad"],
                  ["--act", "softplus", "--init", "constant:1e308", "--dropout", "0.5"]]


@pytest.mark.parametrize("args", EXTREME_VALUES)
def test_extreme_but_valid_values_give_no_warnings(args: list[str]) -> None:
    r = run("probe", "--layers", "3", "--width", "6", "--batch", "4", *args, "--format", "json")
    assert r.stderr == ""
    json.loads(r.stdout, parse_constant=lambda c: pytest.fail(c))


@pytest.mark.parametrize("pre", ["standardize", "minmax", "center", "none"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inputs_at_the_float_limits_give_no_warnings(pre: str, dtype: str, tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("1.7e308,-1.7e308\n-1.7e308,1.7e308\n1e-310,0\n")
    r = run("probe", "--input", str(f), "--layers", "2", "--width", "3", "--preprocess", pre, "--dtype", dtype,
            "--format", "json", code=None)
    if r.exit_code == 2:  # float32 cannot hold the raw (or centred) data: said so, one line
        assert dtype == "float32" and pre in ("none", "center") and "float32" in one_line_error(r)
        return
    assert r.exit_code == 0 and r.stderr == "", r.stderr
    doc = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(c))
    if pre == "minmax":  # (x - min) / (max - min) without overflow: 0, 1 and about 1/2
        assert doc["input"]["min"] == 0.0 and doc["input"]["max"] == 1.0
    if pre == "standardize":
        assert doc["input"]["std"] == pytest.approx(1.0, rel=1e-6)


# --- item 10 (and item 9's theory cases): theory takes finite numbers it can square ---------------

@pytest.mark.parametrize("option", ["--sigma-w", "--sigma-b", "--q0"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "1e400"])
def test_theory_refuses_non_finite_numbers(option: str, value: str) -> None:
    msg = one_line_error(run("theory", option, value, code=None))
    assert option in msg, msg


@pytest.mark.parametrize("args", [["theory", "--sigma-w", "1e200"], ["theory", "--sigma-b", "1e160"],
                                  ["probe", "--theory", "--gain", "1e155"], ["probe", "--theory", "--bias-std", "1e300"]])
def test_theory_beyond_the_float_range_is_a_clear_error(args: list[str]) -> None:
    msg = one_line_error(run(*args, "--layers", "3", code=None) if args[0] == "theory"
                         else run(*args, "--layers", "3", "--width", "8", "--batch", "8", code=None))
    assert "mean-field theory needs" in msg, msg


@pytest.mark.parametrize("act", ["tanh", "relu", "gelu", "sigmoid", "linear"])
@pytest.mark.parametrize("sw, sb, q0", [(1e150, 0.0, 1.0), (1.0, 1e150, 1.0), (1e150, 1e150, 1e300), (1e-300, 0.0, 1e-300)])
def test_theory_at_its_limits_answers_in_json(act: str, sw: float, sb: float, q0: float) -> None:
    r = run("theory", "--act", act, "--sigma-w", repr(sw), "--sigma-b", repr(sb), "--q0", repr(q0), "--layers", "4",
            "--format", "json")
    assert r.stderr == ""
    doc = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(c))
    assert doc["sigma_w"] == sw and len(doc["layers"]) == 4
    q1 = doc["layers"][0]["q"]  # q^1 = sigma_w^2 q0 + sigma_b^2, inf (null) past the overflow guard
    expected = sw * sw * q0 + sb * sb
    assert (q1 is None and expected > 1e300) or q1 == pytest.approx(expected, rel=1e-12)


# --- item 13: the command line wins over --config; one validation; picture paths --------------------

def _widths(r) -> list[int]:
    return [L["width"] for L in json.loads(r.stdout)["layers"]]


def test_the_command_line_wins_over_the_config_file(tmp_path: Path) -> None:
    ok = tmp_path / "ok.toml"
    ok.write_text("width = 8\nlayers = 3\n")
    assert _widths(run("probe", "--config", str(ok), "--widths", "4,4", "--batch", "3", "--format", "json")) == [4, 4]
    assert _widths(run("probe", "--config", str(ok), "--width", "5", "--batch", "3", "--format", "json")) == [5] * 3
    w = tmp_path / "w.toml"
    w.write_text("widths = [4, 4]\n")
    assert _widths(run("probe", "--config", str(w), "--width", "6", "--batch", "3", "--format", "json")) == [6, 6]
    assert _widths(run("probe", "--config", str(w), "--layers", "3", "--width", "6", "--batch", "3",
                       "--format", "json")) == [6, 6, 6]
    # both on the command line is still a usage error
    assert "not both" in one_line_error(run("probe", "--width", "3", "--widths", "4,4", code=None))


@pytest.mark.parametrize("command", ["probe", "report", "compare"])
def test_a_boolean_for_a_number_is_refused_by_every_command(command: str, tmp_path: Path) -> None:
    b = tmp_path / "b.toml"
    b.write_text("layers = true\n")
    assert "takes a value" in one_line_error(run(command, "--config", str(b), code=None))


def test_empty_and_clashing_picture_paths_are_usage_errors(tmp_path: Path) -> None:
    assert "needs a file name" in one_line_error(run("probe", "--hist", "", "--layers", "2", code=None))
    msg = one_line_error(run("probe", "--hist", str(tmp_path / "x.png"), "--plot", str(tmp_path / "." / "x.png"),
                             "--layers", "2", code=None))
    assert "same file" in msg
    assert list(tmp_path.iterdir()) == []


# --- item 9: clear errors, not internal ones --------------------------------------------------------

LONG = "a" * 300


@pytest.mark.parametrize("args", [["probe", "--plot", LONG + ".png"], ["probe", "--hist", LONG + ".svg"],
                                  ["compare", "--jobs", "1", "--plot", LONG + ".png"], ["report", "--out", LONG],
                                  ["theory", "--phase-diagram", LONG + ".png"]])
def test_a_file_name_too_long_for_any_output(args: list[str], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    small = [] if args[0] == "theory" else ["--layers", "2", "--width", "3", "--batch", "3"]
    assert "the name is" in one_line_error(run(*args, *small, code=None))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_stdout_full_or_closed_and_stdin_closed_are_one_line_errors(fmt: str) -> None:
    args = ["probe", "--layers", "2", "--width", "3", "--batch", "3", "--format", fmt]
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, "-m", "actstat", *args], stdout=full, stderr=subprocess.PIPE, text=True,
                           check=False, timeout=120)
    assert p.returncode == 1 and p.stderr.strip() == "Error: cannot write standard output: No space left on device"
    # started with stdout closed (`>&-`): Python has no sys.stdout at all
    p = subprocess.run([sys.executable, "-m", "actstat", *args], stderr=subprocess.PIPE, text=True, check=False,
                       timeout=120, preexec_fn=lambda: os.close(1))
    assert p.returncode == 1 and "standard output is closed" in p.stderr and p.stderr.count("\n") == 1, p.stderr
    p = subprocess.run([sys.executable, "-m", "actstat", *args, "--input", "-"], capture_output=True, text=True,
                       check=False, timeout=120, preexec_fn=lambda: os.close(0))
    assert p.returncode == 2 and "standard input is closed" in p.stderr, p.stderr


# --- item 12: the same command gives the same bytes ---------------------------------------------------

@pytest.mark.parametrize("ext", ["svg", "pdf", "png"])
def test_pictures_are_byte_for_byte_reproducible(ext: str, tmp_path: Path) -> None:
    outs = []
    for name in ("a", "b"):
        f = tmp_path / f"{name}.{ext}"
        run("probe", "--layers", "3", "--width", "5", "--batch", "5", "--plot", str(f), "--dpi", "30")
        outs.append(f.read_bytes())
        time.sleep(1.1)  # (a timestamp would differ by now)
    assert outs[0] == outs[1]


# --- item 11: report.md's command reproduces report.json ---------------------------------------------

def test_the_report_command_reproduces_the_report(tmp_path: Path) -> None:
    import shlex

    first = tmp_path / "first"
    run("report", "--layers", "3", "--width", "6", "--batch", "5", "--act", "leaky_relu:0.123456789",
        "--init", "normal:0.123456789", "--gain", "1.23456789", "--dropout", "0.9999999", "--bias-std", "1e-310",
        "--hist-range", "-1.00000001,2.5", "--threshold", "saturation=0.333333333", "--theory", "--out", str(first),
        "--dpi", "30")
    md = (first / "report.md").read_text()
    cmd = next(line for line in md.splitlines() if line.startswith("actstat probe"))
    argv = shlex.split(cmd)[2:]
    assert "--theory" in argv and "1.23456789" in argv and "0.9999999" in argv
    again = tmp_path / "again"
    run("report", *argv, "--out", str(again), "--dpi", "30")
    a = json.loads((first / "report.json").read_text())
    b = json.loads((again / "report.json").read_text())
    assert a == b


# --- Ctrl-C during a long LAPACK call (issue 19 item 7) ---------------------------------------------------

def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(c) for c in fh.read().split()]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the QR's child process is Linux-only")
@pytest.mark.parametrize("layers", ["1", "2"])
def test_sigint_during_a_long_qr_is_acted_on_at_once(layers: str, tmp_path: Path) -> None:
    # the orthogonal init's QR of a 6000 x 6000 matrix takes 10 s to minutes inside LAPACK, which never
    # returns to Python: it runs in a child process that the parent kills (actstat.native)
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.Popen([sys.executable, "-m", "actstat", "probe", "--init", "orthogonal", "--width", "6000",
                             "--layers", layers, "--batch", "10", "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    t = time.monotonic()
    while proc.poll() is None and not _children(proc.pid) and time.monotonic() - t < 30:
        time.sleep(0.01)
    kids = _children(proc.pid)
    assert proc.poll() is None and len(kids) == 1  # the QR is under way, in its child process
    time.sleep(0.3)  # (well inside LAPACK)
    t = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    delay = time.monotonic() - t
    assert proc.returncode == 130, err
    assert out == "" and err.strip().splitlines() == ["Interrupted: no output was written."]
    assert delay < 3, delay  # not when the QR ends
    assert not os.path.exists(f"/proc/{kids[0]}")  # the child was killed and reaped, not left running
    assert list(tmp_path.iterdir()) == []


def test_a_qr_in_its_child_process_gives_the_same_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    from actstat import native
    from actstat.activations import get_activation
    from actstat.initializers import get_initializer, sample_weights

    if not native.forks_here():
        pytest.skip("no child process here")
    forks: list[int] = []
    real_fork = os.fork

    def counted() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counted)
    spec = get_initializer("orthogonal:1.5")
    act = get_activation("tanh")
    # (a smaller matrix than a real child's, for speed; still LAPACK's blocked QR on threaded products)
    monkeypatch.setattr(native, "CHILD_MIN_ENTRIES", 1)
    shape = (500, 600)  # fan_in < fan_out: the transposed branch
    child = sample_weights(spec, *shape, np.random.default_rng(3), np.dtype("float64"), act)
    assert len(forks) == 1
    monkeypatch.setattr(native, "CHILD_MIN_ENTRIES", 1 << 62)
    here = sample_weights(spec, *shape, np.random.default_rng(3), np.dtype("float64"), act)
    assert len(forks) == 1
    np.testing.assert_array_equal(child, here)
    assert child.base is None  # ordinary memory, not the shared map


@pytest.mark.parametrize("error, expected", [(MemoryError, MemoryError), (ValueError, RuntimeError)])
def test_an_error_in_the_qr_child_reaches_the_caller(error: type, expected: type,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from actstat import native

    if not native.forks_here():
        pytest.skip("no child process here")

    def failing(a: np.ndarray) -> None:
        raise error("in the child")

    monkeypatch.setattr(np.linalg, "qr", failing)  # (the child inherits it)
    monkeypatch.setattr(native, "CHILD_MIN_ENTRIES", 1)
    with pytest.raises(expected, match="QR of a 30 x 20 matrix"):
        native.qr_q_diag(np.ones((30, 20)))
