"""Labelled data sets for ``actstat train``. Pure numpy (scikit-learn only for ``digits``).

Specs (``--data``):

    spiral      the CS231n case study: C arms of a spiral in 2-D, r = linspace(0, 1), angle
                t = linspace(4j, 4(j + 1)) + 0.2 N(0, 1) for class j
    blobs       C Gaussian blobs (std 1) whose centres are N(0, 3^2) per coordinate, --input-dim features (2)
    teacher     x ~ N(0, 1) with --input-dim features (20); the label is the argmax of a random tanh
                teacher network (x -> 32 -> C, weights N(0, 1/fan_in))
    digits      scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), pixels / 16 into [0, 1]
    FILE.npz    arrays X (rows = examples) and y (integer labels 0..C-1)
    FILE.csv    a header row and a label column (--label-column, default "label"; or its 1-based
    FILE.tsv    number); every other column is a feature
    mnist:DIR   the MNIST IDX files in DIR (train-images-idx3-ubyte, train-labels-idx1-ubyte, gzipped or
                not); the t10k files, when present, are the validation set; pixels / 255 into [0, 1]

Splits: the examples are shuffled (a stream of their own from the seed), the first
``val_fraction`` of them become the validation set and the rest the training set, of which
``train_size`` (if given) are kept. Bad data raises ``DataError``.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError

Array = np.ndarray

SYNTHETIC = {
    "spiral": "the CS231n spiral: C arms in 2-D",
    "blobs": "C Gaussian blobs, centres N(0, 3^2)",
    "teacher": "labels from a random tanh teacher network (x -> 32 -> C)",
    "digits": "scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), pixels / 16",
}
DATASETS = dict(SYNTHETIC) | {
    "FILE.npz": "arrays X and y",
    "FILE.csv / FILE.tsv": "a header and a label column (--label-column)",
    "mnist:DIR": "the MNIST IDX files in DIR (gzipped or not); t10k = validation",
}
DEFAULT_EXAMPLES = 1000  # synthetic sets
DEFAULT_CLASSES = {"spiral": 3, "blobs": 3, "teacher": 3, "digits": 10}
DEFAULT_DIM = {"blobs": 2, "teacher": 20}
TEACHER_HIDDEN = 32
MAX_CLASSES = 100_000


@dataclass(frozen=True)
class Dataset:
    """X_*: (n, features) float64; y_*: (n,) int64 labels in 0..classes-1. X_val is (0, d) when empty."""

    X_train: Array
    y_train: Array
    X_val: Array
    y_val: Array
    classes: int
    name: str

    @property
    def features(self) -> int:
        return int(self.X_train.shape[1])


def load_dataset(
    spec: str, *, classes: int | None = None, train_size: int | None = None, val_fraction: float = 0.2,
    seed: int = 0, label_column: str | None = None, input_dim: int | None = None,
    examples: int | None = None,
) -> Dataset:
    """Load or make the data set ``spec`` (see the module docstring) and split it.

    classes: for synthetic sets the number of classes (default 3, digits 10); for files a bound the
    labels must respect (default: max label + 1). examples: the synthetic sets' size (1000).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"--val-fraction must be in [0, 1), got {val_fraction:g}")
    if train_size is not None and train_size < 1:
        raise ConfigError(f"--train-size must be at least 1, got {train_size}")
    if classes is not None and not 2 <= classes <= MAX_CLASSES:
        raise ConfigError(f"--classes must be from 2 to {MAX_CLASSES}, got {classes}")
    streams = np.random.SeedSequence(seed).spawn(7)  # 0-3 are the network's (actstat.network), 4 data, 5 split
    rng_data = np.random.Generator(np.random.PCG64(streams[4]))
    rng_split = np.random.Generator(np.random.PCG64(streams[5]))
    val: tuple[Array, Array] | None = None
    key = spec.strip()
    low = key.lower()
    if low in SYNTHETIC:
        if low == "digits" and input_dim is not None and input_dim != 64:
            raise ConfigError(f"--input-dim {input_dim} conflicts with digits' 64 features")
        if low == "spiral" and input_dim is not None and input_dim != 2:
            raise ConfigError(f"--input-dim {input_dim} conflicts with the spiral's 2 features")
        X, y, C = _synthetic(low, classes, input_dim, examples or DEFAULT_EXAMPLES, rng_data)
        name = low
    else:
        if low.startswith("mnist:"):
            X, y, val = load_mnist(key[6:])
            name = "mnist"
        else:
            X, y = load_labelled_file(key, label_column)
            name = Path(key).name
        if input_dim is not None and input_dim != X.shape[1]:
            raise ConfigError(f"--input-dim {input_dim} conflicts with the data's {X.shape[1]} features")
        top = int(y.max()) + 1
        if val is not None:
            top = max(top, int(val[1].max()) + 1 if val[1].size else 0)
        C = classes if classes is not None else max(top, 2)
        if top > C:
            raise DataError(f"{key}: label {top - 1} is out of range for {C} classes (labels must be 0..{C - 1})")
    order = rng_split.permutation(X.shape[0])
    X, y = X[order], y[order]
    if val is None:
        n_val = round(val_fraction * X.shape[0])
        X_val, y_val, X_tr, y_tr = X[:n_val], y[:n_val], X[n_val:], y[n_val:]
    else:
        X_tr, y_tr = X, y
        X_val, y_val = val
    if train_size is not None:
        if train_size > X_tr.shape[0]:
            raise ConfigError(f"--train-size {train_size} is more than the {X_tr.shape[0]} training examples")
        X_tr, y_tr = X_tr[:train_size], y_tr[:train_size]
    return Dataset(np.ascontiguousarray(X_tr), y_tr, np.ascontiguousarray(X_val), y_val, C, name)


