"""Transfer-learning features (thesis chapter 6): multi-layer convnet features, a random-weights
convnet and the MFCC baseline.

Convnet feature (thesis Fig. 6.1): the feature map of each chosen conv layer of a trained tagger,
global-average-pooled after its max-pooling (the 5th layer's map is already 1 × 1), concatenated
— 5 × 32 = 160-d for the Compact-convnet. Signals shorter than the model input are repeated to
length (as the thesis does); longer ones are centre-cropped or averaged over consecutive windows.
Features are computed in inference mode with per-clip front-ends, so they never depend on the
batch size or on the other clips in a batch.
"""

from __future__ import annotations

import numpy as np

from .data.audio import windows

__all__ = ["FeatureExtractor", "random_convnet", "mfcc_features", "parse_layers", "MFCC_DIM", "audio_files",
           "extract_array", "extract_files"]

MFCC_DIM = 120


def parse_layers(layers):
    """'12345' / [1, 2, 3] / '1,3' -> sorted unique ints."""
    if isinstance(layers, str):
        layers = [int(c) for c in layers if c.isdigit()]
    out = sorted({int(k) for k in layers})
    if not out:
        raise ValueError("choose at least one layer")
    return out


class FeatureExtractor:
    """Concatenated global-average-pooled conv feature maps of a waveform model.

    Parameters
    ----------
    model : keras.Model
        A kerasmgr conv model with layers ``conv1..``, ``pool1..`` (and ``elu1..``), e.g. k2c2
        or a converted Compact-convnet.
    layers : str or iterable of int
        Conv layers to use, e.g. ``'12345'``.
    tap : {'pool', 'elu'}
        Pool after max-pooling (thesis) or before it (the Keras-2 notebook).
    long : {'crop', 'average'}
        Longer signals: one cropped window, or the mean feature of consecutive model-sized windows.
    crop : {'centre', 'start'}
        Where ``long='crop'`` cuts: the middle (default) or the beginning ("the first 29-second",
        the thesis' Task 4, §6.3.2).
    batch_size : int
        Windows per forward pass.

    Attributes
    ----------
    dims : list of int
        Feature size of each chosen layer.
    boundaries : dict
        ``{layer: [start, end)}`` column ranges in the concatenated feature.
    sample_rate, n_samples : int
        The model's input rate (Hz) and length (samples).
    """

    def __init__(self, model, *, layers="12345", tap="pool", long="crop", crop="centre", batch_size=8):
        import keras

        from .models import input_spec

        if tap not in ("pool", "elu"):
            raise ValueError(f"tap must be 'pool' or 'elu', got {tap!r}")
        if long not in ("crop", "average"):
            raise ValueError(f"long must be 'crop' or 'average', got {long!r}")
        if crop not in ("centre", "start"):
            raise ValueError(f"crop must be 'centre' or 'start', got {crop!r}")
        self.crop = crop
        self.layers = parse_layers(layers)
        names = {l.name for l in model.layers}
        missing = [f"{tap}{k}" for k in self.layers if f"{tap}{k}" not in names]
        if missing:
            raise ValueError(f"model {model.name!r} has no layer(s) {missing}")
        outs = [keras.layers.GlobalAveragePooling2D(name=f"gap{k}")(model.get_layer(f"{tap}{k}").output)
                for k in self.layers]
        self.model = keras.Model(model.input, outs if len(outs) > 1 else outs[0])
        self.dims = [int(o.shape[-1]) for o in outs]
        starts = np.cumsum([0] + self.dims)
        self.boundaries = {int(k): [int(starts[i]), int(starts[i + 1])] for i, k in enumerate(self.layers)}
        self.dim = int(starts[-1])
        self.sample_rate, self.n_samples = input_spec(model)
        self.tap, self.long, self.batch_size = tap, long, int(batch_size)
        self.model_name = model.name

    def describe(self):
        """What the feature files' JSON metadata record of this extractor (layers, boundaries, ...)."""
        return {"extractor": "convnet", "model": self.model_name, "layers": self.layers,
                "boundaries": self.boundaries, "tap": self.tap, "long": self.long, "crop": self.crop,
                "n_samples": self.n_samples}

    def windows_of(self, y):
        """Model-sized windows of one waveform (repeat if short; crop or all windows if long)."""
        y = np.asarray(y, dtype=np.float32)
        n = self.n_samples
        if len(y) == 0:
            raise ValueError("empty signal")
        if len(y) < n:
            y = np.tile(y, -(-n // len(y)))[:n]
        if self.long == "crop" or len(y) == n:
            start = 0 if self.crop == "start" else (len(y) - n) // 2
            return y[None, start : start + n]
        return windows(y, n)

    def transform(self, waveforms):
        """Features of each waveform (at :attr:`sample_rate`).

        Parameters
        ----------
        waveforms : iterable of 1-D np.ndarray

        Returns
        -------
        np.ndarray, float32, shape (n, dim)
        """
        segs, owner = [], []
        for i, y in enumerate(waveforms):
            w = self.windows_of(y)
            segs.append(w)
            owner += [i] * len(w)
        if not segs:
            return np.zeros((0, self.dim), np.float32)
        segs = np.concatenate(segs)
        out = self.model.predict(segs, batch_size=self.batch_size, verbose=0)
        feats = np.concatenate(out, axis=1) if isinstance(out, list) else out
        owner = np.asarray(owner)
        return np.stack([feats[owner == i].mean(axis=0) for i in range(owner.max() + 1)]).astype(np.float32)


def random_convnet(name="k2c2", *, seed=0, **kwargs):
    """The same architecture with untrained weights (He-normal conv kernels), seeded.

    The thesis' random-weights baseline: conv kernels He-normal (kerasmgr's Choi models use it),
    biases 0, batch normalisation at its initial identity statistics.
    """
    import keras

    from . import models

    keras.utils.set_random_seed(seed)
    return models.build(name, **kwargs)


def mfcc_features(y, sr, *, n_mfcc=20):
    """The thesis' MFCC baseline: mean and std over time of 20 MFCCs, their Δ and ΔΔ (120-d).

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
    sr : int
        Sample rate in Hz (librosa defaults: 2048-point FFT, hop 512, 128 mel bands).

    Returns
    -------
    np.ndarray, float32, shape (6 * n_mfcc,)
        ``[mean(mfcc), std(mfcc), mean(Δ), std(Δ), mean(ΔΔ), std(ΔΔ)]``.
    """
    import librosa

    m = librosa.feature.mfcc(y=np.asarray(y, dtype=np.float32), sr=sr, n_mfcc=n_mfcc)
    width = min(9, m.shape[1] - (1 - m.shape[1] % 2)) if m.shape[1] < 9 else 9
    if width < 3:
        raise ValueError("signal too short for MFCC deltas (needs at least 3 frames)")
    d1 = librosa.feature.delta(m, width=width)
    d2 = librosa.feature.delta(m, order=2, width=width)
    return np.concatenate([f(x, axis=1) for x in (m, d1, d2) for f in (np.mean, np.std)]).astype(np.float32)


# ----------------------------------------------------------------------------------------- jobs
def audio_files(inputs):
    """Audio files from paths: files as given, directories searched recursively (sorted)."""
    from pathlib import Path

    from .data.datasets import _audio_files

    out = []
    for p in inputs:
        p = Path(p)
        if p.is_dir():
            out += [str(q) for q in _audio_files(p)]
        else:
            out.append(str(p))
    return out


class _Computer:
    """Decodes files and computes features for one chunk; errors become (path, reason)."""

    def __init__(self, extractor, sample_rate, min_seconds, loader=None):
        self.extractor = extractor  # FeatureExtractor or "mfcc"
        self.sr = int(sample_rate)
        self.min_seconds = float(min_seconds)
        self.loader = loader  # None: decode files; else loader(id, sr, min_seconds=, allow_silent=)

    @property
    def dim(self):
        return MFCC_DIM if self.extractor == "mfcc" else self.extractor.dim

    def __call__(self, paths):
        from .data.audio import AudioError, load_audio

        load = self.loader or load_audio
        waves, ok, errors = [], [], {}
        for i, p in enumerate(paths):
            try:
                waves.append(load(p, self.sr, min_seconds=self.min_seconds, allow_silent=False))
                ok.append(i)
            except AudioError as e:
                errors[i] = e.reason
        if self.extractor == "mfcc":
            feats = np.stack([mfcc_features(y, self.sr) for y in waves]) if waves else np.zeros((0, MFCC_DIM))
        else:
            feats = self.extractor.transform(waves)
        return ok, feats, errors


def _describe(ext):
    return {"extractor": "mfcc", "n_mfcc": 20} if isinstance(ext, str) else ext.describe()


def extract_array(files, out, computer_or_extractor, *, sample_rate=None, metadata=None, chunk=16, min_seconds=1.0,
                  overwrite=False, progress=True, loader=None):
    """Features of ``files`` into one array file, written incrementally and resumable.

    Writes ``OUT.npy`` (float32, ``(n_files, d)``, row i = file i; NaN rows for failures),
    ``OUT.csv`` (row, path, status, error — appended as chunks finish) and ``OUT.json``
    (metadata, e.g. layer boundaries). An interrupted run is resumed by running it again: rows
    already listed in the CSV are kept.

    Parameters
    ----------
    files : list of str
    out : str or Path
        Output stem or ``.npy`` path.
    computer_or_extractor : FeatureExtractor or 'mfcc'
    sample_rate : int or None
        Decoding rate (default: the extractor's; 22,050 Hz for MFCC).
    metadata : dict or None
        Extra JSON metadata (the extractor's own description — layers, boundaries — is always
        written; these keys are added or override it).
    chunk : int
        Files per write.
    min_seconds : float
        Shorter files are reported as too short.
    overwrite : bool
        Start again even if outputs exist.
    loader : callable or None
        ``loader(id, sr, min_seconds=, allow_silent=)`` returning the waveform of ``id``
        (e.g. :class:`kerasmgr.data.shards.ShardLoader`); default: decode ``files`` as audio files.

    Returns
    -------
    dict
        ``n``, ``n_ok``, ``n_failed``, ``failed`` [(path, reason)], ``paths`` of the outputs.
    """
    import csv
    import json
    from pathlib import Path

    from tqdm.auto import tqdm

    ext = computer_or_extractor
    sr = sample_rate or (22050 if ext == "mfcc" else ext.sample_rate)
    comp = _Computer(ext, sr, min_seconds, loader)
    stem = Path(out)
    if stem.suffix == ".npy":
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    npy, index, meta_path = (Path(f"{stem}.{e}") for e in ("npy", "csv", "json"))
    files = [str(f) for f in files]
    done = {}
    if index.exists() and npy.exists() and not overwrite:
        with open(index, newline="") as f:
            for r in csv.DictReader(f):
                done[int(r["row"])] = r
        bad = [i for i, r in done.items() if i >= len(files) or files[i] != r["path"]]
        if bad:
            raise ValueError(f"{index} lists other files than these inputs (row {bad[0]}); use overwrite=True "
                             "or another output")
        arr = np.lib.format.open_memmap(npy, mode="r+")
        if arr.shape != (len(files), comp.dim):
            raise ValueError(f"{npy} has shape {arr.shape}, expected {(len(files), comp.dim)}; use overwrite=True")
    else:
        arr = np.lib.format.open_memmap(npy, mode="w+", dtype=np.float32, shape=(len(files), comp.dim))
        arr[:] = np.nan
        arr.flush()
        with open(index, "w", newline="") as f:
            csv.writer(f).writerow(["row", "path", "status", "error"])
    meta = {"n_files": len(files), "dim": comp.dim, "sample_rate": sr, **_describe(ext), **(metadata or {})}
    meta_path.write_text(json.dumps(meta, indent=2))
    todo = [i for i in range(len(files)) if i not in done]
    bar = tqdm(total=len(files), initial=len(files) - len(todo), desc="features", unit="file", disable=not progress)
    for start in range(0, len(todo), chunk):
        rows = todo[start : start + chunk]
        ok, feats, errors = comp([files[i] for i in rows])
        for j, f in zip(ok, feats):
            arr[rows[j]] = f
        arr.flush()  # rows are on disk before the index says so
        with open(index, "a", newline="") as f:
            w = csv.writer(f)
            for j, i in enumerate(rows):
                w.writerow([i, files[i], "error" if j in errors else "ok", errors.get(j, "")])
        bar.update(len(rows))
    bar.close()
    with open(index, newline="") as f:
        rows = list(csv.DictReader(f))
    failed = [(r["path"], r["error"]) for r in rows if r["status"] != "ok"]
    return {"n": len(files), "n_ok": len(files) - len(failed), "n_failed": len(failed), "failed": failed,
            "paths": {"npy": str(npy), "csv": str(index), "json": str(meta_path)}}


def extract_files(files, output_dir, computer_or_extractor, *, sample_rate=None, suffix="", overwrite=False,
                  chunk=16, min_seconds=1.0, metadata=None, progress=True):
    """One ``.npz`` per input file (openl3 style), mirroring the inputs' folders under ``output_dir``.

    Each ``.npz`` holds ``features`` (d,) and ``metadata`` (JSON text). Existing outputs are skipped
    unless ``overwrite``; failures are listed in ``output_dir/failed.csv``.

    Returns
    -------
    dict
        ``n``, ``n_written``, ``n_skipped``, ``n_failed``, ``failed``.
    """
    import csv
    import json
    import os
    from pathlib import Path

    from tqdm.auto import tqdm

    ext = computer_or_extractor
    sr = sample_rate or (22050 if ext == "mfcc" else ext.sample_rate)
    comp = _Computer(ext, sr, min_seconds)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [str(Path(f).resolve()) for f in files]
    base = Path(os.path.commonpath([str(Path(f).parent) for f in files])) if files else out
    target = {f: out / Path(f).parent.relative_to(base) / f"{Path(f).stem}{suffix}.npz" for f in files}
    todo = [f for f in files if overwrite or not target[f].exists()]
    meta_text = json.dumps({"dim": comp.dim, "sample_rate": sr, **_describe(ext), **(metadata or {})})
    failed = []
    bar = tqdm(total=len(files), initial=len(files) - len(todo), desc="features", unit="file", disable=not progress)
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        ok, feats, errors = comp(part)
        for j, feat in zip(ok, feats):
            t = target[part[j]]
            t.parent.mkdir(parents=True, exist_ok=True)
            tmp = t.with_name(t.stem + ".tmp.npz")
            np.savez(tmp, features=feat.astype(np.float32), metadata=np.array(meta_text))
            os.replace(tmp, t)
        failed += [(part[j], reason) for j, reason in errors.items()]
        bar.update(len(part))
    bar.close()
    if failed:
        with open(out / "failed.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "error"])
            w.writerows(failed)
    return {"n": len(files), "n_written": len(todo) - len(failed), "n_skipped": len(files) - len(todo),
            "n_failed": len(failed), "failed": failed}
