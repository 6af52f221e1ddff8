"""Adversary jobs (seed 004): attack a saved model over a dataset subset; the ensemble table.

Reports are resumable CSVs written row by row (``report.csv``, ``ensemble.csv``), with
``summary.json``, adversarial audio, figures and the robustness curve. The adversaries
themselves are :mod:`kerasmgr.adversary`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import keras
import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from .. import plots, pretrained
from ..adversary import (
    SPECTRAL_SNR_DB,
    WAVEFORM_SNR_DB,
    SpectralView,
    binomial_p,
    choose_targets,
    lowpass,
    spectral_adversary,
    tag_adversary,
    waveform_adversary,
)
from ..data.audio import AudioError, load_audio
from ..data.selection import DataSelection, open_split
from ..metrics import classification_metrics
from .records import resumable_curve

__all__ = ["attack_dataset", "attack_tags", "attack_ensembles", "done_keys", "REPORT_FIELDS", "ENSEMBLE_FIELDS"]

# ------------------------------------------------------------------------------ dataset job
REPORT_FIELDS = ("id", "path", "domain", "true", "original_pred", "original_conf", "target", "adv_pred",
                 "adv_conf", "target_posterior", "reached", "success", "snr_spectral_db", "snr_time_db",
                 "iterations", "lowpass_original_pred", "lowpass_adv_pred", "deployed_original_pred",
                 "deployed_adv_pred", "wav")


def _deployed_summary(rows, labels, key):
    idx = {c: i for i, c in enumerate(labels)}
    rs = [r for r in rows if r.get(key)]
    if not rs:
        return None
    y = np.array([idx[r["true"]] for r in rs])
    pred = np.array([idx[r[key]] for r in rs])
    m = classification_metrics(y, np.eye(len(labels))[pred], labels)
    k = int((pred == y).sum())
    return {"n": len(rs), "accuracy": m["accuracy"], "normalised_accuracy": m["normalised_accuracy"],
            "n_correct": k, "binomial_p": binomial_p(k, len(rs), len(labels))}


def _load_model(model):
    """A model and its sidecar metadata from a model, a saved file, a released-weights name or an
    already loaded ``(model, metadata)`` pair."""
    if isinstance(model, tuple):
        return model
    if isinstance(model, keras.Model):
        return model, {}
    return pretrained.load(model)


def done_keys(path, *fields):
    """``{(row[f] for f in fields)}`` of a resumable CSV report (empty when it does not exist yet)."""
    if not path.exists():
        return set()
    with open(path) as f:
        return {tuple(r[k] for k in fields) for r in csv.DictReader(f)}


def _read_excerpt(view, path, max_seconds, skipped):
    """The first ``max_seconds`` of a file at the model's rate, or None (the reason appended to
    ``skipped``): an unreadable, silent or too-short file never ends a dataset job."""
    sr = view.sample_rate
    try:
        return load_audio(path, sr, max_seconds=max_seconds, min_seconds=view.min_samples() / sr, allow_silent=False)
    except AudioError as e:
        skipped.append({"path": path, "reason": str(e)})
        return None


def _figure(view, r, path, title):
    """Seed 004's figure 2 for one adversarial example (original, adversarial, difference)."""
    plots.save_figure(plots.adversary_figure(r.original_magnitude, r.magnitude, sample_rate=view.sample_rate,
                                             hop_length=view.frontend.hop_length, n_fft=view.frontend.n_fft,
                                             title=title), path)


def _read_rows(report):
    with open(report, newline="") as f:
        return list(csv.DictReader(f))


def _summary_head(model, meta, data, labels, sample_rate):
    """What every attack summary starts with: the model, the data and the labels."""
    return {"model": meta.get("path", getattr(model, "name", "")), "dataset": data.dataset, "split": data.split,
            "subset": data.subset, "labels": labels, "sample_rate": sample_rate}


def _is_tagger(view, meta):
    return view.activation == "sigmoid" or meta.get("task") == "tags"


