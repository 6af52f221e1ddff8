#!/usr/bin/env python
"""Print performance figures (medians over repeated timed runs after a warm-up).

    python bin/benchmark.py [suite] [--models k2c2 crnn ...] [--json perf.json]   # the performance suite

    python bin/benchmark.py pipeline [--model k2c2] [--files 48]   # input pipeline, cache on/off
    python bin/benchmark.py transfer [--items 1000] [--protocol thesis nested] [--solver smo|libsvm]
    python bin/benchmark.py adversary [--models k2c2 dnn cdnn] [--seconds 30] [--iterations 100]
    python bin/benchmark.py prepare [--sizes 1000 10000]       # memory of sharded preparation
    python bin/benchmark.py notebooks [--fresh-cache]          # seconds per notebook (target: 3 min)
    python bin/benchmark.py tagging [--files 64]               # bin/tag.py against the fair librosa baseline
    python bin/benchmark.py augment                            # training with augmentation against plain
    python bin/benchmark.py training [--model k2c2]            # training vs the compute limit; prints the device
    python bin/benchmark.py transfer-scaling                   # SVM protocols at 1k/4k/10k items: time, peak RSS
    python bin/benchmark.py goals                              # issue 20's goals in one run, met or not
"""

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _print_goals(rows):
    """One line per ``(goal, measured, met)``: met / NOT met, nothing for figures without a target."""
    for goal, measured, met in rows:
        verdict = "" if met is None else ("met" if met else "NOT met")
        print(f"  {goal:<62}{measured:>26}  {verdict}")


