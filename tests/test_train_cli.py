"""actstat train on the command line: every output format parsed and checked against the JSON, the
NDJSON stream, bad input (exit 2, one line, nothing written), --fail-on, Ctrl-C."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from actstat.cli import cli

BASE = ["train", "--data", "blobs", "--examples", "300", "--preprocess", "standardize", "--layers", "2",
        "--width", "16", "--steps", "20", "--every", "10", "--optimizer", "momentum", "--lr", "0.05"]


def run(*args: str, code: int = 0):
    r = CliRunner().invoke(cli, [*BASE, *args], catch_exceptions=False)
    assert r.exit_code == code, r.stderr
    return r


def test_json_and_same_bytes() -> None:
    a = run("--format", "json")
    doc = json.loads(a.stdout)
    assert [c["step"] for c in doc["checkpoints"]] == [0, 10, 20]
    assert doc["config"]["optimizer"] == "momentum:0.9" and doc["config"]["widths"] == [16, 16]
    assert doc["final"]["train_acc"] > 0.8
    assert a.stderr == ""  # no progress bar off a terminal
    assert run("--format", "json").stdout == a.stdout
    t = run()
    assert run().stdout == t.stdout
    lines = t.stdout.splitlines()
    assert lines[0].startswith("actstat train: blobs (240 training / 60 validation examples")
    steps = [ln.split()[0] for ln in lines if ln[:5].strip().isdigit()]
    assert steps[:3] == ["0", "10", "20"]
    assert "Final (step 20" in t.stdout


def test_ndjson_csv_tsv_markdown_agree_with_json() -> None:
    doc = json.loads(run("--format", "json").stdout)
    nd = [json.loads(x) for x in run("--format", "ndjson").stdout.splitlines()]
    assert nd[0]["type"] == "train" and nd[0]["config"] == doc["config"] and nd[0]["hist_edges"] == doc["hist_edges"]
    cps = [x for x in nd if x["type"] == "checkpoint"]
    assert [{k: v for k, v in c.items() if k != "type"} for c in cps] == doc["checkpoints"]
    assert nd[-1] == {"type": "final", "final": doc["final"], "stopped_early": None}
    assert [x for x in nd if x["type"] == "warning"] == [{"type": "warning", **w} for w in doc["warnings"]]
    bare = run("--format", "ndjson", "--no-headers").stdout.splitlines()
    assert json.loads(bare[0])["type"] == "checkpoint" and len(bare) == len(nd) - 1
    for fmt, dialect in (("csv", "excel"), ("tsv", "excel-tab")):
        rows = list(csv.DictReader(io.StringIO(run("--format", fmt).stdout), dialect=dialect))
        assert len(rows) == 3 * 2
        for r in rows:
            c = doc["checkpoints"][int(r["step"]) // 10]
            L = c["layers"][int(r["layer"]) - 1]
            assert float(r["loss"]) == c["loss"] and float(r["std"]) == L["std"]
            assert (r["update_ratio"] == "") == (L["update_ratio"] is None)
    md = run("--format", "markdown").stdout
    assert md.startswith("**actstat train**: blobs") and "| step | epoch | loss |" in md and "**Warnings**" in md


@pytest.mark.parametrize("args,match", [
    (["--optimizer", "adamm"], "Did you mean 'adam'"),
    (["--optimizer", "momentum:2"], "in [0, 1)"),
    (["--lr", "0"], "'--lr'"),
    (["--lr", "-1"], "'--lr'"),
    (["--batch-size", "1000"], "more than the 240 training examples"),
    (["--epochs", "2"], "not both"),
    (["--data", "spirall"], "Did you mean 'spiral'"),
    (["--threshold", "nope=1"], "KIND=VALUE"),
    (["--fail-on", "nope"], "unknown warning kind"),
])
def test_bad_options(args, match, tmp_path) -> None:
    pic = tmp_path / "p.png"
    r = CliRunner().invoke(cli, [*BASE, *args, "--plot", str(pic)])
    assert r.exit_code == 2, r.stderr
    assert match in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert r.stdout == "" and not pic.exists()


@pytest.mark.parametrize("text,match", [
    ("a,b,label\n1,2,0\n3,4,7\n5,6,1\n", "out of range for 3 classes"),
    ("a,b,label\n1,2,0\n3,4,0.5\n5,6,1\n", "not an integer class"),
    ("a,b,c\n1,2,0\n3,4,1\n5,6,1\n", "no label column 'label'"),
    ("a,b,label\n1,nan,0\n3,4,1\n5,6,1\n", "not a finite number"),
])
def test_bad_data_files(text, match, tmp_path) -> None:
    p = tmp_path / "d.csv"
    p.write_text(text)
    r = CliRunner().invoke(cli, ["train", "--data", str(p), "--classes", "3", "--steps", "2", "--format", "json"])
    assert r.exit_code == 2 and match in r.stderr and r.stdout == "", r.stderr


def test_csv_data_with_label_column(tmp_path) -> None:
    p = tmp_path / "d.tsv"
    p.write_text("x1\ty\tx2\n" + "".join(f"{i % 2 * 3 + 0.1 * i}\t{i % 2}\t{-i % 2}\n" for i in range(40)))
    r = CliRunner().invoke(cli, ["train", "--data", str(p), "--label-column", "y", "--layers", "1", "--width", "8",
                                 "--steps", "30", "--optimizer", "adam", "--lr", "0.05", "--format", "json"])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["data"] == {"name": "d.tsv", "train": 32, "val": 8, "features": 2, "classes": 2}
    assert doc["final"]["val_acc"] == 1.0


def test_fail_on_and_thresholds() -> None:
    r = run("--fail-on", "update_ratio", "--format", "json", code=3)
    assert any(w["kind"] == "update_ratio" for w in json.loads(r.stdout)["warnings"])
    doc = json.loads(run("--threshold", "update_ratio_high=1", "--fail-on", "update_ratio", "--format",
                         "json").stdout)
    assert doc["thresholds"]["update_ratio_high"] == 1.0
    assert not any(w["kind"] == "update_ratio" for w in doc["warnings"])


def test_lr_too_high_stops_early_in_the_table() -> None:
    r = run("--lr", "1e6", "--optimizer", "sgd", "--steps", "60", "--every", "1")
    assert "Stopped early at step" in r.stdout and "loss_exploded" in r.stdout


def test_list_documents_the_optimisers() -> None:
    r = CliRunner().invoke(cli, ["list", "--format", "json"])
    doc = json.loads(r.stdout)
    from actstat.training.optimizers import OPTIMIZERS

    assert {o["name"]: o["formula"] for o in doc["optimizers"]} == {k: v.formula for k, v in OPTIMIZERS.items()}
    table = CliRunner().invoke(cli, ["list"]).stdout
    assert "Optimisers (--optimizer" in table and "v <- alpha v - eta dW; W <- W + v" in table


def test_ctrl_c_keeps_the_ndjson_lines_and_writes_no_picture(tmp_path) -> None:
    """The stream arrives while training runs; Ctrl-C then exits 130, every line written is whole JSON,
    and the picture that would come at the end is not there."""
    pic = tmp_path / "p.png"
    cmd = [sys.executable, "-m", "actstat", "train", "--data", "blobs", "--steps", "1000000", "--every", "1",
           "--format", "ndjson", "--plot", str(pic)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ | {"PYTHONUNBUFFERED": "1"})
    try:
        first = [proc.stdout.readline() for _ in range(3)]  # type: ignore[union-attr]
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    lines = [json.loads(x) for x in first + rest.splitlines() if x.strip()]
    assert lines[0]["type"] == "train" and lines[1]["step"] == 0 and len(lines) >= 3
    assert all(x["type"] in ("train", "checkpoint") for x in lines)
    assert "Interrupted" in err and len(err.strip().splitlines()) == 1 and not pic.exists()


def test_sigterm_mid_stream_is_terminated_143_and_the_lines_stay_whole() -> None:
    cmd = [sys.executable, "-m", "actstat", "train", "--data", "blobs", "--steps", "1000000", "--every", "1",
           "--format", "ndjson"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ | {"PYTHONUNBUFFERED": "1"})
    try:
        first = [proc.stdout.readline() for _ in range(3)]  # type: ignore[union-attr]
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert all(json.loads(x) for x in first + rest.splitlines() if x.strip())
    assert err.startswith("Terminated after the checkpoint at step ") and len(err.strip().splitlines()) == 1


def test_mnist_directory(tmp_path) -> None:
    """mnist:DIR on tiny IDX files written here (gzipped training files, plain t10k files)."""
    import gzip
    import struct

    import numpy as np

    def idx(path, a, gz):
        raw = bytes([0, 0, 8, a.ndim]) + b"".join(struct.pack(">I", d) for d in a.shape) + a.astype(np.uint8).tobytes()
        path.write_bytes(gzip.compress(raw) if gz else raw)

    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    imgs = (rng.random((60, 4, 4)) * 60 + 60 * y[:, None, None]).astype(np.uint8)  # the class sets the brightness
    idx(tmp_path / "train-images-idx3-ubyte.gz", imgs[:40], True)
    idx(tmp_path / "train-labels-idx1-ubyte.gz", y[:40], True)
    idx(tmp_path / "t10k-images-idx3-ubyte", imgs[40:], False)
    idx(tmp_path / "t10k-labels-idx1-ubyte", y[40:], False)
    r = CliRunner().invoke(cli, ["train", "--data", f"mnist:{tmp_path}", "--layers", "1", "--width", "8",
                                 "--batch-size", "20", "--steps", "60", "--optimizer", "adam", "--lr", "0.05",
                                 "--format", "json"])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["data"] == {"name": "mnist", "train": 40, "val": 20, "features": 16, "classes": 3}
    assert doc["final"]["val_acc"] > 0.9


def test_the_progress_bar_shows_step_and_loss_on_a_terminal_only(tmp_path) -> None:
    """stderr a terminal (a pty): the bar, with the step count and the loss; the JSON on stdout untouched."""
    import pty

    master, slave = pty.openpty()
    out_path = tmp_path / "out.json"
    cmd = [sys.executable, "-m", "actstat", "train", "--data", "blobs", "--steps", "4000", "--every", "2000",
           "--format", "json"]
    with open(out_path, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=slave, env=os.environ | {"COLUMNS": "100"})
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # (EIO: the child closed the terminal)
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.wait(timeout=120) == 0
    text = seen.decode("utf-8", "replace")
    assert "training" in text and "loss " in text and "/4000" in text, text[-500:]
    doc = json.loads(out_path.read_text())
    assert doc["checkpoints"][-1]["step"] == 4000


def test_the_commands_evaluation_sample_is_the_cores_default() -> None:
    """--eval-size's default on train, search and trainability is TrainConfig's (the CLI cannot import the
    core to read it: --help stays free of numpy)."""
    from actstat.training import TrainConfig

    for command in ("train", "search", "trainability"):
        params = {p.name: p for p in cli.commands[command].params}
        assert params["eval_size"].default == TrainConfig().eval_size == 200, command