def _model_and_excerpts(model, data, progress, *, tags=False):
    """The attacked model, its view and metadata, the excerpts' subset and the label names
    (``tags``: a sigmoid tagger, else a softmax classifier)."""
    model, meta = _load_model(model)
    view = SpectralView(model)
    if _is_tagger(view, meta) != tags:
        raise ValueError("this attack needs a multi-label (sigmoid) tagger" if tags else
                         "ensembles attack single-label (softmax) classifiers")
    ds = open_split(data, sample_rate=view.sample_rate, progress=progress)
    return model, meta, view, ds, list(meta.get("labels") or ds.labels("tags" if tags else "genre"))


def attack_dataset(model, out, data=None, *, limit=None, mode="random", p=None, label=None, snr=SPECTRAL_SNR_DB,
                   mu=0.1, max_iter=100, stop=0.9, momentum=True, griffin_lim=False, domains=("spectral",),
                   waveform_snr=WAVEFORM_SNR_DB, waveform_step=0.05, robustness_snrs=(10.0, 20.0, 30.0, 40.0),
                   lowpass_hz=None, max_seconds=30.0, figures=3, write_audio=True, seed=0, progress=True,
                   deployed=None, tag=None, direction="down", threshold=0.5):
    """Attack a saved model over a dataset subset and write the report (``bin/adversary.py``).

    A multi-label tagger is attacked with tag adversaries instead (:func:`attack_tags`, which
    takes ``tag``, ``direction`` and ``threshold``).

    Parameters
    ----------
    model : keras.Model or str
        Model, ``.keras``/``.h5`` path or released-weights name (single-label softmax models).
    out : str or Path
        Output folder: ``report.csv`` (one row per excerpt and domain, written as each finishes),
        ``summary.json``, ``wav/<id>_<domain>_target-<label>.wav``, ``figures/<id>.png`` (seed 004's
        figure 2), ``robustness.csv``/``robustness.png`` (accuracy against the SNR bound).
    data : DataSelection or None
        The excerpts' dataset, split and subset (default: the embedded dataset's test subset).
    limit : int or None
        Attack at most this many excerpts (the first ones of the subset).
    mode, p, label
        Target choice (:func:`choose_targets`).
    snr, mu, max_iter, stop, momentum, griffin_lim
        Spectral adversary settings (:func:`~kerasmgr.adversary.spectral_adversary`; :data:`DNN_MGR`
        defaults; ``snr=None``: no bound).
    domains : tuple of {'spectral', 'waveform'}
        Adversaries to run; both are reported side by side.
    waveform_snr, waveform_step
        Time-domain SNR bound in dB (``None``: no bound) and step of
        :func:`~kerasmgr.adversary.waveform_adversary`.
    robustness_snrs : sequence of float
        SNR bounds of the robustness curve: accuracy under the spectral adversary with targets
        that are always wrong (seed 004's robustness experiment), per bound; empty to skip.
    lowpass_hz : float or None
        Cut-off of dnn-mgr's 4th-order Butterworth check (default ``min(5000, 0.4 sr)``).
    max_seconds : float
        Excerpt length read from each file (dnn-mgr: the first 30 s).
    figures : int
        Figures for this many excerpts.
    write_audio : bool
        Write the adversarial wavs.
    seed : int
        Target draws.
    deployed : object or None
        The system that is deployed on the model's features, with ``predict_clip(audio) -> int``
        (e.g. :class:`kerasmgr.dnn_features.FeatureForest`, seed 004's headline experiment: the
        adversary attacks the DNN, the random forest on its features classifies the result). Its
        decisions on the original and adversarial audio are reported (``deployed_*`` columns;
        ``summary['deployed']``: accuracy, normalised accuracy, Binomial test against chance, mean
        SNR of the excerpts it misclassifies).

    Returns
    -------
    dict
        The summary (also ``summary.json``).

    Notes
    -----
    Resumable: excerpts already in ``report.csv`` are skipped. Unreadable or too-short files are
    listed in ``summary.json`` under ``skipped`` and never stop the job.
    """
    data = data or DataSelection()
    model, meta = _load_model(model)
    if _is_tagger(SpectralView(model), meta):  # multi-label: tag adversaries
        return attack_tags((model, meta), out, data, limit=limit, snr=snr, mu=mu, max_iter=max_iter, momentum=momentum,
                           griffin_lim=griffin_lim, domains=domains, waveform_snr=waveform_snr,
                           waveform_step=waveform_step, robustness_snrs=robustness_snrs, max_seconds=max_seconds,
                           figures=figures, write_audio=write_audio, progress=progress, tag=tag, direction=direction,
                           threshold=threshold)
    model, meta, view, ds, labels = _model_and_excerpts((model, meta), data, progress)
    sr = view.sample_rate
    out = Path(out)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    n_out = int(model.output_shape[-1])
    if len(labels) != n_out:
        raise ValueError(f"the model has {n_out} outputs but {len(labels)} labels are known")
    items = ds.items[: limit] if limit else ds.items
    index = {c: i for i, c in enumerate(labels)}
    true = np.array([index.get(it.label, -1) for it in items])
    targets = choose_targets(np.maximum(true, 0), mode, n_out, p=p, label=label, seed=seed)
    wrong = choose_targets(np.maximum(true, 0), "wrong", n_out, seed=seed + 1)  # robustness curve
    lowpass_hz = min(5000.0, 0.4 * sr) if lowpass_hz is None else float(lowpass_hz)

    report = out / "report.csv"
    done = done_keys(report, "id", "domain")
    new_file = not report.exists()
    fh = open(report, "a", newline="")
    writer = csv.DictWriter(fh, fieldnames=REPORT_FIELDS)
    if new_file:
        writer.writeheader()
    skipped, clips = [], {}
    n_fig = 0
    try:
        for i, it in enumerate(tqdm(items, desc="adversaries", disable=not progress)):
            uid = f"{i:05d}_{Path(it.path).stem}"
            if true[i] < 0:
                skipped.append({"path": it.path, "reason": f"label {it.label!r} is not one of the model's labels"})
                continue
            if all((uid, d) in done for d in domains) and not robustness_snrs:
                continue
            x = _read_excerpt(view, it.path, max_seconds, skipped)
            if x is None:
                continue
            clips[i] = x
            for d in domains:
                if (uid, d) in done:
                    continue
                try:
                    if d == "spectral":
                        r = spectral_adversary(view, x, targets[i], snr=snr, mu=mu, max_iter=max_iter, stop=stop,
                                               momentum=momentum, griffin_lim=griffin_lim)
                    else:
                        r = waveform_adversary(view, x, targets[i], snr=waveform_snr, step=waveform_step,
                                               max_iter=max_iter, stop=stop)
                except ValueError as e:  # one excerpt that cannot be attacked never ends the job
                    skipped.append({"path": it.path, "reason": f"{d} adversary: {e}"})
                    continue
                wav = ""
                if write_audio:
                    wav = f"wav/{uid}_{d}_target-{labels[r.target]}.wav"
                    sf.write(out / wav, np.clip(r.audio, -1, 1), sr, subtype="FLOAT")
                lp_o = int(np.argmax(view.posteriors(lowpass(x, sr, lowpass_hz))))
                lp_a = int(np.argmax(view.posteriors(lowpass(r.audio, sr, lowpass_hz))))
                adv_pred = int(np.argmax(r.audio_posteriors))
                dep_o = dep_a = ""
                if deployed is not None:
                    dep_o = labels[int(deployed.predict_clip(x))]
                    dep_a = labels[int(deployed.predict_clip(np.clip(r.audio, -1, 1)))]
                writer.writerow({
                    "id": uid, "path": it.path, "domain": d, "true": labels[true[i]],
                    "original_pred": labels[int(np.argmax(r.original_posteriors))],
                    "original_conf": round(float(np.max(r.original_posteriors)), 4),
                    "target": labels[r.target], "adv_pred": labels[adv_pred],
                    "adv_conf": round(float(r.audio_posteriors[adv_pred]), 4),
                    "target_posterior": round(float(r.posteriors[r.target]), 4), "reached": int(r.reached),
                    "success": int(r.success), "snr_spectral_db": round(r.snr_spectral_db, 3),
                    "snr_time_db": round(r.snr_time_db, 3), "iterations": r.iterations,
                    "lowpass_original_pred": labels[lp_o], "lowpass_adv_pred": labels[lp_a],
                    "deployed_original_pred": dep_o, "deployed_adv_pred": dep_a, "wav": wav})
                fh.flush()
                if d == "spectral" and n_fig < figures and r.magnitude is not None:
                    _figure(view, r, out / "figures" / f"{uid}.png",
                            f"{Path(it.path).name}: {labels[true[i]]} -> {labels[adv_pred]} (target "
                            f"{labels[r.target]}), SNR {r.snr_spectral_db:.1f} dB")
                    n_fig += 1
    finally:
        fh.close()

    rows = _read_rows(report)
    summary = {**_summary_head(model, meta, data, labels, sr), "mode": mode, "lowpass_hz": lowpass_hz,
               "settings": {"snr": snr, "mu": mu, "max_iter": max_iter, "stop": stop, "momentum": momentum,
                            "griffin_lim": griffin_lim, "waveform_snr": waveform_snr,
                            "waveform_step": waveform_step},
               "skipped": skipped, "domains": {}}
    for d in domains:
        rs = [r for r in rows if r["domain"] == d]
        if not rs:
            continue
        def f(k, rs=rs):  # bound explicitly: one domain's rows
            return np.array([float(r[k]) for r in rs])

        snr_s, snr_t = f("snr_spectral_db"), f("snr_time_db")
        summary["domains"][d] = {
            "n": len(rs),
            "accuracy_before": float(np.mean([r["original_pred"] == r["true"] for r in rs])),
            "accuracy_after": float(np.mean([r["adv_pred"] == r["true"] for r in rs])),
            "success_rate": float(f("success").mean()),
            "reached_rate": float(f("reached").mean()),
            "snr_spectral_db": {"mean": float(np.mean(snr_s[np.isfinite(snr_s)])) if np.isfinite(snr_s).any()
                                else None, "min": float(np.min(snr_s)), "max": float(np.max(snr_s))},
            "snr_time_db": {"mean": float(np.mean(snr_t[np.isfinite(snr_t)])) if np.isfinite(snr_t).any()
                            else None, "min": float(np.min(snr_t)), "max": float(np.max(snr_t))},
            "mean_confidence": float(f("adv_conf").mean()),
            "mean_iterations": float(f("iterations").mean()),
            "lowpass_accuracy_original": float(np.mean([r["lowpass_original_pred"] == r["true"] for r in rs])),
            "lowpass_accuracy_adversarial": float(np.mean([r["lowpass_adv_pred"] == r["true"] for r in rs])),
        }

    dep_rows = [r for r in rows if r["domain"] == "spectral" and r.get("deployed_adv_pred")]
    if dep_rows:
        before, after = (_deployed_summary(dep_rows, labels, k) for k in ("deployed_original_pred", "deployed_adv_pred"))
        mis = [float(r["snr_spectral_db"]) for r in dep_rows if r["deployed_adv_pred"] != r["true"]]
        mis = [v for v in mis if np.isfinite(v)]
        summary["deployed"] = {"original": before, "adversarial": after,
                               "mean_snr_misclassified_db": float(np.mean(mis)) if mis else None,
                               "n_misclassified": len(mis)}
    if robustness_snrs:
        def accuracy_at(snr_bound):
            correct = 0
            for i in sorted(clips):
                r = spectral_adversary(view, clips[i], wrong[i], snr=snr_bound, mu=mu, max_iter=max_iter, stop=stop,
                                       momentum=momentum, griffin_lim=griffin_lim)
                correct += int(np.argmax(r.audio_posteriors)) == true[i]
            return correct / max(len(clips), 1), len(clips)

        curve = resumable_curve(out / "robustness.csv", robustness_snrs, accuracy_at, y="accuracy",
                                desc="robustness", progress=progress)
        snrs = sorted(curve)
        clean = summary["domains"].get("spectral", {}).get("accuracy_before")
        plots.save_figure(plots.robustness_figure(snrs, [float(curve[k]["accuracy"]) for k in snrs],
                                                  chance=1.0 / n_out, clean=clean,
                                                  title="spectral adversary, always-wrong targets"),
                          out / "robustness.png")
        summary["robustness"] = [{"snr_db": k, "accuracy": float(curve[k]["accuracy"])} for k in snrs]
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


