"""The kerasmgr model zoo: a registry of the seed systems and their input contracts.

This package owns what a model *is*: its builder, the seed it comes from, and, as data, its
input contract (sample rate in Hz, input length in samples, front-end preset) and its training
defaults. Code that needs a model's rate or length asks :func:`contract` (before a model exists)
or :func:`input_spec` (of a built or loaded model); nothing builds a model to learn its rate.

>>> import kerasmgr.models as m
>>> m.available()
['k2c2', 'k1c2', 'k2c1', 'crnn', 'choi_genre', 'schindler_shallow', 'schindler_deep', 'dnn', 'cdnn']
>>> model = m.build("k2c2", n_outputs=10, activation="softmax")

Every model is a Keras functional model: waveform ``(batch, n_samples)`` in, the front-end
(:class:`kerasmgr.frontends.Frontend`, layer ``"frontend"``) inside, predictions
``(batch, n_outputs)`` out, with layers named so features can be tapped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..frontends import find_frontend
from ..frontends.base import dtype_policy
from ..presets import load_released
from . import choi, kereliuk, pons, schindler, won
from ._blocks import resolve_frontend

__all__ = ["available", "build", "from_preset", "info", "contract", "input_spec", "ModelInfo", "InputContract",
           "training_defaults", "count_trainable",
           "summary_table", "markdown_table", "MIXED_PRECISIONS"]

#: Training defaults of the tagging convnets (fast, good settings for the embedded dataset on a CPU;
#: ``configs/<model>.yaml`` hold the seeds' own settings).
_CHOI_TRAINING = dict(epochs=20, batch_size=16, segments_per_clip=1, learning_rate=2e-3, early_stopping=6)
#: Won et al. (2020) trained on 3.69-s chunks with batch 16 (Adam 1e-4, then SGD with decays); CPU
#: defaults for the embedded dataset: several chunks per 30-s clip.
_WON_TRAINING = dict(epochs=15, batch_size=16, segments_per_clip=4, learning_rate=1e-3, early_stopping=5)
_SCHINDLER_TRAINING = dict(epochs=15, batch_size=32, segments_per_clip=15, learning_rate=1e-4, early_stopping=5)


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows of a model: builder, provenance, input contract and training defaults.

    ``frontend`` is the front-end preset (:class:`~kerasmgr.frontends.Frontend` arguments, incl.
    ``sample_rate`` in Hz); ``n_samples`` the default input length in samples at that rate, or a
    function of the builder's keyword arguments where they change it (a parameter budget, a patch
    size); ``training`` the :class:`~kerasmgr.training.TrainConfig` values used where a run leaves
    them unset.
    """

    name: str
    builder: object
    seed: str
    description: str
    task: str  # the seed's task: 'tags' (multi-label, sigmoid) or 'genre' (single label, softmax)
    frontend: dict = field(default_factory=dict)
    n_samples: object = None
    training: dict = field(default_factory=dict)


@dataclass(frozen=True)
class InputContract:
    """What a model expects: waveforms at ``sample_rate`` Hz, ``n_samples`` samples long.

    ``frontend`` holds the resolved front-end arguments. ``n_samples`` is ``None`` for a model
    built on spectrogram frames instead of waveforms.
    """

    sample_rate: int
    n_samples: int | None
    frontend: dict

    @property
    def seconds(self):
        """Input length in seconds."""
        return None if self.n_samples is None else self.n_samples / self.sample_rate


