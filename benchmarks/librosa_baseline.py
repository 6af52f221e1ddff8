"""The fair baseline for tagging: what a competent user writes without kerasmgr's on-graph front-end.

    python benchmarks/librosa_baseline.py FILES... [--weights k2c2-embedded] [--workers 2] [--batch-size 16]

Per file ``librosa.load(sr=<model rate>, mono=True)`` → ``melspectrogram`` (or ``stft``/``cqt``,
the model's front-end settings) → ``power_to_db``, in a thread pool (librosa's decoding,
resampling, FFTs and matrix products release the GIL); the spectrograms are cut into model-sized
windows and the network *without its front-end* predicts all of them in ONE batched call. The
window scores of each file are averaged, as ``bin/tag.py`` does. The spectrograms approximate the
front-end's output (no standardisation), which changes the numbers, not the cost.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np


def librosa_features(path, fe):
    """librosa.load → (mel)spectrogram → dB with the front-end ``fe``'s settings; (frames, bins) float32."""
    import librosa

    y, sr = librosa.load(path, sr=fe.sample_rate, mono=True)
    if fe.kind == "mel":
        S = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=fe.n_fft, hop_length=fe.hop_length, n_mels=fe.n_mels,
                                           fmin=fe.fmin or 0.0, fmax=fe.fmax, power=fe.power, center=fe.center)
        S = librosa.power_to_db(S, top_db=fe.top_db) if fe.magnitude_scale == "db" else S
    elif fe.kind == "stft":
        S = np.abs(librosa.stft(y, n_fft=fe.n_fft, hop_length=fe.hop_length, center=fe.center)) ** fe.power
        S = librosa.amplitude_to_db(S, top_db=fe.top_db) if fe.magnitude_scale == "db" else S
    else:
        S = np.abs(librosa.cqt(y, sr=sr, hop_length=fe.hop_length, n_bins=fe.n_bins,
                               bins_per_octave=fe.bins_per_octave))
    return S.T.astype(np.float32)


def windows(S, n_frames):
    """The whole ``n_frames`` windows of a (frames, bins) spectrogram, no overlap (a shorter one:
    a single zero-padded window), as ``bin/tag.py`` cuts waveforms; shape (k, n_frames, bins, 1)."""
    k = max(1, S.shape[0] // n_frames)
    x = np.zeros((k, n_frames, S.shape[1], 1), np.float32)
    for i in range(k):
        seg = S[i * n_frames:(i + 1) * n_frames]
        x[i, : len(seg), :, 0] = seg
    return x


def network_without_frontend(model):
    """``(tail, frontend)``: the model's layers after its front-end as a model of their own."""
    import keras

    from kerasmgr.frontends import find_frontend

    fe = find_frontend(model)
    return keras.Model(fe.output, model.output), fe


def tag(paths, tail, fe, *, workers=None, batch_size=16, batched=True):
    """Mean window scores of every file, shape (n_files, n_outputs).

    ``batched``: features of all files in a thread pool of ``workers`` threads, then one
    ``predict`` over every window; otherwise the per-file loop (features, then ``predict`` of
    that file's windows), the baseline of the first performance suite.
    """
    n_frames = int(tail.input_shape[1])
    if not batched:
        return np.stack([tail.predict(windows(librosa_features(p, fe), n_frames), batch_size=8, verbose=0).mean(0)
                         for p in paths])
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(workers) as pool:
        xs = list(pool.map(lambda p: windows(librosa_features(p, fe), n_frames), paths))
    scores = tail.predict(np.concatenate(xs), batch_size=batch_size, verbose=0)
    ends = np.cumsum([len(x) for x in xs])
    return np.stack([s.mean(0) for s in np.split(scores, ends[:-1])])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+")
    p.add_argument("--weights", default="k2c2-embedded")
    p.add_argument("--workers", type=int, default=None, help="threads (default: the CPU count)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--per-file", action="store_true", help="predict file by file instead of one batched call")
    a = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from kerasmgr import pretrained

    t = time.perf_counter()
    model, _ = pretrained.load(a.weights)
    tail, fe = network_without_frontend(model)
    scores = tag(a.files, tail, fe, workers=a.workers, batch_size=a.batch_size, batched=not a.per_file)
    print(f"{len(a.files)} files tagged in {time.perf_counter() - t:.2f} s after start-up; "
          f"mean score {float(scores.mean()):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
