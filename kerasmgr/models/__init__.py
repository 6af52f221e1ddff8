"""The kerasmgr model zoo: a registry of the seed systems.

>>> import kerasmgr.models as m
>>> m.available()
['k2c2', 'k1c2', 'k2c1', 'crnn', 'choi_genre', 'schindler_shallow', 'schindler_deep', 'dnn', 'cdnn']
>>> model = m.build("k2c2", n_outputs=10, activation="softmax")

Every model is a Keras functional model: waveform ``(batch, n_samples)`` in, the front-end
(:class:`kerasmgr.frontends.Frontend`, layer ``"frontend"``) inside, predictions
``(batch, n_outputs)`` out, with layers named so features can be tapped.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..frontends import find_frontend
from . import choi, kereliuk, schindler

__all__ = ["available", "build", "info", "input_spec", "ModelInfo", "count_trainable", "summary_table",
           "markdown_table"]


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows of a model besides its builder."""

    name: str
    builder: object
    seed: str
    description: str
    task: str  # the seed's task: 'tags' (multi-label, sigmoid) or 'genre' (single label, softmax)


_REGISTRY = {
    i.name: i
    for i in [
        ModelInfo("k2c2", choi.k2c2, "002 Choi thesis §2.4/ch.4",
                  "Compact-convnet: 5 x conv 3x3, log-mel 96 x 1360 at 12 kHz", "tags"),
        ModelInfo("k1c2", choi.k1c2, "002 Choi thesis ch.4",
                  "1-D time kernels, 2-D convolution, 2 FC layers", "tags"),
        ModelInfo("k2c1", choi.k2c1, "002 Choi thesis ch.4",
                  "full-band 2-D kernel, then 1-D convolutions, 2 FC layers", "tags"),
        ModelInfo("crnn", choi.crnn, "002 Choi thesis ch.4",
                  "4 conv layers + 2-layer GRU", "tags"),
        ModelInfo("choi_genre", choi.genre_convnet, "002 Choi thesis §7.2",
                  "genre convnet of the auralisation chapter: 5 x conv 64@3x3, pool (2,2), 2 FC; STFT 257 x 173 "
                  "at 11,025 Hz", "genre"),
        ModelInfo("schindler_shallow", schindler.schindler_shallow, "001 Schindler et al.",
                  "parallel spectral/temporal pipelines, 1 conv layer each, 80 mel x 80 frames", "genre"),
        ModelInfo("schindler_deep", schindler.schindler_deep, "001 Schindler et al.",
                  "parallel pipelines, 4 conv layers each", "genre"),
        ModelInfo("dnn", kereliuk.dnn, "000/004 Kereliuk et al.",
                  "3 ReLU layers on 513-bin magnitude frames", "genre"),
        ModelInfo("cdnn", kereliuk.cdnn, "000/004 Kereliuk et al.",
                  "2 conv layers on 100 x 513 magnitude patches", "genre"),
    ]
}


def available():
    """Names of the models :func:`build` knows, in the order of the README table."""
    return list(_REGISTRY)


def info(name):
    """The :class:`ModelInfo` of a registered model."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available())}") from None


def build(name, **kwargs):
    """Build a registered model.

    Parameters
    ----------
    name : str
        One of :func:`available`.
    **kwargs
        The builder's keyword arguments, e.g. ``n_outputs``, ``activation``, ``n_params``,
        ``n_samples``, ``frontend`` (see each builder's docstring).

    Returns
    -------
    keras.Model
    """
    return info(name).builder(**kwargs)


def input_spec(model):
    """Sample rate (Hz) and input length (samples) of a waveform model.

    Returns
    -------
    sample_rate : int
    n_samples : int
    """
    fe = find_frontend(model)
    if fe is None:
        raise ValueError(f"model {model.name!r} has no kerasmgr Frontend layer (not a waveform model)")
    return int(fe.sample_rate), int(model.input_shape[1])


def count_trainable(model):
    """Number of trainable parameters of a Keras model."""
    import numpy as np

    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def summary_table(names=None):
    """Rows (name, seed, input, trainable parameters) for the README's model table.

    Each model is built with its defaults (50 tag outputs for Choi's models, 10 classes for the
    others); the input column gives the waveform length and the front-end image.
    """
    rows = []
    for name in names or available():
        m = build(name)
        fe = find_frontend(m)
        sr, n = input_spec(m)
        img = m.get_layer("frontend").output.shape
        kind = {"mel": "log-mel" if fe.magnitude_scale != "linear" else "mel", "stft": "STFT magnitude",
                "cqt": "CQT"}[fe.kind]
        rows.append((name, info(name).seed, f"{n:,} samples @ {sr / 1000:g} kHz -> {img[1]} x {img[2]} {kind}",
                     count_trainable(m), m.output_shape[-1]))
    return rows


def markdown_table(names=None):
    """The model table as Markdown."""
    lines = ["| model | seed | input (waveform -> frames x bins) | outputs | trainable parameters |",
             "|---|---|---|---|---|"]
    for name, seed, inp, n, outs in summary_table(names):
        lines.append(f"| `{name}` | {seed} | {inp} | {outs} | {n:,} |")
    return "\n".join(lines)
