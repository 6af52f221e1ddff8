"""Sharded TFRecord datasets: decode and resample a dataset once, then stream it.

``bin/prepare_dataset.py`` (:func:`kerasmgr.jobs.prepare.prepare_dataset`, over :func:`write_shards`)
writes, for every subset, shards of
``shard_size`` clips in dataset order::

    <out>/manifest.json                 dataset, sample rate, sample type, classes, tags, shards
    <out>/train-00000.tfrecord          records: id, audio, n_samples, label, tags
    <out>/train-00000.json              the shard's ids, labels, lengths and failed files

A record holds ``id`` (the source path, bytes), ``audio`` (raw little-endian int16 or float16
samples at the manifest's sample rate, mono), ``n_samples`` (int64), ``label`` (class index in
``manifest['classes']``, -1 if none) and ``tags`` (multi-hot float over ``manifest['tags']``).

A shard counts as finished once its ``.json`` exists (written after the ``.tfrecord`` is in
place), so an interrupted preparation resumes with the first unfinished shard; files that
cannot be decoded are listed in the shard's ``errors`` and in the manifest, never fatal.
Memory is bounded by one shard's decoded audio.

Reading: ``load_dataset('shards', <out>, subset=...)`` gives a :class:`ShardedSplit`, which
``bin/train.py --dataset shards --data-root <out>`` trains from (the training split streamed
with interleaved reads of the shards, clips shuffled in a bounded buffer, random windows) and
``bin/extract_features.py --shards <out>`` extracts from.
"""

from __future__ import annotations

import json
import os
from multiprocessing.pool import ThreadPool
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .audio import AudioError, check_samples, fix_length, load_audio, resample
from .pipeline import batched_for_strategy, epoch_permutations, worker_batches

__all__ = ["write_shards", "ShardedSplit", "ShardLoader", "sharded_training_dataset", "DTYPES", "read_manifest"]

DTYPES = ("int16", "float16")
FORMAT = "kerasmgr-shards"
VERSION = 1


