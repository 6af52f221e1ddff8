"""Label analyses of the thesis (chapters 3 and 7): label vectors, label noise, evaluation reliability.

``bin/analyse.py labels|label-noise|reliability`` call these jobs; the statistics are
:mod:`kerasmgr.analysis`. Label CSVs have an ``id`` column and one column per tag.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import keras
import numpy as np

from .. import plots, pretrained
from ..analysis import (
    co_occurrence,
    compare_lvs_nco,
    evaluation_reliability,
    label_noise,
    label_vector_similarity,
    label_vectors,
    reannotation_aucs,
    simulate_annotation,
)
from ..data.selection import DataSelection, open_split
from ..models import input_spec

__all__ = ["label_job", "read_label_csv", "aligned_label_csv", "write_label_csv", "label_noise_job",
           "simulated_label_noise_inputs", "label_noise_inputs", "reliability_job", "reliability_from_csvs"]


def _write_matrix(path, M, labels):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([""] + list(labels))
        for lab, row in zip(labels, np.asarray(M)):
            w.writerow([lab] + [f"{v:.6g}" for v in row])


def label_job(model, out, data=None, *, tags=None, top=20):
    """Co-occurrence vs label-vector similarity of a tagger (``bin/analyse.py labels``).

    Parameters
    ----------
    model : keras.Model or str
        A tagger (sigmoid outputs) or a saved one; its sidecar names the tags.
    out : str or Path
        Writes ``cooccurrence.csv``/``.png`` (Eq. 3.1, ×100, figure 3.1), ``lvs.csv``/``.png``
        (Eq. 7.1, figure 7.10), ``top_pairs.csv`` (Table 7-C) and ``comparison.json``.
    data : DataSelection or None
        Where the label matrix comes from (default: the embedded dataset's training subset, the
        thesis' choice).
    tags : list of str or None
        Tags of the heat maps (default: all when ≤ 25, else the 23 most frequent).
    top : int
        Pairs listed from each side.

    Returns
    -------
    dict
        :func:`compare_lvs_nco` output.
    """
    model, meta = (model, {}) if isinstance(model, keras.Model) else pretrained.load(model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = data or DataSelection(subset="train")
    ds = open_split(data, sample_rate=input_spec(model)[0])
    labels = list(meta.get("labels") or ds.labels("tags"))
    W = label_vectors(model)
    if W.shape[1] != len(labels):
        raise ValueError(f"the model has {W.shape[1]} outputs but {len(labels)} tags are known")
    Y = ds.targets("tags", labels=labels)
    C = co_occurrence(Y)
    S = label_vector_similarity(W)
    result = compare_lvs_nco(S, C, labels, top)
    result.update({"n_items": int(len(Y)), "dataset": data.dataset, "split": data.split, "subset": data.subset})
    _write_matrix(out / "cooccurrence.csv", C, labels)
    _write_matrix(out / "lvs.csv", S, labels)
    with open(out / "top_pairs.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["rank", "nco_pair", "nco", "lvs_pair", "lvs"])
        for i, (c, s) in enumerate(zip(result["top_nco"], result["top_lvs"]), 1):
            w.writerow([i, f"{c[0]} / {c[1]}", f"{c[2]:.4f}", f"{s[0]} / {s[1]}", f"{s[2]:.4f}"])
    (out / "comparison.json").write_text(json.dumps(result, indent=2))
    if tags is None:
        order = np.argsort(-Y.sum(0), kind="stable")
        sub = sorted(order[: (len(labels) if len(labels) <= 25 else 23)])
    else:
        missing = sorted(set(tags) - set(labels))
        if missing:
            raise ValueError(f"unknown tags {missing}; the model's tags: {labels}")
        sub = [labels.index(t) for t in tags]
    names = [labels[i] for i in sub]
    plots.save_figure(plots.tag_matrix_figure(C[np.ix_(sub, sub)], names, title="co-occurrence C(i, j) x 100 "
                                              "(row i: conditioning tag)"), out / "cooccurrence.png")
    plots.save_figure(plots.tag_matrix_figure(S[np.ix_(sub, sub)], names, lower_only=True,
                                              title="label-vector similarity S = WᵀW x 100"), out / "lvs.png")
    return result


def read_label_csv(path):
    """An ``id`` column and one numeric column per tag (0/1 labels, or scores) -> (ids, tags, matrix (n_items, n_tags))."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "id" not in rows[0]:
        raise ValueError(f"{path}: expected a CSV with an 'id' column and one 0/1 column per tag")
    tags = [k for k in rows[0] if k != "id"]
    try:
        M = np.array([[float(r[t]) for t in tags] for r in rows])
    except ValueError as e:
        raise ValueError(f"{path}: tag columns must hold numbers (0/1 labels or scores) ({e})") from None
    return [r["id"] for r in rows], tags, M


def label_noise_job(out, *, ground_truth, annotation, labels, n_total=None, n_positive=None, n_boot=2000, seed=0):
    """Label-noise table and plot (``bin/analyse.py label-noise``): ``label_noise.csv``/``.txt``/``.png``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = label_noise(ground_truth, annotation, labels, n_total=n_total, n_positive=n_positive, n_boot=n_boot,
                       seed=seed)
    with open(out / "label_noise.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    head = (f"{'tag':<20}{'err+ %':>8}{'err- %':>8}{'prec. %':>9}{'recall %':>10}{'N+':>10}{'est. N+':>12}"
            f"{'est. %':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['tag']:<20}{100 * r['error_rate_positive']:>8.1f}{100 * r['error_rate_negative']:>8.1f}"
                     f"{100 * r['precision']:>9.1f}{100 * r['recall']:>10.1f}{r['n_positive']:>10.0f}"
                     f"{r['estimated_positive']:>12.0f}{100 * r['estimated_share']:>8.1f}")
    (out / "label_noise.txt").write_text("\n".join(lines) + "\n")
    plots.save_figure(plots.label_noise_figure(rows), out / "label_noise.png")
    return rows


def reliability_job(out, *, experiments, ground_truth, annotation, labels, names=None):
    """Thesis Figs 3.4/3.6 from re-annotation CSVs and several systems' scores (``bin/analyse.py
    reliability``): ``reliability.csv`` (per experiment and tag: AUC against the ground truth
    and the annotation), ``reliability.json`` (ρ1, ρ2, per-experiment means) and
    ``reliability.png``.

    Parameters
    ----------
    out : str or Path
    experiments : list of (scores, auc_all)
        Per system: its scores of the re-annotated items, shape (n_items, n_tags), and its mean
        AUC over all tags on the whole test set (or None).
    ground_truth, annotation : array, shape (n_items, n_tags)
    labels : list of str
    names : list of str or None

    Returns
    -------
    dict
        ``rho1``, ``rho2``, ``experiments`` (per experiment: ``name``, ``auc_annotation``,
        ``auc_ground_truth``, ``auc_all``, ``tags``).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(names) if names else [f"experiment {i + 1}" for i in range(len(experiments))]
    per = []
    for name, (scores, auc_all) in zip(names, experiments):
        rows = reannotation_aucs(scores, ground_truth, annotation, labels)
        per.append({"name": name, "tags": rows,
                    "auc_annotation": float(np.nanmean([r["auc_annotation"] for r in rows])),
                    "auc_ground_truth": float(np.nanmean([r["auc_ground_truth"] for r in rows])),
                    "auc_all": None if auc_all is None else float(auc_all)})
    all_auc = [e["auc_all"] for e in per]
    rel = evaluation_reliability([e["auc_annotation"] for e in per], [e["auc_ground_truth"] for e in per],
                                 None if any(a is None for a in all_auc) else all_auc)
    with open(out / "reliability.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["experiment", "tag", "auc_ground_truth", "auc_annotation", "recall"])
        for e in per:
            for r in e["tags"]:
                w.writerow([e["name"], r["tag"], r["auc_ground_truth"], r["auc_annotation"], r["recall"]])
    result = {**rel, "experiments": per}
    (out / "reliability.json").write_text(json.dumps(result, indent=2, default=float))
    fig = plots.reliability_figure([e["name"] for e in per], [e["auc_annotation"] for e in per],
                                   [e["auc_ground_truth"] for e in per], all_auc, rel)
    plots.save_figure(fig, out / "reliability.png")
    return result


def aligned_label_csv(path, ids, labels):
    """Rows of a label CSV (``id`` + tag columns) in the order of ``ids``, columns in the order of ``labels``.

    Returns
    -------
    np.ndarray, shape (len(ids), len(labels))
    """
    ids_x, labels_x, X = read_label_csv(path)
    missing = [t for t in labels if t not in labels_x]
    if missing:
        raise ValueError(f"{path}: no column for tag(s) {missing}")
    pos = {i: k for k, i in enumerate(ids_x)}
    absent = [i for i in ids if i not in pos]
    if absent:
        raise ValueError(f"{path}: {len(absent)} id(s) of the ground truth are missing, e.g. {absent[:3]}")
    return X[[pos[i] for i in ids]][:, [labels_x.index(t) for t in labels]]


def write_label_csv(path, ids, labels, M):
    """Write a label CSV: an ``id`` column and one 0/1 column per tag."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", *labels])
        for i, row in zip(ids, np.asarray(M)):
            w.writerow([i, *(str(int(v)) for v in row)])


def simulated_label_noise_inputs(out, data=None, *, missing=0.3, false=0.02, seed=0):
    """A simulated weak labelling of a dataset's tags (:func:`kerasmgr.analysis.simulate_annotation`).

    Writes ``out/ground_truth.csv`` and ``out/annotation.csv`` (ids: the files' stems).

    Returns
    -------
    ground_truth, annotation : np.ndarray of int, shape (n_items, n_tags)
    labels : list of str
    """
    ds = open_split(data or DataSelection(subset="train"))
    labels = ds.labels("tags")
    G, A = simulate_annotation(ds.targets("tags"), missing=missing, false=false, seed=seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ids = [Path(it.path).stem for it in ds.items]
    write_label_csv(out / "ground_truth.csv", ids, labels, G)
    write_label_csv(out / "annotation.csv", ids, labels, A)
    return G, A, labels


def label_noise_inputs(ground_truth, annotation, *, positive_counts=None):
    """A ground truth and its re-annotation from label CSVs, aligned by id.

    Parameters
    ----------
    ground_truth, annotation : str or Path
        Label CSVs (``id`` + one 0/1 column per tag); the annotation must list every ground-truth id.
    positive_counts : str, Path or None
        CSV ``tag,count`` of N+ over the whole dataset.

    Returns
    -------
    ground_truth, annotation : np.ndarray, shape (n_items, n_tags)
    labels : list of str
    n_positive : list of float or None
    """
    ids, labels, G = read_label_csv(ground_truth)
    _, labels_a, _ = read_label_csv(annotation)
    if labels_a != labels:
        raise ValueError(f"tag columns differ: {labels} vs {labels_a}")
    try:
        A = aligned_label_csv(annotation, ids, labels)
    except ValueError as e:
        raise ValueError(f"ground-truth ids missing from the annotation: {e}") from None
    n_pos = None
    if positive_counts:
        with open(positive_counts, newline="") as f:
            counts = {r["tag"]: float(r["count"]) for r in csv.DictReader(f)}
        missing = [t for t in labels if t not in counts]
        if missing:
            raise ValueError(f"{positive_counts}: no count for tag(s) {missing}")
        n_pos = [counts[t] for t in labels]
    return G, A, labels, n_pos


def reliability_from_csvs(out, *, ground_truth, annotation, scores, all_auc=None, names=None):
    """:func:`reliability_job` from label CSVs and one score CSV per experiment (``bin/analyse.py reliability``)."""
    ids, labels, G = read_label_csv(ground_truth)
    A = aligned_label_csv(annotation, ids, labels)
    if all_auc and len(all_auc) != len(scores):
        raise ValueError("all_auc needs one value per scores file")
    exps = [(aligned_label_csv(f, ids, labels), all_auc[i] if all_auc else None) for i, f in enumerate(scores)]
    return reliability_job(out, experiments=exps, ground_truth=G, annotation=A, labels=labels,
                           names=names or [Path(f).stem for f in scores])