ENSEMBLE_FIELDS = ("id", "path", "true", "target", "reached", "adv_pred", "adv_conf", "snr_spectral_db",
                   "iterations")


def attack_ensembles(model, out, data=None, *, limit=None, snr=SPECTRAL_SNR_DB, mu=0.1, max_iter=100, stop=0.9,
                     momentum=True, griffin_lim=False, max_seconds=30.0, progress=True):
    """Seed 004's ensembles: every excerpt attacked towards every label; the ensemble table.

    Writes ``ensemble.csv`` (one row per excerpt and target, appended as each finishes;
    resumable), ``ensemble.md`` (excerpts × labels: the SNR in dB of the adversary that made the
    model choose that label, ``–`` where none reached ``stop``) and returns a summary: the share
    of (excerpt, label) pairs reached, and their mean SNR.

    Parameters
    ----------
    model : keras.Model or str
        A single-label softmax model (or a saved file).
    out : str or Path
        Output folder.
    data, limit, max_seconds
        The excerpts (as :func:`attack_dataset`).
    snr, mu, max_iter, stop, momentum, griffin_lim
        :func:`spectral_adversary` settings (``stop`` is the minimum confidence).

    Returns
    -------
    dict
    """
    data = data or DataSelection()
    model, meta, view, ds, labels = _model_and_excerpts(model, data, progress)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    items = ds.items[:limit] if limit else ds.items
    path = out / "ensemble.csv"
    done = done_keys(path, "id", "target")
    new = not path.exists()
    skipped = []
    with open(path, "a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=ENSEMBLE_FIELDS)
        if new:
            w.writeheader()
        for i, it in enumerate(tqdm(items, desc="ensembles", disable=not progress)):
            uid = f"{i:05d}_{Path(it.path).stem}"
            if all((uid, lab) in done for lab in labels):
                continue
            x = _read_excerpt(view, it.path, max_seconds, skipped)
            if x is None:
                continue
            for t, lab in enumerate(labels):
                if (uid, lab) in done:
                    continue
                r = spectral_adversary(view, x, t, snr=snr, mu=mu, max_iter=max_iter, stop=stop, momentum=momentum,
                                       griffin_lim=griffin_lim)
                pred = int(np.argmax(r.audio_posteriors))
                w.writerow({"id": uid, "path": it.path, "true": it.label, "target": lab, "reached": int(r.reached),
                            "adv_pred": labels[pred], "adv_conf": round(float(r.audio_posteriors[pred]), 4),
                            "snr_spectral_db": round(r.snr_spectral_db, 3), "iterations": r.iterations})
                fh.flush()
    with open(path) as f:
        rows = list(csv.DictReader(f))
    ids = sorted({r["id"] for r in rows})
    cell = {(r["id"], r["target"]): r for r in rows}
    lines = [f"Ensembles: minimum confidence {stop}, SNR bound {snr} dB; cell = spectral SNR (dB) of the "
             f"adversary that made the model choose the column's label, '–' where none did", "",
             "| excerpt (true) | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for uid in ids:
        true = next(r["true"] for r in rows if r["id"] == uid)
        cells = []
        for lab in labels:
            r = cell.get((uid, lab))
            ok = r is not None and r["adv_pred"] == lab and float(r["adv_conf"]) >= stop
            cells.append(f"{float(r['snr_spectral_db']):.1f}" if ok else "–")
        lines.append(f"| {uid} ({true}) | " + " | ".join(cells) + " |")
    reached = [r for r in rows if r["adv_pred"] == r["target"] and float(r["adv_conf"]) >= stop]
    snrs = [float(r["snr_spectral_db"]) for r in reached if np.isfinite(float(r["snr_spectral_db"]))]
    summary = {"n_pairs": len(rows), "n_reached": len(reached), "reached_rate": len(reached) / max(len(rows), 1),
               "mean_snr_db": float(np.mean(snrs)) if snrs else None, "stop": stop, "snr": snr,
               "skipped": skipped}
    lines += ["", f"{len(reached)} of {len(rows)} (excerpt, label) pairs reached; mean SNR "
                  f"{summary['mean_snr_db'] if summary['mean_snr_db'] is None else round(summary['mean_snr_db'], 1)} dB"]
    (out / "ensemble.md").write_text("\n".join(lines) + "\n")
    (out / "ensemble.json").write_text(json.dumps(summary, indent=2))
    return summary


TAG_FIELDS = ("id", "path", "domain", "true_tags", "tag", "direction", "original_score", "adv_score", "reached",
              "success", "snr_spectral_db", "snr_time_db", "iterations", "top_tags_after", "wav")


def attack_tags(model, out, data=None, *, tag=None, direction="down", threshold=0.5, limit=None, snr=SPECTRAL_SNR_DB,
                mu=0.1, max_iter=100, momentum=True, griffin_lim=False, domains=("spectral",),
                waveform_snr=WAVEFORM_SNR_DB, waveform_step=0.05, robustness_snrs=(10.0, 20.0, 30.0, 40.0),
                max_seconds=30.0, figures=3, write_audio=True, progress=True):
    """Tag adversaries over a dataset subset (``bin/adversary.py`` on a multi-label tagger).

    For every excerpt, the adversary pushes one tag's score across ``threshold``: ``tag=None``
    removes the excerpt's top tag (``direction='down'``), otherwise the named tag goes
    ``direction`` (``'up'``: make it present, ``'down'``: absent). The same SNR-ball projections
    as the single-label adversaries (:func:`kerasmgr.adversary.tag_adversary`).

    Parameters
    ----------
    model : keras.Model or str
        A sigmoid tagger, a saved file or a released-weights name.
    out : str or Path
        ``report.csv`` (one row per excerpt and domain, appended as each finishes: resumable),
        ``summary.json``, ``wav/``, ``figures/`` (original, adversarial and difference
        spectrograms) and ``robustness.csv``/``.png`` (share of excerpts that keep their top tag
        against the SNR bound).
    data : DataSelection or None
    tag : str or None
    direction : {'down', 'up'}
    threshold : float
    limit, snr, mu, max_iter, momentum, griffin_lim, domains, waveform_snr, waveform_step,
    robustness_snrs, max_seconds, figures, write_audio, progress
        As :func:`attack_dataset`.

    Returns
    -------
    dict
        The summary: per domain the success rate, mean SNRs and mean score change.
    """
    data = data or DataSelection()
    model, meta = _load_model(model)
    known = meta.get("labels")
    if tag is not None and known and tag not in known:  # before any dataset is opened
        raise ValueError(f"tag {tag!r} is not one of the model's tags {known}")
    model, meta, view, ds, labels = _model_and_excerpts((model, meta), data, progress, tags=True)
    if tag is not None and tag not in labels:
        raise ValueError(f"tag {tag!r} is not one of the model's tags {labels}")
    if tag is None and direction != "down":
        raise ValueError("without --tag the attack removes each excerpt's top tag (direction 'down')")
    sr = view.sample_rate
    out = Path(out)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    items = ds.items[: limit] if limit else ds.items
    report = out / "report.csv"
    done = done_keys(report, "id", "domain")
    new_file = not report.exists()
    skipped, clips, tops, n_fig = [], {}, {}, 0  # tops: each excerpt's top tag before the attack
    with open(report, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=TAG_FIELDS)
        if new_file:
            writer.writeheader()
        for i, it in enumerate(tqdm(items, desc="tag adversaries", disable=not progress)):
            uid = f"{i:05d}_{Path(it.path).stem}"
            if all((uid, d) in done for d in domains) and not robustness_snrs:
                continue
            x = _read_excerpt(view, it.path, max_seconds, skipped)
            if x is None:
                continue
            clips[i] = x
            before = view.posteriors(x)
            tops[i] = int(np.argmax(before))
            t = tops[i] if tag is None else labels.index(tag)
            for d in domains:
                if (uid, d) in done:
                    continue
                kw = (dict(snr=snr, mu=mu, momentum=momentum, griffin_lim=griffin_lim) if d == "spectral"
                      else dict(snr=waveform_snr, step=waveform_step))
                try:
                    r = tag_adversary(view, x, t, direction=direction, threshold=threshold, domain=d, max_iter=max_iter,
                                      **kw)
                except ValueError as e:
                    skipped.append({"path": it.path, "reason": f"{d} adversary: {e}"})
                    continue
                wav = ""
                if write_audio:
                    wav = f"wav/{uid}_{d}_{direction}-{labels[t]}.wav"
                    sf.write(out / wav, np.clip(r.audio, -1, 1), sr, subtype="FLOAT")
                after = r.audio_posteriors
                writer.writerow({"id": uid, "path": it.path, "domain": d, "true_tags": ";".join(it.tags),
                                 "tag": labels[t], "direction": direction,
                                 "original_score": round(float(before[t]), 4), "adv_score": round(float(after[t]), 4),
                                 "reached": int(r.reached), "success": int(r.success),
                                 "snr_spectral_db": round(r.snr_spectral_db, 3), "snr_time_db": round(r.snr_time_db, 3),
                                 "iterations": r.iterations,
                                 "top_tags_after": ";".join(labels[j] for j in np.argsort(-after)[:3]), "wav": wav})
                fh.flush()
                if d == "spectral" and n_fig < figures and r.magnitude is not None:
                    _figure(view, r, out / "figures" / f"{uid}.png",
                            f"{Path(it.path).name}: '{labels[t]}' {before[t]:.2f} -> {after[t]:.2f}, "
                            f"SNR {r.snr_spectral_db:.1f} dB")
                    n_fig += 1
    rows = _read_rows(report)
    summary = {**_summary_head(model, meta, data, labels, sr), "tag": tag, "direction": direction,
               "threshold": threshold, "settings": {"snr": snr, "waveform_snr": waveform_snr, "mu": mu,
                                                    "max_iter": max_iter, "momentum": momentum,
                                                    "griffin_lim": griffin_lim},
               "skipped": skipped, "domains": {}}
    for d in domains:
        rs = [r for r in rows if r["domain"] == d]
        if not rs:
            continue
        col = {k: np.array([float(r[k]) for r in rs]) for k in ("success", "original_score", "adv_score",
                                                                 "snr_spectral_db", "snr_time_db", "iterations")}
        finite = {k: v[np.isfinite(v)] for k, v in col.items()}
        summary["domains"][d] = {
            "n": len(rs), "success_rate": float(col["success"].mean()),
            "mean_score_before": float(col["original_score"].mean()), "mean_score_after": float(col["adv_score"].mean()),
            "snr_spectral_db": float(finite["snr_spectral_db"].mean()) if len(finite["snr_spectral_db"]) else None,
            "snr_time_db": float(finite["snr_time_db"].mean()) if len(finite["snr_time_db"]) else None,
            "mean_iterations": float(col["iterations"].mean())}
    if robustness_snrs and tag is None:
        def kept_at(snr_bound):
            kept = 0
            for i in sorted(clips):
                r = tag_adversary(view, clips[i], tops[i], direction="down", threshold=threshold, snr=snr_bound,
                                  max_iter=max_iter, mu=mu, momentum=momentum, griffin_lim=griffin_lim)
                kept += int(not r.success)
            return kept / max(len(clips), 1), len(clips)

        curve = resumable_curve(out / "robustness.csv", robustness_snrs, kept_at, y="top_tag_kept",
                                desc="robustness", progress=progress)
        snrs = sorted(curve)
        plots.save_figure(plots.robustness_figure(snrs, [float(curve[k]["top_tag_kept"]) for k in snrs], chance=0.0,
                                                  clean=1.0, title="spectral adversary removing the top tag",
                                                  ylabel="excerpts that keep their top tag"),
                          out / "robustness.png")
        summary["robustness"] = [{"snr_db": k, "top_tag_kept": float(curve[k]["top_tag_kept"])} for k in snrs]
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