# --- synthetic -------------------------------------------------------------------------


def _synthetic(name: str, classes: int | None, dim: int | None, n: int,
               rng: np.random.Generator) -> tuple[Array, Array, int]:
    if name == "digits":
        return _digits(classes)
    C = classes if classes is not None else DEFAULT_CLASSES[name]
    if n < C:
        raise ConfigError(f"{name}: {n} examples cannot hold {C} classes")
    if name == "spiral":
        return (*spiral(n // C, C, rng), C)
    d = dim if dim is not None else DEFAULT_DIM[name]
    if d < 1:
        raise ConfigError(f"--input-dim must be at least 1, got {d}")
    if name == "blobs":
        centres = 3.0 * rng.standard_normal((C, d))
        y = np.arange(n) % C
        X = centres[y] + rng.standard_normal((n, d))
        return X, y.astype(np.int64), C
    X = rng.standard_normal((n, d))
    W1 = rng.standard_normal((d, TEACHER_HIDDEN)) / math.sqrt(d)
    W2 = rng.standard_normal((TEACHER_HIDDEN, C)) / math.sqrt(TEACHER_HIDDEN)
    y = np.argmax(np.tanh(X @ W1) @ W2, axis=1).astype(np.int64)
    return X, y, C


def spiral(per_class: int, classes: int, rng: np.random.Generator) -> tuple[Array, Array]:
    """The CS231n case study's spiral: (per_class * classes, 2) points, labels 0..classes-1."""
    X = np.zeros((per_class * classes, 2))
    y = np.zeros(per_class * classes, dtype=np.int64)
    for j in range(classes):
        ix = slice(per_class * j, per_class * (j + 1))
        r = np.linspace(0.0, 1, per_class)
        t = np.linspace(j * 4, (j + 1) * 4, per_class) + rng.standard_normal(per_class) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = j
    return X, y


def _digits(classes: int | None) -> tuple[Array, Array, int]:
    if classes is not None and classes != 10:
        raise ConfigError(f"digits has 10 classes, got --classes {classes}")
    try:
        from sklearn.datasets import load_digits  # (an optional extra: pip install 'actstat[data]')
    except ImportError:
        raise ConfigError("--data digits needs scikit-learn: pip install 'actstat[data]'") from None
    d = load_digits()
    return np.asarray(d.data, dtype=np.float64) / 16.0, np.asarray(d.target, dtype=np.int64), 10


# --- files -----------------------------------------------------------------------------


def labels_from(values: Array, where: str) -> Array:
    """Integer labels 0..C-1 from a numeric array, or DataError naming the first bad one."""
    v = np.asarray(values)
    if v.ndim != 1:
        raise DataError(f"{where}: labels must be one column, got shape {v.shape}")
    if v.dtype.kind in "iu":
        lab = v.astype(np.int64)
    elif v.dtype.kind == "f":
        bad = ~np.isfinite(v) | (v != np.round(v))
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"{where}: label {v[i]!r} (example {i + 1}) is not an integer class")
        lab = v.astype(np.int64)
    elif v.dtype.kind == "b":
        lab = v.astype(np.int64)
    else:
        raise DataError(f"{where}: labels of dtype {v.dtype} are not integer classes")
    if lab.size and lab.min() < 0:
        i = int(np.argmin(lab))
        raise DataError(f"{where}: label {lab[i]} (example {i + 1}) is out of range (labels must be 0..C-1)")
    return lab


def check_features(X: Array, where: str) -> Array:
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise DataError(f"{where}: features of dtype {X.dtype} are not numeric")
    if X.ndim == 3:  # images: flatten each
        X = X.reshape(X.shape[0], -1)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{where}: expected features of shape (examples, features), got {X.shape}")
    X = X.astype(np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"{where}: example {r + 1}, feature {c + 1}: {X[r, c]} is not a finite number")
    return X


def load_labelled_file(path: str, label_column: str | None = None) -> tuple[Array, Array]:
    """(X, y) from a .npz (X and y) or a .csv/.tsv with a label column."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".npz", ".csv", ".tsv"):
        raise ConfigError(f"--data must be spiral, blobs, teacher, digits, a .npz/.csv/.tsv file or mnist:DIR,"
                          f" got {path}")
    if not p.is_file():
        raise DataError(f"{path}: no such file")
    if suffix == ".npz":
        if label_column is not None:
            raise ConfigError("--label-column is for .csv/.tsv files (a .npz holds X and y)")
        try:
            with np.load(p, allow_pickle=False) as z:
                if "X" not in z.files or "y" not in z.files:
                    raise DataError(f"{path}: needs arrays X and y, has {', '.join(z.files) or 'none'}")
                X, y = z["X"], z["y"]
        except (ValueError, OSError, EOFError) as e:
            raise DataError(f"{path}: not a readable .npz file ({e})") from None
        X = check_features(X, path)
        y = labels_from(y, path)
        if y.shape[0] != X.shape[0]:
            raise DataError(f"{path}: X has {X.shape[0]} examples and y {y.shape[0]} labels")
        return X, y
    return _delimited(p, "\t" if suffix == ".tsv" else ",", label_column or "label")


def _delimited(p: Path, delimiter: str, label_column: str) -> tuple[Array, Array]:
    import csv
    import io

    from ..data import parse_delimited

    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{p}: not a text file ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise DataError(f"{p}: cannot read ({e.strerror})") from None
    first = next((r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in r)), None)
    if first is None:
        raise DataError(f"{p}: empty: no data rows")
    names = [c.strip() for c in first]
    has_header = any(_not_number(c) for c in names)
    data = parse_delimited(text, str(p), delimiter)
    if has_header and label_column in names:
        j = names.index(label_column)
    elif label_column.isdigit() and 1 <= int(label_column) <= data.shape[1]:
        j = int(label_column) - 1
    else:
        have = f"columns: {', '.join(names)}" if has_header else f"no header row, {data.shape[1]} columns"
        raise DataError(f"{p}: no label column '{label_column}' ({have}); name it with --label-column"
                        " (a header name or a 1-based column number)")
    if data.shape[1] < 2:
        raise DataError(f"{p}: only the label column, no features")
    y = labels_from(data[:, j], f"{p}: column '{names[j] if has_header else j + 1}'")
    return np.ascontiguousarray(np.delete(data, j, axis=1)), y


def _not_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return True
    return False


# --- MNIST IDX -------------------------------------------------------------------------

IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
             0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: Path) -> Array:
    """One IDX file (the MNIST format: two zero bytes, a type code, the number of dimensions, each
    dimension as a big-endian uint32, then the data), gzipped or not."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: cannot read ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    nd = raw[3]
    if nd < 1 or len(raw) < 4 + 4 * nd:
        raise DataError(f"{path}: not an IDX file (truncated header)")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd))
    dt = np.dtype(IDX_TYPES[raw[2]])
    need = int(np.prod(dims)) * dt.itemsize
    body = raw[4 + 4 * nd:]
    if len(body) != need:
        raise DataError(f"{path}: {len(body)} bytes of data, the header's shape {dims} needs {need}")
    return np.frombuffer(body, dtype=dt).reshape(dims)


