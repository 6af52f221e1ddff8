"""Ports of Keunwoo Choi's released Keras 1/2 music taggers to kerasmgr (Keras 3) models.

Four formats (``../shared/specs/choi_weights.md`` documents every file):

``choi2017-keras2``
    Compact-convnet ``model_best.hdf5`` (Keras 2.1.1 + Kapre 0.1.2.1, 12 kHz): TF-'SAME' framing,
    mel power, dB relative to the batch maximum with an 80 dB floor, per-clip standardisation
    (``Normalization2D``), 5 conv blocks with inference batch normalisation, global max-pool,
    Dense(50). The batch maximum only moves the floor (the standardisation removes the offset).
``choi2017-keras1-theano``
    Compact-convnet ``weights_theano.hdf5`` (Keras 1.2.2, Theano; the thesis' transfer features):
    Theano framing (true convolution: frame ``t`` starts at ``256 t - 257``), dB relative to the
    batch maximum, no standardisation, kernels flipped (Theano convolves), batch normalisation
    in ``mode=2`` (the current batch's statistics, also at inference).
``choi2016-cnn``, ``choi2016-crnn``
    MusicTaggerCNN / MusicTaggerCRNN (Keras 1.0.x; TensorFlow- or Theano-ordered weight files):
    librosa's centred, reflect-padded mel power squared again and converted with
    ``logamplitude(ref=1, top_db=80)`` (= ``20 log10 mel``); Keras 1.0.x batch normalisation
    with the stored ``running_std`` read as the author's published output read it (Keras
    >= 1.0.7: a variance, ``(x - mean) / sqrt(running_std + 1e-5)``, ``bn_reading='published'``,
    the default) or as the weights were trained (Keras 1.0.6: a standard deviation,
    ``(x - mean) / (running_std + 1e-6)``, ``bn_reading='trained'``), including the input
    normalisation over time (``bn_0_freq``); the CRNN's GRUs use Keras 1's hard sigmoid (slope 0.2).
    ``DEFAULT_BN_READING`` picks one per model. Only ``'published'`` reproduces the tags the author published
    for the project's example
    melgrams (all four songs' top-10 scores to their 3 printed decimals); the padded frames'
    ``running_std`` of exactly ``0.001 = sqrt(1e-6)`` shows the weights were trained under the
    1.0.6 rule (see ``BN_READINGS``).

Modes: ``'faithful'`` reproduces the original numbers, batch dependence included (the batch-wide
dB maximum; ``mode=2`` batch normalisation). ``'per_clip'`` makes every clip's output independent
of the batch: the dB maximum per clip and, for the Theano model, batch normalisation with
statistics frozen from a calibration set of music (``calibration``).

Layout: the old models see (freq, time) images, kerasmgr (time, freq); kernels are transposed
and pools swapped, which leaves every number unchanged.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import h5py
import keras
import numpy as np

from .. import __version__
from ..data import embedded
from ..data.datasets import AUDIO_EXTENSIONS, MSD_TAGS, Item, load_waveforms
from ..frontends import find_frontend
from ..layers import BatchStatBN, LegacyBatchNorm, keras1_hard_sigmoid
from ..models import choi
from ..models._blocks import waveform_frontend

__all__ = ["FORMATS", "MODES", "BN_READINGS", "DEFAULT_BN_READING", "INPUTS", "MELGRAM_SHAPE", "build_converted", "PUBLISHED",
           "calibration_clips", "calibration_folder"]

FORMATS = ("choi2017-keras2", "choi2017-keras1-theano", "choi2016-cnn", "choi2016-crnn")
MODES = ("faithful", "per_clip")
#: How the 2016 models' batch normalisation reads ``running_std``: (LegacyBatchNorm reading, epsilon).
#: 'published': Keras >= 1.0.7, which ran the author's published example (README of
#: music-auto_tagging-keras, 2016-09-28); 'trained': Keras 1.0.6, under which the weights were trained
#: ("after trained in keras 1.0.6, the convnet results wrong values", merge commit of 2016-09-23).
BN_READINGS = {"published": ("variance", 1e-5), "trained": ("std", 1e-6)}
#: Default reading per format. MusicTaggerCRNN: 'published' (reproduces the author's published tags).
#: MusicTaggerCNN: 'trained' -- under the published reading its outputs collapse (every tag ~0 but
#: 'jazz' ~1 on the four example songs), which is what the author's README warned of ("with keras
#: >1.0.6, this model does not work properly") and why only CRNN tags were published.
DEFAULT_BN_READING = {"choi2016-crnn": "published", "choi2016-cnn": "trained"}
INPUTS = ("waveform", "melgram")
#: The 2016 models' input image: 96 mel bins x 1366 frames (29.12 s at 12 kHz, hop 256).
MELGRAM_SHAPE = (96, 1366)
SAMPLE_RATE = 12000

#: Published figures of each released model (MSD top-50 tags, Choi's split).
PUBLISHED = {
    "choi2017-keras2": {"roc_auc": 0.849, "source": "music-auto_tagging-keras compact_cnn README (approx.)"},
    "choi2017-keras1-theano": {"roc_auc": 0.849, "source": "same trained Compact-convnet (thesis ch. 6 extractor)"},
    "choi2016-cnn": {"roc_auc": 0.8654, "parameters": 865950, "source": "music-auto_tagging-keras README"},
    "choi2016-crnn": {"roc_auc": 0.8662, "parameters": 396786, "source": "music-auto_tagging-keras README"},
}


def _read(h5, *candidates):
    """The first dataset found among ``candidates``, allowing Keras' suffixes (``:0``, ``_1:0``)."""
    for c in candidates:
        for name in h5:
            if re.fullmatch(re.escape(c) + r"(_\d+)?(:0)?", name):
                return np.asarray(h5[name])
    raise KeyError(f"{h5.file.filename}: none of {candidates} found in {h5.name}")


