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
