"""Activations compared with hand-crafted audio features (seed 003, Slizovskaia et al.).

* Deep activations (dense/embedding layers, one vector per clip) against **onset rate** and
  **mean loudness**: per-neuron Pearson correlation and Euclidean distance between min-max
  normalised vectors (:func:`activation_correlations`).
* Shallow activation maps (conv layers, one image per channel) against the **harmonic** and
  **percussive** parts of librosa's HPSS and the **chromagram**: a scale- and shift-invariant
  image similarity from SIFT descriptors and matches (OpenCV), as similarity histograms per layer.

Hand-crafted features, exactly:

* onset rate — ``len(librosa.onset.onset_detect(y, sr))`` / duration in seconds (onsets/s;
  Essentia's ``OnsetRate`` in the paper);
* mean loudness — Stevens' power law as Essentia's ``Loudness``: ``(Σ x²)^0.67`` per frame of
  2048 samples (hop 1024), averaged over the frames (dimensionless; the paper used Essentia);
* HPSS — ``librosa.decompose.hpss`` of ``|STFT|`` (n_fft 2048, hop 512), then on the mel scale
  (128 bands) in dB, one map each for the harmonic and the percussive part;
* chroma — ``librosa.feature.chroma_stft`` (12 × frames; the paper used Essentia's HPCP).

SIFT similarity of two maps (:func:`sift_similarity`): both are min-max scaled to 8-bit images
of the same size (default 256 × 256, so the coarse maps of deep layers are not starved of
keypoints), SIFT keypoints and descriptors are computed, each descriptor of the first image is
matched to its two nearest neighbours in the second, and matches passing Lowe's ratio test (0.75)
are counted. The similarity is ``good matches / min(keypoints of A, keypoints of B)`` in [0, 1]
(0 when either image has no keypoint); the mean distance of the good matches is reported too.
"""

from __future__ import annotations

import numpy as np

from .data.audio import fix_length
from .data.windows import clip_windows

__all__ = ["activation_correlations", "onset_rate", "mean_loudness", "clip_features", "reference_maps",
           "sift_similarity", "layer_maps", "clip_activations", "compare_maps"]


def onset_rate(y, sample_rate):
    """Onsets per second (librosa's default onset detector)."""
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if len(y) == 0:
        raise ValueError("empty audio")
    return float(len(librosa.onset.onset_detect(y=y, sr=sample_rate))) / (len(y) / sample_rate)


def mean_loudness(y, frame_length=2048, hop_length=1024):
    """Mean over frames of Stevens' loudness ``(Σ x²)^0.67`` (Essentia's ``Loudness``)."""
    import librosa

    y = np.asarray(y, dtype=np.float64)
    if len(y) < frame_length:
        y = np.pad(y, (0, frame_length - len(y)))
    frames = librosa.util.frame(y, frame_length=frame_length, hop_length=hop_length)
    return float(np.mean(np.sum(frames ** 2, axis=0) ** 0.67))


def clip_features(y, sample_rate):
    """``{'onset_rate': onsets/s, 'loudness': mean Stevens loudness}`` of one clip."""
    return {"onset_rate": onset_rate(y, sample_rate), "loudness": mean_loudness(y)}


def reference_maps(y, sample_rate, *, n_fft=2048, hop_length=512, n_mels=128):
    """HPSS (mel, dB) and chroma maps of a clip, each ``(frames, bins)`` (time first)."""
    import librosa

    S = np.abs(librosa.stft(np.asarray(y, np.float32), n_fft=n_fft, hop_length=hop_length))
    H, P = librosa.decompose.hpss(S)
    fb = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)
    db = lambda M: librosa.power_to_db(fb @ M ** 2, ref=np.max(fb @ S ** 2))  # noqa: E731
    chroma = librosa.feature.chroma_stft(S=S ** 2, sr=sample_rate)
    return {"harmonic": db(H).T, "percussive": db(P).T, "chroma": chroma.T}


def _to_image(M, size):
    import cv2

    M = np.asarray(M, dtype=np.float64)
    M = np.nan_to_num(M, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = M.min(), M.max()
    img = np.zeros_like(M) if hi <= lo else (M - lo) / (hi - lo)
    img = (img.T[::-1] * 255).astype(np.uint8)  # frequency up, time right, as a spectrogram is drawn
    return cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)


