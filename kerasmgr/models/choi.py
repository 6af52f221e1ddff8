"""Choi's music taggers (thesis "Deep Neural Networks for Music Tagging", seed 002).

* ``k2c2`` — Compact-convnet (§2.4, Table 2-B): 5 × [Conv 32@3×3, BN, ELU, MaxPool], Dense(50).
  With ``n_params`` it becomes the chapter-4 k2c2 at a Table 4-A budget.
* ``k1c2``, ``k2c1``, ``crnn`` — the other chapter-4 structures (§4.2, Table 4-A).

All take a 12 kHz waveform; the front-end computes a 96-band log-mel spectrogram (512-point FFT,
hop 256, power 2, dB with an 80 dB per-clip floor) followed by per-clip standardisation (the
thesis' "excerpt-wise standardisation" of chapter 5, Kapre 0.1's ``Normalization2D`` in the
released Compact-convnet). Kernel and pool sizes in the code are (time, freq); the thesis prints
(freq, time). Every conv and FC layer has BatchNorm + ELU and He-normal initialisation.

Two thesis-era details (see the README section "Seed 002"):

* **Batch-normalisation momentum 0.9** (``bn_momentum``), Keras 1.0.x's default, under which the
  chapter-4 models were trained (Keras 3's 0.99 lets the running statistics lag so far behind in a
  short run that validation sits at chance while training accuracy climbs).
* **Chapter-4 input normalisation over time** (``input_bn``): the released chapter-4 models
  (MusicTaggerCNN/CRNN) start with a batch normalisation along the time axis (``bn_0_freq``, one
  gamma/beta per frame). With it, the trainable-parameter counts are exactly the author's
  published 865,950 (MusicTaggerCNN) and 396,786 (MusicTaggerCRNN), and all 20 Table 4-A models
  fall within the thesis' 2 % budget tolerance (:func:`budget_table`).
"""

from __future__ import annotations

import keras

from ..layers import Standardization
from ._blocks import (
    budget_key,
    conv_bn_elu,
    dense_bn_elu,
    output_layer,
    resolve_frontend,
    waveform_frontend,
)

SAMPLE_RATE = 12000
#: 29 s at 12 kHz -> 1360 centred frames (Compact-convnet, chapters 5-6)
N_SAMPLES_COMPACT = 348000
#: 29.12 s at 12 kHz -> 1366 centred frames (chapter 4, the released MusicTagger models)
N_SAMPLES_CH4 = 349440

FRONTEND = dict(
    kind="mel",
    sample_rate=SAMPLE_RATE,
    n_fft=512,
    hop_length=256,
    n_mels=96,
    fmin=0.0,
    fmax=SAMPLE_RATE / 2,
    power=2.0,
    magnitude_scale="db",
    db_amin=1e-10,
    top_db=80.0,
    sample_standardization=True,
)

