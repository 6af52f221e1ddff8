"""Kereliuk, Sturm & Larsen's DNN and CDNN on magnitude FFT frames (seeds 000/004, dnn-mgr).

Input: linear-magnitude DFT frames of 1024 samples (46.4 ms) hopped by 512 at 22.05 kHz, 513
bins, no padding (dnn-mgr's framing), standardised by a frozen layer whose statistics come from
the training data (:func:`kerasmgr.layers.adapt_standardization`). The standardisation sits
inside the model so adversaries differentiate with respect to raw magnitudes, as in the paper.

Both systems accept either magnitude frames directly (``input='frames'``) or a waveform through
the STFT front-end (``input='waveform'``, default). With a waveform longer than one frame (DNN)
or one 100-frame patch (CDNN), the model classifies every frame/patch and outputs the mean of
their posteriors (dnn-mgr's file-level decision is the sum of posteriors; the argmax is the same).

Differences from dnn-mgr, by construction: Hann is TF's periodic window (dnn-mgr:
``np.hanning``, symmetric); Keras dropout rescales at training time (``dropout_scale=2.0``
reproduces pylearn2's ×2 quirk).
"""

from __future__ import annotations

import keras

from ..layers import FoldPatches, PoolPad, ScaledDropout, Standardization, UnfoldPatches, UntiedBias
from ._blocks import check_head, output_layer, resolve_frontend, waveform_frontend

SAMPLE_RATE = 22050
N_FFT = 1024
HOP = 512
N_BINS = N_FFT // 2 + 1
PATCH_FRAMES = 100

FRONTEND = dict(
    kind="stft",
    sample_rate=SAMPLE_RATE,
    n_fft=N_FFT,
    hop_length=HOP,
    center=False,
    power=1.0,
    magnitude_scale="linear",
)

INPUTS = ("waveform", "frames")


def frames_to_samples(n_frames):
    """Waveform length (samples) giving ``n_frames`` uncentred 1024/512 frames."""
    return N_FFT + (int(n_frames) - 1) * HOP


def default_n_samples(model_kwargs):
    """cdnn's default input length: one patch of ``model_kwargs['patch_frames']`` (100) frames."""
    return frames_to_samples(model_kwargs.get("patch_frames", PATCH_FRAMES))


def _check_input(input):
    if input not in INPUTS:
        raise ValueError(f"input must be one of {INPUTS}, got {input!r}")


def dnn(*, n_outputs=10, activation="softmax", n_units=500, n_layers=3, dropout=0.0,
        dropout_scale=None, input="waveform", n_samples=N_FFT, frontend=None, max_istd=20.0,
        name=None):
    """Frame-level DNN: frozen standardisation ``pre``, 3 ReLU layers ``h0..h2``, softmax ``output``.

    Parameters
    ----------
    n_outputs : int
        Number of classes.
    activation : {'softmax', 'sigmoid', 'linear'}
        Output activation.
    n_units : int
        Units per hidden layer (50 or 500 in the paper; 31,310 / 763,010 parameters with 10
        classes, plus 1,026 frozen statistics).
    n_layers : int
        Number of hidden layers (3).
    dropout : float
        Drop rate on the inputs of h1, h2 and the output layer (dnn-mgr keeps them with p=0.75,
        i.e. ``dropout=0.25``); 0 disables.
    dropout_scale : float or None
        Scale of kept units during training (``None`` = Keras' 1/(1-rate); 2.0 = pylearn2).
    input : {'waveform', 'frames'}
        ``'frames'``: input ``(batch, 513)`` magnitude frames -> ``(batch, n_outputs)``.
        ``'waveform'``: input ``(batch, n_samples)`` at 22.05 kHz; every frame is classified and
        the posteriors averaged (layer ``frame_mean``).
    n_samples : int
        Waveform length (default 1024 = one frame).
    frontend : None or dict
        Front-end overrides.
    max_istd : float or None
        Zero input dimensions with ``1/std >= max_istd`` (dnn-mgr: 20).
    name : str or None
        Model name.

    Returns
    -------
    keras.Model
    """
    _check_input(input)
    check_head(n_outputs, activation)
    init = keras.initializers.RandomUniform(-0.1, 0.1)
    if input == "frames":
        inputs = keras.Input((N_BINS,), name="frames")
        x = inputs
    else:
        inputs, x, fe = waveform_frontend(n_samples, resolve_frontend(FRONTEND, frontend))
        x = keras.layers.Reshape((fe.n_frames(int(n_samples)), fe.n_freq), name="frames")(x)
    x = Standardization(axis=-1, max_istd=max_istd, name="pre")(x)
    for i in range(n_layers):
        if dropout and i > 0:
            x = ScaledDropout(dropout, scale=dropout_scale, name=f"h{i}_dropout")(x)
        x = keras.layers.Dense(n_units, activation="relu", kernel_initializer=init, name=f"h{i}")(x)
    if dropout:
        x = ScaledDropout(dropout, scale=dropout_scale, name="output_dropout")(x)
    if input == "frames":
        out = output_layer(x, n_outputs, activation, kernel_initializer=init)
    else:
        x = output_layer(x, n_outputs, activation, kernel_initializer=init)
        out = keras.layers.GlobalAveragePooling1D(name="frame_mean")(x)
    return keras.Model(inputs, out, name=name or "dnn")