def _find_idx(d: Path, stem: str) -> Path | None:
    # the usual names: train-images-idx3-ubyte[.gz], and the variant train-images.idx3-ubyte
    for base in (stem, stem.replace("-idx", ".idx")):
        for name in (base, base + ".gz"):
            if (d / name).is_file():
                return d / name
    return None


def load_mnist(directory: str) -> tuple[Array, Array, tuple[Array, Array] | None]:
    """(X_train, y_train, (X_val, y_val) from the t10k files or None); pixels / 255."""
    d = Path(directory)
    if not d.is_dir():
        raise DataError(f"mnist:{directory}: no such directory")
    img, lab = _find_idx(d, "train-images-idx3-ubyte"), _find_idx(d, "train-labels-idx1-ubyte")
    if img is None or lab is None:
        raise DataError(f"mnist:{directory}: needs train-images-idx3-ubyte and train-labels-idx1-ubyte"
                        " (gzipped or not)")
    X, y = _idx_pair(img, lab)
    ti, tl = _find_idx(d, "t10k-images-idx3-ubyte"), _find_idx(d, "t10k-labels-idx1-ubyte")
    val = _idx_pair(ti, tl) if ti is not None and tl is not None else None
    if val is not None and val[0].shape[1] != X.shape[1]:
        raise DataError(f"{ti}: images of {val[0].shape[1]} pixels, the training images have {X.shape[1]}")
    return X, y, val


