"""Track-level evaluation of segment classifiers, and summaries over repeated runs.

A model sees model-sized segments of a track (a Choi model: one 29-s crop; Schindler: 0.93-s
segments; a frame DNN: single frames). The track decision is made from the segment posteriors:

* ``raw`` — every segment is scored on its own (segment-level accuracy);
* ``max_probability`` — argmax of the summed (equivalently, mean) segment posteriors;
  this is what dnn-mgr's ``--majority_vote`` flag actually computes (a sum of posteriors);
* ``majority_vote`` — the most frequent segment argmax (ties go to the class with the larger
  summed posterior).

For tagging, the track scores are the mean segment posteriors.
"""

from __future__ import annotations

import json

import numpy as np

from . import metrics as mmetrics
from .data.windows import clip_windows, fixed_windows
from .inference import batch_predictor

__all__ = ["AGGREGATIONS", "segment_posteriors", "aggregate", "evaluate_segments", "summarise_runs",
           "format_classification_table", "format_tagging_table", "dumps", "infer_task", "main_metrics",
           "side_by_side", "summarise_headlines"]

AGGREGATIONS = ("raw", "max_probability", "majority_vote")


def segment_posteriors(model, clips, *, hop=None, batch_size=32, max_segments=None, fixed_segments=None, seed=0):
    """Posteriors of every model-sized segment of every clip.

    Parameters
    ----------
    model : keras.Model
        Waveform model, input ``(batch, n_samples)``.
    clips : iterable of 1-D np.ndarray
        Waveforms at the model's sample rate.
    hop : int or None
        Hop between segments in samples (default: no overlap).
    hop_seconds : float or None
        The same in seconds (converted at the model's rate); overrides ``hop``.
    batch_size : int
        Segments per forward pass.
    max_segments : int or None
        Keep at most this many evenly spaced segments per clip.
    fixed_segments : int or None
        Instead of consecutive windows, this many windows per clip at random offsets drawn once
        (keyed by ``seed`` and the clip's position: the same segments in every evaluation; seed
        001's 15 segments per test track).
    seed : int
        Seed of the fixed segments.

    Returns
    -------
    list of np.ndarray, each (n_segments_i, n_outputs)
    """
    n = int(model.input_shape[1])
    predict = batch_predictor(model, batch_size)  # one compiled forward pass; also safe under tf.distribute
    out = []
    for i, clip in enumerate(clips):
        if fixed_segments:
            out.append(predict(fixed_windows(clip, n, fixed_segments, seed=seed, clip_index=i)))
        else:
            out.append(predict(clip_windows(clip, n, hop=hop, max_windows=max_segments)))
    return out


def aggregate(posteriors, method):
    """Track-level decision scores from segment posteriors.

    Parameters
    ----------
    posteriors : list of np.ndarray, each (n_segments_i, n_classes)
    method : {'max_probability', 'majority_vote', 'mean'}
        'max_probability' and 'mean' return the mean posterior; 'majority_vote' returns
        the vote share of each class plus a tie-break of 1e-6 × the mean posterior.

    Returns
    -------
    np.ndarray, shape (n_tracks, n_classes)
        Scores whose argmax is the track decision.
    """
    if method in ("max_probability", "mean"):
        return np.stack([p.mean(axis=0) for p in posteriors])
    if method == "majority_vote":
        rows = []
        for p in posteriors:
            votes = np.bincount(p.argmax(axis=1), minlength=p.shape[1]) / len(p)
            rows.append(votes + 1e-6 * p.mean(axis=0))
        return np.stack(rows)
    raise ValueError(f"method must be 'max_probability', 'majority_vote' or 'mean', got {method!r}")


def evaluate_segments(task, posteriors, targets, labels):
    """All metrics of a task from segment posteriors.

    Parameters
    ----------
    task : {'genre', 'tags'}
    posteriors : list of np.ndarray, each (n_segments_i, n_outputs)
    targets : np.ndarray
        Class indices (n_tracks,) or multi-hot (n_tracks, n_tags).
    labels : list of str

    Returns
    -------
    dict
        genre: ``{'raw': ..., 'max_probability': ..., 'majority_vote': ...}`` each from
        :func:`kerasmgr.metrics.classification_metrics`; tags: ``{'track': tagging metrics of
        the mean posteriors, 'raw': segment-level tagging metrics}``.
    """
    targets = np.asarray(targets)
    seg_targets = np.concatenate([np.repeat(targets[i : i + 1], len(p), axis=0) for i, p in enumerate(posteriors)])
    seg_scores = np.concatenate(posteriors)
    if task == "genre":
        return {
            "raw": mmetrics.classification_metrics(seg_targets, seg_scores, labels),
            "max_probability": mmetrics.classification_metrics(targets, aggregate(posteriors, "max_probability"),
                                                               labels),
            "majority_vote": mmetrics.classification_metrics(targets, aggregate(posteriors, "majority_vote"),
                                                             labels),
        }
    if task == "tags":
        return {
            "track": mmetrics.tagging_metrics(targets, aggregate(posteriors, "mean"), labels),
            "raw": mmetrics.tagging_metrics(seg_targets, seg_scores, labels),
        }
    raise ValueError(f"task must be 'genre' or 'tags', got {task!r}")


