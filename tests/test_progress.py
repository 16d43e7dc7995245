"""The progress bar: on a terminal's stderr for long runs only; nothing anywhere else."""

from __future__ import annotations

import io
import sys

import pytest
from click.testing import CliRunner

from actstat.cli import cli, progress_bar


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bar_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with progress_bar(100, "layers") as cb:
        assert cb is None
    assert sys.stderr.getvalue() == ""
    r = CliRunner().invoke(cli, ["probe", "--layers", "300", "--width", "50", "--batch", "50", "--format", "csv"])
    assert r.exit_code == 0 and r.stderr == ""


def test_bar_on_a_terminal_after_the_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    err = FakeTTY()
    monkeypatch.setattr(sys, "stderr", err)
    with progress_bar(10, "layers", min_seconds=0.0, min_projected=0.0) as cb:
        assert cb is not None
        for i in range(1, 10):
            cb(i, 10)
    assert "layers" in err.getvalue()
    quick = FakeTTY()
    monkeypatch.setattr(sys, "stderr", quick)
    with progress_bar(10, "layers", min_seconds=60.0) as cb:
        for i in range(1, 11):
            cb(i, 10)  # a run shorter than the delay never shows a bar
    assert quick.getvalue() == ""


def test_bar_is_not_shown_for_few_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", FakeTTY())
    with progress_bar(3, "configurations", min_total=4) as cb:
        assert cb is None
