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
