"""Audit job: is a model listening to the music? One folder with a page, figures, audio and every number.

``bin/audit.py`` calls :func:`run_audit`. It writes ``index.html`` (a single page that opens from
disk: no server, no network), PNG figures and WAV examples beside it, ``audit.json`` with every
number, and ``sections/<name>.json`` as each section finishes (a rerun with the same settings keeps
finished sections). Sections:

1. a verdict table (one row per test: its figure, pass/warn/fail under
   :data:`kerasmgr.audit.THRESHOLDS`, one sentence);
2. performance with bootstrap 95 % intervals at track and segment level, chance level, the
   confusion matrix or per-tag ROC-AUC;
3. irrelevant transformations (:data:`kerasmgr.audit.TRANSFORMS`): the metric and the share of
   flipped decisions against strength, with audio of the worst flips;
4. adversarial robustness against the SNR bound (spectral and waveform adversaries; taggers:
   removing the top tag, :func:`kerasmgr.adversary.tag_adversary`);
5. split leakage (``with_splits``): the same system trained on a random and a group-filtered split;
6. what it responds to: auralised features and activations against hand-crafted features.

With ``compare``, a second model is measured on the same clips, with paired statistics
(McNemar's test, paired bootstrap). The computing is :mod:`kerasmgr.audit`.
"""

from __future__ import annotations

import dataclasses
import html
import inspect
import json
import shutil
import time
from pathlib import Path

import keras
import numpy as np
import soundfile as sf
from scipy import stats
from tqdm.auto import tqdm

from .. import plots, pretrained
from ..adversary import PRESETS, SpectralView, choose_targets, spectral_adversary, tag_adversary, waveform_adversary
from ..audit import (
    THRESHOLDS,
    TRANSFORMS,
    EncoderMissing,
    apply_transform,
    bootstrap_ci,
    decisions,
    flag,
    flip_rate,
    mcnemar,
    paired_bootstrap,
    task_metric,
    transform_grid,
)
from ..data.datasets import gtzan_base, read_artist_table, write_split_lists
from ..data.audio import load_audio
from ..data.pipeline import clip_blocks
from ..data.selection import DataSelection, open_split
from ..evaluation import evaluate_segments, infer_task, main_metrics, segment_posteriors
from ..metrics import classification_metrics
from ..models import input_spec
from ..parts import (
    PartError,
    block_stem,
    digest,
    finish_part,
    finished_part,
    load_parts,
    model_identity,
    part_blocks,
    part_stem,
    start_part,
)
from . import activations as activations_job
from . import auralise as auralise_job
from .evaluate import compare_splits
from .records import atomic_json, atomic_npz, json_default, pack_ragged, unpack_ragged

__all__ = ["run_audit", "audit_part", "merge_audit", "SECTIONS", "SCORE_BLOCK", "write_page"]

SECTIONS = ("performance", "transformations", "adversarial", "leakage", "responds")
EXAMPLE_SECONDS = 8.0


def _load(model, task=None):
    if isinstance(model, keras.Model):
        m, meta = model, {}
    else:
        m, meta = pretrained.load(model)
    task = task or meta.get("task")
    if task is None:
        try:
            task = infer_task(m)
        except ValueError:
            raise ValueError(f"cannot infer the task of {meta.get('path', m.name)}: its output layer is neither "
                             "softmax nor sigmoid and it has no sidecar; pass --task genre or --task tags") from None
    return m, meta, task


def _name(model, meta):
    return str(meta.get("path") or getattr(model, "name", "model"))


def _settings_key(settings):
    return digest(settings)[:16]


class _Sections:
    """Finished sections on disk (``sections/<name>.json``), reused when the settings match."""

    def __init__(self, out, settings):
        self.dir = Path(out) / "sections"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = _settings_key(settings)

    def get(self, name):
        p = self.dir / f"{name}.json"
        if p.is_file():
            d = json.loads(p.read_text())
            if d.get("settings_key") == self.key:
                return d
        return None

    def put(self, name, result):
        result = dict(result, settings_key=self.key)
        atomic_json(self.dir / f"{name}.json", result, indent=2)
        return result


#: Clips decoded and scored at a time (clean, every transformation, the compared model): the audit's
#: memory does not grow with the number of clips.
SCORE_BLOCK = 32


def _transform_key(name, strength):
    return f"{name}@{float(strength):g}"