def sift_similarity(A, B, *, size=(256, 256), ratio=0.75):
    """SIFT-match similarity of two maps ``(time, freq)`` (see the module docstring).

    Returns
    -------
    dict
        ``similarity`` in [0, 1], ``matches`` (good matches), ``keypoints`` (a, b) and
        ``mean_distance`` of the good matches (NaN without matches).
    """
    import cv2

    sift = cv2.SIFT_create()
    ka, da = sift.detectAndCompute(_to_image(A, size), None)
    kb, db = sift.detectAndCompute(_to_image(B, size), None)
    na, nb = len(ka), len(kb)
    if da is None or db is None or na == 0 or nb == 0:
        return {"similarity": 0.0, "matches": 0, "keypoints": (na, nb), "mean_distance": float("nan")}
    if nb < 2:
        good = []
    else:
        pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(da, db, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < ratio * p[1].distance]
    return {"similarity": len(good) / min(na, nb), "matches": len(good), "keypoints": (na, nb),
            "mean_distance": float(np.mean([m.distance for m in good])) if good else float("nan")}


def layer_maps(model, audio, layers):
    """Activation maps of conv layers for one model-sized excerpt.

    Parameters
    ----------
    model : keras.Model
    audio : np.ndarray, shape (n_samples,)
    layers : list of str
        4-D layer names (e.g. ``elu1``).

    Returns
    -------
    dict of str -> np.ndarray, shape (time, freq, channels)
    """
    import keras


    x = fix_length(np.asarray(audio, np.float32).reshape(-1), int(model.input_shape[1]), mode="start")
    sub = keras.Model(model.input, [model.get_layer(l).output for l in layers])
    outs = sub(x[None], training=False)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    return {l: np.asarray(o)[0] for l, o in zip(layers, outs)}


def clip_activations(model, clips, layer, *, batch_size=8):
    """Mean activation vector of a layer over each clip's segments, shape (n_clips, units).

    ``layer`` names a 2-D (or 3-D, averaged over time) layer; ``'embedding'`` means the input of
    the ``output`` layer.
    """
    import keras

    t = model.get_layer("output").input if layer == "embedding" else model.get_layer(layer).output
    sub = keras.Model(model.input, t)
    n = int(model.input_shape[1])
    out = []
    for c in clips:
        a = np.asarray(sub.predict(clip_windows(c, n), batch_size=batch_size, verbose=0))
        out.append(a.reshape(a.shape[0], -1, a.shape[-1]).mean(axis=(0, 1)))
    return np.stack(out)


def compare_maps(maps, references, *, size=(256, 256)):
    """SIFT similarity of every channel of every layer with every reference map.

    Parameters
    ----------
    maps : dict of str -> array (time, freq, channels)
    references : dict of str -> array (time, bins)

    Returns
    -------
    list of dict
        One per (layer, channel, reference): ``layer``, ``channel``, ``reference``,
        ``similarity``, ``matches``, ``mean_distance``.
    """
    rows = []
    for layer, M in maps.items():
        for c in range(M.shape[-1]):
            for ref, R in references.items():
                s = sift_similarity(M[..., c], R, size=size)
                rows.append({"layer": layer, "channel": c, "reference": ref, "similarity": s["similarity"],
                             "matches": s["matches"], "mean_distance": s["mean_distance"]})
    return rows


def activation_correlations(activations, features):
    """Seed 003: each neuron against each hand-crafted feature over a set of clips.

    Parameters
    ----------
    activations : array, shape (n_clips, n_neurons)
    features : dict of str -> array, shape (n_clips,)
        E.g. ``{'onset_rate': ..., 'loudness': ...}``.

    Returns
    -------
    dict of str -> dict
        Per feature: ``pearson`` (n_neurons,) correlation (NaN for constant neurons) and
        ``l2`` (n_neurons,) Euclidean distance between the min-max normalised vectors (smaller is
        more similar).
    """
    A = np.asarray(activations, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"activations must be (clips, neurons), got {A.shape}")

    def unit(v):
        span = v.max(0) - v.min(0)
        return (v - v.min(0)) / np.where(span > 0, span, np.nan)

    out = {}
    Az = A - A.mean(0)
    An = unit(A)
    for name, f in features.items():
        f = np.asarray(f, dtype=np.float64)
        if f.shape != (A.shape[0],):
            raise ValueError(f"feature {name!r} has shape {f.shape}, expected ({A.shape[0]},)")
        fz = f - f.mean()
        denom = np.sqrt((Az ** 2).sum(0) * (fz ** 2).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (Az * fz[:, None]).sum(0) / denom
        fn = unit(f[:, None])[:, 0]
        out[name] = {"pearson": r, "l2": np.sqrt(((An - fn[:, None]) ** 2).sum(0))}
    return out
