"""Framing: where the analysis frames of a clip start (centred, valid, TF 'same', Theano), as padding."""

from __future__ import annotations

import keras
import tensorflow as tf

from .base import register

__all__ = ["FRAMINGS", "framing_pads", "FramingPad"]

FRAMINGS = ("center", "valid", "tf_same", "theano")


def framing_pads(n_samples, n_fft, hop_length, framing):
    """Zero padding (left, right) in samples and the frame count of a framing convention.

    * ``'center'``: ``n_fft // 2`` each side, ``1 + n // hop`` frames (librosa ``center=True``);
    * ``'valid'``: none, ``1 + (n - n_fft) // hop`` frames;
    * ``'tf_same'``: TensorFlow 'SAME' padding of a strided convolution (Kapre 0.1's STFT):
      ``T = ceil(n / hop)``, ``pad_total = max((T - 1) * hop + n_fft - n, 0)`` split floor-left;
    * ``'theano'``: Kapre 0.1 on Theano (true convolution with 'half' padding): frame ``t``
      starts at sample ``t * hop - (n_fft // 2 + 1)``, ``T = ceil(n / hop)``.

    Returns
    -------
    (int, int, int)
        ``(pad_left, pad_right, n_frames)``.
    """
    if framing == "center":
        return n_fft // 2, n_fft // 2, 1 + n_samples // hop_length
    if framing == "valid":
        return 0, 0, 1 + (n_samples - n_fft) // hop_length
    t = -(-n_samples // hop_length)
    if framing == "tf_same":
        total = max((t - 1) * hop_length + n_fft - n_samples, 0)
        return total // 2, total - total // 2, t
    if framing == "theano":
        left = n_fft // 2 + 1
        return left, max((t - 1) * hop_length + n_fft - left - n_samples, 0), t
    raise ValueError(f"framing must be one of {FRAMINGS}, got {framing!r}")


@register
class FramingPad(keras.layers.Layer):
    """Pad a waveform ``(batch, n, 1)`` for a framing convention (see :func:`framing_pads`).

    ``pad_mode`` 'constant' pads zeros; 'reflect' mirrors the signal (old librosa's centred
    STFT). The following STFT keeps the first ``n_frames`` frames.
    """

    def __init__(self, n_fft, hop_length, framing="center", pad_mode="constant", **kwargs):
        super().__init__(**kwargs)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.framing = framing
        self.pad_mode = pad_mode
        framing_pads(10 * self.n_fft, self.n_fft, self.hop_length, framing)  # validates
        if pad_mode not in ("constant", "reflect"):
            raise ValueError(f"pad_mode must be 'constant' or 'reflect', got {pad_mode!r}")

    def call(self, x):
        left, right, _ = framing_pads(int(x.shape[1]), self.n_fft, self.hop_length, self.framing)
        return tf.pad(x, [[0, 0], [left, right], [0, 0]], mode=self.pad_mode.upper())

    def compute_output_shape(self, input_shape):
        n = input_shape[1]
        if n is None:
            return input_shape
        left, right, _ = framing_pads(n, self.n_fft, self.hop_length, self.framing)
        return (input_shape[0], n + left + right, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "n_fft": self.n_fft, "hop_length": self.hop_length,
                "framing": self.framing, "pad_mode": self.pad_mode}
