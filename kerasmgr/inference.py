"""Batched inference: a model's forward pass compiled once and reused for any number of inputs.

Evaluation and tagging run many model-sized windows through a network; Keras' ``predict``
rebuilds its loop on every call, so a compiled ``tf.function`` is kept per (model, batch size).
Partial batches are padded to the next power of two, so a few shapes are ever traced.

The compiled pass runs an inference view of the model (:func:`fold_batch_norm`): each
convolution followed by batch normalisation becomes one convolution whose kernel and bias absorb
the normalisation, computed from the live variables on every call, so a model that keeps training
is predicted with its current weights.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
import tensorflow as tf
from keras.src.layers.convolutional.base_conv import BaseConv

from .layers import FusedBatchNormalization

__all__ = ["BatchPredictor", "batch_predictor", "fold_batch_norm", "INFERENCE_SECONDS", "inference_batch_size"]

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


class _ConvBatchNorm(keras.layers.Layer):
    """Inference-only: ``bn(conv(x))`` as one convolution, ``conv(x; W·s) + (b − μ)·s + β`` with
    ``s = γ / sqrt(σ² + ε)``, from the two layers' variables at call time (never saved)."""

    def __init__(self, conv, bn, **kwargs):
        super().__init__(name=f"{conv.name}_{bn.name}_folded", dtype=conv.dtype_policy, **kwargs)
        self.conv, self.bn = conv, bn

    def call(self, x):
        conv, bn = self.conv, self.bn
        n = conv.filters
        var = tf.cast(bn.moving_variance, tf.float32)
        scale = tf.math.rsqrt(var + bn.epsilon)
        if bn.scale:
            scale = scale * tf.cast(bn.gamma, tf.float32)
        bias = tf.cast(conv.bias, tf.float32) if conv.use_bias else tf.zeros([n])
        bias = (bias - tf.cast(bn.moving_mean, tf.float32)) * scale
        if bn.center:
            bias = bias + tf.cast(bn.beta, tf.float32)
        kernel = tf.cast(conv.kernel, tf.float32) * scale
        y = conv.convolution_op(x, tf.cast(kernel, x.dtype))
        return tf.nn.bias_add(y, tf.cast(bias, y.dtype))


#: Batch normalisations whose inference path is the per-channel affine map of the moving statistics.
_BATCH_NORMS = (keras.layers.BatchNormalization, FusedBatchNormalization)


def _foldable(conv, bn, outputs):
    """Whether ``bn`` directly and solely follows ``conv`` in a way one convolution can replace."""
    return (isinstance(conv, BaseConv) and type(bn) in _BATCH_NORMS
            and conv.data_format == "channels_last" and bn.axis in (-1, len(conv.output.shape) - 1)
            and conv.activation in (None, keras.activations.linear) and not bn.synchronized
            and len(conv._inbound_nodes) == 1 and len(conv._outbound_nodes) == 1
            and len(bn._inbound_nodes) == 1 and conv.output is bn.input
            and not any(conv.output is o for o in outputs))


def fold_batch_norm(model):
    """An inference view of ``model`` with every convolution → batch normalisation pair fused.

    Batch normalisation at inference is an affine map per channel, so a convolution followed by
    it equals one convolution with a rescaled kernel and a shifted bias. Removing that pass over
    the activations is the cheapest win on memory-bound blocks: k2c2's first block normalises
    96 × 1366 × 32 values per 29-s clip (its forward pass 16 → 11 ms per 2 clips here). The view
    shares every layer and variable with ``model`` and recomputes the folded kernels from them on
    each call (a few thousand numbers), so it stays exact while ``model`` trains. Outputs equal
    ``model(x, training=False)`` up to float rounding (~1e-6 on k2c2's sigmoid scores).

    Only Keras' ``BatchNormalization`` (and :class:`kerasmgr.layers.FusedBatchNormalization`) on
    the channel axis of a channels-last ``Conv1D/2D/3D`` without activation whose output feeds
    nothing else is folded; anything else is left as it is (e.g. ``BatchStatBN``, which uses the
    batch's statistics). Only for ``training=False``.

    Parameters
    ----------
    model : keras.Model
        A functional model.

    Returns
    -------
    keras.Model
        The folded view, or ``model`` itself when nothing can be folded (or the model is not
        functional).
    """
    if not isinstance(model, keras.Model) or not hasattr(model, "_nodes_by_depth") or isinstance(model, keras.Sequential):
        return model
    outputs = list(model.outputs)
    pairs = {}
    for layer in model.layers:
        nodes = getattr(layer, "_outbound_nodes", [])
        if len(nodes) == 1 and _foldable(layer, nodes[0].operation, outputs):
            pairs[id(layer)] = nodes[0].operation
    if not pairs:
        return model
    skipped = {id(bn) for bn in pairs.values()}

    def call(layer, *args, **kwargs):
        if id(layer) in pairs:
            return _ConvBatchNorm(layer, pairs[id(layer)])(*args)
        if id(layer) in skipped:
            return args[0]
        return layer(*args, **kwargs)

    return keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)


class BatchPredictor:
    """A model's forward pass compiled for a few batch shapes (full batches; partial ones padded to
    2^k), batch normalisation folded into the convolutions before it (:func:`fold_batch_norm`)."""

    def __init__(self, model, batch_size, fold=True):
        self.batch_size = int(batch_size)
        view = fold_batch_norm(model) if fold else model
        self.fn = tf.function(lambda x: view(x, training=False), reduce_retracing=True, autograph=False)

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


_PREDICTORS = weakref.WeakKeyDictionary()  # model -> {(batch_size, fold): compiled predictor}


def batch_predictor(model, batch_size, *, fold=True):
    """The model's compiled batch predictor, built once per (model, batch size, fold).

    Parameters
    ----------
    model : keras.Model
    batch_size : int
        Inputs per forward pass.
    fold : bool
        Fold batch normalisation into the convolutions (:func:`fold_batch_norm`): faster,
        outputs equal to float rounding (~1e-7 on probabilities, ~3e-5 relative on unbounded
        hidden activations). Feature extraction passes False so that features stay bit-identical
        to Keras' ``predict``.

    Returns
    -------
    BatchPredictor
        ``predictor(x) -> np.ndarray`` for ``x`` of shape (n, *model input) and any n (a list
        of arrays for a model with several outputs).
    """
    by_size = _PREDICTORS.setdefault(model, {})
    key = (int(batch_size), bool(fold))
    if key not in by_size:
        by_size[key] = BatchPredictor(model, batch_size, fold)
    return by_size[key]
