"""Shared pieces of the front-end layers: Keras registration and the waveform shape."""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

__all__ = ["register", "as_waveform3d", "is_mixed_policy", "dtype_policy"]

#: Registers a layer with Keras as ``kerasmgr>ClassName`` (saved models refer to it by that name).
register = keras.saving.register_keras_serializable(package="kerasmgr")


def is_mixed_policy():
    """Whether Keras' global dtype policy computes in a lower precision than its variables
    (``mixed_bfloat16``, ``mixed_float16``)."""
    policy = keras.config.dtype_policy()
    return policy.compute_dtype != policy.variable_dtype


@contextlib.contextmanager
def dtype_policy(name):
    """Keras' global dtype policy set to ``name`` inside the block, restored after it."""
    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)


def as_waveform3d(x):
    """(batch, n) or (batch, n, 1) -> (batch, n, 1)."""
    if len(x.shape) == 2:
        return tf.expand_dims(x, -1)
    return x
