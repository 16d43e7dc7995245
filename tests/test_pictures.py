"""Pictures: real image files of the requested type and size, one panel per layer, overflow drawn
rather than crashed on, nothing written on failure, reports and the gallery, matplotlib only when asked."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from actstat.cli import cli
from actstat.probe import ProbeConfig, run_probe

SMALL = ["--layers", "4", "--width", "16", "--batch", "64"]


def run(*args: str, code: int | tuple[int, ...] = 0):
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    codes = code if isinstance(code, tuple) else (code,)
    assert r.exit_code in codes, (args, r.exit_code, r.stderr)
    return r


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_picture_types(tmp_path: Path) -> None:
    run("probe", *SMALL, "--hist", str(tmp_path / "h.png"), "--plot", str(tmp_path / "p.svg"))
    assert png_size(tmp_path / "h.png")[0] > 0
    root = ET.parse(tmp_path / "p.svg").getroot()
    assert root.tag.endswith("svg")
    run("probe", *SMALL, "--hist", str(tmp_path / "h.pdf"))
    assert (tmp_path / "h.pdf").read_bytes()[:5] == b"%PDF-"


def test_dpi_scales_the_picture(tmp_path: Path) -> None:
    run("probe", *SMALL, "--plot", str(tmp_path / "a.png"), "--dpi", "50")
    run("probe", *SMALL, "--plot", str(tmp_path / "b.png"), "--dpi", "100")
    (wa, ha), (wb, hb) = png_size(tmp_path / "a.png"), png_size(tmp_path / "b.png")
    assert wb / wa == pytest.approx(2, rel=0.05) and hb / ha == pytest.approx(2, rel=0.05)
    # the plot is 2 panels of 5.2 x 4.2 inches (bbox "tight" trims the margins a little)
    assert 0.8 * 10.4 * 100 < wb <= 10.4 * 100 + 20


def _histogram_axes(doc: dict, gradients: bool = False) -> list:
    from actstat.rendering.plots import hist_figure

    fig, layout = hist_figure(doc, gradients)
    return layout, [ax for ax in fig.axes if ax.get_visible()]


@pytest.mark.parametrize("layers", [1, 5, 10, 30])
def test_one_histogram_panel_per_layer(layers: int) -> None:
    doc = run_probe(ProbeConfig(widths=(8,) * layers, batch=16, act="tanh")).to_dict()
    layout, axes = _histogram_axes(doc)
    assert layout == "grid" and len(axes) == layers + 1  # the input too
    assert [ax.get_title().splitlines()[0] for ax in axes] == ["input"] + [f"layer {i}" for i in range(1, layers + 1)]
    for ax, L in zip(axes[1:], doc["layers"]):
        assert len(ax.patches) == 30  # 30 bins
        assert [p.get_height() for p in ax.patches] == L["hist"]["counts"]
        assert ax.get_xlim() == (-1.0, 1.0)  # tanh's natural range


def test_gradient_panels_and_heat_map_beyond_30_layers() -> None:
    doc = run_probe(ProbeConfig(widths=(8,) * 6, batch=16, act="relu", grad=True)).to_dict()
    layout, axes = _histogram_axes(doc, gradients=True)
    assert len(axes) == 1 + 6 + 6
    assert sum(ax.get_title().startswith("dL/dh") for ax in axes) == 6
    doc = run_probe(ProbeConfig(widths=(8,) * 40, batch=16, act="tanh")).to_dict()
    layout, axes = _histogram_axes(doc)
    assert layout == "heatmap"
    assert "heat map" in axes[0].figure._suptitle.get_text()


def test_warned_panels_are_marked() -> None:
    doc = run_probe(ProbeConfig(widths=(50,) * 4, batch=100, act="tanh", init="normal:0.01")).to_dict()
    _, axes = _histogram_axes(doc)
    warned = {w["layer"] for w in doc["warnings"] if w["kind"] == "vanishing"}
    for i, ax in enumerate(axes):
        texts = " ".join(t.get_text() for t in ax.texts)
        assert ("vanishing" in texts) == (i in warned)


def test_overflowed_network_still_draws_and_says_so(tmp_path: Path) -> None:
    args = ["probe", "--act", "relu", "--init", "normal:10", "--layers", "400", "--width", "20", "--batch", "10"]
    run(*args, "--plot", str(tmp_path / "p.png"), "--hist", str(tmp_path / "h.png"), "--grad")
    assert png_size(tmp_path / "p.png")[0] > 0 and png_size(tmp_path / "h.png")[0] > 0
    from actstat.rendering.plots import plot_figure

    doc = json.loads(run(*args, "--format", "json").stdout)
    fig = plot_figure(doc)
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "overflow" in texts and "inf/NaN" in texts
    assert "exploding" in fig._suptitle.get_text()


@pytest.mark.parametrize(
    "bad",
    [["--init", "nope"], ["--dropout", "1.5"], ["--widths", "3,3", "--layers", "3"], ["--dpi", "5"]],
)
def test_failed_command_writes_no_picture(tmp_path: Path, bad: list[str]) -> None:
    r = run("probe", *SMALL, *bad, "--hist", str(tmp_path / "h.png"), "--plot", str(tmp_path / "p.png"), code=2)
    assert r.stderr.startswith("Error:")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_or_bad_picture_path_is_refused_before_computing(tmp_path: Path) -> None:
    r = run("probe", "--layers", "100000", "--width", "100000", "--hist", str(tmp_path / "no" / "h.png"), code=2)
    assert "does not exist" in r.stderr  # refused before the (huge) memory check, let alone a run
    r = run("probe", *SMALL, "--hist", str(tmp_path / "h.gif"), code=2)
    assert ".png, .svg, .pdf" in r.stderr
    assert "--dpi needs" in run("probe", *SMALL, "--dpi", "80", code=2).stderr
    assert list(tmp_path.iterdir()) == []


def test_report_directory(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    r = run("report", *SMALL, "--act", "tanh", "--init", "normal:0.01", "--grad", "--out", str(out), "--dpi", "40")
    assert "vanishing" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["hist.png", "plot.png", "report.json", "report.md"]
    doc = json.loads((out / "report.json").read_text())
    assert doc["config"]["act"] == "tanh" and "grad" in doc["layers"][0]
    md = (out / "report.md").read_text()
    for link in re.findall(r"\]\(([^)]+)\)", md):
        assert (out / link).is_file(), link
    assert "**fix:**" in md and "threshold 0.1" in md and "## Gradients per layer" in md
    cmd = re.search(r"```\n(actstat probe .*)\n```", md).group(1)
    again = json.loads(run(*cmd.split()[1:], "--format", "json").stdout)
    assert again["layers"] == doc["layers"]  # the command in the report reproduces it
    before = (out / "report.md").read_text()
    r = run("report", *SMALL, "--out", str(out), code=2)
    assert "not empty; use --force" in r.stderr and (out / "report.md").read_text() == before
    run("report", *SMALL, "--act", "relu", "--out", str(out), "--force", "--dpi", "40")
    assert json.loads((out / "report.json").read_text())["config"]["act"] == "relu"
    r = run("report", *SMALL, "--init", "nope", "--out", str(tmp_path / "new"), code=2)
    assert not (tmp_path / "new").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]  # no temporary leftovers


def test_gallery_reduced(tmp_path: Path) -> None:
    out = tmp_path / "g"
    run("gallery", str(out), "--only", "zero-init,dlfs-relu-he", "--dpi", "30")
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "dlfs-relu-he", "zero-init"]
    index = (out / "README.md").read_text()
    for link in re.findall(r'(?:src="|\]\()([^")]+)', index):
        assert (out / link).is_file(), link
    assert "`symmetry`" in index
    assert "unknown case" in run("gallery", str(tmp_path / "h"), "--only", "nope", code=2).stderr


def test_sample_reports_cover_every_case() -> None:
    """Every gallery case has its report in sample_reports/ (that the numbers are current is checked
    where the README's gallery command runs: tests/test_docs.py)."""
    from actstat.gallery import CASES

    root = Path(__file__).resolve().parent.parent / "sample_reports"
    index = (root / "README.md").read_text()
    for case in CASES:
        assert f"({case.name}/report.md)" in index
        for name in ("hist.png", "plot.png", "report.md", "report.json"):
            assert (root / case.name / name).is_file()


def test_no_matplotlib_without_pictures() -> None:
    code = ("import sys\nfrom click.testing import CliRunner\nfrom actstat.cli import cli\n"
            "r = CliRunner().invoke(cli, ['probe', '--layers', '2', '--width', '5', '--batch', '8', '--grad',"
            " '--format', 'json'])\nassert r.exit_code == 0\n"
            "r = CliRunner().invoke(cli, ['compare', '--act', 'tanh,relu', '--layers', '2', '--width', '5',"
            " '--batch', '8', '--jobs', '1'])\nassert r.exit_code == 0\n"
            "print(sorted(m for m in sys.modules if m.startswith('matplotlib')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


# --- what the pictures show (issue 18) -------------------------------------------------------------


def test_heat_map_shares_one_range_and_numbers_layers_from_1() -> None:
    """A vanishing ReLU network: every row on the same x axis, so the deep layers' mass sits in the bin
    at 0; rows labelled 1..L; the counts of each row are its histogram's, rebinned."""
    import numpy as np

    from actstat.rendering.plots import hist_figure, shared_bins

    doc = run_probe(ProbeConfig(widths=(16,) * 35, batch=32, act="relu", init="xavier")).to_dict()
    fig, layout = hist_figure(doc)
    assert layout == "heatmap"
    ax = fig.axes[0]
    [img] = ax.images
    x0, x1, y0, y1 = img.get_extent()
    assert (y0, y1) == (0.5, 35.5)  # row i is layer i
    hists = [L["hist"] for L in doc["layers"]]
    assert x0 == min(h["edges"][0] for h in hists) and x1 == pytest.approx(max(h["edges"][-1] for h in hists))
    _, counts, scale = shared_bins(hists, 60)
    assert scale == 1.0
    assert counts.sum(axis=1) == pytest.approx([sum(h["counts"]) for h in hists])  # nothing lost
    assert np.asarray(img.get_array()) == pytest.approx(np.log10(counts + 1))
    # decay visible: the last layer's whole mass is in the first shared bin, the first layer's is not
    assert counts[-1, 0] == pytest.approx(counts[-1].sum()) and counts[0, 0] < 0.9 * counts[0].sum()
    # the std beside it, on a log10 axis
    side = fig.axes[1]
    ys = side.lines[0].get_ydata()
    assert list(ys) == list(range(1, 36))
    assert side.lines[0].get_xdata() == pytest.approx(np.log10([L["std"] for L in doc["layers"]]))


def test_shared_bins_split_counts_by_overlap() -> None:
    from actstat.rendering.plots import shared_bins

    edges, counts, _ = shared_bins([{"edges": [0.0, 1.0, 2.0], "counts": [4, 2]},
                                    {"edges": [0.0, 4.0], "counts": [8]}], 4)
    assert list(edges) == [0, 1, 2, 3, 4]
    assert counts.tolist() == [[4, 2, 0, 0], [2, 2, 2, 2]]
    edges, counts, scale = shared_bins([{"edges": [0.0, 1e300, 1.5e308], "counts": [3, 1]}], 3)
    assert scale == 1e308 and counts.sum() == 4  # no overflow near the float limits


def test_relu_zero_spike_is_drawn_apart_and_stated() -> None:
    import numpy as np

    doc = run_probe(ProbeConfig(widths=(64,) * 3, batch=200, act="relu", init="he")).to_dict()
    _, axes = _histogram_axes(doc)
    for ax, L in zip(axes[1:], doc["layers"]):
        counts = np.array(L["hist"]["counts"], dtype=float)
        zeros = L["zero_frac"] * (counts.sum() + L["hist"]["outside"])
        assert f"exact zeros {100 * L['zero_frac']:.1f}% (hatched)" in ax.get_title()
        blue = [p.get_height() for p in ax.patches[:30]]
        rest = counts.copy()
        rest[0] -= zeros
        assert blue == pytest.approx(rest)  # the other values, at their own scale
        [hatched] = ax.patches[30:]
        assert hatched.get_hatch() and hatched.get_y() == pytest.approx(rest[0])
        assert hatched.get_y() + hatched.get_height() == pytest.approx(1.2 * rest.max())  # cut
        assert ax.get_ylim()[1] >= 1.2 * rest.max()
    assert "hatched: exact zeros" in axes[0].figure._suptitle.get_text()


def test_warning_labels_sit_above_the_bars() -> None:
    """sigmoid std 1 piles mass at 0 and 1: the labels are in headroom no bar reaches."""
    doc = run_probe(ProbeConfig(widths=(50,) * 3, batch=200, act="sigmoid", init="normal:1.0")).to_dict()
    fig, _ = hist_figure_axes(doc)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes[1:4]:
        assert ax.texts, ax.get_title()
        tallest = max(p.get_height() for p in ax.patches)
        for t in ax.texts:
            box = t.get_window_extent(renderer).transformed(ax.transData.inverted())
            assert box.y0 > tallest, (ax.get_title(), t.get_text())


def hist_figure_axes(doc: dict):
    from actstat.rendering.plots import hist_figure

    return hist_figure(doc)


def test_titles_do_not_overlap_and_small_grids_use_larger_type() -> None:
    doc = run_probe(ProbeConfig(widths=(32,) * 24, batch=32, act="gelu", init="he", grad=True)).to_dict()
    from actstat.rendering.plots import hist_figure

    fig, _ = hist_figure(doc, gradients=True)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    sup = fig._suptitle.get_window_extent(renderer)
    for ax in fig.axes:
        if ax.get_visible():
            assert ax.title.get_window_extent(renderer).y1 < sup.y0, ax.get_title()
    small = run_probe(ProbeConfig(widths=(32,) * 10, batch=32, act="tanh")).to_dict()
    fig, _ = hist_figure_axes(small)
    assert fig.axes[0].title.get_fontsize() >= 9 and fig.axes[0].xaxis.get_ticklabels()[0].get_fontsize() >= 8


def test_plot_includes_the_input_and_circles_only_what_is_warned() -> None:
    import numpy as np
    from matplotlib.colors import to_rgb

    from actstat.rendering.plots import INFO_COLOR, plot_figure

    doc = run_probe(ProbeConfig(widths=(40,) * 4, batch=100, act="tanh", init="xavier", input="positive")).to_dict()
    fig = plot_figure(doc)
    ax = fig.axes[0]
    std_line = ax.lines[1]
    assert list(std_line.get_xdata()) == [0, 1, 2, 3, 4]
    assert std_line.get_ydata()[0] == pytest.approx(doc["input"]["std"])
    labels = ax.get_legend_handles_labels()[1]
    info_layers = {w["layer"] for w in doc["warnings"] if w["kind"] == "not_centered"}
    alarm_layers = {w["layer"] for w in doc["warnings"] if w["kind"] not in ("not_centered", "zigzag")}
    assert 0 in info_layers
    assert ("warned layer" in labels) == bool(alarm_layers) and "informational warning" in labels
    circled = {}
    for coll in ax.collections:
        colour = coll.get_edgecolor()[0]
        for x, _ in coll.get_offsets():
            circled[int(x)] = colour
    assert set(circled) == info_layers | alarm_layers
    assert np.allclose(circled[0][:3], to_rgb(INFO_COLOR))
    healthy = run_probe(ProbeConfig(widths=(40,) * 4, batch=100, act="tanh", init="xavier")).to_dict()
    assert plot_figure(healthy).axes[0].get_legend_handles_labels()[1] == ["mean", "std"]


def test_phase_diagram_scale_centred_on_1_over_the_values_drawn() -> None:
    import numpy as np

    from actstat.activations import get_activation
    from actstat.rendering.phase import phase_figure
    from actstat.theory import chi1_grid

    doc = json.loads(run("theory", "--act", "tanh", "--sigma-w", "1.2", "--format", "json").stdout)
    fig = phase_figure(get_activation("tanh"), doc, n=12)
    mesh = fig.axes[0].collections[0]
    norm = mesh.norm
    chi = chi1_grid(get_activation("tanh"), np.linspace(0.05, 4.0, 12), np.linspace(0.0, 1.0, 12))
    assert norm.vcenter == 0.0  # log2 chi_1 = 0: white
    assert norm.vmin == pytest.approx(np.log2(chi.min())) and norm.vmax == pytest.approx(np.log2(chi.max()))
    assert mesh.get_cmap()(norm(norm.vmax))[0] > 0.35 and mesh.get_cmap()(norm(norm.vmax))[2] < 0.2  # deep red
    [label] = fig.axes[0].get_legend_handles_labels()[1]
    assert f"chi_1 = {doc['chi1']:.3g} ({doc['phase']})" in label