# Table 4-A layer widths per trainable-parameter budget.
K2C2_WIDTHS = {
    0.1e6: (20, 41, 41, 62, 83),
    0.25e6: (33, 66, 66, 100, 133),
    0.5e6: (47, 95, 95, 142, 190),
    1.0e6: (67, 135, 135, 203, 271),
    3.0e6: (118, 236, 236, 355, 473),
}
K1C2_TABLE_WIDTHS = {  # 4 conv, 2 FC, as printed in Table 4-A
    0.1e6: ((15, 15, 30, 30), (30, 30)),
    0.25e6: ((23, 23, 47, 47), (47, 47)),
    0.5e6: ((33, 33, 66, 66), (66, 66)),
    1.0e6: ((47, 47, 95, 95), (95, 95)),
    3.0e6: ((81, 81, 163, 163), (163, 163)),
}
#: Table 4-A widths except 0.1M: with 1x8 kernels its printed 30 gives 104,752 parameters (+4.8 %,
#: outside the thesis' 2 % tolerance); 29 gives 98,375 (-1.6 %).
K1C2_WIDTHS = {
    0.1e6: ((15, 15, 29, 29), (29, 29)),
    0.25e6: ((23, 23, 47, 47), (47, 47)),
    0.5e6: ((33, 33, 66, 66), (66, 66)),
    1.0e6: ((47, 47, 95, 95), (95, 95)),
    3.0e6: ((81, 81, 163, 163), (163, 163)),
}
K2C1_WIDTHS = {  # 5 conv, 2 FC
    0.1e6: ((43, 43, 43, 87, 87), (87, 87)),
    0.25e6: ((72, 72, 72, 145, 145), (145, 145)),
    0.5e6: ((106, 106, 106, 212, 212), (212, 212)),
    1.0e6: ((152, 152, 152, 304, 304), (304, 304)),
    3.0e6: ((265, 265, 265, 535, 535), (535, 535)),
}
CRNN_WIDTHS = {  # 4 conv, 2 GRU
    0.1e6: ((30, 60, 60, 60), 30),
    0.25e6: ((48, 96, 96, 96), 48),
    0.5e6: ((68, 137, 137, 137), 68),
    1.0e6: ((96, 195, 195, 195), 96),
    3.0e6: ((169, 339, 339, 339), 169),
}
BUDGETS = (0.1e6, 0.25e6, 0.5e6, 1.0e6, 3.0e6)
#: The thesis' tolerance on the parameter budgets (§4.2.5).
BUDGET_TOLERANCE = 0.02
#: Keras 1.0.x's batch-normalisation momentum (the chapter-4 models' era); Keras 3 uses 0.99.
BN_MOMENTUM = 0.9
#: k1c2's kernel length along time: 8 (matches the thesis' "13 % of the parameters in the
#: convolutional layers" for 0.5M: 12.6 %, and its 2 % budgets) or 4 (its text, "1x4": 6.8 %, and
#: budgets 1.6-8.0 % short).
K1C2_KERNEL = 8

# Pools in (time, freq).
COMPACT_POOLS = ((4, 2), (4, 3), (5, 2), (4, 2), (4, 4))  # thesis (2,4),(3,4),(2,5),(2,4),(4,4) (F,T)
K2C2_CH4_POOLS = ((4, 2), (4, 2), (4, 2), (5, 3), (4, 4))  # (2×4)-(2×4)-(2×4)-(3×5)-(4×4) (F×T)
K1C2_POOLS = ((4, 1), (5, 1), (8, 1), (8, 1))  # (1×4)-(1×5)-(1×8)-(1×8)
K2C1_POOLS = ((4, 1), (4, 1), (4, 1), (5, 1), (4, 1))  # 4·4·4·5·4 = 1280 (order UNCONFIRMED)
CRNN_POOLS = ((2, 2), (3, 3), (4, 4), (4, 4))
CRNN_PADDED_FRAMES = 1440  # the released CRNN zero-pads 1366 frames to 1440


def _fc_head(x, widths, n_outputs, activation, bn_momentum):
    """Flatten -> FC (BN, ELU) per width -> output: the classifier of k1c2 and k2c1."""
    x = keras.layers.Flatten(name="flatten")(x)
    for i, w in enumerate(widths, start=1):
        x = dense_bn_elu(x, w, i, bn_momentum=bn_momentum)
    return output_layer(x, n_outputs, activation)


def _input_bn(x, enabled, bn_momentum):
    """The chapter-4 models' input batch normalisation along time (``bn0``: one gamma/beta per frame)."""
    if not enabled:
        return x
    return keras.layers.BatchNormalization(axis=1, momentum=bn_momentum, name="bn0")(x)


def default_n_samples(model_kwargs):
    """k2c2's default input length (samples at 12 kHz): 348,000 for the Compact-convnet, 349,440
    with a chapter-4 parameter budget (``model_kwargs['n_params']``)."""
    return N_SAMPLES_COMPACT if budget_key(model_kwargs.get("n_params"), K2C2_WIDTHS) is None else N_SAMPLES_CH4


