"""Training limits BLAS to one thread with or without threadpoolctl."""

from __future__ import annotations

import builtins

import pytest

from actstat.executor import _BlasThreads
from actstat.training.loop import blas_threads


@pytest.mark.parametrize("with_threadpoolctl", [True, False])
def test_training_runs_on_one_blas_thread(with_threadpoolctl: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    blas = _BlasThreads.find()
    if blas is None:
        pytest.fail("numpy's OpenBLAS does not expose its thread count here")
    if not with_threadpoolctl:
        real = builtins.__import__

        def no_threadpoolctl(name: str, *args: object, **kw: object) -> object:
            if name.startswith("threadpoolctl"):
                raise ImportError(name)
            return real(name, *args, **kw)

        monkeypatch.setattr(builtins, "__import__", no_threadpoolctl)
    before = int(blas.get_fn())
    with blas_threads(1):
        assert int(blas.get_fn()) == 1
    assert int(blas.get_fn()) == before
