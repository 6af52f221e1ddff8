"""Benchmarks that print figures (run through ``bin/benchmark.py``; never timed in tests)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["input_pipeline", "transfer_protocols", "adversary_speed", "suite", "graph_flops", "conv2d_gflops",
           "extraction_memory", "duration_scaling", "preparation_memory", "run_notebook", "notebook_times",
           "NOTEBOOK_TARGET_SECONDS", "make_audio_files", "tagging",
           "augmentation_rate", "training_throughput", "device", "transfer_scaling", "peak_rss_mb",
           "goals"]

NOTEBOOK_TARGET_SECONDS = 180.0  # issue 10: every notebook top to bottom in <= 3 minutes on 2 CPU cores


def peak_rss_mb():
    """This process's peak resident memory (MB), from Linux's ``VmHWM``.

    ``getrusage``'s ``ru_maxrss`` survives ``exec``: a process started by fork + exec (as
    multiprocessing's spawn and subprocess do) reports at least the parent's resident memory at
    the fork, so a worker forked from a process holding TensorFlow could never show less than
    that (the extraction figure read 1.7 GB this way; the extraction itself peaks below 1 GB).
    ``VmHWM`` belongs to the process's own address space. Elsewhere: ``ru_maxrss``.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_fresh_process(fn, *args):
    """``fn(*args)`` in a fresh (spawned) process, so its time and peak memory are its own."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


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

    from kerasmgr import models
    from kerasmgr.data import embedded
    from kerasmgr.data.pipeline import ClipStore, training_dataset

    tmp = Path(workdir or tempfile.mkdtemp(prefix="kerasmgr-bench-"))
    paths = []
    for i in range(n_files):
        g = embedded.GENRES[i % len(embedded.GENRES)]
        p = tmp / "wav" / f"{g}.{i:05d}.wav"
        if not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
            y, _ = embedded.generate_clip(g, embedded.clip_seed(99, g, i), sample_rate=file_sr, duration=seconds)
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

        def pipeline_only(it=it):  # bound explicitly: this mode's iterator
            for _ in range(steps):
                next(it)
            return steps * batch_size

        out[mode] = {
            "fill_seconds": round(fill, 2),
            "pipeline_examples_per_s": round(_median_rate(pipeline_only, repeats), 2),
            "train_steps_per_s": round(_steady_steps_per_s(net, ds, steps, repeats), 3),
        }
        keras.backend.clear_session(free_memory=False)
    return out


def _synthetic_layers(n_items, n_classes, layer_dim, strengths, seed, task="classification"):
    """Layer blocks ``L1..`` of Gaussian noise plus class centres scaled by ``strengths`` (see
    :func:`transfer_protocols`) and the targets: class ids, or for regression a real target
    (a sum of layer-3 features plus noise)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n_items) % n_classes
    blocks = {f"L{k}": rng.standard_normal((n_items, layer_dim)) + s * rng.standard_normal((n_classes, layer_dim))[y]
              for k, s in enumerate(strengths, 1)}
    if task == "regression":
        y = blocks[f"L{min(3, len(strengths))}"][:, :4].sum(axis=1) + 0.5 * rng.standard_normal(n_items)
    return blocks, y


def _transfer_run(n_items, protocol, task, max_sets, n_jobs, seed):
    """One transfer run on synthetic 5 × 32 features in this process: seconds, peak RSS, scores."""
    from kerasmgr import svm, transfer

    svm.svc_path(np.eye(2), [0, 1], np.eye(2), [1.0])  # compile (or load numba's cache) before timing
    blocks, y = _synthetic_layers(n_items, 10, 32, (0.2, 0.3, 0.4, 0.3, 0.25), seed, task)
    sets = [fs.name for fs in transfer.feature_sets((1, 2, 3, 4, 5))]
    only = None
    if max_sets and max_sets < len(sets):  # evenly spread over the sets, small to large
        only = [sets[i] for i in np.unique(np.linspace(0, len(sets) - 1, max_sets).round().astype(int))]
    t = time.perf_counter()
    rows = transfer.run(blocks, y, task=task, layers=(1, 2, 3, 4, 5), protocols=(protocol,), n_jobs=n_jobs,
                        progress=False, only=only)
    sec = time.perf_counter() - t
    return {"n_items": n_items, "task": task, "protocol": protocol, "n_sets_run": len(rows),
            "seconds": sec, "seconds_all_sets": sec * len(sets) / len(rows), "extrapolated": only is not None,
            "peak_rss_mb": peak_rss_mb(),
            "scores": {r["feature_set"]: round(r["score"], 4) for r in rows}}