@dataclasses.dataclass
class _ClipScores:
    """Everything the audit computes per clip: what a job-array part computes for its share.

    ``index``: positions (in the audited item list) of the clips that could be read;
    ``posteriors``: their segment posteriors; ``transformed``: {transform key: (n_clips, n_out)
    mean posteriors of the transformed clips}; ``not_run``: {family: why (a missing encoder)};
    ``compare``: the second model's mean posteriors, or None; ``skipped``: unreadable items.
    """

    index: np.ndarray
    posteriors: list
    transformed: dict
    not_run: dict
    compare: np.ndarray | None
    skipped: list
    seconds: float = 0.0

    @property
    def clean(self):
        return np.stack([p.mean(axis=0) for p in self.posteriors])

    def save(self, stem, key):
        """``STEM.npz`` (arrays) and ``STEM.json`` (``key``, ``not_run``, ``skipped``), atomically."""
        flat, counts = pack_ragged(self.posteriors, self.posteriors[0].shape[1] if self.posteriors else 0)
        arrays = {"index": np.asarray(self.index, np.int64), "counts": counts, "posteriors": flat,
                  **{f"t:{k}": v for k, v in self.transformed.items()}}
        if self.compare is not None:
            arrays["compare"] = self.compare
        atomic_npz(f"{stem}.npz", **arrays)
        atomic_json(f"{stem}.json", {"key": key, "not_run": self.not_run, "skipped": self.skipped,
                                     "seconds": self.seconds})

    @classmethod
    def load(cls, stem, key=None):
        """The scores saved at ``STEM`` (with settings ``key``, if given), or None."""
        info_file, npz = Path(f"{stem}.json"), Path(f"{stem}.npz")
        if not (info_file.is_file() and npz.is_file()):
            return None
        info = json.loads(info_file.read_text())
        if key is not None and info.get("key") != key:
            return None
        with np.load(npz, allow_pickle=False) as z:
            post = unpack_ragged(z["posteriors"], z["counts"])
            transformed = {k[2:]: z[k] for k in z.files if k.startswith("t:")}
            return cls(z["index"], post, transformed, info["not_run"], z["compare"] if "compare" in z.files else None,
                       info["skipped"], info.get("seconds", 0.0))

    @classmethod
    def concat(cls, parts, offsets):
        """Parts' (or blocks') scores, indices local to each, whose first item is at ``offsets``, as one."""
        if not parts:
            return cls(np.zeros(0, np.int64), [], {}, {}, None, [], 0.0)
        keys = set().union(*(p.transformed for p in parts)) - set().union(*(p.not_run for p in parts))
        n_out = next((p.posteriors[0].shape[1] for p in parts if p.posteriors), 0)

        def cat(arrays):
            arrays = [a for a in arrays if len(a)]
            return np.concatenate(arrays) if arrays else np.zeros((0, n_out), np.float32)

        return cls(np.concatenate([np.asarray(p.index, np.int64) + o for p, o in zip(parts, offsets)]),
                   [x for p in parts for x in p.posteriors],
                   {k: cat([p.transformed.get(k, np.zeros((0, n_out), np.float32)) for p in parts]) for k in keys},
                   {k: v for p in parts for k, v in p.not_run.items()},
                   None if parts[0].compare is None else cat([p.compare for p in parts]),
                   [x for p in parts for x in p.skipped], sum(p.seconds for p in parts))


def _score_clips(model, paths, sample_rate, *, max_seconds, transforms, seed, batch_size, compare=None,
                 progress=True, block=None, start=0, on_block=None):
    """:class:`_ClipScores` of the files at ``paths``: decoded ``block`` (default
    :data:`SCORE_BLOCK`) at a time, each scored clean, under every transformation of the grid and
    by the compared model. A clip's scores depend on nothing but the clip (its segments are
    batched by themselves), so parts compute exactly the single run's numbers. With ``on_block``,
    each block's scores (indices local to the block) go to ``on_block(first, scores)`` instead of
    being joined, from position ``start`` on (a resumed part)."""
    block = block or SCORE_BLOCK
    grid = transform_grid(transforms, sample_rate)
    n_out = int(model.output_shape[-1])

    def mean_scores(m, clips):
        if not clips:
            return np.zeros((0, n_out), np.float32)
        return np.stack([p.mean(axis=0) for p in segment_posteriors(m, clips, batch_size=batch_size)])

    blocks, firsts = [], []
    bar = tqdm(total=len(paths), initial=start, desc="scoring clips", unit="clip", disable=not progress)
    for first, read, clips, errors in clip_blocks(paths, sample_rate, block=block, max_seconds=max_seconds,
                                                  start=start):
        t = time.perf_counter()
        transformed, not_run = {}, {}
        for name, strength, _ in grid:
            if name in not_run:
                continue
            try:
                changed = [apply_transform(name, y, sample_rate, strength, seed=seed) for y in clips]
            except EncoderMissing as e:
                not_run[name] = str(e)
                continue
            transformed[_transform_key(name, strength)] = mean_scores(model, changed)
        transformed = {k: v for k, v in transformed.items() if k.split("@")[0] not in not_run}
        post = segment_posteriors(model, clips, batch_size=batch_size)
        cmp = None if compare is None else mean_scores(compare, clips)
        scores = _ClipScores(np.asarray(read, np.int64) - first, post, transformed, not_run, cmp,
                             [{"path": p, "reason": r} for p, r in errors], time.perf_counter() - t)
        if on_block is None:
            blocks.append(scores)
            firsts.append(first)
        else:
            on_block(first, scores)
        bar.update(len(read) + len(errors))
    bar.close()
    return _ClipScores.concat(blocks, firsts) if on_block is None else None


class _Clips:
    """The audited clips, decoded when a section asks for one (the audit never holds them all)."""

    def __init__(self, paths, sample_rate, max_seconds, keep=16):
        self.paths, self.sample_rate, self.max_seconds = list(paths), int(sample_rate), max_seconds
        self._recent, self._keep = {}, int(keep)  # the adversaries come back to the same few clips

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        if i not in self._recent:
            if len(self._recent) >= self._keep:
                self._recent.pop(next(iter(self._recent)))
            self._recent[i] = load_audio(self.paths[i], self.sample_rate, allow_silent=False,
                                         max_seconds=self.max_seconds)
        return self._recent[i]


def _write_wav(path, y, sample_rate, seconds=EXAMPLE_SECONDS):
    y = np.asarray(y, np.float32)[: int(seconds * sample_rate)]
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    sf.write(path, y / peak * 0.99 if peak > 1.0 else y, sample_rate, subtype="PCM_16")


def _chance(task, targets, n_out):
    if task == "genre":
        return 1.0 / n_out
    return 0.5


