"""Benchmarks that print figures (run through ``bin/benchmark.py``; never timed in tests)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["input_pipeline"]


def _median_rate(fn, repeats):
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - t))
    return float(np.median(rates))


def input_pipeline(*, model="k2c2", n_files=48, seconds=30.0, file_sr=22050, batch_size=16, steps=6,
                   repeats=3, workdir=None, progress=False):
    """Training steps/s with decoded audio in RAM, in the disk cache, and decoded every time.

    Writes ``n_files`` generated WAV clips (embedded-dataset music at ``file_sr``, so the model's
    rate needs resampling), then for each store mode times ``steps`` training steps of ``model``
    (median of ``repeats``, after a warm-up), and the pipeline alone (examples/s, no model).

    Returns
    -------
    dict
        Per mode: ``fill_seconds`` (building the store: decoding + resampling once for
        memory/disk), ``pipeline_examples_per_s``, ``train_steps_per_s``; plus ``model``,
        ``batch_size``.
    """
    import keras
    import soundfile as sf

    from . import models
    from .data import embedded
    from .data.pipeline import ClipStore, training_dataset

    tmp = Path(workdir or tempfile.mkdtemp(prefix="kerasmgr-bench-"))
    paths = []
    for i in range(n_files):
        g = embedded.GENRES[i % len(embedded.GENRES)]
        p = tmp / "wav" / f"{g}.{i:05d}.wav"
        if not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
            y, _ = embedded.generate_clip(g, embedded.clip_seed(99, g, i), sr=file_sr, duration=seconds)
            sf.write(p, y, file_sr)
        paths.append(str(p))
    net = models.build(model, n_outputs=8, activation="softmax")
    sr, n_samples = models.input_spec(net)
    net.compile("adam", "sparse_categorical_crossentropy")
    targets = np.arange(n_files) % 8
    out = {"model": model, "batch_size": batch_size, "n_files": n_files, "file_sample_rate": file_sr,
           "model_sample_rate": sr}
    for mode in ("memory", "disk", "none"):
        t = time.perf_counter()
        store = ClipStore(paths, sr, mode=mode, cache_dir=tmp / "cache", min_samples=n_samples, progress=progress)
        fill = time.perf_counter() - t
        ds, _ = training_dataset(store, targets, n_samples, batch_size=batch_size, seed=0)
        it = iter(ds)
        next(it)

        def pipeline_only():
            for _ in range(steps):
                next(it)
            return steps * batch_size

        def train_steps():
            net.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
            return steps

        net.fit(ds, steps_per_epoch=1, epochs=1, verbose=0)  # warm-up (graph tracing)
        out[mode] = {
            "fill_seconds": round(fill, 2),
            "pipeline_examples_per_s": round(_median_rate(pipeline_only, repeats), 2),
            "train_steps_per_s": round(_median_rate(train_steps, repeats), 3),
        }
        keras.backend.clear_session(free_memory=False)
    return out


def transfer_protocols(*, n_items=1000, n_classes=10, layer_dim=32, strengths=(0.2, 0.3, 0.4, 0.3, 0.25),
                       protocols=("thesis",), n_jobs=2, n_folds=10, seed=0, solver="smo"):
    """Seconds for the SVM transfer protocols over all layer combinations on synthetic features.

    ``n_items`` × ``len(strengths) * layer_dim`` features: layer k is Gaussian noise plus its own
    random class centres scaled by ``strengths[k]`` — every layer informative to a different
    degree, as conv layers are (the defaults give single-layer accuracies of 40–50 % and 95 % for
    all five over 10 classes). A strength of 0 makes a pure-noise layer, the slowest case for
    linear kernels. Every protocol runs the full grid over all ``2**n_layers - 1`` combinations.

    Returns
    -------
    dict
        ``{protocol: seconds}`` plus the problem size and the best/worst combination scores.
    """
    import time

    from . import svm, transfer

    svm.svc_path(np.eye(2), [0, 1], np.eye(2), [1.0])  # compile (or load numba's cache) before timing
    rng = np.random.default_rng(seed)
    y = np.arange(n_items) % n_classes
    blocks = {f"L{k}": rng.standard_normal((n_items, layer_dim)) + s * rng.standard_normal((n_classes, layer_dim))[y]
              for k, s in enumerate(strengths, 1)}
    n_layers = len(strengths)
    out = {"n_items": n_items, "dims": n_layers * layer_dim, "n_combinations": 2 ** n_layers - 1, "n_jobs": n_jobs,
           "solver": solver, "strengths": list(strengths)}
    for p in protocols:
        t = time.perf_counter()
        rows = transfer.run(blocks, y, layers=tuple(range(1, n_layers + 1)), protocols=(p,), n_folds=n_folds,
                            n_jobs=n_jobs, progress=False, solver=solver)
        out[p] = round(time.perf_counter() - t, 1)
        ranked = transfer.rank(rows)
        out[f"{p}_scores"] = {r["feature_set"]: round(r["score"], 3) for r in (ranked[0], ranked[-1])}
    return out


def adversary_speed(*, model_names=("k2c2", "dnn", "cdnn"), seconds=30.0, iterations=100, repeats=2, seed=0):
    """Seconds per adversarial example (spectral adversary, fixed number of iterations).

    Untrained models at their default inputs (the DNN classifies every frame, the CDNN every
    100-frame patch of the excerpt) on a ``seconds``-long noise excerpt; the stop threshold is
    unreachable so exactly ``iterations`` steps run. Median over ``repeats`` runs after a
    warm-up (which traces the step function).

    Returns
    -------
    dict
        ``{model: {'seconds': s, 'seconds_per_iteration': s / iterations, 'frames': n}}``.
    """
    import time

    from . import adversary, models

    out = {}
    for name in model_names:
        m = models.build(name, n_outputs=10, activation="softmax")
        view = adversary.SpectralView(m)
        x = (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * view.sample_rate))).astype(np.float32)
        adversary.spectral_adversary(view, x, 1, max_iter=2, stop=2.0)  # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            r = adversary.spectral_adversary(view, x, 1, max_iter=iterations, stop=2.0)
            times.append(time.perf_counter() - t)
        s = float(np.median(times))
        out[name] = {"seconds": round(s, 2), "seconds_per_iteration": round(s / max(r.iterations, 1), 4),
                     "iterations": r.iterations, "frames": int(r.magnitude.shape[0]),
                     "segments": view.n_segments(len(x)), "sample_rate": view.sample_rate}
    return out