_REGISTRY = {
    i.name: i
    for i in [
        ModelInfo("k2c2", choi.k2c2, "002 Choi thesis §2.4/ch.4",
                  "Compact-convnet: 5 x conv 3x3, log-mel 96 x 1360 at 12 kHz", "tags",
                  choi.FRONTEND, choi.default_n_samples, _CHOI_TRAINING),
        ModelInfo("k1c2", choi.k1c2, "002 Choi thesis ch.4",
                  "1-D time kernels, 2-D convolution, 2 FC layers", "tags",
                  choi.FRONTEND, choi.N_SAMPLES_CH4, _CHOI_TRAINING),
        ModelInfo("k2c1", choi.k2c1, "002 Choi thesis ch.4",
                  "full-band 2-D kernel, then 1-D convolutions, 2 FC layers", "tags",
                  choi.FRONTEND, choi.N_SAMPLES_CH4, _CHOI_TRAINING),
        ModelInfo("crnn", choi.crnn, "002 Choi thesis ch.4",
                  "4 conv layers + 2-layer GRU", "tags",
                  choi.FRONTEND, choi.N_SAMPLES_CH4, _CHOI_TRAINING),
        ModelInfo("choi_genre", choi.genre_convnet, "002 Choi thesis §7.2",
                  "genre convnet of the auralisation chapter: 5 x conv 64@3x3, pool (2,2), 2 FC; STFT 257 x 173 "
                  "at 11,025 Hz", "genre", choi.GENRE_FRONTEND, choi.GENRE_N_SAMPLES),
        ModelInfo("schindler_shallow", schindler.schindler_shallow, "001 Schindler et al.",
                  "parallel spectral/temporal pipelines, 1 conv layer each, 80 mel x 80 frames", "genre",
                  schindler.FRONTEND, schindler.N_SAMPLES, _SCHINDLER_TRAINING),
        ModelInfo("schindler_deep", schindler.schindler_deep, "001 Schindler et al.",
                  "parallel pipelines, 4 conv layers each", "genre",
                  schindler.FRONTEND, schindler.N_SAMPLES, _SCHINDLER_TRAINING),
        ModelInfo("dnn", kereliuk.dnn, "000/004 Kereliuk et al.",
                  "3 ReLU layers on 513-bin magnitude frames", "genre",
                  kereliuk.FRONTEND, kereliuk.N_FFT,
                  dict(epochs=15, batch_size=256, segments_per_clip=200, learning_rate=1e-3, early_stopping=5,
                       eval_hop=512)),
        ModelInfo("cdnn", kereliuk.cdnn, "000/004 Kereliuk et al.",
                  "2 conv layers on 100 x 513 magnitude patches", "genre",
                  kereliuk.FRONTEND, kereliuk.default_n_samples,
                  dict(epochs=15, batch_size=20, segments_per_clip=12, learning_rate=1e-4, early_stopping=5)),
        ModelInfo("short_chunk_cnn", won.short_chunk_cnn, "Won et al. 2020 (comparison point)",
                  "7 x conv 3x3 + max-pool 2x2 on 3.69-s 128-mel chunks at 16 kHz", "tags",
                  won.FRONTEND, won.N_SAMPLES, _WON_TRAINING),
        ModelInfo("short_chunk_resnet", won.short_chunk_resnet, "Won et al. 2020 (comparison point)",
                  "7 residual blocks (stride 2) on 3.69-s 128-mel chunks at 16 kHz", "tags",
                  won.FRONTEND, won.N_SAMPLES, _WON_TRAINING),
        ModelInfo("musicnn", pons.musicnn, "Pons et al. 2018 (comparison point)",
                  "timbral + temporal filters, residual 1-D back-end, 3-s 96-mel chunks at 16 kHz", "tags",
                  pons.FRONTEND, pons.N_SAMPLES, _WON_TRAINING),
    ]
}


def available():
    """Names of the models :func:`build` knows, in the order of the README table."""
    return list(_REGISTRY)


def from_preset(name_or_dir):
    """A model from a preset, keras-hub style: a preset folder (:mod:`kerasmgr.presets`) or the name
    of a released model or preset in ``weights/`` (``kerasmgr.pretrained.available()``).

    Every file is checked against the sha256 its metadata records before it is read; a modified
    or truncated file raises :class:`kerasmgr.presets.PresetError` and is never loaded.

    Parameters
    ----------
    name_or_dir : str or Path

    Returns
    -------
    keras.Model
        Waveform in (batch, n_samples) at the preset's ``sample_rate`` (Hz). The metadata
        (labels, sample rate, metrics, model card fields) comes with
        ``kerasmgr.pretrained.load(name_or_dir)``.
    """
    return load_released(name_or_dir)[0]


