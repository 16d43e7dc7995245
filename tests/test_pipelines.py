"""Shell pipelines, comparisons and real data: every format against the JSON, pipes, stdin, bad data,
compare (serial = parallel), --config."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from actstat.cli import cli
from actstat.probe import ProbeConfig

SMALL = ["--layers", "4", "--width", "12", "--batch", "40"]


def run(*args: str, input: str | None = None, code: int | tuple[int, ...] = 0):
    r = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    codes = code if isinstance(code, tuple) else (code,)
    assert r.exit_code in codes, (args, r.exit_code, r.stderr)
    return r


def probe_json(*args: str) -> dict:
    return json.loads(run("probe", *args, "--format", "json").stdout)


def as_number(cell: str):
    return None if cell == "" else float(cell)


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_csv_and_tsv_rows_equal_the_json(fmt: str) -> None:
    args = [*SMALL, "--act", "tanh", "--init", "normal:0.3", "--grad"]
    doc = probe_json(*args)
    out = run("probe", *args, "--format", fmt).stdout
    rows = list(csv.DictReader(io.StringIO(out), dialect="excel-tab" if fmt == "tsv" else "excel"))
    assert len(rows) == 1 + len(doc["layers"])
    assert rows[0]["type"] == "input" and rows[0]["layer"] == "0"
    assert as_number(rows[0]["std"]) == doc["input"]["std"]
    assert rows[0]["pre_mean"] == "" and rows[0]["grad_std"] == ""  # the input has neither
    for row, L in zip(rows[1:], doc["layers"]):
        assert int(row["layer"]) == L["layer"] and int(row["width"]) == L["width"]
        for key in ("mean", "std", "min", "max", "saturated_frac", "zero_frac", "dead_frac"):
            assert as_number(row[key]) == L[key], key
        assert as_number(row["pre_std"]) == L["pre"]["std"]
        assert as_number(row["grad_weight_norm"]) == L["grad"]["weight_norm"]
        assert as_number(row["grad_norm_ratio_to_last"]) == L["grad"]["norm_ratio_to_last"]
        kinds = {w["kind"] for w in doc["warnings"] if w["layer"] == L["layer"]}
        assert set(filter(None, row["warnings"].split(";"))) == kinds
    assert "hist" not in " ".join(rows[0])  # histograms stay out of tables
    assert list(rows[0])[-1] == "warnings"


def test_no_headers() -> None:
    with_h = run("probe", *SMALL, "--format", "csv").stdout.splitlines()
    without = run("probe", *SMALL, "--format", "csv", "--no-headers").stdout.splitlines()
    assert without == with_h[1:]
    nd = run("probe", *SMALL, "--format", "ndjson", "--no-headers").stdout.splitlines()
    assert json.loads(nd[0])["type"] == "input"


def test_ndjson_one_object_per_layer_and_warning() -> None:
    args = [*SMALL, "--act", "tanh", "--init", "normal:0.01"]
    doc = probe_json(*args)
    objs = [json.loads(line) for line in run("probe", *args, "--format", "ndjson").stdout.splitlines()]
    assert objs[0]["type"] == "probe" and objs[0]["config"] == doc["config"]
    layers = [o for o in objs if o["type"] == "layer"]
    assert [o["std"] for o in layers] == [L["std"] for L in doc["layers"]]
    assert [o["hist"] for o in layers] == [L["hist"] for L in doc["layers"]]
    warns = [{k: v for k, v in o.items() if k != "type"} for o in objs if o["type"] == "warning"]
    assert warns == doc["warnings"] and warns


def test_markdown_table() -> None:
    args = [*SMALL, "--act", "tanh", "--init", "normal:0.01"]
    doc = probe_json(*args)
    out = run("probe", *args, "--format", "markdown").stdout
    table = [line for line in out.splitlines() if line.startswith("|")]
    header = [c.strip() for c in table[0].strip("|").split("|")]
    assert header[:4] == ["layer", "width", "mean", "std"]
    assert set(table[1].replace("|", "").replace("-", "").replace(":", "")) == set()
    body = [[c.strip() for c in line.strip("|").split("|")] for line in table[2:]]
    assert len(body) == 1 + len(doc["layers"])
    for cells, L in zip(body[1:], doc["layers"]):
        assert float(cells[3]) == pytest.approx(L["std"], rel=5e-3)
    assert "**vanishing**" in out and "Fix:" in out


@pytest.mark.parametrize("fmt", ["table", "json", "ndjson", "csv", "tsv", "markdown"])
def test_no_ansi_codes_off_a_terminal(fmt: str) -> None:
    for cmd in (["probe", *SMALL, "--init", "zeros"], ["list"], ["compare", *SMALL, "--jobs", "1"]):
        out = run(*cmd, "--format", fmt, code=(0, 3)).stdout
        assert "\x1b[" not in out and out.strip()


def _env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1"}


@pytest.mark.parametrize("fmt", ["csv", "table", "ndjson"])
def test_pipe_into_head_ends_quietly(fmt: str, tmp_path: Path) -> None:
    # 3000 layers: far more output than a pipe buffer holds, so the writer really meets a closed pipe
    cmd = (f"{sys.executable} -m actstat probe --layers 3000 --width 3 --batch 5 --format {fmt}"
           " 2>err.txt | head -2 > head.txt; echo ${PIPESTATUS[0]}")
    r = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, capture_output=True, text=True, env=_env(), timeout=120)
    assert r.stdout.strip() == "0"
    assert (tmp_path / "err.txt").read_text() == ""
    assert len((tmp_path / "head.txt").read_text().splitlines()) == 2


def test_stdin_input() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 5))
    text = "a,b,c,d,e\n" + "\n".join(",".join(repr(float(v)) for v in row) for row in x) + "\n"
    doc = json.loads(run("probe", "--input", "-", "--layers", "2", "--width", "4", "--format", "json",
                         input=text).stdout)
    assert doc["config"]["batch"] == 30 and doc["config"]["input_dim"] == 5 and doc["config"]["input"] == "-"
    assert doc["input"]["mean"] == pytest.approx(x.mean(), rel=1e-12)
    assert doc["input"]["std"] == pytest.approx(x.std(), rel=1e-12)


def test_npy_csv_tsv_give_the_same_numbers(tmp_path: Path) -> None:
    x = np.random.default_rng(1).standard_normal((25, 6))
    np.save(tmp_path / "x.npy", x)
    np.savetxt(tmp_path / "x.csv", x, delimiter=",", fmt="%.17g")
    np.savetxt(tmp_path / "x.tsv", x, delimiter="\t", header="\t".join("abcdef"), comments="", fmt="%.17g")
    docs = [probe_json("--input", str(tmp_path / f), "--layers", "2", "--width", "7") for f in
            ("x.npy", "x.csv", "x.tsv")]
    assert docs[0]["layers"] == docs[1]["layers"] == docs[2]["layers"]
    sub = probe_json("--input", str(tmp_path / "x.npy"), "--layers", "2", "--width", "7", "--batch", "10")
    assert sub["config"]["batch"] == 10


BAD = {
    "text.csv": ("a,b\n1,2\n3,x\n", "text.csv: line 3, column 2: 'x' is not a number"),
    "ragged.csv": ("1,2,3\n4,5\n", "ragged.csv: line 2 has 2 columns, expected 3"),
    "nan.csv": ("1,2\nnan,3\n", "nan.csv: line 2, column 1: 'nan' is not a finite number"),
    "inf.tsv": ("1\t2\n3\t-inf\n", "inf.tsv: line 2, column 2: '-inf' is not a finite number"),
    "empty.csv": ("", "empty.csv: empty: no data rows"),
    "header.csv": ("a,b\n", "header.csv: only a header row"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_data_is_one_line_naming_file_line_column(name: str, tmp_path: Path) -> None:
    text, message = BAD[name]
    (tmp_path / name).write_text(text)
    r = run("probe", "--input", str(tmp_path / name), code=2)
    assert r.stderr.count("\n") == 1 and message in r.stderr and "Traceback" not in r.stderr


def test_bad_npy_files(tmp_path: Path) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    r = run("probe", "--input", str(tmp_path / "obj.npy"), code=2)
    assert "never unpickles" in r.stderr
    np.save(tmp_path / "one.npy", np.arange(4.0))
    assert "1-D array" in run("probe", "--input", str(tmp_path / "one.npy"), code=2).stderr
    bad = np.ones((3, 2))
    bad[2, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    assert "row 3, column 2" in run("probe", "--input", str(tmp_path / "nan.npy"), code=2).stderr
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    assert "not a .npy file" in run("probe", "--input", str(tmp_path / "junk.npy"), code=2).stderr
    assert "no such file" in run("probe", "--input", str(tmp_path / "missing.csv"), code=2).stderr
    np.save(tmp_path / "x.npy", np.ones((5, 3)))
    assert "conflicts" in run("probe", "--input", str(tmp_path / "x.npy"), "--input-dim", "4", code=2).stderr
    assert "more than" in run("probe", "--input", str(tmp_path / "x.npy"), "--batch", "9", code=2).stderr


def test_scale_mismatch_and_preprocessing(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((200, 4)) * np.array([1.0, 1.0, 500.0, 1.0]) + 3.0  # grams vs kilograms
    np.save(tmp_path / "x.npy", x)
    raw = probe_json("--input", str(tmp_path / "x.npy"), "--layers", "3", "--width", "20", "--act", "tanh")
    w = [w for w in raw["warnings"] if w["kind"] == "scale_mismatch"]
    assert len(w) == 1 and w[0]["layer"] == 0 and "--preprocess standardize" in w[0]["hint"]
    sd = x.std(axis=0)
    assert w[0]["value"] == pytest.approx(sd.max() / sd.min())
    std = probe_json("--input", str(tmp_path / "x.npy"), "--layers", "3", "--width", "20", "--act", "tanh",
                     "--preprocess", "standardize")
    assert not [w for w in std["warnings"] if w["kind"] in ("scale_mismatch", "not_centered")]
    assert std["input"]["mean"] == pytest.approx(0, abs=1e-12) and std["input"]["std"] == pytest.approx(1)
    mm = probe_json("--input", str(tmp_path / "x.npy"), "--layers", "1", "--preprocess", "minmax")
    assert mm["input"]["min"] == 0 and mm["input"]["max"] == 1
    c = probe_json("--input", str(tmp_path / "x.npy"), "--layers", "1", "--preprocess", "center")
    assert c["input"]["mean"] == pytest.approx(0, abs=1e-10)


# --- compare --------------------------------------------------------------------------------------


def compare_json(*args: str) -> dict:
    return json.loads(run("compare", *args, "--format", "json", code=(0, 3)).stdout)


def test_compare_product_and_same_input() -> None:
    doc = compare_json("--act", "tanh,relu", "--init", "xavier", "--init", "he,normal:0.5", "--layers", "3,5",
                       "--width", "16", "--batch", "32", "--jobs", "1")
    rows = doc["configs"]
    assert len(rows) == 2 * 3 * 2
    assert len({r["config"] for r in rows}) == len(rows)
    assert len({r["input_std"] for r in rows}) == 1  # one input batch for all
    by = {}
    for r in rows:  # same act/init/width: the first layer is the same whatever the depth
        by.setdefault((r["act"], r["init"]), set()).add(r["first_std"])
    assert all(len(v) == 1 for v in by.values())
    single = probe_json("--act", "relu", "--init", "he", "--layers", "5", "--width", "16", "--batch", "32")
    r = next(r for r in rows if (r["act"], r["init"], r["layers"]) == ("relu", "he", 5))
    stds = [L["std"] for L in single["layers"]]
    # (compare runs BLAS on one thread, probe on all cores: equal up to the last bits)
    assert (r["first_std"], r["last_std"], r["min_std"]) == pytest.approx((stds[0], stds[-1], min(stds)), rel=1e-12)
    assert r["max_dead_frac"] == max(L["dead_frac"] for L in single["layers"])
    assert r["warnings"] == list(dict.fromkeys(w["kind"] for w in single["warnings"]))


def test_compare_parallel_equals_serial() -> None:
    # unequal probes: the workers take them longest first, and the results still come in the given order
    args = ["compare", "--act", "tanh,relu", "--init", "xavier,he", "--layers", "2,6", "--width", "32,64",
            "--batch", "128", "--grad", "--format", "json"]
    one = run(*args, "--jobs", "1").stdout
    two = run(*args, "--jobs", "2").stdout
    assert one == two
    rows = json.loads(one)["configs"]
    assert [(r["act"], r["init"], r["layers"], r["width"]) for r in rows] == \
        [(a, i, L, w) for a in ("tanh", "relu") for i in ("xavier", "he") for L in (2, 6) for w in (32, 64)]


def test_compare_hands_out_the_longest_probes_first() -> None:
    from actstat.compare import _cost

    small, deep, wide = ProbeConfig(widths=(64,) * 4), ProbeConfig(widths=(64,) * 40), ProbeConfig(widths=(640,) * 4)
    assert _cost(deep) == pytest.approx(10 * _cost(small))
    assert _cost(wide) > _cost(deep)  # (products grow with width squared)
    assert _cost(replace(small, grad=True)) == pytest.approx(3 * _cost(small))
    assert _cost(replace(small, act="maxout:3")) > _cost(small)


def test_compare_fail_on_any_config_and_formats() -> None:
    base = ["compare", "--act", "tanh", "--init", "xavier,normal:0.01", *SMALL, "--jobs", "1"]
    assert run(*base, "--fail-on", "vanishing", code=3).exit_code == 3
    run("compare", "--act", "tanh", "--init", "xavier", *SMALL, "--fail-on", "vanishing")
    out = run(*base, "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["init"] for r in rows] == ["xavier", "normal:0.01"]
    assert "vanishing" in rows[1]["warnings"].split(";") and rows[0]["warnings"] == ""
    single = probe_json("--act", "tanh", "--init", "normal:0.01", *SMALL)
    assert int(rows[1]["first_warning_layer"]) == min(w["layer"] for w in single["warnings"]
                                                      if w["kind"] != "not_centered")
    both = compare_json("--act", "relu", "--init", "normal:0.01", "--batchnorm-both", *SMALL)
    assert [r["batchnorm"] for r in both["configs"]] == [False, True]


def test_compare_plot_and_bad_options(tmp_path: Path) -> None:
    png = tmp_path / "c.png"
    run("compare", "--act", "tanh,relu", *SMALL, "--plot", str(png), "--log", "--jobs", "1")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = run("compare", "--act", "tanh,nope", code=2)
    assert "unknown activation 'nope'" in r.stderr
    r = run("compare", "--act", "tanh", *SMALL, "--plot", str(tmp_path / "no" / "c.png"), code=2)
    assert "does not exist" in r.stderr
    assert run("compare", "--dpi", "50", code=2).stderr.startswith("Error:")


# --- --config -------------------------------------------------------------------------------------


def test_config_file_defaults_and_precedence(tmp_path: Path) -> None:
    cfg = tmp_path / "model.toml"
    cfg.write_text('act = "tanh"\ninit = "normal:0.01"\nlayers = 4\nwidth = 16\nbatch = 32\n'
                   'threshold = {vanishing = 0.01}\nfail-on = ["vanishing"]\nbias_std = 0.0001\n')
    r = run("probe", "--config", str(cfg), "--format", "json", code=3)
    doc = json.loads(r.stdout)
    c = doc["config"]
    assert (c["act"], c["init"], c["layers"], c["widths"][0], c["batch"], c["bias_std"]) == (
        "tanh", "normal:0.01", 4, 16, 32, 0.0001)
    assert doc["thresholds"]["vanishing"] == 0.01
    doc = json.loads(run("probe", "--config", str(cfg), "--init", "xavier", "--format", "json").stdout)
    assert doc["config"]["init"] == "xavier" and doc["config"]["act"] == "tanh"  # the command line wins
    grid = tmp_path / "grid.toml"
    grid.write_text('act = ["tanh", "relu"]\nlayers = [2, 3]\nwidth = 8\nbatch = 16\n')
    assert len(compare_json("--config", str(grid))["configs"]) == 4


def test_config_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('actt = "tanh"\n')
    r = run("probe", "--config", str(bad), code=2)
    assert "unknown key 'actt'" in r.stderr and r.stderr.count("\n") == 1
    bad.write_text("act = \n")
    assert "not valid TOML" in run("probe", "--config", str(bad), code=2).stderr
    assert "cannot read" in run("probe", "--config", str(tmp_path / "none.toml"), code=2).stderr
    bad.write_text('act = "nope"\n')
    assert "unknown activation" in run("probe", "--config", str(bad), code=2).stderr


def test_list_formats() -> None:
    rows = list(csv.DictReader(io.StringIO(run("list", "--format", "csv").stdout)))
    names = {(r["type"], r["name"]) for r in rows}
    assert ("init", "he") in names and ("activation", "maxout") in names
    doc = json.loads(run("list", "--format", "json").stdout)
    assert len(rows) == sum(len(v) for v in doc.values() if isinstance(v, list))  # every catalogue


def test_table_json_and_csv_show_the_same_numbers() -> None:
    args = [*SMALL, "--act", "tanh", "--init", "normal:0.4", "--seed", "7"]
    doc = probe_json(*args)
    table = run("probe", *args).stdout.splitlines()
    rows = [line.split() for line in table if line.split() and line.split()[0].isdigit()]
    assert len(rows) == len(doc["layers"])
    for cells, L in zip(rows, doc["layers"]):
        for i, key in ((2, "mean"), (3, "std"), (4, "min"), (5, "max")):
            assert float(cells[i]) == pytest.approx(L[key], rel=5e-3, abs=1e-12), key
    csv_rows = list(csv.DictReader(io.StringIO(run("probe", *args, "--format", "csv").stdout)))
    assert [float(r["std"]) for r in csv_rows[1:]] == [L["std"] for L in doc["layers"]]
    assert run("probe", *args, "--format", "json").stdout == run("probe", *args, "--format", "json").stdout


# --- the table on a terminal ----------------------------------------------------------------------

NUMBER = r"-?(\d+(\.\d*)?|\.\d+)(e-?\d+)?|-|inf|-inf|nan|\d+-\d+:?"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def on_terminal(render, doc: dict, columns: int, monkeypatch: pytest.MonkeyPatch, color: bool = False) -> str:
    """What ``render`` shows on a terminal ``columns`` wide (COLUMNS, as rich reads it)."""
    monkeypatch.setenv("COLUMNS", str(columns))
    if color:
        monkeypatch.delenv("NO_COLOR", raising=False)
    out = _Terminal()
    render(doc, out)
    return out.getvalue()


def assert_fits(text: str, columns: int) -> None:
    for line in text.splitlines():
        assert len(line) <= columns, line
        assert line == line.rstrip(), repr(line)
        assert "…" not in line, line


def warnings_below(text: str) -> dict[str, str]:
    """The "warnings by ...:" list under a table: key -> kinds (continuation lines joined)."""
    out: dict[str, str] = {}
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("warnings by ")), None)
    if start is None:
        return out
    key = None
    for line in lines[start + 1:]:
        if line.startswith("    ") and key:
            out[key] += " " + line.strip()
        elif line.startswith("  "):
            key, _, kinds = line.strip().rpartition(": ")
            out[key] = kinds
        else:
            break
    return out


def table_rows(text: str, first: str = "layer") -> dict[str, list[str]]:
    """Row label -> every cell of that row over all the blocks of a (possibly split) table."""
    rows: dict[str, list[str]] = {}
    inside = False
    for line in text.splitlines():
        cells = line.split()
        if cells[:1] == [first]:
            inside = True
            continue
        if inside and cells and (cells[0] == "input" or cells[0].isdigit()):
            rows.setdefault(cells[0], []).extend(cells[1:])
        else:
            inside = False
    return rows


@pytest.mark.parametrize("columns", [80, 60, 40])
def test_probe_table_fits_the_terminal_and_never_cuts_a_number(columns: int, monkeypatch) -> None:
    import re

    from actstat.rendering.table import render_probe_table

    doc = probe_json("--layers", "10", "--width", "30", "--batch", "40", "--act", "tanh", "--init", "normal:0.01",
                     "--grad", "--theory")
    text = on_terminal(render_probe_table, doc, columns, monkeypatch)
    assert_fits(text, columns)
    rows = table_rows(text)
    assert list(rows)[:2] == ["input", "1"] and len([r for r in rows if r.isdigit()]) == 10
    for label, cells in rows.items():
        for c in cells:
            assert re.fullmatch(NUMBER, c) or c.replace("_", "").replace(",", "").isalpha(), (label, c)
    for L in doc["layers"]:  # every figure is there, to 2 significant digits at least
        shown = [float(c) for c in rows[str(L["layer"])] if re.fullmatch(r"-?[\d.]+(e-?\d+)?", c)]
        for key in ("mean", "std", "min", "max"):
            assert any(v == pytest.approx(L[key], rel=0.051) for v in shown), (columns, L["layer"], key)
        for key in ("std", "weight_norm", "norm_ratio_to_last"):
            assert any(v == pytest.approx(L["grad"][key], rel=0.051) for v in shown), (columns, key)
    assert "vanishing" in text and "vanishing_gradient" in text


def test_probe_table_at_80_columns_keeps_3_digits_and_wraps_prose_between_items(monkeypatch) -> None:
    from actstat.rendering.table import num, render_probe_table

    doc = probe_json("--act", "tanh", "--init", "normal:0.01", "--batch", "100", "--grad")
    text = on_terminal(render_probe_table, doc, 80, monkeypatch)
    assert_fits(text, 80)
    rows = table_rows(text)
    for L in doc["layers"]:
        assert num(L["std"], 3, compact=True) in rows[str(L["layer"])]
        assert num(L["grad"]["std"], 3, compact=True) in rows[str(L["layer"])]
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("thresholds:"))
    block = [lines[start]]
    while lines[start + len(block)].startswith("  "):
        block.append(lines[start + len(block)])
    assert len(block) > 1  # the line was wrapped (between items)
    items = " ".join(block).removeprefix("thresholds:").split(",")
    pairs = [item.split() for item in items]
    assert all(len(p) == 2 for p in pairs)  # never broken between a name and its value
    assert {k for k, _ in pairs} == set(doc["thresholds"])


def test_piped_table_keeps_every_line_whole() -> None:
    out = run("probe", *SMALL, "--act", "tanh", "--init", "normal:0.01", "--grad").stdout
    lines = out.splitlines()
    doc = probe_json(*SMALL, "--act", "tanh", "--init", "normal:0.01", "--grad")
    [thresholds] = [line for line in lines if line.startswith("thresholds:")]
    assert [item.split()[0] for item in thresholds.removeprefix("thresholds: ").split(", ")] == list(doc["thresholds"])
    assert all(line == line.rstrip() for line in lines)
    assert any(line.startswith("layer  width       mean") for line in lines)  # the full layout


@pytest.mark.parametrize("columns", [80, 50])
def test_compare_table_keeps_each_name_on_one_row(columns: int, monkeypatch) -> None:
    import re

    from actstat.rendering.table import render_compare_table

    doc = compare_json(*SMALL, "--act", "tanh,relu", "--init", "xavier,he,normal:0.01", "--batchnorm-both", "--grad")
    text = on_terminal(render_compare_table, doc, columns, monkeypatch)
    assert_fits(text, columns)
    for r in doc["configs"]:
        row = [line for line in text.splitlines() if line.startswith(r["config"] + " ")]
        assert row, r["config"]
        tail = row[0][len(r["config"]):].split()
        assert all(re.fullmatch(NUMBER, c) for c in tail), tail
        shown = [float(c) for line in row for c in line[len(r["config"]):].split() if re.fullmatch(r"-?[\d.]+(e-?\d+)?", c)]
        assert any(v == pytest.approx(r["last_std"], rel=0.051) for v in shown)
        if r["warnings"]:  # its warnings, in the column or listed below
            assert warnings_below(text).get(r["config"]) == ", ".join(r["warnings"]) or \
                ", ".join(r["warnings"]) in row[0]


def test_theory_table_on_a_narrow_terminal(monkeypatch) -> None:
    from actstat.rendering.table import render_theory_table

    doc = json.loads(run("theory", "--act", "tanh", "--sigma-w", "1.5", "--sigma-b", "0.05", "--layers", "5",
                         "--format", "json").stdout)
    text = on_terminal(render_theory_table, doc, 40, monkeypatch)
    assert_fits(text, 40)
    rows = table_rows(text)
    assert len(rows) == 5 and all(rows[str(L["layer"])] for L in doc["layers"])


def test_no_color_means_no_ansi_codes_even_bold(monkeypatch) -> None:
    from actstat.rendering.table import render_probe_table

    doc = probe_json(*SMALL, "--act", "tanh", "--init", "normal:0.01")
    assert "\x1b[" not in on_terminal(render_probe_table, doc, 100, monkeypatch)  # conftest sets NO_COLOR
    styled = on_terminal(render_probe_table, doc, 100, monkeypatch, color=True)
    assert "\x1b[1m" in styled and "\x1b[1;31m" in styled  # a terminal without NO_COLOR: bold heads, red kinds


# --- options and docs that agree ------------------------------------------------------------------


def test_markdown_warnings_grouped_like_the_table() -> None:
    import re

    args = [*SMALL, "--act", "relu", "--init", "xavier", "--layers", "6", "--grad"]
    doc = probe_json(*args)
    out = run("probe", *args, "--format", "markdown").stdout
    heads = re.findall(r"^- \*\*(\w+)\*\* \((layers? [\d, -]+|input)\): value ([^,]+), threshold (\S+)$", out, re.M)
    groups: dict[tuple[str, str], list[dict]] = {}
    for w in doc["warnings"]:
        groups.setdefault((w["kind"], w.get("rule", "")), []).append(w)
    assert len(heads) == len(groups)  # one entry per kind and rule, not one per layer
    for (kind, where, span, _), ws in zip(heads, groups.values()):
        assert kind == ws[0]["kind"]
        layers = sorted(w["layer"] for w in ws)
        assert where.split()[-1].split("-")[0].rstrip(",") == ("input" if layers == [0] else str(layers[0]))
        lo, _, hi = span.partition(" to ")
        assert float(lo) == pytest.approx(min(w["value"] for w in ws), rel=5e-3)
    fixes = re.findall(r"^  - \*\*Fix:\*\* (.*)$", out, re.M)
    assert len(fixes) == len(groups)
    assert "zig-zag Fix" not in out and not re.search(r"\w Fix:", out)  # never run together with the message


def test_format_toml_keys_and_widths_suggest_or_refuse(tmp_path: Path) -> None:
    r = run("probe", "--format", "jsn", code=2)
    assert "Did you mean 'json'?" in r.stderr and r.stderr.count("\n") == 1
    cfg = tmp_path / "c.toml"
    cfg.write_text('actt = "tanh"\n')
    assert "unknown key 'actt' for 'actstat probe'. Did you mean 'act'?" in run("probe", "--config", str(cfg),
                                                                                 code=2).stderr
    cfg.write_text("bias_stdd = 0.1\n")
    assert "Did you mean 'bias-std'?" in run("compare", "--config", str(cfg), code=2).stderr
    for bad in ("10,,20", "10,20,", ",10"):
        r = run("probe", "--widths", bad, code=2)
        assert "an empty width between commas" in r.stderr, bad
    assert probe_json("--widths", "10,20", "--batch", "8")["config"]["widths"] == [10, 20]


def test_compare_reads_widths_from_the_command_line_and_a_config(tmp_path: Path) -> None:
    doc = compare_json("--widths", "12,8,4", "--act", "tanh,relu", "--batch", "16")
    assert [len(c["std"]) for c in doc["curves"]] == [3, 3]
    assert all(r["layers"] == 3 for r in doc["configs"])
    cfg = tmp_path / "m.toml"
    cfg.write_text('act = "tanh"\nlayers = 3\nwidths = [12, 8, 4]\nbatch = 16\n')
    again = compare_json("--config", str(cfg), "--act", "tanh,relu")
    assert again["curves"] == doc["curves"]
    assert "not both" in run("compare", "--widths", "4,4", "--width", "4", code=2).stderr
    assert "--widths has 2 entries but --layers is 3" in run("compare", "--widths", "4,4", "--layers", "3",
                                                             code=2).stderr


def test_every_picture_option_says_what_it_wrote(tmp_path: Path) -> None:
    h, p, c, d = (tmp_path / n for n in ("h.png", "p.png", "c.png", "d.png"))
    r = run("probe", *SMALL, "--hist", str(h), "--plot", str(p), "--format", "json")
    assert r.stderr.splitlines() == [f"wrote {h}", f"wrote {p}"] and json.loads(r.stdout)
    assert run("compare", *SMALL, "--act", "tanh,relu", "--plot", str(c)).stderr.splitlines() == [f"wrote {c}"]
    r = run("theory", "--phase-diagram", str(d), "--format", "json")
    assert r.stderr.splitlines() == [f"wrote {d}"] and json.loads(r.stdout)["act"] == "tanh"
    assert all(f.stat().st_size > 0 for f in (h, p, c, d))


@pytest.mark.parametrize("columns", [120, 80, 40])
def test_list_on_a_terminal_keeps_every_formula_whole(columns: int, monkeypatch) -> None:
    from actstat.rendering.table import render_list_table

    doc = json.loads(run("list", "--format", "json").stdout)
    text = on_terminal(render_list_table, doc, columns, monkeypatch)
    assert_fits(text, columns)
    flat = " ".join(text.split())
    for entries in doc.values():
        for d in entries:
            assert " ".join(d["formula"].split()) in flat, d["name"]