def transfer_scaling(*, sizes=(1000, 4000, 10000), max_sets=(None, None, 6), protocol="thesis",
                     tasks=("classification", "regression"), n_jobs=2, seed=0):
    """Time and peak RSS of ``transfer.run`` at several sizes (issue 20's rows), each in a fresh process.

    Synthetic features of 5 layers × 32 dims (160, the thesis' per-layer average-pooled k2c2
    features); 10 classes, or a real target for regression. ``max_sets`` (per size; ``None``: all
    31): run only that many feature sets spread from the smallest to the largest and extrapolate
    the time to all 31 (marked ``extrapolated``); peak RSS does not depend on the number of sets.

    Returns
    -------
    list of dict
    """
    out = []
    for task in tasks:
        for n, k in zip(sizes, max_sets):
            out.append(_in_fresh_process(_transfer_run, n, protocol, task, k, n_jobs, seed))
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

    from kerasmgr import svm, transfer

    svm.svc_path(np.eye(2), [0, 1], np.eye(2), [1.0])  # compile (or load numba's cache) before timing
    blocks, y = _synthetic_layers(n_items, n_classes, layer_dim, strengths, seed)
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

    from kerasmgr import adversary, models

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


# ------------------------------------------------------------------------------------- the suite
SUITE_MODELS = ("k2c2", "crnn", "schindler_deep", "dnn", "cdnn")


def graph_flops(model):
    """Floating-point operations of one forward pass of one example, counted on the TF graph.

    TensorFlow's profiler counts the ops that register a FLOP count (convolutions, matrix
    products, element-wise arithmetic); FFTs are not counted.
    """
    import tensorflow as tf
    # TensorFlow internals, on purpose: freezing variables into constants (to count FLOPs from the
    # graph) has no public TF 2 API
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec([1, *model.input_shape[1:]], tf.float32)
    fn = tf.function(lambda x: model(x, training=False), autograph=False).get_concrete_function(spec)
    graph = convert_variables_to_constants_v2(fn).graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    return int(tf.compat.v1.profiler.profile(graph=graph, options=opts).total_float_ops)


def conv2d_gflops(*, repeats=5):
    """This machine's conv2d throughput (GFLOP/s): a 3×3, 32→64-channel convolution on 8 × 256 × 256."""
    import tensorflow as tf

    x = tf.random.normal((8, 256, 256, 32))
    k = tf.random.normal((3, 3, 32, 64))
    conv = tf.function(lambda a, b: tf.nn.conv2d(a, b, 1, "SAME"), autograph=False)
    conv(x, k).numpy()
    flops = 2.0 * 8 * 256 * 256 * 64 * 3 * 3 * 32
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        conv(x, k).numpy()
        times.append(time.perf_counter() - t)
    return flops / float(np.median(times)) / 1e9


def make_audio_files(n_files, seconds, file_sr, workdir):
    """``n_files`` generated stereo WAV clips (embedded-dataset music) at ``file_sr`` Hz."""
    import soundfile as sf

    from kerasmgr.data import embedded

    paths = []
    for i in range(n_files):
        g = embedded.GENRES[i % len(embedded.GENRES)]
        p = Path(workdir) / f"{g}.{i:05d}.{file_sr}.wav"
        if not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
            y, _ = embedded.generate_clip(g, embedded.clip_seed(7, g, i), sample_rate=file_sr, duration=seconds)
            sf.write(p, np.stack([y, 0.9 * y], 1), file_sr)
        paths.append(str(p))
    return paths


def _steady_steps_per_s(model, dataset, steps, repeats, warmup=2):
    """Training steps/s of ``model.fit`` on ``dataset`` in steady state: one fit of
    ``warmup + steps * repeats`` steps, the median over ``repeats`` windows of ``steps`` steps
    after the warm-up (tracing, first batches) — fit's own set-up and tear-down are not counted."""
    import keras

    ends = []

    class _Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            ends.append(time.perf_counter())

    model.fit(dataset, steps_per_epoch=warmup + steps * repeats, epochs=1, verbose=0, callbacks=[_Clock()])
    t = np.asarray(ends[warmup - 1:])
    return float(np.median([steps / (t[(k + 1) * steps] - t[k * steps]) for k in range(repeats)]))