def _scalars(d, prefix=""):
    """Flatten the float leaves of nested dicts: {'a': {'b': 1.0}} -> {'a.b': 1.0}."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_scalars(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None:
            out[key] = float(v)
    return out


def summarise_runs(results):
    """Mean and standard deviation (population, ddof=0) of every scalar over repeated runs.

    Parameters
    ----------
    results : list of dict
        One (nested) metrics dict per run.

    Returns
    -------
    dict
        ``{'n_runs': N, 'mean': {flat_key: mean}, 'std': {flat_key: std}}`` with keys such as
        ``max_probability.accuracy``.
    """
    flat = [_scalars(r) for r in results]
    keys = sorted(set.intersection(*(set(f) for f in flat))) if flat else []
    return {
        "n_runs": len(results),
        "mean": {k: float(np.mean([f[k] for f in flat])) for k in keys},
        "std": {k: float(np.std([f[k] for f in flat])) for k in keys},
    }


def format_classification_table(m, *, title=""):
    """Seed 000's table layout: confusion matrix (rows true, columns predicted) with per-class
    precision, recall and F-score, plus the overall accuracy."""
    classes = m["classes"]
    cm = np.asarray(m["confusion_matrix"])
    w = max(8, max(len(c) for c in classes) + 1)
    lines = [title] if title else []
    lines.append(" " * w + "".join(f"{c[:6]:>7}" for c in classes) + f"{'recall':>8}")
    for i, c in enumerate(classes):
        lines.append(f"{c:<{w}}" + "".join(f"{v:>7d}" for v in cm[i]) + f"{100 * m['per_class'][c]['recall']:>8.1f}")
    lines.append(f"{'precision':<{w}}" + "".join(f"{100 * m['per_class'][c]['precision']:>7.1f}" for c in classes))
    lines.append(f"{'F-score':<{w}}" + "".join(f"{100 * m['per_class'][c]['f1']:>7.1f}" for c in classes))
    lines.append(f"accuracy {100 * m['accuracy']:.1f} %   normalised accuracy {100 * m['normalised_accuracy']:.1f} %"
                 f"   ({m['n']} items)")
    return "\n".join(lines)


def format_tagging_table(m, *, title=""):
    """Per-tag ROC-AUC and PR-AUC with the macro averages."""
    lines = [title] if title else []
    lines.append(f"{'tag':<20}{'ROC-AUC':>9}{'PR-AUC':>9}{'positives':>11}")
    for t, v in m["per_tag"].items():
        roc = "   -" if v["roc_auc"] is None else f"{v['roc_auc']:.3f}"
        pr = "   -" if v["pr_auc"] is None else f"{v['pr_auc']:.3f}"
        lines.append(f"{t:<20}{roc:>9}{pr:>9}{v['positives']:>11d}")
    lines.append(f"{'macro':<20}{m['macro_roc_auc']:>9.3f}{m['macro_pr_auc']:>9.3f}{'':>11}  ({m['n']} items)")
    return "\n".join(lines)


def dumps(obj):
    """JSON text of a metrics dict."""
    return json.dumps(obj, indent=2)


# ----------------------------------------------------------------------------------------- models
def infer_task(model):
    """'genre' for a softmax output layer, 'tags' for sigmoid (layer ``output``)."""
    try:
        act = model.get_layer("output").activation.__name__
    except ValueError:
        act = None
    if act == "softmax":
        return "genre"
    if act == "sigmoid":
        return "tags"
    raise ValueError(f"cannot tell the task of model {model.name!r} (output activation {act}); pass task=")


def main_metrics(result):
    """The headline figures of an :func:`evaluate_segments`-style result (flat dict)."""
    if "max_probability" in result:
        return {
            "raw accuracy": result["raw"]["accuracy"],
            "max-probability accuracy": result["max_probability"]["accuracy"],
            "majority-vote accuracy": result["majority_vote"]["accuracy"],
            "normalised accuracy": result["max_probability"]["normalised_accuracy"],
        }
    return {"macro ROC-AUC": result["track"]["macro_roc_auc"], "macro PR-AUC": result["track"]["macro_pr_auc"],
            "segment ROC-AUC": result["raw"]["macro_roc_auc"]}


def side_by_side(summaries, names):
    """Text table of mean ± std headline metrics for several partitions (columns)."""
    keys = list(summaries[0]["headline_mean"])
    w = max(len(k) for k in keys) + 2
    lines = [" " * w + "".join(f"{n:>22}" for n in names)]
    for k in keys:
        cells = []
        for s in summaries:
            m, sd = s["headline_mean"][k], s["headline_std"][k]
            cells.append(f"{100 * m:.1f} ± {100 * sd:.1f}" if s["n_runs"] > 1 else f"{100 * m:.1f}")
        lines.append(f"{k:<{w}}" + "".join(f"{c:>22}" for c in cells))
    lines.append(f"{'runs':<{w}}" + "".join(f"{s['n_runs']:>22d}" for s in summaries))
    return "\n".join(lines)


def summarise_headlines(results):
    """Mean ± std of :func:`main_metrics` over runs."""
    heads = [main_metrics(r) for r in results]
    return {
        "n_runs": len(results),
        "headline_mean": {k: float(np.mean([h[k] for h in heads])) for k in heads[0]},
        "headline_std": {k: float(np.std([h[k] for h in heads])) for k in heads[0]},
        "all": summarise_runs(results),
    }
