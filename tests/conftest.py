"""Shared fixtures: synthetic audio and an isolated dataset cache."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Never write the embedded dataset into the user's cache from the tests."""
    old = os.environ.get("KERASMGR_CACHE")
    os.environ["KERASMGR_CACHE"] = str(tmp_path_factory.mktemp("kerasmgr-cache"))
    yield
    if old is None:
        os.environ.pop("KERASMGR_CACHE", None)
    else:
        os.environ["KERASMGR_CACHE"] = old


def make_signal(kind, sr, seconds, seed=0):
    """Test signals: 'noise', 'sine' (440 Hz), 'chirp' (50 Hz -> sr/3), 'mix', 'silence'."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    if kind == "noise":
        y = 0.1 * rng.standard_normal(n)
    elif kind == "sine":
        y = 0.5 * np.sin(2 * np.pi * 440 * t)
    elif kind == "chirp":
        f1 = sr / 3
        y = 0.4 * np.sin(2 * np.pi * (50 * t + (f1 - 50) * t ** 2 / (2 * seconds)))
    elif kind == "mix":
        y = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.2 * np.sin(2 * np.pi * 1250 * t) + 0.03 * rng.standard_normal(n)
    elif kind == "silence":
        y = np.zeros(n)
    else:
        raise ValueError(kind)
    return y.astype(np.float32)


@pytest.fixture
def signal():
    return make_signal
