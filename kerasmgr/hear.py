"""The HEAR 2021 API over any kerasmgr model or preset.

HEAR (Holistic Evaluation of Audio Representations) asks an embedding model for three things:

* ``load_model(model_file_path) -> Model`` with attributes ``sample_rate`` (one of 16000, 22050,
  44100, 48000 Hz), ``scene_embedding_size`` and ``timestamp_embedding_size``;
* ``get_scene_embeddings(audio, model)``: ``audio`` (n_sounds, n_samples) mono in [-1, 1] at
  ``model.sample_rate`` → float32 (n_sounds, scene_embedding_size);
* ``get_timestamp_embeddings(audio, model)`` → (float32 (n_sounds, n_timestamps,
  timestamp_embedding_size), float32 (n_sounds, n_timestamps) centre times in milliseconds).

kerasmgr's models read 12 or 22.05 kHz; the HEAR model declares the smallest HEAR rate at or
above the network's and resamples (soxr HQ, as everywhere in kerasmgr). The embedding is the
model's transfer feature where it has one (Choi's multi-layer feature: each conv block's map,
global-average-pooled, concatenated — 160-d for k2c2), else the input of its output layer.

* Scene embedding: the mean embedding of consecutive model-sized windows (a sound shorter than the
  model input is repeated to length, as the thesis' transfer features do).
* Timestamp embeddings: the embedding of a model-sized window centred on each timestamp (the sound
  zero-padded by half a window at both ends), every ``hop`` seconds from 0 to the sound's end.
  The default hop is 50 ms (HEAR's suggestion) for models whose input is at most 2 s long (the frame
  DNN), and 0.5 s for models that listen to ~29 s at once (k2c2, CRNN), where neighbouring windows
  overlap by 98 % and a 50-ms hop would cost 20 forward passes per second of audio.

Everything runs batched through the compiled forward pass (:mod:`kerasmgr.inference`); tensors
in, ``tf.Tensor`` out (NumPy arrays are accepted too).

>>> from kerasmgr import hear
>>> model = hear.load_model("k2c2-embedded")                       # doctest: +SKIP
>>> emb = hear.get_scene_embeddings(audio_16k, model)              # (n_sounds, 160)
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .data.audio import resample
from .data.windows import clip_windows
from .features import FeatureExtractor
from .inference import batch_predictor, inference_batch_size
from .pretrained import load

__all__ = ["HEAR_SAMPLE_RATES", "HearModel", "load_model", "get_scene_embeddings", "get_timestamp_embeddings"]

#: The sample rates HEAR 2021 allows a model to declare (Hz).
HEAR_SAMPLE_RATES = (16000, 22050, 44100, 48000)
_SHORT_INPUT_SECONDS = 2.0


class HearModel(tf.Module):
    """A kerasmgr model behind the HEAR API.

    Parameters
    ----------
    model : keras.Model
        A kerasmgr waveform model, input (batch, n_samples) at ``model_sample_rate``.
    model_sample_rate : int
        The network's rate in Hz.
    hop : float or None
        Seconds between timestamp embeddings (default: 0.05 for inputs up to 2 s, else 0.5).
    embedding : {'auto', 'multilayer', 'penultimate'}
        Choi's multi-layer conv feature, the input of the output layer, or the first that the
        model has ('auto').

    Attributes
    ----------
    sample_rate : int
        The rate (Hz) audio must be given at: the smallest HEAR rate at or above the network's.
    scene_embedding_size, timestamp_embedding_size : int
    """

    def __init__(self, model, model_sample_rate, *, hop=None, embedding="auto"):
        import keras

        super().__init__(name="kerasmgr_hear")
        if embedding not in ("auto", "multilayer", "penultimate"):
            raise ValueError(f"embedding must be 'auto', 'multilayer' or 'penultimate', got {embedding!r}")
        self.model_sample_rate = int(model_sample_rate)
        self.n_samples = int(model.input_shape[1])
        rates = [r for r in HEAR_SAMPLE_RATES if r >= self.model_sample_rate]
        self.sample_rate = rates[0] if rates else HEAR_SAMPLE_RATES[-1]
        names = {layer.name for layer in model.layers}
        multilayer = all(f"pool{k}" in names for k in (1, 2))
        if embedding == "multilayer" or (embedding == "auto" and multilayer):
            k = sorted(int(n[4:]) for n in names if n.startswith("pool") and n[4:].isdigit() and f"conv{n[4:]}" in names)
            self.embedder = FeatureExtractor(model, layers=k).model
        else:
            self.embedder = keras.Model(model.input, model.get_layer("output").input if "output" in names
                                        else model.layers[-2].output)
        out = self.embedder.output
        dim = sum(int(o.shape[-1]) for o in out) if isinstance(out, (list, tuple)) else int(out.shape[-1])
        self.scene_embedding_size = self.timestamp_embedding_size = dim
        seconds = self.n_samples / self.model_sample_rate
        self.hop = float(hop) if hop is not None else (0.05 if seconds <= _SHORT_INPUT_SECONDS else 0.5)
        if self.hop <= 0:
            raise ValueError(f"hop must be positive, got {hop}")
        self.batch_size = inference_batch_size(self.n_samples, self.model_sample_rate)

    def _embed(self, windows):
        out = batch_predictor(self.embedder, self.batch_size, fold=False)(windows)
        out = out if isinstance(out, list) else [out]
        # a layer with a time axis left (a frame model's per-frame hidden layer): its mean over time
        out = [o.reshape(len(o), -1, o.shape[-1]).mean(axis=1) for o in out]
        return np.concatenate(out, axis=1).astype(np.float32)

    def _at_model_rate(self, audio):
        x = audio.numpy() if hasattr(audio, "numpy") else np.asarray(audio)
        if x.ndim != 2:
            raise ValueError(f"audio must be (n_sounds, n_samples), got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("audio contains NaN or infinite samples")
        x = x.astype(np.float32)
        if x.shape[1] == 0:
            raise ValueError("audio has no samples")
        return resample(x, self.sample_rate, self.model_sample_rate), x.shape[1]


def load_model(model_file_path="", *, hop=None, embedding="auto"):
    """HEAR's ``load_model``: a released model name, preset folder or ``.h5``/``.keras`` file
    (default ``k2c2-embedded``) behind the HEAR API (:class:`HearModel`)."""
    model, meta = load(model_file_path or "k2c2-embedded")
    return HearModel(model, meta["sample_rate"], hop=hop, embedding=embedding)


def get_scene_embeddings(audio, model):
    """HEAR's scene embeddings.

    Parameters
    ----------
    audio : tf.Tensor or np.ndarray, shape (n_sounds, n_samples)
        Mono audio in [-1, 1] at ``model.sample_rate`` Hz.
    model : HearModel

    Returns
    -------
    tf.Tensor, float32, shape (n_sounds, model.scene_embedding_size)
        The mean embedding over consecutive model-sized windows of each sound.
    """
    x, _ = model._at_model_rate(audio)
    windows = [clip_windows(y, model.n_samples, short="repeat", long="all") for y in x]
    emb = model._embed(np.concatenate(windows))
    counts = np.cumsum([0] + [len(w) for w in windows])
    return tf.constant(np.stack([emb[a:b].mean(axis=0) for a, b in zip(counts[:-1], counts[1:])]), tf.float32)


def get_timestamp_embeddings(audio, model):
    """HEAR's timestamp embeddings.

    Parameters
    ----------
    audio : tf.Tensor or np.ndarray, shape (n_sounds, n_samples)
        Mono audio in [-1, 1] at ``model.sample_rate`` Hz (equal lengths, as HEAR pads them).
    model : HearModel

    Returns
    -------
    embeddings : tf.Tensor, float32, shape (n_sounds, n_timestamps, model.timestamp_embedding_size)
        The embedding of the model-sized window centred on each timestamp.
    timestamps : tf.Tensor, float32, shape (n_sounds, n_timestamps)
        Window centres in milliseconds: 0, hop, 2·hop, ... up to the sound's duration.
    """
    x, n_in = model._at_model_rate(audio)
    duration = n_in / model.sample_rate
    centres = np.arange(0.0, duration + 1e-9, model.hop)
    half = model.n_samples // 2
    padded = np.pad(x, ((0, 0), (half, model.n_samples - half)))
    starts = np.round(centres * model.model_sample_rate).astype(np.int64)  # in padded samples: centre - half + half
    starts = np.minimum(starts, padded.shape[1] - model.n_samples)
    chunk = max(model.batch_size, 1)
    out = np.empty((len(x), len(centres), model.timestamp_embedding_size), np.float32)
    for i, y in enumerate(padded):
        for a in range(0, len(starts), chunk):  # windows built a batch at a time: memory stays flat
            s = starts[a:a + chunk]
            out[i, a:a + len(s)] = model._embed(np.stack([y[t:t + model.n_samples] for t in s]))
    stamps = np.broadcast_to((centres * 1000.0).astype(np.float32), (len(x), len(centres)))
    return tf.constant(out), tf.constant(np.ascontiguousarray(stamps))
