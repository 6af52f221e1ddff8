"""Choi's music taggers (thesis "Deep Neural Networks for Music Tagging", seed 002).

* ``k2c2`` — Compact-convnet (§2.4, Table 2-B): 5 × [Conv 32@3×3, BN, ELU, MaxPool], Dense(50).
  With ``n_params`` it becomes the chapter-4 k2c2 at a Table 4-A budget.
* ``k1c2``, ``k2c1``, ``crnn`` — the other chapter-4 structures (§4.2, Table 4-A).

All take a 12 kHz waveform; the front-end computes a 96-band log-mel spectrogram (512-point FFT,
hop 256, power 2, dB with an 80 dB per-clip floor) followed by per-clip standardisation (the
thesis' "excerpt-wise standardisation" of chapter 5, Kapre 0.1's ``Normalization2D`` in the
released Compact-convnet). Kernel and pool sizes in the code are (time, freq); the thesis prints
(freq, time). Every conv and FC layer has BatchNorm + ELU and He-normal initialisation.
"""

from __future__ import annotations

import keras

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
K1C2_WIDTHS = {  # 4 conv, 2 FC
    0.1e6: ((15, 15, 30, 30), (30, 30)),
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

# Pools in (time, freq).
COMPACT_POOLS = ((4, 2), (4, 3), (5, 2), (4, 2), (4, 4))  # thesis (2,4),(3,4),(2,5),(2,4),(4,4) (F,T)
K2C2_CH4_POOLS = ((4, 2), (4, 2), (4, 2), (5, 3), (4, 4))  # (2×4)-(2×4)-(2×4)-(3×5)-(4×4) (F×T)
K1C2_POOLS = ((4, 1), (5, 1), (8, 1), (8, 1))  # (1×4)-(1×5)-(1×8)-(1×8)
K2C1_POOLS = ((4, 1), (4, 1), (4, 1), (5, 1), (4, 1))  # 4·4·4·5·4 = 1280 (order UNCONFIRMED)
CRNN_POOLS = ((2, 2), (3, 3), (4, 4), (4, 4))
CRNN_PADDED_FRAMES = 1440  # the released CRNN zero-pads 1366 frames to 1440


def _fc_head(x, widths, n_outputs, activation):
    """Flatten -> FC (BN, ELU) per width -> output: the classifier of k1c2 and k2c1."""
    x = keras.layers.Flatten(name="flatten")(x)
    for i, w in enumerate(widths, start=1):
        x = dense_bn_elu(x, w, i)
    return output_layer(x, n_outputs, activation)


def k2c2(*, n_outputs=50, activation="sigmoid", n_params=None, n_samples=None, frontend=None,
         batch_norm="moving", name=None):
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
        n_samples = N_SAMPLES_COMPACT if n_samples is None else n_samples
    else:
        widths, pools = K2C2_WIDTHS[key], K2C2_CH4_POOLS
        n_samples = N_SAMPLES_CH4 if n_samples is None else n_samples
    inputs, x, _ = waveform_frontend(n_samples, resolve_frontend(FRONTEND, frontend))
    for i, (w, p) in enumerate(zip(widths, pools), start=1):
        x = conv_bn_elu(x, w, (3, 3), i, pool=p, batch_norm=batch_norm)
    x = keras.layers.GlobalMaxPooling2D(name="global_pool")(x)
    out = output_layer(x, n_outputs, activation)
    return keras.Model(inputs, out, name=name or "k2c2")


def k1c2(*, n_outputs=50, activation="sigmoid", n_params=0.1e6, n_samples=N_SAMPLES_CH4,
         frontend=None, name=None):
    """Chapter-4 k1c2: 1-D (time) kernels, 2-D convolution, then two FC layers.

    4 × [Conv (1×4 in freq×time), BN, ELU, MaxPool (1×4)-(1×5)-(1×8)-(1×8)] keeps every mel band
    separate; the 96 × width map is flattened -> FC -> FC -> output (FC with BN + ELU).

    Parameters
    ----------
    n_params : {0.1e6, 0.25e6, 0.5e6, 1e6, 3e6}
        Table 4-A budget (widths). Default 0.1e6.
    n_samples : int
        Input length in samples at 12 kHz (default 349,440 = 96 × 1366 input).
    n_outputs, activation, frontend, name
        As :func:`k2c2`.

    Returns
    -------
    keras.Model
        Layers ``conv1..4``, ``pool1..4``, ``flatten``, ``fc1``, ``fc2``, ``output``.
    """
    convs, fcs = K1C2_WIDTHS[budget_key(n_params, K1C2_WIDTHS)]
    inputs, x, _ = waveform_frontend(n_samples, resolve_frontend(FRONTEND, frontend))
    for i, (w, p) in enumerate(zip(convs, K1C2_POOLS), start=1):
        x = conv_bn_elu(x, w, (4, 1), i, pool=p)
    out = _fc_head(x, fcs, n_outputs, activation)
    return keras.Model(inputs, out, name=name or "k1c2")


def k2c1(*, n_outputs=50, activation="sigmoid", n_params=0.1e6, n_samples=N_SAMPLES_CH4,
         frontend=None, name=None):
    """Chapter-4 k2c1: a first 2-D kernel spanning the whole band, then 1-D convolutions.

    Conv (96×4 in freq×time, 'valid' along frequency) collapses the band; then 1×4 convolutions;
    MaxPool along time after every conv (4, 4, 4, 5, 4 frames; the thesis only says "(1×4) or
    (1×5)"); flatten -> FC -> FC -> output.

    Parameters
    ----------
    n_params : {0.1e6, 0.25e6, 0.5e6, 1e6, 3e6}
        Table 4-A budget (widths). Default 0.1e6.
    n_outputs, activation, n_samples, frontend, name
        As :func:`k1c2`.
    """
    convs, fcs = K2C1_WIDTHS[budget_key(n_params, K2C1_WIDTHS)]
    inputs, x, fe = waveform_frontend(n_samples, resolve_frontend(FRONTEND, frontend))
    x = conv_bn_elu(x, convs[0], (4, fe.n_freq), 1, padding="valid", pool=K2C1_POOLS[0])
    for i, (w, p) in enumerate(zip(convs[1:], K2C1_POOLS[1:]), start=2):
        x = conv_bn_elu(x, w, (4, 1), i, pool=p)
    out = _fc_head(x, fcs, n_outputs, activation)
    return keras.Model(inputs, out, name=name or "k2c1")


def crnn(*, n_outputs=50, activation="sigmoid", n_params=0.1e6, n_samples=N_SAMPLES_CH4,
         frontend=None, dropout=0.1, gru_reset_after=False, name=None):
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
    n_outputs, activation, n_samples, frontend, name
        As :func:`k1c2`.

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
    for i, (w, p) in enumerate(zip(convs, CRNN_POOLS), start=1):
        x = conv_bn_elu(x, w, (3, 3), i, pool=p, dropout=dropout)
    t, f, c = x.shape[1:]
    x = keras.layers.Reshape((t, f * c), name="to_sequence")(x)
    x = keras.layers.GRU(units, return_sequences=True, reset_after=gru_reset_after, name="gru1")(x)
    x = keras.layers.GRU(units, reset_after=gru_reset_after, name="gru2")(x)
    out = output_layer(x, n_outputs, activation)
    return keras.Model(inputs, out, name=name or "crnn")