def _tf_layout(kernel_rows_freq):
    """(freq, time, in, out) kernel -> kerasmgr's (time, freq, in, out)."""
    return np.ascontiguousarray(np.asarray(kernel_rows_freq).transpose(1, 0, 2, 3))


def _theano_kernel(w, flip):
    """Keras 1 ``(out, in, rows=freq, cols=time)`` -> kerasmgr ``(time, freq, in, out)``."""
    w = np.asarray(w)
    if flip:  # Theano's conv2d is a true convolution
        w = w[:, :, ::-1, ::-1]
    return _tf_layout(w.transpose(2, 3, 1, 0))


def _compact_frontend(framing, scope, standardise):
    return dict(layer="Kapre01Frontend", kind="mel", sample_rate=SAMPLE_RATE, n_fft=512, hop_length=256, framing=framing,
                n_mels=96,
                fmin=0.0, fmax=6000.0, power=2.0, magnitude_scale="db", db_ref="max", db_amin=1e-10,
                top_db=80.0, db_scope=scope, sample_standardization=standardise, standardization_eps=1e-10,
                precision="float64")


def _set_kapre01(model, real, imag, fb):
    """Copy Kapre 0.1's stored DFT kernels (n_fft, 1, 1, bins) and mel matrix into the front-end."""
    fe = model.get_layer("frontend")
    fe.real_kernels.assign(np.asarray(real)[:, 0, 0, :])
    fe.imag_kernels.assign(np.asarray(imag)[:, 0, 0, :])
    fe.freq2mel.assign(np.asarray(fb))


def _keras2(src, mode, n_samples):
    model = choi.k2c2(n_outputs=50, activation="sigmoid", n_samples=n_samples,
                      frontend=_compact_frontend("tf_same", "batch" if mode == "faithful" else "clip", True),
                      name="choi2017_keras2")
    with h5py.File(src, "r") as f:
        g = f["model_weights"] if "model_weights" in f else f
        mg = g["melgram"]["melgram"]
        _set_kapre01(model, _read(mg, "real_kernels"), _read(mg, "imag_kernels"), _read(mg, "Variable"))
        for i in range(1, 6):
            conv = g[f"conv2d_{i}"][f"conv2d_{i}"]
            model.get_layer(f"conv{i}").set_weights([_tf_layout(_read(conv, "kernel")), _read(conv, "bias")])
            bn = g[f"batch_normalization_{i}"][f"batch_normalization_{i}"]
            model.get_layer(f"bn{i}").set_weights([_read(bn, k) for k in ("gamma", "beta", "moving_mean",
                                                                            "moving_variance")])
        d = g["dense_1"]["dense_1"]
        model.get_layer("output").set_weights([_read(d, "kernel"), _read(d, "bias")])
    return model