# ------------------------------------------------------------------------------------------- sections
def _performance(out, post, targets, labels, task, *, n_boot, seed):
    scores = np.stack([p.mean(axis=0) for p in post])
    ev = evaluate_segments(task, post, targets, labels)
    seg_scores = np.concatenate(post)
    seg_targets = np.concatenate([np.repeat(targets[i:i + 1], len(p), axis=0) for i, p in enumerate(post)])
    chance = _chance(task, targets, len(labels))
    figures = []
    if task == "genre":
        track = {"accuracy": bootstrap_ci(task, targets, scores, metric="accuracy", n_boot=n_boot, seed=seed),
                 "normalised_accuracy": bootstrap_ci(task, targets, scores, metric="normalised_accuracy",
                                                     n_boot=n_boot, seed=seed)}
        segment = {"accuracy": bootstrap_ci(task, seg_targets, seg_scores, metric="accuracy", n_boot=n_boot, seed=seed)}
        cm = ev["max_probability"]["confusion_matrix"]
        plots.save_figure(plots.confusion_matrix_figure(cm, labels, title="test clips (mean posterior)"),
                          Path(out) / "confusion_matrix.png")
        figures.append(("confusion_matrix.png", "Confusion matrix (rows: true class)."))
        head, name = track["accuracy"], "accuracy"
        majority = float(np.bincount(targets, minlength=len(labels)).max() / len(targets))
        extra = {"majority_class_accuracy": majority}
    else:
        track = {"macro_roc_auc": bootstrap_ci(task, targets, scores, metric="macro_roc_auc", n_boot=n_boot, seed=seed),
                 "macro_pr_auc": bootstrap_ci(task, targets, scores, metric="macro_pr_auc", n_boot=n_boot, seed=seed)}
        segment = {"macro_roc_auc": bootstrap_ci(task, seg_targets, seg_scores, metric="macro_roc_auc", n_boot=n_boot,
                                                 seed=seed)}
        per_tag = ev["track"]["per_tag"]
        plots.save_figure(plots.per_label_figure(labels, [per_tag[t]["roc_auc"] for t in labels], reference=0.5,
                                                 title="per-tag ROC-AUC, test clips"), Path(out) / "per_tag_auc.png")
        figures.append(("per_tag_auc.png", "ROC-AUC of every tag (dotted: chance)."))
        head, name = track["macro_roc_auc"], "macro ROC-AUC"
        extra = {"pr_auc_chance": float(np.mean(targets))}
    if head["low"] > chance:
        verdict = "pass"
    elif head["value"] > chance:
        verdict = "warn"
    else:
        verdict = "fail"
    sentence = (f"{name} {head['value']:.3f} (95 % interval {head['low']:.3f}–{head['high']:.3f}) against chance "
                f"{chance:.3f} on {len(targets)} clips")
    return {"track": track, "segment": segment, "chance": chance, "metric": name, "n_clips": len(targets),
            "n_segments": int(len(seg_scores)), "figures": figures, **extra,
            "verdicts": [{"test": "performance", "figure": f"{head['value']:.3f} [{head['low']:.3f}, {head['high']:.3f}]",
                          "flag": verdict, "sentence": sentence + "."}]}


def _transformations(out, clips, scores, targets, labels, task, sample_rate, *, names, seed, examples):
    clean = scores.clean
    dec0 = decisions(clean, task)
    clean_metric = task_metric(task, targets, clean)
    grid = transform_grid(names, sample_rate)
    rows, missing, candidates = [], dict(scores.not_run), []
    for name, strength, perceptual in grid:
        if name in missing:
            continue
        sc = scores.transformed[_transform_key(name, strength)]
        dec = decisions(sc, task)
        rows.append({"transform": name, "strength": strength, "unit": TRANSFORMS[name].unit, "perceptual": perceptual,
                     "flip_rate": flip_rate(dec0, dec, task), "metric": task_metric(task, targets, sc),
                     "clean_metric": clean_metric})
        if perceptual != "audible":
            change = np.abs(sc - clean).sum(axis=1)
            for i in range(len(clean)):
                flipped = dec0[i] != dec[i] if task == "genre" else bool(np.any(dec0[i] != dec[i]))
                if flipped:
                    candidates.append((float(change[i]), i, name, strength, perceptual, clean[i], sc[i]))
    # audio of the worst flips (largest score change), one per clip and transformation family
    exdir = Path(out) / "audio"
    exdir.mkdir(exist_ok=True)
    chosen, seen = [], set()
    for c in sorted(candidates, key=lambda c: -c[0]):
        if (c[1], c[2]) in seen:
            continue
        seen.add((c[1], c[2]))
        chosen.append(c)
        if len(chosen) >= examples:
            break
    example_rows = []
    for k, (change, i, name, strength, perceptual, before, after) in enumerate(chosen):
        stem = f"flip{k + 1}_{name}_{strength:g}"
        _write_wav(exdir / f"{stem}_original.wav", clips[i], sample_rate)
        _write_wav(exdir / f"{stem}_transformed.wav", apply_transform(name, clips[i], sample_rate, strength, seed=seed),
                   sample_rate)
        example_rows.append({"clip": i, "transform": name, "strength": strength, "perceptual": perceptual,
                             "before": _describe(before, labels, task), "after": _describe(after, labels, task),
                             "original": f"audio/{stem}_original.wav", "transformed": f"audio/{stem}_transformed.wav"})
    figures = []
    if rows:
        metric_name = "accuracy" if task == "genre" else "macro ROC-AUC"
        plots.save_figure(plots.transformation_figure(rows, metric_name=metric_name,
                                                      title="decisions flipped (bars) and metric (line) against strength"),
                          Path(out) / "transformations.png")
        figures.append(("transformations.png", "Bars: share of decisions flipped (red: inaudible, orange: irrelevant, "
                                               "grey: audible change). Line: the metric; dashed: without transformation."))
    verdicts = []
    warn, fail = THRESHOLDS["flip"]
    for name in dict.fromkeys(n for n, _, _ in grid):
        rs = [r for r in rows if r["transform"] == name and r["perceptual"] != "audible"]
        if name in missing:
            verdicts.append({"test": f"transform: {name}", "figure": "—", "flag": "not run", "sentence": missing[name]})
            continue
        if not rs:
            continue
        worst = max(rs, key=lambda r: r["flip_rate"])
        v = flag(worst["flip_rate"], warn, fail)
        unit = TRANSFORMS[name].unit
        verdicts.append({"test": f"transform: {name}", "figure": f"{100 * worst['flip_rate']:.1f} % flipped",
                         "flag": v, "sentence": f"{100 * worst['flip_rate']:.1f} % of decisions change under "
                         f"{name} at {worst['strength']:g} {unit} ({worst['perceptual']}); metric "
                         f"{worst['metric']:.3f} against {clean_metric:.3f}."})
    return {"rows": rows, "clean_metric": clean_metric, "not_run": missing, "examples": example_rows,
            "figures": figures, "verdicts": verdicts}


