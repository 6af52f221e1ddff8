"""Splits and subsets: the vocabulary every loader and job shares, and split-list files.

A *split* is a named partition of a dataset, stored as dnn-mgr-style split lists
``{train,valid,test}_<split>.txt`` (one path per line, relative to the dataset's class-folder
parent). A *subset* is one part of it: ``'train'``, ``'valid'``, ``'test'``, or ``'all'`` for the
three together. This module owns those words, the list files and the seeded stratified draw; it
imports nothing else of kerasmgr, so every data module can use it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

__all__ = ["DatasetError", "SUBSETS", "ALL", "check_subset", "subsets_of", "read_split_list", "split_list_path",
           "has_split_lists", "stratified_split", "SCHINDLER_PROPORTIONS", "LMD_PROPORTIONS", "LMD_SECONDS"]

#: The three parts of a split, in order.
SUBSETS = ("train", "valid", "test")
#: The subset name that means all three parts.
ALL = "all"


class DatasetError(ValueError):
    """A dataset folder, list or annotation file that cannot be used (the message says why)."""


def check_subset(subset, *, allow_all=True):
    """Validate a subset name (``'train'``, ``'valid'``, ``'test'`` or, if allowed, ``'all'``)."""
    ok = SUBSETS + ((ALL,) if allow_all else ())
    if subset not in ok:
        raise ValueError(f"subset must be one of {', '.join(ok)}; got {subset!r}")
    return subset


def subsets_of(subset):
    """The parts a subset name stands for: ``'all'`` -> the three, else the one."""
    return SUBSETS if check_subset(subset) == ALL else (subset,)


def read_split_list(path):
    """Lines of a dnn-mgr-style split list (one relative path per line; blank lines and
    ``#`` comments ignored)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: split list not found")
    return [l.strip() for l in path.read_text().splitlines() if l.strip() and not l.lstrip().startswith("#")]


def split_list_path(split_dir, split, subset):
    """Path of one split list: ``<split_dir>/<subset>_<split>.txt``."""
    return Path(split_dir) / f"{subset}_{split}.txt"


def has_split_lists(split_dir, name):
    """Whether ``split_dir`` holds ``{train,valid,test}_<name>.txt``."""
    return all(split_list_path(split_dir, name, s).is_file() for s in SUBSETS)


def stratified_split(labels, *, seed=0, proportions=(0.5, 0.25, 0.25), groups=None):
    """Seeded random stratified partition into train/valid/test.

    Within each class the items (or, when ``groups`` is given, whole groups, so a group never
    straddles two subsets) are shuffled with ``numpy.random.RandomState(seed)`` and cut by
    ``proportions``; the train subset takes the rounding remainder.

    Parameters
    ----------
    labels : sequence of str
    seed : int
    proportions : (float, float, float)
        Fractions for train, valid, test (summing to 1).
    groups : sequence or None
        Group id per item.

    Returns
    -------
    dict
        ``{'train': [indices], 'valid': [...], 'test': [...]}``.
    """
    if abs(sum(proportions) - 1) > 1e-6 or len(proportions) != 3:
        raise ValueError(f"proportions must be three fractions summing to 1, got {proportions}")
    rng = np.random.RandomState(seed)
    labels = list(labels)
    groups = list(range(len(labels))) if groups is None else list(groups)
    members = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    # a group goes whole to one subset; it is stratified by its most frequent label
    group_label = {g: Counter(labels[i] for i in idx).most_common(1)[0][0] for g, idx in members.items()}
    subset_of = {}
    for c in sorted(set(group_label.values()), key=str):
        units = sorted((g for g, l in group_label.items() if l == c), key=str)
        units = [units[j] for j in rng.permutation(len(units))]
        n_valid = int(round(proportions[1] * len(units)))
        n_test = int(round(proportions[2] * len(units)))
        for k, g in enumerate(units):
            subset_of[g] = "test" if k < n_test else ("valid" if k < n_test + n_valid else "train")
    out = {s: [] for s in SUBSETS}
    for i, g in enumerate(groups):
        out[subset_of[g]].append(i)
    return out


#: Seed 001: 750/250 train/test per GTZAN, stratified, no validation subset.
SCHINDLER_PROPORTIONS = (0.75, 0.0, 0.25)
#: Seed 004 on the Latin Music Database: 60/20/20 per class.
LMD_PROPORTIONS = (0.6, 0.2, 0.2)
#: Seed 004 uses the first 30 s of each LMD recording.
LMD_SECONDS = 30.0