def _idx_pair(img: Path, lab: Path) -> tuple[Array, Array]:
    images, labels = read_idx(img), read_idx(lab)
    if images.ndim < 2:
        raise DataError(f"{img}: expected images (examples, rows, cols), got shape {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{lab}: expected one label per example, got shape {labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise DataError(f"{lab}: {labels.shape[0]} labels for {images.shape[0]} images in {img.name}")
    X = check_features(images.reshape(images.shape[0], -1), str(img))
    if images.dtype == np.uint8:
        X /= 255.0
    return X, labels_from(labels, str(lab))


# --- preprocessing from the training split --------------------------------------------


def fit_preprocess(X_train: Array, how: str) -> tuple[Array, Array]:
    """(shift, scale) so that (x - shift) / scale is ``how`` (actstat.data.PREPROCESS) with the
    statistics of the training split only; apply to every split with ``apply_preprocess``."""
    d = X_train.shape[1]
    if how == "none":
        return np.zeros(d), np.ones(d)
    if how == "minmax":
        lo, hi = X_train.min(axis=0), X_train.max(axis=0)
        return lo, np.where(hi > lo, hi - lo, 1.0)  # (constant features: 0 on the training split)
    mu = X_train.mean(axis=0)
    if how == "center":
        return mu, np.ones(d)
    if how == "standardize":
        sd = X_train.std(axis=0)
        return mu, np.where(sd > 0, sd, 1.0)
    raise ConfigError(f"--preprocess must be none, center, standardize or minmax, got {how}")


def apply_preprocess(X: Array, shift: Array, scale: Array) -> Array:
    return (X - shift) / scale
