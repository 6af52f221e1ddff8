"""Seed 000's protocol as a job: train the frame DNNs, then random forests on their features.

``bin/dnn_features.py`` calls :func:`run_protocol`; the features, forests and baselines are
:mod:`kerasmgr.dnn_features`.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from ..data.pipeline import ClipStore
from ..data.selection import DataSelection, open_subsets
from ..dnn_features import (
    DNN_MGR_SETTINGS,
    TEXTURE_SECONDS,
    baseline_experiment,
    dnn_feature_experiment,
    format_table,
)
from .train import train

__all__ = ["fit_and_test_clips", "run_protocol"]

def fit_and_test_clips(data, *, sample_rate=22050, progress=True):
    """The audio the forests fit (train + valid) and are tested on, with class indices.

    Parameters
    ----------
    data : DataSelection
        The dataset and split (its ``max_seconds`` is honoured, e.g. LMD's first 30 s); the
        train, valid and test subsets are read.
    sample_rate : int
        Decoding rate in Hz (22,050 for Kereliuk et al.'s systems).

    Returns
    -------
    fit : (list of np.ndarray, np.ndarray)
        Waveforms and class indices of the train and valid subsets (unreadable files left out).
    test : (list of np.ndarray, np.ndarray)
    classes : list of str
    """
    parts = open_subsets(data, sample_rate=sample_rate)
    classes = parts["train"].classes
    index = {c: i for i, c in enumerate(classes)}

    def _load(items, desc):
        store = ClipStore([it.path for it in items], sample_rate, progress=progress, desc=desc,
                          max_seconds=parts["train"].max_seconds)
        return list(store), np.array([index[items[i].label] for i in store.index])

    return (_load(parts["train"].items + parts["valid"].items, "train+valid audio"),
            _load(parts["test"].items, "test audio"), classes)


def run_protocol(data=None, *, units=(50, 500), variants=("RS", "RSD"), out="runs/dnn_features", seed=0,
                 overrides=None, baseline=True, n_estimators=500, progress=True, baseline_classifier="mahalanobis",
                 texture_seconds=TEXTURE_SECONDS):
    """Train the frame DNNs, then the random forests on their features: seed 000's whole table.

    Parameters
    ----------
    data : DataSelection or None
        The data and split (default: the embedded dataset).
    units : iterable of int
        Hidden units per layer (50, 500).
    variants : iterable of {'RS', 'RSD'}
        ReLU+SGD and ReLU+SGD+Dropout (dropout 0.25 on the inputs of h1, h2 and the output).
    out : str
        Folder of the DNN run folders and ``dnn_features.json``.
    overrides : dict or None
        Training options that replace :data:`DNN_MGR_SETTINGS` (e.g. fewer epochs).
    baseline : bool
        Also run the MFCC+ZCR baseline.
    baseline_classifier : {'mahalanobis', 'forest'}
        Its classifier (:func:`baseline_experiment`).
    texture_seconds : float or None
        Aggregation window (:func:`texture_window`).

    Returns
    -------
    dict
        ``cells`` {(units, dropout, aggregated, layer): accuracy}, ``rows``, ``baseline``, ``table``.
    """
    data = data or DataSelection()
    split = data.split
    (fit_clips, y_fit), (test_clips, y_test), classes = fit_and_test_clips(data, progress=progress)

    cells, rows = {}, []
    for n_units in units:
        for variant in variants:
            settings = dict(DNN_MGR_SETTINGS[variant])
            settings.update(overrides or {})
            model_kwargs = {"n_units": int(n_units)}
            if variant == "RSD":
                model_kwargs["dropout"] = 0.25
            run = train(model="dnn", task="genre", dataset=data.dataset, data_root=data.data_root, split=split,
                        split_dir=data.split_dir, dataset_kwargs=data.dataset_kwargs or None, out=out,
                        name=f"dnn{n_units}-{variant}-{split or 'default'}", seed=seed,
                        model_kwargs=model_kwargs, verbose=1 if progress else 0, **settings)
            model = keras.models.load_model(run.model_path, compile=False)
            for r in dnn_feature_experiment(model, fit_clips, y_fit, test_clips, y_test, classes,
                                            n_estimators=n_estimators, progress=progress,
                                            texture_seconds=texture_seconds):
                r.update({"units": int(n_units), "variant": variant, "dnn_accuracy": run.metrics["accuracy"]})
                rows.append(r)
                cells[(int(n_units), variant == "RSD", r["aggregated"], r["layer"])] = r["accuracy"]
    result = {"cells": cells, "rows": rows, "table": format_table(cells, split=split or "")}
    if baseline:
        result["baseline"] = baseline_experiment(fit_clips, y_fit, test_clips, y_test, classes, progress=progress,
                                                 classifier=baseline_classifier, n_estimators=n_estimators)
        name = {"mahalanobis": "minimum-Mahalanobis", "forest": "random-forest"}[baseline_classifier]
        result["table"] += (f"\nMFCC+ZCR {name} baseline: "
                            f"{100 * result['baseline']['accuracy']:.1f} %")
    Path(out).mkdir(parents=True, exist_ok=True)
    serial = {k: v for k, v in result.items() if k != "cells"}
    serial["cells"] = [{"units": k[0], "dropout": k[1], "aggregated": k[2], "layer": k[3], "accuracy": v}
                       for k, v in cells.items()]
    (Path(out) / "dnn_features.json").write_text(json.dumps(serial, indent=2))
    (Path(out) / "dnn_features.txt").write_text(result["table"] + "\n")
    return result
