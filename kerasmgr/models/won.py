"""Won et al. (2020)'s short-chunk CNN and short-chunk ResNet, the strong tagging baselines of
"Evaluation of CNN-based Automatic Music Tagging Models" (ISMIR 2020 / SMC 2020).

Both read 3.69-s chunks (59,049 samples at 16 kHz; a song is tagged by averaging its chunks) as a
128-band log-mel spectrogram (512-point FFT, hop 256, mel bands up to 8 kHz,
power 2, ``10 log10``; HTK mel bands without area normalisation, as torchaudio), normalised by one
batch normalisation over the whole image:

* ``short_chunk_cnn`` — 7 × [Conv 3×3 (128, 128, 256, 256, 256, 256, 512), BN, ReLU, MaxPool 2×2],
  global max pooling over time, Dense 512 + BN + ReLU + Dropout 0.5, Dense (sigmoid).
* ``short_chunk_resnet`` — the same with residual blocks: [Conv 3×3 stride 2, BN, ReLU, Conv 3×3,
  BN] + a strided 3×3 conv + BN shortcut, ReLU after the sum.

Trainable-parameter counts with 50 outputs (the authors' reference implementation,
sota-music-tagging-models, gives the same numbers; the paper rounds them to 3.7M and 12.1M):
3,687,348 and 12,104,244 (:data:`PARAMETERS`, tested). The layers are named ``conv1..7``,
``bn1..7``, ``relu1..7``, ``pool1..7`` (CNN) so that the multi-layer features of
:mod:`kerasmgr.features` and :mod:`kerasmgr.hear` work on them.

Citation: M. Won, A. Ferraro, D. Bogdanov and X. Serra, "Evaluation of CNN-based automatic music
tagging models", Proc. Sound and Music Computing (SMC), 2020.
"""

from __future__ import annotations

import keras

from ..layers import FusedBatchNormalization
from ._blocks import TORCHAUDIO_MEL, output_layer, resolve_frontend, waveform_frontend

SAMPLE_RATE = TORCHAUDIO_MEL["sample_rate"]
#: 3^10 samples = 3.69 s at 16 kHz, the paper's chunk
N_SAMPLES = 59049
FRONTEND = {**TORCHAUDIO_MEL, "n_mels": 128}
CHANNELS = (128, 128, 256, 256, 256, 256, 512)
#: Trainable parameters with 50 outputs (Won et al. 2020: 3.7M and 12.1M).
PARAMETERS = {"short_chunk_cnn": 3_687_348, "short_chunk_resnet": 12_104_244}
CITATION = ("M. Won, A. Ferraro, D. Bogdanov and X. Serra, \"Evaluation of CNN-based automatic music tagging "
            "models\", Proc. SMC, 2020")


def _spec_bn(x):
    """The paper's input normalisation: one BatchNorm2d over the single-channel log-mel image."""
    return FusedBatchNormalization(momentum=0.9, epsilon=1e-5, name="spec_bn")(x)


def _bn(x, name):
    return FusedBatchNormalization(momentum=0.9, epsilon=1e-5, name=name)(x)  # PyTorch's defaults


def _head(x, n_outputs, activation, dropout):
    x = keras.layers.GlobalMaxPooling2D(name="global_pool")(x)
    x = keras.layers.Dense(x.shape[-1], name="fc1")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name="fc1_bn")(x)
    x = keras.layers.ReLU(name="fc1_relu")(x)
    x = keras.layers.Dropout(dropout, name="fc1_dropout")(x)
    return output_layer(x, n_outputs, activation)


def short_chunk_cnn(*, n_outputs=50, activation="sigmoid", n_samples=N_SAMPLES, frontend=None, dropout=0.5,
                    channels=CHANNELS, name=None):
    """Short-chunk CNN (Won et al. 2020): 7 VGG-style 3×3 conv blocks with 2×2 max pooling.

    Parameters
    ----------
    n_outputs : int
        Tags (50 in the paper).
    activation : {'sigmoid', 'softmax', 'linear'}
    n_samples : int
        Input length in samples at 16 kHz (59,049: 3.69 s).
    frontend : None, str or dict
        Overrides of :data:`FRONTEND`.
    dropout : float
        Before the output layer (0.5).
    channels : sequence of 7 ints
        Conv widths.

    Returns
    -------
    keras.Model
        Waveform (batch, n_samples) -> (batch, n_outputs).
    """
    inputs, x, _ = waveform_frontend(n_samples, resolve_frontend(FRONTEND, frontend))
    x = _spec_bn(x)
    for i, c in enumerate(channels, start=1):
        x = keras.layers.Conv2D(c, 3, padding="same", name=f"conv{i}")(x)
        x = _bn(x, f"bn{i}")
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    return keras.Model(inputs, _head(x, n_outputs, activation, dropout), name=name or "short_chunk_cnn")


def _res_block(x, c, i):
    y = keras.layers.Conv2D(c, 3, strides=2, padding="same", name=f"res{i}_conv1")(x)
    y = _bn(y, f"res{i}_bn1")
    y = keras.layers.ReLU(name=f"res{i}_relu1")(y)
    y = keras.layers.Conv2D(c, 3, padding="same", name=f"res{i}_conv2")(y)
    y = _bn(y, f"res{i}_bn2")
    s = keras.layers.Conv2D(c, 3, strides=2, padding="same", name=f"res{i}_shortcut")(x)  # stride 2: always
    s = _bn(s, f"res{i}_shortcut_bn")
    return keras.layers.ReLU(name=f"res{i}")(keras.layers.Add(name=f"res{i}_add")([y, s]))


def short_chunk_resnet(*, n_outputs=50, activation="sigmoid", n_samples=N_SAMPLES, frontend=None, dropout=0.5,
                       channels=CHANNELS, name=None):
    """Short-chunk ResNet (Won et al. 2020): 7 residual blocks of 3×3 convs, each halving time and
    frequency with a stride of 2 (the paper's best model on MagnaTagATune and MTG-Jamendo).

    Parameters and returns as :func:`short_chunk_cnn`; blocks are named ``res1..7``.
    """
    inputs, x, _ = waveform_frontend(n_samples, resolve_frontend(FRONTEND, frontend))
    x = _spec_bn(x)
    for i, c in enumerate(channels, start=1):
        x = _res_block(x, c, i)
    return keras.Model(inputs, _head(x, n_outputs, activation, dropout), name=name or "short_chunk_resnet")
