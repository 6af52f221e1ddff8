"""Clip stores (decoded, resampled audio) and the ``tf.data`` training pipeline.

A :class:`ClipStore` hands out item ``i``'s waveform at the model's sample rate:

* ``'memory'`` — decode everything once into RAM (fast; for datasets that fit: the embedded
  dataset, GTZAN, Ballroom);
* ``'disk'`` — decode each file once into a float16 ``.npy`` cache (``<cache>/audio/<sr>/``,
  keyed by path, size and modification time) and memory-map it afterwards: epochs after the
  first never decode again and resident memory stays flat (MTAT, MSD);
* ``'none'`` — decode and resample on every access (the baseline the cache is measured against).

:func:`training_dataset` draws ``segments_per_clip`` random model-sized windows from every
clip per epoch through ``tf.data`` (seeded shuffle, parallel map, batching, prefetch).
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from .audio import AudioError, decode_error, fix_length, load_audio
from .cache import audio_cache_dir
from .windows import segment_offset

__all__ = ["ClipStore", "clip_blocks", "training_dataset", "mixup", "STORES", "epoch_permutations", "worker_batches",
           "batched_for_strategy"]

STORES = ("memory", "disk", "none")


class ClipStore:
    """Waveforms of a list of items at one sample rate.

    Parameters
    ----------
    paths : list of str
        Audio files.
    sample_rate : int
        Sample rate in Hz.
    mode : {'memory', 'disk', 'none'}
        See the module docstring.
    cache_dir : str or Path or None
        Root of the disk cache (default :func:`audio_cache_dir`).
    min_samples : int
        Clips shorter than this are zero-padded to it (a model input).
    progress : bool
        Progress bar while filling the store.
    max_seconds : float or None
        Keep only the first ``max_seconds`` of each file (e.g. LMD's first 30 s).

    Notes
    -----
    Files that cannot be decoded (or are silent) are dropped and listed in :attr:`errors` as
    ``(path, reason)``;
    :attr:`index` maps store rows to the original item positions.
    """

    def __init__(self, paths, sample_rate, *, mode="memory", cache_dir=None, min_samples=0, progress=True, desc="audio",
                 max_seconds=None):
        if mode not in STORES:
            raise ValueError(f"mode must be one of {STORES}, got {mode!r}")
        self.sample_rate = int(sample_rate)
        self.mode = mode
        self.min_samples = int(min_samples)
        self.max_seconds = None if max_seconds is None else float(max_seconds)
        self.cache_dir = audio_cache_dir(cache_dir) / str(self.sample_rate)
        self.errors = []
        self._arrays = []
        self._cached = []  # disk mode: the .npy of each row, resolved once
        self.paths = []
        self.index = []
        from tqdm.auto import tqdm

        for i, p in enumerate(tqdm(list(paths), desc=desc, unit="file", disable=not progress)):
            try:
                if mode == "memory":
                    self._arrays.append(self._pad(load_audio(p, self.sample_rate, allow_silent=False,
                                                             max_seconds=self.max_seconds)))
                elif mode == "disk":
                    self._cached.append(self._cached_file(p))  # decode now, once
                else:
                    import soundfile as sf

                    try:
                        sf.info(p)
                    except Exception as e:
                        raise decode_error(p, e) from None
            except AudioError as e:
                self.errors.append((e.path, e.reason))
                continue
            self.paths.append(str(p))
            self.index.append(i)
        self.index = np.array(self.index, dtype=np.int64)

    def __len__(self):
        return len(self.paths)

    def _pad(self, y):
        return fix_length(y, self.min_samples, mode="start") if len(y) < self.min_samples else y

    def _cached_file(self, path):
        st = os.stat(path)
        limit = "" if self.max_seconds is None else f"|{self.max_seconds}"
        ident = f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}|{self.sample_rate}{limit}"
        key = hashlib.sha1(ident.encode()).hexdigest()
        f = self.cache_dir / key[:2] / f"{key}.npy"
        if not f.exists():
            y = load_audio(path, self.sample_rate, allow_silent=False, max_seconds=self.max_seconds)
            f.parent.mkdir(parents=True, exist_ok=True)
            tmp = f.with_name(f"{key}.{os.getpid()}.tmp.npy")
            np.save(tmp, y.astype(np.float16))
            os.replace(tmp, f)
        return f

    def get(self, i):
        """Waveform of store row ``i``, float32 ``(n_samples,)`` (at least ``min_samples`` long)."""
        if self.mode == "memory":
            return self._arrays[i]
        if self.mode == "disk":
            y = np.load(self._cached[i], mmap_mode="r")
            return self._pad(np.asarray(y, dtype=np.float32))
        return self._pad(load_audio(self.paths[i], self.sample_rate, max_seconds=self.max_seconds))

    def crop(self, i, n_samples, offset_fraction):
        """A window of ``n_samples`` from row ``i`` starting at ``offset_fraction`` of the slack."""
        if self.mode == "disk":
            y = np.load(self._cached[i], mmap_mode="r")
        else:
            y = self.get(i)
        slack = max(len(y) - n_samples, 0)
        off = int(offset_fraction * (slack + 1)) if slack else 0
        off = min(off, slack)
        x = np.asarray(y[off : off + n_samples], dtype=np.float32)
        return fix_length(x, n_samples, mode="start") if len(x) < n_samples else x

    def __iter__(self):
        for i in range(len(self)):
            yield self.get(i)


def clip_blocks(paths, sample_rate, *, block=32, max_seconds=None, start=0):
    """Decode files ``block`` at a time, for jobs whose memory must not grow with the list.

    Parameters
    ----------
    paths : sequence of str
    sample_rate : int
        Decoding rate in Hz.
    block : int
        Files per block.
    max_seconds : float or None
        Keep only the first ``max_seconds`` of each file.
    start : int
        Begin at this position of ``paths`` (a resumed job; a multiple of ``block``).

    Yields
    ------
    first : int
        Position in ``paths`` of the block's first file.
    index : list of int
        Positions of the files that could be read (silent files are unreadable here).
    clips : list of np.ndarray
        Their waveforms, float32 ``(n_samples,)``.
    errors : list of (str, str)
        ``(path, reason)`` of the others.
    """
    for first in range(int(start), len(paths), int(block)):
        index, clips, errors = [], [], []
        for i, p in enumerate(paths[first:first + block], first):
            try:
                clips.append(load_audio(p, sample_rate, allow_silent=False, max_seconds=max_seconds))
                index.append(i)
            except AudioError as e:
                errors.append((e.path, e.reason))
        yield first, index, clips, errors


def training_dataset(store, targets, n_samples, *, segments_per_clip=1, batch_size=16, seed=0,
                     parallel_calls=None, start=0, num_workers=1, worker_index=0, replicas_per_worker=1,
                     fixed_segments=False):
    """Infinite ``tf.data`` stream of random windows and their targets, batched.

    Every epoch (``len(store) * segments_per_clip`` examples) visits each clip
    ``segments_per_clip`` times in a seeded random order; window offsets come from a seeded
    generator keyed by the example's position in the stream, so runs with the same seed see the
    same data. With ``fixed_segments`` the offset of clip ``i``'s ``j``-th window is keyed by
    ``(seed, i, j)`` instead: the same ``segments_per_clip`` windows every epoch (drawn once).

    Parameters
    ----------
    store : ClipStore
    targets : np.ndarray
        Per store row: class indices (n,) or multi-hot (n, n_tags).
    n_samples : int
        Window length in samples.
    segments_per_clip, batch_size, seed : int
        ``batch_size`` is the global batch: with several workers each yields its share.
    parallel_calls : int or None
        Parallel map workers (default ``tf.data.AUTOTUNE``).
    start : int
        Examples of the stream already consumed (a resumed run: ``epoch * steps_per_epoch *
        batch_size``); the stream continues exactly where an uninterrupted run would be.
    num_workers, worker_index : int
        Data-parallel workers: worker ``w`` yields examples ``w*b .. (w+1)*b - 1`` of every global
        batch (``b = batch_size / num_workers``), so the workers' batches together are the batch
        a single worker would see. ``batch_size`` must be a multiple of ``num_workers *
        replicas_per_worker``.
    replicas_per_worker : int
        Devices per worker: the worker's share is yielded as this many consecutive per-replica
        batches (``tf.distribute.Strategy.distribute_datasets_from_function`` semantics).

    Returns
    -------
    dataset : tf.data.Dataset
        Yields ``(x (batch_size / (num_workers * replicas_per_worker), n_samples) float32, y)``;
        automatic sharding by ``tf.distribute`` is switched off (sharding is done here).
    steps_per_epoch : int
        Global steps per epoch.
    """
    import tensorflow as tf

    n = len(store)
    if n == 0:
        raise ValueError("no clips to train on")
    per_epoch = n * int(segments_per_clip)
    targets = np.asarray(targets)
    y_all = tf.constant(targets)

    def _windows(ks, vs):  # one Python call per batch, not per example (the per-call overhead
        # dominated the small frame DNN's steps); offsets keyed by the stream position k, or by
        # (clip, segment) = (v mod n, v div n) for fixed segments
        if fixed_segments:
            return np.stack([store.crop(int(v) % n, n_samples, segment_offset(seed, int(v) % n, int(v) // n))
                             for v in vs]).astype(np.float32, copy=False)
        return np.stack([store.crop(int(v) % n, n_samples, np.random.default_rng([seed, int(k)]).random())
                         for k, v in zip(ks, vs)]).astype(np.float32, copy=False)

    def _map(ks, vs):
        x = tf.numpy_function(_windows, [ks, vs], tf.float32, stateful=False)
        x.set_shape([None, n_samples])
        return x, tf.gather(y_all, vs % n)

    global_batch = int(batch_size)
    local_batch, replica_batch = worker_batches(global_batch, num_workers, replicas_per_worker)
    # a permutation depends only on the length and seed: permuting 0..per_epoch-1 and taking
    # v mod n visits the clips in the same order as permuting (0..per_epoch-1) mod n
    ds = epoch_permutations(tf.range(per_epoch, dtype=tf.int64), seed).enumerate()
    if start:
        ds = ds.skip(int(start))
    if num_workers > 1:
        ds = ds.filter(lambda k, i: (k % global_batch) // local_batch == worker_index)
    ds = batched_for_strategy(ds, replica_batch, batch_fn=_map, parallel_calls=parallel_calls)
    return ds, int(np.ceil(per_epoch / global_batch))


def mixup(ds, alpha, *, seed=0):
    """Mixup of a batched ``(x, y)`` stream: each example mixed with another of its batch.

    ``x' = λ x + (1 − λ) x[perm]``, ``y' = λ y + (1 − λ) y[perm]`` with ``λ ~ Beta(α, α)`` per
    example (drawn as ``G1 / (G1 + G2)`` from two Gamma variates) and a random permutation of the
    batch. For tag (multi-hot float) targets; the draws are keyed by ``(seed, batch position)``,
    so the stream is the same on every run with the same seed.

    Parameters
    ----------
    ds : tf.data.Dataset
        Batches ``(x (batch, ...), y (batch, n_tags))``.
    alpha : float
        Beta parameter (e.g. 0.2-0.4).
    seed : int

    Returns
    -------
    tf.data.Dataset
    """
    import tensorflow as tf

    def mix(i, batch):
        x, y = batch
        b = tf.shape(x)[0]
        s = tf.stack([tf.constant(int(seed), tf.int64), i])
        g1 = tf.random.stateless_gamma([b], seed=s, alpha=alpha)
        g2 = tf.random.stateless_gamma([b], seed=s + 1, alpha=alpha)
        lam = g1 / (g1 + g2)
        perm = tf.argsort(tf.random.stateless_uniform([b], seed=s + 2))
        lx = tf.reshape(tf.cast(lam, x.dtype), tf.concat([[b], tf.ones([tf.rank(x) - 1], tf.int32)], 0))
        ly = tf.reshape(tf.cast(lam, tf.float32), [-1, 1])
        y = tf.cast(y, tf.float32)
        return lx * x + (1 - lx) * tf.gather(x, perm), ly * y + (1 - ly) * tf.gather(y, perm)

    return ds.enumerate().map(mix)


def epoch_permutations(values, seed):
    """``values`` (1-D tensor) repeated forever, each epoch in its own stateless permutation.

    The permutation of epoch ``e`` is keyed by ``(seed, e)`` only, so the stream is a function of
    the position in it, not of how many iterators were made before (Keras and tf.distribute make
    extra ones).
    """
    import tensorflow as tf

    def _epoch(e):
        order = tf.random.experimental.stateless_shuffle(values, seed=tf.stack([tf.constant(seed, tf.int64), e]))
        return tf.data.Dataset.from_tensor_slices(order)

    return tf.data.Dataset.range(2 ** 62).flat_map(_epoch)


def worker_batches(batch_size, num_workers=1, replicas_per_worker=1):
    """``(examples per worker, examples per replica)`` of a global batch; it must divide evenly."""
    global_batch, num_workers, replicas = int(batch_size), int(num_workers), int(replicas_per_worker)
    if global_batch % (num_workers * replicas):
        raise ValueError(f"batch_size {global_batch} is not a multiple of the number of replicas "
                         f"({num_workers} worker(s) x {replicas})")
    return global_batch // num_workers, global_batch // (num_workers * replicas)


def batched_for_strategy(ds, replica_batch, *, batch_fn=None, parallel_calls=None):
    """Batch, map ``batch_fn`` over whole batches (parallel, order kept) if given, prefetch, and
    switch tf.distribute's automatic sharding off (the stream is sharded already)."""
    import tensorflow as tf

    ds = ds.batch(int(replica_batch))
    if batch_fn is not None:
        ds = ds.map(batch_fn, num_parallel_calls=parallel_calls or tf.data.AUTOTUNE, deterministic=True)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.with_options(options)