def k2c2(*, n_outputs=50, activation="sigmoid", n_params=None, n_samples=None, frontend=None,
         batch_norm="moving", bn_momentum=BN_MOMENTUM, input_bn=None, dataset_standardization=False, name=None):
    """Compact-convnet / chapter-4 k2c2 tagger.

    Parameters
    ----------
    n_outputs : int
        Number of tags or classes.
    activation : {'sigmoid', 'softmax', 'linear'}
        Output activation (sigmoid for tagging, softmax for genre).
    n_params : {None, 0.1e6, 0.25e6, 0.5e6, 1e6, 3e6}
        ``None``: Compact-convnet (32 maps per layer, pools (2,4),(3,4),(2,5),(2,4),(4,4) in
        (freq, time), 96 × 1360 input, 39,282 trainable parameters with 50 outputs). A budget:
        the chapter-4 k2c2 with Table 4-A widths, pools (2,4),(2,4),(2,4),(3,5),(4,4) and a
        96 × 1366 input.
    n_samples : int or None
        Input length in samples at 12 kHz (default 348,000 = 29 s, or 349,440 with a budget).
    frontend : None, str or dict
        Front-end overrides (see :func:`kerasmgr.models._blocks.resolve_frontend`).
    batch_norm : {'moving', 'batch'}
        Ordinary batch normalisation, or batch statistics at inference too (Keras 1's
        ``mode=2``; only for the faithful port of Choi's Theano weights).
    bn_momentum : float
        Momentum of the batch-normalisation running statistics (default 0.9, Keras 1.0.x).
    input_bn : bool or None
        The chapter-4 input normalisation along time (layer ``bn0``); default: on with a budget,
        off for the Compact-convnet.
    dataset_standardization : bool
        Chapter 5's "per-frequency stdd" read as dataset-level statistics: a frozen
        :class:`~kerasmgr.layers.Standardization` per mel band after the front-end
        (``dataset_standardization``), set by ``bin/train.py`` from one epoch of training data.
        The default reading is per clip (the front-end's ``frequency_weighting='per_frequency'``).
    name : str or None
        Model name (default ``'k2c2'``).

    Returns
    -------
    keras.Model
        ``(batch, n_samples)`` waveform -> ``(batch, n_outputs)``. Layers ``conv1..5``,
        ``bn1..5``, ``elu1..5``, ``pool1..5``, ``global_pool`` (identity on a 1×1 map; lets other
        input sizes work) and ``output``.
    """
    key = budget_key(n_params, K2C2_WIDTHS)
    if key is None:
        widths, pools = (32,) * 5, COMPACT_POOLS
    else:
        widths, pools = K2C2_WIDTHS[key], K2C2_CH4_POOLS
    n_samples = default_n_samples(dict(n_params=n_params)) if n_samples is None else n_samples
    inputs, x, _ = waveform_frontend(n_samples, resolve_frontend(FRONTEND, frontend))
    if dataset_standardization:
        x = Standardization(axis=2, max_istd=None, name="dataset_standardization")(x)
    x = _input_bn(x, key is not None if input_bn is None else input_bn, bn_momentum)
    for i, (w, p) in enumerate(zip(widths, pools), start=1):
        x = conv_bn_elu(x, w, (3, 3), i, pool=p, batch_norm=batch_norm, bn_momentum=bn_momentum)
    x = keras.layers.GlobalMaxPooling2D(name="global_pool")(x)
    out = output_layer(x, n_outputs, activation)
    return keras.Model(inputs, out, name=name or "k2c2")


