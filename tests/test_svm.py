"""kerasmgr.svm: libsvm's SMO with warm starts over C agrees with scikit-learn's SVC/SVR."""

import numpy as np
import pytest
from sklearn.svm import SVC, SVR

from kerasmgr import svm, transfer

CS = (0.1, 2.0, 8.0, 32.0)


def problem(n=240, n_classes=4, d=12, shift=0.6, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    X = rng.standard_normal((n, d)) + shift * rng.standard_normal((n_classes, d))[y]
    X = (X - X.mean(0)) / X.std(0)
    sq = (X ** 2).sum(1)
    D = np.maximum(sq[:, None] + sq[None] - 2 * X @ X.T, 0)
    return X, y, D


@pytest.mark.parametrize("shift", [0.0, 0.6, 3.0])  # noise, overlapping, separable classes
@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_svc_path_matches_scikit_learn(shift, kernel):
    X, y, D = problem(shift=shift)
    K = X @ X.T if kernel == "linear" else np.exp(-D / 12)
    tr, te = np.arange(200), np.arange(200, 240)
    labels = np.array(["rock", "jazz", "pop", "blues"])[y]  # any sortable labels
    pred = svm.svc_path(K[np.ix_(tr, tr)], labels[tr], K[np.ix_(te, tr)], CS)
    assert pred.shape == (len(CS), len(te))
    for c, C in enumerate(CS):
        ref = SVC(kernel="precomputed", C=C).fit(K[np.ix_(tr, tr)], labels[tr]).predict(K[np.ix_(te, tr)])
        # identical up to items whose decision value lies within the solver tolerance of zero
        assert np.mean(pred[c] == ref) >= 0.95, (C, np.mean(pred[c] == ref))


def test_svc_path_order_of_cs_does_not_matter_beyond_tolerance():
    X, y, D = problem(shift=0.6, seed=1)
    K = np.exp(-D / 12)
    # (at C = 0.1 most decision values lie within the tolerance of zero, so any two solutions
    # inside the tolerance may vote differently there; the larger Cs are compared)
    a = svm.svc_path(K[:200, :200], y[:200], K[200:, :200], CS[1:])
    b = svm.svc_path(K[:200, :200], y[:200], K[200:, :200], CS[1:][::-1])[::-1]
    assert np.mean(a == b) >= 0.95


def test_larger_c_reuses_an_unbounded_solution_exactly():
    X, y, D = problem(shift=3.0)  # separable: no multiplier reaches C ≥ 2
    K = X @ X.T
    pred, iters = svm.svc_path(K[:200, :200], y[:200], K[200:, :200], CS, return_iterations=True)
    assert (iters[2:] == 0).all() and (pred[1] == pred[3]).all()


def test_svr_path_matches_scikit_learn():
    X, _, D = problem(n=200, shift=0.0)
    rng = np.random.default_rng(3)
    z = 2 * X[:, 0] - X[:, 1] + 0.3 * rng.standard_normal(200)
    K = np.exp(-D / 12)
    out = svm.svr_path(K[:160, :160], z[:160], K[160:, :160], CS)
    for c, C in enumerate(CS):
        ref = SVR(kernel="precomputed", C=C).fit(K[:160, :160], z[:160]).predict(K[160:, :160])
        np.testing.assert_allclose(out[c], ref, atol=0.02)


def test_bad_input():
    K = np.eye(4)
    with pytest.raises(ValueError, match="positive"):
        svm.svc_path(K, [0, 0, 1, 1], K, [0.0])
    with pytest.raises(ValueError, match="NaN"):
        svm.svc_path(np.full((4, 4), np.nan), [0, 0, 1, 1], K, [1.0])
    with pytest.raises(ValueError, match="shapes"):
        svm.svc_path(K, [0, 0, 1, 1], np.eye(3), [1.0])
    assert (svm.svc_path(K, [5, 5, 5, 5], K[:2], [1.0, 2.0]) == 5).all()  # one class


def test_transfer_solvers_agree():
    rng = np.random.default_rng(0)
    y = np.arange(120) % 3
    blocks = {f"L{k}": rng.standard_normal((120, 6)) + (0.8 if k == 2 else 0) * rng.standard_normal((3, 6))[y]
              for k in (1, 2)}
    kw = dict(layers=(1, 2), protocols=("thesis",), n_folds=3, n_jobs=1, progress=False)
    fast = {r["feature_set"]: r["score"] for r in transfer.run(blocks, y, solver="smo", **kw)}
    ref = {r["feature_set"]: r["score"] for r in transfer.run(blocks, y, solver="libsvm", **kw)}
    for name in ref:
        assert abs(fast[name] - ref[name]) <= 0.02, (name, fast[name], ref[name])


def test_interior_point_fallback_on_hard_linear_problems():
    """Noise features, linear kernel, large C: SMO crawls, the interior-point solve takes over
    (on the feature factor, or on the dense kernel without one) and the result still agrees with
    libsvm; a wrong factor costs time only (the final SMO pass enforces libsvm's rule)."""
    rng = np.random.default_rng(5)
    n, d = 300, 8
    y = np.arange(n) % 3
    X = rng.standard_normal((n, d)) + 0.15 * rng.standard_normal((3, d))[y]
    K = X @ X.T
    tr, te = np.arange(240), np.arange(240, 300)
    ref = [SVC(kernel="precomputed", C=C).fit(K[np.ix_(tr, tr)], y[tr]).predict(K[np.ix_(te, tr)]) for C in CS]
    for factor in (X[tr], None, rng.standard_normal((240, 8))):
        pred, iters = svm.svc_path(K[np.ix_(tr, tr)], y[tr], K[np.ix_(te, tr)], CS, factor=factor,
                                   return_iterations=True)
        assert iters.shape == (len(CS), 2)
        assert iters[1:, 1].sum() > 0, "the interior-point fallback was not exercised"
        for c in range(len(CS)):
            assert np.mean(pred[c] == ref[c]) >= 0.95, (c, np.mean(pred[c] == ref[c]))


def test_svr_interior_point_fallback_matches_scikit_learn():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((160, 6))
    z = X[:, 0] + 2.0 * rng.standard_normal(160)  # mostly noise: many multipliers at C
    K = X @ X.T
    out, iters = svm.svr_path(K[:120, :120], z[:120], K[120:, :120], CS, factor=X[:120], return_iterations=True)
    assert iters[:, 1].sum() > 0
    for c, C in enumerate(CS):
        ref = SVR(kernel="precomputed", C=C).fit(K[:120, :120], z[:120]).predict(K[120:, :120])
        np.testing.assert_allclose(out[c], ref, atol=0.05)


def test_bad_factor():
    K = np.eye(4)
    with pytest.raises(ValueError, match="factor"):
        svm.svc_path(K, [0, 0, 1, 1], K, [1.0], factor=np.ones((3, 2)))
    with pytest.raises(ValueError, match="factor"):
        svm.svc_path(K, [0, 0, 1, 1], K, [1.0], factor=np.full((4, 2), np.nan))


def test_rbf_kernels_by_squaring_equal_exp():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 7))
    sq = (X ** 2).sum(1)
    D = np.maximum(sq[:, None] + sq[None] - 2 * X @ X.T, 0)
    keys = [("linear", None)] + [("rbf", g if g != "1/N_f" else 1 / 7) for g in transfer.GAMMAS]
    seen = []
    for (kind, gamma), K in transfer._kernels(X @ X.T, sq, keys):  # (the Gram matrix is consumed)
        seen.append((kind, gamma))
        expected = X @ X.T if kind == "linear" else np.exp(-gamma * D)
        np.testing.assert_allclose(K, expected, rtol=1e-12, atol=1e-300)
    assert sorted(seen, key=str) == sorted(keys, key=str)


def test_grid_points_naming_the_same_kernel_score_the_same():
    # 32 features: γ = 1/N_f is 2^-5, a listed γ; both grid points must get the same scores
    rng = np.random.default_rng(1)
    y = np.arange(90) % 3
    blocks = {"L1": rng.standard_normal((90, 32)) + 0.5 * rng.standard_normal((3, 32))[y]}
    fset = transfer.feature_sets((1,))[0]
    splits = transfer.cv_splits(y, task="classification", n_folds=3)
    grid, scores = transfer._grid_scores(fset, transfer._kernels_for(blocks, splits), y, "classification", splits,
                                         {"L1": 32}, "smo")
    for gi, (kind, gamma, C, scale) in enumerate(grid):
        if kind == "rbf" and gamma == 2.0 ** -5:
            twins = [gj for gj, g in enumerate(grid) if g == (kind, gamma, C, scale) and gj != gi]
            assert twins and all((scores[gj] == scores[gi]).all() for gj in twins)
