"""Training job: one call from a configuration to a finished run folder.

>>> from kerasmgr.jobs.train import train
>>> result = train(model="k2c2", epochs=2)            # doctest: +SKIP
>>> result.metrics["macro_roc_auc"]                    # doctest: +SKIP

A run folder ``<out>/<name>/`` holds:

* ``model.keras`` and ``model.h5`` — the best model (by the validation metric), rewritten
  whenever it improves, so an interrupted run keeps its best epoch;
* ``model.json`` — sidecar metadata: labels in output order, sample rate, input length,
  front-end settings, training data, test metrics;
* ``config.yaml`` — the resolved configuration (keys are :class:`TrainConfig` fields, so it can
  be passed back with ``--config``);
* ``history.csv`` — per-epoch training and validation figures, appended as training goes;
* ``logs/`` — TensorBoard: scalars in ``train/`` and ``validation/`` (loss, ROC-AUC or accuracy,
  learning rate); in ``images/`` the input spectrogram of a fixed validation clip, the
  validation confusion matrix each epoch (classification) and a histogram of every weight per
  epoch (tagged by its path, e.g. ``conv1/kernel``);
* ``metrics.json`` — test-split metrics of the best model (macro and per-tag ROC-AUC / PR-AUC for
  tagging; accuracy, normalised accuracy, confusion matrix and per-class P/R/F for
  classification), plus ``confusion_matrix.png`` for classification.

Clip-level evaluation: every clip is cut into consecutive model-sized windows (centred), and the
window posteriors are averaged — the same for validation during training and for the test split.
Training draws ``segments_per_clip`` random windows from every clip each epoch through a
``tf.data`` pipeline (:mod:`kerasmgr.data.pipeline`); decoded audio is kept in RAM or in a
disk cache (``audio_store``).

Determinism: with the same ``seed``, data order, crops and initial weights are the same on every
run; on CPU with the same TensorFlow build and thread count the trained weights are the same too.
``deterministic=True`` additionally enables TensorFlow's op determinism (slower). Results are not
bit-identical across machines, thread counts or TensorFlow versions.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
import yaml

from .. import __version__, adversary, evaluation, models, plots
from ..data.pipeline import ClipStore, mixup, training_dataset
from ..data.selection import DataSelection, open_subsets
from ..data.shards import sharded_training_dataset
from ..distribute import make_strategy, worker_info
from ..layers import Standardization, adapt_standardization
from ..pretrained import read_metadata
from ..training import (
    ClipEvaluation,
    LinearSchedules,
    ResumableEarlyStopping,
    TrainConfig,
    TrainingCheckpoint,
    fraction_of,
    make_optimizer,
    resolve_config,
)

__all__ = ["RunResult", "train", "train_repeated", "write_sidecar", "summary_line", "data_selection"]


def data_selection(cfg):
    """The :class:`~kerasmgr.data.selection.DataSelection` a training configuration names."""
    return DataSelection(dataset=cfg.dataset, data_root=cfg.data_root, split=cfg.split, split_dir=cfg.split_dir,
                         subset="all", dataset_kwargs=cfg.dataset_kwargs)


@dataclass
class RunResult:
    """What :func:`train` returns."""

    run_dir: Path
    config: TrainConfig
    metrics: dict
    model_path: Path


def write_sidecar(path, contract, *, cfg, labels, dataset, metrics=None):
    """JSON metadata next to a saved model: what its outputs mean and what it expects.

    Parameters
    ----------
    path : str or Path
    contract : kerasmgr.models.InputContract
        The model's input contract (the one source of ``sample_rate``, ``n_samples``, ``frontend``).
    cfg : TrainConfig
    labels : list of str
        Classes or tags in output order.
    dataset : Dataset
        The training data.
    metrics : dict or None

    Notes
    -----
    Keys: ``model``, ``task``, ``labels``, ``sample_rate`` (Hz), ``n_samples`` (input length),
    ``frontend`` (front-end arguments), ``model_kwargs``, ``training_data``, ``metrics`` and
    ``kerasmgr_version``.
    """
    meta = {
        "model": cfg.model,
        "task": cfg.task,
        "labels": list(labels),
        "sample_rate": int(contract.sample_rate),
        "n_samples": int(contract.n_samples),
        "frontend": dict(contract.frontend),
        "model_kwargs": cfg.model_kwargs,
        "training_data": {"dataset": dataset.name, "root": dataset.root, "n_train_items": len(dataset)},
        "metrics": metrics,
        "kerasmgr_version": __version__,
    }
    Path(path).write_text(json.dumps(meta, indent=2))
    return meta


def _run_dir(cfg):
    name = cfg.name or f"{cfg.model}-{cfg.task}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    d = Path(cfg.out) / name
    d.mkdir(parents=True, exist_ok=True)
    return d


def train(config=None, **overrides):
    """Train a model on a dataset and write a run folder (see the module docstring).

    Parameters
    ----------
    config : TrainConfig, dict, str/Path of a YAML file, or None
        Base configuration.
    **overrides
        Any :class:`TrainConfig` field (``None`` values are ignored).

    Returns
    -------
    RunResult
        Run folder, resolved config, test metrics and the path of the best ``.keras`` model.
    """
    cfg = resolve_config(config, **overrides)
    worker = worker_info(cfg.strategy)
    if worker.n_workers > 1 and not cfg.name:
        raise ValueError("multi-worker training needs --name: every worker must agree on the run folder")
    strategy = make_strategy(cfg.strategy)  # before any other TensorFlow work (multi-worker runtime)
    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    main_dir = run_dir = _run_dir(cfg)
    if not worker.is_chief:  # only the chief writes the run folder; the others keep their state here
        run_dir = main_dir / f"worker-{worker.index}"
        run_dir.mkdir(exist_ok=True)
    log_dir = run_dir / "logs"
    initial_epoch, previous = _resume_point(run_dir) if cfg.backup else (0, None)
    if initial_epoch and cfg.verbose:
        print(f"resuming {run_dir} after epoch {initial_epoch} (checkpoint in {run_dir / 'backup'})")
    with open(run_dir / "config.yaml", "w") as f:
        yaml.safe_dump(cfg.to_dict(), f, sort_keys=False)

    contract = models.contract(cfg.model, **cfg.model_kwargs)  # sample rate and input length, as data
    sr, n_samples = contract.sample_rate, contract.n_samples

    progress = cfg.verbose > 0
    splits = open_subsets(data_selection(cfg), sample_rate=sr, progress=progress)
    if cfg.train_fraction < 1.0:
        if cfg.dataset == "shards":
            raise ValueError("train_fraction is not available with sharded datasets")
        splits["train"] = fraction_of(splits["train"], cfg.train_fraction)
    labels = splits["train"].labels(cfg.task)
    if not labels:
        other = "genre" if cfg.task == "tags" else "tags"
        kind = {"genre": "classes (one label per clip)", "tags": "tags (several labels per clip)"}
        hint = (f"; it has {kind[other]}: pass --task {other}" if splits["train"].labels(other)
                else "; it has no labels at all")
        raise ValueError(f"the {cfg.dataset} dataset has no {kind[cfg.task]} for task {cfg.task!r} "
                         f"(the {cfg.model} default){hint}")
    arrays, skipped = {}, []
    for s, ds in splits.items():
        if cfg.dataset == "shards":  # decoded already; streamed from the shards
            if ds.sample_rate != sr:
                raise ValueError(f"{cfg.data_root} was prepared at {ds.sample_rate} Hz, {cfg.model} runs at {sr} Hz")
            store = ds
            store.min_samples = n_samples
        else:
            store = ClipStore([it.path for it in ds.items], sr, mode=cfg.audio_store, min_samples=n_samples,
                              progress=progress, desc=f"loading {s}", max_seconds=ds.max_seconds)
        if not len(store) and not (s == "valid" and cfg.select == "last" and not len(ds)):
            raise RuntimeError(f"no usable audio in the {s} split of {cfg.dataset} ({len(store.errors)} files failed)")
        arrays[s] = (store, ds.targets(cfg.task)[store.index])
        skipped += [{"split": s, "path": p, "reason": r} for p, r in store.errors]
    if skipped:
        print(f"skipped {len(skipped)} unreadable file(s); see {run_dir / 'skipped.json'}")
        (run_dir / "skipped.json").write_text(json.dumps(skipped, indent=2))

    activation = "softmax" if cfg.task == "genre" else "sigmoid"
    if cfg.init_seed is not None:  # only the initial weights change; data order and crops follow cfg.seed
        keras.utils.set_random_seed(cfg.init_seed)
    with strategy.scope():
        model = models.build(cfg.model, n_outputs=len(labels), activation=activation,
                             mixed_precision=cfg.mixed_precision, **cfg.model_kwargs)
    data_args = dict(segments_per_clip=cfg.segments_per_clip, batch_size=cfg.batch_size, seed=cfg.seed)
    if cfg.fixed_segments:
        if cfg.dataset == "shards":
            raise ValueError("fixed_segments is not available with sharded datasets")
        data_args["fixed_segments"] = True
    steps = int(np.ceil(len(arrays["train"][0]) * cfg.segments_per_clip / cfg.batch_size))
    make = sharded_training_dataset if cfg.dataset == "shards" else training_dataset
    if any(isinstance(l, Standardization) for l in model.layers):
        n_adapt = steps  # one epoch of training windows: the whole training set (seed 004 §2)
        adapt_ds, _ = make(*arrays["train"], n_samples, **data_args)  # the same on every worker
        adapt_standardization(model, (x.numpy() for x, _ in adapt_ds.take(n_adapt)))
    perturb = None
    if cfg.adversarial_source:
        source = keras.models.load_model(cfg.adversarial_source, compile=False)
        src_view = adversary.SpectralView(source)
        if src_view.sample_rate != sr:
            raise ValueError(f"adversarial source {cfg.adversarial_source} runs at {src_view.sample_rate} Hz, "
                             f"the model at {sr} Hz")
        perturb = adversary.perturbation_fn(source, mu=cfg.adversarial_mu, domain=cfg.adversarial_domain,
                                            n_classes=len(labels), seed=cfg.seed)

    def dataset_fn(context=None):
        """This input pipeline's share of the training stream (``context``: tf.distribute's InputContext)."""
        shards = {} if context is None else dict(
            num_workers=context.num_input_pipelines, worker_index=context.input_pipeline_id,
            replicas_per_worker=context.num_replicas_in_sync // context.num_input_pipelines)
        ds, _ = make(*arrays["train"], n_samples, **data_args, start=initial_epoch * steps * cfg.batch_size, **shards)
        if cfg.mixup_alpha:
            ds = mixup(ds, cfg.mixup_alpha, seed=cfg.seed)
        return ds if perturb is None else ds.map(perturb)

    if cfg.strategy == "default":
        train_ds = dataset_fn()
    else:  # per-replica batches, each worker reading its own share of every global batch
        train_ds = strategy.distribute_datasets_from_function(dataset_fn)
    if cfg.task == "genre":
        loss, train_metrics = "sparse_categorical_crossentropy", ["accuracy"]
    else:
        loss = "binary_crossentropy"
        train_metrics = [keras.metrics.AUC(multi_label=True, num_labels=len(labels), name="auc")]
    with strategy.scope():
        model.compile(optimizer=make_optimizer(cfg, steps), loss=loss, metrics=train_metrics)

    evaluation_cb = ClipEvaluation(*arrays["valid"], cfg.task, labels, run_dir=run_dir, log_dir=log_dir,
                                   batch_size=cfg.batch_size, level=cfg.monitor, select=cfg.select)
    has_valid = len(arrays["valid"][0]) > 0
    if cfg.early_stopping and not has_valid:
        raise ValueError("early_stopping needs a validation subset (the split's valid list is empty)")
    monitored = [] if previous is None or not has_valid else [float(r[evaluation_cb.monitor]) for r in previous]
    if monitored:  # a resumed run: the best epoch so far is known from the history
        evaluation_cb.best, evaluation_cb.best_epoch = max(monitored), int(np.argmax(monitored))
    if previous and cfg.select == "last":
        evaluation_cb.best_epoch = len(previous) - 1
    callbacks = [
        evaluation_cb,
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=bool(initial_epoch)),
        keras.callbacks.TensorBoard(log_dir=str(log_dir), histogram_freq=0, write_graph=False),
    ]
    if cfg.lr_linear_saturate or cfg.momentum_start is not None:
        callbacks.insert(0, LinearSchedules(cfg))
    if cfg.early_stopping:
        callbacks.append(ResumableEarlyStopping(monitor=evaluation_cb.monitor, mode="max", patience=cfg.early_stopping,
                                        verbose=int(progress), history=monitored))
    if cfg.backup:  # last: the checkpoint is taken after every other callback has seen the epoch
        callbacks.append(TrainingCheckpoint(str(run_dir / "backup"), double_checkpoint=True))
    write_sidecar(run_dir / "model.json", contract, cfg=cfg, labels=labels,
                  dataset=splits["train"])
    model.fit(train_ds, steps_per_epoch=steps, epochs=cfg.epochs, callbacks=callbacks, verbose=cfg.verbose,
              initial_epoch=initial_epoch)

    best = keras.models.load_model(run_dir / "model.keras", compile=False)
    test_audio, test_targets = arrays["test"]
    test_post = evaluation.segment_posteriors(best, test_audio, batch_size=cfg.batch_size, hop=cfg.eval_hop,
                                              fixed_segments=cfg.segments_per_clip if cfg.fixed_segments else None,
                                              seed=cfg.seed)
    by_agg = evaluation.evaluate_segments(cfg.task, test_post, test_targets, labels)
    main = "max_probability" if cfg.task == "genre" else "track"
    result = dict(by_agg[main])
    result["aggregation"] = main
    result["other_aggregations"] = {
        k: {m: v[m] for m in ("accuracy", "normalised_accuracy", "macro_roc_auc", "macro_pr_auc", "n") if m in v}
        for k, v in by_agg.items() if k != main
    }
    result.update({
        "task": cfg.task,
        "model": cfg.model,
        "dataset": cfg.dataset,
        "split": "test",
        "best_epoch": None if evaluation_cb.best_epoch is None else evaluation_cb.best_epoch + 1,
        f"best_{evaluation_cb.monitor}": float(evaluation_cb.best) if np.isfinite(evaluation_cb.best) else None,
        "selection": cfg.select,
        "n_train_clips": len(arrays["train"][0]),
        "n_skipped_files": len(skipped),
        "kerasmgr_version": __version__,
    })
    (run_dir / "metrics.json").write_text(json.dumps(result, indent=2))
    sidecar = read_metadata(run_dir / "model.keras")
    sidecar["metrics"] = {k: result[k] for k in ("accuracy", "normalised_accuracy", "macro_roc_auc", "macro_pr_auc")
                          if k in result}
    (run_dir / "model.json").write_text(json.dumps(sidecar, indent=2))
    if cfg.task == "genre":
        plots.save_figure(plots.confusion_matrix_figure(result["confusion_matrix"], labels,
                                                        title=f"{cfg.model}: test"),
                          run_dir / "confusion_matrix.png")
    if not worker.is_chief:
        import shutil

        shutil.rmtree(run_dir, ignore_errors=True)
    return RunResult(run_dir=main_dir, config=cfg, metrics=result, model_path=main_dir / "model.keras")


def _resume_point(run_dir):
    """``(epochs already done, their history rows)`` from a run folder's training checkpoint.

    ``(0, None)`` when there is nothing to resume. ``history.csv`` is cut back to the
    checkpointed epochs (a run killed after logging an epoch but before its checkpoint redoes
    that epoch).
    """
    import csv

    meta = Path(run_dir) / "backup" / "training_metadata.json"
    if not meta.is_file():
        return 0, None
    try:
        epoch = int(json.loads(meta.read_text())["epoch"])
    except (ValueError, KeyError) as e:
        raise RuntimeError(f"{meta}: unreadable training checkpoint ({e}); delete {meta.parent} to start over") from None
    history = Path(run_dir) / "history.csv"
    rows = []
    if history.is_file():
        with open(history, newline="") as f:
            rows = list(csv.DictReader(f))[:epoch]
        with open(history, "w", newline="") as f:
            if rows:
                w = csv.DictWriter(f, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
    if len(rows) < epoch:
        raise RuntimeError(f"{history}: {len(rows)} epoch(s) logged but the checkpoint is after epoch {epoch}; "
                           f"delete {meta.parent} to start over")
    return epoch, rows


def train_repeated(config=None, *, repeats=1, vary="all", **overrides):
    """Train ``repeats`` times; summarise test metrics.

    ``vary='all'``: seeds ``seed, seed+1, ...`` (data order, crops and initial weights change;
    run folders ``<name>-seed<k>``). ``vary='init'``: the seed stays and ``init_seed`` takes
    ``seed, seed+1, ...``, so only the weight initialisation changes, as in the thesis' repeated
    experiments (§5.2.1; run folders ``<name>-init<k>``). ``<out>/<name>-summary.json`` holds every
    run's test metrics and their mean ± std (population std).

    Returns
    -------
    results : list of RunResult
    summary : dict
    """
    cfg = resolve_config(config, **overrides)
    base = cfg.name or f"{cfg.model}-{cfg.task}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    results = []
    if vary not in ("all", "init"):
        raise ValueError(f"vary must be 'all' or 'init', got {vary!r}")
    for k in range(repeats):
        if vary == "init":
            run_cfg = dataclasses.replace(cfg, init_seed=cfg.seed + k, name=f"{base}-init{cfg.seed + k}")
        else:
            run_cfg = dataclasses.replace(cfg, seed=cfg.seed + k, name=f"{base}-seed{cfg.seed + k}")
        results.append(train(run_cfg))
    summary = evaluation.summarise_runs([r.metrics for r in results])
    summary["runs"] = [str(r.run_dir) for r in results]
    out = Path(cfg.out) / f"{base}-summary.json"
    out.write_text(json.dumps(summary, indent=2))
    return results, summary


def summary_line(result):
    """One line for the terminal: the main test figure of a run."""
    m = result.metrics
    if m["task"] == "genre":
        return (f"test accuracy {m['accuracy']:.3f} (normalised {m['normalised_accuracy']:.3f}, "
                f"chance {1 / len(m['classes']):.3f}) on {m['n']} clips")
    return f"test macro ROC-AUC {m['macro_roc_auc']:.3f} (chance 0.5), PR-AUC {m['macro_pr_auc']:.3f} on {m['n']} clips"
