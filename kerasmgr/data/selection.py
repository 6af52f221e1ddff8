"""Which data a job reads: one :class:`DataSelection` type and one :func:`open_split`.

Every job that reads a dataset (train, evaluate, attack, extract, analyse, prepare, ...) names
its data the same way: a dataset name, its root folder, a split (the name of a set of split
lists), where those lists live, loader options, and a subset. This module owns the rules that
connect such a selection to a model, so they are decided once:

- the embedded dataset is generated at the sample rate of the model that will read it, unless
  the selection says otherwise (``dataset_kwargs['sample_rate']``);
- ``split`` and ``split_dir`` are passed to the loader as the split-list name and folder;
- ``subset='all'`` is the train, valid and test subsets together.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .datasets import DATASETS, load_dataset
from .splits import SUBSETS, check_subset

__all__ = ["DataSelection", "open_split", "open_subsets"]


@dataclass(frozen=True)
class DataSelection:
    """A dataset, a split of it, and a subset.

    Parameters
    ----------
    dataset : str
        A name of :data:`kerasmgr.data.datasets.DATASETS` ('embedded', 'gtzan', 'folder', ...).
    data_root : str or None
        Its folder (the CSV file for 'csv'; the cache root for 'embedded').
    split : str or None
        Name of the split lists ``{train,valid,test}_<split>.txt`` (default: the dataset's own
        partition, e.g. a seeded stratified one).
    split_dir : str or None
        Folder of the split lists (default ``<data_root>/splits``).
    subset : {'train', 'valid', 'test', 'all'}
        The part a job reads (jobs that read several parts choose their own).
    dataset_kwargs : dict
        Further loader options (see :func:`kerasmgr.data.datasets.load_dataset`).
    """

    dataset: str = "embedded"
    data_root: str | None = None
    split: str | None = None
    split_dir: str | None = None
    subset: str = "test"
    dataset_kwargs: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; available: {', '.join(DATASETS)}")
        check_subset(self.subset)
        for k in ("data_root", "split_dir"):
            v = getattr(self, k)
            if v is not None and not isinstance(v, str):
                object.__setattr__(self, k, str(v))
        object.__setattr__(self, "dataset_kwargs", dict(self.dataset_kwargs or {}))

    def with_subset(self, subset):
        """The same selection with another subset."""
        return dataclasses.replace(self, subset=subset)

    def loader_kwargs(self, *, sample_rate=None, progress=None):
        """Keyword arguments for the dataset's loader.

        Parameters
        ----------
        sample_rate : int or None
            Rate (Hz) of the model that will read the audio: the embedded dataset is generated at
            it unless ``dataset_kwargs`` fixes a rate.
        progress : bool or None
            Progress bar of the embedded dataset's generation (``None``: the loader's default).
        """
        kw = dict(self.dataset_kwargs)
        if self.dataset == "embedded":
            if sample_rate is not None:
                kw.setdefault("sample_rate", int(sample_rate))
            if progress is not None:
                kw.setdefault("progress", bool(progress))
        if self.split:
            kw["split"] = self.split
        if self.split_dir:
            kw["split_dir"] = self.split_dir
        return kw

    def describe(self):
        """A short title, e.g. ``'gtzan filtered test'``."""
        return " ".join(str(x) for x in (self.dataset, self.split, self.subset) if x)

    def to_dict(self):
        """JSON-serialisable form (for report metadata)."""
        return dataclasses.asdict(self)


def open_split(selection, subset=None, *, sample_rate=None, progress=None):
    """Load one subset of a selection.

    Parameters
    ----------
    selection : DataSelection
    subset : str or None
        Overrides ``selection.subset``.
    sample_rate : int or None
        The reading model's rate in Hz (see :meth:`DataSelection.loader_kwargs`).
    progress : bool or None
        Progress bar of the embedded dataset's generation.

    Returns
    -------
    kerasmgr.data.datasets.Dataset
        (or a :class:`kerasmgr.data.shards.ShardedSplit` for 'shards').
    """
    subset = selection.subset if subset is None else check_subset(subset)
    return load_dataset(selection.dataset, selection.data_root, subset=subset,
                        **selection.loader_kwargs(sample_rate=sample_rate, progress=progress))


def open_subsets(selection, subsets=SUBSETS, *, sample_rate=None, progress=None):
    """``{subset: Dataset}`` for several subsets of a selection (default train, valid, test)."""
    return {s: open_split(selection, s, sample_rate=sample_rate, progress=progress) for s in subsets}
