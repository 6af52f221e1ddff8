"""libsvm's SMO solver on precomputed kernels, warm-started along a path of C values.

The transfer protocols (``kerasmgr.transfer``) fit tens of thousands of SVMs that differ only in
C on one kernel matrix. scikit-learn's ``SVC``/``SVR`` (libsvm) start every fit from zero. This
module solves the *same* dual problems with the *same* algorithm and stopping rule as libsvm 3
(Fan, Chen & Lin 2005: second-order working-set selection, two-variable analytic update, stop
when the maximal KKT violation ``m(α) − M(α) < tol``, libsvm's bias), for all C values of a grid in
one call, with exact shortcuts between them:

* the first (smallest) C starts from the balanced all-at-bound point (every multiplier of the
  smaller class at C), which is the solution itself for small C — libsvm needs about n/2
  iterations to get there;
* when no multiplier of the solution for C reaches C, the same solution is optimal for every
  larger C (the box constraint is inactive; SMO stops at once);
* otherwise the next C starts from the previous solution scaled by ``C_new / C_old`` (feasible).

It is compiled with numba (already a dependency of librosa) and releases the GIL, so
thread-parallel callers use all cores. Measured on 1,000 items (10 classes, 900 per training
fold): 1.5–3× faster than libsvm on RBF kernels, 2–300× on linear kernels whose larger-C
solutions coincide with a smaller C's. Still slow, like libsvm: linear kernels with C ≥ 2 on
weakly separable low-dimensional features (≈32-d, one conv layer), where SMO needs millions of
iterations (about 1–3 s per C for 45 class pairs).

Differences from scikit-learn that remain: no shrinking heuristic (it changes only the path to a
solution within the tolerance), and the warm starts land on a different point inside the same
tolerance; predictions therefore agree with ``SVC(kernel='precomputed')`` except for test items
whose decision value is within the solver tolerance of zero (tests compare both).

Classification is one-vs-one with libsvm's voting (classes in sorted order, ties to the lower
class); regression is ε-SVR (libsvm's 2n-variable form, ``epsilon=0.1`` as scikit-learn).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["svc_path", "svr_path", "TOL"]

TOL = 1e-3  # libsvm's and scikit-learn's default stopping tolerance
_TAU = 1e-12
_INF = np.inf


@njit(cache=True, nogil=True)
def _gradient(K, idx, y, p, alpha, G):
    """G = p + Q α with Q_ab = y_a y_b K[idx_a, idx_b]."""
    n = idx.shape[0]
    for a in range(n):
        G[a] = p[a]
    for b in range(n):
        if alpha[b] != 0.0:
            ab = alpha[b] * y[b]
            kb = idx[b]
            for a in range(n):
                G[a] += y[a] * ab * K[kb, idx[a]]


@njit(cache=True, nogil=True)
def _warm_start(alpha, C_old, C_new):
    """Move the solution for ``C_old`` to a feasible start for ``C_new``; False if it is kept as is.

    When C grows and no multiplier is at the old bound, the solution is optimal for the new C as
    it is (the box constraint is inactive; SMO stops at once). Otherwise it is scaled by
    ``C_new / C_old`` (bounds kept exact), which keeps ``yᵀα = 0``.
    """
    if C_new >= C_old:
        at_bound = False
        for t in range(alpha.shape[0]):
            if alpha[t] >= C_old:
                at_bound = True
                break
        if not at_bound:
            return False
    r = C_new / C_old
    for t in range(alpha.shape[0]):
        if alpha[t] >= C_old:
            alpha[t] = C_new
        else:
            alpha[t] = min(alpha[t] * r, C_new)
    return True


@njit(cache=True, nogil=True)
def _balanced(alpha, y, npos, nneg, C):
    """Feasible start with every multiplier of the smaller class at C (the small-C solution)."""
    for t in range(alpha.shape[0]):
        if (y[t] > 0) == (npos <= nneg):
            alpha[t] = C
        else:
            alpha[t] = C * min(npos, nneg) / max(npos, nneg)


@njit(cache=True, nogil=True)
def _smo(K, idx, y, p, C, alpha, G, tol, max_iter):
    """libsvm's Solver::Solve (no shrinking) from a feasible ``alpha`` with gradient ``G``.

    Returns ``(rho, iterations)``; ``alpha`` and ``G`` are updated in place.
    """
    n = idx.shape[0]
    it = 0
    while it < max_iter:
        # --- working set selection (WSS3) ---
        gmax = -_INF
        i = -1
        for t in range(n):
            if y[t] > 0:
                if alpha[t] < C and -G[t] >= gmax:
                    gmax = -G[t]
                    i = t
            else:
                if alpha[t] > 0.0 and G[t] >= gmax:
                    gmax = G[t]
                    i = t
        gmax2 = -_INF
        j = -1
        obj_min = _INF
        if i >= 0:
            ki = idx[i]
            qdi = K[ki, ki]
            for t in range(n):
                if (alpha[t] > 0.0) if y[t] > 0 else (alpha[t] < C):  # t in I_low
                    kt = idx[t]
                    v = y[t] * G[t]
                    gd = gmax + v
                    if v >= gmax2:
                        gmax2 = v
                    if gd > 0.0:
                        q = qdi + K[kt, kt] - 2.0 * K[ki, kt]
                        od = -(gd * gd) / (q if q > 0.0 else _TAU)
                        if od <= obj_min:
                            j = t
                            obj_min = od
        if gmax + gmax2 < tol or j == -1:
            break
        it += 1
        # --- two-variable update (libsvm's clipping) ---
        ki, kj = idx[i], idx[j]
        qij = y[i] * y[j] * K[ki, kj]
        qii, qjj = K[ki, ki], K[kj, kj]
        ai, aj = alpha[i], alpha[j]
        if y[i] != y[j]:
            q = qii + qjj + 2.0 * qij
            if q <= 0.0:
                q = _TAU
            delta = (-G[i] - G[j]) / q
            diff = ai - aj
            ni, nj = ai + delta, aj + delta
            if diff > 0.0:
                if nj < 0.0:
                    nj = 0.0
                    ni = diff
            else:
                if ni < 0.0:
                    ni = 0.0
                    nj = -diff
            if diff > 0.0:  # C_i == C_j == C
                if ni > C:
                    ni = C
                    nj = C - diff
            else:
                if nj > C:
                    nj = C
                    ni = C + diff
        else:
            q = qii + qjj - 2.0 * qij
            if q <= 0.0:
                q = _TAU
            delta = (G[i] - G[j]) / q
            s = ai + aj
            ni, nj = ai - delta, aj + delta
            if s > C:
                if ni > C:
                    ni = C
                    nj = s - C
            else:
                if nj < 0.0:
                    nj = 0.0
                    ni = s
            if s > C:
                if nj > C:
                    nj = C
                    ni = s - C
            else:
                if ni < 0.0:
                    ni = 0.0
                    nj = s
        dai, daj = (ni - ai) * y[i], (nj - aj) * y[j]
        alpha[i], alpha[j] = ni, nj
        for t in range(n):
            kt = idx[t]
            G[t] += y[t] * (K[ki, kt] * dai + K[kj, kt] * daj)
    # --- bias (libsvm's calculate_rho) ---
    ub, lb, sfree, nfree = _INF, -_INF, 0.0, 0
    for t in range(n):
        yg = y[t] * G[t]
        if alpha[t] >= C:
            if y[t] < 0:
                ub = min(ub, yg)
            else:
                lb = max(lb, yg)
        elif alpha[t] <= 0.0:
            if y[t] > 0:
                ub = min(ub, yg)
            else:
                lb = max(lb, yg)
        else:
            nfree += 1
            sfree += yg
    rho = sfree / nfree if nfree > 0 else 0.5 * (ub + lb)
    return rho, it


@njit(cache=True, nogil=True)
def _svc_path(K, y, n_classes, K_test, Cs, tol, max_iter):
    n_test = K_test.shape[0]
    nC = Cs.shape[0]
    votes = np.zeros((nC, n_test, n_classes), dtype=np.int64)
    iters = np.zeros(nC, dtype=np.int64)
    for a in range(n_classes):
        for b in range(a + 1, n_classes):
            m = 0
            for t in range(y.shape[0]):
                if y[t] == a or y[t] == b:
                    m += 1
            idx = np.empty(m, dtype=np.int64)
            ys = np.empty(m, dtype=np.float64)
            k = 0
            for t in range(y.shape[0]):  # libsvm's order: class a's items, then class b's
                if y[t] == a:
                    idx[k] = t
                    ys[k] = 1.0
                    k += 1
            for t in range(y.shape[0]):
                if y[t] == b:
                    idx[k] = t
                    ys[k] = -1.0
                    k += 1
            Ks = np.empty((m, m))  # the pair's kernel, contiguous, shared by every C
            for u in range(m):
                for v in range(m):
                    Ks[u, v] = K[idx[u], idx[v]]
            local = np.arange(m)
            p = -np.ones(m)
            alpha = np.zeros(m)
            G = np.empty(m)
            prev = 0.0
            npos = 0
            for t in range(m):
                if ys[t] > 0:
                    npos += 1
            for c in range(nC):
                if c == 0:
                    _balanced(alpha, ys, npos, m - npos, Cs[c])
                    _gradient(Ks, local, ys, p, alpha, G)
                elif _warm_start(alpha, prev, Cs[c]):
                    _gradient(Ks, local, ys, p, alpha, G)  # (an unchanged alpha keeps its gradient)
                rho, it = _smo(Ks, local, ys, p, Cs[c], alpha, G, tol, max_iter)
                iters[c] += it
                prev = Cs[c]
                for s in range(n_test):
                    d = -rho
                    for t in range(m):
                        if alpha[t] != 0.0:
                            d += ys[t] * alpha[t] * K_test[s, idx[t]]
                    if d > 0.0:
                        votes[c, s, a] += 1
                    else:
                        votes[c, s, b] += 1
    return votes, iters


@njit(cache=True, nogil=True)
def _svr_path(K, z, K_test, Cs, epsilon, tol, max_iter):
    n = z.shape[0]
    idx = np.empty(2 * n, dtype=np.int64)
    ys = np.empty(2 * n)
    p = np.empty(2 * n)
    for t in range(n):
        idx[t], idx[t + n] = t, t
        ys[t], ys[t + n] = 1.0, -1.0
        p[t], p[t + n] = epsilon - z[t], epsilon + z[t]
    alpha = np.zeros(2 * n)
    G = np.empty(2 * n)
    nC = Cs.shape[0]
    out = np.zeros((nC, K_test.shape[0]))
    iters = np.zeros(nC, dtype=np.int64)
    prev = 0.0
    for c in range(nC):
        if c == 0 or _warm_start(alpha, prev, Cs[c]):
            _gradient(K, idx, ys, p, alpha, G)
        rho, it = _smo(K, idx, ys, p, Cs[c], alpha, G, tol, max_iter)
        iters[c] = it
        prev = Cs[c]
        for s in range(K_test.shape[0]):
            d = -rho
            for t in range(n):
                coef = alpha[t] - alpha[t + n]
                if coef != 0.0:
                    d += coef * K_test[s, t]
            out[c, s] = d
    return out, iters


def _check(K_train, K_test, n):
    K_train = np.ascontiguousarray(K_train, dtype=np.float64)
    K_test = np.ascontiguousarray(K_test, dtype=np.float64)
    if K_train.shape != (n, n) or K_test.ndim != 2 or K_test.shape[1] != n:
        raise ValueError(f"kernel shapes {K_train.shape} / {K_test.shape} do not match {n} training items")
    if not (np.isfinite(K_train).all() and np.isfinite(K_test).all()):
        raise ValueError("kernel matrix contains NaN or inf")
    return K_train, K_test


def _max_iter(n):
    return max(10_000_000, 100 * n)  # libsvm's cap


def svc_path(K_train, y_train, K_test, Cs, *, tol=TOL, return_iterations=False):
    """One-vs-one C-SVC predictions for several C values on one precomputed kernel.

    Parameters
    ----------
    K_train : array, shape (n_train, n_train)
        Kernel between training items.
    y_train : array, shape (n_train,)
        Class labels (any sortable values).
    K_test : array, shape (n_test, n_train)
        Kernel between test and training items.
    Cs : sequence of float
        Penalties; solved in the order given, each warm-started from the previous one
        (ascending order is fastest).
    tol : float
        libsvm's stopping tolerance on the maximal KKT violation.
    return_iterations : bool
        Also return the SMO iterations per C (summed over the class pairs).

    Returns
    -------
    array, shape (len(Cs), n_test)
        Predicted labels (values of ``y_train``), one row per C.
    """
    classes, y = np.unique(np.asarray(y_train), return_inverse=True)
    K_train, K_test = _check(K_train, K_test, len(y))
    Cs = np.asarray(Cs, dtype=np.float64)
    if (Cs <= 0).any():
        raise ValueError("C must be positive")
    if len(classes) < 2:
        pred = np.repeat(classes[:1], K_test.shape[0])[None].repeat(len(Cs), 0)
        return (pred, np.zeros(len(Cs), int)) if return_iterations else pred
    votes, iters = _svc_path(K_train, y.astype(np.int64), len(classes), K_test, Cs, float(tol),
                             _max_iter(len(y)))
    pred = classes[votes.argmax(axis=2)]  # ties: the lower class, as libsvm
    return (pred, iters) if return_iterations else pred


def svr_path(K_train, z_train, K_test, Cs, *, epsilon=0.1, tol=TOL, return_iterations=False):
    """ε-SVR predictions for several C values on one precomputed kernel.

    Parameters
    ----------
    K_train : array, shape (n_train, n_train)
    z_train : array, shape (n_train,)
        Real-valued targets.
    K_test : array, shape (n_test, n_train)
    Cs : sequence of float
        Penalties, warm-started in the order given.
    epsilon : float
        Width of the insensitive tube (scikit-learn's default 0.1).
    tol : float
        Stopping tolerance.
    return_iterations : bool
        Also return the SMO iterations per C.

    Returns
    -------
    array, shape (len(Cs), n_test)
        Predicted values.
    """
    z = np.asarray(z_train, dtype=np.float64)
    K_train, K_test = _check(K_train, K_test, len(z))
    Cs = np.asarray(Cs, dtype=np.float64)
    if (Cs <= 0).any():
        raise ValueError("C must be positive")
    out, iters = _svr_path(K_train, z, K_test, Cs, float(epsilon), float(tol), _max_iter(len(z)))
    return (out, iters) if return_iterations else out

