"""The README stays true: every actstat command in it runs, every command is documented, and CI runs
the README's test command verbatim."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from actstat.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def readme_commands() -> list[str]:
    """`actstat ...` invocations from code blocks and inline code, up to a pipe or redirection."""
    found: list[str] = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.S):  # (```toml and ```python blocks too)
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            m = re.search(r"(?:^|&& )(actstat [a-z]+(?:\s.*)?)$", line)
            if m:
                found.append(m.group(1))
    found += re.findall(r"`(actstat [a-z]+(?:\s[^`]*)?)`", README)
    cmds = []
    for c in found:
        c = re.split(r"\s[|>]\s?", c)[0].strip()
        if c not in cmds:
            cmds.append(c)
    return cmds


COMMANDS = readme_commands()


def readme_transcripts() -> dict[str, list[str]]:
    """Every output the README shows, by the command that prints it: a code block that starts with
    `$ actstat ...` followed by its output, or a block holding one `actstat ...` line followed at once
    by a block of output. A line "..." stands for any number of lines, "..." inside a line for any text
    (the line begins with what precedes it and ends with what follows); the lines shown may be a part
    of the output."""
    blocks: list[tuple[int, int, list[str]]] = []  # (first line, last line, lines) of each plain ``` block
    inside, lang, body, first = False, "", [], 0
    for n, line in enumerate(README.splitlines()):
        if line.startswith("```"):
            if not inside:
                inside, lang, body, first = True, line[3:].strip(), [], n
            else:
                inside = False
                if not lang:
                    blocks.append((first, n, body))
        elif inside:
            body.append(line)
    text = README.splitlines()
    out: dict[str, list[str]] = {}
    for i, (_, last, lines) in enumerate(blocks):
        if lines and lines[0].startswith("$ actstat ") and len(lines) > 1:
            out[lines[0][2:]] = lines[1:]
        elif len(lines) == 1 and lines[0].startswith("actstat ") and i + 1 < len(blocks):
            start, _, nxt = blocks[i + 1]
            between = "".join(text[last + 1:start]).strip()
            if between == "" and nxt and not re.match(r"(\$ )?(actstat [a-z]+( |$)|pip |dask )", nxt[0]):
                out[lines[0]] = nxt
    return out


TRANSCRIPTS = readme_transcripts()

# The jq filters the README pipes into, as Python (jq >= 1.7 prints numbers as they were written).
JQ = {
    "-c '.warnings[0] | {layer, kind, value, threshold}'":
        lambda docs: [{k: d["warnings"][0][k] for k in ("layer", "kind", "value", "threshold")} for d in docs],
    "-c .final": lambda docs: [d["final"] for d in docs],
    "-c 'select(.type == \"checkpoint\") | [.step, .loss, .val_acc]'":
        lambda docs: [[d["step"], d["loss"], d["val_acc"]] for d in docs if d.get("type") == "checkpoint"],
}


FIGURE = re.compile(r"(-?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|-?\d+[eE][-+]?\d+)")


def same_line(expected: str, actual: str) -> bool:
    """Equal lines, except that a figure printed with 8 or more significant digits may differ in its
    last bits (relative 1e-9): another CPU's BLAS kernels round differently (FMA, AVX-512 or AVX2)."""
    if expected == actual:
        return True
    e, a = FIGURE.split(expected), FIGURE.split(actual)
    if len(e) != len(a):
        return False
    for i, (x, y) in enumerate(zip(e, a)):
        if i % 2 == 0 or len(re.sub(r"[-.]|^0+|[eE].*", "", x).lstrip("0")) < 8:
            if x != y:
                return False
        elif abs(float(x) - float(y)) > 1e-9 * max(abs(float(x)), abs(float(y))):
            return False
    return True