def _bench_model(name, paths, seconds, repeats, train_steps, batch_size):
    """All figures of one model (run in a fresh process so peak RSS is the model's own)."""
    import keras
    import tensorflow as tf

    from kerasmgr import models
    from kerasmgr.jobs import tag as tagging
    from kerasmgr.data.pipeline import ClipStore, training_dataset

    keras.utils.set_random_seed(0)
    m = models.build(name, n_outputs=10, activation="sigmoid")
    sr, n = models.input_spec(m)
    meta = {"sample_rate": sr, "n_samples": n}
    bs = batch_size or models.training_defaults(name)["batch_size"]
    bs = min(bs, 64)
    out = {"model": name, "sample_rate": sr, "segment_samples": n, "segment_seconds": n / sr, "batch_size": bs,
           "n_files": len(paths), "clip_seconds": seconds}

    # end-to-end tagging from files (decode + resample + front-end + network)
    tagging.tag_files(m, meta, paths[:1], progress=False)

    def e2e():
        tagging.tag_files(m, meta, paths, progress=False)
        return len(paths)

    out["e2e_clips_per_s"] = _median_rate(e2e, repeats)
    out["e2e_realtime_factor"] = out["e2e_clips_per_s"] * seconds

    # the librosa-precompute baselines (benchmarks/librosa_baseline.py): per file (features, then
    # predict that file's windows), and the fair one — features in a thread pool, ONE batched predict
    rates = _baseline_rates(m, paths, repeats, bs, {"fair": {}, "per_file": {"batched": False}})
    out["librosa_per_file_clips_per_s"] = rates["per_file"]
    out["librosa_clips_per_s"] = rates["fair"]
    out["speedup_vs_librosa"] = out["e2e_clips_per_s"] / out["librosa_clips_per_s"]
    out["speedup_vs_librosa_per_file"] = out["e2e_clips_per_s"] / out["librosa_per_file_clips_per_s"]

    # FLOPs and the fraction of the machine's conv2d throughput reached while tagging
    flops = graph_flops(m)
    segs = max(1, int(seconds * sr) // n)
    out["gflop_per_segment"] = flops / 1e9
    out["gflop_per_clip"] = flops * segs / 1e9
    out["achieved_gflops"] = out["gflop_per_clip"] * out["e2e_clips_per_s"]

    # training: tf.data pipeline from decoded clips vs in-memory tensors, both through one model.fit
    # each, timed per step in steady state. (Timing whole fit calls instead also measures fit's
    # set-up and tear-down: destroying a tf.data iterator waits for tf.data's autotuning thread,
    # up to ~5 s on this machine, which made one rate look like half the other.)
    m.compile("adam", "binary_crossentropy")
    targets = (np.random.default_rng(0).random((len(paths), 10)) < 0.3).astype(np.float32)
    store = ClipStore(paths, sr, mode="memory", min_samples=n, progress=False)
    ds, _ = training_dataset(store, targets, n, batch_size=bs, seed=0)
    rng = np.random.default_rng(0)
    X = np.stack([store.get(i % len(store))[:n] for i in range(bs)]).astype(np.float32)
    Y = targets[rng.integers(0, len(targets), len(X))]
    in_memory = tf.data.Dataset.from_tensors((tf.constant(X), tf.constant(Y))).repeat()  # no input work at all
    rates = {"memory": _steady_steps_per_s(m, in_memory, train_steps, repeats),
             "pipeline": _steady_steps_per_s(m, ds, train_steps, repeats)}
    out["train_steps_per_s_memory"] = rates["memory"]
    out["train_steps_per_s_pipeline"] = rates["pipeline"]
    out["train_clips_per_s_pipeline"] = rates["pipeline"] * bs
    out["pipeline_efficiency"] = rates["pipeline"] / rates["memory"]
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def _timed_child(cmd):
    """Run ``cmd``; its wall seconds and peak RSS (MB). Call it in a fresh process (see
    :func:`_in_fresh_process`): RUSAGE_CHILDREN is the maximum over every child waited for."""
    import resource
    import subprocess

    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _tagging_in_process(paths, weights, repeats, batch_size, workers):
    """Clips/s of kerasmgr's tagging and of the librosa baselines in one process (no start-up)."""
    from kerasmgr import pretrained
    from kerasmgr.jobs import tag as tagging

    model, meta = pretrained.load(weights)
    tagging.tag_files(model, meta, paths[:4], progress=False, batch_size=batch_size, workers=workers)

    def ours():
        tagging.tag_files(model, meta, paths, progress=False, batch_size=batch_size, workers=workers)
        return len(paths)

    out = {"kerasmgr_clips_per_s": _median_rate(ours, repeats),
           "kerasmgr_peak_rss_mb": peak_rss_mb()}
    rates = _baseline_rates(model, paths, repeats, 16, {"librosa_threads": {"workers": workers},
                                                        "librosa_serial": {"workers": 1},
                                                        "librosa_per_file": {"batched": False}})
    out.update({f"{key}_clips_per_s": r for key, r in rates.items()})
    return out


def _baseline_rates(model, paths, repeats, batch_size, variants):
    """Clips/s of the librosa baselines (``benchmarks/librosa_baseline.py``) for ``model``'s
    network without its front-end: ``{name: rate}`` for ``variants`` ``{name: tag() keywords}``,
    each timed (median of ``repeats``) after one untimed run."""
    from . import librosa_baseline

    tail, fe = librosa_baseline.network_without_frontend(model)
    out = {}
    for name, kw in variants.items():
        def run(kw=kw):
            librosa_baseline.tag(paths, tail, fe, batch_size=batch_size, **kw)
            return len(paths)

        run()
        out[name] = _median_rate(run, repeats)
    return out


def tagging(*, n_files=64, seconds=30.0, file_sr=44100, repeats=3, weights="k2c2-embedded", batch_size=None,
            workers=None, workdir=None):
    """Issue 20's tagging figures: kerasmgr against the fair librosa baseline, with and without start-up.

    ``n_files`` generated ``seconds``-s stereo PCM-16 WAVs at ``file_sr`` Hz. In one process
    (model loaded, warmed up): clips/s of :func:`kerasmgr.jobs.tag.tag_files` and of the baselines
    of ``benchmarks/librosa_baseline.py`` — librosa features in a thread pool then one batched
    ``predict`` (the fair baseline), the same with one thread, and the per-file loop. As whole
    processes (start-up included): ``bin/tag.py`` and ``benchmarks/librosa_baseline.py`` on all
    files, wall seconds and peak RSS. Medians of ``repeats`` runs; each run in a fresh process.

    Returns
    -------
    dict
    """
    import sys

    root = Path(__file__).resolve().parent.parent
    workdir = Path(workdir or tempfile.mkdtemp(prefix="kerasmgr-tagging-"))
    paths = make_audio_files(n_files, seconds, file_sr, workdir)
    out = {"n_files": n_files, "clip_seconds": seconds, "file_sample_rate": file_sr, "weights": weights,
           "batch_size": batch_size}
    out.update(_in_fresh_process(_tagging_in_process, paths, weights, repeats, batch_size, workers))
    for key, cmd in (("tag_process", [sys.executable, str(root / "bin" / "tag.py"), "--weights", weights, *paths]),
                     ("librosa_process", [sys.executable, str(root / "benchmarks" / "librosa_baseline.py"),
                                          "--weights", weights, *paths])):
        runs = [_in_fresh_process(_timed_child, cmd) for _ in range(repeats)]
        out[f"{key}_seconds"] = float(np.median([r[0] for r in runs]))
        out[f"{key}_peak_rss_mb"] = float(max(r[1] for r in runs))
    fair = max(out["librosa_threads_clips_per_s"], out["librosa_serial_clips_per_s"])
    out["speedup_vs_fair_baseline"] = out["kerasmgr_clips_per_s"] / fair
    out["speedup_with_startup"] = out["librosa_process_seconds"] / out["tag_process_seconds"]
    out["goals"] = [("tagging >= 50 clips/s", f"{out['kerasmgr_clips_per_s']:.1f} clips/s",
                     out["kerasmgr_clips_per_s"] >= 50),
                    (">= 3x the fair librosa baseline", f"{out['speedup_vs_fair_baseline']:.2f}x",
                     out["speedup_vs_fair_baseline"] >= 3),
                    ("with start-up (no target)", f"{out['speedup_with_startup']:.2f}x", None),
                    ("bin/tag.py peak RSS <= 1 GB", f"{out['tag_process_peak_rss_mb']:.0f} MB",
                     _within_gb(out["tag_process_peak_rss_mb"], 1))]
    return out


def _within_gb(mb, gb):
    """Whether a peak RSS of ``mb`` MiB is at most ``gb`` GB (10⁹ bytes)."""
    return mb * 2 ** 20 <= gb * 1e9


def device():
    """The device TensorFlow computes on: the first GPU's name if there is one, else the CPU model."""
    import os
    import platform

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)} ({len(gpus)} visible)"
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {name} ({os.cpu_count()} cores)"


