"""Auralisation job (Choi's thesis ch. 7): one excerpt's deconvolved features as audio and figures.

``bin/auralise.py`` calls :func:`run`; the deconvolution is :mod:`kerasmgr.auralisation`.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from .. import plots, pretrained
from ..auralisation import auralise, conv_blocks, excerpt, feature_activity, receptive_field_table, receptive_fields
from ..data.audio import load_audio
from ..data.selection import DataSelection, open_split
from ..frontends import find_frontend

__all__ = ["run"]

def run(model, out, *, audio=None, audio_name=None, offset=0.0, layers=None, features=None, top=4,
        rule="deconvnet", progress=True):
    """Auralise a model's features for one excerpt and write the results (``bin/auralise.py``).

    Parameters
    ----------
    model : keras.Model or str
        A model, a saved ``.keras``/``.h5`` file or a released-weights name.
    out : str or Path
        Output folder: ``wav/layer<K>_feature<F>.wav`` (peak-normalised 16-bit),
        ``original.wav``, ``deconvolved.png`` (rows: layers; columns: features),
        ``receptive_fields.txt``/``.json`` and ``summary.json``.
    audio : np.ndarray, shape (n_samples,), str, Path or None
        The excerpt at the model's rate, or an audio file, or ``None`` for the first test clip
        of the embedded dataset (its first model-sized window is used).
    audio_name : str or None
        Its name in the report (default: the file name, or ``'excerpt'``).
    offset : float
        Start of the excerpt in seconds.
    layers : list of int or None
        Conv blocks (default: every block).
    features : list of int or None
        Features of every chosen layer (default: the ``top`` most active ones per layer).
    top : int
        Features per layer when ``features`` is None.
    rule : {'deconvnet', 'guided', 'saliency'}

    Returns
    -------
    dict
        The summary: per layer, the tap, the features and their total activations.
    """
    if not isinstance(model, keras.Model):
        model, _ = pretrained.load(model)
    fe = find_frontend(model)
    if fe is None:
        raise ValueError(f"{model.name}: auralisation needs a waveform model with a Frontend layer")
    sr = int(fe.sample_rate)
    if audio is None:
        audio = open_split(DataSelection(subset="test"), sample_rate=sr).items[0].path
    if isinstance(audio, (str, Path)):
        audio_name = audio_name or Path(audio).name
        audio = load_audio(audio, sr)
    audio_name = audio_name or "excerpt"
    audio = np.asarray(audio, dtype=np.float32)[int(offset * sr):]
    if not np.any(audio):
        raise ValueError(f"{audio_name}: the excerpt is silent")
    out = Path(out)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    n = int(model.input_shape[1])
    x = excerpt(audio, n)
    sf.write(out / "original.wav", x, sr, subtype="PCM_16")
    blocks = conv_blocks(model)
    layers = list(range(1, len(blocks) + 1)) if layers is None else [int(k) for k in layers]
    images, row_labels, col_labels, summary = [], [], [], {"rule": rule, "audio": audio_name, "layers": []}
    for k in tqdm(layers, desc="layers", disable=not progress):
        if features is None:
            chosen = [int(c) for c in np.argsort(-feature_activity(model, x, k), kind="stable")[:top]]
        else:
            chosen = list(features)
        r = auralise(model, x, k, chosen, rule=rule)
        row, labels = [], []
        for i, f in enumerate(chosen):
            y = r["audio"][i]
            peak = np.abs(y).max()
            sf.write(out / "wav" / f"layer{k}_feature{f}.wav", (y / peak if peak > 0 else y).astype(np.float32), sr,
                     subtype="PCM_16")
            row.append(r["spectrogram"] * np.abs(r["masks"][i]))
            labels.append(f"feature {k}-{f}")
        images.append(row)
        col_labels.append(labels)
        row_labels.append(f"layer {k}")
        summary["layers"].append({"layer": k, "tap": r["tap"], "features": chosen,
                                  "activations": [float(r["activations"][f]) for f in chosen]})
    plots.save_figure(plots.deconvolution_grid(images, row_labels=row_labels, col_labels=col_labels, sample_rate=sr,
                                               hop_length=fe.hop_length,
                                               title=f"{model.name}: deconvolved spectrograms ({rule}), {audio_name}"),
                      out / "deconvolved.png")
    rf = receptive_fields(model)
    (out / "receptive_fields.txt").write_text(receptive_field_table(model) + "\n")
    (out / "receptive_fields.json").write_text(json.dumps(rf, indent=2))
    summary["receptive_fields"] = rf
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