def _theano_compact(src, batch_norm, scope, n_samples):
    model = choi.k2c2(n_outputs=50, activation="sigmoid", n_samples=n_samples, batch_norm=batch_norm,
                      frontend=_compact_frontend("theano", scope, False), name="choi2017_keras1_theano")
    with h5py.File(src, "r") as f:
        m = f["melgram"]
        _set_kapre01(model, _read(m, "param_0"), _read(m, "param_1"), _read(m, "param_2"))
        g = f["ConvBNEluDr"]
        for i in range(1, 6):
            w = _read(g, f"convolution2d_{i}_W")
            model.get_layer(f"conv{i}").set_weights([_theano_kernel(w, flip=True), _read(g, f"convolution2d_{i}_b")])
            gamma, beta = _read(g, f"batchnormalization_{i}_gamma"), _read(g, f"batchnormalization_{i}_beta")
            bn = model.get_layer(f"bn{i}")
            if isinstance(bn, BatchStatBN):
                bn.set_weights([gamma, beta])
            else:
                bn.set_weights([gamma, beta, np.zeros_like(gamma), np.ones_like(gamma)])
        model.get_layer("output").set_weights([_read(f["dense_1"], "dense_1_W"), _read(f["dense_1"], "dense_1_b")])
    return model


def calibration_clips(n_per_genre=4, n_samples=348000):
    """Stand-in calibration music: ``n_per_genre`` clips per genre of the embedded dataset at 12 kHz.

    Real music (a few hundred varied clips) is better; pass your own to :func:`build_converted`.
    """
    clips = []
    for g in embedded.GENRES:
        for i in range(n_per_genre):
            y, _ = embedded.generate_clip(g, embedded.clip_seed(2017, g, i), sample_rate=SAMPLE_RATE,
                                          duration=n_samples / SAMPLE_RATE)
            clips.append(y[:n_samples])
    return np.stack(clips)


def calibration_folder(folder, n_samples=348000):
    """Calibration music from a folder: every audio file below it at 12 kHz, the first ``n_samples``
    (zero-padded if shorter). Unreadable files are skipped with a warning.

    Returns
    -------
    np.ndarray, float32, shape (n_files, n_samples)
    """
    files = sorted(q for q in Path(folder).rglob("*") if q.suffix.lower() in AUDIO_EXTENSIONS)
    audio, _, errors = load_waveforms([Item(str(f)) for f in files], SAMPLE_RATE, n_samples=n_samples or 348000)
    for path, reason in errors:
        warnings.warn(f"calibration: skipped {path}: {reason}", stacklevel=2)
    if not len(audio):
        raise ValueError(f"no usable audio in {folder}")
    return audio


def _keras1_theano(src, mode, n_samples, calibration):
    if mode == "faithful":
        return _theano_compact(src, "batch", "batch", n_samples)
    if calibration is None:
        raise ValueError("per_clip mode of choi2017-keras1-theano needs calibration audio "
                         "((n, n_samples) waveforms at 12 kHz, a folder of music, or 'embedded' for generated stand-in music)")
    if isinstance(calibration, (str, Path)):
        calibration = (calibration_clips(n_samples=n_samples) if str(calibration) == "embedded"
                       else calibration_folder(calibration, n_samples=n_samples))
    calibration = np.asarray(calibration, dtype=np.float32)
    # per-layer statistics of the faithful model over the whole calibration batch (per-clip dB floor)
    probe = _theano_compact(src, "batch", "clip", n_samples)
    bns = [probe.get_layer(f"bn{i}") for i in range(1, 6)]
    taps = keras.Model(probe.input, [b.input for b in bns])
    acts = taps(calibration, training=False)
    model = _theano_compact(src, "moving", "clip", n_samples)
    for i, (b, a) in enumerate(zip(bns, acts), start=1):
        a = np.asarray(a, dtype=np.float64)
        mean = a.mean(axis=(0, 1, 2))
        var = a.var(axis=(0, 1, 2))
        gamma, beta = b.get_weights()
        model.get_layer(f"bn{i}").set_weights([gamma, beta, mean.astype("float32"), var.astype("float32")])
    return model


