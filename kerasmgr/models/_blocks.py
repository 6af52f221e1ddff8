"""Building blocks shared by the model zoo (inputs, front-end, conv blocks, heads)."""

from __future__ import annotations

import keras

from .. import frontends
from ..frontends import Frontend
from ..layers import BatchStatBN, FusedBatchNormalization

ACTIVATIONS = ("softmax", "sigmoid", "linear")

#: The front-end of the PyTorch reference models of Won et al. (2020) (torchaudio's
#: ``MelSpectrogram`` + ``AmplitudeToDB``): 16 kHz, 512-point FFT, hop 256, centred frames with
#: reflection padding, HTK mel bands up to 8 kHz without area normalisation, power 2, 10·log10 with
#: a 1e-10 floor and no top-dB clipping, no per-clip standardisation. Set ``n_mels``.
TORCHAUDIO_MEL = dict(
    kind="mel",
    sample_rate=16000,
    n_fft=512,
    hop_length=256,
    fmin=0.0,
    fmax=8000.0,
    htk=True,
    mel_norm=None,
    pad_mode="reflect",
    power=2.0,
    magnitude_scale="db",
    db_amin=1e-10,
    top_db=None,
    sample_standardization=False,
)


def resolve_frontend(defaults, frontend):
    """Merge a model's default front-end settings with a user's choice.

    Parameters
    ----------
    defaults : dict
        The model's :class:`~kerasmgr.frontends.Frontend` arguments.
    frontend : None, str or dict
        ``None`` keeps the defaults; a string replaces ``kind`` ('stft', 'mel', 'cqt'); a dict
        overrides any argument (``layer`` names a Frontend subclass, e.g. ``'Kapre01Frontend'``).

    Returns
    -------
    dict
        Frontend arguments.

    Raises
    ------
    ValueError
        When an overridden ``sample_rate`` puts ``fmax`` above the new Nyquist frequency.

    Notes
    -----
    A new ``sample_rate`` rescales what depends on it: an ``fmax`` left at the preset's Nyquist
    frequency follows the new one. Frame sizes (``n_fft``, ``hop_length``) stay in samples.
    """
    cfg = dict(defaults)
    if frontend is None:
        return cfg
    if isinstance(frontend, str):
        cfg["kind"] = frontend
    elif isinstance(frontend, dict):
        cfg.update(frontend)
    else:
        raise TypeError(f"frontend must be None, a kind name or a dict, got {type(frontend).__name__}")
    old, new = defaults.get("sample_rate"), cfg.get("sample_rate")
    if old and new and new != old:
        if cfg.get("fmax") is not None and "fmax" not in frontend_overrides(frontend) \
                and float(cfg["fmax"]) == old / 2:
            cfg["fmax"] = new / 2
        if cfg.get("fmax") is not None and float(cfg["fmax"]) > new / 2:
            raise ValueError(f"fmax {cfg['fmax']:g} Hz is above the Nyquist frequency of sample_rate {new} Hz; "
                             f"pass a frontend fmax <= {new / 2:g}")
    return cfg


def frontend_overrides(frontend):
    """The arguments a ``frontend`` choice sets explicitly (a kind name sets only ``kind``)."""
    if frontend is None:
        return {}
    return {"kind": frontend} if isinstance(frontend, str) else dict(frontend)


def waveform_frontend(n_samples, frontend_cfg):
    """Waveform input ``(batch, n_samples)`` and the front-end applied to it.

    Returns
    -------
    inputs : keras.KerasTensor, shape (batch, n_samples)
    image : keras.KerasTensor, shape (batch, n_frames, n_freq, 1)
    frontend : Frontend
    """
    cfg = dict(frontend_cfg)
    cls = getattr(frontends, cfg.pop("layer", "Frontend"))  # a Frontend subclass, e.g. Kapre01Frontend
    if not (isinstance(cls, type) and issubclass(cls, Frontend)):
        raise ValueError(f"frontend layer must be a Frontend subclass, got {cls!r}")
    inputs = keras.Input((int(n_samples),), name="waveform")
    fe = cls(name="frontend", **cfg)
    return inputs, fe(inputs), fe


def check_head(n_outputs, activation):
    """Validate the output size and activation."""
    if int(n_outputs) < 1:
        raise ValueError(f"n_outputs must be >= 1, got {n_outputs}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")


def output_layer(x, n_outputs, activation, **kwargs):
    """The prediction layer, always named ``output``."""
    check_head(n_outputs, activation)
    return keras.layers.Dense(int(n_outputs), activation=activation, name="output", **kwargs)(x)


def conv_bn_elu(x, filters, kernel, index, *, padding="same", pool=None, dropout=0.0,
                kernel_initializer="he_normal", batch_norm="moving", bn_momentum=0.99):
    """Choi's block: Conv2D -> BatchNorm -> ELU [-> MaxPool] [-> Dropout].

    Layers are named ``conv{index}``, ``bn{index}``, ``elu{index}``, ``pool{index}``,
    ``dropout{index}`` so features can be tapped by name. ``kernel`` and ``pool`` are in
    (time, freq) order, the layout of kerasmgr images. ``batch_norm='batch'`` uses
    :class:`~kerasmgr.layers.BatchStatBN` (batch statistics at inference) instead.
    ``bn_momentum`` is the running statistics' momentum (Keras 3: 0.99; Keras 1.0.x: 0.9).
    """
    x = keras.layers.Conv2D(filters, kernel, padding=padding, kernel_initializer=kernel_initializer,
                            name=f"conv{index}")(x)
    if batch_norm == "batch":  # Keras 1 mode 2: batch statistics at inference (faithful ports only)

        x = BatchStatBN(name=f"bn{index}")(x)
    else:
        x = FusedBatchNormalization(momentum=bn_momentum, name=f"bn{index}")(x)
    x = keras.layers.ELU(name=f"elu{index}")(x)
    if pool is not None:
        x = keras.layers.MaxPooling2D(pool, name=f"pool{index}")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"dropout{index}")(x)
    return x


def dense_bn_elu(x, units, index, *, kernel_initializer="he_normal", bn_momentum=0.99):
    """Fully connected layer with BatchNorm and ELU (``fc{index}``, ``fc{index}_bn``, ``fc{index}_elu``)."""
    x = keras.layers.Dense(units, kernel_initializer=kernel_initializer, name=f"fc{index}")(x)
    x = keras.layers.BatchNormalization(momentum=bn_momentum, name=f"fc{index}_bn")(x)
    return keras.layers.ELU(name=f"fc{index}_elu")(x)


def budget_key(n_params, table):
    """Pick the Table 4-A column for a parameter budget (0.1e6 ... 3e6)."""
    if n_params is None:
        return None
    for key in table:
        if abs(float(n_params) - key) <= 1e-6 * key:
            return key
    raise ValueError(f"n_params must be one of {sorted(table)} (Table 4-A budgets), got {n_params}")
