"""Pieces the seed tables share: smoke data, and one training run of a configs/ file as a table row."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import keras
import numpy as np

from ...data.datasets import gtzan_base, write_split_lists
from ...data.embedded import make_gtzan_standin
from ...data.selection import DataSelection
from ...data.splits import has_split_lists
from ...dnn_features import DNN_MGR_SETTINGS, dnn_feature_experiment
from ...training import resolve_config
from ..dnn_features import fit_and_test_clips
from ..records import atomic_json
from ..train import train

#: The repository's ``configs/experiments`` folder (the seed experiments' training configs).
EXPERIMENTS = Path(__file__).resolve().parents[3] / "configs" / "experiments"

#: Smoke runs: a tiny embedded dataset (5 clips per genre: 3 train / 1 valid / 1 test).
SMOKE_EMBEDDED = {"clips_per_genre": 5, "duration": 30.0}
#: Smoke runs: a tiny GTZAN-layout stand-in (8 genres x 3 artists x 2 excerpts of 8 s).
SMOKE_GTZAN = {"artists_per_genre": 3, "excerpts_per_artist": 2, "excerpt_seconds": 8.0}


def experiment(name):
    """Path of ``configs/experiments/<name>.yaml`` (``FileNotFoundError`` if absent)."""
    path = EXPERIMENTS / f"{name}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: experiment config not found")
    return path


def gtzan_standin(ctx):
    """A GTZAN-layout stand-in (``genres/``, ``splits/``, ``artists.csv``) beside the table's folder."""
    root = ctx.work.parent / "_smoke_gtzan"  # shared by the tables of one output folder
    make_gtzan_standin(root, **SMOKE_GTZAN, seed=0, progress=False)
    return root


def ensure_split(ctx, name, *, proportions, artists=None, base=None):
    """The split-list folder of a table: ``--split-dir`` if it holds ``<subset>_<name>.txt``, else
    lists drawn here (seeded by ``--seed``) into ``OUT/<table>/splits``.

    Returns
    -------
    Path
        The folder to pass as ``split_dir``.
    """
    if ctx.split_dir is not None and has_split_lists(ctx.split_dir, name):
        return ctx.split_dir
    root = gtzan_standin(ctx) if ctx.smoke and base is None else ctx.data_root
    base = Path(base) if base is not None else gtzan_base(root)
    out = ctx.folder("splits")
    if not has_split_lists(out, name):
        write_split_lists(base, out, name, proportions=proportions, seed=ctx.seed, artists=artists)
    return out


def smoke_overrides(ctx, cfg, *, data="embedded"):
    """Training options that make ``cfg`` (a resolved TrainConfig) a seconds-long smoke run."""
    o = {"epochs": 1, "early_stopping": 0, "verbose": 0, "audio_store": "memory", "backup": False,
         "batch_size": min(cfg.batch_size, 8), "segments_per_clip": min(cfg.segments_per_clip, 2)}
    if data == "embedded":
        o.update(dataset="embedded", data_root=None, split=None, split_dir=None, dataset_kwargs=dict(SMOKE_EMBEDDED))
    elif data == "gtzan":
        root = gtzan_standin(ctx)
        o.update(dataset="gtzan", data_root=str(root), split_dir=str(root / "splits"), dataset_kwargs={})
    elif data is not None:
        raise ValueError(f"unknown smoke data {data!r}")
    return o


