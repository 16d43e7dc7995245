"""The user's own inputs: .npy, .csv, .tsv files or CSV on stdin, and their preprocessing. Pure numpy.

Rows are the batch, columns the input dimension. Bad data raises ``DataError`` naming the
file, and where it applies the line and column (1-based, as an editor shows them).
"""

from __future__ import annotations

import io
import math
import os
import sys
from pathlib import Path
from typing import IO

import numpy as np

from .errors import DataError, MemoryLimitError

Array = np.ndarray

PREPROCESS = {
    "none": "the data as given",
    "center": "x - mean per feature",
    "standardize": "(x - mean) / std per feature (constant features: centred only)",
    "minmax": "(x - min) / (max - min) per feature, into [0, 1] (constant features: 0)",
}
SUFFIXES = (".npy", ".csv", ".tsv", ".txt")


def load_input(source: str, stdin: IO[str] | None = None, force: bool = False) -> Array:
    """A (rows, features) float64 array from ``source``: a path (.npy, .csv, .tsv/.txt) or '-' (CSV on stdin).

    Nothing is read whole: a .npy's declared shape is checked against the file's size and the memory
    available before its data is touched (then mapped, not read), and delimited text is parsed row by
    row into an array that grows only while memory allows (``force`` skips the memory checks)."""
    if source == "-":
        fh = stdin if stdin is not None else sys.stdin
        if fh is None or fh.closed:
            raise DataError("--input -: standard input is closed")
        return _read_delimited(fh, "<stdin>", ",", force)
    path = Path(source)
    if not path.is_file():
        raise DataError(f"{source}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return load_npy(path, force)
    if suffix not in SUFFIXES:
        raise DataError(f"{source}: unknown data type '{suffix}'; use .npy, .csv or .tsv")
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return _read_delimited(fh, source, "\t" if suffix in (".tsv", ".txt") else ",", force)
    except UnicodeDecodeError as e:
        raise DataError(f"{source}: not a text file ({e.reason} at byte {_bad_utf8_offset(path)})") from None
    except OSError as e:
        raise DataError(f"{source}: cannot read ({e.strerror})") from None


def _bad_utf8_offset(path: Path) -> int | str:
    """The file offset of the first byte that is not UTF-8 (the decoder's own offset is per block)."""
    import codecs

    dec = codecs.getincrementaldecoder("utf-8-sig")()
    offset = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            pending = len(dec.getstate()[0])
            try:
                dec.decode(chunk)
            except UnicodeDecodeError as e:
                return offset - pending + e.start
            offset += len(chunk)
    return "?"


def check_room(name: str, need: int, force: bool) -> None:
    """MemoryLimitError when ``need`` bytes exceed 80% of the memory available (as the probe's guard)."""
    if force:
        return
    from .probe import _gib, available_memory  # (probe imports this module)

    have = available_memory()
    if have is not None and need > 0.8 * have:
        raise MemoryLimitError(f"{name}: reading it needs about {_gib(need)} of memory and {_gib(have)} is"
                               " available; use a smaller file, or --force to try anyway")


def _npy_header(fh: IO[bytes], path: Path) -> tuple[tuple[int, ...], bool, np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            return fmt.read_array_header_1_0(fh)
        if version == (2, 0):
            return fmt.read_array_header_2_0(fh)
        return fmt._read_array_header(fh, version)  # (3.0: no public reader)
    except (ValueError, SyntaxError, EOFError, AttributeError) as e:
        raise DataError(f"{path}: not a readable .npy file ({e})") from None


def load_npy(path: Path, force: bool = False) -> Array:
    """A 2-D numeric .npy; never unpickles (allow_pickle=False), so object arrays are refused."""
    try:
        with open(path, "rb") as fh:
            if fh.read(6) != b"\x93NUMPY":
                raise DataError(f"{path}: not a .npy file (no NumPy header)")
            fh.seek(0)
            shape, _, dtype = _npy_header(fh, path)
            offset = fh.tell()
        size = os.path.getsize(path)
    except OSError as e:
        raise DataError(f"{path}: not a readable .npy file ({e.strerror})") from None
    if dtype.hasobject:
        raise DataError(f"{path}: holds Python objects (a pickled object array); actstat never unpickles"
                        " data, save a numeric array instead")
    if dtype.kind not in "biuf":
        raise DataError(f"{path}: dtype {dtype} is not numeric")
    if len(shape) != 2:
        raise DataError(f"{path}: a {len(shape)}-D array of shape {shape}; expected 2-D (rows = examples,"
                        " columns = features)")
    n = shape[0] * shape[1]
    if n == 0:
        raise DataError(f"{path}: empty array of shape {shape}")
    declared = n * dtype.itemsize
    if size - offset < declared:
        raise DataError(f"{path}: truncated: its header declares shape {shape} ({declared} bytes of data)"
                        f" but the file holds {max(size - offset, 0)}")
    check_room(str(path), 9 * n, force)  # the float64 copy and a finiteness mask
    try:
        a = np.load(path, mmap_mode="r", allow_pickle=False)
        a = np.array(a, dtype=np.float64)  # (the mapped file is read once, into the copy)
    except (ValueError, OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable .npy file ({e})") from None
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
    return _read_delimited(io.StringIO(text), name, delimiter, force=True)


def _read_delimited(fh: IO[str], name: str, delimiter: str, force: bool) -> Array:
    """Rows of ``fh`` (CSV/TSV) parsed one at a time into a float64 array that doubles as it fills, each
    growth checked against the memory available. A first row with a non-numeric cell is a header."""
    import csv  # (only when there is text to parse)

    data: Array | None = None
    n = width = 0
    first_line = 0
    header_possible, saw_header = True, False
    for line, row in enumerate(csv.reader(fh, delimiter=delimiter), start=1):
        if not any(c.strip() for c in row):
            continue
        try:
            vals = [float(c) for c in row]
        except ValueError:
            if header_possible:  # a header row
                header_possible, saw_header = False, True
                continue
            vals = []
        header_possible = False
        if data is None:
            width, first_line = len(row), line
            data = np.empty((max(1, min(1024, (1 << 20) // (8 * width))), width))
        if len(row) != width:
            raise DataError(f"{name}: line {line} has {len(row)} columns, expected {width} (as line"
                            f" {first_line})")
        if len(vals) != width or not math.isfinite(sum(vals)):  # (inf or nan somewhere, or a sum past the limits)
            for j, cell in enumerate(row):
                v = _number(cell)
                if v is None:
                    raise DataError(f"{name}: line {line}, column {j + 1}: '{cell.strip()}' is not a number")
                if not math.isfinite(v):
                    raise DataError(f"{name}: line {line}, column {j + 1}: '{cell.strip()}' is not a finite"
                                    " number")
        if n == data.shape[0]:
            check_room(name, 2 * data.nbytes, force)  # (at worst realloc holds the old and the doubled array)
            data.resize((2 * n, width), refcheck=False)  # realloc: large blocks grow by remapping, not copying
        data[n] = vals
        n += 1
    if data is None:
        raise DataError(f"{name}: only a header row, no data rows" if saw_header else f"{name}: empty: no data rows")
    data.resize((n, width), refcheck=False)
    return data


def preprocess(x: Array, how: str) -> Array:
    """Per-feature preprocessing (a new array; the dtype is kept).

    Each feature is first scaled by a power of two that brings its largest magnitude near 1 (exact), so
    that sums, squares and differences cannot overflow for data near the float limits; the results are
    the same numbers as without the scaling wherever that did not overflow."""
    if how == "none":
        return x
    if how not in PREPROCESS:
        raise ValueError(how)
    x64 = x.astype(np.float64)
    top = np.abs(x64).max(axis=0)
    k = np.frexp(np.where(top > 0, top, 1.0))[1]  # top = m * 2**k, 0.5 <= m < 1
    xs = np.ldexp(x64, -k)
    if how == "minmax":
        lo, hi = xs.min(axis=0), xs.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)  # (of scaled values: at most 2)
        out = np.where(hi > lo, (xs - lo) / span, 0.0)
    else:
        out = xs - xs.mean(axis=0)
        if how == "standardize":
            sd = out.std(axis=0)
            out = out / np.where(sd > 0, sd, 1.0)
        else:
            with np.errstate(over="ignore"):  # |x - mean| may exceed the float range: inf, reported as such
                out = np.ldexp(out, k)
    return as_dtype(out, x.dtype)


def as_dtype(x: Array, dtype: np.dtype | str) -> Array:
    """``x`` in ``dtype``; DataError when finite data do not fit it (float32 holds up to ~3.4e38)."""
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    if dtype.kind == "f" and x.size and x.dtype.itemsize > dtype.itemsize:
        top = float(np.abs(x).max())
        if top > float(np.finfo(dtype).max):
            raise DataError(f"the input has values up to {top:.3g}, beyond {dtype}'s range"
                            f" ({float(np.finfo(dtype).max):.3g}); use --dtype float64, or --preprocess"
                            " standardize or minmax")
    return x.astype(dtype)


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
