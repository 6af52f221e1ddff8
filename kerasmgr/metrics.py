"""Evaluation metrics for genre classification and auto-tagging (scikit-learn based)."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

__all__ = ["classification_metrics", "tagging_metrics", "evaluate_predictions"]


def classification_metrics(y_true, y_prob, classes):
    """Single-label metrics from class posteriors.

    Parameters
    ----------
    y_true : array of int, shape (n,)
        True class indices.
    y_prob : array, shape (n, n_classes)
        Posteriors (or scores); the decision is their argmax.
    classes : list of str
        Class names in output order.

    Returns
    -------
    dict
        ``accuracy``; ``normalised_accuracy`` (mean per-class recall); ``confusion_matrix``
        (rows true, columns predicted); ``per_class`` {name: precision, recall, f1, support};
        ``n``.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_prob).argmax(axis=1)
    labels = np.arange(len(classes))
    cm = skm.confusion_matrix(y_true, y_pred, labels=labels)
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    present = s > 0
    return {
        "n": int(len(y_true)),
        "accuracy": float((y_pred == y_true).mean()) if len(y_true) else float("nan"),
        "normalised_accuracy": float(r[present].mean()) if present.any() else float("nan"),
        "confusion_matrix": cm.tolist(),
        "classes": list(classes),
        "per_class": {
            c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, c in enumerate(classes)
        },
    }


def tagging_metrics(y_true, y_score, tags):
    """Multi-label metrics: ROC-AUC and PR-AUC (average precision) per tag and macro.

    Tags whose test labels are all 0 or all 1 have no AUC (``None``) and are left out of the
    macro averages.

    Parameters
    ----------
    y_true : array, shape (n, n_tags)
        Multi-hot targets.
    y_score : array, shape (n, n_tags)
        Scores (e.g. sigmoid outputs).
    tags : list of str
        Tag names in output order.

    Returns
    -------
    dict
        ``macro_roc_auc``, ``macro_pr_auc``, ``per_tag`` {tag: {roc_auc, pr_auc, positives}}, ``n``.
    """
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score)
    per_tag = {}
    rocs, prs = [], []
    for j, t in enumerate(tags):
        col = y_true[:, j]
        pos = int(col.sum())
        if 0 < pos < len(col):
            roc = float(skm.roc_auc_score(col, y_score[:, j]))
            pr = float(skm.average_precision_score(col, y_score[:, j]))
            rocs.append(roc)
            prs.append(pr)
        else:
            roc = pr = None
        per_tag[t] = {"roc_auc": roc, "pr_auc": pr, "positives": pos}
    return {
        "n": int(len(y_true)),
        "macro_roc_auc": float(np.mean(rocs)) if rocs else float("nan"),
        "macro_pr_auc": float(np.mean(prs)) if prs else float("nan"),
        "per_tag": per_tag,
    }


def evaluate_predictions(task, y_true, y_pred, labels):
    """:func:`classification_metrics` for ``task='genre'``, :func:`tagging_metrics` for 'tags'."""
    if task == "genre":
        return classification_metrics(y_true, y_pred, labels)
    if task == "tags":
        return tagging_metrics(y_true, y_pred, labels)
    raise ValueError(f"task must be 'genre' or 'tags', got {task!r}")
