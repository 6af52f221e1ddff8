"""Schindler, Lidy & Rauber's shallow and deep parallel-pipeline CNNs (seed 001 reproduction).

Input: a 0.97-s segment at 22.05 kHz (seed 001: "15 randomly chosen 0.97 second long segments"),
512-point FFT, hop 256, mel filterbank on the STFT *magnitude*, natural ``log(x + 1e-6)`` (the
reproductions' preprocessing); its 84 centred frames are cut to the central 80 (``time_crop``), so
the networks see the paper's 80 mel bands × 80 frames. Two pipelines see the same image: one with
kernels wide along time (spectral relations), one tall along frequency (temporal); their
flattened maps are concatenated, then Dense 200 + activation, Dropout and a softmax layer. The
activation is ReLU, as the reproduction (seed 001 §VI: "we used plain ReLU ... where LeakyReLU was
specified by the paper"); ``alpha=0.3`` gives the original paper's LeakyReLU. ``frontend='cqt'`` swaps in the
reproduction's constant-Q
extension (80 bins from C1, 12 per octave, hop 256).

Choices the paper leaves UNCONFIRMED (``../shared/specs/architectures.md`` §1) take the
documented default and expose the alternative: dropout after the 200-unit layer
(``dropout_position='after_merge'`` for the TF re-implementations' placement), conv layers
without bias (``conv_bias``), deep pipeline-B first kernel 21×10 (``deep_b1_kernel=(21, 20)``),
L1 weight penalty 1e-4 (``l1``). Kernel and pool sizes are given in the paper's (freq, time)
order in the arguments and transposed to kerasmgr's (time, freq) layout inside.
"""

from __future__ import annotations

import keras

from ._blocks import check_head, output_layer, resolve_frontend, waveform_frontend

SAMPLE_RATE = 22050
N_FRAMES = 80
SEGMENT_SECONDS = 0.97
N_SAMPLES = int(round(SEGMENT_SECONDS * SAMPLE_RATE))  # 21,389 samples -> 84 centred frames, cut to 80
#: The paper's original LeakyReLU slope (``alpha=ALPHA_PAPER``); the reproduction used ReLU (0).
ALPHA_PAPER = 0.3

FRONTEND = dict(
    kind="mel",
    sample_rate=SAMPLE_RATE,
    n_fft=512,
    hop_length=256,
    n_mels=80,
    n_bins=80,
    bins_per_octave=12,
    power=1.0,
    magnitude_scale="log",
    log_offset=1e-6,
)

DROPOUT_POSITIONS = ("after_dense", "after_merge")


def _tf(ft):
    """(freq, time) -> (time, freq)."""
    return (ft[1], ft[0])


def _head(x, *, n_outputs, activation, dropout, dropout_position, alpha, reg):
    if dropout_position not in DROPOUT_POSITIONS:
        raise ValueError(f"dropout_position must be one of {DROPOUT_POSITIONS}, got {dropout_position!r}")
    if dropout_position == "after_merge":
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    x = keras.layers.Dense(200, kernel_regularizer=reg, name="fc")(x)
    x = keras.layers.LeakyReLU(negative_slope=alpha, name="fc_lrelu")(x)
    if dropout_position == "after_dense":
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return output_layer(x, n_outputs, activation, kernel_regularizer=reg)