def cdnn(*, n_outputs=10, activation="softmax", input="waveform", n_samples=None,
         patch_frames=PATCH_FRAMES, frontend=None, max_istd=20.0, name=None):
    """Convolutional DNN on 100-frame × 513-bin patches (dnn-mgr ``mlp_rlu_conv2``).

    ``pre`` (frozen per-bin standardisation) -> Conv 32 @ 4×400 (time×freq, valid, untied
    biases) -> ReLU -> MaxPool 4×4 stride 2 (pylearn2 sizes, 48×56) -> Conv 32 @ 8×8 (untied
    biases) -> ReLU -> MaxPool 4×4/2 (20×24) -> Dense 50 ReLU -> output. About 1.30 M parameters
    with 10 classes (most of them untied biases).

    Parameters
    ----------
    input : {'waveform', 'frames'}
        ``'frames'``: input ``(batch, patch_frames, 513, 1)`` patches. ``'waveform'``: input
        ``(batch, n_samples)``; the frames are cut into consecutive non-overlapping patches,
        each classified, and the posteriors averaged (layer ``patch_mean``).
    n_samples : int or None
        Waveform length (default: one patch, 51,712 samples = 2.35 s).
    patch_frames : int
        Frames per patch (100).
    n_outputs, activation, frontend, max_istd, name
        As :func:`dnn`.

    Returns
    -------
    keras.Model
    """
    _check_input(input)
    check_head(n_outputs, activation)
    init = keras.initializers.RandomUniform(-0.01, 0.01)
    if input == "frames":
        inputs = keras.Input((patch_frames, N_BINS, 1), name="patches")
        x = inputs
        n_patches = None
    else:
        n_samples = default_n_samples(dict(patch_frames=patch_frames)) if n_samples is None else int(n_samples)
        inputs, x, fe = waveform_frontend(n_samples, resolve_frontend(FRONTEND, frontend))
        fold = FoldPatches(patch_frames, name="patches")
        n_patches = fold.n_patches(fe.n_frames(n_samples))
        x = fold(x)
    x = Standardization(axis=2, max_istd=max_istd, name="pre")(x)
    for i, kernel in enumerate([(4, 400), (8, 8)]):
        x = keras.layers.Conv2D(32, kernel, padding="valid", use_bias=False, kernel_initializer=init,
                                name=f"h{i}")(x)
        x = UntiedBias(name=f"h{i}_bias")(x)
        x = keras.layers.ReLU(name=f"h{i}_relu")(x)
        x = PoolPad((4, 4), (2, 2), name=f"h{i}_poolpad")(x)
        x = keras.layers.MaxPooling2D((4, 4), strides=(2, 2), padding="valid", name=f"h{i}_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(50, activation="relu", kernel_initializer=init, name="h2")(x)
    x = output_layer(x, n_outputs, activation, kernel_initializer=init)
    if n_patches is None:
        return keras.Model(inputs, x, name=name or "cdnn")
    x = UnfoldPatches(n_patches, name="unfold")(x)
    out = keras.layers.GlobalAveragePooling1D(name="patch_mean")(x)
    return keras.Model(inputs, out, name=name or "cdnn")
