"""Seed 003's job: a model's activations against hand-crafted features over a dataset subset.

``bin/analyse.py activations`` calls :func:`run`; the measures are :mod:`kerasmgr.activations`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import keras
import numpy as np
from tqdm.auto import tqdm

from .. import auralisation, plots, pretrained
from ..activations import activation_correlations, clip_activations, clip_features, compare_maps, layer_maps, reference_maps
from ..data.audio import AudioError, load_audio
from ..data.selection import DataSelection, open_split
from ..models import input_spec


def run(model, out, data=None, *, limit=40, dense_layers=("embedding",), conv_layers=(1, 2), map_clips=2, top=10,
        progress=True):
    """Seed 003's analysis over a dataset subset (``bin/analyse.py activations``).

    Parameters
    ----------
    model : keras.Model or str
    out : str or Path
        Writes ``correlations.csv`` (layer, neuron, feature, pearson, l2), ``clip_features.csv``,
        ``sift.csv`` (layer, channel, clip, reference, similarity, matches, mean distance),
        ``sift_histograms.png``, ``correlations.png`` and ``report.json`` (the most related
        neurons and channels). Unreadable files are listed in the report and skipped.
    data : DataSelection or None
        The clips (the first ``limit`` of the subset; default: the embedded dataset's test subset).
    dense_layers : sequence of str
        Layers whose clip-mean activations are correlated (``'embedding'``: the input of the
        ``output`` layer).
    conv_layers : sequence of int
        Conv blocks whose maps are compared with HPSS and chroma (the block's pooled map).
    map_clips : int
        Clips used for the map comparison.
    top : int
        Neurons/channels listed in the report.
    """
    model, _ = (model, {}) if isinstance(model, keras.Model) else pretrained.load(model)
    sr, n = input_spec(model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ds = open_split(data or DataSelection(), sample_rate=sr)
    clips, names, skipped = [], [], []
    for it in ds.items[:limit] if limit else ds.items:
        try:
            clips.append(load_audio(it.path, sr, min_seconds=1.0, allow_silent=False))
            names.append(it.path)
        except AudioError as e:
            skipped.append({"path": it.path, "reason": str(e)})
    if len(clips) < 3:
        raise ValueError(f"need at least 3 readable clips, got {len(clips)} ({len(skipped)} skipped)")
    feats = [clip_features(c, sr) for c in tqdm(clips, desc="hand-crafted features", disable=not progress)]
    with open(out / "clip_features.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "onset_rate", "loudness"])
        for p, v in zip(names, feats):
            w.writerow([p, f"{v['onset_rate']:.4f}", f"{v['loudness']:.6g}"])
    fdict = {k: np.array([v[k] for v in feats]) for k in ("onset_rate", "loudness")}
    report = {"n_clips": len(clips), "skipped": skipped, "dense": {}, "maps": {},
              "loudness": "mean over 2048-sample frames (hop 1024) of (sum x^2)^0.67 (Stevens; Essentia Loudness)",
              "onset_rate": "librosa.onset.onset_detect count / duration (onsets per second)"}
    rows = []
    for layer in dense_layers:
        A = clip_activations(model, clips, layer)
        res = activation_correlations(A, fdict)
        report["dense"][layer] = {}
        for feat, r in res.items():
            for i in range(A.shape[1]):
                rows.append({"layer": layer, "neuron": i, "feature": feat, "pearson": r["pearson"][i],
                             "l2": r["l2"][i]})
            order = np.argsort(-np.nan_to_num(np.abs(r["pearson"]), nan=-1), kind="stable")[:top]
            order_l2 = np.argsort(np.nan_to_num(r["l2"], nan=np.inf), kind="stable")[:top]
            report["dense"][layer][feat] = {
                "by_correlation": [{"neuron": int(i), "pearson": float(r["pearson"][i])} for i in order],
                "by_l2": [{"neuron": int(i), "l2": float(r["l2"][i])} for i in order_l2]}
    with open(out / "correlations.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=("layer", "neuron", "feature", "pearson", "l2"))
        w.writeheader()
        w.writerows(rows)
    if rows:
        plt_rows = {(r["layer"], r["feature"]): [] for r in rows}
        for r in rows:
            plt_rows[(r["layer"], r["feature"])].append(r["pearson"])
        plots.save_figure(plots.similarity_histograms(
            {f"{lay}: {feat}": {"pearson r": np.nan_to_num(np.abs(v))} for (lay, feat), v in plt_rows.items()},
            title="|Pearson r| of neurons with hand-crafted features"), out / "correlations.png")

    blocks = auralisation.conv_blocks(model)
    taps = [blocks[k - 1][1] for k in conv_layers]
    sift_rows = []
    for ci in tqdm(range(min(map_clips, len(clips))), desc="SIFT maps", disable=not progress):
        refs = reference_maps(clips[ci][:n], sr)
        maps = layer_maps(model, clips[ci], taps)
        for r in compare_maps(maps, refs):
            sift_rows.append({**r, "clip": ci})
    with open(out / "sift.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=("layer", "channel", "clip", "reference", "similarity", "matches",
                                          "mean_distance"))
        w.writeheader()
        w.writerows(sift_rows)
    hist = {}
    for r in sift_rows:
        hist.setdefault(r["layer"], {}).setdefault(r["reference"], []).append(r["similarity"])
    if hist:
        plots.save_figure(plots.similarity_histograms(hist), out / "sift_histograms.png")
    for layer, by_ref in hist.items():
        report["maps"][layer] = {}
        for ref in by_ref:
            mean = {}
            for r in sift_rows:
                if r["layer"] == layer and r["reference"] == ref:
                    mean.setdefault(r["channel"], []).append(r["similarity"])
            best = sorted(mean, key=lambda c: -np.mean(mean[c]))[:top]
            report["maps"][layer][ref] = [{"channel": int(c), "similarity": float(np.mean(mean[c]))} for c in best]
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report
