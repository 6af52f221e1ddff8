"""Feature-extraction job: features of many audio files into one array, written incrementally.

``bin/extract_features.py`` calls :func:`extract_array` (one ``.npy`` + index CSV + JSON,
resumable) or :func:`extract_files` (one ``.npy`` per file). The features themselves are
:mod:`kerasmgr.features` (convnet layers, MFCC statistics).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import keras
import numpy as np
from tqdm.auto import tqdm

from .. import pretrained
from ..data.audio import AudioError, load_audio
from ..data.datasets import audio_files as dataset_audio_files
from ..data.selection import open_split
from ..data.shards import ShardLoader
from ..features import MFCC_DIM, FeatureExtractor, mfcc_features
from ..parts import PartError, finish_part, load_parts, output_stem, start_part
from .records import atomic_npz, read_csv_rows

__all__ = ["audio_files", "input_files", "make_extractor", "extract_array", "extract_files", "extract_part",
           "merge_extraction"]

#: Files per chunk of :func:`extract_array`: computed together and written at once; job-array
#: parts (:func:`extract_part`) start at multiples of it.
EXTRACT_CHUNK = 16


def audio_files(inputs):
    """Audio files from paths: files as given, directories searched recursively (sorted)."""
    out = []
    for p in inputs:
        p = Path(p)
        if p.is_dir():
            out += [str(q) for q in dataset_audio_files(p)]
        else:
            out.append(str(p))
    return out


def input_files(inputs=(), *, file_list=None, data=None, shards=None):
    """The files (or shard ids) an extraction reads, in a stable order.

    Parameters
    ----------
    inputs : sequence of str
        Audio files and folders (searched recursively, sorted).
    file_list : str or None
        A text file with one audio path per line.
    data : DataSelection or None
        A dataset subset (``subset='all'``: train, valid and test).
    shards : str or None
        A folder written by ``bin/prepare_dataset.py``: its clips of ``data.subset`` (or all) are
        read from the shards instead of decoding files; cannot be combined with other inputs.

    Returns
    -------
    files : list of str
    loader : ShardLoader or None
        What reads the shard ids (``None``: decode files).
    """
    files = audio_files(inputs)
    if file_list:
        files += [line.strip() for line in Path(file_list).read_text().splitlines() if line.strip()]
    if data is not None and shards is None:
        files += [it.path for it in open_split(data).items]
    loader = None
    if shards:
        if files:
            raise ValueError("--shards cannot be combined with other inputs")
        subset = None if data is None or data.subset == "all" else [data.subset]
        loader = ShardLoader(shards, subset)
        files = loader.ids()
    return files, loader


def make_extractor(weights="k2c2-embedded", *, mfcc=False, random=False, seed=0, layers="12345", tap="pool",
                   long="crop", crop="centre", batch_size=None, sample_rate=22050):
    """The feature extractor of ``bin/extract_features.py``.

    Parameters
    ----------
    weights : str
        Released name or ``.h5``/``.keras`` path of the convnet.
    mfcc : bool
        The MFCC baseline (decoded at ``sample_rate`` Hz) instead of the convnet.
    random : bool
        The same architecture with fresh (He-normal) weights, drawn with ``seed``.
    layers, tap, long, crop, batch_size
        :class:`~kerasmgr.features.FeatureExtractor` options.

    Returns
    -------
    extractor : FeatureExtractor or 'mfcc'
    metadata : dict
        What the output's JSON records of it.
    sample_rate : int
        Decoding rate in Hz.
    """
    if mfcc:
        return "mfcc", {}, int(sample_rate)
    model, wmeta = pretrained.load(weights)
    if random:
        keras.utils.set_random_seed(seed)
        model = keras.models.clone_model(model)  # fresh weights from the layers' initialisers
    extractor = FeatureExtractor(model, layers=layers, tap=tap, long=long, crop=crop, batch_size=batch_size)
    meta = {"weights": wmeta.get("path"), "model": wmeta.get("model"),
            **({"extractor": "random_convnet", "seed": seed} if random else {})}
    return extractor, meta, extractor.sample_rate


class _Computer:
    """Decodes files and computes features for one chunk; errors become (path, reason)."""

    def __init__(self, extractor, sample_rate, min_seconds, loader=None):
        self.extractor = extractor  # FeatureExtractor or "mfcc"
        self.sample_rate = int(sample_rate)
        self.min_seconds = float(min_seconds)
        self.loader = loader  # None: decode files; else loader(id, sr, min_seconds=, allow_silent=)

    @property
    def dim(self):
        return MFCC_DIM if self.extractor == "mfcc" else self.extractor.dim

    def __call__(self, paths):
        load = self.loader or load_audio
        waves, ok, errors = [], [], {}
        for i, p in enumerate(paths):
            try:
                waves.append(load(p, self.sample_rate, min_seconds=self.min_seconds, allow_silent=False))
                ok.append(i)
            except AudioError as e:
                errors[i] = e.reason
        if self.extractor == "mfcc":
            feats = np.stack([mfcc_features(y, self.sample_rate) for y in waves]) if waves else np.zeros((0, MFCC_DIM))
        else:
            feats = self.extractor.transform(waves)
        return ok, feats, errors


def _describe(ext):
    return {"extractor": "mfcc", "n_mfcc": 20} if isinstance(ext, str) else ext.describe()


def _finished_rows(index, files, chunk):
    """The chunks an interrupted :func:`extract_array` finished, from its index CSV: ``{first row:
    [index rows]}`` of every chunk whose rows are all listed. Rows of a chunk cut short (and a torn
    last line) are dropped from the index, which is rewritten, so that the chunk is computed again whole."""
    rows, torn = read_csv_rows(index)
    by_chunk = {}
    for r in rows[1:]:
        i = int(r[0])
        if i >= len(files) or files[i] != r[1]:
            raise ValueError(f"{index} lists other files than these inputs (row {i}); use overwrite=True "
                             "or another output")
        by_chunk.setdefault(i - i % chunk, []).append(r)
    done = {g: rs for g, rs in by_chunk.items() if len(rs) == min(chunk, len(files) - g)}
    if torn or len(done) != len(by_chunk):
        tmp = Path(f"{index}.tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["row", "path", "status", "error"])
            for g in sorted(done):
                w.writerows(done[g])
        os.replace(tmp, index)
    return done


def extract_array(files, out, computer_or_extractor, *, sample_rate=None, metadata=None, chunk=EXTRACT_CHUNK, min_seconds=1.0,
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
        Files computed together (their segments share forward passes) and written at once; the
        list is cut into chunks at multiples of ``chunk``, also when a run resumes.
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
    ext = computer_or_extractor
    sr = sample_rate or (22050 if ext == "mfcc" else ext.sample_rate)
    comp = _Computer(ext, sr, min_seconds, loader)
    stem = output_stem(out, ".npy")
    stem.parent.mkdir(parents=True, exist_ok=True)
    npy, index, meta_path = (Path(f"{stem}.{e}") for e in ("npy", "csv", "json"))
    files = [str(f) for f in files]
    done = {}
    if index.exists() and npy.exists() and not overwrite:
        done = _finished_rows(index, files, chunk)
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
    # whole chunks of the list, on the grid of multiples of ``chunk``: a file's features are computed
    # with the same batch neighbours in a fresh run, a resumed one and a job-array part
    todo = [list(range(g, min(g + chunk, len(files)))) for g in range(0, len(files), chunk) if g not in done]
    bar = tqdm(total=len(files), initial=len(files) - sum(map(len, todo)), desc="features", unit="file",
               disable=not progress)
    for rows in todo:
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


def extract_part(files, out, computer_or_extractor, part, *, settings, overwrite=False, **kwargs):
    """Part ``K`` of ``N`` of :func:`extract_array` over ``files`` (a job-array task).

    Writes ``OUT.part-K-of-N.{npy,csv,json}`` for the ``K``-th contiguous block of ``files``
    (:func:`kerasmgr.parts.part_bounds`, on the grid of ``chunk`` files, so that every chunk is
    computed as in the single run and the merge is byte-identical to it) and
    ``OUT.part-K-of-N.part.json`` (the whole list's and the settings' digests; ``complete`` once
    every row is written). Re-running the same part resumes
    it, like :func:`extract_array`.

    Parameters
    ----------
    files : list of str
        The whole input list, identical (and in the same order) for every part.
    out : str or Path
        The single run's output stem.
    computer_or_extractor : FeatureExtractor or 'mfcc'
    part : (int, int)
        ``(K, N)`` from :func:`kerasmgr.parts.parse_part`.
    settings : dict
        What must be equal across parts (model, layers, options), recorded and checked by the merge.
    overwrite : bool
    **kwargs
        :func:`extract_array` options.

    Returns
    -------
    dict
        :func:`extract_array`'s result plus ``part_json``.
    """
    files = [str(f) for f in files]
    chunk = kwargs.pop("chunk", EXTRACT_CHUNK)
    stem, meta = start_part(output_stem(out, ".npy"), files, *part, settings, grid=chunk, overwrite=overwrite)
    r = extract_array(files[meta["start"]:meta["stop"]], stem, computer_or_extractor, chunk=chunk,
                      overwrite=overwrite, **kwargs)
    finish_part(stem, meta)
    return {**r, "part_json": f"{stem}.part.json"}


def merge_extraction(out):
    """Merge the parts of an array extraction into the single run's ``OUT.npy``, ``OUT.csv`` and
    ``OUT.json`` (byte-identical to one run over the whole list).

    Raises
    ------
    PartError
        Missing, overlapping, unfinished or mismatched parts (named).

    Returns
    -------
    dict
        ``paths`` of the merged outputs, ``n``, ``n_parts``, ``failed`` [(path, reason)]: the
        files no part could read (NaN rows).
    """
    stem = output_stem(out, ".npy")
    ordered = load_parts(stem)
    n, total = ordered[0]["n_parts"], ordered[0]["n_items"]
    stems = [m["stem"] for m in ordered]
    arrays = [np.load(f"{s}.npy", mmap_mode="r") for s in stems]
    for s, a, m in zip(stems, arrays, ordered):
        if a.shape[0] != m["stop"] - m["start"]:
            raise PartError(f"{s}.npy: {a.shape[0]} rows, part {m['part']}/{n} should have {m['stop'] - m['start']}")
    npy, index, meta_path = (Path(f"{stem}.{e}") for e in ("npy", "csv", "json"))
    merged = np.lib.format.open_memmap(npy, mode="w+", dtype=np.float32, shape=(total, arrays[0].shape[1]))
    failed = []
    with open(index, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["row", "path", "status", "error"])
        for s, a, m in zip(stems, arrays, ordered):
            merged[m["start"]:m["stop"]] = a
            with open(f"{s}.csv", newline="") as g:
                for r in csv.DictReader(g):
                    w.writerow([int(r["row"]) + m["start"], r["path"], r["status"], r["error"]])
                    if r["status"] != "ok":
                        failed.append((r["path"], r["error"]))
    merged.flush()
    meta = json.loads(Path(f"{stems[0]}.json").read_text())
    meta["n_files"] = total
    meta_path.write_text(json.dumps(meta, indent=2))
    return {"n": total, "n_parts": n, "failed": failed,
            "paths": {"npy": str(npy), "csv": str(index), "json": str(meta_path)}}


def extract_files(files, output_dir, computer_or_extractor, *, sample_rate=None, suffix="", overwrite=False,
                  chunk=EXTRACT_CHUNK, min_seconds=1.0, metadata=None, progress=True):
    """One ``.npz`` per input file (openl3 style), mirroring the inputs' folders under ``output_dir``.

    Each ``.npz`` holds ``features`` (d,) and ``metadata`` (JSON text). Existing outputs are skipped
    unless ``overwrite``; failures are listed in ``output_dir/failed.csv``.

    Returns
    -------
    dict
        ``n``, ``n_written``, ``n_skipped``, ``n_failed``, ``failed``.
    """
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
            atomic_npz(t, features=feat.astype(np.float32), metadata=np.array(meta_text))
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