def _finish(result, json_path):
    """Write the figures to ``json_path`` if one was given; the exit code."""
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=2))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what")
    ps = sub.add_parser("suite", help="per model: tagging from files vs a librosa baseline, training feed, FLOPs, RSS")
    ps.add_argument("--models", nargs="+", default=None, help="default: k2c2 crnn schindler_deep dnn cdnn")
    ps.add_argument("--files", type=int, default=8, help="generated 30-s stereo WAV files at --file-sr")
    ps.add_argument("--seconds", type=float, default=30.0)
    ps.add_argument("--file-sr", type=int, default=44100)
    ps.add_argument("--repeats", type=int, default=3)
    ps.add_argument("--train-steps", type=int, default=8)
    ps.add_argument("--extraction-sizes", type=int, nargs="*", default=[1000, 10000],
                    help="feature extraction over this many generated 1-s files: peak RSS (none: skip)")
    ps.add_argument("--durations", type=float, nargs="*", default=[10.0, 30.0, 60.0, 120.0],
                    help="k2c2 tagging time for one file of each duration (none: skip)")
    ps.add_argument("--json", help="also write the figures to this JSON file")
    pp = sub.add_parser("pipeline", help="training steps/s with decoded audio in RAM, disk cache, or none")
    pp.add_argument("--model", default="k2c2")
    pp.add_argument("--files", type=int, default=48)
    pp.add_argument("--batch-size", type=int, default=16)
    pp.add_argument("--steps", type=int, default=6)
    pp.add_argument("--repeats", type=int, default=3)
    pp.add_argument("--json", help="also write the figures to this JSON file")
    pt = sub.add_parser("transfer", help="seconds for the thesis/nested SVM protocols over all layer combinations")
    pt.add_argument("--items", type=int, default=1000)
    pt.add_argument("--protocol", nargs="+", choices=("thesis", "nested"), default=["thesis"])
    pt.add_argument("--n-jobs", type=int, default=2)
    pt.add_argument("--folds", type=int, default=10)
    pt.add_argument("--strengths", type=float, nargs="+", default=[0.2, 0.3, 0.4, 0.3, 0.25],
                    help="class signal per layer (0 = pure noise, the slowest case for linear kernels)")
    pt.add_argument("--solver", choices=("smo", "libsvm"), default="smo")
    pt.add_argument("--json", help="also write the figures to this JSON file")
    pa = sub.add_parser("adversary", help="seconds per adversarial example (30 s excerpt, 100 iterations)")
    pa.add_argument("--models", nargs="+", default=["k2c2", "dnn", "cdnn"])
    pa.add_argument("--seconds", type=float, default=30.0)
    pa.add_argument("--iterations", type=int, default=100)
    pa.add_argument("--repeats", type=int, default=2)
    pa.add_argument("--json", help="also write the figures to this JSON file")
    pr = sub.add_parser("prepare", help="peak RSS of bin/prepare_dataset.py + streaming from the shards, 1k vs 10k files")
    pr.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    pr.add_argument("--json", help="also write the figures to this JSON file")
    pq = sub.add_parser("parts", help="issue 22: extraction and tagging as job-array parts against one run "
                                      "(per-part overhead, merge time, memory per part), 1k vs 10k files")
    pq.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    pq.add_argument("--parts", type=int, default=4)
    pq.add_argument("--jobs", nargs="+", choices=("extract", "tag"), default=["extract", "tag"])
    pq.add_argument("--json", help="also write the figures to this JSON file")
    pg = sub.add_parser("augment", help="training steps/s with augmentation (tf.data feed) against the plain in-memory rate")
    pg.add_argument("--model", default="k2c2")
    pg.add_argument("--files", type=int, default=24)
    pg.add_argument("--batch-size", type=int, default=16)
    pg.add_argument("--steps", type=int, default=8)
    pg.add_argument("--repeats", type=int, default=5)
    pg.add_argument("--json", help="also write the figures to this JSON file")
    pt = sub.add_parser("tagging", help="issue 20: tagging from files against the fair librosa baseline, "
                                         "with and without start-up, and peak RSS")
    pt.add_argument("--files", type=int, default=64)
    pt.add_argument("--seconds", type=float, default=30.0)
    pt.add_argument("--file-sr", type=int, default=44100)
    pt.add_argument("--weights", default="k2c2-embedded")
    pt.add_argument("--batch-size", type=int, default=None, help="default: about a minute of audio per pass")
    pt.add_argument("--workers", type=int, default=None, help="decoding threads (default: the CPU count)")
    pt.add_argument("--repeats", type=int, default=3)
    pt.add_argument("--json", help="also write the figures to this JSON file")
    pr2 = sub.add_parser("training", help="issue 20: training steps/s against the compute limit, float32 / "
                                           "mixed precision / XLA, with a profile of one step (runs on a GPU too)")
    pr2.add_argument("--model", default="k2c2")
    pr2.add_argument("--batch-size", type=int, default=None)
    pr2.add_argument("--variants", nargs="+", default=["float32", "bfloat16", "jit"],
                     help="float32, bfloat16, float16 (GPUs), jit")
    pr2.add_argument("--steps", type=int, default=6)
    pr2.add_argument("--repeats", type=int, default=3)
    pr2.add_argument("--json", help="also write the figures to this JSON file")
    ps2 = sub.add_parser("transfer-scaling", help="issue 20: transfer protocol time and peak RSS at 1k/4k/10k items")
    ps2.add_argument("--items", type=int, nargs="+", default=[1000, 4000, 10000])
    ps2.add_argument("--max-sets", type=int, nargs="+", default=[31, 31, 6],
                     help="feature sets run per size (31: all; fewer: time extrapolated to 31)")
    ps2.add_argument("--protocol", choices=("thesis", "nested"), default="thesis")
    ps2.add_argument("--tasks", nargs="+", choices=("classification", "regression"),
                     default=["classification", "regression"])
    ps2.add_argument("--n-jobs", type=int, default=2)
    ps2.add_argument("--json", help="also write the figures to this JSON file")
    pgo = sub.add_parser("goals", help="issue 20: every goal measured in one run, and whether each is met "
                                        "(~30 minutes on 2 cores)")
    pgo.add_argument("--tag-files", type=int, default=64)
    pgo.add_argument("--transfer-items", type=int, nargs="+", default=[1000, 10000])
    pgo.add_argument("--transfer-max-sets", type=int, nargs="+", default=[31, 3])
    pgo.add_argument("--repeats", type=int, default=3)
    pgo.add_argument("--json", help="also write the figures to this JSON file")
    pn = sub.add_parser("notebooks", help="seconds for each notebook top to bottom (target: 3 minutes each)")
    pn.add_argument("paths", nargs="*", help="notebooks (default: notebooks/*.ipynb)")
    pn.add_argument("--fresh-cache", action="store_true",
                    help="synthesise the datasets again in a temporary cache, as on a new machine")
    pn.add_argument("--json", help="also write the figures to this JSON file")
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("suite", "pipeline", "transfer", "adversary", "prepare", "notebooks", "augment", "parts",
                                   "tagging", "training", "transfer-scaling", "goals",
                                   "-h", "--help"):
        argv = ["suite", *argv]  # the suite is the default
    a = p.parse_args(argv)
    from benchmarks import harness as benchmark

    if a.what == "suite":
        print(f"performance suite: {a.files} generated {a.seconds:g}-s stereo WAV files at {a.file_sr} Hz, "
              f"medians of {a.repeats} runs after a warm-up")
        r = benchmark.suite(model_names=tuple(a.models or benchmark.SUITE_MODELS), n_files=a.files,
                            seconds=a.seconds, file_sr=a.file_sr, repeats=a.repeats, train_steps=a.train_steps)
        mach = r["machine"]
        print("librosa: the fair baseline (benchmarks/librosa_baseline.py: librosa features in a thread pool, then ONE "
              "batched predict of the network without its front-end); per-file: features and predict file by file")
        print(f"machine: {mach['cpu_cores']} CPU cores, conv2d {mach['conv2d_gflops']:.1f} GFLOP/s (compute limit)")
        head = (f"{'model':<15}{'tag clips/s':>12}{'x realtime':>11}{'librosa':>9}{'ratio':>7}{'per-file':>9}{'GFLOP/clip':>11}"
                f"{'GFLOP/s':>9}{'of limit':>9}{'train st/s':>11}{'mem st/s':>9}{'feed %':>8}{'RSS MB':>8}")
        print(head)
        print("-" * len(head))
        for m in r["models"]:
            print(f"{m['model']:<15}{m['e2e_clips_per_s']:>12.2f}{m['e2e_realtime_factor']:>11.1f}"
                  f"{m['librosa_clips_per_s']:>9.2f}{m['speedup_vs_librosa']:>7.2f}"
                  f"{m['librosa_per_file_clips_per_s']:>9.2f}{m['gflop_per_clip']:>11.2f}"
                  f"{m['achieved_gflops']:>9.1f}{100 * m['fraction_of_conv2d_limit']:>8.0f}%"
                  f"{m['train_steps_per_s_pipeline']:>11.3f}{m['train_steps_per_s_memory']:>9.3f}"
                  f"{100 * m['pipeline_efficiency']:>7.0f}%{m['peak_rss_mb']:>8.0f}")
        if a.durations:
            r["duration_scaling"] = benchmark.duration_scaling(durations=tuple(a.durations))
            print("k2c2 tagging time against clip duration (linear cost: constant s per audio second)")
            for d in r["duration_scaling"]:
                print(f"  {d['seconds']:6.0f} s clip: {d['tag_seconds']:6.3f} s  "
                      f"({1000 * d['seconds_per_audio_second']:.2f} ms per audio second)")
        if a.extraction_sizes:
            r["extraction_memory"] = benchmark.extraction_memory(sizes=tuple(a.extraction_sizes))
            print("feature extraction (k2c2 random-convnet features, 1-s files repeated to the input length)")
            for e in r["extraction_memory"]:
                print(f"  {e['n_files']:6d} files: {e['seconds']:6.1f} s, peak RSS {e['peak_rss_mb']:.0f} MB")
        return _finish(r, a.json)

    if a.what == "augment":
        r = benchmark.augmentation_rate(model=a.model, n_files=a.files, batch_size=a.batch_size, steps=a.steps,
                                        repeats=a.repeats)
        print(f"{r['model']}, batch {r['batch_size']}: training steps/s, medians of {a.repeats} runs")
        print(f"  plain, in memory:               {r['plain_memory']:.3f}")
        print(f"  augmented + mixup, tf.data feed: {r['augmented_pipeline']:.3f}  "
              f"({100 * r['ratio']:.0f} % of the plain in-memory rate; target >= 90 %)")
        return _finish(r, a.json)

    if a.what == "goals":
        if len(a.transfer_max_sets) != len(a.transfer_items):
            p.error("--transfer-max-sets needs one value per --transfer-items value")
        r = benchmark.goals(tag_files=a.tag_files, transfer_sizes=tuple(a.transfer_items),
                            transfer_max_sets=tuple(a.transfer_max_sets), repeats=a.repeats)
        print(f"issue 20 goals on {benchmark.device()}")
        _print_goals(r["rows"])
        return _finish(r, a.json)

    if a.what == "transfer-scaling":
        if len(a.max_sets) != len(a.items):
            p.error("--max-sets needs one value per --items value")
        r = benchmark.transfer_scaling(sizes=tuple(a.items), max_sets=tuple(a.max_sets), protocol=a.protocol,
                                       tasks=tuple(a.tasks), n_jobs=a.n_jobs)
        print(f"transfer.run, {a.protocol} protocol, 5 x 32 synthetic features, 10 folds, {a.n_jobs} threads; "
              "targets: 10 min at 10,000 items, 60 s at 1,000, peak RSS <= 6 GB")
        for e in r:
            note = f"  (extrapolated from {e['n_sets_run']} of 31 sets)" if e["extrapolated"] else ""
            print(f"  {e['task']:<15}{e['n_items']:>7} items {e['seconds_all_sets']:9.1f} s  "
                  f"peak RSS {e['peak_rss_mb']:7.0f} MB{note}")
        return _finish(r, a.json)

    if a.what == "training":
        r = benchmark.training_throughput(model=a.model, batch_size=a.batch_size, steps=a.steps, repeats=a.repeats,
                                          variants=tuple(a.variants))
        print(f"{r['model']} training, batch {r['batch_size']}, on {r['device']}")
        print(f"  compute limit (conv2d): {r['conv2d_gflops']:.1f} GFLOP/s; forward "
              f"{r['gflop_per_example_forward']:.3f} GFLOP per example, a step ~3x that")
        for v, f in r["variants"].items():
            if "error" in f:
                print(f"  {v:<9} failed: {f['error']}")
            else:
                print(f"  {v:<9} {f['steps_per_s']:6.3f} steps/s  {f['examples_per_s']:6.1f} examples/s  "
                      f"{f['gflops']:6.1f} GFLOP/s = {100 * f['fraction_of_conv2d_limit']:4.1f} % of the limit")
        pf = r["profile"]
        print(f"  one float32 step: {pf['step_seconds']:.3f} s; forward {pf['forward_seconds']:.3f} s "
              f"(front-end {pf['frontend_seconds']:.3f} s); backward + update ~"
              f"{pf['step_seconds'] - pf['forward_seconds']:.3f} s" if pf["step_seconds"] else "")
        print("  forward by layer (s, output MB):")
        for e in pf["layers"]:
            print(f"    {e['layer']:<24}{e['seconds']:8.4f}{e['output_mb']:9.1f}")
        return _finish(r, a.json)

    if a.what == "tagging":
        r = benchmark.tagging(n_files=a.files, seconds=a.seconds, file_sr=a.file_sr, repeats=a.repeats,
                              weights=a.weights, batch_size=a.batch_size, workers=a.workers)
        print(f"tagging {a.files} generated {a.seconds:g}-s stereo PCM-16 WAVs at {a.file_sr} Hz with {a.weights} "
              f"(batch {r['batch_size'] or 'default'}), {os.cpu_count()} CPU cores; medians of {a.repeats} runs")
        print("  in one process (start-up excluded), clips/s:")
        print(f"    kerasmgr (bin/tag.py's tag_files)                 {r['kerasmgr_clips_per_s']:7.1f}")
        print(f"    librosa in a thread pool + one batched predict    {r['librosa_threads_clips_per_s']:7.1f}   (fair baseline)")
        print(f"    librosa in one thread + one batched predict       {r['librosa_serial_clips_per_s']:7.1f}")
        print(f"    librosa per file (predict per file)               {r['librosa_per_file_clips_per_s']:7.1f}")
        print(f"    kerasmgr / best batched baseline                  {r['speedup_vs_fair_baseline']:7.2f}x")
        print("  whole processes (imports and model loading included):")
        print(f"    bin/tag.py                      {r['tag_process_seconds']:6.2f} s   "
              f"peak RSS {r['tag_process_peak_rss_mb']:6.0f} MB")
        print(f"    benchmarks/librosa_baseline.py  {r['librosa_process_seconds']:6.2f} s   "
              f"peak RSS {r['librosa_process_peak_rss_mb']:6.0f} MB")
        print(f"    ratio                           {r['speedup_with_startup']:6.2f}x")
        print(f"  kerasmgr in-process peak RSS {r['kerasmgr_peak_rss_mb']:.0f} MB")
        _print_goals(r["goals"])
        return _finish(r, a.json)

    if a.what == "notebooks":
        import tempfile

        paths = a.paths or sorted(str(q) for q in (Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
        with tempfile.TemporaryDirectory() as cache:
            env = {"KERASMGR_CACHE": cache} if a.fresh_cache else None
            r = benchmark.notebook_times(paths, env=env)
        target = benchmark.NOTEBOOK_TARGET_SECONDS
        print(f"notebooks top to bottom, {os.cpu_count()} CPU cores, "
              f"{'fresh' if a.fresh_cache else 'existing'} dataset cache; target {target:.0f} s each")
        for e in r:
            verdict = ("ok" if e["seconds"] <= target else "OVER TARGET") if e["ok"] else f"FAILED: {e['error']}"
            print(f"  {e['notebook']:<44}{e['seconds']:8.1f} s   {verdict}")
        print(f"  {'total':<44}{sum(e['seconds'] for e in r if e['ok']):8.1f} s")
        if a.json:
            Path(a.json).write_text(json.dumps(r, indent=2))
        return 0 if all(e["ok"] for e in r) else 1

    if a.what == "parts":
        r = benchmark.part_overhead(sizes=tuple(a.sizes), n_parts=a.parts, jobs=tuple(a.jobs))
        print("k2c2 feature extraction and tagging of 1-s 12 kHz files: one process vs job-array parts run one after "
              "another (default options)")
        for e in r:
            print(f"  {e['job']:<7} {e['n_files']:6d} files: single {e['single_seconds']:6.1f} s "
                  f"({e['single_rss_mb']:.0f} MB); {e['n_parts']} parts {sum(e['part_seconds']):6.1f} s "
                  f"({', '.join(f'{t:.1f}' for t in e['part_seconds'])}; peak RSS "
                  f"{max(e['part_rss_mb']):.0f} MB); per-part overhead {e['per_part_overhead_seconds']:4.1f} s; "
                  f"merge {e['merge_seconds']:4.1f} s; byte-identical {e['byte_identical']}")
        return _finish(r, a.json)

    if a.what == "prepare":
        r = benchmark.preparation_memory(sizes=tuple(a.sizes))
        print("sharded TFRecord preparation (1-s 12 kHz files, int16) and 200 training batches streamed from it")
        for e in r:
            print(f"  {e['n_files']:6d} files: prepare {e['prepare_seconds']:6.1f} s, stream "
                  f"{e['stream_batches_per_s']:6.1f} batches/s, peak RSS {e['peak_rss_mb']:.0f} MB")
        return _finish(r, a.json)

    if a.what == "adversary":
        r = benchmark.adversary_speed(model_names=a.models, seconds=a.seconds, iterations=a.iterations,
                                      repeats=a.repeats)
        print(f"spectral adversary, {a.seconds:g} s excerpt, {a.iterations} iterations, {os.cpu_count()} CPU cores")
        print(f"{'model':<8}{'s/example':>11}{'s/iteration':>13}{'frames':>8}{'segments':>10}")
        for name, v in r.items():
            print(f"{name:<8}{v['seconds']:>11.2f}{v['seconds_per_iteration']:>13.4f}{v['frames']:>8}{v['segments']:>10}")
        return _finish(r, a.json)

    if a.what == "transfer":
        r = benchmark.transfer_protocols(n_items=a.items, protocols=a.protocol, n_jobs=a.n_jobs, n_folds=a.folds,
                                         strengths=tuple(a.strengths), solver=a.solver)
        print(f"{r['n_items']} items x {r['dims']} features (layer strengths {r['strengths']}), "
              f"{r['n_combinations']} layer combinations, {a.folds}-fold, {r['n_jobs']} jobs, solver {r['solver']}")
        for proto in a.protocol:
            print(f"  {proto:<8} {r[proto]:8.1f} s   best/worst: {r[proto + '_scores']}")
        return _finish(r, a.json)

    r = benchmark.input_pipeline(model=a.model, n_files=a.files, batch_size=a.batch_size, steps=a.steps,
                                 repeats=a.repeats)
    print(f"{r['model']}: {r['n_files']} WAV files at {r['file_sample_rate']} Hz -> {r['model_sample_rate']} Hz, "
          f"batch {r['batch_size']}")
    print(f"{'audio store':<12}{'fill (s)':>10}{'pipeline ex/s':>16}{'train steps/s':>15}")
    for mode in ("memory", "disk", "none"):
        m = r[mode]
        print(f"{mode:<12}{m['fill_seconds']:>10.1f}{m['pipeline_examples_per_s']:>16.1f}{m['train_steps_per_s']:>15.3f}")
    if a.json:
        Path(a.json).write_text(json.dumps(r, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
