"""Lazy matplotlib: imported only when a picture is asked for, always with the Agg backend."""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

from ..errors import ConfigError
from ..fileio import OutputError, atomic_path

PICTURE_TYPES = ("png", "svg", "pdf")


def picture_type(path: str | os.PathLike[str]) -> str:
    """The file type from the extension; ConfigError (exit 2) for anything but png/svg/pdf."""
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in PICTURE_TYPES:
        raise ConfigError(f"{path}: picture type from the extension must be one of .png, .svg, .pdf")
    return ext


def pyplot() -> Any:
    """matplotlib.pyplot with the Agg backend.

    matplotlib needs a writable config and cache directory; when the one it would use is not
    writable (read-only HOME, HOME unset, an unwritable MPLCONFIGDIR), a private temporary one
    is used instead, removed at exit, so no warning reaches the user.
    """
    global _TMP_CONFIG
    dirs = _matplotlib_dirs()
    if not dirs or not all(_writable_dir(d) for d in dirs):
        if _TMP_CONFIG is None:
            import atexit
            import shutil
            import tempfile

            _TMP_CONFIG = tempfile.mkdtemp(prefix="actstat-mpl-")
            atexit.register(shutil.rmtree, _TMP_CONFIG, True)
        os.environ["MPLCONFIGDIR"] = _TMP_CONFIG
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


_TMP_CONFIG: str | None = None


def _matplotlib_dirs() -> list[Path]:
    """The config and cache directories matplotlib would pick (its own rules), if any."""
    if os.environ.get("MPLCONFIGDIR"):
        return [Path(os.environ["MPLCONFIGDIR"])]
    home = os.environ.get("HOME")
    dirs = []
    for xdg, default in (("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache")):
        base = os.environ.get(xdg) or (str(Path(home) / default) if home else None)
        if base is None:
            return []  # nowhere to write: a temporary directory
        dirs.append(Path(base) / "matplotlib")
    return dirs


def _writable_dir(p: Path) -> bool:
    if not p.is_absolute():
        return False
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(p, os.W_OK)


def quiet(fn: Callable[..., T]) -> Callable[..., T]:
    """Run ``fn`` with numpy's floating-point warnings off: matplotlib computes with the extreme values
    of an overflowed network (log scales near 1e308) and must not print RuntimeWarnings."""
    import functools
    import warnings

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        import numpy as np

        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fn(*args, **kwargs)

    return wrapper


@quiet
def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 100) -> None:
    """Save ``fig`` atomically to ``path`` (type from the extension), then close it."""
    kind = picture_type(path)
    plt = pyplot()
    try:
        # the same command gives the same bytes: no creation date, SVG ids from a fixed salt
        meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}}.get(kind)
        with atomic_path(path) as tmp, plt.rc_context({"svg.hashsalt": "actstat"}):
            fig.savefig(tmp, format=kind, dpi=dpi, bbox_inches="tight", metadata=meta)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        plt.close(fig)
