"""Every file actstat writes is written atomically: a failure leaves the old file or nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from actstat.errors import ConfigError
from actstat.fileio import OutputError, atomic_dir, atomic_path, check_writable_file, write_text


def leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.startswith("."))


def test_write_text_replaces_whole(tmp_path: Path) -> None:
    f = tmp_path / "out.json"
    write_text(f, "old")
    write_text(f, "new contents")
    assert f.read_text() == "new contents"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_a_failure_mid_write_keeps_the_old_file(tmp_path: Path, exc: type[BaseException]) -> None:
    f = tmp_path / "out.csv"
    f.write_text("old")
    with pytest.raises(exc), atomic_path(f) as tmp:
        tmp.write_text("half a fi")
        raise exc()
    assert f.read_text() == "old"
    assert leftovers(tmp_path) == []


def test_a_failure_mid_write_leaves_nothing_new(tmp_path: Path) -> None:
    f = tmp_path / "new.png"
    with pytest.raises(RuntimeError), atomic_path(f) as tmp:
        tmp.write_bytes(b"\x89PNG")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_write_into_a_missing_directory_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="cannot write"):
        write_text(tmp_path / "nope" / "x.json", "{}")


def test_check_writable_file(tmp_path: Path) -> None:
    assert check_writable_file(tmp_path / "a.png") == tmp_path / "a.png"
    with pytest.raises(ConfigError, match="does not exist"):
        check_writable_file(tmp_path / "missing" / "a.png")
    with pytest.raises(ConfigError, match="is a directory"):
        check_writable_file(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        check_writable_file("/dev/null/a.png")  # a parent that is a file


def test_atomic_dir_refuses_non_empty_without_force(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty; use --force"), atomic_dir(out):
        pass
    assert (out / "keep.txt").read_text() == "mine"
    with atomic_dir(out, force=True) as tmp:
        (tmp / "report.md").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["report.md"]
    assert leftovers(tmp_path) == []


def test_atomic_dir_failure_keeps_the_old_directory(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(KeyboardInterrupt), atomic_dir(out, force=True) as tmp:
        (tmp / "hist.png").write_bytes(b"partial")
        raise KeyboardInterrupt
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert leftovers(tmp_path) == []


def test_atomic_dir_failure_on_a_new_directory_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "new") as tmp:
        (tmp / "x").write_text("x")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


SAVE = """
import sys
from actstat.rendering.figures import pyplot, save_figure
plt = pyplot()
fig, ax = plt.subplots()
ax.plot([0, 1], [1, 0])
save_figure(fig, sys.argv[1], dpi=50)
"""


@pytest.mark.parametrize(
    "env",
    [{"MPLCONFIGDIR": "/dev/null/mpl"}, {"HOME": None}, {"HOME": "/dev/null", "XDG_CACHE_HOME": None}],
    ids=["unwritable-MPLCONFIGDIR", "no-HOME", "unwritable-HOME"],
)
def test_pictures_with_an_unwritable_matplotlib_config_dir(tmp_path: Path, env: dict[str, str | None]) -> None:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("MPL", "XDG_"))}
    for k, v in env.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    out = tmp_path / "p.png"
    r = subprocess.run([sys.executable, "-c", SAVE, str(out)], env=e, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert leftovers(tmp_path) == []


def test_a_failed_picture_leaves_no_file(tmp_path: Path) -> None:
    from actstat.rendering.figures import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots()
    ax.text(0, 0, "$\\frac{$")  # mathtext that cannot be parsed: savefig raises
    with pytest.raises(ValueError):
        save_figure(fig, tmp_path / "bad.png")
    assert list(tmp_path.iterdir()) == []


# --- issue 19 items 3 and 6: the output directory is checked again when it is replaced ------------

def _names(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_a_file_written_into_the_target_meanwhile_is_never_deleted(tmp_path: Path) -> None:
    out = tmp_path / "e"
    out.mkdir()
    with pytest.raises(OutputError, match="written to while this ran"), atomic_dir(out) as tmp:
        (tmp / "report.json").write_text("{}")
        (out / "theirs.txt").write_text("keep me")  # someone writes into the (empty) target meanwhile
    assert _names(out) == ["theirs.txt"] and (out / "theirs.txt").read_text() == "keep me"
    assert _names(tmp_path) == ["e"]  # no temporary directory left


def test_two_concurrent_writers_the_second_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "same"
    with pytest.raises(OutputError), atomic_dir(out) as second:
        (second / "b").write_text("second")
        with atomic_dir(out) as first:
            (first / "a").write_text("first")
    assert _names(out) == ["a"] and _names(tmp_path) == ["same"]


@pytest.mark.parametrize("exchange", [True, False])
def test_force_replaces_whole_and_leaves_no_hidden_copy(tmp_path: Path, exchange: bool, monkeypatch) -> None:
    from actstat import fileio

    if not exchange:
        monkeypatch.setattr(fileio, "_exchange", lambda a, b: False)
    out = tmp_path / "rep"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with atomic_dir(out, force=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert _names(out) == ["new.txt"] and _names(tmp_path) == ["rep"]
    assert str(out) in fileio.written


def test_a_failed_swap_puts_the_old_directory_back(tmp_path: Path, monkeypatch) -> None:
    from actstat import fileio

    monkeypatch.setattr(fileio, "_exchange", lambda a, b: False)
    out = tmp_path / "rep"
    out.mkdir()
    (out / "old.txt").write_text("old")
    real_rename = os.rename

    def rename(a, b):  # the second of the two renames fails
        if Path(a).name.endswith(".tmp") and Path(b) == out and not out.exists():
            raise OSError(5, "Input/output error")
        return real_rename(a, b)

    monkeypatch.setattr(fileio.os, "rename", rename)
    with pytest.raises(OutputError, match="cannot replace"), atomic_dir(out, force=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert _names(out) == ["old.txt"] and _names(tmp_path) == ["rep"]


def test_the_current_directory_is_never_an_output_directory(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "x.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    for out in (".", str(tmp_path), ".."):
        with pytest.raises(ConfigError, match="current directory"), atomic_dir(out, force=True):
            pass
    assert _names(tmp_path) == ["x.txt"]


def test_an_interruption_after_an_output_was_put_in_place_says_so(tmp_path: Path, monkeypatch) -> None:
    from actstat import fileio
    from actstat.cli.app import _what_was_written

    monkeypatch.setattr(fileio, "written", [])
    assert _what_was_written() == "no output was written."
    write_text(tmp_path / "a.png", "x")
    assert _what_was_written() == f"only {tmp_path / 'a.png'} was written."
