"""Transfer learning with SVMs over layer combinations (thesis chapter 6, ``bin/transfer.py``).

For every feature set — each of the 31 non-empty combinations of the 5 conv layers, their
random-convnet counterparts, MFCC and MFCC + 12345 — an SVM (classification: SVC, accuracy;
regression: SVR, r²) is tuned over the thesis' grid (§6.4.1): kernel {linear, rbf}, γ ∈ {2^-3,
2^-5, 2^-7, 2^-9, 2^-11, 2^-13, 1/N_f}, C ∈ {0.1, 2, 8, 32}, on the features as they are
(``grid='thesis'``, the default). The thesis' released code (``2_main_knn_svm_transfer.py``) also
searched a standard scaler on/off (``'stdd__on': [True, False]``) and reported the best of both;
taking the best over that extra axis raises the reported score, so it is ``grid='extended'``.
Two protocols:

* ``thesis`` — the original code's: the best mean score of the grid search itself over
  unshuffled stratified 10-fold cross-validation (folds follow file order). The same folds pick
  the hyper-parameters and score them, so it is optimistic.
* ``nested`` — grid search inside each outer fold (inner 10-fold CV on the outer training part),
  scored on the outer test fold: the unbiased estimate. Outer folds unshuffled by default;
  ``shuffle=True`` shuffles them (on GTZAN, where neighbouring files often share an artist,
  shuffling leaks artists across folds and raises the score).

Folds are grouped when group ids are given (segments of one recording never on both sides);
with a predefined split (train/valid/test) the grid is scored on valid and the best setting,
refitted on train + valid, is scored on test (both protocols).

Features are scaled once per fold and layer; each feature set's kernel matrices are made from
them when the set is scored, one at a time (memory: two (n_fit + n_eval) × n_fit matrices per
parallel worker, whatever the number of folds, layers or feature sets), and one kernel matrix
serves all C values.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

import numpy as np

from . import svm

__all__ = ["GAMMAS", "CS", "GRIDS", "layer_combinations", "FeatureSet", "feature_sets", "cv_splits", "run", "rank",
           "results_table"]

GAMMAS = (2.0 ** -3, 2.0 ** -5, 2.0 ** -7, 2.0 ** -9, 2.0 ** -11, 2.0 ** -13, "1/N_f")
CS = (0.1, 2.0, 8.0, 32.0)
#: Feature scaling searched by each grid: the thesis' text (none) and its released code (on/off).
GRIDS = {"thesis": (False,), "extended": (True, False)}


def layer_combinations(layers=(1, 2, 3, 4, 5)):
    """All non-empty combinations, by size then order: (1,), (2,), ..., (1, 2), ..., (1, 2, 3, 4, 5)."""
    layers = tuple(layers)
    return [c for r in range(1, len(layers) + 1) for c in itertools.combinations(layers, r)]


@dataclass(frozen=True)
class FeatureSet:
    """A named list of feature blocks (keys into the block dictionary)."""

    name: str
    blocks: tuple
    kind: str  # 'convnet', 'random', 'mfcc', 'mfcc+convnet'


def feature_sets(layers, *, random=False, mfcc=False):
    """The feature sets of a run: every layer combination, optionally their random twins, MFCC
    and MFCC + all layers."""
    out = [FeatureSet("".join(map(str, c)), tuple(f"L{k}" for k in c), "convnet") for c in layer_combinations(layers)]
    if random:
        out += [FeatureSet("random " + "".join(map(str, c)), tuple(f"R{k}" for k in c), "random")
                for c in layer_combinations(layers)]
    if mfcc:
        out.append(FeatureSet("mfcc", ("MFCC",), "mfcc"))
        out.append(FeatureSet("mfcc+" + "".join(map(str, layers)), ("MFCC",) + tuple(f"L{k}" for k in layers),
                              "mfcc+convnet"))
    return out


def cv_splits(y, *, task, n_folds=10, groups=None, shuffle=False, seed=0):
    """(train, test) index pairs: stratified (classification) or plain k-fold, grouped if needed.

    For classification the number of folds is reduced to the size of the rarest class (inner
    folds of a nested run on a small dataset)."""
    from sklearn import model_selection as ms

    n = len(y)
    if task == "classification":  # no more folds than the rarest class has items (or groups)
        if groups is not None:
            per_class = [len(set(np.asarray(groups)[np.asarray(y) == c])) for c in np.unique(y)]
        else:
            per_class = np.unique(y, return_counts=True)[1]
        n_folds = min(n_folds, int(min(per_class)))
        if n_folds < 2:
            raise ValueError("too few items per class for cross-validation (a class has fewer than 2)")
    if groups is not None:
        if task == "classification":
            cv = ms.StratifiedGroupKFold(n_splits=n_folds, shuffle=shuffle, random_state=seed if shuffle else None)
        else:
            cv = ms.GroupKFold(n_splits=n_folds)
        return list(cv.split(np.zeros(n), y, groups))
    if task == "classification":
        cv = ms.StratifiedKFold(n_splits=n_folds, shuffle=shuffle, random_state=seed if shuffle else None)
    else:
        cv = ms.KFold(n_splits=n_folds, shuffle=shuffle, random_state=seed if shuffle else None)
    return list(cv.split(np.zeros(n), y))


def _grid(n_features, scales=(True, False)):
    out = []
    for scale in scales:
        for C in CS:
            out.append(("linear", None, C, scale))
            for g in GAMMAS:
                out.append(("rbf", 1.0 / n_features if g == "1/N_f" else g, C, scale))
    return out


class _FoldKernels:
    """The scaled features of one (fit, evaluate) split, from which each feature set's kernel
    matrices are made when it is scored.

    Rows are the fit items then the evaluation items: kernels have shape (n_fit + n_eval, n_fit).
    Scaling statistics come from the fit items only. Only features are kept (n × d per block), so
    memory does not grow with the number of splits or blocks; a feature set's Gram matrix is one
    product of its concatenated features (d ≤ a few hundred: cheap next to the SVM solves).
    """

    def __init__(self, blocks, fit_idx, eval_idx, scales=(True, False)):
        self.n_fit = len(fit_idx)
        self.scales = tuple(scales)
        rows = np.concatenate([fit_idx, eval_idx])
        self.features = {}
        for name, X in blocks.items():
            X = np.asarray(X, dtype=np.float64)[rows]
            for scale in self.scales:
                Z = X
                if scale:
                    ref = X[: self.n_fit]
                    mu, sd = ref.mean(0), ref.std(0)
                    sd[sd == 0] = 1.0
                    Z = (X - mu) / sd
                self.features[name, scale] = Z

    def concatenated(self, blocks, scale):
        """All rows' features of the concatenated ``blocks``, shape (n_fit + n_eval, d)."""
        return np.hstack([self.features[b, scale] for b in blocks])

    def factor(self, blocks, scale):
        """The fit items' concatenated features: the linear kernel's factor, G = F Fᵀ."""
        return np.ascontiguousarray(self.concatenated(blocks, scale)[: self.n_fit])

    def kernels(self, blocks, scale, keys):
        """Yield ``(key, K)`` for ``keys`` of ``(kind, gamma)`` (see :func:`_kernels`); at most two
        (n_fit + n_eval) × n_fit matrices are alive at a time. Each ``K`` is valid until the next
        one is asked for."""
        Z = self.concatenated(blocks, scale)
        shape = (Z.shape[0], self.n_fit)
        G = np.matmul(Z, Z[: self.n_fit].T, out=_scratch(0, shape))
        yield from _kernels(G, np.einsum("ij,ij->i", Z, Z), keys, out=_scratch(1, shape))


