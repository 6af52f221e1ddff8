"""Preparation job: decode and resample a dataset once into sharded TFRecord files (``bin/prepare_dataset.py``).

The shard format, writer and readers are :mod:`kerasmgr.data.shards`; this job opens the
subsets of a :class:`~kerasmgr.data.selection.DataSelection` at the model's rate and writes them.
"""

from __future__ import annotations

from .. import models
from ..data.selection import DataSelection, open_subsets
from ..data.shards import write_shards
from ..data.splits import SUBSETS

__all__ = ["prepare_dataset"]


def prepare_dataset(data, out_dir="shards", *, sample_rate=None, model=None, subsets=SUBSETS, shard_size=128,
                    dtype="int16", workers=None, progress=True):
    """Write the sharded copy of a dataset that ``bin/train.py --dataset shards`` streams.

    Parameters
    ----------
    data : DataSelection
        The dataset and split (its ``subset`` is ignored: ``subsets`` are written).
    out_dir : str or Path
        Output folder; running again resumes (finished shards are kept).
    sample_rate : int or None
        Target rate in Hz.
    model : str or None
        A registered model whose rate to use instead (:func:`kerasmgr.models.contract`).
    subsets : sequence of {'train', 'valid', 'test'}
    shard_size, dtype, workers, progress
        As :func:`kerasmgr.data.shards.write_shards`.

    Returns
    -------
    dict
        The manifest.
    """
    if model is not None:
        sample_rate = models.contract(model).sample_rate
    if sample_rate is None:
        raise ValueError("give a sample rate or a model")
    data = data or DataSelection()
    parts = open_subsets(data, subsets, sample_rate=sample_rate, progress=progress)
    source = {"dataset": data.dataset, "root": data.data_root,
              "dataset_kwargs": data.loader_kwargs(sample_rate=sample_rate)}
    return write_shards(parts, out_dir, sample_rate=sample_rate, source=source, shard_size=shard_size, dtype=dtype,
                        workers=workers, progress=progress)
