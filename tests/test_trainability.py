"""actstat trainability: grids, the 6 xi_c prediction, each cell's training run, the agreement count."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace

import numpy as np
import pytest

from actstat.activations import get_activation
from actstat.errors import ConfigError
from actstat.theory import chi1, critical_sigma_w, fixed_point
from actstat.trainability import parse_grid, run_trainability, theory_column
from actstat.training import TrainConfig, train

BASE = TrainConfig(act="tanh", bias_std=math.sqrt(0.05), data="blobs", examples=200, steps=15, every=15,
                   optimizer="sgd", lr=0.1, eval_size=200)


def test_grids() -> None:
    assert parse_grid("1.0:4.0:13", "sigma-w", False, 0.0) == pytest.approx(list(np.linspace(1, 4, 13)))
    assert parse_grid("10:100:10", "layers", True, 1) == list(range(10, 101, 10))
    assert parse_grid("3,1,2", "layers", True, 1) == [1, 2, 3]
    assert parse_grid("2.5", "sigma-w", False, 0.0) == [2.5]
    for text, msg in [("1:2", "LO:HI:N"), ("2:1:3", "below"), ("1:2:0", "whole number"), ("1:2:x", "not a number"),
                      ("-1:2:3", ">= 0"), ("inf", "finite")]:
        with pytest.raises(ConfigError, match=msg):
            parse_grid(text, "sigma-w", False, 0.0)
    with pytest.raises(ConfigError, match="at most 1000"):
        parse_grid("10:2000:3", "layers", True, 1)


def test_theory_column_in_the_ordered_phase_is_minus_one_over_log_chi1() -> None:
    act = get_activation("tanh")
    sb = math.sqrt(0.05)
    crit = critical_sigma_w(act, sb)
    assert crit is not None and 1.0 < crit < 2.0
    sw = 0.8 * crit
    col = theory_column(act, sw, sb)
    c = chi1(act, sw, fixed_point(act, sw, sb))
    assert col["phase"] == "ordered" and c < 1
    # ordered: c* = 1 and chi_c = chi_1, so xi_c = -1 / ln chi_1 and the limit is six of them
    assert col["xi_c"] == pytest.approx(-1 / math.log(c), rel=1e-9)
    assert col["max_depth"] == pytest.approx(6 * col["xi_c"])
    chaotic = theory_column(act, 3.0, sb)
    assert chaotic["phase"] == "chaotic" and chaotic["max_depth"] > 0


def test_each_cell_is_its_training_run_and_the_summary_counts_agreement() -> None:
    sws, depths = [1.0, 3.0], [2, 30]
    doc = run_trainability(BASE, sws, depths, width=8, jobs=1)
    two = run_trainability(BASE, sws, depths, width=8, jobs=2)
    assert json.dumps(doc) == json.dumps(two)
    assert [(c["sigma_w"], c["layers"]) for c in doc["cells"]] == [(s, L) for s in sws for L in depths]
    cell = doc["cells"][3]  # sigma_w 3, 30 layers: W ~ N(0, 9 / fan_in), b ~ N(0, 0.05)
    ref = train(replace(BASE, widths=(8,) * 30, init="lecun_normal", gain=3.0))
    assert cell["train_acc"] == ref["final"]["train_acc"] and cell["loss"] == ref["final"]["loss"]
    limits = {t["sigma_w"]: t["max_depth"] for t in doc["theory"]}
    best = max(c["train_acc"] for c in doc["cells"])
    assert doc["threshold"] == pytest.approx(max(doc["chance"] + 0.5 * (best - doc["chance"]), doc["chance"] + 0.05))
    for c in doc["cells"]:
        assert c["predicted"] == (limits[c["sigma_w"]] is None or c["layers"] < limits[c["sigma_w"]])
        assert c["trained"] == (c["train_acc"] >= doc["threshold"] and c["stopped_early"] is None)
    agree = sum(c["trained"] == c["predicted"] for c in doc["cells"])
    assert doc["summary"]["agree"] == agree and doc["summary"]["text"].startswith(f"{agree} of 4 cells agree")
    assert doc["critical_sigma_w"] == critical_sigma_w(get_activation("tanh"), math.sqrt(0.05))


def test_trainability_refusals() -> None:
    with pytest.raises(ConfigError, match="maxout"):
        run_trainability(replace(BASE, act="maxout:2"), [1.0], [2], width=8)
    with pytest.raises(ConfigError, match="threshold"):
        run_trainability(BASE, [1.0], [2], width=8, threshold=1.5)


def test_boundary_and_picture(tmp_path) -> None:
    from actstat.rendering.figures import save_figure
    from actstat.rendering.search_plots import trainability_figure

    doc = run_trainability(BASE, [1.0, 2.0], [2, 5], width=8)
    crit = doc["critical_sigma_w"]
    pts = {b["sigma_w"]: b["max_depth"] for b in doc["boundary"]}
    assert list(pts) == sorted(pts) and pts[crit] is None  # diverges at the critical sigma_w
    for t in doc["theory"]:
        assert pts[t["sigma_w"]] == t["max_depth"]
    below = [sw for sw in pts if sw < crit]
    assert all(pts[a] < pts[b] for a, b in itertools.pairwise(below))  # grows towards criticality
    fig = trainability_figure(doc)
    ax = fig.axes[0]
    assert any(abs(line.get_xdata()[0] - crit) < 1e-12 for line in ax.get_lines() if len(line.get_xdata()) == 2)
    mesh = ax.collections[0].get_array()
    assert sorted(np.asarray(mesh).ravel().tolist()) == sorted(c["train_acc"] for c in doc["cells"])
    save_figure(fig, tmp_path / "t.svg")
    assert "<svg" in (tmp_path / "t.svg").read_text()


def _cli(*args: str):
    from click.testing import CliRunner

    from actstat.cli import cli

    return CliRunner().invoke(cli, ["trainability", "--data", "blobs", "--examples", "200", "--steps", "15",
                                    "--optimizer", "sgd", "--lr", "0.1", "--width", "8", *args],
                              catch_exceptions=False)


def test_trainability_command_table_json_csv(tmp_path) -> None:
    import csv
    import io

    grid = ["--sigma-w", "1.0:3.0:2", "--layers", "2,30"]
    doc = json.loads(_cli(*grid, "--format", "json", "--jobs", "1").stdout)
    core = run_trainability(replace(BASE, eval_size=1000, every=15, batch_size=64), [1.0, 3.0], [2, 30], width=8)
    assert doc["cells"] == json.loads(json.dumps(core["cells"])) and doc["summary"] == core["summary"]
    r = _cli(*grid, "--plot", str(tmp_path / "m.png"))
    assert r.exit_code == 0 and (tmp_path / "m.png").stat().st_size > 0
    lines = r.stdout.splitlines()
    assert lines[-1] == doc["summary"]["text"]
    cell = {(c["sigma_w"], c["layers"]): c for c in doc["cells"]}
    for line, L in zip(lines[2:4], [30, 2]):  # deepest first
        parts = line.split()
        assert int(parts[0]) == L
        for tok, sw in zip(parts[1:], [1.0, 3.0]):
            c = cell[(sw, L)]
            assert float(tok.rstrip("+!")) == round(c["train_acc"], 2)
            assert ("+" in tok) == c["predicted"] and ("!" in tok) == (not c["agree"])
    limits = lines[4].split()[2:]
    assert [float(x) for x in limits] == [float(f"{t['max_depth']:.3g}") for t in doc["theory"]]
    rows = list(csv.DictReader(io.StringIO(_cli(*grid, "--format", "csv").stdout)))
    assert [(float(x["sigma_w"]), int(x["layers"])) for x in rows] == [(1.0, 2), (1.0, 30), (3.0, 2), (3.0, 30)]
    assert [x["agree"] == "true" for x in rows] == [c["agree"] for c in doc["cells"]]
    nd = [json.loads(x) for x in _cli(*grid, "--format", "ndjson").stdout.splitlines()]
    assert nd[0]["type"] == "trainability" and nd[0]["boundary"] == doc["boundary"]
    assert [x["type"] for x in nd[1:]] == ["cell"] * 4 + ["summary"]


@pytest.mark.parametrize("args,msg", [
    (["--sigma-w", "1:2"], "LO:HI:N"),
    (["--layers", "0:5:3"], ">= 1"),
    (["--act", "maxout:2", "--layers", "2"], "maxout"),
    (["--epochs", "1", "--steps", "5", "--layers", "2"], "not both"),
    (["--layers", "2", "--plot", "m.jpg"], ".png"),
])
def test_trainability_command_refusals(args: list[str], msg: str) -> None:
    r = _cli(*args)
    assert r.exit_code == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and msg in r.stderr