def _layer_times(model, x, repeats):
    """Forward seconds of each top-level layer of a functional model, on its input for ``x``
    (each layer compiled on its own; the sum is close to the whole forward pass)."""
    import keras
    import tensorflow as tf

    acts = {}
    taps = keras.Model(model.input, [layer.output for layer in model.layers[1:]])
    for layer, a in zip(model.layers[1:], taps(x, training=False)):
        acts[layer.name] = a
    out = []
    prev = tf.convert_to_tensor(x)
    for layer in model.layers[1:]:
        fn = tf.function(lambda v, layer=layer: layer(v, training=False), autograph=False)
        fn(prev)

        def run(fn=fn, prev=prev):
            np.asarray(fn(prev))
            return 1

        out.append({"layer": layer.name, "seconds": 1.0 / _median_rate(run, repeats),
                    "output_mb": float(np.prod(acts[layer.name].shape)) * 4 / 2 ** 20})
        prev = acts[layer.name]
    return out


def training_throughput(*, model="k2c2", batch_size=None, steps=6, repeats=3, variants=("float32", "bfloat16", "jit")):
    """Training steps/s of ``model`` on in-memory batches, as a fraction of the compute limit, with a
    profile of one step; runs unchanged on a GPU (the device is reported).

    The compute limit is this device's conv2d GFLOP/s (:func:`conv2d_gflops`); a training step
    costs about 3× the forward FLOPs (forward, gradients of the inputs and of the weights).
    Variants: ``float32``; ``bfloat16``/``float16`` (``models.build(mixed_precision=...)``); ``jit``
    (``compile(jit_compile=True)``, XLA). The profile times, for one batch: the front-end alone,
    each layer's forward pass, the whole forward pass and the whole training step.

    Returns
    -------
    dict
    """
    import keras
    import tensorflow as tf

    from kerasmgr import models
    from kerasmgr.frontends import find_frontend

    c = models.contract(model)
    bs = batch_size or models.training_defaults(model)["batch_size"]
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((bs, c.n_samples))).astype(np.float32)
    y = (rng.random((bs, 16)) < 0.3).astype(np.float32)
    data = tf.data.Dataset.from_tensors((tf.constant(x), tf.constant(y))).repeat()
    out = {"model": model, "batch_size": bs, "device": device(), "conv2d_gflops": conv2d_gflops()}
    keras.utils.set_random_seed(0)
    ref = models.build(model, n_outputs=16)
    out["gflop_per_example_forward"] = graph_flops(ref) / 1e9
    out["variants"] = {}
    for v in variants:
        keras.utils.set_random_seed(0)
        m = models.build(model, n_outputs=16, mixed_precision=v if v in models.MIXED_PRECISIONS else None)
        m.compile("adam", "binary_crossentropy", jit_compile=v == "jit")
        try:
            rate = _steady_steps_per_s(m, data, steps, repeats)
        except Exception as e:  # e.g. an op without a kernel for this dtype on this device
            out["variants"][v] = {"error": str(e).strip().splitlines()[0][:200]}
            continue
        gflops = 3 * out["gflop_per_example_forward"] * bs * rate
        out["variants"][v] = {"steps_per_s": rate, "examples_per_s": rate * bs, "gflops": gflops,
                              "fraction_of_conv2d_limit": gflops / out["conv2d_gflops"]}
    # profile of one float32 step
    fe = find_frontend(ref)
    fwd = tf.function(lambda v: ref(v, training=False), autograph=False)
    front = tf.function(lambda v: fe(v, training=False), autograph=False)
    fwd(x), front(x)
    step = out["variants"].get("float32", {}).get("steps_per_s")
    out["profile"] = {
        "frontend_seconds": 1.0 / _median_rate(lambda: (np.asarray(front(x)), 1)[1], repeats),
        "forward_seconds": 1.0 / _median_rate(lambda: (np.asarray(fwd(x)), 1)[1], repeats),
        "step_seconds": None if step is None else 1.0 / step,
        "layers": _layer_times(ref, x, repeats),
    }
    return out