def k1c2(*, n_outputs=50, activation="sigmoid", n_params=0.1e6, n_samples=N_SAMPLES_CH4,
         frontend=None, kernel_length=K1C2_KERNEL, widths="tolerance", bn_momentum=BN_MOMENTUM,
         input_bn=True, name=None):
    """Chapter-4 k1c2: 1-D (time) kernels, 2-D convolution, then two FC layers.

    4 × [Conv (1×``kernel_length`` in freq×time), BN, ELU, MaxPool (1×4)-(1×5)-(1×8)-(1×8)]
    keeps every mel band separate; the 96 × width map is flattened -> FC -> FC -> output (FC with
    BN + ELU).

    Parameters
    ----------
    n_params : {0.1e6, 0.25e6, 0.5e6, 1e6, 3e6}
        Table 4-A budget (widths). Default 0.1e6.
    n_samples : int
        Input length in samples at 12 kHz (default 349,440 = 96 × 1366 input).
    kernel_length : int
        Kernel length along time in frames. The thesis' text says 1×4, but its "13 % of the
        parameters in the convolutional layers" (0.5M) and its 2 % budgets need 1×8 (12.6 %; 1×4
        gives 6.8 % and budgets 1.6-8.0 % short). Default 8.
    widths : {'tolerance', 'table'}
        Layer widths: Table 4-A's (``'table'``) or the same with 29 instead of 30 units at 0.1M so
        the count is within 2 % of the budget (``'tolerance'``, default).
    bn_momentum, input_bn
        As :func:`k2c2` (``input_bn`` default on).
    n_outputs, activation, frontend, name
        As :func:`k2c2`.

    Returns
    -------
    keras.Model
        Layers ``conv1..4``, ``pool1..4``, ``flatten``, ``fc1``, ``fc2``, ``output``.
    """
    if widths not in ("tolerance", "table"):
        raise ValueError(f"widths must be 'tolerance' or 'table', got {widths!r}")
    table = K1C2_WIDTHS if widths == "tolerance" else K1C2_TABLE_WIDTHS
    convs, fcs = table[budget_key(n_params, table)]
    inputs, x, _ = waveform_frontend(n_samples, resolve_frontend(FRONTEND, frontend))
    x = _input_bn(x, input_bn, bn_momentum)
    for i, (w, p) in enumerate(zip(convs, K1C2_POOLS), start=1):
        x = conv_bn_elu(x, w, (int(kernel_length), 1), i, pool=p, bn_momentum=bn_momentum)
    out = _fc_head(x, fcs, n_outputs, activation, bn_momentum)
    return keras.Model(inputs, out, name=name or "k1c2")


def k2c1(*, n_outputs=50, activation="sigmoid", n_params=0.1e6, n_samples=N_SAMPLES_CH4,
         frontend=None, bn_momentum=BN_MOMENTUM, input_bn=True, name=None):
    """Chapter-4 k2c1: a first 2-D kernel spanning the whole band, then 1-D convolutions.

    Conv (96×4 in freq×time, 'valid' along frequency) collapses the band; then 1×4 convolutions;
    MaxPool along time after every conv (4, 4, 4, 5, 4 frames; the thesis only says "(1×4) or
    (1×5)"); flatten -> FC -> FC -> output.

    Parameters
    ----------
    n_params : {0.1e6, 0.25e6, 0.5e6, 1e6, 3e6}
        Table 4-A budget (widths). Default 0.1e6.
    n_outputs, activation, n_samples, frontend, bn_momentum, input_bn, name
        As :func:`k1c2`.
    """
    convs, fcs = K2C1_WIDTHS[budget_key(n_params, K2C1_WIDTHS)]
    inputs, x, fe = waveform_frontend(n_samples, resolve_frontend(FRONTEND, frontend))
    x = _input_bn(x, input_bn, bn_momentum)
    x = conv_bn_elu(x, convs[0], (4, fe.n_freq), 1, padding="valid", pool=K2C1_POOLS[0], bn_momentum=bn_momentum)
    for i, (w, p) in enumerate(zip(convs[1:], K2C1_POOLS[1:]), start=2):
        x = conv_bn_elu(x, w, (4, 1), i, pool=p, bn_momentum=bn_momentum)
    out = _fc_head(x, fcs, n_outputs, activation, bn_momentum)
    return keras.Model(inputs, out, name=name or "k2c1")