def _choi2016_input(input_kind):
    """The 2016 models' image: from the waveform (librosa-style front-end) or a given log-mel."""
    if input_kind == "melgram":  # (batch, 96 mel bins, 1366 frames): the original (freq, time) layout
        inputs = keras.Input(MELGRAM_SHAPE, name="melgram")
        x = keras.layers.Permute((2, 1), name="to_time_freq")(inputs)
        return inputs, keras.layers.Reshape((MELGRAM_SHAPE[1], MELGRAM_SHAPE[0], 1), name="to_image")(x)
    fe = dict(kind="mel", sample_rate=SAMPLE_RATE, n_fft=512, hop_length=256, framing="center",
              pad_mode="reflect", n_mels=96, fmin=0.0, fmax=6000.0, power=2.0, magnitude_scale="db",
              db_power=1.0, db_ref=1.0, db_amin=1e-5, top_db=80.0, precision="float64")

    inputs, x, _ = waveform_frontend(choi.N_SAMPLES_CH4, fe)
    return inputs, x


def _choi2016(src, kind, ordering, bn_reading, input_kind="waveform"):
    with h5py.File(src, "r") as f:
        names = []
        f.visit(names.append)
        if ordering is None:  # TF-ordered files name datasets "...:0"; Theano-ordered ones do not
            ordering = "tensorflow" if any(n.endswith(":0") for n in names) else "theano"
        flip = ordering == "theano"
        n_conv = 5 if kind == "cnn" else 4
        widths = [_read(f[f"conv{i}"], f"conv{i}_W").shape[0] for i in range(1, n_conv + 1)]
        reading, eps = BN_READINGS[bn_reading]
        inputs, x = _choi2016_input(input_kind)
        if kind == "crnn":
            x = keras.layers.ZeroPadding2D(((37, 37), (0, 0)), name="zeropadding2d_1")(x)
        x = LegacyBatchNorm(axis=1, epsilon=eps, reading=reading, name="bn_0_freq")(x)
        pools = ((4, 2), (4, 2), (4, 2), (5, 3), (4, 4)) if kind == "cnn" else choi.CRNN_POOLS
        for i, (w, p) in enumerate(zip(widths, pools), start=1):
            x = keras.layers.Conv2D(w, (3, 3), padding="same", name=f"conv{i}")(x)
            x = LegacyBatchNorm(axis=-1, epsilon=eps, reading=reading, name=f"bn{i}")(x)
            x = keras.layers.ELU(name=f"elu{i}")(x)
            x = keras.layers.MaxPooling2D(p, name=f"pool{i}")(x)
        if kind == "cnn":
            x = keras.layers.Flatten(name="flatten")(x)
        else:
            t, fr, c = x.shape[1:]
            x = keras.layers.Reshape((t, fr * c), name="to_sequence")(x)
            for j, seq in ((1, True), (2, False)):
                x = keras.layers.GRU(32, return_sequences=seq, reset_after=False,
                                     recurrent_activation=keras1_hard_sigmoid, name=f"gru{j}")(x)
        out = keras.layers.Dense(50, activation="sigmoid", name="output")(x)
        model = keras.Model(inputs, out, name=f"choi2016_{kind}")

        def bn_weights(layer):
            g = f[layer]
            return [_read(g, f"{layer}_{k}") for k in ("gamma", "beta", "running_mean", "running_std")]

        model.get_layer("bn_0_freq").set_weights(bn_weights("bn_0_freq"))
        for i in range(1, n_conv + 1):
            g = f[f"conv{i}"]
            model.get_layer(f"conv{i}").set_weights([_theano_kernel(_read(g, f"conv{i}_W"), flip),
                                                     _read(g, f"conv{i}_b")])
            model.get_layer(f"bn{i}").set_weights(bn_weights(f"bn{i}"))
        if kind == "crnn":
            for j in (1, 2):
                g = f[f"gru{j}"]
                k = np.concatenate([_read(g, f"gru{j}_W_{q}") for q in "zrh"], axis=1)
                r = np.concatenate([_read(g, f"gru{j}_U_{q}") for q in "zrh"], axis=1)
                b = np.concatenate([_read(g, f"gru{j}_b_{q}") for q in "zrh"])
                model.get_layer(f"gru{j}").set_weights([k, r, b])
        model.get_layer("output").set_weights([_read(f["output"], "output_W"), _read(f["output"], "output_b")])
    return model, ordering


