"""musicnn (Pons et al. 2018; Pons & Serra 2019) as re-implemented in Won et al. (2020)'s evaluation.

A musically motivated front-end on a 96-band log-mel spectrogram (16 kHz, 512-point FFT, hop 256):

* timbral filters — vertical convolutions spanning 70 % and 40 % of the mel axis (67 and 38 bands)
  by 7 frames, 204 filters each, max-pooled over frequency;
* temporal filters — the frequency-averaged spectrogram convolved along time with 51 filters of
  129, 65 and 33 frames;

concatenated (561 channels per frame), then a back-end of three 1-D convolutions (64 filters of 7
frames, the last two with residual connections), max and mean pooling over time of everything
(1,506 values), Dense 200 + BN + ReLU + Dropout 0.5, Dense (sigmoid). The MagnaTagATune setting
(64 back-end filters, 200 dense units; MSD: 512 and 500, ``backend_filters``, ``dense_units``)
reads 3-s chunks. 784,300 trainable parameters with 50 outputs (:data:`PARAMETERS`, the count of
the reference implementation, tested).

Citation: J. Pons, O. Nieto, M. Prockup, E. M. Schmidt, A. F. Ehmann and X. Serra, "End-to-end
learning for music audio tagging at scale", ISMIR 2018; J. Pons and X. Serra, "musicnn: pre-trained
convolutional neural networks for music audio tagging", ISMIR LBD 2019.
"""

from __future__ import annotations

import keras

from ..layers import FusedBatchNormalization
from ._blocks import TORCHAUDIO_MEL, output_layer, resolve_frontend, waveform_frontend

SAMPLE_RATE = TORCHAUDIO_MEL["sample_rate"]
N_SAMPLES = 48000  # 3 s
FRONTEND = {**TORCHAUDIO_MEL, "n_mels": 96}
#: Trainable parameters of the MagnaTagATune musicnn with 50 outputs.
PARAMETERS = {"musicnn": 784_300}
CITATION = ("J. Pons, O. Nieto, M. Prockup, E. M. Schmidt, A. F. Ehmann and X. Serra, \"End-to-end learning for "
            "music audio tagging at scale\", Proc. ISMIR, 2018")


def _bn(x, name):
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)(x)  # PyTorch's defaults


def _timbral(x, height, filters, name):
    """Vertical filter: ``height`` mel bands × 7 frames, then the maximum over frequency."""
    x = keras.layers.ZeroPadding2D(((3, 3), (0, 0)), name=f"{name}_pad")(x)
    x = keras.layers.Conv2D(filters, (7, height), name=name)(x)
    x = keras.layers.ReLU(name=f"{name}_relu")(_bn(x, f"{name}_bn"))
    x = keras.layers.MaxPooling2D((1, x.shape[2]), name=f"{name}_pool")(x)
    return keras.layers.Reshape((x.shape[1], filters), name=f"{name}_frames")(x)


def _temporal(avg, length, filters, name):
    """Horizontal filter along time on the frequency-averaged spectrogram."""
    x = keras.layers.Conv1D(filters, length, padding="same", name=name)(avg)
    return keras.layers.ReLU(name=f"{name}_relu")(_bn(x, f"{name}_bn"))


def musicnn(*, n_outputs=50, activation="sigmoid", n_samples=N_SAMPLES, frontend=None, backend_filters=64,
            dense_units=200, dropout=0.5, name=None):
    """musicnn: timbral and temporal front-end filters, a residual 1-D back-end, max + mean pooling.

    Parameters
    ----------
    n_outputs : int
    activation : {'sigmoid', 'softmax', 'linear'}
    n_samples : int
        Input length in samples at 16 kHz (48,000: 3 s).
    frontend : None, str or dict
        Overrides of :data:`FRONTEND`.
    backend_filters, dense_units : int
        64 and 200 (MagnaTagATune); 512 and 500 for the MSD model.
    dropout : float

    Returns
    -------
    keras.Model
        Waveform (batch, n_samples) -> (batch, n_outputs).
    """
    inputs, x, _ = waveform_frontend(n_samples, resolve_frontend(FRONTEND, frontend))
    x = FusedBatchNormalization(momentum=0.9, epsilon=1e-5, name="spec_bn")(x)
    n_mels = int(x.shape[2])
    parts = [_timbral(x, int(0.7 * n_mels), 204, "timbral1"), _timbral(x, int(0.4 * n_mels), 204, "timbral2")]
    avg = keras.layers.AveragePooling2D((1, n_mels), name="freq_mean")(x)
    avg = keras.layers.Reshape((avg.shape[1], 1), name="freq_mean_frames")(avg)
    parts += [_temporal(avg, k, 51, f"temporal{i}") for i, k in enumerate((129, 65, 33), start=1)]
    front = keras.layers.Concatenate(name="frontend_features")(parts)
    res = []
    h = front
    for i in (1, 2, 3):
        y = keras.layers.Conv1D(backend_filters, 7, padding="same", name=f"backend{i}")(h)
        y = keras.layers.ReLU(name=f"backend{i}_relu")(_bn(y, f"backend{i}_bn"))
        h = y if i == 1 else keras.layers.Add(name=f"backend{i}_res")([y, h])
        res.append(h)
    feats = keras.layers.Concatenate(name="backend_features")([front, *res])
    pooled = keras.layers.Concatenate(name="pooled")([keras.layers.GlobalMaxPooling1D(name="max_pool")(feats),
                                                      keras.layers.GlobalAveragePooling1D(name="mean_pool")(feats)])
    h = keras.layers.Dense(dense_units, name="fc1")(pooled)
    h = keras.layers.ReLU(name="fc1_relu")(_bn(h, "fc1_bn"))
    h = keras.layers.Dropout(dropout, name="fc1_dropout")(h)
    return keras.Model(inputs, output_layer(h, n_outputs, activation), name=name or "musicnn")