def _describe(scores, labels, task, k=3):
    if task == "genre":
        return f"{labels[int(np.argmax(scores))]} ({float(np.max(scores)):.2f})"
    top = np.argsort(-scores)[:k]
    return ", ".join(f"{labels[j]} {scores[j]:.2f}" for j in top)


def _adversarial(out, model, clips, targets, labels, task, sample_rate, *, snrs, n_clips, iterations, seed, progress):
    view = SpectralView(model)
    if not view.spectral:
        return {"verdicts": [{"test": "adversarial", "figure": "—", "flag": "not run",
                              "sentence": "the model has a constant-Q front-end: no STFT-magnitude adversary"}]}
    idx = list(range(min(n_clips, len(clips))))
    clean = np.stack([view.posteriors(clips[i]) for i in idx])
    y = targets[idx]
    curves = {d: [] for d in ("spectral", "waveform")}
    wrong = choose_targets(y, "wrong", len(labels), seed=seed) if task == "genre" else None
    bar = tqdm(total=len(snrs) * 2 * len(idx), desc="adversaries", disable=not progress)
    example = None
    for snr in snrs:
        for domain in curves:
            adv = []
            for k, i in enumerate(idx):
                if task == "genre":
                    if domain == "spectral":
                        r = spectral_adversary(view, clips[i], int(wrong[k]), snr=snr, max_iter=iterations,
                                               **PRESETS["dnn-mgr"])
                    else:
                        r = waveform_adversary(view, clips[i], int(wrong[k]), snr=snr, max_iter=iterations)
                else:
                    r = tag_adversary(view, clips[i], int(np.argmax(clean[k])), direction="down", domain=domain,
                                      snr=snr, max_iter=iterations)
                adv.append(r.audio_posteriors)
                if example is None and domain == "spectral" and r.success and snr >= 20:
                    example = (i, snr, r.audio)
                bar.update(1)
            adv = np.stack(adv)
            if task == "genre":
                value = float(np.mean(adv.argmax(axis=1) == y))
            else:  # share of clips that keep their top tag
                value = float(np.mean([adv[k, int(np.argmax(clean[k]))] >= 0.5 for k in range(len(idx))]))
            curves[domain].append({"snr_db": float(snr), "value": value})
    bar.close()
    if task == "genre":
        clean_value, chance, what = float(np.mean(clean.argmax(axis=1) == y)), 1.0 / len(labels), "accuracy"
    else:
        clean_value = float(np.mean([clean[k, int(np.argmax(clean[k]))] >= 0.5 for k in range(len(idx))]))
        chance, what = 0.0, "top tag kept"
    plots.save_figure(plots.robustness_figure(list(snrs), [[c["value"] for c in curves[d]] for d in curves],
                                              chance=chance, clean=clean_value, labels=list(curves),
                                              title=f"adversaries: {what} against the SNR bound", ylabel=what),
                      Path(out) / "adversarial.png")
    examples = []
    if example is not None:
        i, snr, audio = example
        (Path(out) / "audio").mkdir(exist_ok=True)
        _write_wav(Path(out) / "audio" / "adversary_original.wav", clips[i], sample_rate)
        _write_wav(Path(out) / "audio" / "adversary_adversarial.wav", audio, sample_rate)
        examples.append({"clip": i, "snr_db": snr, "original": "audio/adversary_original.wav",
                         "adversarial": "audio/adversary_adversarial.wav"})
    # verdict: the metric brought halfway (or more) to chance under a bound a listener would hardly hear
    hi, lo = THRESHOLDS["adversary_db"]

    def broken(c):
        return clean_value - c["value"] >= 0.5 * (clean_value - chance)

    worst = [c for d in curves for c in curves[d] if broken(c)]
    top_snr = max((c["snr_db"] for c in worst), default=None)
    v = "pass" if top_snr is None else ("fail" if top_snr >= hi else ("warn" if top_snr >= lo else "pass"))
    sentence = (f"no adversary within the tested bounds takes the {what} halfway to chance"
                if top_snr is None else f"an adversary at {top_snr:g} dB SNR takes the {what} from {clean_value:.2f} "
                                        f"at least halfway to {chance:.2f}")
    return {"curves": curves, "clean": clean_value, "chance": chance, "what": what, "n_clips": len(idx),
            "iterations": iterations, "examples": examples,
            "figures": [("adversarial.png", f"{what.capitalize()} on adversarial audio against the SNR bound "
                                            "(spectral: magnitude-spectrum SNR; waveform: time-domain SNR).")],
            "verdicts": [{"test": "adversarial", "figure": "—" if top_snr is None else f"{top_snr:g} dB",
                          "flag": v, "sentence": sentence + "."}]}