def build_converted(fmt, src, *, mode="faithful", n_samples=None, calibration=None, ordering=None,
                    bn_reading=None, input="waveform"):
    """Build the kerasmgr model of a released Choi weight file.

    Parameters
    ----------
    fmt : str
        One of :data:`FORMATS`.
    src : str or Path
        The released HDF5 file.
    mode : {'faithful', 'per_clip'}
        See the module docstring. The 2016 models do not depend on the batch (one mode).
    n_samples : int or None
        Input length at 12 kHz for the compact convnets (default 348,000 = 29 s; the 50-tag
        output needs at least 327,425 samples).
    calibration : np.ndarray, 'embedded' or None
        ``(n, n_samples)`` music at 12 kHz for the per-clip mode of ``choi2017-keras1-theano``.
    ordering : {'tensorflow', 'theano', None}
        Kernel ordering of a choi2016 file (default: detected from the dataset names).
    bn_reading : {'published', 'trained', None}
        choi2016 formats: how batch normalisation reads the stored ``running_std``
        (:data:`BN_READINGS`). ``'published'`` reproduces the author's published tags;
        ``'trained'`` is the rule the weights were trained under. ``None``: the format's default
        (:data:`DEFAULT_BN_READING`: CRNN 'published', CNN 'trained').
    input : {'waveform', 'melgram'}
        choi2016 formats: the model's input. ``'melgram'`` takes the original models' log-mel image
        ``(batch, 96, 1366)`` in dB, (freq, time) layout (e.g. the project's example ``.npy`` files
        with their leading ``(1, 1)`` axes dropped), bypassing the front-end.

    Returns
    -------
    model : keras.Model
        Waveform ``(batch, n_samples)`` at 12 kHz (or a log-mel image, see ``input``) -> 50 tag
        probabilities (:data:`MSD_TAGS` order).
    meta : dict
        Sidecar metadata.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if fmt.startswith("choi2016") and bn_reading is None:
        bn_reading = DEFAULT_BN_READING[fmt]
    if bn_reading is not None and bn_reading not in BN_READINGS:
        raise ValueError(f"bn_reading must be one of {tuple(BN_READINGS)}, got {bn_reading!r}")
    if input not in INPUTS:
        raise ValueError(f"input must be one of {INPUTS}, got {input!r}")
    if input != "waveform" and not fmt.startswith("choi2016"):
        raise ValueError(f"input={input!r} is only available for the choi2016 formats")
    src = Path(src)
    if not src.is_file():
        raise FileNotFoundError(f"{src}: weight file not found")
    n = int(n_samples or choi.N_SAMPLES_COMPACT)
    extra = {}
    if fmt == "choi2017-keras2":
        model = _keras2(src, mode, n)
    elif fmt == "choi2017-keras1-theano":
        model = _keras1_theano(src, mode, n, calibration)
        if mode == "per_clip":
            extra["calibration"] = "embedded stand-in music" if isinstance(calibration, str) else "user audio"
    else:
        model, ordering = _choi2016(src, fmt.split("-")[1], ordering, bn_reading, input)
        extra.update(ordering=ordering, bn_reading=bn_reading)
        mode = "per_clip"  # nothing in these models depends on the batch

    fe = find_frontend(model)
    meta = {
        "model": fmt,
        "task": "tags",
        "labels": list(MSD_TAGS),
        "sample_rate": SAMPLE_RATE,
        "n_samples": int(model.input_shape[1]) if fe is not None else None,
        "input": input,
        "frontend": ({k: v for k, v in fe.get_config().items() if k not in ("name", "trainable", "dtype")}
                     if fe is not None else None),
        "mode": mode,
        "source_file": src.name,
        "training_data": {"dataset": "msd", "description": "Million Song Dataset previews, top-50 last.fm tags, "
                                                           "Choi's MSD_split_for_tagging"},
        "metrics": {"published": PUBLISHED[fmt]},
        "kerasmgr_version": __version__,
        **extra,
    }
    return model, meta