def machine_dependent(command: str, lines: list[str]) -> list[str]:
    """``lines`` with the figures another CPU's rounding can change beyond the last digits masked: in
    the trainability map, the cells deeper than its shallowest row (25-35 tanh layers amplify last-bit
    differences through 80 training steps: measured up to 0.17 in accuracy between an AMD EPYC with
    AVX2 kernels and a CPU with AVX-512 ones), their '!' and the count of cells that agree. The theory's
    '+' marks, 6 xi_c, the shallowest row and the threshold stay as printed."""
    if not command.startswith("actstat trainability"):
        return lines
    rows = [int(m.group(1)) for ln in lines if (m := re.match(r"(\d+)\s{2,}\d\.\d\d", ln))]
    out = []
    for ln in lines:
        m = re.match(r"(\d+)\s{2,}\d\.\d\d", ln)
        if m and int(m.group(1)) != min(rows):
            ln = re.sub(r"\d\.\d\d", "#", ln.replace("!", " "))
        out.append(re.sub(r"^\d+ of (\d+) cells agree", r"# of \1 cells agree", ln))
    return out


def matches(expected: list[str], actual: list[str]) -> bool:
    """``expected`` (with its "..." wildcards) equals a run of consecutive lines of ``actual`` (see
    same_line)."""
    from functools import lru_cache

    @lru_cache(maxsize=None)
    def at(e: int, a: int) -> bool:
        if e == len(expected):
            return True
        line = expected[e]
        if line.strip() == "...":
            return any(at(e + 1, k) for k in range(a, len(actual) + 1))
        if a == len(actual):
            return False
        if "..." in line:
            head, _, tail = line.partition("...")
            ok = actual[a].startswith(head) and actual[a].endswith(tail) and len(actual[a]) >= len(head + tail)
            return ok and at(e + 1, a + 1)
        return same_line(line, actual[a]) and at(e + 1, a + 1)

    return any(at(0, a) for a in range(len(actual) + 1))


def test_readme_shows_outputs() -> None:
    assert len(TRANSCRIPTS) >= 8