def _leakage(out, meta, data, *, with_splits, repeats, train_overrides, seed, progress):
    def not_run(why):
        return {"verdicts": [{"test": "split leakage", "figure": "—", "flag": "not run", "sentence": why}]}

    if not with_splits:
        return not_run("not asked for (--with-splits trains the system on a random and a group-filtered split)")
    if data.dataset not in ("gtzan", "lmd", "folder"):
        return not_run(f"the {data.dataset} dataset has no artist groups kerasmgr can split by "
                       "(use a folder-per-class dataset with an artists.csv)")
    root = Path(data.data_root)
    artists = root / "artists.csv"
    if not artists.is_file():
        return not_run(f"{artists}: no artist table (columns path, artist) — the dataset has no groups")
    model_name = train_overrides.get("model") or meta.get("model")
    if not model_name:
        return not_run("the model's registry name is unknown (no sidecar); pass --split-model")
    base = gtzan_base(root) if data.dataset == "gtzan" else root
    split_dir = Path(out) / "splits"
    table = read_artist_table(artists)
    write_split_lists(base, split_dir, "audit-random", seed=seed)
    write_split_lists(base, split_dir, "audit-grouped", seed=seed, artists=table)
    sel = dataclasses.replace(data, split=None, split_dir=str(split_dir), subset="test")
    overrides = dict(train_overrides, model=model_name, verbose=1 if progress else 0, seed=seed)
    cmp = compare_splits(["audit-random", "audit-grouped"], sel, repeats=repeats, out=Path(out) / "leakage",
                         progress=progress, **overrides)
    heads = {k: v["headline_mean"] for k, v in cmp["summaries"].items()}
    key = next(iter(heads["audit-random"]))
    drop = heads["audit-random"][key] - heads["audit-grouped"][key]
    # the drop per repeat (same seed on both splits) and its 95 % t-interval over repeats
    per_run = [main_metrics(a)[key] - main_metrics(b)[key]
               for a, b in zip(cmp["results"]["audit-random"], cmp["results"]["audit-grouped"])]
    interval = None
    if len(per_run) >= 2:
        half = float(stats.t.ppf(0.975, len(per_run) - 1) * np.std(per_run, ddof=1) / np.sqrt(len(per_run)))
        interval = [drop - half, drop + half]
    warn, fail = THRESHOLDS["leakage"]
    ci = "" if interval is None else f", 95 % interval {interval[0]:+.3f} to {interval[1]:+.3f}"
    return {"summaries": cmp["summaries"], "text": cmp["text"], "metric": key, "drop": drop, "per_run": per_run,
            "interval": interval,
            "verdicts": [{"test": "split leakage", "figure": f"{drop:+.3f}", "flag": flag(drop, warn, fail),
                          "sentence": f"{key} falls by {drop:.3f} from a random to an artist-filtered split "
                                      f"({repeats} run(s) each{ci}; one run gives no interval)." if interval is None
                          else f"{key} falls by {drop:.3f} from a random to an artist-filtered split ({repeats} runs "
                               f"each{ci})."}]}


def _responds(out, model, data, clips, names, sample_rate, *, n_clips, progress):
    res = {"auralisation": None, "activations": None, "not_run": {}}
    try:
        s = auralise_job.run(model, Path(out) / "responds" / "auralise", audio=clips[0], audio_name=Path(names[0]).name,
                             top=2, progress=progress)
        wavs = sorted((Path(out) / "responds" / "auralise" / "wav").glob("*.wav"))
        res["auralisation"] = {"layers": s["layers"], "figure": "responds/auralise/deconvolved.png",
                               "original": "responds/auralise/original.wav",
                               "wavs": [str(w.relative_to(out)) for w in wavs]}
    except ValueError as e:
        res["not_run"]["auralisation"] = str(e)
    try:
        r = activations_job.run(model, Path(out) / "responds" / "activations", data, limit=n_clips, map_clips=1,
                                conv_layers=(1, 2), top=3, progress=progress)
        res["activations"] = {"dense": r["dense"], "maps": r["maps"], "n_clips": r["n_clips"],
                              "figures": [f for f in ("responds/activations/correlations.png",
                                                      "responds/activations/sift_histograms.png")
                                          if (Path(out) / f).is_file()]}
    except (ValueError, KeyError) as e:
        res["not_run"]["activations"] = str(e)
    best = []
    for layer, feats in (res["activations"] or {}).get("dense", {}).items():
        for feat, v in feats.items():
            if v["by_correlation"]:
                b = v["by_correlation"][0]
                best.append(f"{layer} neuron {b['neuron']}: r = {b['pearson']:+.2f} with {feat}")
    sentence = "; ".join(best) if best else "see the auralised features"
    res["verdicts"] = [{"test": "what it responds to", "figure": "—", "flag": "info", "sentence": sentence + "."}]
    return res


def _comparison(name_b, scores_a, scores_b, targets, labels, task, *, n_boot, seed):
    out = {"model": name_b, "metric_a": task_metric(task, targets, scores_a),
           "metric_b": task_metric(task, targets, scores_b),
           "paired_bootstrap": paired_bootstrap(task, targets, scores_a, scores_b, n_boot=n_boot, seed=seed)}
    if task == "genre":
        out["mcnemar"] = mcnemar(scores_a.argmax(axis=1) == targets, scores_b.argmax(axis=1) == targets)
        out["accuracy_b"] = classification_metrics(targets, scores_b, labels)["accuracy"]
    return out


