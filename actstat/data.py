"""The user's own inputs: .npy, .csv, .tsv files or CSV on stdin, and their preprocessing. Pure numpy.

Rows are the batch, columns the input dimension. Bad data raises ``DataError`` naming the
file, and where it applies the line and column (1-based, as an editor shows them).
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import IO

import numpy as np

from .errors import DataError

Array = np.ndarray

PREPROCESS = {
    "none": "the data as given",
    "center": "x - mean per feature",
    "standardize": "(x - mean) / std per feature (constant features: centred only)",
    "minmax": "(x - min) / (max - min) per feature, into [0, 1] (constant features: 0)",
}
SUFFIXES = (".npy", ".csv", ".tsv", ".txt")


def load_input(source: str, stdin: IO[str] | None = None) -> Array:
    """A (rows, features) float64 array from ``source``: a path (.npy, .csv, .tsv/.txt) or '-' (CSV on stdin)."""
    if source == "-":
        text = (stdin if stdin is not None else __import__("sys").stdin).read()
        return parse_delimited(text, "<stdin>", ",")
    path = Path(source)
    if not path.is_file():
        raise DataError(f"{source}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return load_npy(path)
    if suffix not in SUFFIXES:
        raise DataError(f"{source}: unknown data type '{suffix}'; use .npy, .csv or .tsv")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{source}: not a text file ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise DataError(f"{source}: cannot read ({e.strerror})") from None
    return parse_delimited(text, source, "\t" if suffix in (".tsv", ".txt") else ",")


def load_npy(path: Path) -> Array:
    """A 2-D numeric .npy; never unpickles (allow_pickle=False), so object arrays are refused."""
    try:
        with open(path, "rb") as fh:
            if fh.read(6) != b"\x93NUMPY":
                raise DataError(f"{path}: not a .npy file (no NumPy header)")
        a = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower() or "object" in str(e).lower():
            raise DataError(f"{path}: holds Python objects (a pickled object array); actstat never unpickles"
                            " data, save a numeric array instead") from None
        raise DataError(f"{path}: not a readable .npy file ({e})") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable .npy file ({e})") from None
    if not isinstance(a, np.ndarray):
        raise DataError(f"{path}: not a single array")
    if a.dtype.kind not in "biuf":
        raise DataError(f"{path}: dtype {a.dtype} is not numeric")
    if a.ndim != 2:
        raise DataError(f"{path}: a {a.ndim}-D array of shape {a.shape}; expected 2-D (rows = examples,"
                        " columns = features)")
    if a.size == 0:
        raise DataError(f"{path}: empty array of shape {a.shape}")
    a = a.astype(np.float64)
    bad = ~np.isfinite(a)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"{path}: row {r + 1}, column {c + 1}: {a[r, c]} is not a finite number")
    return a


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def parse_delimited(text: str, name: str, delimiter: str) -> Array:
    """CSV/TSV text to (rows, features). A first row with a non-numeric cell is a header."""
    import csv  # (only when there is text to parse)

    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    numbered = [(i + 1, r) for i, r in enumerate(rows) if any(c.strip() for c in r)]
    if not numbered:
        raise DataError(f"{name}: empty: no data rows")
    first_line, first = numbered[0]
    if any(_number(c) is None for c in first):
        numbered = numbered[1:]  # a header row
        if not numbered:
            raise DataError(f"{name}: only a header row, no data rows")
    width = len(numbered[0][1])
    data = np.empty((len(numbered), width))
    for i, (line, row) in enumerate(numbered):
        if len(row) != width:
            raise DataError(f"{name}: line {line} has {len(row)} columns, expected {width} (as line"
                            f" {numbered[0][0]})")
        for j, cell in enumerate(row):
            v = _number(cell)
            if v is None:
                raise DataError(f"{name}: line {line}, column {j + 1}: '{cell.strip()}' is not a number")
            if not math.isfinite(v):
                raise DataError(f"{name}: line {line}, column {j + 1}: '{cell.strip()}' is not a finite number")
            data[i, j] = v
    return data


def preprocess(x: Array, how: str) -> Array:
    """Per-feature preprocessing (a new array; the dtype is kept)."""
    if how == "none":
        return x
    if how not in PREPROCESS:
        raise ValueError(how)
    x64 = x.astype(np.float64)
    if how == "minmax":
        lo, hi = x64.min(axis=0), x64.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        out = np.where(hi > lo, (x64 - lo) / span, 0.0)
    else:
        out = x64 - x64.mean(axis=0)
        if how == "standardize":
            sd = out.std(axis=0)
            out = out / np.where(sd > 0, sd, 1.0)
    return out.astype(x.dtype, copy=False)


def feature_scale_ratio(x: Array) -> float | None:
    """Largest / smallest per-feature std over the non-constant features (None with fewer than two)."""
    with np.errstate(all="ignore"):
        sd = x.std(axis=0, dtype=np.float64)
    sd = sd[np.isfinite(sd) & (sd > 0)]
    if sd.size < 2:
        return None
    return float(sd.max() / sd.min())


def is_input_file(value: str) -> bool:
    return value == "-" or os.sep in value or Path(value).suffix.lower() in SUFFIXES
