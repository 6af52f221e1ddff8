"""Small registered Keras layers used by the model zoo (no ``Lambda`` layers anywhere).

Every layer has a complete ``get_config`` and is registered under the package name
``kerasmgr``, so models load with ``keras.models.load_model`` (safe mode on) after
``import kerasmgr``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "Standardization",
    "UntiedBias",
    "PoolPad",
    "ScaledDropout",
    "FoldPatches",
    "UnfoldPatches",
    "adapt_standardization",
    "LegacyBatchNorm",
    "BatchStatBN",
    "FusedBatchNormalization",
    "keras1_hard_sigmoid",
]

_register = keras.saving.register_keras_serializable(package="kerasmgr")


@_register
class Standardization(keras.layers.Layer):
    """Frozen standardisation with statistics set from training data (dnn-mgr's ``pre`` layer).

    ``y = (x - mean) * istd * mask`` with ``istd = 1 / sqrt(var)`` and ``mask = istd < max_istd``:
    dimensions with a very small variance are zeroed, as in Kereliuk et al.'s code. ``mean`` and
    ``var`` are non-trainable weights (saved with the model); set them with
    :func:`adapt_standardization` or :meth:`set_statistics`.

    Parameters
    ----------
    axis : int or tuple of int
        Axes (of the input, batch axis excluded from counting as 0) that keep their own
        statistics, e.g. ``-1`` for one mean per frequency bin of ``(batch, time, freq)``.
        Statistics are pooled over all other axes.
    max_istd : float or None
        Dimensions with ``1/std >= max_istd`` are zeroed (20 in dnn-mgr). ``None`` keeps all.
    """

    def __init__(self, axis=-1, max_istd=20.0, **kwargs):
        super().__init__(**kwargs)
        self.axis = tuple(axis) if isinstance(axis, (list, tuple)) else (int(axis),)
        self.max_istd = None if max_istd is None else float(max_istd)

    def _kept_axes(self, ndim):
        return sorted(a % ndim for a in self.axis)

    def build(self, input_shape):
        ndim = len(input_shape)
        kept = self._kept_axes(ndim)
        if 0 in kept:
            raise ValueError("Standardization cannot keep statistics along the batch axis")
        shape = tuple(int(input_shape[a]) for a in kept)
        self.mean = self.add_weight(name="mean", shape=shape, initializer="zeros", trainable=False)
        self.var = self.add_weight(name="var", shape=shape, initializer="ones", trainable=False)

    def _broadcast(self, v, ndim):
        kept = self._kept_axes(ndim)
        shape = [1] * ndim
        for i, a in enumerate(kept):
            shape[a] = v.shape[i]
        return tf.reshape(v, shape)

    def call(self, x):
        ndim = len(x.shape)
        mean = self._broadcast(self.mean, ndim)
        var = self._broadcast(self.var, ndim)
        istd = tf.math.rsqrt(tf.maximum(var, 1e-30))
        if self.max_istd is not None:
            istd = istd * tf.cast(istd < self.max_istd, istd.dtype)
        return (x - mean) * istd

    def set_statistics(self, mean, var):
        """Set the frozen statistics (arrays shaped like the kept axes)."""
        self.mean.assign(np.asarray(mean, dtype="float32").reshape(self.mean.shape))
        self.var.assign(np.asarray(var, dtype="float32").reshape(self.var.shape))

    def get_config(self):
        return {**super().get_config(), "axis": list(self.axis), "max_istd": self.max_istd}


def adapt_standardization(model, batches):
    """Set every :class:`Standardization` layer of ``model`` from data (pooled mean, variance).

    Parameters
    ----------
    model : keras.Model
        A kerasmgr model containing :class:`Standardization` layers.
    batches : iterable of np.ndarray
        Model inputs (e.g. training waveforms ``(batch, n_samples)``); each is run through the
        model up to each layer's input, and statistics are accumulated in float64
        (population variance over all pooled axes, as dnn-mgr's ``v1.0``).

    Returns
    -------
    int
        The number of layers adapted.
    """
    layers = [l for l in model.layers if isinstance(l, Standardization)]
    if not layers:
        return 0
    taps = keras.Model(model.input, [l.input for l in layers])
    sums = [None] * len(layers)
    for batch in batches:
        outs = taps(batch, training=False)
        if len(layers) == 1:
            outs = [outs]
        for i, (layer, out) in enumerate(zip(layers, outs)):
            out = np.asarray(out, dtype=np.float64)
            kept = layer._kept_axes(out.ndim)
            pooled = tuple(a for a in range(out.ndim) if a not in kept)
            n = np.prod([out.shape[a] for a in pooled])
            s1 = out.sum(axis=pooled)
            s2 = (out * out).sum(axis=pooled)
            if sums[i] is None:
                sums[i] = [n, s1, s2]
            else:
                sums[i][0] += n
                sums[i][1] += s1
                sums[i][2] += s2
    if sums[0] is None:
        raise ValueError("adapt_standardization got no batches")
    for layer, (n, s1, s2) in zip(layers, sums):
        mean = s1 / n
        var = np.maximum(s2 / n - mean * mean, 0.0)
        layer.set_statistics(mean, var)
    return len(layers)


@_register
class UntiedBias(keras.layers.Layer):
    """A bias with one value per output position and channel (pylearn2 ``tied_b=False``).

    Input ``(batch, *dims)``; adds a trainable tensor of shape ``dims``.
    """

    def __init__(self, initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        self.bias = self.add_weight(
            name="bias", shape=tuple(int(d) for d in input_shape[1:]), initializer=self.initializer
        )

    def call(self, x):
        return x + self.bias

    def get_config(self):
        return {**super().get_config(), "initializer": keras.initializers.serialize(self.initializer)}


@_register
class PoolPad(keras.layers.Layer):
    """Pad the spatial axes with -inf so 'valid' max-pooling matches pylearn2's ``max_pool``.

    pylearn2 gives ``ceil((n - p) / s) + 1`` outputs per axis; Keras 'valid' gives
    ``floor((n - p) / s) + 1``. This layer pads the bottom/right of each spatial axis with the
    lowest float so a following ``MaxPooling2D(pool_size, strides, 'valid')`` gives pylearn2's
    size. Input ``(batch, rows, cols, channels)``.
    """

    def __init__(self, pool_size=(4, 4), strides=(2, 2), **kwargs):
        super().__init__(**kwargs)
        self.pool_size = tuple(int(p) for p in pool_size)
        self.strides = tuple(int(s) for s in strides)

    def _pads(self, dims):
        pads = []
        for n, p, s in zip(dims, self.pool_size, self.strides):
            n_out = int(np.ceil(max(n - p, 0) / s)) + 1
            pads.append(max((n_out - 1) * s + p - n, 0))
        return pads

    def call(self, x):
        pr, pc = self._pads(x.shape[1:3])
        return tf.pad(x, [[0, 0], [0, pr], [0, pc], [0, 0]], constant_values=x.dtype.min)

    def compute_output_shape(self, input_shape):
        pr, pc = self._pads(input_shape[1:3])
        return (input_shape[0], input_shape[1] + pr, input_shape[2] + pc, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides)}


@_register
class ScaledDropout(keras.layers.Layer):
    """Dropout with an explicit scale for kept units: ``x * Bernoulli(1 - rate) * scale`` in training.

    ``scale=None`` is Keras' inverted dropout (``1 / (1 - rate)``). dnn-mgr's pylearn2 models kept
    inputs with p = 0.75 and scaled them by 2.0 (``default_input_scale``), with no rescaling at
    test time: ``ScaledDropout(0.25, scale=2.0)``. Identity at inference.
    """

    def __init__(self, rate, scale=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.scale = None if scale is None else float(scale)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        if not training or self.rate <= 0:
            return x
        keep = keras.random.uniform(tf.shape(x), seed=self.seed_generator) >= self.rate
        scale = (1.0 / (1.0 - self.rate)) if self.scale is None else self.scale
        return x * tf.cast(keep, x.dtype) * scale

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "scale": self.scale, "seed": self.seed}


@_register
class FoldPatches(keras.layers.Layer):
    """Cut ``(batch, time, ...)`` into consecutive patches and fold them into the batch axis.

    Output ``(batch * n_patches, patch_length, ...)`` with ``n_patches = (time - patch_length)
    // hop + 1`` (the tail that does not fill a patch is dropped, as dnn-mgr does). Pair with
    :class:`UnfoldPatches` to restore ``(batch, n_patches, ...)``.
    """

    def __init__(self, patch_length, hop=None, **kwargs):
        super().__init__(**kwargs)
        self.patch_length = int(patch_length)
        self.hop = int(patch_length if hop is None else hop)

    def n_patches(self, n_time):
        """Number of patches cut from ``n_time`` frames."""
        if n_time < self.patch_length:
            raise ValueError(f"{n_time} frames are fewer than one patch of {self.patch_length}")
        return (n_time - self.patch_length) // self.hop + 1

    def call(self, x):
        n = self.n_patches(x.shape[1])
        idx = np.arange(n)[:, None] * self.hop + np.arange(self.patch_length)[None, :]
        patches = tf.gather(x, idx, axis=1)  # (b, n, L, ...)
        shape = tf.concat([[-1, self.patch_length], tf.shape(x)[2:]], axis=0)
        return tf.reshape(patches, shape)

    def compute_output_shape(self, input_shape):
        return (None, self.patch_length) + tuple(input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "patch_length": self.patch_length, "hop": self.hop}


@_register
class UnfoldPatches(keras.layers.Layer):
    """Inverse of :class:`FoldPatches`: ``(batch * n_patches, ...)`` -> ``(batch, n_patches, ...)``."""

    def __init__(self, n_patches, **kwargs):
        super().__init__(**kwargs)
        self.n_patches = int(n_patches)

    def call(self, x):
        shape = tf.concat([[-1, self.n_patches], tf.shape(x)[1:]], axis=0)
        return tf.reshape(x, shape)

    def compute_output_shape(self, input_shape):
        return (None, self.n_patches) + tuple(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "n_patches": self.n_patches}


# ----------------------------------------------------------------------------------- legacy Keras
@_register
class LegacyBatchNorm(keras.layers.Layer):
    """Keras 1.x batch normalisation at inference from stored ``running_mean`` / ``running_std``.

    Keras 1.0.x (up to 1.0.6) *trained* with ``running_std`` = a running average of
    ``sqrt(var + 1e-6)`` and normalised with ``(x - mean) / (running_std + eps)``. From Keras
    1.0.7 the same weight is read as a **variance**, ``(x - mean) / sqrt(running_std + eps)``
    (``K.batch_normalization``). Choi's MusicTaggerCNN/CRNN weights were trained under the first
    rule and their author's published tags were produced under the second; ``reading`` picks one.

    Parameters
    ----------
    axis : int
        The normalised axis (e.g. 1 for the time axis of a (batch, time, freq, ch) image).
    epsilon : float
        Added to the stored value (``'std'``: 1e-6, Keras 1.0.x) or under the square root
        (``'variance'``: 1e-5, Keras 1.1).
    reading : {'std', 'variance'}
        How ``running_std`` is used, see above. ``'std'`` is the default for configs saved
        before this option existed.
    """

    READINGS = ("std", "variance")

    def __init__(self, axis=-1, epsilon=1e-6, reading="std", **kwargs):
        super().__init__(**kwargs)
        if reading not in self.READINGS:
            raise ValueError(f"reading must be one of {self.READINGS}, got {reading!r}")
        self.axis = int(axis)
        self.epsilon = float(epsilon)
        self.reading = reading

    def build(self, input_shape):
        n = int(input_shape[self.axis])
        self.gamma = self.add_weight(name="gamma", shape=(n,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(n,), initializer="zeros")
        self.running_mean = self.add_weight(name="running_mean", shape=(n,), initializer="zeros", trainable=False)
        self.running_std = self.add_weight(name="running_std", shape=(n,), initializer="ones", trainable=False)

    def _b(self, v, ndim):
        shape = [1] * ndim
        shape[self.axis] = -1
        return tf.reshape(v, shape)

    def call(self, x):
        n = len(x.shape)
        scale = self._b(self.running_std, n)
        scale = tf.sqrt(scale + self.epsilon) if self.reading == "variance" else scale + self.epsilon
        return self._b(self.gamma, n) * (x - self._b(self.running_mean, n)) / scale + self._b(self.beta, n)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "reading": self.reading}


@_register
class BatchStatBN(keras.layers.Layer):
    """Batch normalisation that always uses the current batch's statistics (Keras 1 ``mode=2``).

    ``gamma * (x - mean_b) / sqrt(var_b + eps) + beta`` with per-channel mean and biased variance
    over every axis but the last, at training *and* inference. Outputs therefore depend on the
    other clips in the batch; only for faithful ports of weights trained that way.
    """

    def __init__(self, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        n = int(input_shape[-1])
        self.gamma = self.add_weight(name="gamma", shape=(n,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(n,), initializer="zeros")

    def call(self, x):
        # float64 statistics: float32 moments over ~1e6 activations of magnitude ~1e2 lose ~1e-3
        x64 = tf.cast(x, tf.float64)
        mean, var = tf.nn.moments(x64, axes=list(range(len(x.shape) - 1)))
        y = tf.cast(self.gamma, tf.float64) * (x64 - mean) * tf.math.rsqrt(var + self.epsilon)
        return tf.cast(y + tf.cast(self.beta, tf.float64), x.dtype)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@_register
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Keras' ``BatchNormalization`` whose training step on 4-D channels-last input runs TensorFlow's
    fused kernel (``FusedBatchNormV3``: statistics, normalisation and their gradients in one pass).

    Same variables, same moving-average rule (``m ← m·momentum + batch·(1 − momentum)``, population
    variance) and the same inference path as Keras' layer, so trained weights load into either.
    Keras 3 computes the training step with separate moment, normalisation and gradient ops; on
    k2c2's first block (16 × 1360 × 96 × 32 activations) its forward + backward took 413 ms
    against 115 ms fused on the 2 cores here, which made up most of a training step. Other
    ranks, axes, masks, synchronised or frozen layers take Keras' own path.
    """

    def call(self, inputs, training=None, mask=None):
        fusable = (training and self.trainable and mask is None and not self.synchronized
                   and len(inputs.shape) == 4 and self.axis in (3, -1))
        if not fusable:
            return super().call(inputs, training=training, mask=mask)
        x = tf.cast(inputs, tf.float32)
        n = x.shape[-1]
        gamma = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([n])
        beta = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([n])
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(x, gamma, beta, epsilon=self.epsilon,
                                                             data_format="NHWC", is_training=True)
        count = tf.cast(tf.size(x) // n, tf.float32)
        variance = variance * (count - 1.0) / count  # the kernel returns the unbiased variance
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.cast(y, self.compute_dtype)


@keras.saving.register_keras_serializable(package="kerasmgr", name="keras1_hard_sigmoid")
def keras1_hard_sigmoid(x):
    """Keras 1/Theano's hard sigmoid, ``clip(0.2 x + 0.5, 0, 1)`` (Keras 3's has slope 1/6)."""
    return tf.clip_by_value(0.2 * x + 0.5, 0.0, 1.0)