# ------------------------------------------------------------------------------------------- the job
def run_audit(model, out, data=None, *, task=None, limit=None, transforms=None, adversary_snrs=(10.0, 20.0, 30.0, 40.0),
              adversary_clips=6, adversary_iterations=20, responds=True, responds_clips=12, with_splits=False,
              split_repeats=1, split_train=None, compare=None, n_boot=1000, examples=3, seed=0, batch_size=16,
              progress=True):
    """Audit one saved model (or compare two) on a dataset subset and write the report folder.

    Parameters
    ----------
    model : keras.Model or str
        A model, a saved ``.keras``/``.h5`` file (its sidecar names the task and labels) or a
        released-weights name.
    out : str or Path
        Report folder: ``index.html``, ``audit.json``, figures, ``audio/``, ``sections/``.
    data : DataSelection or None
        The clips (default: the embedded dataset's test subset, at the model's rate).
    task : {'genre', 'tags'} or None
        Default: the sidecar's, else from the output activation.
    limit : int or None
        Audit at most this many clips (the first of the subset).
    transforms : list of str or None
        Transformation families (default: all of :data:`kerasmgr.audit.TRANSFORMS`).
    adversary_snrs : sequence of float
        SNR bounds (dB) of the robustness curve; empty to skip the section.
    adversary_clips, adversary_iterations : int
        Clips attacked and gradient steps per adversary.
    responds : bool
        The auralisation and activations section.
    responds_clips : int
        Clips of the activations analysis.
    with_splits : bool
        Train the system on a random and an artist-filtered split (folder datasets with an
        ``artists.csv``; ``split_train``: training options, ``split_repeats`` runs each).
    compare : keras.Model or str or None
        A second model measured on the same clips (paired statistics).
    n_boot : int
        Bootstrap resamples.
    examples : int
        Audio examples of the worst flips.
    seed : int
        Seed of the noise, the bootstrap and the adversaries' targets.

    Returns
    -------
    dict
        What ``audit.json`` holds: ``verdicts``, ``sections``, ``timings`` (seconds per section),
        ``seconds``.
    """
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    run = _setup(model, data, task, limit, compare, progress)
    m, meta, task, labels, sample_rate, data = (run[k] for k in ("model", "meta", "task", "labels", "sample_rate", "data"))
    key = _scores_key(run, transforms, seed, batch_size)
    scores = _ClipScores.load(out / "sections" / "scores", key)  # a rerun, or the merge of parts
    if scores is None:
        scores = _score_clips(m, run["paths"], sample_rate, max_seconds=run["max_seconds"], transforms=transforms,
                              seed=seed, batch_size=batch_size, compare=run["compare"], progress=progress)
        (out / "sections").mkdir(exist_ok=True)
        scores.save(out / "sections" / "scores", key)
    if len(scores.index) < 2:
        raise ValueError(f"need at least 2 readable clips, got {len(scores.index)} ({len(scores.skipped)} unreadable)")
    names = [run["paths"][i] for i in scores.index]
    clips = _Clips(names, sample_rate, run["max_seconds"])
    targets = run["targets"][scores.index]
    settings = {"model": _name(m, meta), "task": task, "data": data.to_dict(), "limit": limit, "transforms": transforms,
                "adversary_snrs": list(adversary_snrs), "adversary_clips": adversary_clips,
                "adversary_iterations": adversary_iterations, "responds": responds, "with_splits": with_splits,
                "n_boot": n_boot, "seed": seed, "compare": None if compare is None else str(compare)}
    store_ = _Sections(out, settings)
    sections, timings = {}, {"scores": scores.seconds}  # the scores' computing (the parts' sum after a merge)

    def section(name, fn):
        t = time.perf_counter()
        done = store_.get(name)
        if done is None:
            done = store_.put(name, fn())
            timings[name] = time.perf_counter() - t
        else:
            timings[name] = done.get("seconds", 0.0)
        sections[name] = dict(done, seconds=timings[name])
        store_.put(name, sections[name])

    section("performance", lambda: _performance(out, scores.posteriors, targets, labels, task, n_boot=n_boot,
                                                seed=seed))
    section("transformations", lambda: _transformations(out, clips, scores, targets, labels, task, sample_rate,
                                                        names=transforms, seed=seed, examples=examples))
    if adversary_snrs:
        section("adversarial", lambda: _adversarial(out, m, clips, targets, labels, task, sample_rate,
                                                    snrs=list(adversary_snrs), n_clips=adversary_clips,
                                                    iterations=adversary_iterations, seed=seed, progress=progress))
    section("leakage", lambda: _leakage(out, meta, data, with_splits=with_splits, repeats=split_repeats,
                                        train_overrides=dict(split_train or {}), seed=seed, progress=progress))
    if responds:
        section("responds", lambda: _responds(out, m, data, clips, names, sample_rate, n_clips=responds_clips,
                                              progress=progress))
    if compare is not None:
        section("comparison", lambda: _comparison(_name(run["compare"], run["compare_meta"]), scores.clean,
                                                  scores.compare, targets, labels, task, n_boot=n_boot, seed=seed))
    verdicts = [v for s in sections.values() for v in s.get("verdicts", [])]
    result = {"model": _name(m, meta), "task": task, "labels": labels, "sample_rate": sample_rate,
              "data": data.to_dict(), "n_clips": len(names), "skipped": scores.skipped,
              "thresholds": THRESHOLDS, "verdicts": verdicts, "sections": sections, "timings": timings,
              "seconds": time.perf_counter() - t_start}
    (out / "audit.json").write_text(json.dumps(result, indent=2, default=json_default))
    write_page(out, result)
    return result


def _scores_key(run, transforms, seed, batch_size):
    return _settings_key({**run["identity"], "transforms": transforms, "seed": seed, "batch_size": batch_size})


