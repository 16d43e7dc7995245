"""Keep tests sealed off from the user's machine: no ACTSTAT_* defaults, seeded randomness."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings

# a long local fuzz run: pytest tests/test_fuzz.py --hypothesis-profile=fuzz-long
settings.register_profile("fuzz-long", max_examples=5000, deadline=None)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("ACTSTAT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """CS231n's relative error, elementwise max."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
