"""Batched inference: a model's forward pass compiled once and reused for any number of inputs.

Evaluation and tagging run many model-sized windows through a network; Keras' ``predict``
rebuilds its loop on every call, so a compiled ``tf.function`` is kept per (model, batch size).
Partial batches are padded to the next power of two, so a few shapes are ever traced.
"""

from __future__ import annotations

import weakref

import numpy as np
import tensorflow as tf

__all__ = ["BatchPredictor", "batch_predictor", "INFERENCE_SECONDS", "inference_batch_size"]

#: Audio per forward pass (seconds) for tagging and feature extraction on CPU. On 2 cores a k2c2
#: batch of 2 × 29 s was as fast per segment as one of 16 or faster, while each 29-s segment in
#: flight holds ~30 MB of activations (the first block's 96 × 1366 × 32 maps), so ~1 minute of
#: audio per pass keeps tagging under 1 GB; outputs are bit-identical for k2c2 batches of 2 to 16
#: here. Models with short inputs get proportionally more segments per pass (a frame DNN's 46-ms
#: input one at a time would spend its time in call overhead). On a GPU pass a larger batch.
INFERENCE_SECONDS = 60.0


def inference_batch_size(n_samples, sample_rate):
    """Segments per forward pass for a model input of ``n_samples`` at ``sample_rate`` Hz: about
    :data:`INFERENCE_SECONDS` of audio, at least 2 and at most 512 segments."""
    return int(min(512, max(2, round(INFERENCE_SECONDS * sample_rate / max(int(n_samples), 1)))))


class BatchPredictor:
    """A model's forward pass compiled for a few batch shapes (full batches; partial ones padded to 2^k)."""

    def __init__(self, model, batch_size):
        self.batch_size = int(batch_size)
        self.fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True, autograph=False)

    def __call__(self, segs):
        out = []
        multi = False
        for i in range(0, len(segs), self.batch_size):
            b = segs[i:i + self.batch_size]
            k = len(b)
            size = min(self.batch_size, 1 << (k - 1).bit_length())  # a partial batch: the next power of two
            if k < size:
                b = np.concatenate([b, np.zeros((size - k, *b.shape[1:]), b.dtype)])
            res = self.fn(b)
            multi = isinstance(res, (list, tuple))
            out.append([np.asarray(r)[:k] for r in (res if multi else [res])])
        cols = [np.concatenate([o[j] for o in out]) for j in range(len(out[0]))]
        return cols if multi else cols[0]


_PREDICTORS = weakref.WeakKeyDictionary()  # model -> {batch_size: compiled predictor}


def batch_predictor(model, batch_size):
    """The model's compiled batch predictor, built once per (model, batch size).

    Parameters
    ----------
    model : keras.Model
    batch_size : int
        Inputs per forward pass.

    Returns
    -------
    BatchPredictor
        ``predictor(x) -> np.ndarray`` for ``x`` of shape (n, *model input) and any n (a list
        of arrays for a model with several outputs).
    """
    by_size = _PREDICTORS.setdefault(model, {})
    if batch_size not in by_size:
        by_size[batch_size] = BatchPredictor(model, batch_size)
    return by_size[batch_size]