def audit_part(model, out, data, part, *, overwrite=False, progress=True, **kwargs):
    """Part ``K`` of ``N`` of an audit (a job-array task): the per-clip scores of the ``K``-th
    contiguous block of the audited clips — clean segment posteriors, the posteriors under every
    transformation, the compared model's — the bulk of an audit's computing.

    Writes ``OUT/audit.part-K-of-N.{npz,json}`` and ``.part.json`` (which records ``kwargs`` for
    the merge). Every finished block of :data:`SCORE_BLOCK` clips is saved under ``….blocks/``:
    a killed part resumes after its last finished block; a finished part is not recomputed.
    :func:`merge_audit` (``bin/merge_parts.py audit OUT``) joins the parts and runs the rest of
    the audit (adversaries, leakage, what it responds to, the page) once: the report equals a
    single run's.

    Parameters
    ----------
    model : str
        A saved model's path or a released-weights name (the merge loads it again).
    out : str or Path
        The report folder (every part and the merge use the same).
    data : DataSelection or None
    part : (int, int)
    **kwargs
        :func:`run_audit`'s options (``task``, ``limit``, ``transforms``, ``seed``,
        ``batch_size``, ``compare``, ``n_boot``, ...), the same for every part.

    Returns
    -------
    dict
        ``n`` clips in this part, ``skipped``, ``npz``, ``part_json``.
    """
    data = data or DataSelection()
    out = Path(out)
    opts = {k: kwargs.get(k, v.default) for k, v in inspect.signature(run_audit).parameters.items()
            if v.kind is inspect.Parameter.KEYWORD_ONLY and k != "progress"}
    unknown = sorted(set(kwargs) - set(opts))
    if unknown:
        raise TypeError(f"audit_part() got unknown options {unknown}")
    opts["adversary_snrs"] = list(opts["adversary_snrs"])
    run = _setup(str(model), data, opts["task"], opts["limit"], opts["compare"], progress)
    key = _scores_key(run, opts["transforms"], opts["seed"], opts["batch_size"])
    settings = {**model_identity(model), "data": data.to_dict(), "options": opts, "scores_key": key}
    stem = out / "audit"
    done = None if overwrite else finished_part(stem, run["paths"], *part, settings)
    if done is None:
        pstem, meta = start_part(stem, run["paths"], *part, settings, overwrite=overwrite)
        # a block's .json is written after its .npz: a killed part resumes after its last whole block
        blocks, firsts = part_blocks(pstem, overwrite=overwrite, marker=".json")
        _score_clips(run["model"], run["paths"][meta["start"]:meta["stop"]], run["sample_rate"],
                     max_seconds=run["max_seconds"], transforms=opts["transforms"], seed=opts["seed"],
                     batch_size=opts["batch_size"], compare=run["compare"], progress=progress,
                     start=firsts[-1] + SCORE_BLOCK if firsts else 0,
                     on_block=lambda first, sc: sc.save(block_stem(blocks, first), key))
        firsts = part_blocks(pstem, marker=".json")[1]
        scores = _ClipScores.concat([_ClipScores.load(block_stem(blocks, f), key) for f in firsts], firsts)
        scores.save(pstem, key)
        finish_part(pstem, meta)
        shutil.rmtree(blocks)
        done = {**meta, "complete": True}
    else:
        scores = _ClipScores.load(part_stem(stem, *part))
    pstem = part_stem(stem, *part)
    return {"n": done["stop"] - done["start"], "skipped": scores.skipped, "npz": f"{pstem}.npz",
            "part_json": f"{pstem}.part.json"}


def merge_audit(out, *, progress=True):
    """Join the parts of an audit (:func:`audit_part`) and finish it: the merged per-clip scores go
    to ``OUT/sections/scores``, then :func:`run_audit` runs with the parts' options, computing the
    sections that need every clip's scores once (performance with its bootstrap, transformations,
    comparison) and the fixed-size ones (adversaries, leakage, what it responds to).

    Raises
    ------
    PartError
        Missing, overlapping, unfinished or mismatched parts (named).

    Returns
    -------
    dict
        :func:`run_audit`'s result.
    """
    out = Path(out)
    ordered = load_parts(out / "audit")
    parts = []
    for m in ordered:
        sc = _ClipScores.load(m["stem"], m["settings"]["scores_key"])
        if sc is None:
            raise PartError(f"{m['stem']}.npz: missing or made with other settings; re-run part {m['part']}/{m['n_parts']}")
        parts.append(sc)
    settings = ordered[0]["settings"]
    (out / "sections").mkdir(parents=True, exist_ok=True)
    _ClipScores.concat(parts, [m["start"] for m in ordered]).save(out / "sections" / "scores", settings["scores_key"])
    return run_audit(settings["model"], out, DataSelection(**settings["data"]), progress=progress, **settings["options"])


def _setup(model, data, task, limit, compare, progress):
    """Model(s), task, labels and the audited items: what the single run and every part share."""
    m, meta, task = _load(model, task)
    sample_rate, _ = input_spec(m)
    data = data or DataSelection()
    ds = open_split(data, sample_rate=sample_rate, progress=progress)
    labels = list(meta.get("labels") or ds.labels(task))
    if len(labels) != int(m.output_shape[-1]):
        raise ValueError(f"the model has {m.output_shape[-1]} outputs but {len(labels)} labels are known")
    items = ds.items[:limit] if limit else ds.items
    mb, meta_b = (None, None) if compare is None else _load(compare, task)[:2]
    paths = [it.path for it in items]
    identity = {"model": _name(m, meta), "task": task, "data": data.to_dict(), "limit": limit,
                "compare": None if compare is None else _name(mb, meta_b)}
    return {"model": m, "meta": meta, "task": task, "labels": labels, "sample_rate": sample_rate, "data": data,
            "paths": paths, "targets": ds.targets(task, labels)[: len(paths)], "max_seconds": ds.max_seconds,
            "compare": mb, "compare_meta": meta_b, "identity": identity}


