"""Training pictures: real image files of the requested type, one heat map per layer holding
log(1 + count) of exactly the checkpoints' histograms, the update ratio drawn as its log10 beside the
1e-3 line, inf/NaN losses drawn around rather than crashed on; reports, compare --train's picture."""

from __future__ import annotations

import math
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from actstat.rendering.figures import save_figure
from actstat.rendering.train_plots import (
    compare_train_figure,
    log_spaced,
    train_hist_figure,
    train_plot_figure,
)


def synthetic_doc(layers: int = 3, steps: tuple[int, ...] = (0, 1, 2, 4, 8, 16, 32, 50), bins: int = 12,
                  nan_from: int | None = None, seed: int = 0) -> dict:
    """A document of the agreed train schema with made-up but plausible numbers."""
    rng = np.random.default_rng(seed)
    edges = [list(np.linspace(-1.0 - i, 1.0 + i, bins + 1)) for i in range(layers)]
    cps = []
    for s in steps:
        loss = None if nan_from is not None and s >= nan_from else math.log(10) * math.exp(-s / 30)
        Ls = [{"layer": i + 1, "mean": 0.0, "std": 0.5 + 0.01 * s * i, "saturated": 0.0, "zero": 0.0, "dead": 0.0,
               "grad_rms": 1e-3, "weight_rms": 0.1, "update_ratio": None if s == 0 else 10.0 ** (-2 - i - s / 50),
               "hist": rng.integers(0, 50, bins).tolist()} for i in range(layers)]
        cps.append({"step": s, "epoch": s / 10, "loss": loss, "train_acc": min(1.0, 0.1 + s / 50),
                    "val_acc": min(1.0, 0.1 + s / 60), "layers": Ls})
    return {"actstat_version": "0", "kind": "train",
            "config": {"widths": [8] * layers, "act": "tanh", "init": "xavier", "optimizer": "sgd", "lr": 0.1,
                       "batch_size": 16, "seed": 0, "weight_decay": 0.0},
            "data": {"name": "spiral", "train": 240, "val": 60, "features": 2, "classes": 3},
            "checkpoints": cps, "hist_edges": edges, "warnings": [],
            "stopped_early": None if nan_from is None else {"step": nan_from, "reason": "loss is NaN"},
            "final": {k: cps[-1][k] for k in ("loss", "train_acc", "val_acc")}}


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("draw", [train_plot_figure, train_hist_figure])
def test_picture_files_of_each_type(draw, tmp_path: Path) -> None:
    doc = synthetic_doc()
    save_figure(draw(doc), tmp_path / "a.png", dpi=50)
    w, h = png_size(tmp_path / "a.png")
    assert w > 200 and h > 150
    kind = "svg" if draw is train_plot_figure else "pdf"  # (the type comes from save_figure, whatever the figure)
    save_figure(draw(doc), tmp_path / f"a.{kind}")
    if kind == "svg":
        assert ET.parse(tmp_path / "a.svg").getroot().tag.endswith("svg")
    else:
        assert (tmp_path / "a.pdf").read_bytes()[:5] == b"%PDF-"


def test_heat_map_per_layer_holds_the_histograms() -> None:
    doc = synthetic_doc(layers=5)
    fig = train_hist_figure(doc)
    meshes = [c for ax in fig.axes if ax.get_title().startswith("layer") for c in ax.collections
              if c.__class__.__name__ == "QuadMesh"]
    assert len(meshes) == 5
    for i, mesh in enumerate(meshes):
        counts = np.array([cp["layers"][i]["hist"] for cp in doc["checkpoints"]], dtype=float)
        # rows: the layer's bins (value axis), columns: the checkpoints in order
        np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(counts.T.shape), np.log1p(counts.T))
        coords = mesh.get_coordinates()
        np.testing.assert_allclose(coords[:, 0, 1], doc["hist_edges"][i])  # y: the layer's fixed edges


def test_update_ratio_panel_is_log10_with_the_guide_line() -> None:
    doc = synthetic_doc(layers=2)
    fig = train_plot_figure(doc)
    ax = next(a for a in fig.axes if "update ratio" in a.get_title())
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    for i in (1, 2):
        _, y = lines[f"layer {i}"].get_data()
        want = [math.log10(cp["layers"][i - 1]["update_ratio"]) for cp in doc["checkpoints"][1:]]
        assert np.isnan(y[0])  # no update at step 0
        np.testing.assert_allclose(y[1:], want)
    guide = [ln for ln in ax.get_lines() if "1e-3" in ln.get_label()]
    assert len(guide) == 1 and set(guide[0].get_ydata()) == {-3.0}


def test_nan_loss_and_early_stop_are_drawn_not_crashed_on(tmp_path: Path) -> None:
    doc = synthetic_doc(nan_from=8)
    fig = train_plot_figure(doc)
    ax = fig.axes[0]
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "inf/NaN from step 8" in texts
    assert "stopped early at step 8" in fig._suptitle.get_text()
    save_figure(fig, tmp_path / "nan.png")
    assert png_size(tmp_path / "nan.png")[0] > 0


def test_log_spaced_checkpoints_get_a_symlog_axis() -> None:
    assert log_spaced(np.array([0, 1, 2, 4, 8, 16, 32, 50]))
    assert not log_spaced(np.array([0, 10, 20, 30, 40, 45]))
    assert train_plot_figure(synthetic_doc()).axes[0].get_xscale() == "symlog"
    assert train_plot_figure(synthetic_doc(steps=(0, 10, 20, 30, 40))).axes[0].get_xscale() == "linear"


def test_compare_figure_overlays_one_curve_per_run(tmp_path: Path) -> None:
    runs = [synthetic_doc(seed=s) for s in range(3)]
    doc = {"seed": 0, "data": runs[0]["data"], "curves": [
        {"config": f"run {k}", "steps": [cp["step"] for cp in d["checkpoints"]],
         "loss": [cp["loss"] for cp in d["checkpoints"]], "train_acc": [cp["train_acc"] for cp in d["checkpoints"]],
         "val_acc": [cp["val_acc"] for cp in d["checkpoints"]], "stopped_early": None} for k, d in enumerate(runs)]}
    fig = compare_train_figure(doc)
    labels = [ln.get_label() for ln in fig.axes[0].get_lines()]
    assert [lab for lab in labels if lab.startswith("run")] == ["run 0", "run 1", "run 2"]
    save_figure(fig, tmp_path / "c.png")
    assert png_size(tmp_path / "c.png")[0] > 0


def test_train_command_writes_both_pictures_or_nothing(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from actstat.cli import cli

    args = ["train", "--data", "spiral", "--layers", "2", "--width", "8", "--steps", "12", "--format", "json"]
    r = CliRunner().invoke(cli, [*args, "--plot", str(tmp_path / "p.svg"), "--hist", str(tmp_path / "h.png"),
                                 "--dpi", "40"], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    assert ET.parse(tmp_path / "p.svg").getroot().tag.endswith("svg")
    assert png_size(tmp_path / "h.png")[0] > 100
    r = CliRunner().invoke(cli, [*args, "--plot", str(tmp_path / "q.png"), "--hist", str(tmp_path / "h.gif")])
    assert r.exit_code == 2 and "Traceback" not in r.stderr
    assert not (tmp_path / "q.png").exists() and not (tmp_path / "h.gif").exists()