def info(name):
    """The :class:`ModelInfo` of a registered model."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available())}") from None


def contract(name, **model_kwargs):
    """The input contract of a registered model built with ``model_kwargs`` (no model is built).

    A front-end override that changes ``sample_rate`` rescales what depends on the rate: the
    default input length keeps its duration in seconds, and an ``fmax`` at the preset's Nyquist
    frequency follows the new Nyquist (:func:`kerasmgr.models._blocks.resolve_frontend`).

    Parameters
    ----------
    name : str
        One of :func:`available`.
    **model_kwargs
        The builder's keyword arguments (``n_samples``, ``frontend``, ``n_params``, ``input``, ...).

    Returns
    -------
    InputContract
    """
    i = info(name)
    fe = resolve_frontend(i.frontend, model_kwargs.get("frontend"))
    sample_rate = int(fe["sample_rate"])
    if model_kwargs.get("input", "waveform") != "waveform":
        return InputContract(sample_rate, None, fe)
    n = model_kwargs.get("n_samples")
    if n is None:
        n = i.n_samples(model_kwargs) if callable(i.n_samples) else i.n_samples
        preset_rate = int(i.frontend["sample_rate"])
        if sample_rate != preset_rate:  # same duration at the new rate
            n = int(round(n * sample_rate / preset_rate))
    return InputContract(sample_rate, int(n), fe)


def training_defaults(name):
    """The training options a run of ``name`` uses where it leaves them unset (a copy)."""
    return dict(info(name).training)


def build(name, mixed_precision=None, **kwargs):
    """Build a registered model.

    Parameters
    ----------
    name : str
        One of :func:`available`.
    mixed_precision : {None, 'bfloat16', 'float16'}
        Compute the network in this dtype (variables stay float32), with the front-end and the
        output layer in float32 (:data:`MIXED_PRECISIONS`). The dtypes are saved with the model.
    **kwargs
        The builder's keyword arguments, e.g. ``n_outputs``, ``activation``, ``n_params``,
        ``n_samples``, ``frontend`` (see each builder's docstring).

    Returns
    -------
    keras.Model
        Its input length is :func:`contract`'s ``n_samples``.
    """
    c = contract(name, **kwargs)
    if c.n_samples is not None:
        kwargs["n_samples"] = c.n_samples
    if not mixed_precision:
        return info(name).builder(**kwargs)
    if mixed_precision not in MIXED_PRECISIONS:
        raise ValueError(f"mixed_precision must be one of {MIXED_PRECISIONS} or None, got {mixed_precision!r}")
    with dtype_policy(f"mixed_{mixed_precision}"):
        return _float32_head(info(name).builder(**kwargs))


#: Compute dtypes of ``build(..., mixed_precision=...)``: bfloat16 (CPUs with AVX512-BF16 or AMX,
#: TPUs, Ampere+ GPUs) and float16 (GPUs; Keras adds loss scaling when the model is compiled).
MIXED_PRECISIONS = ("bfloat16", "float16")


def _float32_head(model):
    """``model`` with its last weighted layer and every layer after it in float32 (the same
    initial weights): outputs in float32, so sigmoid/softmax scores keep their resolution
    (bfloat16 has 8 significant bits: scores near 0 or 1 would tie and flatten ROC curves)."""
    import keras

    weighted = [i for i, layer in enumerate(model.layers) if layer.weights]
    head = {layer.name for layer in model.layers[weighted[-1]:]} if weighted else set()

    def clone(layer):
        cfg = layer.get_config()
        if layer.name in head:
            cfg["dtype"] = "float32"
        return layer.__class__.from_config(cfg)

    out = keras.models.clone_model(model, clone_function=clone)
    out.set_weights(model.get_weights())
    return out


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