# ------------------------------------------------------------------------------------------- the page
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f5f5f5}.flag{font-weight:bold;padding:.1em .5em;border-radius:.3em;color:#fff;white-space:nowrap}
.pass{background:#2e7d32}.warn{background:#ef6c00}.fail{background:#c62828}.info{background:#1565c0}
.not-run{background:#777}img{max-width:100%;border:1px solid #eee}audio{width:260px;vertical-align:middle}
.small{color:#666;font-size:.9em}
"""


def _esc(x):
    return html.escape(str(x))


def _flag_html(f):
    return f'<span class="flag {_esc(f).replace(" ", "-")}">{_esc(f)}</span>'


def _audio(src):
    return f'<audio controls preload="none" src="{_esc(src)}"></audio>'


def _img(src, caption):
    return f'<figure><img src="{_esc(src)}" alt="{_esc(caption)}"><figcaption class="small">{_esc(caption)}</figcaption></figure>'


def _ci(d):
    return f"{d['value']:.3f} [{d['low']:.3f}, {d['high']:.3f}]"


def _data_title(data):
    return " ".join(str(v) for v in (data["dataset"], data["split"], data["subset"]) if v)


def write_page(out, result):
    """``out/index.html``: the audit as one self-contained page (relative links to its figures and audio)."""
    s = result["sections"]
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>kerasmgr audit: "
             f"{_esc(result['model'])}</title><style>{_CSS}</style></head><body>",
             f"<h1>Is the model listening to the music?</h1><p>Model <code>{_esc(result['model'])}</code> "
             f"({_esc(result['task'])}, {result['sample_rate']} Hz) on {result['n_clips']} clips of "
             f"<code>{_esc(_data_title(result['data']))}</code>; "
             f"audit took {result['seconds']:.0f} s.</p>",
             "<h2>Verdicts</h2><table><tr><th>test</th><th>figure</th><th>flag</th><th>what it means</th></tr>"]
    for v in result["verdicts"]:
        parts.append(f"<tr><td>{_esc(v['test'])}</td><td>{_esc(v['figure'])}</td><td>{_flag_html(v['flag'])}</td>"
                     f"<td>{_esc(v['sentence'])}</td></tr>")
    th = result["thresholds"]
    parts.append(f"</table><p class='small'>Thresholds: a transformation labelled inaudible or irrelevant warns when more "
                 f"than {100 * th['flip'][0]:.0f} % of decisions flip and fails above {100 * th['flip'][1]:.0f} %; "
                 f"performance passes when the 95 % interval lies above chance; an adversary fails the model when a bound "
                 f"of {th['adversary_db'][0]:g} dB or more takes the metric halfway to chance (warns from "
                 f"{th['adversary_db'][1]:g} dB); split leakage warns from a drop of {th['leakage'][0]:.2f} "
                 f"and fails from {th['leakage'][1]:.2f}.</p>")
    p = s.get("performance")
    if p:
        parts.append("<h2>Performance</h2><table><tr><th>level</th><th>metric</th><th>value [95 % interval]</th></tr>")
        for level in ("track", "segment"):
            for k, d in p[level].items():
                parts.append(f"<tr><td>{level}</td><td>{_esc(k)}</td><td>{_ci(d)}</td></tr>")
        parts.append(f"</table><p>Chance: {p['chance']:.3f}.</p>")
        parts += [_img(src, cap) for src, cap in p["figures"]]
    t = s.get("transformations")
    if t:
        parts.append("<h2>Irrelevant transformations</h2>")
        parts += [_img(src, cap) for src, cap in t["figures"]]
        parts.append("<table><tr><th>transformation</th><th>strength</th><th>perceptual</th><th>flipped</th><th>metric</th></tr>")
        for r in t["rows"]:
            parts.append(f"<tr><td>{_esc(r['transform'])}</td><td>{r['strength']:g} {_esc(r['unit'])}</td>"
                         f"<td>{_esc(r['perceptual'])}</td><td>{100 * r['flip_rate']:.1f} %</td><td>{r['metric']:.3f}</td></tr>")
        parts.append("</table>")
        for name, why in t["not_run"].items():
            parts.append(f"<p>{_esc(name)}: not run ({_esc(why)}).</p>")
        if t["examples"]:
            parts.append("<h3>The worst flips</h3><table><tr><th>clip</th><th>transformation</th><th>before</th>"
                         "<th>after</th><th>original</th><th>transformed</th></tr>")
            for e in t["examples"]:
                what = f"{e['transform']} {e['strength']:g} ({e['perceptual']})"
                parts.append(f"<tr><td>{e['clip']}</td><td>{_esc(what)}</td>"
                             f"<td>{_esc(e['before'])}</td><td>{_esc(e['after'])}</td><td>{_audio(e['original'])}</td>"
                             f"<td>{_audio(e['transformed'])}</td></tr>")
            parts.append("</table>")
    a = s.get("adversarial")
    if a and "curves" in a:
        parts.append(f"<h2>Adversarial robustness</h2><p>{a['n_clips']} clips, {a['iterations']} gradient steps per "
                     f"adversary; {_esc(a['what'])} without adversary: {a['clean']:.2f}.</p>")
        parts += [_img(src, cap) for src, cap in a["figures"]]
        for e in a["examples"]:
            parts.append(f"<p>Clip {e['clip']} at {e['snr_db']:g} dB: original {_audio(e['original'])} adversarial "
                         f"{_audio(e['adversarial'])}</p>")
    elif a:
        parts.append(f"<h2>Adversarial robustness</h2><p>Not run: {_esc(a['verdicts'][0]['sentence'])}</p>")
    lk = s.get("leakage")
    if lk:
        parts.append("<h2>Split leakage</h2>")
        parts.append(f"<pre>{_esc(lk['text'])}</pre>" if "text" in lk else
                     f"<p>Not run: {_esc(lk['verdicts'][0]['sentence'])}</p>")
    r = s.get("responds")
    if r:
        parts.append("<h2>What it responds to</h2>")
        au = r.get("auralisation")
        if au:
            parts.append(_img(au["figure"], "Deconvolved spectrograms of the most active features per layer."))
            parts.append(f"<p>Original {_audio(au['original'])}</p><table><tr><th>feature</th><th>auralised</th></tr>")
            for w in au["wavs"]:
                parts.append(f"<tr><td>{_esc(Path(w).stem)}</td><td>{_audio(w)}</td></tr>")
            parts.append("</table>")
        ac = r.get("activations")
        if ac:
            parts += [_img(f, "Activations against hand-crafted features (seed 003).") for f in ac["figures"]]
        for k, why in r.get("not_run", {}).items():
            parts.append(f"<p>{_esc(k)}: not run ({_esc(why)}).</p>")
    c = s.get("comparison")
    if c:
        pb = c["paired_bootstrap"]
        parts.append(f"<h2>Comparison</h2><p>Against <code>{_esc(c['model'])}</code>: metric {c['metric_a']:.3f} vs "
                     f"{c['metric_b']:.3f}; paired bootstrap difference {pb['difference']:+.3f} "
                     f"[{pb['low']:+.3f}, {pb['high']:+.3f}], p = {pb['p']:.3f}.")
        if "mcnemar" in c:
            mc = c["mcnemar"]
            parts.append(f" McNemar: {mc['b']} clips right only here, {mc['c']} only there, p = {mc['p']:.3f}.")
        parts.append("</p>")
    parts.append("<p class='small'>Numbers: <a href='audit.json'>audit.json</a>. Written by kerasmgr "
                 "(bin/audit.py).</p></body></html>")
    (Path(out) / "index.html").write_text("\n".join(parts), encoding="utf-8")