_SCRATCH = threading.local()


def _scratch(slot, shape):
    """A float64 array of ``shape`` from this thread's buffer ``slot``, reused from call to call:
    fresh n × n arrays each cost their page faults again (~0.3 s for 4,000 items, more than the
    arithmetic), so every kernel of a thread is made in the same two buffers."""
    bufs = getattr(_SCRATCH, "buffers", None)
    if bufs is None:
        bufs = _SCRATCH.buffers = {}
    size = int(np.prod(shape))
    if slot not in bufs or bufs[slot].size < size:
        bufs[slot] = np.empty(size)
    return bufs[slot][:size].reshape(shape)


def _score(task, y_true, y_pred):
    """Accuracy, or r² as scikit-learn's ``r2_score`` (1 for a perfect fit of a constant target)."""
    if task == "classification":
        return float(np.mean(y_true == y_pred))
    ss_res = float(np.sum((y_true - y_pred) ** 2))
    ss_tot = float(np.sum((y_true - np.mean(y_true)) ** 2))
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot


def _predict_path(task, K_train, y_train, K_test, Cs, solver, factor=None):
    """Predictions, shape (len(Cs), n_test), of SVC/SVR on a precomputed kernel for each C
    (``factor``: the linear kernel's features, which speed up :mod:`kerasmgr.svm`)."""
    if solver == "smo":
        path = svm.svc_path if task == "classification" else svm.svr_path
        return path(K_train, y_train, K_test, Cs, factor=factor)
    if solver != "libsvm":
        raise ValueError(f"unknown solver {solver!r} (smo, libsvm)")
    from sklearn.svm import SVC, SVR

    K_train, K_test = np.ascontiguousarray(K_train), np.ascontiguousarray(K_test)
    out = []
    for C in Cs:
        est = SVC(kernel="precomputed", C=C) if task == "classification" else SVR(kernel="precomputed", C=C)
        out.append(est.fit(K_train, y_train).predict(K_test))
    return np.asarray(out)


