"""Transfer-learning features (thesis chapter 6): multi-layer convnet features, a random-weights
convnet and the MFCC baseline.

Convnet feature (thesis Fig. 6.1): the feature map of each chosen conv layer of a trained tagger,
global-average-pooled after its max-pooling (the 5th layer's map is already 1 × 1), concatenated
— 5 × 32 = 160-d for the Compact-convnet. Signals shorter than the model input are repeated to
length (as the thesis does); longer ones are centre-cropped or averaged over consecutive windows.
Features are computed in inference mode with per-clip front-ends, so they never depend on the
batch size or on the other clips in a batch.
"""

from __future__ import annotations

import numpy as np

from . import models
from .data.windows import clip_windows
from .inference import batch_predictor, inference_batch_size
from .models import input_spec

__all__ = ["FeatureExtractor", "random_convnet", "mfcc_features", "parse_layers", "MFCC_DIM"]

MFCC_DIM = 120


def parse_layers(layers):
    """'12345' / [1, 2, 3] / '1,3' -> sorted unique ints."""
    if isinstance(layers, str):
        layers = [int(c) for c in layers if c.isdigit()]
    out = sorted({int(k) for k in layers})
    if not out:
        raise ValueError("choose at least one layer")
    return out


class FeatureExtractor:
    """Concatenated global-average-pooled conv feature maps of a waveform model.

    Parameters
    ----------
    model : keras.Model
        A kerasmgr conv model with layers ``conv1..``, ``pool1..`` (and ``elu1..``), e.g. k2c2
        or a converted Compact-convnet.
    layers : str or iterable of int
        Conv layers to use, e.g. ``'12345'``.
    tap : {'pool', 'elu'}
        Pool after max-pooling (thesis) or before it (the Keras-2 notebook).
    long : {'crop', 'average'}
        Longer signals: one cropped window, or the mean feature of consecutive model-sized windows.
    crop : {'centre', 'start'}
        Where ``long='crop'`` cuts: the middle (default) or the beginning ("the first 29-second",
        the thesis' Task 4, §6.3.2).
    batch_size : int or None
        Windows per forward pass (default: about a minute of audio,
        :func:`kerasmgr.inference.inference_batch_size`).

    Attributes
    ----------
    dims : list of int
        Feature size of each chosen layer.
    boundaries : dict
        ``{layer: [start, end)}`` column ranges in the concatenated feature.
    sample_rate, n_samples : int
        The model's input rate (Hz) and length (samples).
    """

    def __init__(self, model, *, layers="12345", tap="pool", long="crop", crop="centre",
                 batch_size=None):
        import keras


        if tap not in ("pool", "elu"):
            raise ValueError(f"tap must be 'pool' or 'elu', got {tap!r}")
        if long not in ("crop", "average"):
            raise ValueError(f"long must be 'crop' or 'average', got {long!r}")
        if crop not in ("centre", "start"):
            raise ValueError(f"crop must be 'centre' or 'start', got {crop!r}")
        self.crop = crop
        self.layers = parse_layers(layers)
        names = {l.name for l in model.layers}
        missing = [f"{tap}{k}" for k in self.layers if f"{tap}{k}" not in names]
        if missing:
            raise ValueError(f"model {model.name!r} has no layer(s) {missing}")
        outs = [keras.layers.GlobalAveragePooling2D(name=f"gap{k}")(model.get_layer(f"{tap}{k}").output)
                for k in self.layers]
        self.model = keras.Model(model.input, outs if len(outs) > 1 else outs[0])
        self.dims = [int(o.shape[-1]) for o in outs]
        starts = np.cumsum([0] + self.dims)
        self.boundaries = {int(k): [int(starts[i]), int(starts[i + 1])] for i, k in enumerate(self.layers)}
        self.dim = int(starts[-1])
        self.sample_rate, self.n_samples = input_spec(model)
        self.tap, self.long = tap, long
        self.batch_size = int(batch_size or inference_batch_size(self.n_samples, self.sample_rate))
        self.model_name = model.name

    def describe(self):
        """What the feature files' JSON metadata record of this extractor (layers, boundaries, ...)."""
        return {"extractor": "convnet", "model": self.model_name, "layers": self.layers,
                "boundaries": self.boundaries, "tap": self.tap, "long": self.long, "crop": self.crop,
                "n_samples": self.n_samples}

    def windows_of(self, y):
        """Model-sized windows of one waveform (repeat if short; crop or all windows if long)."""
        long = "all" if self.long == "average" else ("start" if self.crop == "start" else "centre")
        return clip_windows(y, self.n_samples, short="repeat", long=long)

    def transform(self, waveforms):
        """Features of each waveform (at :attr:`sample_rate`).

        Parameters
        ----------
        waveforms : iterable of 1-D np.ndarray

        Returns
        -------
        np.ndarray, float32, shape (n, dim)
        """
        segs, owner = [], []
        for i, y in enumerate(waveforms):
            w = self.windows_of(y)
            segs.append(w)
            owner += [i] * len(w)
        if not segs:
            return np.zeros((0, self.dim), np.float32)
        segs = np.concatenate(segs)
        out = batch_predictor(self.model, self.batch_size, fold=False)(segs)  # bit-identical features
        feats = np.concatenate(out, axis=1) if isinstance(out, list) else out
        owner = np.asarray(owner)
        return np.stack([feats[owner == i].mean(axis=0) for i in range(owner.max() + 1)]).astype(np.float32)


def random_convnet(name="k2c2", *, seed=0, **kwargs):
    """The same architecture with untrained weights (He-normal conv kernels), seeded.

    The thesis' random-weights baseline: conv kernels He-normal (kerasmgr's Choi models use it),
    biases 0, batch normalisation at its initial identity statistics.
    """
    import keras


    keras.utils.set_random_seed(seed)
    return models.build(name, **kwargs)


def mfcc_features(y, sample_rate, *, n_mfcc=20):
    """The thesis' MFCC baseline: mean and std over time of 20 MFCCs, their Δ and ΔΔ (120-d).

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
    sample_rate : int
        Sample rate in Hz (librosa defaults: 2048-point FFT, hop 512, 128 mel bands).

    Returns
    -------
    np.ndarray, float32, shape (6 * n_mfcc,)
        ``[mean(mfcc), std(mfcc), mean(Δ), std(Δ), mean(ΔΔ), std(ΔΔ)]``.
    """
    import librosa

    m = librosa.feature.mfcc(y=np.asarray(y, dtype=np.float32), sr=sample_rate, n_mfcc=n_mfcc)
    width = min(9, m.shape[1] - (1 - m.shape[1] % 2)) if m.shape[1] < 9 else 9
    if width < 3:
        raise ValueError("signal too short for MFCC deltas (needs at least 3 frames)")
    d1 = librosa.feature.delta(m, width=width)
    d2 = librosa.feature.delta(m, order=2, width=width)
    return np.concatenate([f(x, axis=1) for x in (m, d1, d2) for f in (np.mean, np.std)]).astype(np.float32)
