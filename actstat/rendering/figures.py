"""Lazy matplotlib: imported only when a picture is asked for, always with the Agg backend."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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
    """matplotlib.pyplot with the Agg backend, and a writable config dir even without HOME."""
    if "MPLCONFIGDIR" not in os.environ:
        home = os.environ.get("HOME")
        cfg = Path(home) / ".config" / "matplotlib" if home else None
        if cfg is None or not _writable_dir(cfg):
            import tempfile

            os.environ["MPLCONFIGDIR"] = tempfile.mkdtemp(prefix="actstat-mpl-")
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _writable_dir(p: Path) -> bool:
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(p, os.W_OK)


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 100) -> None:
    """Save ``fig`` atomically to ``path`` (type from the extension), then close it."""
    kind = picture_type(path)
    plt = pyplot()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=kind, dpi=dpi, bbox_inches="tight")
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        plt.close(fig)
