"""Data sets: the synthetic ones, files (.npz, .csv/.tsv with a label column, MNIST IDX written
here), splits, preprocessing from the training split, and bad data."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from actstat.errors import ConfigError, DataError
from actstat.training.datasets import apply_preprocess, fit_preprocess, load_dataset, read_idx, spiral


def test_spiral_is_the_case_study(rng) -> None:
    X, y = spiral(100, 3, rng)
    assert X.shape == (300, 2) and np.bincount(y).tolist() == [100, 100, 100]
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[:100], np.linspace(0, 1, 100), atol=1e-12)  # radius grows along each arm


def test_synthetic_splits_and_sizes() -> None:
    d = load_dataset("spiral", val_fraction=0.25, examples=400, classes=4)
    assert d.X_train.shape == (300, 2) and d.X_val.shape == (100, 2) and d.classes == 4
    assert set(np.unique(np.r_[d.y_train, d.y_val])) == {0, 1, 2, 3}
    t = load_dataset("teacher", input_dim=7, train_size=50)
    assert t.X_train.shape == (50, 7) and t.X_val.shape == (200, 7)
    assert len(np.unique(t.y_train)) >= 2
    b = load_dataset("blobs", seed=3)
    assert b.X_train.shape == (800, 2) and b.classes == 3
    # the same seed, the same data; another seed, other data
    assert np.array_equal(load_dataset("blobs", seed=3).X_train, b.X_train)
    assert not np.array_equal(load_dataset("blobs", seed=4).X_train, b.X_train)
    with pytest.raises(ConfigError, match="--train-size 900"):
        load_dataset("blobs", train_size=900)


def test_digits() -> None:
    d = load_dataset("digits", val_fraction=0.2)
    assert d.X_train.shape[0] + d.X_val.shape[0] == 1797 and d.features == 64 and d.classes == 10
    assert d.X_train.min() == 0.0 and d.X_train.max() == 1.0


def test_npz_and_delimited_files(tmp_path) -> None:
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10) % 3
    np.savez(tmp_path / "d.npz", X=X, y=y)
    d = load_dataset(str(tmp_path / "d.npz"), val_fraction=0.0)
    assert d.classes == 3 and d.name == "d.npz"
    order = np.argsort(d.X_train[:, 0])
    np.testing.assert_array_equal(d.X_train[order], X)
    np.testing.assert_array_equal(d.y_train[order], y)
    rows = "\n".join(f"{a},{c},{b}" for (a, b), c in zip(X, y))
    (tmp_path / "d.csv").write_text("f1,label,f2\n" + rows + "\n")
    c = load_dataset(str(tmp_path / "d.csv"), val_fraction=0.0)
    np.testing.assert_array_equal(c.X_train[np.argsort(c.X_train[:, 0])], X)
    (tmp_path / "d.tsv").write_text("f1\tk\tf2\n" + rows.replace(",", "\t") + "\n")
    t = load_dataset(str(tmp_path / "d.tsv"), val_fraction=0.0, label_column="k")
    np.testing.assert_array_equal(t.y_train[np.argsort(t.X_train[:, 0])], y)
    (tmp_path / "n.csv").write_text(rows + "\n")  # no header: the label column by number
    n = load_dataset(str(tmp_path / "n.csv"), val_fraction=0.0, label_column="2")
    np.testing.assert_array_equal(n.y_train[np.argsort(n.X_train[:, 0])], y)


@pytest.mark.parametrize("text,kw,match", [
    ("a,b\n1,0\n2,1\n", {}, "no label column 'label'"),
    ("a,label\n1,0.5\n2,1\n", {}, "not an integer class"),
    ("a,label\n1,-1\n2,1\n", {}, "out of range"),
    ("a,label\n1,0\n2,3\n", {"classes": 2}, "out of range for 2 classes"),
    ("a,label\nnan,0\n2,1\n", {}, "not a finite number"),
    ("a,label\nx,0\n2,1\n", {}, "not a number"),
])
def test_bad_delimited_files(tmp_path, text, kw, match) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises((DataError, ConfigError), match=match):
        load_dataset(str(p), **kw)


def test_bad_npz(tmp_path) -> None:
    np.savez(tmp_path / "a.npz", X=np.ones((3, 2)))
    with pytest.raises(DataError, match="needs arrays X and y"):
        load_dataset(str(tmp_path / "a.npz"))
    np.savez(tmp_path / "b.npz", X=np.array([[1.0, np.nan]]), y=np.array([0]))
    with pytest.raises(DataError, match="not a finite number"):
        load_dataset(str(tmp_path / "b.npz"))
    with pytest.raises(DataError, match="no such file"):
        load_dataset(str(tmp_path / "missing.npz"))
    with pytest.raises(ConfigError, match="--data must be"):
        load_dataset("nonsense")


def write_idx(path, a: np.ndarray, gz: bool) -> None:
    """The IDX format written by hand: 0, 0, type 0x08 (ubyte), ndim, big-endian dims, data."""
    raw = bytes([0, 0, 8, a.ndim]) + b"".join(struct.pack(">I", d) for d in a.shape) + a.astype(np.uint8).tobytes()
    if gz:
        raw = gzip.compress(raw)
    path.write_bytes(raw)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_reader(tmp_path, rng, gz) -> None:
    imgs = rng.integers(0, 256, (12, 3, 4), dtype=np.uint8)
    labs = (np.arange(12) % 10).astype(np.uint8)
    sfx = ".gz" if gz else ""
    write_idx(tmp_path / f"train-images-idx3-ubyte{sfx}", imgs, gz)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{sfx}", labs, gz)
    np.testing.assert_array_equal(read_idx(tmp_path / f"train-images-idx3-ubyte{sfx}"), imgs)
    d = load_dataset(f"mnist:{tmp_path}", val_fraction=0.25)
    assert d.X_train.shape == (9, 12) and d.X_val.shape == (3, 12) and d.classes == 10
    all_x = np.r_[d.X_train, d.X_val]
    np.testing.assert_allclose(np.sort(all_x.sum(axis=1)), np.sort(imgs.reshape(12, -1).sum(axis=1) / 255.0))
    # the t10k files are the validation set
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{sfx}", imgs[:5], gz)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{sfx}", labs[:5], gz)
    d = load_dataset(f"mnist:{tmp_path}")
    assert d.X_train.shape == (12, 12) and d.X_val.shape == (5, 12)
    np.testing.assert_array_equal(d.y_val, labs[:5])


def test_bad_idx(tmp_path) -> None:
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x01\x02\x08\x03")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"")
    with pytest.raises(DataError, match="bad magic"):
        load_dataset(f"mnist:{tmp_path}")
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 2, 2)), False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4), False)
    with pytest.raises(DataError, match="4 labels for 3 images"):
        load_dataset(f"mnist:{tmp_path}")
    raw = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(raw[:-1])
    with pytest.raises(DataError, match="bytes of data"):
        load_dataset(f"mnist:{tmp_path}")
    with pytest.raises(DataError, match="no such directory"):
        load_dataset(f"mnist:{tmp_path}/nope")


@pytest.mark.parametrize("how", ["center", "standardize", "minmax"])
def test_preprocessing_uses_the_training_split_only(rng, how) -> None:
    tr = rng.normal(5, 3, (50, 3))
    va = rng.normal(-2, 1, (20, 3))
    shift, scale = fit_preprocess(tr, how)
    a, b = apply_preprocess(tr, shift, scale), apply_preprocess(va, shift, scale)
    if how == "minmax":
        assert a.min() == 0 and a.max() == 1
        np.testing.assert_allclose(b, (va - tr.min(0)) / (tr.max(0) - tr.min(0)))
    else:
        np.testing.assert_allclose(a.mean(0), 0, atol=1e-12)
        sd = tr.std(0) if how == "standardize" else 1.0
        np.testing.assert_allclose(b, (va - tr.mean(0)) / sd)