def _encode(y, dtype):
    if dtype == "int16":
        return (np.clip(y, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()
    return y.astype("<f2").tobytes()


def _decode(raw, dtype):
    if dtype == "int16":
        return np.frombuffer(raw, "<i2").astype(np.float32) / 32767.0
    return np.frombuffer(raw, "<f2").astype(np.float32)


def _example(item_id, y, dtype, label, tags):
    import tensorflow as tf

    f = tf.train.Feature
    return tf.train.Example(features=tf.train.Features(feature={
        "id": f(bytes_list=tf.train.BytesList(value=[item_id.encode()])),
        "audio": f(bytes_list=tf.train.BytesList(value=[_encode(y, dtype)])),
        "n_samples": f(int64_list=tf.train.Int64List(value=[len(y)])),
        "label": f(int64_list=tf.train.Int64List(value=[label])),
        "tags": f(float_list=tf.train.FloatList(value=tags)),
    })).SerializeToString()


def _atomic_write_text(path, text):
    tmp = Path(f"{path}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_shards(parts, out_dir, *, sample_rate, source=None, shard_size=128, dtype="int16", workers=None,
                 progress=True):
    """Decode and resample subsets of a dataset once into sharded TFRecord files plus a manifest.

    Parameters
    ----------
    parts : dict of {str: Dataset}
        The subsets to write (``{'train': Dataset, ...}``), in order.
    out_dir : str or Path
        Output folder (created); running again resumes (finished shards are kept).
    sample_rate : int
        Target sample rate in Hz (the model's).
    source : dict or None
        What the data are (``dataset``, ``root``, ``dataset_kwargs``), recorded in the manifest;
        resuming into a folder made from another source is refused.
    shard_size : int
        Clips per shard.
    dtype : {'int16', 'float16'}
        Sample type on disk (2 bytes per sample either way).
    workers : int or None
        Decoding threads (default: the CPU count).
    progress : bool
        tqdm progress bar per subset.

    Returns
    -------
    dict
        The manifest (also written as ``out_dir/manifest.json``).
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if int(shard_size) < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    source = dict(source or {})
    settings = {"dataset": source.get("dataset"), "root": source.get("root"), "sample_rate": int(sample_rate),
                "dtype": dtype, "shard_size": int(shard_size), "dataset_kwargs": source.get("dataset_kwargs", {})}
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        changed = {k: (old.get(k), v) for k, v in settings.items() if old.get(k) != v}
        if changed:
            raise ValueError(f"{out} holds shards prepared with other settings {changed}; use another folder")
    manifest = {"format": FORMAT, "version": VERSION, **settings, "splits": {}, "errors": []}
    _atomic_write_text(manifest_path, json.dumps(manifest, indent=2))
    pool = ThreadPool(workers or os.cpu_count() or 1)
    try:
        for split, ds in parts.items():  # manifest key 'splits' (format version 1) holds the subsets
            manifest["classes"], manifest["tags"] = list(ds.classes), list(ds.tags)
            class_index = {c: i for i, c in enumerate(ds.classes)}
            tag_index = {t: i for i, t in enumerate(ds.tags)}
            n_shards = max(1, int(np.ceil(len(ds) / shard_size)))
            shards = []
            bar = tqdm(total=len(ds), desc=f"preparing {split}", unit="file", disable=not progress)
            for s in range(n_shards):
                items = ds.items[s * shard_size : (s + 1) * shard_size]
                name = f"{split}-{s:05d}"
                side = out / f"{name}.json"
                if not side.exists():  # finished shards are kept
                    _write_shard(out / f"{name}.tfrecord", side, items, pool, int(sample_rate), dtype,
                                 class_index, tag_index, len(ds.tags))
                info = json.loads(side.read_text())
                shards.append({"name": name, "n_items": len(info["ids"]), "n_failed": len(info["errors"])})
                manifest["errors"] += [{"split": split, "path": p, "reason": r} for p, r in info["errors"]]
                bar.update(len(items))
            bar.close()
            manifest["splits"][split] = {"n_items": sum(s["n_items"] for s in shards), "shards": shards}
            _atomic_write_text(manifest_path, json.dumps(manifest, indent=2))
    finally:
        pool.close()
    manifest["complete"] = True
    _atomic_write_text(manifest_path, json.dumps(manifest, indent=2))
    return manifest


def _write_shard(path, side, items, pool, sr, dtype, class_index, tag_index, n_tags):
    import tensorflow as tf

    def decode(item):
        try:
            return load_audio(item.path, sr), None
        except AudioError as e:
            return None, e.reason

    ids, labels, tags, lengths, errors = [], [], [], [], []
    tmp = Path(f"{path}.tmp")
    with tf.io.TFRecordWriter(str(tmp)) as w:
        for item, (y, err) in zip(items, pool.imap(decode, items)):
            if err is not None:
                errors.append([item.path, err])
                continue
            label = class_index.get(item.label, -1)
            hot = np.zeros(n_tags, np.float32)
            for t in item.tags:
                if t in tag_index:
                    hot[tag_index[t]] = 1.0
            w.write(_example(item.path, y, dtype, label, hot))
            ids.append(item.path)
            labels.append(label)
            tags.append([tag_index[t] for t in item.tags if t in tag_index])
            lengths.append(len(y))
    os.replace(tmp, path)
    _atomic_write_text(side, json.dumps({"ids": ids, "label": labels, "tags": tags, "n_samples": lengths,
                                         "errors": errors}))


def read_manifest(folder):
    """The manifest of a prepared folder; a clear error if it is not one or is unfinished."""
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no manifest.json — not a folder written by bin/prepare_dataset.py")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} manifest")
    if not manifest.get("complete"):
        raise ValueError(f"{path}: preparation did not finish; run bin/prepare_dataset.py again to resume it")
    return manifest


def _parse(dtype, n_tags):
    import tensorflow as tf

    spec = {"id": tf.io.FixedLenFeature([], tf.string), "audio": tf.io.FixedLenFeature([], tf.string),
            "n_samples": tf.io.FixedLenFeature([], tf.int64), "label": tf.io.FixedLenFeature([], tf.int64),
            "tags": tf.io.FixedLenFeature([n_tags], tf.float32)}

    def parse(record):
        r = tf.io.parse_single_example(record, spec)
        if dtype == "int16":
            audio = tf.cast(tf.io.decode_raw(r["audio"], tf.int16, little_endian=True), tf.float32) / 32767.0
        else:
            audio = tf.cast(tf.io.decode_raw(r["audio"], tf.float16, little_endian=True), tf.float32)
        return r["id"], audio, r["label"], r["tags"]

    return parse


class ShardedSplit:
    """One subset of a prepared folder: the clip store and dataset in one object.

    Offers what training needs of a dataset (``name``, ``root``, ``labels``, ``targets``,
    ``len``) and of a clip store (``get``, iteration in record order, ``index``, ``errors``);
    clips are read from the shards one at a time, never all at once.
    """

    def __init__(self, folder, subset="train"):
        self.folder = Path(folder)
        self.manifest = m = read_manifest(folder)
        if subset not in m["splits"]:
            raise ValueError(f"{folder}: subset {subset!r} was not prepared (have {sorted(m['splits'])})")
        self.subset = split = subset
        self.name, self.root = m["dataset"], str(self.folder)
        self.sample_rate, self.dtype = int(m["sample_rate"]), m["dtype"]
        self.classes, self.tags = list(m["classes"]), list(m["tags"])
        self.files, self.shard_ids, self.ids, self._label, self._tags, self.lengths = [], [], [], [], [], []
        for s in m["splits"][split]["shards"]:
            info = json.loads((self.folder / f"{s['name']}.json").read_text())
            self.files.append(str(self.folder / f"{s['name']}.tfrecord"))
            self.shard_ids.append(info["ids"])
            self.ids += info["ids"]
            self._label += info["label"]
            self._tags += info["tags"]
            self.lengths += info["n_samples"]
        self.errors = [(e["path"], e["reason"]) for e in m["errors"] if e["split"] == split]
        self.index = np.arange(len(self.ids))
        self.paths = self.ids
        self.min_samples = 0

    def __len__(self):
        return len(self.ids)

    def labels(self, task):
        return list(self.classes if task == "genre" else self.tags)

    def targets(self, task):
        """'genre': class indices (n,); 'tags': multi-hot float32 (n, n_tags)."""
        if task == "genre":
            y = np.asarray(self._label, dtype=np.int64)
            if len(y) and y.min() < 0:
                raise ValueError(f"{self.folder}: some {self.split} clips have no class label")
            return y
        y = np.zeros((len(self), len(self.tags)), np.float32)
        for r, t in enumerate(self._tags):
            y[r, t] = 1.0
        return y

    def records(self):
        """``tf.data`` of ``(id, audio float32 (n,), label, tags)`` in record order."""
        import tensorflow as tf

        ds = tf.data.TFRecordDataset(self.files)
        return ds.map(_parse(self.dtype, len(self.tags)), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def __iter__(self):
        for _, audio, _, _ in self.records().prefetch(2).as_numpy_iterator():
            yield audio if len(audio) >= self.min_samples else fix_length(audio, self.min_samples, mode="start")

    def get(self, i):
        """Waveform of clip ``i`` (reads the shards up to it)."""
        for k, y in enumerate(self):
            if k == i:
                return y
        raise IndexError(i)


class ShardLoader:
    """Waveforms by id from a prepared folder, for jobs that visit clips in shard order (extraction).

    Keeps the records of one shard in memory at a time. Called as ``loader(id, sample_rate,
    min_seconds=0, allow_silent=True)``; resamples when ``sample_rate`` differs from the shards' rate and
    raises :class:`~kerasmgr.data.audio.AudioError` (naming the id) for too-short or silent clips.
    """

    def __init__(self, folder, subsets=None):
        self.manifest = read_manifest(folder)
        self.splits = [ShardedSplit(folder, s) for s in (subsets or list(self.manifest["splits"]))]
        self.where = {item_id: (split, f) for split in self.splits
                      for f, ids in zip(split.files, split.shard_ids) for item_id in ids}
        self._file, self._cache = None, {}

    def ids(self):
        """Every id, in shard order."""
        return [i for split in self.splits for i in split.ids]

    def __call__(self, item_id, sample_rate, *, min_seconds=0.0, allow_silent=True):
        if item_id not in self.where:
            raise AudioError(item_id, "not in the prepared shards")
        split, f = self.where[item_id]
        if f != self._file:
            import tensorflow as tf

            ds = tf.data.TFRecordDataset([f]).map(_parse(split.dtype, len(split.tags)))
            self._cache = {i.decode(): a for i, a, _, _ in ds.as_numpy_iterator()}
            self._file = f
        y = self._cache[item_id]
        check_samples(item_id, y, split.sample_rate, min_seconds=min_seconds, allow_silent=allow_silent)
        return resample(y, split.sample_rate, sample_rate)


def sharded_training_dataset(split, targets, n_samples, *, segments_per_clip=1, batch_size=16, seed=0, start=0,
                             num_workers=1, worker_index=0, replicas_per_worker=1, shuffle_buffer=512,
                             cycle_length=4):
    """Infinite training stream from a :class:`ShardedSplit` (the sharded counterpart of
    :func:`kerasmgr.data.pipeline.training_dataset`).

    Every epoch the shard order is permuted (seeded), ``cycle_length`` shards are read
    interleaved, each clip gives ``segments_per_clip`` random windows of ``n_samples`` (offsets
    from a stateless generator keyed by the window's position in the stream), and windows are
    shuffled in a ``shuffle_buffer``. With several workers, each reads its own shards
    (``shard i`` goes to worker ``i % num_workers``) and yields ``batch_size / num_workers``
    windows per step. ``start`` skips windows already consumed (resumed runs).

    Returns
    -------
    dataset : tf.data.Dataset
        ``(x (b, n_samples) float32, y)`` with ``b = batch_size / (num_workers * replicas_per_worker)``.
    steps_per_epoch : int
    """
    import tensorflow as tf

    n = len(split)
    if n == 0:
        raise ValueError("no clips to train on")
    global_batch = int(batch_size)
    _, replica_batch = worker_batches(global_batch, num_workers, replicas_per_worker)
    files = split.files[worker_index::num_workers] if num_workers > 1 else split.files
    if not files:
        raise ValueError(f"worker {worker_index} of {num_workers} has no shard of {split.folder}; prepare the "
                         "dataset with a smaller shard_size")
    targets = tf.constant(np.asarray(targets))
    parse = _parse(split.dtype, len(split.tags))
    id_to_row = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(split.ids), tf.range(n, dtype=tf.int64)), default_value=-1)
    clips = epoch_permutations(tf.constant(files), seed).interleave(
        tf.data.TFRecordDataset, cycle_length=min(cycle_length, len(files)), num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True).map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def _windows(k, clip):
        item_id, audio, _, _ = clip
        audio = tf.concat([audio, tf.zeros([tf.maximum(n_samples - tf.shape(audio)[0], 0)])], 0)
        slack = tf.shape(audio, out_type=tf.int64)[0] - n_samples
        keys = k * segments_per_clip + tf.range(segments_per_clip, dtype=tf.int64)
        offsets = tf.map_fn(lambda key: tf.random.stateless_uniform(
            [], seed=tf.stack([tf.constant(seed, tf.int64), key]), maxval=slack + 1, dtype=tf.int64),
            keys)
        x = tf.map_fn(lambda o: audio[o : o + n_samples], offsets, fn_output_signature=tf.float32)
        x = tf.reshape(x, [segments_per_clip, n_samples])
        y = tf.gather(targets, id_to_row.lookup(item_id))
        return tf.data.Dataset.from_tensor_slices((x, tf.repeat(y[None], segments_per_clip, axis=0)))

    ds = clips.enumerate().flat_map(_windows)
    ds = ds.shuffle(int(shuffle_buffer), seed=seed, reshuffle_each_iteration=False)
    if start:
        ds = ds.skip(int(start) // num_workers)
    return batched_for_strategy(ds, replica_batch), int(np.ceil(n * segments_per_clip / global_batch))
