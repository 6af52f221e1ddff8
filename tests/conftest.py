"""Shared fixtures: synthetic audio and an isolated dataset cache."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
BIN = Path(__file__).resolve().parents[1] / "bin"
_SCRIPTS = {}


def run_cli(script, *args):
    """Run ``bin/<script>`` with ``args`` in this process, as ``python bin/<script> args`` would.

    The script's own ``main`` goes through :func:`kerasmgr.cli.common.run` (so user errors give
    ``error: ...`` and exit code 2); stdout and stderr are captured. Only the interpreter start-up
    and the TensorFlow import are skipped (seconds per call); tests that need a separate process
    (several workers, a fresh interpreter) start one themselves.

    Returns
    -------
    subprocess.CompletedProcess
        ``returncode``, ``stdout``, ``stderr`` (text).
    """
    import contextlib
    import importlib.util
    import io
    import subprocess

    from kerasmgr.cli.common import run

    path = Path(script) if Path(script).is_absolute() else BIN / script
    mod = _SCRIPTS.get(path)
    if mod is None:
        spec = importlib.util.spec_from_file_location(f"bin_{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _SCRIPTS[path] = mod
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            run(lambda: mod.main(argv))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return subprocess.CompletedProcess([str(path), *argv], code, out.getvalue(), err.getvalue())


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
