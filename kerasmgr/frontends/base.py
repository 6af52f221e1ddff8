"""Shared pieces of the front-end layers: Keras registration and the waveform shape."""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["register", "as_waveform3d"]

#: Registers a layer with Keras as ``kerasmgr>ClassName`` (saved models refer to it by that name).
register = keras.saving.register_keras_serializable(package="kerasmgr")


def as_waveform3d(x):
    """(batch, n) or (batch, n, 1) -> (batch, n, 1)."""
    if len(x.shape) == 2:
        return tf.expand_dims(x, -1)
    return x