def crnn(*, n_outputs=50, activation="sigmoid", n_params=0.1e6, n_samples=N_SAMPLES_CH4,
         frontend=None, dropout=0.1, gru_reset_after=False, bn_momentum=BN_MOMENTUM, input_bn=True, name=None):
    """Chapter-4 CRNN: 4 conv layers (3×3) and a 2-layer GRU summarising time.

    The image is zero-padded in time to 1440 frames as in the released CRNN, then 4 ×
    [Conv 3×3, BN, ELU, MaxPool (2×2)-(3×3)-(4×4)-(4×4), Dropout 0.1] gives an N × 1 × 15 map,
    read as 15 time steps by two GRUs; the last hidden state feeds the output.

    Parameters
    ----------
    n_params : {0.1e6, 0.25e6, 0.5e6, 1e6, 3e6}
        Table 4-A budget (conv and GRU widths). Default 0.1e6.
    dropout : float
        Dropout between conv layers (thesis: 0.1).
    gru_reset_after : bool
        Keras 3's GRU variant (``True``, cuDNN style) or the original formulation of the
        thesis-era Keras/Theano GRU (``False``, default; 3·(in·u + u·u + u) weights).
    n_outputs, activation, n_samples, frontend, bn_momentum, name
        As :func:`k1c2`.
    input_bn : bool
        Batch normalisation along time after the padding (``bn0``, 1440 frames; the released
        CRNN's ``bn_0_freq``). Default on.

    Returns
    -------
    keras.Model
        Layers ``time_pad``, ``conv1..4``, ``pool1..4``, ``to_sequence``, ``gru1``, ``gru2``,
        ``output``.
    """
    convs, units = CRNN_WIDTHS[budget_key(n_params, CRNN_WIDTHS)]
    inputs, x, fe = waveform_frontend(n_samples, resolve_frontend(FRONTEND, frontend))
    n_frames = fe.n_frames(int(n_samples))
    total = 1
    for p in CRNN_POOLS:
        total *= p[0]
    target = max(CRNN_PADDED_FRAMES, -(-n_frames // total) * total)  # a multiple of the pools
    pad = target - n_frames
    x = keras.layers.ZeroPadding2D(((pad // 2, pad - pad // 2), (0, 0)), name="time_pad")(x)
    x = _input_bn(x, input_bn, bn_momentum)
    for i, (w, p) in enumerate(zip(convs, CRNN_POOLS), start=1):
        x = conv_bn_elu(x, w, (3, 3), i, pool=p, dropout=dropout, bn_momentum=bn_momentum)
    t, f, c = x.shape[1:]
    x = keras.layers.Reshape((t, f * c), name="to_sequence")(x)
    x = keras.layers.GRU(units, return_sequences=True, reset_after=gru_reset_after, name="gru1")(x)
    x = keras.layers.GRU(units, reset_after=gru_reset_after, name="gru2")(x)
    out = output_layer(x, n_outputs, activation)
    return keras.Model(inputs, out, name=name or "crnn")


#: §7.2's genre convnet (the auralisation model): 11,025 Hz, 4-s excerpts, 512-point STFT, 50 % hop.
GENRE_SAMPLE_RATE = 11025
GENRE_N_SAMPLES = 4 * GENRE_SAMPLE_RATE
GENRE_FRONTEND = dict(kind="stft", sample_rate=GENRE_SAMPLE_RATE, n_fft=512, hop_length=256, power=1.0,
                      magnitude_scale="linear")


def genre_convnet(*, n_outputs=3, activation="softmax", n_samples=GENRE_N_SAMPLES, frontend=None, filters=64,
                  fc_widths=(512, 256), dropout=(0.0, 0.25, 0.25, 0.25, 0.5), fc_dropout=0.5, name=None):
    """The genre convnet of thesis §7.2 (the model of the auralisation chapter, Table 7-A).

    5 × [Conv ``filters``@3×3 (ReLU), MaxPool (2, 2), Dropout] -> Flatten -> two FC layers (ReLU,
    Dropout) -> output. The input is the STFT magnitude of a 4-s excerpt at 11,025 Hz (512-point
    FFT, hop 256: 173 frames × 257 bins). The thesis gives 64 maps, 3×3 kernels, (2,2) pools and
    "two fully connected layers"; the FC widths (512, 256), the dropout rates and the linear
    magnitude input follow the author's released auralisation code (which used 48 maps and a local
    response normalisation after each pool, left out here: Keras 3 has no such layer).

    Parameters
    ----------
    n_outputs : int
        Number of genres (3 in the thesis: ballad, dance, hip-hop).
    activation : {'softmax', 'sigmoid', 'linear'}
        Output activation.
    n_samples : int
        Input length in samples at 11,025 Hz (default 44,100 = 4 s).
    frontend : None, str or dict
        Front-end overrides (default: linear STFT magnitude).
    filters : int
        Feature maps per conv layer (thesis 64; the released code 48).
    fc_widths : tuple of int
        Units of the two FC layers.
    dropout : tuple of float
        Dropout after each conv block.
    fc_dropout : float
        Dropout after each FC layer.
    name : str or None
        Model name (default ``'choi_genre'``).

    Returns
    -------
    keras.Model
        Layers ``conv1..5``, ``relu1..5``, ``pool1..5``, ``fc1``, ``fc2``, ``output``.
    """
    inputs, x, _ = waveform_frontend(n_samples, resolve_frontend(GENRE_FRONTEND, frontend))
    for i, rate in enumerate(dropout, start=1):
        x = keras.layers.Conv2D(int(filters), 3, padding="same", kernel_initializer="he_normal", name=f"conv{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
        if rate:
            x = keras.layers.Dropout(rate, name=f"dropout{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, w in enumerate(fc_widths, start=1):
        x = keras.layers.Dense(int(w), activation="relu", kernel_initializer="he_normal", name=f"fc{i}")(x)
        if fc_dropout:
            x = keras.layers.Dropout(fc_dropout, name=f"fc{i}_dropout")(x)
    out = output_layer(x, n_outputs, activation)
    return keras.Model(inputs, out, name=name or "choi_genre")


#: Chapter-4 structures in Table 4-A order.
CH4_MODELS = ("k1c2", "k2c1", "k2c2", "crnn")


def budget_table(models=CH4_MODELS, budgets=BUDGETS, **kwargs):
    """Trainable parameters of the chapter-4 models at every Table 4-A budget.

    Parameters
    ----------
    models : sequence of str
        Chapter-4 model names.
    budgets : sequence of float
        Budgets (number of trainable parameters).
    **kwargs
        Passed to every builder (e.g. ``input_bn=False`` or, for k1c2 only, ``kernel_length=4``).

    Returns
    -------
    list of dict
        ``model``, ``budget``, ``parameters`` (trainable), ``deviation`` (fraction of the
        budget), ``within_tolerance`` (``|deviation| <= 2 %``) and ``conv_share`` (fraction of
        the trainable parameters in ``conv*``/``bn*`` layers, the thesis' "13 %" for 0.5M k1c2).
    """
    import numpy as np

    builders = {"k1c2": k1c2, "k2c1": k2c1, "k2c2": k2c2, "crnn": crnn}
    rows = []
    for name in models:
        for b in budgets:
            kw = {k: v for k, v in kwargs.items() if name == "k1c2" or k not in ("kernel_length", "widths")}
            m = builders[name](n_params=b, **kw)
            count = int(sum(np.prod(w.shape) for w in m.trainable_weights))
            conv = int(sum(np.prod(w.shape) for layer in m.layers
                           if layer.name.startswith(("conv", "bn")) and layer.name != "bn0"
                           for w in layer.trainable_weights))
            dev = (count - b) / b
            rows.append({"model": name, "budget": float(b), "parameters": count, "deviation": dev,
                         "within_tolerance": abs(dev) <= BUDGET_TOLERANCE, "conv_share": conv / count})
            keras.backend.clear_session(free_memory=False)
    return rows