def _image(n_samples, frontend):
    """Waveform input and the 80-frame image (central frames of a longer segment)."""
    inputs, x, _ = waveform_frontend(n_samples, resolve_frontend(FRONTEND, frontend))
    extra = int(x.shape[1]) - N_FRAMES
    if extra > 0:
        x = keras.layers.Cropping2D(((extra // 2, extra - extra // 2), (0, 0)), name="time_crop")(x)
    return inputs, x


def _conv(x, filters, kernel_ft, name, *, bias, alpha, reg):
    x = keras.layers.Conv2D(filters, _tf(kernel_ft), padding="same", use_bias=bias,
                            kernel_regularizer=reg, name=name)(x)
    return keras.layers.LeakyReLU(negative_slope=alpha, name=f"{name}_lrelu")(x)


def schindler_shallow(*, n_outputs=10, activation="softmax", n_samples=N_SAMPLES, frontend=None,
                      dropout=0.1, dropout_position="after_dense", conv_bias=False, alpha=0.0,
                      l1=1e-4, name=None):
    """Shallow parallel CNN: one conv layer per pipeline.

    Pipeline A: Conv 16 @ 10×23 (freq×time), LeakyReLU, MaxPool 1×20 -> 80×4×16.
    Pipeline B: Conv 16 @ 21×20, LeakyReLU, MaxPool 20×1 -> 4×80×16. Merge 10,240 ->
    Dense 200 + LeakyReLU -> Dropout 0.1 -> output.

    Parameters
    ----------
    n_outputs : int
        Number of classes (10 for GTZAN).
    activation : {'softmax', 'sigmoid', 'linear'}
        Output activation.
    n_samples : int
        Input length at 22.05 kHz (default 21,389 = 0.97 s; frames beyond 80 are cut, centred).
    frontend : None, 'mel', 'cqt' or dict
        Front-end choice (default 80-band mel; 'cqt' = the reproduction's CQT extension).
    dropout : float
        Dropout rate (0.1).
    dropout_position : {'after_dense', 'after_merge'}
        Where the dropout sits (paper text vs the TF re-implementations).
    conv_bias : bool
        Bias in the conv layers (re-implementations: no).
    alpha : float
        Negative slope of the activations: 0 = ReLU (the reproduction, default), 0.3 = the
        original paper's LeakyReLU.
    l1 : float
        L1 weight penalty on every kernel (1e-4; 0 disables).
    name : str or None
        Model name.

    Returns
    -------
    keras.Model
        ``(batch, n_samples)`` -> ``(batch, n_outputs)``; layers ``a_conv1``, ``a_pool1``,
        ``b_conv1``, ``b_pool1``, ``merge``, ``fc``, ``output``.
    """
    check_head(n_outputs, activation)
    reg = keras.regularizers.L1(l1) if l1 else None
    inputs, x = _image(n_samples, frontend)
    a = _conv(x, 16, (10, 23), "a_conv1", bias=conv_bias, alpha=alpha, reg=reg)
    a = keras.layers.MaxPooling2D(_tf((1, 20)), name="a_pool1")(a)
    b = _conv(x, 16, (21, 20), "b_conv1", bias=conv_bias, alpha=alpha, reg=reg)
    b = keras.layers.MaxPooling2D(_tf((20, 1)), name="b_pool1")(b)
    a = keras.layers.Flatten(name="a_flatten")(a)
    b = keras.layers.Flatten(name="b_flatten")(b)
    x = keras.layers.Concatenate(name="merge")([a, b])
    out = _head(x, n_outputs=n_outputs, activation=activation, dropout=dropout,
                dropout_position=dropout_position, alpha=alpha, reg=reg)
    return keras.Model(inputs, out, name=name or "schindler_shallow")


def schindler_deep(*, n_outputs=10, activation="softmax", n_samples=N_SAMPLES, frontend=None,
                   dropout=0.25, dropout_position="after_dense", conv_bias=False, alpha=0.0,
                   l1=1e-4, deep_b1_kernel=(21, 10), name=None):
    """Deep parallel CNN: four conv layers per pipeline.

    Pipeline A kernels (freq×time) 10×23, 5×11, 3×5, 2×4; pipeline B 21×10, 10×5, 5×3, 4×2;
    16, 32, 64, 128 maps; 2×2 pools, then 1×5 (A) / 5×1 (B). Merge 5,120 -> Dense 200 +
    LeakyReLU -> Dropout 0.25 -> output.

    Parameters
    ----------
    deep_b1_kernel : tuple of int
        Pipeline-B first kernel in (freq, time): (21, 10) per lun3x (default) or (21, 20) per
        the PyTorch re-implementation (UNCONFIRMED in the paper).
    n_outputs, activation, n_samples, frontend, dropout, dropout_position, conv_bias, alpha, l1, name
        As :func:`schindler_shallow` (dropout 0.25 here).

    Returns
    -------
    keras.Model
        Layers ``a_conv1..4``, ``b_conv1..4``, ``a_pool1..4``, ``b_pool1..4``, ``merge``, ``fc``,
        ``output``.
    """
    check_head(n_outputs, activation)
    reg = keras.regularizers.L1(l1) if l1 else None
    inputs, x = _image(n_samples, frontend)
    spec = {
        "a": [(16, (10, 23)), (32, (5, 11)), (64, (3, 5)), (128, (2, 4))],
        "b": [(16, tuple(deep_b1_kernel)), (32, (10, 5)), (64, (5, 3)), (128, (4, 2))],
    }
    last_pool = {"a": (1, 5), "b": (5, 1)}
    branches = []
    for p, layers in spec.items():
        y = x
        for i, (filters, kernel) in enumerate(layers, start=1):
            y = _conv(y, filters, kernel, f"{p}_conv{i}", bias=conv_bias, alpha=alpha, reg=reg)
            pool = (2, 2) if i < 4 else last_pool[p]
            y = keras.layers.MaxPooling2D(_tf(pool), name=f"{p}_pool{i}")(y)
        branches.append(keras.layers.Flatten(name=f"{p}_flatten")(y))
    x = keras.layers.Concatenate(name="merge")(branches)
    out = _head(x, n_outputs=n_outputs, activation=activation, dropout=dropout,
                dropout_position=dropout_position, alpha=alpha, reg=reg)
    return keras.Model(inputs, out, name=name or "schindler_deep")
