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


def test_readme_has_commands() -> None:
    assert len(COMMANDS) >= 15


@pytest.mark.parametrize("command", COMMANDS)
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
                assert_same_numbers(a, b, case.name)


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
