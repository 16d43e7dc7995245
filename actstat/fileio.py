"""Atomic file output: a failure or an interruption leaves the old file or nothing, never a
truncated one. Pure standard library."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import ActstatError, ConfigError


class OutputError(ActstatError):
    """A file or directory that cannot be written."""


def check_writable_file(path: str | os.PathLike[str]) -> Path:
    """Fail early (before any computation) when ``path`` cannot be created or replaced."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"cannot write {p}: directory {parent} does not exist")
    if p.is_dir():
        raise ConfigError(f"cannot write {p}: it is a directory")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"cannot write {p}: directory {parent} is not writable")
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    On any exception (KeyboardInterrupt included) the temporary file is removed and
    ``path`` is left as it was.
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp" + p.suffix, dir=parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a written file gets the usual mode
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None


def check_output_dir(path: str | os.PathLike[str], force: bool = False) -> Path:
    """Fail early (before any computation) when ``path`` cannot become a fresh output directory."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{p} exists and is not a directory")
    if p.is_dir() and any(p.iterdir()) and not force:
        raise ConfigError(f"{p} is not empty; use --force to replace it")
    if not parent.is_dir():
        raise ConfigError(f"cannot write {p}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"cannot write {p}: directory {parent} is not writable")
    return p


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str], force: bool = False) -> Iterator[Path]:
    """Build a directory's contents in a temporary sibling; move it into place on success.

    Refuses a non-empty existing ``path`` unless ``force`` (then it is replaced whole,
    only once the new contents are complete).
    """
    p = check_output_dir(path, force)
    parent = p.parent if str(p.parent) else Path(".")
    tmp = Path(tempfile.mkdtemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if p.is_dir():
            old = Path(tempfile.mkdtemp(prefix=f".{p.name}.", suffix=".old", dir=parent))
            os.replace(p, old / "x")
            os.replace(tmp, p)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, p)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