def _kernels(G, sq, keys, out=None):
    """Yield ``(key, K)`` for ``keys`` of ``(kind, gamma)`` from the Gram matrix ``G`` (rows:
    fit then evaluation items; columns: fit items) and the rows' squared norms ``sq``.

    The linear kernel is ``G``; then ``G`` is turned into squared distances in place and the RBF
    kernels follow in ascending γ, where γ = 4 γ_prev is computed as ``K_prev⁴`` in place (two
    squarings instead of an exp — 14× faster here; relative error ≈ 2ⁿ ulp after n squarings,
    under 1e-12 for the grid). So two matrices are alive at a time, and each yielded ``K`` is
    valid until the next one is asked for (``G`` is consumed; ``out``, an array of ``G``'s shape,
    receives the RBF kernels).
    """
    keys = sorted(set(keys), key=lambda k: (k[0] != "linear", k[1] or 0.0))
    if any(kind == "linear" for kind, _ in keys):
        yield ("linear", None), G
    rbf = [g for kind, g in keys if kind != "linear"]
    if not rbf:
        return
    n_fit = G.shape[1]
    D = G  # squared distances, in place: sq_i + sq_j - 2 G_ij, floored at 0
    D *= -2.0
    D += sq[:, None]
    D += sq[None, :n_fit]
    np.maximum(D, 0.0, out=D)
    K, prev = out, None
    for gamma in rbf:
        if prev is not None and gamma == 4.0 * prev:
            np.multiply(K, K, out=K)
            np.multiply(K, K, out=K)
        else:
            K = np.multiply(D, -gamma, out=K)
            np.exp(K, out=K)
        prev = gamma
        yield ("rbf", gamma), K