def train_row(ctx, config, key, *, smoke_data="embedded", **overrides):
    """Train one configuration of a table and return its measured cells.

    Parameters
    ----------
    ctx : Context
        The table's context (full run: ``data_root``/``split_dir`` go to the training config).
    config : str or Path
        A training config (YAML; keys are :class:`~kerasmgr.training.TrainConfig` fields).
    key : str
        Run name (``OUT/<table>/runs/<key>``).
    smoke_data : {'embedded', 'gtzan', None}
        Generated data of a smoke run (``None``: the caller's own, e.g. the LMD stand-in).
    **overrides
        TrainConfig fields set on top of the config.

    Returns
    -------
    dict
        ``metric`` (test ROC-AUC for tags, max-probability accuracy for genres),
        ``raw_accuracy`` and ``majority_accuracy`` (genres), ``normalised_accuracy``,
        ``pr_auc``, ``best_epoch``, ``epochs_run``, ``n_train_clips``, ``run_seconds`` (the whole
        run) and ``seconds_per_2500`` (median epoch's training-step time per 2,500 training clips,
        validation excluded; from ``history.csv``).
    """
    base = resolve_config(config, **overrides)
    opts = dict(overrides, out=str(ctx.folder("runs")), name=key, seed=ctx.seed)
    if ctx.smoke:  # generated data; a split the table chose itself (e.g. lists drawn here) stays
        opts.update({k: v for k, v in smoke_overrides(ctx, base, data=smoke_data).items()
                     if not (k in ("split", "split_dir") and k in overrides)})
    else:
        opts.update({k: v for k, v in (("data_root", ctx.data_root), ("split_dir", ctx.split_dir))
                     if v and k not in overrides})  # a table's own choice (e.g. lists drawn here) stays
        opts = {k: (str(v) if isinstance(v, Path) else v) for k, v in opts.items()}
    t0 = time.perf_counter()
    result = train(config, **opts)
    seconds = time.perf_counter() - t0
    m = result.metrics


    history = Path(result.run_dir) / "history.csv"
    rows = list(csv.DictReader(open(history))) if history.is_file() else []
    epochs_run = max(len(rows), 1)
    epoch_seconds = [float(r["train_seconds"]) for r in rows if r.get("train_seconds")]
    n_train = int(m.get("n_train_clips") or 0)
    task = m.get("task", base.task)
    other = m.get("other_aggregations", {})
    row = {"metric": m.get("roc_auc", m.get("macro_roc_auc")) if task == "tags" else m.get("accuracy"),
           "raw_accuracy": other.get("raw", {}).get("accuracy"),
           "majority_accuracy": other.get("majority_vote", {}).get("accuracy"),
           "normalised_accuracy": m.get("normalised_accuracy"), "pr_auc": m.get("pr_auc", m.get("macro_pr_auc")),
           "best_epoch": m.get("best_epoch"), "epochs_run": epochs_run, "n_train_clips": n_train,
           "n_test": m.get("n"),
           "run_seconds": seconds,
           "seconds_per_2500": (float(np.median(epoch_seconds)) / n_train * 2500
                                if n_train and epoch_seconds else None),
           "run_dir": str(result.run_dir)}
    return row


# ----------------------------------------------------------------- Kereliuk et al.'s DNN features
DNN_VARIANTS = {"RS": "ReLU+SGD", "RSD": "ReLU+SGD+Dropout"}


def split_dir_for(ctx, partition):
    """Split lists of a GTZAN partition: ``--split-dir`` (dnn-mgr's lists), or the stand-in's."""
    if ctx.smoke:
        return gtzan_standin(ctx) / "splits"
    if ctx.split_dir is None:
        return None  # <data-root>/splits
    return ctx.split_dir


def dnn_feature_cells(ctx, partition, units, variant, *, texture_seconds=5.0):
    """Train one of Kereliuk et al.'s frame DNNs on a GTZAN partition and score random forests on
    its features (every layer, with and without aggregation); cached in ``OUT/_dnn_features`` so
    the seed-000 and seed-004 tables share the trainings.

    Returns
    -------
    dict
        ``{'<layer>-<agg|frames>': {'accuracy', 'normalised_accuracy'}, 'dnn_accuracy': ...,
        'run_dir': ..., 'model_path': ...}``.
    """
    cache = ctx.work.parent / "_dnn_features"
    cache.mkdir(parents=True, exist_ok=True)
    key = f"{partition}-{units}-{variant}-{texture_seconds}-seed{ctx.seed}"
    path = cache / f"{key}.json"
    if path.is_file():
        return json.loads(path.read_text())
    settings = dict(DNN_MGR_SETTINGS[variant])
    model_kwargs = {"n_units": int(units)}
    if variant == "RSD":
        model_kwargs["dropout"] = 0.25
    split_dir = split_dir_for(ctx, partition)
    sub = type(ctx)(data_root=ctx.data_root, split_dir=split_dir, work=cache, smoke=ctx.smoke, seed=ctx.seed,
                    progress=ctx.progress)
    row = train_row(sub, None, key, smoke_data="gtzan", model="dnn", task="genre", dataset="gtzan",
                    split=partition, model_kwargs=model_kwargs, **settings)
    if ctx.smoke:  # train_row pointed the run at the stand-in
        data_root, split_dir = gtzan_standin(ctx), gtzan_standin(ctx) / "splits"
    else:
        data_root = ctx.data_root
    fit, test, classes = fit_and_test_clips(gtzan_selection(data_root, partition, split_dir), progress=ctx.progress)
    model = keras.models.load_model(Path(row["run_dir"]) / "model.keras", compile=False)
    rows = dnn_feature_experiment(model, fit[0], fit[1], test[0], test[1], classes,
                                  n_estimators=50 if ctx.smoke else 500, progress=ctx.progress,
                                  texture_seconds=texture_seconds)
    out = {f"{r['layer']}-{'agg' if r['aggregated'] else 'frames'}": {"accuracy": r["accuracy"],
                                                                       "normalised_accuracy": r["normalised_accuracy"]}
           for r in rows}
    out.update(dnn_accuracy=row["metric"], run_dir=row["run_dir"])
    atomic_json(path, out)
    return out


def gtzan_selection(root, split, split_dir, subset="test"):
    """The GTZAN (or stand-in) data of a table: a split of ``root`` and the folder of its lists."""
    return DataSelection(dataset="gtzan", data_root=str(root), split=split,
                         split_dir=None if split_dir is None else str(split_dir), subset=subset)