def goals(*, tag_files=64, transfer_sizes=(1000, 10000), transfer_max_sets=(None, 3), extraction_files=1000,
          svr_sizes=(1000,), repeats=3, training_model="k2c2", training_variants=("float32", "bfloat16", "jit")):
    """Every measurable goal of issue 20 in one run: tagging speed, ratio and memory, extraction
    memory, training against the compute limit (float32, bfloat16, XLA), the transfer protocol's
    time and memory with SVC at ``transfer_sizes`` (``transfer_max_sets`` as in
    :func:`transfer_scaling`) and with SVR at ``svr_sizes`` (all sets; SVR at 10,000 items would
    take hours here).

    Returns
    -------
    dict
        ``rows``: ``(goal, measured, met)`` with ``met`` None for figures without a target, and
        every component's full result.
    """
    t = tagging(n_files=tag_files, repeats=repeats)
    ex = extraction_memory(sizes=(extraction_files,))[0]
    tr = training_throughput(model=training_model, repeats=repeats, variants=tuple(training_variants))
    sc = transfer_scaling(sizes=tuple(transfer_sizes), max_sets=tuple(transfer_max_sets), tasks=("classification",))
    sc += transfer_scaling(sizes=tuple(svr_sizes), max_sets=(None,) * len(svr_sizes), tasks=("regression",))
    by = {(e["task"], e["n_items"]): e for e in sc}
    rows = [*t["goals"], (f"extraction peak RSS <= 1 GB ({ex['n_files']} files)", f"{ex['peak_rss_mb']:.0f} MB",
                          _within_gb(ex["peak_rss_mb"], 1))]
    for v, f in tr["variants"].items():
        rows.append((f"training {v}: fraction of the compute limit (no target)",
                     f.get("error") or f"{100 * f['fraction_of_conv2d_limit']:.1f} %", None))
    for (task, n), e in sorted(by.items()):
        est = " (extrapolated)" if e["extrapolated"] else ""
        rows.append((f"transfer {task} {n} items: peak RSS <= 6 GB", f"{e['peak_rss_mb']:.0f} MB",
                     _within_gb(e["peak_rss_mb"], 6)))
        limit = {1000: 60.0, 10000: 600.0}.get(n)
        rows.append((f"transfer {task} {n} items" + (f" <= {limit:.0f} s" if limit else " (no target)"),
                     f"{e['seconds_all_sets']:.0f} s{est}", None if limit is None else e["seconds_all_sets"] <= limit))
    for n in sorted(set(transfer_sizes) | set(svr_sizes)):
        if ("classification", n) in by and ("regression", n) in by:
            svc, svr = by["classification", n]["seconds_all_sets"], by["regression", n]["seconds_all_sets"]
            rows.append((f"SVR as fast as SVC at {n} items", f"{svr:.0f} s vs {svc:.0f} s", svr <= 1.1 * svc))
    return {"rows": rows, "tagging": t, "extraction": ex, "training": tr, "transfer": sc}


