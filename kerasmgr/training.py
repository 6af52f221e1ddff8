"""Training: one call from configuration to a finished run folder.

>>> from kerasmgr.training import train
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
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
import yaml

from . import __version__, evaluation, metrics as mmetrics, models, plots
from .data.audio import windows
from .data.datasets import load_dataset
from .data.pipeline import STORES, ClipStore, training_dataset
from .data.shards import sharded_training_dataset
from .distribute import STRATEGIES, make_strategy, worker_info
from .frontends import find_frontend
from .layers import Standardization, adapt_standardization
from .optimizers import EpochExponentialDecay, ScheduledMomentumSGD
from .pretrained import read_metadata

__all__ = ["TrainConfig", "RunResult", "train", "train_repeated", "resolve_config",
           "write_sidecar", "TrainingCheckpoint", "ClipEvaluation", "LinearSchedules", "summary_line"]

OPTIMIZERS = ("adam", "sgd", "rmsprop")


def _f(default, help, **kw):
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class TrainConfig:
    """Every option of :func:`train` (and of ``bin/train.py`` and ``configs/*.yaml``).

    ``None`` means "the model's default" (:func:`kerasmgr.models.training_defaults`).
    """

    model: str = _f("k2c2", "model name (kerasmgr.models.available())")
    task: str | None = _f(None, "'tags' (multi-label, sigmoid, ROC-AUC) or 'genre' (softmax, accuracy); "
                                "default: the model's seed task")
    model_kwargs: dict = _f(None, "builder arguments, e.g. {n_params: 0.5e6, frontend: cqt} (YAML/JSON)")
    dataset: str = _f("embedded", "dataset name")
    data_root: str | None = _f(None, "dataset folder (embedded: cache root, default $KERASMGR_CACHE or "
                                     "~/.cache/kerasmgr)")
    dataset_kwargs: dict = _f(None, "dataset options, e.g. {clips_per_genre: 40} (YAML/JSON)")
    split: str | None = _f(None, "partition from split lists {train,valid,test}_<split>.txt (e.g. filtered, "
                                 "stratified); default: the dataset's own or a seeded stratified split")
    split_dir: str | None = _f(None, "folder of the split lists (default <data_root>/splits)")
    out: str = _f("runs", "folder that receives the run folder")
    name: str | None = _f(None, "run folder name (default <model>-<task>-<timestamp>)")
    epochs: int | None = _f(None, "maximum number of epochs")
    batch_size: int | None = _f(None, "examples (segments) per step")
    segments_per_clip: int | None = _f(None, "random model-sized windows drawn from each training clip per epoch")
    fixed_segments: bool = _f(False, "draw each clip's segments_per_clip windows once (seeded) and reuse them every "
                                     "epoch; test on segments_per_clip windows drawn once per test clip (seed 001: "
                                     "15 random 0.97-s segments per track) instead of consecutive windows")
    audio_store: str = _f("memory", "decoded audio: 'memory' (decode once into RAM), 'disk' (decode once into a "
                                    "float16 .npy cache, memory-mapped; for large datasets) or 'none' (decode "
                                    "every time)")
    optimizer: str = _f("adam", "adam, sgd (with momentum) or rmsprop")
    learning_rate: float | None = _f(None, "initial learning rate")
    momentum: float = _f(0.9, "SGD momentum")
    lr_decay_rate: float = _f(1.0, "exponential decay: lr = lr0 * rate ** (step / lr_decay_steps); 1 = off "
                                   "(seed 001 EXP: 0.9)")
    lr_decay_steps: int = _f(3000, "steps (or epochs, see lr_decay_unit) per decay by lr_decay_rate (seed 001 EXP: "
                                   "3000)")
    lr_decay_unit: str = _f("step", "what lr_decay_steps counts: 'step' (optimizer steps, continuous) or 'epoch' "
                                    "(seed 001 EXP as stated: 'lr = lr0 * rate^(global/decay) ... global is the "
                                    "current epoch number'; lr constant within an epoch)")
    lr_linear_saturate: int = _f(0, "dnn-mgr LinearDecayOverEpoch: lr falls linearly from epoch 1 to this epoch, "
                                    "then stays at lr * lr_linear_final; 0 = off")
    lr_linear_final: float = _f(0.01, "final fraction of the learning rate for lr_linear_saturate")
    momentum_start: float | None = _f(None, "dnn-mgr MomentumAdjustor: SGD momentum rises linearly from this "
                                            "value (epoch 1) to --momentum at momentum_saturate")
    momentum_saturate: int = _f(0, "epoch at which the momentum reaches --momentum")
    monitor: str = _f("clip", "validation level for model selection and early stopping: 'clip' (posteriors "
                              "averaged per clip) or 'segment' (every window on its own, dnn-mgr's frame error)")
    early_stopping: int | None = _f(None, "stop after this many epochs without a better validation metric; 0 = off")
    select: str = _f("best", "model kept for testing: 'best' (best validation epoch) or 'last' (after the last "
                             "epoch, no selection: seed 001's 100-vs-200-epoch comparison; the validation subset "
                             "may then be empty)")
    eval_hop: int | None = _f(None, "hop in samples between the test windows of a clip (default: the window "
                                    "length, no overlap; dnn: 512, every frame)")
    adversarial_source: str | None = _f(None, "seed 004's adversarial training: a fixed, trained source model "
                                              "(.keras/.h5, same sample rate) perturbs every training batch by "
                                              "one signed gradient step towards random labels; the model trains "
                                              "on the perturbed batches with the true labels")
    adversarial_mu: float = _f(0.25, "step of the adversarial perturbation (raw STFT magnitudes; samples in the "
                                     "waveform domain); seed 004: 0.25")
    adversarial_domain: str = _f("spectral", "'spectral' (the paper: step on the source's STFT magnitude, "
                                             "resynthesised with the batch's phase) or 'waveform' (step on the "
                                             "samples)")
    strategy: str = _f("default", "distribution: 'default' (one process), 'mirrored' (this machine's devices) or "
                                  "'multiworker' (MultiWorkerMirroredStrategy over the workers in TF_CONFIG; "
                                  "batch_size is the global batch)")
    backup: bool = _f(True, "keep a checkpoint of the training state (weights, optimizer, epoch) in "
                            "<run>/backup after every epoch; running the same command again (same --out and "
                            "--name) resumes from it. Removed when training ends")
    train_fraction: float = _f(1.0, "use this fraction of the training subset (thesis Figs 5.3/5.5): the first "
                                    "ceil(fraction x n) items of one fixed permutation (seed 0), so smaller "
                                    "fractions are nested in larger ones and every run sees the same items")
    seed: int = _f(0, "random seed (data order, crops, initial weights)")
    init_seed: int | None = _f(None, "seed of the initial weights only (default: seed); with a fixed seed, "
                                     "runs that differ in init_seed differ only in their initialisation "
                                     "(the thesis' repeats, --vary init)")
    deterministic: bool = _f(False, "enable TensorFlow op determinism (slower)")
    verbose: int = _f(1, "Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch")

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclass
class RunResult:
    """What :func:`train` returns."""

    run_dir: Path
    config: TrainConfig
    metrics: dict
    model_path: Path


def resolve_config(config=None, **overrides):
    """Merge defaults, a config (dataclass, dict or YAML path) and keyword overrides.

    Keys must be :class:`TrainConfig` fields; unknown keys raise ``ValueError`` naming them.
    Options still ``None`` afterwards take the model's training defaults
    (:func:`kerasmgr.models.training_defaults`).
    """
    values = {}
    if isinstance(config, TrainConfig):
        values.update(config.to_dict())
    elif isinstance(config, (str, Path)):
        with open(config) as f:
            loaded = yaml.safe_load(f) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{config}: a config file must be a YAML mapping of option: value")
        values.update(loaded)
    elif isinstance(config, dict):
        values.update(config)
    elif config is not None:
        raise TypeError(f"config must be a TrainConfig, dict or YAML path, got {type(config).__name__}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
    cfg = TrainConfig(**values)
    info = models.info(cfg.model)
    for k, v in models.training_defaults(cfg.model).items():
        if getattr(cfg, k) is None:
            setattr(cfg, k, v)
    if cfg.task is None:
        cfg.task = info.task
    cfg.model_kwargs = dict(cfg.model_kwargs or {})
    cfg.dataset_kwargs = dict(cfg.dataset_kwargs or {})
    if cfg.audio_store not in STORES:
        raise ValueError(f"audio_store must be one of {STORES}, got {cfg.audio_store!r}")
    if cfg.monitor not in ("clip", "segment"):
        raise ValueError(f"monitor must be 'clip' or 'segment', got {cfg.monitor!r}")
    if cfg.adversarial_domain not in ("spectral", "waveform"):
        raise ValueError(f"adversarial_domain must be 'spectral' or 'waveform', got {cfg.adversarial_domain!r}")
    if cfg.strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {cfg.strategy!r}")
    if cfg.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {cfg.optimizer!r}")
    for k in ("epochs", "batch_size", "segments_per_clip"):
        if getattr(cfg, k) < 1:
            raise ValueError(f"{k} must be >= 1, got {getattr(cfg, k)}")
    if cfg.select not in ("best", "last"):
        raise ValueError(f"select must be 'best' or 'last', got {cfg.select!r}")
    if cfg.lr_decay_unit not in ("step", "epoch"):
        raise ValueError(f"lr_decay_unit must be 'step' or 'epoch', got {cfg.lr_decay_unit!r}")
    if not 0.0 < cfg.train_fraction <= 1.0:
        raise ValueError(f"train_fraction must be in (0, 1], got {cfg.train_fraction}")
    return cfg


def fraction_of(dataset, fraction):
    """The first ``ceil(fraction x n)`` items of a fixed permutation (seed 0) of a training split.

    Smaller fractions are nested in larger ones and do not depend on the run's seed.
    """
    if fraction >= 1.0:
        return dataset
    order = np.random.default_rng(0).permutation(len(dataset.items))
    keep = sorted(order[: max(1, int(np.ceil(fraction * len(dataset.items))))])
    return dataclasses.replace(dataset, items=[dataset.items[i] for i in keep])


# ------------------------------------------------------------------------------------- data
def _loss(task, y_true, y_pred):
    eps = 1e-7
    p = np.clip(y_pred, eps, 1 - eps)
    if task == "genre":
        return float(-np.log(p[np.arange(len(y_true)), y_true]).mean())
    return float(-(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)).mean())


# ------------------------------------------------------------------------------------- callbacks
class ClipEvaluation(keras.callbacks.Callback):
    """Clip-level validation each epoch; saves the best model; writes TensorBoard images.

    Adds ``val_loss``, ``val_auc`` (tags, macro ROC-AUC) or ``val_accuracy`` (genre), the
    current ``learning_rate`` and ``train_seconds`` (the epoch's training steps) to the epoch logs, so TensorBoard, CSVLogger and EarlyStopping placed after it see them.
    """

    def __init__(self, audio, targets, task, labels, *, run_dir, log_dir, batch_size, image_clip=0,
                 level="clip", select="best"):
        super().__init__()
        self.level = level
        self.select = select
        self.audio, self.targets, self.task, self.labels = audio, targets, task, labels
        self.run_dir = Path(run_dir)
        self.batch_size = batch_size
        self.monitor = "val_accuracy" if task == "genre" else "val_auc"
        self.best = -np.inf
        self.best_epoch = None
        self.writer = tf.summary.create_file_writer(str(Path(log_dir) / "images"))  # images, histograms
        self.image_clip = image_clip

    def _image(self, tag, png, step):
        img = tf.image.decode_png(png, channels=4)[None]
        with self.writer.as_default():
            tf.summary.image(tag, img, step=step)
        self.writer.flush()

    def on_train_begin(self, logs=None):
        fe = find_frontend(self.model)
        if fe is None or not len(self.audio):
            return
        x = windows(self.audio.get(self.image_clip), int(self.model.input_shape[1]))[:1]
        img = np.asarray(fe(x))[0, :, :, 0]
        fig = plots.spectrogram_figure(img, sample_rate=fe.sample_rate, hop_length=fe.hop_length,
                                       frequencies=fe.frequencies(), title="input (validation clip 0)")
        self._image("input_spectrogram", plots.figure_to_png(fig), 0)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if getattr(self, "_epoch_start", None) is not None:  # training steps only, before validation
            logs["train_seconds"] = time.perf_counter() - self._epoch_start
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        if not len(self.audio):  # no validation subset (select='last'): keep the newest model
            self._histograms(epoch)
            self.best_epoch = epoch
            _save_both(self.model, self.run_dir / "model")
            return
        post = evaluation.segment_posteriors(self.model, self.audio, batch_size=self.batch_size)
        if self.level == "segment":  # every window scored on its own
            targets = np.concatenate([np.repeat(self.targets[i : i + 1], len(p), axis=0) for i, p in enumerate(post)])
            pred = np.concatenate(post)
        else:
            targets, pred = self.targets, evaluation.aggregate(post, "mean")
        m = mmetrics.evaluate_predictions(self.task, targets, pred, self.labels)
        logs["val_loss"] = _loss(self.task, targets, pred)
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        value = m["accuracy"] if self.task == "genre" else m["macro_roc_auc"]
        logs[self.monitor] = value
        if self.task == "genre":
            fig = plots.confusion_matrix_figure(m["confusion_matrix"], self.labels,
                                                title=f"validation, epoch {epoch + 1}")
            self._image("confusion_matrix", plots.figure_to_png(fig), epoch)
        self._histograms(epoch)
        if self.select == "last":  # no selection: the model after the newest epoch
            self.best_epoch = epoch
            self.best = value
            _save_both(self.model, self.run_dir / "model")
        elif value > self.best:
            self.best, self.best_epoch = value, epoch
            _save_both(self.model, self.run_dir / "model")

    def _histograms(self, epoch):
        # Keras 3's TensorBoard callback tags every histogram "kernel/histogram" without the layer
        # name; write them under the variable path instead (e.g. "conv1/kernel").
        with self.writer.as_default():
            for w in self.model.weights:
                tf.summary.histogram(w.path, keras.ops.convert_to_numpy(w), step=epoch)
        self.writer.flush()


class LinearSchedules(keras.callbacks.Callback):
    """dnn-mgr's pylearn2 schedules, per epoch (1-based ``e``).

    * ``LinearDecayOverEpoch(start=1, saturate=S, decay_factor=f)``:
      ``lr = lr0 - lr0 * (1 - f) / S * e`` for ``e <= S``, then ``lr0 * f``;
    * ``MomentumAdjustor(final, start=1, saturate=M)``: momentum rises linearly from
      ``momentum_start`` to ``momentum`` at epoch ``M``.
    """

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg

    def lr_at(self, e):
        c = self.cfg
        if not c.lr_linear_saturate:
            return c.learning_rate
        if e >= c.lr_linear_saturate:
            return c.learning_rate * c.lr_linear_final
        step = c.learning_rate * (1 - c.lr_linear_final) / c.lr_linear_saturate
        return c.learning_rate - step * e

    def momentum_at(self, e):
        c = self.cfg
        if c.momentum_start is None or not c.momentum_saturate:
            return c.momentum
        frac = min(max((e - 1) / max(c.momentum_saturate - 1, 1), 0.0), 1.0)
        return c.momentum_start + frac * (c.momentum - c.momentum_start)

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        e = epoch + 1
        if self.cfg.lr_linear_saturate:
            opt.learning_rate.assign(self.lr_at(e))
        if isinstance(opt, ScheduledMomentumSGD):
            if not opt.built:
                opt.build(self.model.trainable_variables)
            opt.set_momentum(self.momentum_at(e))


def _save_both(model, stem):
    """The best model as ``stem.keras`` and ``stem.h5`` (atomic writes)."""
    from .pretrained import save

    save(model, stem)


# ------------------------------------------------------------------------------------- train
def _optimizer(cfg, steps_per_epoch):
    lr = cfg.learning_rate
    if cfg.lr_decay_rate != 1.0 and cfg.lr_decay_unit == "epoch":
        lr = EpochExponentialDecay(lr, steps_per_epoch=steps_per_epoch, decay_epochs=cfg.lr_decay_steps,
                                   decay_rate=cfg.lr_decay_rate)
    elif cfg.lr_decay_rate != 1.0:
        lr = keras.optimizers.schedules.ExponentialDecay(lr, decay_steps=cfg.lr_decay_steps,
                                                         decay_rate=cfg.lr_decay_rate)
    if cfg.optimizer == "adam":
        return keras.optimizers.Adam(lr)
    if cfg.optimizer == "sgd":
        if cfg.momentum_start is not None:
            return ScheduledMomentumSGD(lr, momentum=max(cfg.momentum, 1e-7))
        return keras.optimizers.SGD(lr, momentum=cfg.momentum)
    return keras.optimizers.RMSprop(lr)


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
    data_kwargs = dict(cfg.dataset_kwargs)
    if cfg.dataset == "embedded":
        data_kwargs.setdefault("sample_rate", sr)
        data_kwargs.setdefault("progress", progress)
    if cfg.split:
        data_kwargs["split_name"] = cfg.split
    if cfg.split_dir:
        data_kwargs["split_dir"] = cfg.split_dir
    splits = {s: load_dataset(cfg.dataset, cfg.data_root, split=s, **data_kwargs) for s in ("train", "valid", "test")}
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
        model = models.build(cfg.model, n_outputs=len(labels), activation=activation, **cfg.model_kwargs)
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
        from . import adversary

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
        model.compile(optimizer=_optimizer(cfg, steps), loss=loss, metrics=train_metrics)

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
        callbacks.append(_EarlyStopping(monitor=evaluation_cb.monitor, mode="max", patience=cfg.early_stopping,
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


class TrainingCheckpoint(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` that also keeps the random-generator state of the model's layers.

    Keras checkpoints weights, optimizer state and the epoch, but not the seed-generator state
    of dropout and other random layers, so a resumed run would draw other dropout masks than an
    uninterrupted one. Together with the training stream's ``start``
    (:func:`kerasmgr.data.pipeline.training_dataset`), a resumed run repeats the uninterrupted
    run's computation.
    """

    def _rng_variables(self):
        weights = {id(w) for w in self.model.weights}
        return [v for v in self.model.variables if id(v) not in weights]

    def _rng_path(self):
        return Path(self.backup_dir) / "rng_state.npz"

    def _save_model(self):
        super()._save_model()
        path = self._rng_path()
        tmp = path.with_name("rng_state.tmp.npz")
        np.savez(tmp, *[keras.ops.convert_to_numpy(v) for v in self._rng_variables()])
        tmp.replace(path)

    def _load_model(self):
        super()._load_model()
        path = self._rng_path()
        if path.is_file():
            with np.load(path) as saved:
                values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
            variables = self._rng_variables()
            if len(values) == len(variables):
                for v, value in zip(variables, values):
                    v.assign(value)


class _EarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping that continues from the monitored values of the epochs already done."""

    def __init__(self, *args, history=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.history = list(history)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if not self.history:
            return
        self._set_monitor_op()
        for epoch, value in enumerate(self.history):
            self.wait += 1
            if self._is_improvement(value, self.best):
                self.best, self.best_epoch, self.wait = value, epoch, 0


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