@pytest.mark.parametrize("command", sorted(TRANSCRIPTS))
def test_readme_output_is_what_the_command_prints(command: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cmd, _, pipe = command.partition(" | ")
    r = CliRunner().invoke(cli, shlex.split(cmd)[1:], catch_exceptions=False)
    assert r.exit_code in (0, 3), (command, r.stderr)
    if pipe:
        assert pipe.startswith("jq "), f"teach tests/test_docs.py the pipe {pipe!r}"
        flt = pipe.removeprefix("jq ")
        assert flt in JQ, f"teach tests/test_docs.py the jq filter {flt!r}"
        text = r.stdout.strip()
        docs = [json.loads(text)] if text.startswith("{\n") else [json.loads(ln) for ln in text.splitlines()]
        actual = [json.dumps(v, separators=(",", ":")) for v in JQ[flt](docs)]
    else:
        actual = r.stdout.splitlines()
    expected = machine_dependent(command, TRANSCRIPTS[command])
    actual = machine_dependent(command, actual)
    assert matches(expected, actual) or matches(expected, machine_dependent(command, r.output.splitlines())), (
        f"README output of `{command}` differs from what it prints:\n" + r.output)


def test_readme_toml_example_works_with_probe_and_compare(tmp_path: Path) -> None:
    """The README says both commands read any option from the file: its example does."""
    [toml] = re.findall(r"```toml\n(.*?)```", README, flags=re.S)
    path = tmp_path / "model.toml"
    path.write_text(toml)
    for command in ("probe", "compare"):
        r = CliRunner().invoke(cli, [command, "--config", str(path), "--batch", "20", "--format", "json"])
        assert r.exit_code in (0, 3), (command, r.stderr)
        doc = json.loads(r.stdout)
        cfg = doc["config"] if command == "probe" else doc["configs"][0]
        assert cfg["act"] == "tanh" and cfg["init"] == "xavier"
        widths = cfg["widths"] if command == "probe" else None
        assert widths is None or widths == json.loads(re.search(r"widths = (\[.*\])", toml).group(1))
        assert doc["thresholds"]["saturation"] == 0.3 if command == "probe" else True


def test_matcher_wildcards() -> None:
    actual = ["a", "b", "c", "d,e,f"]
    assert matches(["b", "c"], actual) and matches(["a", "...", "d,e..."], actual)
    assert matches(["d...f"], actual) and not matches(["d...g"], actual)
    assert not matches(["a", "c"], actual) and not matches(["b", "d,x..."], actual)


def test_matcher_figures() -> None:
    assert same_line("value 0.0474908687531955 at 3", "value 0.047490868753195505 at 3")
    assert not same_line("value 0.0474908687531955 at 3", "value 0.0474918687531955 at 3")
    assert not same_line("value 0.0474908687531955 at 3", "value 0.0474908687531955 at 4")
    assert not same_line("0.72+ and 1e-3", "0.70+ and 1e-3") and not same_line("1.5e-3", "1.6e-3")
    lines = ["35                0.58    0.72+   0.41    0.32", "5                 0.82+   0.83+   0.82+   0.81+",
             "15 of 16 cells agree with the prediction"]
    masked = machine_dependent("actstat trainability --steps 80", lines)
    assert masked == ["35                #    #+   #    #", lines[1], "# of 16 cells agree with the prediction"]


def test_readme_has_commands() -> None:
    assert len(COMMANDS) >= 15


@pytest.mark.parametrize("command", [c for c in COMMANDS if not any(t.startswith(c) for t in TRANSCRIPTS)])
def test_readme_command_runs(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = shlex.split(command)[1:]
    if args[:1] == ["probe"] and "--batch" not in args:
        args += ["--batch", "200"]  # same code paths, a fifth of the time
    if args[:1] == ["train"] or (args[:1] in (["report"], ["compare"]) and "--train" in args):
        args = fewer_steps(args)
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert r.exit_code in (0, 3), (command, r.stderr)
    if args[:1] == ["gallery"]:  # and the committed sample reports are what it writes today
        fresh, saved = tmp_path / args[1], ROOT / "sample_reports"
        assert sorted(p.name for p in fresh.iterdir()) == sorted(p.name for p in saved.iterdir())
        for case in fresh.iterdir():
            if case.is_dir():
                a = json.loads((saved / case.name / "report.json").read_text())
                b = json.loads((case / "report.json").read_text())
                a.pop("actstat_version"), b.pop("actstat_version")
                if a.get("kind") == "trainability":
                    a, b = without_deep_cells(a), without_deep_cells(b)
                assert_same_numbers(a, b, case.name)


def without_deep_cells(doc: dict) -> dict:
    """A trainability document without what another CPU's rounding changes beyond the last digits (see
    machine_dependent): the measured figures of the cells deeper than the shallowest, and the summary's
    counts of trained cells and of agreement; those are checked for consistency instead."""
    shallow = min(c["layers"] for c in doc["cells"])
    cells = []
    for c in doc["cells"]:
        assert c["trained"] == (c["train_acc"] >= doc["threshold"]) and c["agree"] == (c["trained"] == c["predicted"])
        assert 0.0 <= c["train_acc"] <= 1.0 and 0.0 <= c["val_acc"] <= 1.0
        if c["layers"] != shallow:
            c = {k: v for k, v in c.items() if k in ("sigma_w", "layers", "predicted")}
        cells.append(c)
    summary = doc["summary"]
    assert summary["agree"] == sum(c["agree"] for c in doc["cells"])
    assert summary["trained"] == sum(c["trained"] for c in doc["cells"])
    summary = {k: v for k, v in summary.items() if k not in ("agree", "trained", "text")}
    return doc | {"cells": cells, "summary": summary}


def fewer_steps(args: list[str]) -> list[str]:
    """A training command with 20 steps instead of its --steps/--epochs: the same code paths, quickly."""
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in ("--steps", "--epochs"):
            skip = True
        else:
            out.append(a)
    return out + ["--steps", "20"]


def assert_same_numbers(a, b, where: str) -> None:
    """Equal documents up to the last bits of floating point (another CPU's BLAS may round differently)."""
    hint = f"{where}: regenerate with `actstat gallery sample_reports --force`"
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), hint
        for k in a:
            assert_same_numbers(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), hint
        for x, y in zip(a, b):
            assert_same_numbers(x, y, where)
    elif isinstance(a, float) and isinstance(b, float):
        assert b == pytest.approx(a, rel=1e-6, abs=1e-12), hint
    elif isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool):
        assert abs(a - b) <= 2, hint  # a histogram count next to a bin edge
    else:
        assert a == b, hint


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_is_in_the_readme(name: str) -> None:
    assert f"actstat {name}" in README


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    m = re.search(r"```\n(pip install '\.\[test\]'.*)\n```", README)
    assert m, "README lacks the install-and-test command"
    assert m.group(1) in (ROOT / ".ci" / "run").read_text()
    assert "pip install . && actstat probe" in README
