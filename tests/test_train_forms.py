"""`actstat report --train` and `actstat compare --train`: a training report directory whose report.json
is what `actstat train --format json` prints, pictures that are real image files, a compare table whose
rows are the single runs' results, --jobs that changes nothing, and the lectures' init ordering on digits
(the probe's step-0 verdict agrees with training)."""

from __future__ import annotations

import csv
import io
import json
import shlex
import struct
from pathlib import Path

from click.testing import CliRunner

from actstat.cli import cli

NET = ["--data", "spiral", "--layers", "2", "--width", "16", "--steps", "30", "--every", "10"]


def run(*args: str, code: int | tuple[int, ...] = 0):
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    codes = code if isinstance(code, tuple) else (code,)
    assert r.exit_code in codes, (args, r.exit_code, r.stderr)
    return r


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_report_train_writes_the_directory_and_the_train_json(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    r = run("report", "--train", *NET, "--optimizer", "momentum", "--lr", "0.1", "--out", str(out), "--dpi", "40")
    assert sorted(p.name for p in out.iterdir()) == ["hist.png", "plot.png", "report.json", "report.md"]
    for pic in ("hist.png", "plot.png"):
        w, h = png_size(out / pic)
        assert w > 100 and h > 100
    train = run("train", *NET, "--optimizer", "momentum", "--lr", "0.1", "--format", "json").stdout
    assert (out / "report.json").read_text() == train  # byte for byte what `actstat train` prints
    doc = json.loads(train)
    md = (out / "report.md").read_text()
    # the command report.md shows reproduces the run
    command = md.split("```\n", 2)[1].strip()
    assert command.startswith("actstat train ") and "--out" not in command and "--dpi" not in command
    again = run(*shlex.split(command)[1:], "--format", "json").stdout
    assert again == train
    assert f"## Per layer at the last checkpoint (step {doc['checkpoints'][-1]['step']})" in md
    assert md.count("\n| ") - 2 >= len(doc["checkpoints"])  # every checkpoint has a row
    assert "wrote" in r.stderr


def test_report_train_bad_input_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    r = run("report", "--train", *NET, "--optimizer", "adamm", "--out", str(out), code=2)
    assert "adam" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()
    out.mkdir()
    (out / "x").write_text("keep")
    run("report", "--train", *NET, "--out", str(out), code=2)
    assert [p.name for p in out.iterdir()] == ["x"]


def test_report_without_train_is_the_probe_report(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    run("report", "--layers", "3", "--width", "16", "--batch", "32", "--out", str(out))
    doc = json.loads((out / "report.json").read_text())
    assert "layers" in doc and "checkpoints" not in doc


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_compare_train_rows_are_the_single_runs(tmp_path: Path) -> None:
    args = ["compare", "--train", *NET, "--optimizer", "sgd,adam", "--lr", "0.1,0.01"]
    rows = _rows(run(*args, "--format", "csv", "--jobs", "1").stdout)
    assert [r["config"] for r in rows] == ["sgd lr=0.1", "sgd lr=0.01", "adam lr=0.1", "adam lr=0.01"]
    for r in rows:
        opt, lr = r["optimizer"].split(":")[0], r["lr"]
        single = json.loads(run("train", *NET, "--optimizer", opt, "--lr", lr, "--format", "json").stdout)
        assert float(r["final_loss"]) == single["final"]["loss"]
        assert float(r["initial_loss"]) == single["checkpoints"][0]["loss"]
        assert float(r["final_train_acc"]) == single["final"]["train_acc"]
        losses = [c["loss"] for c in single["checkpoints"]]
        assert float(r["min_loss"]) == min(losses)
        assert r["warnings"] == ";".join(dict.fromkeys(w["kind"] for w in single["warnings"]))
    # the same document whatever the number of workers
    one = run(*args, "--format", "json", "--jobs", "1").stdout
    assert run(*args, "--format", "json", "--jobs", "2").stdout == one
    doc = json.loads(one)
    assert [len(c["loss"]) for c in doc["curves"]] == [len(c["steps"]) for c in doc["curves"]]


def test_compare_train_table_plot_and_batchnorm_both(tmp_path: Path) -> None:
    pic = tmp_path / "loss.png"
    r = run("compare", "--train", *NET, "--batchnorm-both", "--plot", str(pic), "--dpi", "40")
    assert png_size(pic)[0] > 100
    lines = r.stdout.splitlines()
    assert lines[0].startswith("actstat compare --train: 2 runs on spiral")
    body = [ln.split()[0] for ln in lines[2:4]]
    assert body == ["no-bn", "bn"]


def test_compare_train_usage_errors(tmp_path: Path) -> None:
    r = run("compare", "--train", *NET, "--dpi", "50", code=2)
    assert "--dpi needs --plot" in r.stderr
    r = run("compare", "--train", *NET, "--optimizer", "sgd,nope", code=2)
    assert "Traceback" not in r.stderr
    r = run("compare", "--train", *NET, "--plot", str(tmp_path / "x.gif"), code=2)
    assert not (tmp_path / "x.gif").exists()


def test_init_ordering_on_digits_matches_the_probe() -> None:
    """The notes: ReLU 5 x 100, std 0.01 learns least, He most in a fixed number of steps; the probe
    says vanishing for std 0.01 and nothing for He at step 0."""
    from actstat.compare_train import expand, run_compare_train
    from actstat.probe import ProbeConfig, run_probe
    from actstat.training import TrainConfig

    base = TrainConfig(widths=(100,) * 5, data="digits", steps=100, every=100, act="relu", optimizer="sgd", lr=0.01)
    doc = run_compare_train(expand(base, {"init": ["normal:0.01", "xavier", "he"]}))
    loss = {r["init"]: r["final_loss"] for r in doc["configs"]}
    acc = {r["init"]: r["final_train_acc"] for r in doc["configs"]}
    assert loss["normal:0.01"] > loss["xavier"] > loss["he"]
    assert acc["normal:0.01"] < acc["xavier"] < acc["he"]
    kinds = {init: {w["kind"] for w in run_probe(ProbeConfig(widths=(100,) * 5, batch=500, act="relu", init=init))
                    .to_dict()["warnings"]} for init in ("normal:0.01", "he")}
    assert "vanishing" in kinds["normal:0.01"] and "vanishing" not in kinds["he"]


def test_gallery_training_cases_parse_and_one_runs(tmp_path: Path) -> None:
    from actstat.cli.train_forms import compare_train_command
    from actstat.gallery import TRAIN_CASES

    for case in TRAIN_CASES:  # every case's arguments are accepted by its command
        if case.command == "train":
            cli.commands["train"].make_context("train", list(case.argv))
        else:
            assert case.argv[0] == "--train"
            compare_train_command().make_context("compare", list(case.argv[1:]))
    out = tmp_path / "g"
    run("gallery", str(out), "--only", "babysit-lr-high", "--dpi", "30")
    case = out / "babysit-lr-high"
    assert sorted(p.name for p in case.iterdir()) == ["hist.png", "plot.png", "report.json", "report.md"]
    doc = json.loads((case / "report.json").read_text())
    assert doc["stopped_early"] is not None and "loss_exploded" in {w["kind"] for w in doc["warnings"]}
    index = (out / "README.md").read_text()
    assert "## Training: the lectures' experiments" in index and "babysit-lr-high/plot.png" in index