def suite(*, model_names=SUITE_MODELS, n_files=12, seconds=30.0, file_sr=44100, repeats=3, train_steps=4,
          batch_size=None, workdir=None, isolate=True, progress=True):
    """The performance suite of ``bin/benchmark.py`` (issue 8): every figure for every model.

    Per model (its default input): end-to-end tagging of ``n_files`` generated stereo WAV files
    at ``file_sr`` Hz (decode, resample, front-end, network; clips/s and × real time); the
    librosa-precompute baseline (``librosa.load`` → ``melspectrogram``/``stft`` → dB per clip, then
    the network without its front-end) and the ratio; training steps/s through the ``tf.data``
    pipeline against in-memory tensors; FLOPs per segment and per clip from the graph, the
    GFLOP/s achieved while tagging and this machine's conv2d GFLOP/s; peak RSS. Medians over
    ``repeats`` timed runs after a warm-up. Each model runs in a fresh process (``isolate``) so
    its peak RSS is its own.

    Returns
    -------
    dict
        ``machine`` (cores, conv2d GFLOP/s) and ``models`` (one dict per model).
    """
    import os

    workdir = Path(workdir or tempfile.mkdtemp(prefix="kerasmgr-suite-"))
    paths = make_audio_files(n_files, seconds, file_sr, workdir / "audio")
    limit = conv2d_gflops()
    results = []
    for name in model_names:
        if progress:
            print(f"  {name} ...", flush=True)
        args = (name, paths, seconds, repeats, train_steps, batch_size)
        r = _in_fresh_process(_bench_model, *args) if isolate else _bench_model(*args)
        r["fraction_of_conv2d_limit"] = r["achieved_gflops"] / limit
        results.append(r)
    return {"machine": {"cpu_cores": os.cpu_count(), "conv2d_gflops": limit, "file_sample_rate": file_sr},
            "models": results}


def _extract_rss(paths, out):
    """Run a feature extraction over ``paths`` in this process; its peak RSS (MB) and seconds."""
    from kerasmgr import features
    from kerasmgr.jobs.extract import extract_array

    ext = features.FeatureExtractor(features.random_convnet("k2c2", seed=0))
    t = time.perf_counter()
    r = extract_array(paths, out, ext, progress=False)
    return {"n_files": len(paths), "n_ok": r["n_ok"], "seconds": time.perf_counter() - t,
            "peak_rss_mb": peak_rss_mb()}