def _grid_scores(fset, fold_kernels, y, task, splits, dims, solver):
    """Mean CV score of every grid point for one feature set.

    ``fold_kernels[s]`` holds the per-block matrices of split ``s`` (shared by all feature sets);
    ``splits[s]`` is its (train, test) pair of indices into ``y``. One kernel matrix serves all
    C values (solved as one warm-started path); grid points that name the same kernel (γ = 1/N_f
    equal to a listed γ) are solved once.
    """
    n_f = sum(dims[b] for b in fset.blocks)
    grid = _grid(n_f, fold_kernels[0].scales)
    scores = np.zeros((len(grid), len(splits)))
    by_kernel = {}  # scale -> (kind, gamma) -> C -> [grid indices]
    for gi, (kind, gamma, C, scale) in enumerate(grid):
        by_kernel.setdefault(scale, {}).setdefault((kind, gamma), {}).setdefault(C, []).append(gi)
    for s, ((tr, te), fk) in enumerate(zip(splits, fold_kernels)):
        ntr = fk.n_fit
        for scale, kernels in by_kernel.items():
            for (kind, gamma), K in fk.kernels(fset.blocks, scale, kernels):
                Cs = sorted(kernels[kind, gamma])
                F = fk.factor(fset.blocks, scale) if kind == "linear" else None
                preds = _predict_path(task, K[:ntr], y[tr], K[ntr:], Cs, solver, F)
                for C, pred in zip(Cs, preds):
                    scores[kernels[kind, gamma][C], s] = _score(task, y[te], pred)
    return grid, scores


def _best(grid, scores):
    means = scores.mean(axis=1)
    b = int(means.argmax())
    return grid[b], float(means[b]), float(scores[b].std())


def _fit_score(fset, fk, y, task, tr, te, best, solver):
    kind, gamma, C, scale = best
    (_, K), = fk.kernels(fset.blocks, scale, [(kind, gamma)])
    F = fk.factor(fset.blocks, scale) if kind == "linear" else None
    return _score(task, y[te], _predict_path(task, K[: fk.n_fit], y[tr], K[fk.n_fit:], [C], solver, F)[0])


def _kernels_for(blocks, splits, par=None, scales=(True, False)):
    """Per-block matrices of each (train, test) split: computed once, shared by every feature set
    (in parallel over splits with the joblib pool ``par``)."""
    if par is None or len(splits) < 2:
        return [_FoldKernels(blocks, tr, te, scales) for tr, te in splits]
    from joblib import delayed

    return par(delayed(_FoldKernels)(blocks, tr, te, scales) for tr, te in splits)


def _params(g):
    kind, gamma, C, scale = g
    return {"kernel": kind, "gamma": gamma, "C": C, "scaler": scale}


