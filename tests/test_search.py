"""actstat search: ranges and their sampling, coarse-to-fine stages, early stops, ranking, output."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace

import numpy as np
import pytest

from actstat.errors import ConfigError
from actstat.search import Dim, apply, fmt_value, narrow, parse_dim, ranked_lines, run_search
from actstat.training import TrainConfig, train

BASE = TrainConfig(widths=(8, 8), data="blobs", examples=200, steps=12, optimizer="sgd", eval_size=200)


def test_parse_ranges_and_lists() -> None:
    assert parse_dim("lr", "1e-6:1e-2") == Dim("lr", "log", 1e-6, 1e-2)
    assert parse_dim("weight_decay", "1e-8:1e-4").kind == "log"
    assert parse_dim("dropout", "0:0.5") == Dim("dropout", "linear", 0.0, 0.5)
    assert parse_dim("dropout", "log:0.01:0.5").kind == "log"
    assert parse_dim("lr", "lin:0.001:0.1").kind == "linear"
    assert parse_dim("batch_size", "16:128") == Dim("batch_size", "int", 16, 128)
    assert parse_dim("optimizer", "sgd,momentum:0.9,adam") == Dim("optimizer", "choice",
                                                                     values=("sgd", "momentum:0.9", "adam"))
    assert parse_dim("dropout", "0,0.25,0.5").values == (0.0, 0.25, 0.5)
    assert parse_dim("lr", "0.01") is None and parse_dim("optimizer", "adam") is None  # one value: not searched
    for name, text, msg in [("lr", "1e-2:1e-6", "LO must be below HI"), ("lr", "0:1", "above 0"),
                            ("dropout", "0:1.5", "outside"), ("lr", "a:b", "not a number"),
                            ("lr", "1:2:3", "LO:HI"), ("batch_size", "1.5:8", "whole"),
                            ("lr", "nan:1", "finite"), ("seed", "1:2", "cannot be searched")]:
        with pytest.raises(ConfigError, match=msg):
            parse_dim(name, text)


def test_log_uniform_draws_are_uniform_in_the_exponent() -> None:
    rng = np.random.default_rng(1)
    d = Dim("lr", "log", 1e-6, 1e-2)
    e = np.log10([d.sample(rng) for _ in range(4000)])
    assert e.min() >= -6 and e.max() <= -2
    # uniform on [-6, -2]: mean -4, variance 16/12, each quarter a quarter of the draws
    assert abs(e.mean() + 4) < 0.05 and abs(e.var() - 16 / 12) < 0.06
    counts = np.histogram(e, bins=4, range=(-6, -2))[0] / e.size
    assert np.all(np.abs(counts - 0.25) < 0.03)
    ints = [Dim("batch_size", "int", 16, 20).sample(rng) for _ in range(500)]
    assert set(ints) == {16, 17, 18, 19, 20}


def test_narrow_around_the_best_and_widen_at_an_edge() -> None:
    d = Dim("lr", "log", 1e-6, 1e-2)  # width 4 decades
    mid = narrow(d, [1e-4, 1e-3, 3e-4])
    assert math.isclose(math.log10(mid.lo), -4 - 0.4) and math.isclose(math.log10(mid.hi), -3 + 0.4)
    edge = narrow(d, [2e-6, 1e-4])  # the best in the lowest tenth: push that side out by half the width
    assert math.isclose(math.log10(edge.lo), -6 - 2) and math.isclose(math.log10(edge.hi), -4 + 0.4)
    top = narrow(Dim("dropout", "linear", 0.0, 0.9), [0.88, 0.5])  # pushed out, but dropout stays < 1
    assert top.hi == 0.99 and math.isclose(top.lo, 0.5 - 0.09)
    low = narrow(Dim("dropout", "linear", 0.0, 0.9), [0.01, 0.5])
    assert low.lo == 0.0  # (not below the option's own limit)
    assert narrow(Dim("optimizer", "choice", values=("sgd", "adam", "rmsprop")), ["rmsprop", "sgd"]).values \
        == ("sgd", "rmsprop")
    assert narrow(Dim("batch_size", "int", 16, 128), [40, 50]).lo == math.floor(40 - 11.2)


def test_search_stages_ranking_and_reproducibility() -> None:
    space = [parse_dim("lr", "1e-3:3"), parse_dim("weight_decay", "1e-8:1e-2")]
    streamed: list[int] = []
    one = run_search(BASE, space, trials=4, stages=2, jobs=1, on_trial=lambda r: streamed.append(r["trial"]))
    two = run_search(BASE, space, trials=4, stages=2, jobs=2)
    assert json.dumps(one) == json.dumps(two)  # same trials, same results, whatever --jobs
    assert streamed == list(range(1, 9))
    s1, s2 = one["stages"]
    assert (s1["steps"], s2["steps"]) == (12, 24)  # each stage trains longer
    for t in one["trials"]:
        space_t = s1["space"] if t["stage"] == 1 else s2["space"]
        for d in space_t:
            assert d["lo"] <= t["params"][d["name"]] <= d["hi"]
    # a trial is the train run of its parameters (independently re-run)
    t = one["trials"][5]
    doc = train(replace(BASE, steps=24, **t["params"]))
    assert t["val_acc"] == doc["final"]["val_acc"] and t["stopped_early"] == doc["stopped_early"]
    # ranked: finished runs by validation accuracy, exploded ones last
    by_id = {t["trial"]: t for t in one["trials"]}
    ranked = [by_id[r["trial"]] for r in one["ranking"]]
    keys = [(r["stopped_early"] is not None, -(r["val_acc"] or -1)) for r in ranked]
    assert keys == sorted(keys)
    assert one["best"] == ranked[0]


def test_a_sweep_computes_its_checkpoints_in_line(monkeypatch) -> None:
    """A sweep runs its tasks side by side, so its trials start no checkpoint process of their own (train
    alone does, for a run with many checkpoints): the same results either way, and across --jobs."""
    from actstat.training import offload

    monkeypatch.setattr(offload, "OFFLOAD_MIN_MACS", 1)
    started: list[int] = []
    real = offload.CheckpointProcess.__init__

    def spy(self, *a, **k):
        started.append(1)
        real(self, *a, **k)

    monkeypatch.setattr(offload.CheckpointProcess, "__init__", spy)
    cfg = replace(BASE, steps=30, every=1)
    space = [parse_dim("lr", "1e-3:3")]
    one = run_search(cfg, space, trials=2, jobs=1)
    assert started == []
    two = run_search(cfg, space, trials=2, jobs=2)
    assert json.dumps(one) == json.dumps(two)
    t = one["trials"][0]
    assert t["val_acc"] == train(replace(cfg, **t["params"]))["final"]["val_acc"] and started == [1]


def test_exploding_runs_stop_early_and_rank_last() -> None:
    space = [parse_dim("lr", "1e-2,1e4")]
    doc = run_search(BASE, space, trials=6, stages=1)
    exploded = [t for t in doc["trials"] if t["params"]["lr"] == 1e4]
    assert exploded and all(t["stopped_early"] is not None and t["steps"] == 12 for t in exploded)
    assert all(t["curve"]["step"][-1] < 12 for t in exploded)  # stopped before the budget
    ranks = {r["trial"]: r["rank"] for r in doc["ranking"]}
    assert min(ranks[t["trial"]] for t in exploded) > max(ranks[t["trial"]] for t in doc["trials"]
                                                           if t["stopped_early"] is None)


def test_ranked_lines_in_the_notes_style() -> None:
    assert fmt_value(0.0092) == "0.0092" and fmt_value(3.86e-07) == "3.86e-07" and fmt_value(64) == "64"
    space = [parse_dim("lr", "1e-3:1"), parse_dim("weight_decay", "1e-8:1e-4")]
    doc = run_search(BASE, space, trials=3)
    lines = ranked_lines(doc)
    pat = re.compile(r"^Best-(\d) \(val acc:(\d\.\d\d)\) \| lr:([0-9.e+-]+), weight decay:([0-9.e+-]+)$")
    by_id = {t["trial"]: t for t in doc["trials"]}
    for k, (line, r) in enumerate(zip(lines, doc["ranking"]), 1):
        m = pat.match(line)
        assert m, line
        t = by_id[r["trial"]]
        assert int(m[1]) == k and float(m[2]) == round(t["val_acc"], 2)
        assert math.isclose(float(m[3]), t["params"]["lr"], rel_tol=5e-3)
        assert math.isclose(float(m[4]), t["params"]["weight_decay"], rel_tol=5e-3)


def test_search_refuses_what_it_cannot_rank() -> None:
    lr = [parse_dim("lr", "1e-3:1")]
    with pytest.raises(ConfigError, match="nothing to search"):
        run_search(BASE, [])
    with pytest.raises(ConfigError, match="val-fraction"):
        run_search(replace(BASE, val_fraction=0.0), lr)
    with pytest.raises(ConfigError, match="--trials"):
        run_search(BASE, lr, trials=0)
    with pytest.raises(ConfigError, match="optimizer|optimiser"):
        run_search(BASE, [parse_dim("optimizer", "sgd,nosuch")])
    assert apply(BASE, {"width": 5, "layers": 3}).widths == (5, 5, 5)


def test_search_picture_panels_axes_and_best(tmp_path) -> None:
    from actstat.rendering.figures import save_figure
    from actstat.rendering.search_plots import search_figure

    space = [parse_dim("lr", "1e-3:1"), parse_dim("weight_decay", "1e-8:1e-4"), parse_dim("dropout", "0:0.3")]
    doc = run_search(BASE, space, trials=5)
    r = _cli("--lr", "1e-3:1", "--trials", "2", "--plot", str(tmp_path / "cli.png"))  # (the command draws it too)
    assert r.exit_code == 0 and (tmp_path / "cli.png").read_bytes()[:4] == b"\x89PNG"
    fig = search_figure(doc)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert len(panels) == 3 + 1  # one per pair of searched options, then the learning curves
    assert [(ax.get_xscale(), ax.get_yscale()) for ax in panels[:3]] == [("log", "log"), ("log", "linear"),
                                                                          ("log", "linear")]
    best = doc["best"]
    star = panels[0].collections[-1].get_offsets()  # the best trials, starred
    assert tuple(star[0]) == pytest.approx((best["params"]["lr"], best["params"]["weight_decay"]))
    curves = panels[3].get_lines()
    assert len(curves) == 5 and list(curves[0].get_ydata()) == pytest.approx(best["curve"]["val_acc"])
    save_figure(fig, tmp_path / "s.png")
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


SMALL = ["--data", "blobs", "--examples", "200", "--steps", "8", "--width", "8", "--layers", "2"]


def _cli(*args: str):
    from click.testing import CliRunner

    from actstat.cli import cli

    return CliRunner().invoke(cli, ["search", *SMALL, *args], catch_exceptions=False)


def test_search_command_formats_agree_with_the_core(tmp_path) -> None:
    import csv
    import io

    args = ["--lr", "1e-3:1", "--weight-decay", "1e-8:1e-4", "--optimizer", "sgd,momentum:0.9", "--trials", "3",
            "--stages", "2", "--jobs", "1"]
    doc = json.loads(_cli(*args, "--format", "json").stdout)
    core = run_search(replace(BASE, widths=(8, 8), steps=8, eval_size=1000, weight_decay=0.0),
                      [parse_dim("lr", "1e-3:1"), parse_dim("weight_decay", "1e-8:1e-4"),
                       parse_dim("optimizer", "sgd,momentum:0.9")], trials=3, stages=2)
    assert doc["trials"] == json.loads(json.dumps(core["trials"]))
    r = _cli(*args, "--top", "4")
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Stage 1: 3 trials x 8 steps") and lines[1].startswith("Stage 2: 3 trials x 16 steps")
    assert lines[3:] == ranked_lines(doc)[:4] and len(ranked_lines(doc)) == 6
    nd = [json.loads(x) for x in _cli(*args, "--format", "ndjson").stdout.splitlines()]
    assert nd[0]["type"] == "search" and nd[0]["searched"] == ["lr", "weight_decay", "optimizer"]
    assert nd[1:-1] == doc["trials"] and nd[-1]["type"] == "ranking" and nd[-1]["ranking"] == doc["ranking"]
    rows = list(csv.DictReader(io.StringIO(_cli(*args, "--format", "csv").stdout)))
    assert [int(x["trial"]) for x in rows] == list(range(1, 7))
    rank = {r_["trial"]: r_["rank"] for r_ in doc["ranking"]}
    for x, t in zip(rows, doc["trials"]):
        assert int(x["rank"]) == rank[t["trial"]] and float(x["lr"]) == t["params"]["lr"]
        assert x["optimizer"] == t["params"]["optimizer"] and float(x["val_acc"]) == t["val_acc"]


@pytest.mark.parametrize("args,msg", [
    (["--lr", "1:0.1"], "LO must be below HI"),
    (["--lr", "0.1"], "nothing to search"),
    (["--lr", "1e-3:1", "--top", "2", "--format", "json"], "--top"),
    (["--width", "4:16", "--widths", "8,8"], "--width or --widths"),
    (["--lr", "1e-3:1", "--jobs", "2", "--cluster", "tcp://127.0.0.1:9"], "not both"),
    (["--lr", "1e-3:1", "--cluster", "nowhere"], "tcp://HOST:PORT"),
    (["--lr", "1e-3:1", "--act", "tanh,nosuch"], "nosuch"),
    (["--lr", "1e-3:1", "--batch-size", "x"], "not a whole number"),
    (["--lr", "1e-3:1", "--plot", "s.txt"], ".png"),
])
def test_search_command_refusals_are_one_line_exit_2(args: list[str], msg: str) -> None:
    r = _cli(*args)
    assert r.exit_code == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and msg in r.stderr
