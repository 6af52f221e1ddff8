"""Training machinery: the configuration, its model defaults, the optimisers and the callbacks.

This module computes; it opens no datasets and writes no run folders of its own (that is
:mod:`kerasmgr.jobs.train`). It holds :class:`TrainConfig` (the keys of ``configs/*.yaml`` and
the options of ``bin/train.py``), :func:`resolve_config`, the clip-level validation callback
(:class:`ClipEvaluation`), linear schedules, resumable checkpoints and early stopping.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
import yaml

from . import evaluation, models, plots
from . import metrics as mmetrics
from .data.pipeline import STORES
from .data.windows import clip_windows
from .frontends.augment import resolve_augment
from .distribute import STRATEGIES
from .frontends import find_frontend
from .optimizers import EpochExponentialDecay, ScheduledMomentumSGD
from .pretrained import save

__all__ = ["TrainConfig", "resolve_config", "fraction_of", "make_optimizer", "ClipEvaluation", "LinearSchedules",
           "TrainingCheckpoint", "ResumableEarlyStopping", "OPTIMIZERS"]

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
    augment: dict | None = _f(None, "training-time data augmentation inside the front-end: {} for the default set, "
                                    "or settings such as {gain_db: 6, time_stretch: 0.08, freq_masks: 1} "
                                    "(kerasmgr.frontends.augment.DEFAULT_AUGMENT); inert at inference")
    mixup_alpha: float = _f(0.0, "mixup of the training batches (tags): each example mixed with another of its "
                                 "batch, weight ~ Beta(alpha, alpha), labels mixed alike; 0 = off")
    mixed_precision: str | None = _f(None, "compute the network in 'bfloat16' (the flag alone) or 'float16' with "
                                           "float32 variables; the front-end and the output layer stay float32 "
                                           "(kerasmgr.models.build). On this project's CPU it was slower, see the "
                                           "README's performance section", const="bfloat16")
    seed: int = _f(0, "random seed (data order, crops, initial weights, augmentation)")
    init_seed: int | None = _f(None, "seed of the initial weights only (default: seed); with a fixed seed, "
                                     "runs that differ in init_seed differ only in their initialisation "
                                     "(the thesis' repeats, --vary init)")
    deterministic: bool = _f(False, "enable TensorFlow op determinism (slower)")
    verbose: int = _f(1, "Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch")

    def to_dict(self):
        return dataclasses.asdict(self)


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
    if cfg.augment is not None:  # the front-end applies it: one setting for every model
        fe = cfg.model_kwargs.get("frontend")
        fe = {} if fe is None else ({"kind": fe} if isinstance(fe, str) else dict(fe))
        cfg.model_kwargs["frontend"] = {**fe, "augment": resolve_augment(cfg.augment)}
    if cfg.mixup_alpha < 0:
        raise ValueError(f"mixup_alpha must be >= 0, got {cfg.mixup_alpha}")
    if cfg.mixup_alpha and cfg.task != "tags":
        raise ValueError("mixup_alpha mixes multi-hot tag targets: it needs task 'tags'")
    cfg.dataset_kwargs = dict(cfg.dataset_kwargs or {})
    if cfg.audio_store not in STORES:
        raise ValueError(f"audio_store must be one of {STORES}, got {cfg.audio_store!r}")
    if cfg.monitor not in ("clip", "segment"):
        raise ValueError(f"monitor must be 'clip' or 'segment', got {cfg.monitor!r}")
    if cfg.adversarial_domain not in ("spectral", "waveform"):
        raise ValueError(f"adversarial_domain must be 'spectral' or 'waveform', got {cfg.adversarial_domain!r}")
    if cfg.strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {cfg.strategy!r}")
    if cfg.mixed_precision not in (None, *models.MIXED_PRECISIONS):
        raise ValueError(f"mixed_precision must be one of {models.MIXED_PRECISIONS}, got {cfg.mixed_precision!r}")
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
    current ``learning_rate`` and ``train_seconds`` (the epoch's training steps) to the epoch logs, so
    TensorBoard, CSVLogger and EarlyStopping placed after it see them.
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
        x = clip_windows(self.audio.get(self.image_clip), int(self.model.input_shape[1]))[:1]
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
    save(model, stem)


# ------------------------------------------------------------------------------------- train
def make_optimizer(cfg, steps_per_epoch):
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

    # BackupAndRestore's own save/load hooks (no public hook exists to add state to its checkpoint)
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


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
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