def run(blocks, y, *, task=None, layers=(1, 2, 3, 4, 5), protocols=("thesis", "nested"), n_folds=10, groups=None,
        subsets=None, shuffle=False, seed=0, n_jobs=2, progress=True, solver="smo", grid="thesis", only=None):
    """Evaluate every feature set under the chosen protocols.

    Parameters
    ----------
    blocks : dict
        ``{'L1': (n, d1), ..., 'L5': ..., optional 'R1'..'R5' (random convnet), 'MFCC': (n, 120)}``.
    y : array, shape (n,)
        Class labels or real targets.
    task : {'classification', 'regression', None}
        Default: regression for float targets with many distinct values, else classification.
    layers : iterable of int
        Conv layers present as ``L<k>`` blocks.
    protocols : iterable of {'thesis', 'nested'}
    n_folds : int
        Folds (outer and inner).
    groups : array or None
        Group id per item: folds never split a group.
    subsets : array of {'train', 'valid', 'test'} or None
        A predefined split: each item's subset (overrides the folds).
    shuffle : bool
        Shuffle the nested protocol's outer folds (seeded).
    n_jobs : int
        Parallel feature sets (joblib threads).
    solver : {'smo', 'libsvm'}
        ``'smo'`` (default): :mod:`kerasmgr.svm`, libsvm's algorithm and tolerance with each C
        warm-started from the previous one; ``'libsvm'``: scikit-learn's ``SVC``/``SVR`` fitted
        from scratch for every grid point (slower; the reference).
    grid : {'thesis', 'extended'}
        :data:`GRIDS`: the thesis' grid on the features as they are (default), or with a standard
        scaler on/off as an extra axis (the released code's search).
    only : iterable of str or None
        Evaluate only these feature sets (names as in the table: '12345', 'random 3', 'mfcc', ...).

    Returns
    -------
    list of dict
        One row per (feature set, protocol): ``feature_set``, ``kind``, ``protocol``, ``score``,
        ``std``, ``n_features``, ``params``, ``metric``, ``outer_folds``.
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {tuple(GRIDS)}, got {grid!r}")
    scales = GRIDS[grid]
    y = np.asarray(y)
    if task is None:
        task = "regression" if (np.issubdtype(y.dtype, np.floating) and len(np.unique(y)) > 20) else "classification"
    if task == "classification":
        y = np.unique(y, return_inverse=True)[1]
    groups = None if groups is None else np.asarray(groups)
    subsets = None if subsets is None else np.asarray(subsets)
    dims = {k: int(np.asarray(v).shape[1]) for k, v in blocks.items()}
    blocks = {k: np.asarray(v, dtype=np.float64) for k, v in blocks.items()}
    sets = feature_sets(layers, random=any(k.startswith("R") for k in blocks), mfcc="MFCC" in blocks)
    if only is not None:
        only = [str(name) for name in only]
        unknown = sorted(set(only) - {fs.name for fs in sets})
        if unknown:
            raise ValueError(f"unknown feature set(s) {unknown}; known: {[fs.name for fs in sets]}")
        sets = [fs for fs in sets if fs.name in only]
    # threads: libsvm and numpy release the GIL, and workers share the precomputed matrices
    par = Parallel(n_jobs=n_jobs, prefer="threads")
    metric = "accuracy" if task == "classification" else "r2"
    rows = []

    def order(idx):
        """Training items grouped by class, in their order within each class (classification):
        the same SVM problems — a class pair's items are class a's then class b's in that order
        either way — but each pair's kernel block is read from contiguous rows instead of one
        item in n_classes (3-4x faster at 4,000 items)."""
        return idx[np.argsort(y[idx], kind="stable")] if task == "classification" else idx

    def row(fs, p, result, folds):
        rows.append({"feature_set": fs.name, "kind": fs.kind, "protocol": p, "metric": metric,
                     "n_features": sum(dims[b] for b in fs.blocks), "outer_folds": folds, **result})

    for p in protocols:
        bar = tqdm(total=len(sets), desc=f"SVM grids ({p})", disable=not progress)
        if subsets is not None:  # predefined: grid on valid, refit on train+valid, score on test
            tr, va, te = (np.flatnonzero(subsets == s) for s in ("train", "valid", "test"))
            tr, va = order(tr), order(va)
            fk_val = _kernels_for(blocks, [(tr, va)], scales=scales)
            fit = np.concatenate([tr, va])
            fk_test = _kernels_for(blocks, [(fit, te)], scales=scales)[0]

            cells = par(delayed(_predefined_cell)(fs, fk_val, fk_test, y, task, (tr, va, te), dims, solver)
                        for fs in sets)
            for fs, r in zip(sets, cells):
                row(fs, p, r, "predefined split")
                bar.update(1)
        elif p == "thesis":
            splits = [(order(tr), te) for tr, te in cv_splits(y, task=task, n_folds=n_folds, groups=groups, shuffle=False)]
            fks = _kernels_for(blocks, splits, par, scales)

            cells = par(delayed(_thesis_cell)(fs, fks, y, task, splits, dims, solver) for fs in sets)
            for fs, r in zip(sets, cells):
                row(fs, p, r, "file order")
                bar.update(1)
        else:
            outer = cv_splits(y, task=task, n_folds=n_folds, groups=groups, shuffle=shuffle, seed=seed)
            fold_scores = {fs.name: [] for fs in sets}
            chosen = {fs.name: [] for fs in sets}
            for tr, te in outer:
                sub_groups = None if groups is None else groups[tr]
                inner = cv_splits(y[tr], task=task, n_folds=n_folds, groups=sub_groups, shuffle=False)
                inner_abs = [(order(tr[a]), tr[b]) for a, b in inner]  # indices into the full arrays
                tr = order(tr)
                fks = _kernels_for(blocks, inner_abs, par, scales)
                fk_outer = _kernels_for(blocks, [(tr, te)], scales=scales)[0]

                cells = par(delayed(_nested_cell)(fs, fks, fk_outer, y, task, inner_abs, (tr, te), dims, solver)
                            for fs in sets)
                for fs, (best, score) in zip(sets, cells):
                    fold_scores[fs.name].append(score)
                    chosen[fs.name].append(_params(best))
                bar.update(len(sets) / len(outer))
            for fs in sets:
                row(fs, p, {"score": float(np.mean(fold_scores[fs.name])),
                            "std": float(np.std(fold_scores[fs.name])), "params": chosen[fs.name]},
                    "shuffled" if shuffle else "file order")
        bar.close()
    return rows


# One grid search per feature set, as module-level functions so that every value a parallel task
# uses is an explicit argument (no closure over the protocol loop's variables).
def _predefined_cell(fs, fk_val, fk_test, y, task, subsets, dims, solver):
    """Grid on valid, refit on train+valid, score on test (a predefined split)."""
    tr, va, te = subsets
    grid_, sc = _grid_scores(fs, fk_val, y, task, [(tr, va)], dims, solver)
    best, val, _ = _best(grid_, sc)
    fit = np.concatenate([tr, va])
    return {"score": _fit_score(fs, fk_test, y, task, fit, te, best, solver), "std": 0.0,
            "params": _params(best), "validation": val}


def _thesis_cell(fs, fks, y, task, splits, dims, solver):
    """The thesis' protocol: the best grid point's mean cross-validated score."""
    grid_, sc = _grid_scores(fs, fks, y, task, splits, dims, solver)
    best, mean, sd = _best(grid_, sc)
    return {"score": mean, "std": sd, "params": _params(best)}


def _nested_cell(fs, fks, fk_outer, y, task, inner, outer, dims, solver):
    """One outer fold of the nested protocol: grid on the inner folds, score on the outer test fold."""
    tr, te = outer
    grid_, sc = _grid_scores(fs, fks, y, task, inner, dims, solver)
    best, _, _ = _best(grid_, sc)
    return best, _fit_score(fs, fk_outer, y, task, tr, te, best, solver)


def rank(rows, protocol=None):
    """Rows of one protocol ranked best first; ties go to the smaller feature set (parsimony)."""
    protocol = protocol or rows[0]["protocol"]
    return sorted((r for r in rows if r["protocol"] == protocol), key=lambda r: (-round(r["score"], 12), r["n_features"]))


def results_table(rows):
    """Text table: feature sets ranked (:func:`rank`) by the first protocol, one column per protocol."""
    protocols = sorted({r["protocol"] for r in rows}, key=["thesis", "nested"].index)
    by = {(r["feature_set"], r["protocol"]): r for r in rows}
    names = [r["feature_set"] for r in rank(rows, protocols[0])]
    lines = [f"{'features':<18}{'dims':>6}" + "".join(f"{p:>20}" for p in protocols)]
    for n in names:
        d = next(r["n_features"] for r in rows if r["feature_set"] == n)
        cells = [f"{by[n, p]['score']:.3f} ± {by[n, p]['std']:.3f}" if (n, p) in by else "-" for p in protocols]
        lines.append(f"{n:<18}{d:>6}" + "".join(f"{c:>20}" for c in cells))
    return "\n".join(lines)
