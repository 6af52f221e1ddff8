"""What a trained tagger learned about its labels, and how noisy the labels are (thesis ch. 3, 7).

* :func:`co_occurrence` — normalised tag co-occurrence ``C(i, j) = #(y_i ∧ y_j) / #y_i`` (Eq. 3.1;
  not symmetric).
* :func:`label_vector_similarity` — ``S = Wᵀ W`` of the last dense layer (Eq. 7.1): column ``i``
  of ``W`` is the "label vector" of tag ``i``.
* :func:`compare_lvs_nco` — Pearson correlation between the rankings of ``S(i, j)`` and
  ``max(C(i, j), C(j, i))`` over the tag pairs ``i < j`` (thesis: 0.580 on the MSD), and the top-k
  pairs by each.
* :func:`label_noise` — from a re-annotated subset: per-tag error rates of positive and negative
  labels, precision and recall of the ground truth with bootstrap 95 % intervals, and the
  estimated positive count ``N̂⁺ = N⁺(1 − p⁺) + (T − N⁺) p⁻`` (Eq. 3.2; Table 3-A).

Seed 003's comparison of activations with hand-crafted features is in :mod:`kerasmgr.activations`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["co_occurrence", "label_vector_similarity", "label_vectors", "rank_pairs", "compare_lvs_nco",
           "label_noise", "estimate_positive_count", "simulate_annotation", "reannotation_aucs", "evaluation_reliability",
           "popularity_spearman"]


def co_occurrence(Y):
    """Normalised co-occurrence ``C(i, j) = #(y_i ∧ y_j) / #y_i`` (thesis Eq. 3.1).

    Parameters
    ----------
    Y : array, shape (n_items, n_tags)
        Binary label matrix.

    Returns
    -------
    np.ndarray, shape (n_tags, n_tags)
        Row ``i`` is conditioned on tag ``i`` (``C[i, i] = 1`` for tags that occur; rows of
        tags that never occur are NaN).
    """
    Y = (np.asarray(Y) > 0).astype(np.float64)
    if Y.ndim != 2:
        raise ValueError(f"Y must be (items, tags), got shape {Y.shape}")
    joint = Y.T @ Y
    count = np.diag(joint).copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return joint / np.where(count > 0, count, np.nan)[:, None]


def label_vectors(model, layer=None):
    """``W`` (hidden, n_tags) of the model's last Dense layer (default the layer named ``output``)."""
    import keras

    if layer is None:
        names = [l.name for l in model.layers]
        dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
        if not dense:
            raise ValueError(f"model {model.name!r} has no Dense layer")
        layer = "output" if "output" in names else dense[-1].name
    return np.asarray(model.get_layer(layer).kernel)


def label_vector_similarity(W):
    """``S = Wᵀ W`` (thesis Eq. 7.1), shape (n_tags, n_tags), for ``W`` of shape (hidden, n_tags)."""
    W = np.asarray(W, dtype=np.float64)
    return W.T @ W


def rank_pairs(M, labels, k=20, *, symmetric_max=False):
    """The ``k`` largest off-diagonal pairs ``i < j`` of a tag-by-tag matrix.

    With ``symmetric_max`` the pair's value is ``max(M[i, j], M[j, i])`` (for the asymmetric
    co-occurrence). Returns a list of ``(label_i, label_j, value)``.
    """
    M = np.asarray(M, dtype=np.float64)
    iu = np.triu_indices(len(M), 1)
    v = np.maximum(M[iu], M.T[iu]) if symmetric_max else M[iu]
    order = np.argsort(-np.nan_to_num(v, nan=-np.inf), kind="stable")[:k]
    return [(labels[iu[0][o]], labels[iu[1][o]], float(v[o])) for o in order]


def compare_lvs_nco(S, C, labels, k=20):
    """Thesis §7.3.3: how well the label vectors reproduce the ground truth's co-occurrence.

    Returns
    -------
    dict
        ``pearson_of_rankings`` (Pearson correlation of the ranks of ``S(i, j)`` and
        ``max(C(i, j), C(j, i))`` over pairs ``i < j``; equal to Spearman's ρ without ties),
        ``top_lvs``/``top_nco`` (top-k pairs of each) and ``common`` (pairs in both top-k lists).
    """
    from scipy.stats import pearsonr, rankdata

    S, C = np.asarray(S, np.float64), np.asarray(C, np.float64)
    iu = np.triu_indices(len(S), 1)
    s, c = S[iu], np.maximum(C[iu], C.T[iu])
    ok = np.isfinite(s) & np.isfinite(c)
    r = float(pearsonr(rankdata(s[ok]), rankdata(c[ok]))[0]) if ok.sum() > 2 else float("nan")
    top_s = rank_pairs(S, labels, k)
    top_c = rank_pairs(C, labels, k, symmetric_max=True)
    common = sorted({frozenset(p[:2]) for p in top_s} & {frozenset(p[:2]) for p in top_c}, key=sorted)
    return {"pearson_of_rankings": r, "n_pairs": int(ok.sum()), "top_lvs": top_s, "top_nco": top_c,
            "common": [sorted(p) for p in common]}


