"""The benchmark scripts run and report every figure (their numbers are not asserted: no timed tests)."""

import sys

import numpy as np
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's benchmarks/ folder

from benchmarks import harness as benchmark  # noqa: E402

SUITE_KEYS = {"e2e_clips_per_s", "e2e_realtime_factor", "librosa_clips_per_s", "speedup_vs_librosa",
              "gflop_per_clip", "achieved_gflops", "fraction_of_conv2d_limit", "train_steps_per_s_pipeline",
              "train_steps_per_s_memory", "pipeline_efficiency", "peak_rss_mb"}


def test_suite_reports_every_figure(tmp_path):
    r = benchmark.suite(model_names=("dnn",), n_files=2, seconds=3.0, file_sr=22050, repeats=1, train_steps=1,
                        workdir=tmp_path, isolate=False, progress=False)
    assert r["machine"]["conv2d_gflops"] > 0
    m = r["models"][0]
    assert SUITE_KEYS <= set(m) and all(m[k] > 0 for k in SUITE_KEYS)


def test_graph_flops_counts_a_dense_layer():
    import keras

    inp = keras.Input((100,))
    model = keras.Model(inp, keras.layers.Dense(10, use_bias=False)(inp))
    assert benchmark.graph_flops(model) == 2 * 100 * 10


def test_transfer_and_adversary_benchmarks_run():
    r = benchmark.transfer_protocols(n_items=60, n_classes=3, layer_dim=4, strengths=(0.5, 0.0), n_folds=3, n_jobs=1)
    assert r["thesis"] >= 0 and r["n_combinations"] == 3
    a = benchmark.adversary_speed(model_names=("dnn",), seconds=1.0, iterations=2, repeats=1)
    assert a["dnn"]["iterations"] == 2


def test_augmentation_benchmark_runs(tmp_path):
    r = benchmark.augmentation_rate(model="dnn", n_files=2, batch_size=4, steps=1, repeats=1, workdir=tmp_path)
    assert r["plain_memory"] > 0 and r["augmented_pipeline"] > 0 and r["ratio"] > 0


def test_tagging_benchmark_parts_run(tmp_path):
    """The fair baseline tags every file; the in-process figures and a timed child process are reported."""
    from benchmarks import librosa_baseline
    from kerasmgr import pretrained

    paths = benchmark.make_audio_files(2, 3.0, 22050, tmp_path)
    r = benchmark._tagging_in_process(paths, "k2c2-embedded", 1, 4, 1)
    assert all(r[k] > 0 for k in ("kerasmgr_clips_per_s", "librosa_threads_clips_per_s", "librosa_serial_clips_per_s",
                                  "librosa_per_file_clips_per_s", "kerasmgr_peak_rss_mb"))
    model, _ = pretrained.load("k2c2-embedded")
    tail, fe = librosa_baseline.network_without_frontend(model)
    scores = librosa_baseline.tag(paths, tail, fe, workers=2)
    assert scores.shape == (2, model.output_shape[-1]) and np.isfinite(scores).all()
    seconds, rss = benchmark._timed_child([sys.executable, "-c", "pass"])
    assert seconds > 0 and rss > 0


def test_training_and_transfer_scaling_benchmarks_run():
    r = benchmark.training_throughput(model="dnn", batch_size=4, steps=1, repeats=1, variants=("float32", "bfloat16"))
    assert r["device"].startswith(("CPU", "GPU")) and r["gflop_per_example_forward"] > 0
    assert r["variants"]["float32"]["steps_per_s"] > 0 and r["profile"]["layers"]
    assert r["profile"]["forward_seconds"] > 0 and r["profile"]["frontend_seconds"] > 0
    rows = benchmark.transfer_scaling(sizes=(60,), max_sets=(3,), tasks=("classification",), n_jobs=1)
    assert rows[0]["n_sets_run"] == 3 and rows[0]["extrapolated"] and rows[0]["peak_rss_mb"] > 0
