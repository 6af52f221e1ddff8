"""One dataset API: items with a path, labels and (where known) a group id.

Today it serves the embedded dataset; the real-dataset loaders (GTZAN, folder, CSV,
MagnaTagATune, MSD, Ballroom) plug into the same :class:`Dataset` shape.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import embedded
from .audio import AudioError, fix_length, load_audio

__all__ = ["Item", "Dataset", "load_dataset", "load_waveforms", "DATASETS", "TASKS"]

TASKS = ("genre", "tags")


@dataclass(frozen=True)
class Item:
    """One audio file and its labels.

    ``path`` is absolute; ``label`` the class name (or ``None``); ``tags`` a tuple of tag names;
    ``group`` an artist/piece/track id where the dataset knows one.
    """

    path: str
    label: str | None = None
    tags: tuple = ()
    group: str | None = None


@dataclass
class Dataset:
    """A split of a dataset: items plus the label vocabularies, in output order."""

    name: str
    root: str
    split: str
    items: list = field(default_factory=list)
    classes: list = field(default_factory=list)
    tags: list = field(default_factory=list)
    sample_rate: int | None = None  # native rate when the dataset fixes one

    def __len__(self):
        return len(self.items)

    def labels(self, task):
        """Names of the outputs for ``task`` ('genre': classes, 'tags': tags)."""
        _check_task(task)
        return list(self.classes if task == "genre" else self.tags)

    def targets(self, task):
        """Targets for ``task``.

        Returns
        -------
        np.ndarray
            'genre': int class indices, shape (n_items,); 'tags': float32 multi-hot,
            shape (n_items, n_tags).
        """
        _check_task(task)
        if task == "genre":
            index = {c: i for i, c in enumerate(self.classes)}
            return np.array([index[it.label] for it in self.items], dtype=np.int64)
        index = {t: i for i, t in enumerate(self.tags)}
        y = np.zeros((len(self.items), len(self.tags)), dtype=np.float32)
        for r, it in enumerate(self.items):
            for t in it.tags:
                y[r, index[t]] = 1.0
        return y


def _check_task(task):
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")


def _load_embedded(root, split, *, sample_rate=22050, seed=0, clips_per_genre=40, duration=30.0,
                   progress=True):
    folder = embedded.ensure_dataset(seed=seed, clips_per_genre=clips_per_genre, duration=duration,
                                     sr=sample_rate, root=root, progress=progress)
    with open(folder / "tags.csv", newline="") as f:
        rows = {r["path"]: r for r in csv.DictReader(f)}
    names = (folder / "splits" / f"{split}_default.txt").read_text().split()
    items = [Item(str(folder / p), rows[p]["genre"], tuple(t for t in rows[p]["tags"].split(";") if t),
                  group=p) for p in names]
    return Dataset("embedded", str(folder), split, items, list(embedded.GENRES), list(embedded.TAGS),
                   sample_rate=sample_rate)


DATASETS = {"embedded": _load_embedded}


def load_dataset(name, root=None, *, split="train", **kwargs):
    """Load one split of a dataset.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS` (``'embedded'``: the generated default dataset).
    root : str or Path or None
        Dataset folder (for 'embedded': the cache root; default ``$KERASMGR_CACHE`` or
        ``~/.cache/kerasmgr``).
    split : {'train', 'valid', 'test'}
        Which split.
    **kwargs
        Dataset options; 'embedded' takes ``sample_rate`` (Hz, the files are generated at it),
        ``seed``, ``clips_per_genre``, ``duration`` (s) and ``progress``.

    Returns
    -------
    Dataset
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be 'train', 'valid' or 'test', got {split!r}")
    return DATASETS[name](root, split, **kwargs)


def load_waveforms(items, sr, *, n_samples=None, progress=True, desc="loading audio"):
    """Decode the items' audio at ``sr`` into one array.

    Parameters
    ----------
    items : sequence of Item
    sr : int
        Sample rate in Hz.
    n_samples : int or None
        Length of every row (centre-cropped or zero-padded at the end); default the longest file.
    progress : bool
        tqdm progress bar.

    Returns
    -------
    audio : np.ndarray, float32, shape (n_ok, n_samples)
    ok : np.ndarray of int
        Indices (into ``items``) of the rows of ``audio``.
    errors : list of (str, str)
        ``(path, reason)`` of every file that could not be used (skipped, not fatal).
    """
    from tqdm.auto import tqdm

    waves, ok, errors = [], [], []
    for i, it in enumerate(tqdm(items, desc=desc, unit="file", disable=not progress)):
        try:
            waves.append(load_audio(it.path, sr))
            ok.append(i)
        except AudioError as e:
            errors.append((e.path, e.reason))
    if not waves:
        return np.zeros((0, n_samples or 0), np.float32), np.array(ok, dtype=np.int64), errors
    if n_samples is None:
        n_samples = max(len(w) for w in waves)
    audio = np.stack([fix_length(w, n_samples) for w in waves]).astype(np.float32)
    return audio, np.array(ok, dtype=np.int64), errors