def estimate_positive_count(n_pos, total, p_pos, p_neg):
    """``N̂⁺ = N⁺(1 − p⁺) + (T − N⁺) p⁻`` (thesis Eq. 3.2).

    Parameters
    ----------
    n_pos : float or array
        Positive labels in the ground truth ``N⁺``.
    total : float
        Items ``T``.
    p_pos, p_neg : float or array
        Error rates of positive and of negative labels.
    """
    n_pos = np.asarray(n_pos, dtype=np.float64)
    return n_pos * (1 - np.asarray(p_pos)) + (total - n_pos) * np.asarray(p_neg)


def _rates(g, t):
    """Error rates and precision/recall of ground truth ``g`` against truth ``t`` (booleans)."""
    pos, neg = g, ~g
    p_pos = np.mean(~t[pos]) if pos.any() else np.nan  # positive labels that are wrong
    p_neg = np.mean(t[neg]) if neg.any() else np.nan  # negative labels that are wrong
    precision = np.mean(t[pos]) if pos.any() else np.nan
    recall = np.mean(g[t]) if t.any() else np.nan
    return p_pos, p_neg, precision, recall


def _interval(values, lo_q, hi_q):
    """Percentile interval of bootstrap values, ignoring NaN (a rate undefined in a resample);
    NaN when it is undefined in every resample (e.g. a tag with no positive annotation)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return (float("nan"), float("nan")) if v.size == 0 else tuple(float(x) for x in np.percentile(v, [lo_q, hi_q]))


def label_noise(ground_truth, annotation, labels, *, n_total=None, n_positive=None, n_boot=2000, seed=0,
                ci=0.95):
    """Label-noise statistics of a ground truth against a re-annotated subset (thesis Table 3-A).

    Parameters
    ----------
    ground_truth, annotation : array, shape (n_items, n_tags)
        Binary labels of the same items: the dataset's, and the careful re-annotation (taken as
        the truth).
    labels : list of str
        Tag names.
    n_total : int or None
        Items ``T`` of the whole dataset, for Eq. 3.2 (default: the subset's size).
    n_positive : array of int or None
        Positive ground-truth counts ``N⁺`` per tag over the whole dataset (default: the subset's).
    n_boot : int
        Bootstrap resamples of the subset's items.
    seed : int
    ci : float
        Interval coverage.

    Returns
    -------
    list of dict
        Per tag: ``error_rate_positive`` (p⁺), ``error_rate_negative`` (p⁻), ``precision``,
        ``recall`` (tagability), ``n_positive``, ``estimated_positive`` (N̂⁺) and
        ``estimated_share`` (N̂⁺ / T), each statistic with ``*_low``/``*_high`` bootstrap bounds.
    """
    G = np.asarray(ground_truth) > 0
    A = np.asarray(annotation) > 0
    if G.shape != A.shape or G.ndim != 2 or G.shape[1] != len(labels):
        raise ValueError(f"ground truth {G.shape} and annotation {A.shape} must both be (items, {len(labels)})")
    n, k = G.shape
    T = n if n_total is None else int(n_total)
    Npos = G.sum(0) if n_positive is None else np.asarray(n_positive, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    lo_q, hi_q = (1 - ci) / 2 * 100, (1 + ci) / 2 * 100
    rows = []
    for j in range(k):
        point = _rates(G[:, j], A[:, j])
        boots = np.array([_rates(G[b, j], A[b, j]) for b in idx])  # (n_boot, 4)
        est = estimate_positive_count(Npos[j], T, point[0], point[1])
        est_b = estimate_positive_count(Npos[j], T, boots[:, 0], boots[:, 1])
        row = {"tag": labels[j], "n_positive": float(Npos[j]), "n_total": T}
        for name, v, b in zip(("error_rate_positive", "error_rate_negative", "precision", "recall"), point,
                              boots.T):
            row[name] = float(v)
            row[f"{name}_low"], row[f"{name}_high"] = _interval(b, lo_q, hi_q)
        row["estimated_positive"] = float(est)
        row["estimated_positive_low"], row["estimated_positive_high"] = _interval(est_b, lo_q, hi_q)
        row["estimated_share"] = float(est / T)
        rows.append(row)
    return rows


def _auc(y, s):
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y) > 0
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, s))


def reannotation_aucs(scores, ground_truth, annotation, labels):
    """Per-tag ROC-AUC of a system's scores against the dataset's labels and against a careful
    re-annotation of the same items (thesis Fig. 3.4).

    Parameters
    ----------
    scores : array, shape (n_items, n_tags)
        The system's tag scores of the re-annotated items.
    ground_truth, annotation : array, shape (n_items, n_tags)
        0/1 labels: the dataset's and the re-annotation's.
    labels : list of str

    Returns
    -------
    list of dict
        Per tag: ``tag``, ``auc_ground_truth``, ``auc_annotation``, ``recall`` (the ground truth's
        recall against the annotation: tagability).
    """
    S, G, A = (np.asarray(m, dtype=np.float64) for m in (scores, ground_truth, annotation))
    if not (S.shape == G.shape == A.shape) or S.ndim != 2 or S.shape[1] != len(labels):
        raise ValueError(f"scores {S.shape}, ground truth {G.shape} and annotation {A.shape} must all be "
                         f"(items, {len(labels)})")
    rows = []
    for j, tag in enumerate(labels):
        a = A[:, j] > 0
        rows.append({"tag": tag, "auc_ground_truth": _auc(G[:, j], S[:, j]), "auc_annotation": _auc(A[:, j], S[:, j]),
                     "recall": float(np.mean(G[a, j] > 0)) if a.any() else float("nan")})
    return rows


def evaluation_reliability(auc_annotation, auc_ground_truth, auc_all=None):
    """Thesis Fig. 3.6's ρ1 and ρ2 over a set of experiments (systems).

    Parameters
    ----------
    auc_annotation, auc_ground_truth : array, shape (n_experiments,)
        Each experiment's mean AUC of the re-annotated tags against the re-annotation and against
        the dataset's labels.
    auc_all : array, shape (n_experiments,) or None
        Each experiment's mean AUC of all tags against the dataset's labels.

    Returns
    -------
    dict
        ``rho1`` (Pearson, annotation vs ground truth: is the noisy ground truth a reliable
        evaluation?) and ``rho2`` (Pearson, the re-annotated tags vs all tags: does that carry over
        to all tags?); NaN where fewer than 3 experiments or a constant series.
    """
    def r(a, b):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
            return float("nan")
        return float(np.corrcoef(a[ok], b[ok])[0, 1])

    return {"rho1": r(auc_annotation, auc_ground_truth),
            "rho2": float("nan") if auc_all is None else r(auc_ground_truth, auc_all),
            "n_experiments": int(len(np.asarray(auc_annotation)))}


def popularity_spearman(counts, aucs):
    """Spearman rank correlation between tag popularity (occurrence counts) and per-tag AUC
    (thesis §4.3.3: 0.077 over the 50 tags; §3.2: -0.7 within the era tags). NaN tags are left out."""
    from scipy.stats import spearmanr

    c, a = np.asarray(counts, np.float64), np.asarray(aucs, np.float64)
    ok = np.isfinite(c) & np.isfinite(a)
    if ok.sum() < 3:
        return float("nan")
    return float(spearmanr(c[ok], a[ok]).statistic)


def simulate_annotation(Y, *, missing=0.3, false=0.02, seed=0):
    """Weak labelling of a clean label matrix: the (ground truth, annotation) pair it would give.

    Each positive is dropped from the ground truth with probability ``missing`` (a tag's
    tagability is ``1 − missing``) and each negative turned positive with probability ``false``;
    the annotation is the clean matrix. ``missing``/``false`` may be per-tag arrays.
    """
    rng = np.random.default_rng(seed)
    A = np.asarray(Y) > 0
    drop = rng.random(A.shape) < np.broadcast_to(missing, A.shape[1:])
    add = rng.random(A.shape) < np.broadcast_to(false, A.shape[1:])
    G = (A & ~drop) | (~A & add)
    return G.astype(int), A.astype(int)
