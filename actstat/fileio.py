"""Atomic file output: a failure or an interruption leaves the old file or nothing, never a
truncated one. Pure standard library."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import ActstatError, ConfigError


class OutputError(ActstatError):
    """A file or directory that cannot be written."""


# every output this process has put in place, in order (so that an interrupted command can say which
# outputs exist: a signal may arrive after the first of two pictures, or right after a swap)
written: list[str] = []


def _check_name_length(p: Path, parent: Path) -> None:
    """ConfigError when ``p``'s name, or the temporary sibling it is written to first (.NAME.XXXXXXXX.tmp
    plus its suffix), is longer than the file system allows."""
    try:
        limit = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    need = len(os.fsencode(p.name)) + 14 + len(os.fsencode(p.suffix))
    if need > limit:
        raise ConfigError(f"cannot write {p.name[:40]}...: the name is {len(os.fsencode(p.name))} bytes; with its"
                          f" temporary name it must stay within the file system's {limit}")


def check_writable_file(path: str | os.PathLike[str]) -> Path:
    """Fail early (before any computation) when ``path`` cannot be created or replaced."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if parent.is_dir():
        _check_name_length(p, parent)
    if not parent.is_dir():
        raise ConfigError(f"cannot write {p}: directory {parent} does not exist")
    if p.is_dir():
        raise ConfigError(f"cannot write {p}: it is a directory")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"cannot write {p}: directory {parent} is not writable")
    return p


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back (they are delivered on exit from the block), so that a
    temporary file is never created without its cleanup being armed."""
    import signal

    sigs = {signal.SIGINT, signal.SIGTERM} | ({signal.SIGHUP} if hasattr(signal, "SIGHUP") else set())
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    On any exception (KeyboardInterrupt included) the temporary file is removed and
    ``path`` is left as it was.
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    tmp = ""
    try:
        with _signals_deferred():
            fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp" + p.suffix, dir=parent)
            os.close(fd)
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a written file gets the usual mode
        with _signals_deferred():
            os.replace(tmp, p)
            written.append(str(p))
    except BaseException:
        if tmp:
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
    if parent.is_dir():
        _check_name_length(p, parent)  # (first: a name too long makes even exists() fail)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{p} exists and is not a directory")
    here = Path.cwd().resolve()
    if p.is_dir() and (p.resolve() == here or p.resolve() in here.parents):
        raise ConfigError(f"{p} is the current directory or holds it; name another directory")
    if p.is_dir() and any(p.iterdir()):
        if not force:
            raise ConfigError(f"{p} is not empty; use --force to replace it")
        _check_removable(p)
    if not parent.is_dir():
        raise ConfigError(f"cannot write {p}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"cannot write {p}: directory {parent} is not writable")
    return p


def _check_removable(p: Path) -> None:
    """ConfigError unless every directory in the tree ``p`` lets us remove its entries (else a replaced
    report could be neither removed nor put back whole)."""
    for d, _, _ in os.walk(p):
        if not os.access(d, os.W_OK | os.X_OK):
            raise ConfigError(f"cannot replace {p}: {d} is not writable")


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where that is not available."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str], force: bool = False) -> Iterator[Path]:
    """Build a directory's contents in a temporary sibling; move it into place on success.

    Refuses a non-empty existing ``path`` unless ``force``, checked again at the moment of replacement
    (a file written into it meanwhile, or a concurrent run that got there first, is never deleted). With
    ``force`` the old directory is swapped out in one step where the system can (else two renames in the
    same directory, undone if the second fails) and then removed; signals wait until that is done, so an
    interruption never leaves a half-swapped directory or a hidden copy behind.
    """
    p = check_output_dir(path, force)
    parent = p.parent if str(p.parent) else Path(".")
    tmp: Path | None = None
    try:
        with _signals_deferred():
            tmp = Path(tempfile.mkdtemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent))
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        with _signals_deferred():
            _put_in_place(tmp, p, parent, force)
            tmp = None
            written.append(str(p))
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise


def _put_in_place(tmp: Path, p: Path, parent: Path, force: bool) -> None:
    try:
        os.rename(tmp, p)  # succeeds only if p is absent or an empty directory: nothing is lost
        return
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise OutputError(f"cannot write {p}: {e.strerror}") from None
    if not force:
        raise OutputError(f"{p} was written to while this ran (it is not empty now); nothing was replaced:"
                          " use --force to replace it")
    try:
        _check_removable(p)
        if _exchange(tmp, p):  # tmp now holds the old contents
            shutil.rmtree(tmp, ignore_errors=True)
            return
        old = Path(tempfile.mktemp(prefix=f".{p.name}.", suffix=".old", dir=parent))
        os.rename(p, old)
        try:
            os.rename(tmp, p)
        except OSError:
            os.rename(old, p)  # put the old directory back
            raise
        shutil.rmtree(old, ignore_errors=True)
    except ConfigError as e:
        raise OutputError(str(e)) from None
    except OSError as e:
        raise OutputError(f"cannot replace {p}: {e.strerror}") from None