def _tone_files(n, seconds, sample_rate, workdir):
    """``n`` short tone-and-noise WAV files under ``workdir/audio/<k>/`` (1,000 per folder)."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    paths = []
    for i in range(n):
        p = Path(workdir) / "audio" / f"{i // 1000:03d}" / f"clip{i:05d}.wav"
        if not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
            y = 0.3 * np.sin(2 * np.pi * (110 + 5 * (i % 200)) * t) + 0.05 * rng.standard_normal(len(t))
            sf.write(p, y.astype(np.float32), sample_rate, subtype="PCM_16")
        paths.append(str(p))
    return paths


def _prepare_rss(root, out, sample_rate, train_batches):
    """Prepare shards of a folder dataset, then stream training batches from them; peak RSS (MB)."""
    from kerasmgr.data.selection import DataSelection
    from kerasmgr.data.shards import ShardedSplit, sharded_training_dataset
    from kerasmgr.jobs.prepare import prepare_dataset

    t = time.perf_counter()
    m = prepare_dataset(DataSelection("folder", str(root)), out, sample_rate=sample_rate, progress=False)
    prep = time.perf_counter() - t
    split = ShardedSplit(out, "train")
    ds, _ = sharded_training_dataset(split, split.targets("genre"), sample_rate, batch_size=32)
    t = time.perf_counter()
    for _ in ds.take(train_batches):
        pass
    return {"n_files": sum(v["n_items"] for v in m["splits"].values()) + len(m["errors"]),
            "prepare_seconds": prep, "stream_batches_per_s": train_batches / (time.perf_counter() - t),
            "peak_rss_mb": peak_rss_mb()}


def preparation_memory(*, sizes=(1000, 10000), seconds=1.0, sample_rate=12000, train_batches=200, workdir=None):
    """Peak RSS of ``kerasmgr.jobs.prepare.prepare_dataset`` + streaming training batches from the shards, 1k vs 10k files.

    Each size runs in a fresh process on its own copy-free subset (folders of 1,000 files).
    """
    workdir = Path(workdir or tempfile.mkdtemp(prefix="kerasmgr-prepare-"))
    _tone_files(max(sizes), seconds, sample_rate, workdir)
    out = []
    for n in sizes:
        root = workdir / f"subset_{n}"
        if not root.exists():  # class folders of links to the first n files
            for k in range(int(np.ceil(n / 1000))):
                (root / f"{k:03d}").mkdir(parents=True, exist_ok=True)
                for f in sorted((workdir / "audio" / f"{k:03d}").glob("*.wav"))[: n - 1000 * k]:
                    (root / f"{k:03d}" / f.name).symlink_to(f)
        out.append(_in_fresh_process(_prepare_rss, str(root), str(workdir / f"shards_{n}"), sample_rate,
                                     train_batches))
    return out


def extraction_memory(*, sizes=(1000, 10000), seconds=1.0, sample_rate=12000, workdir=None):
    """Peak RSS of multi-layer convnet feature extraction over 1k and 10k generated files.

    Short noise-and-tone WAV files (``seconds`` long, repeated to the k2c2 input as in the thesis)
    keep the run short; memory independent of the number of files shows as equal peak RSS.
    Each size runs in a fresh process.
    """
    workdir = Path(workdir or tempfile.mkdtemp(prefix="kerasmgr-extract-"))
    paths = _tone_files(max(sizes), seconds, sample_rate, workdir)
    out = []
    for n in sizes:
        out.append(_in_fresh_process(_extract_rss, paths[:n], str(workdir / f"features_{n}")))
    return out


def part_overhead(*, sizes=(1000, 10000), n_parts=4, jobs=("extract", "tag"), seconds=1.0, sample_rate=12000,
                  workdir=None):
    """Issue 22: what splitting extraction and tagging into job-array parts costs against one run.

    For each job and size: the job over ``n`` generated files as one process (default options),
    then as ``n_parts`` processes with ``--part K/N`` run one after another, then
    ``bin/merge_parts.py``. Reports the wall seconds and peak RSS of each process, the per-part
    overhead ((sum of parts − single) / parts: mostly start-up — importing TensorFlow, loading the
    model, tracing), the merge time, and whether the merged files are byte-identical to the single
    run's.

    Returns
    -------
    list of dict
    """
    import filecmp
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    workdir = Path(workdir or tempfile.mkdtemp(prefix="kerasmgr-parts-"))
    paths = _tone_files(max(sizes), seconds, sample_rate, workdir)

    def timed(cmd):
        """Wall seconds and peak RSS (MB) of one process."""
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in (0, 1):  # tagging exits 1 when a file failed; generated files do not
            raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}")
        return time.perf_counter() - t, usage.ru_maxrss / 1024

    def commands(job, listing, out):
        if job == "extract":
            return [sys.executable, str(root / "bin" / "extract_features.py"), "--file-list", str(listing), "--out",
                    str(out)], [f"{out}.{e}" for e in ("npy", "csv", "json")], str(out)
        csv = f"{out}.csv"
        return [sys.executable, str(root / "bin" / "tag.py"), "--file-list", str(listing), "--save", csv], [csv], csv

    out = []
    for job in jobs:
        for n in sizes:
            listing = workdir / f"files_{n}.txt"
            listing.write_text("\n".join(paths[:n]) + "\n")
            cmd, single_files, _ = commands(job, listing, workdir / f"{job}_single_{n}")
            single, single_rss = timed(cmd)
            cmd, part_files, merge_arg = commands(job, listing, workdir / f"{job}_parts_{n}")
            parts = [timed([*cmd, "--part", f"{k}/{n_parts}"]) for k in range(1, n_parts + 1)]
            merge, _ = timed([sys.executable, str(root / "bin" / "merge_parts.py"), job, merge_arg])
            same = all(filecmp.cmp(a, b, shallow=False) for a, b in zip(single_files, part_files))
            out.append({"job": job, "n_files": n, "n_parts": n_parts, "single_seconds": single,
                        "single_rss_mb": single_rss, "part_seconds": [t for t, _ in parts],
                        "part_rss_mb": [m for _, m in parts],
                        "per_part_overhead_seconds": (sum(t for t, _ in parts) - single) / n_parts,
                        "merge_seconds": merge, "byte_identical": same})
    return out


def duration_scaling(*, model="k2c2", durations=(10.0, 30.0, 60.0, 120.0), repeats=3, file_sr=44100, workdir=None):
    """Seconds to tag one file of each duration (decode + resample + windows + network).

    Cost linear in clip duration shows as a constant ``seconds_per_audio_second``.
    """
    from kerasmgr import models
    from kerasmgr.jobs import tag as tagging

    workdir = Path(workdir or tempfile.mkdtemp(prefix="kerasmgr-duration-"))
    m = models.build(model, n_outputs=10, activation="sigmoid")
    sr, n = models.input_spec(m)
    meta = {"sample_rate": sr, "n_samples": n}
    rows = []
    for d in durations:
        path = make_audio_files(1, d, file_sr, workdir / f"{d:g}s")[0]
        tagging.tag_files(m, meta, [path], progress=False)

        def one(path=path):  # bound explicitly: this duration's file
            tagging.tag_files(m, meta, [path], progress=False)
            return 1

        s = 1.0 / _median_rate(one, repeats)
        rows.append({"seconds": d, "tag_seconds": s, "seconds_per_audio_second": s / d})
    return rows


def run_notebook(path, workdir, *, timeout=600, env=None):
    """Execute a notebook top to bottom in a fresh kernel, as a reader would (nbclient).

    Parameters
    ----------
    path : str or Path
        The ``.ipynb`` file (left unchanged).
    workdir : str or Path
        The kernel's working directory (the notebook's relative outputs go there).
    timeout : float
        Seconds allowed per cell.
    env : dict or None
        Extra environment variables for the kernel.

    Returns
    -------
    nb : nbformat.NotebookNode
        The executed notebook, with its outputs.
    seconds : float
        Wall time from kernel start to the last cell.

    Raises
    ------
    nbclient.exceptions.CellExecutionError
        A cell failed; the message holds the cell and its traceback.
    """
    import os

    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as e:  # a development dependency
        raise RuntimeError("running notebooks needs nbclient, nbformat and ipykernel: pip install -e '.[dev]'") from e
    nb = nbformat.read(str(path), as_version=4)
    Path(workdir).mkdir(parents=True, exist_ok=True)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    t = time.perf_counter()
    client.execute(env={**os.environ, **(env or {})})
    return nb, time.perf_counter() - t


def notebook_times(paths, *, workdir=None, env=None):
    """Wall time of each notebook run top to bottom (:func:`run_notebook`), in order.

    Notebooks share the dataset cache (``$KERASMGR_CACHE``), so the first to need a dataset
    also pays for synthesising it, as on a new machine.

    Returns
    -------
    list of dict
        ``notebook``, ``seconds``, ``ok`` and ``error`` (first line of the failure, or "").
    """
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for p in paths:
            try:
                _, sec = run_notebook(p, Path(workdir or tmp) / Path(p).stem, env=env)
                out.append({"notebook": Path(p).name, "seconds": sec, "ok": True, "error": ""})
            except Exception as e:  # report and go on to the next notebook
                out.append({"notebook": Path(p).name, "seconds": float("nan"), "ok": False,
                            "error": str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__})
    return out


def augmentation_rate(*, model="k2c2", n_files=24, batch_size=16, steps=8, repeats=5, workdir=None):
    """Training steps/s of a model with the default augmentation (and mixup for tags), fed by the
    tf.data pipeline from decoded clips, against the plain model trained on in-memory batches.

    The two are timed in alternation (``repeats`` rounds of ``steps`` steps each, after a warm-up)
    and the medians compared, so a slow spell of the machine hits both alike.

    Returns
    -------
    dict
        ``plain_memory``, ``augmented_pipeline`` (steps/s) and their ``ratio``.
    """
    import keras
    import tensorflow as tf

    from kerasmgr import models
    from kerasmgr.data.pipeline import ClipStore, mixup, training_dataset

    c = models.contract(model)
    workdir = Path(workdir or tempfile.mkdtemp(prefix="kerasmgr-augment-"))
    paths = make_audio_files(n_files, c.seconds + 1.0, 22050, workdir)
    store = ClipStore(paths, c.sample_rate, progress=False)
    targets = (np.random.default_rng(0).random((len(store), 16)) < 0.3).astype(np.float32)

    def runner(net, batches):
        net.compile("adam", "binary_crossentropy")
        it = iter(batches)
        for _ in range(2):
            net.train_on_batch(*next(it))

        def run():
            for _ in range(steps):
                net.train_on_batch(*next(it))
            return steps

        return run

    keras.utils.set_random_seed(0)
    plain = models.build(model, n_outputs=16)
    x = np.stack([store.crop(i % len(store), c.n_samples, 0.0) for i in range(batch_size)])
    mem = tf.data.Dataset.from_tensors((x, targets[np.arange(batch_size) % len(store)])).repeat()
    keras.utils.set_random_seed(0)
    aug = models.build(model, n_outputs=16, frontend={"augment": {}})
    ds, _ = training_dataset(store, targets, c.n_samples, batch_size=batch_size, seed=0)
    run_plain, run_aug = runner(plain, mem), runner(aug, mixup(ds, 0.2, seed=0))
    rates = np.array([(_median_rate(run_plain, 1), _median_rate(run_aug, 1)) for _ in range(repeats)])
    r_plain, r_aug = (float(v) for v in np.median(rates, axis=0))  # interleaved: drift hits both alike
    return {"model": model, "batch_size": batch_size, "plain_memory": r_plain, "augmented_pipeline": r_aug,
            "ratio": r_aug / r_plain}
