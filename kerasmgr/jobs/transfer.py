"""Transfer-learning job (thesis ch. 6): SVM tables over convnet-feature files.

``bin/transfer.py`` calls :func:`run_files`: :func:`load_inputs` aligns the feature files with a
label CSV, :func:`kerasmgr.transfer.run` runs the grids, :func:`write_results` writes the table,
CSV/JSON and bar charts.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from .. import plots
from ..transfer import rank, results_table, run

__all__ = ["load_inputs", "write_results", "run_files", "RESULT_FIELDS"]

def _array_with_meta(path):
    """An extract_features array, its metadata JSON and index CSV (paths), if present."""
    p = Path(path)
    X = np.load(p, allow_pickle=False)
    meta = json.loads(p.with_suffix(".json").read_text()) if p.with_suffix(".json").is_file() else {}
    paths = None
    if p.with_suffix(".csv").is_file():
        with open(p.with_suffix(".csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        paths = [None] * len(X)
        for r in rows:
            paths[int(r["row"])] = r["path"]
    return X, meta, paths


def _split_layers(X, meta, prefix):
    if "boundaries" not in meta:
        raise ValueError("the feature file has no layer boundaries (its .json from extract_features); "
                         "use --layer-files for per-layer arrays")
    return {f"{prefix}{int(k)}": X[:, a:b] for k, (a, b) in meta["boundaries"].items()}


def load_inputs(*, labels, features=None, layer_files=None, mfcc=None, random=None, target="label"):
    """Feature blocks and targets for :func:`run`, aligned row by row.

    Parameters
    ----------
    labels : str or Path
        CSV with a ``target`` column (class names or real values) and optional ``group``,
        ``split`` (train/valid/test) and ``path`` columns. With ``path`` (and the feature files'
        index CSVs), rows are matched by path; otherwise row ``i`` of every file is item ``i``.
    features : str or None
        Array written by ``extract_features`` (its ``.json`` gives the layer boundaries).
    layer_files : list of str or None
        One ``(n, d)`` array per layer, in layer order (the format other extractors publish).
    mfcc, random : str or None
        MFCC baseline array, and the random-convnet array (same layers as ``features``).

    Returns
    -------
    blocks : dict
    y : np.ndarray
    groups, subsets : np.ndarray or None
        Group ids, and each item's subset from the CSV's ``split`` column.
    layers : list of int
    dropped : list of str
        Items left out (failed extraction or no label), with the reason.
    """
    with open(labels, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or target not in rows[0]:
        raise ValueError(f"{labels}: needs a {target!r} column")
    sources = []  # (prefix, array, meta, paths)
    if features is not None:
        X, meta, paths = _array_with_meta(features)
        sources.append(("L", X, meta, paths))
    elif layer_files:
        arrays = [np.load(p, allow_pickle=False) for p in layer_files]
        starts = np.cumsum([0] + [a.shape[1] for a in arrays])
        meta = {"boundaries": {str(i + 1): [int(starts[i]), int(starts[i + 1])] for i in range(len(arrays))}}
        sources.append(("L", np.concatenate(arrays, axis=1), meta, None))
    else:
        raise ValueError("give features or layer_files")
    if random is not None:
        X, meta, paths = _array_with_meta(random)
        sources.append(("R", X, meta, paths))
    if mfcc is not None:
        X, meta, paths = _array_with_meta(mfcc)
        sources.append(("MFCC", X, {"boundaries": None}, paths))

    n = len(sources[0][1])
    if "path" in rows[0] and all(s[3] is not None for s in sources):
        by_path = {r["path"]: r for r in rows}
        index = []
        for i in range(n):
            p = sources[0][3][i]
            if p is not None and p in by_path and all(s[3][i] == p for s in sources):
                index.append((i, by_path[p]))
    else:
        for s in sources:
            if len(s[1]) != len(rows):
                raise ValueError(f"{labels} has {len(rows)} rows but a feature file has {len(s[1])}; add a 'path' column")
        index = list(enumerate(rows))
    dropped = []
    keep = []
    for i, r in index:
        bad = any(not np.all(np.isfinite(s[1][i])) for s in sources)
        if bad or r[target] == "":
            dropped.append(f"{r.get('path', i)}: {'no features' if bad else 'no label'}")
        else:
            keep.append((i, r))
    rows_idx = np.array([i for i, _ in keep], dtype=np.int64)
    blocks = {}
    for prefix, X, meta, _ in sources:
        if prefix == "MFCC":
            blocks["MFCC"] = X[rows_idx]
        else:
            blocks.update({k: v[rows_idx] for k, v in _split_layers(X, meta, prefix).items()})
    vals = [r[target] for _, r in keep]
    try:
        y = np.array([float(v) for v in vals])
        if np.all(y == np.round(y)) and len(np.unique(y)) <= 20:
            y = y.astype(np.int64)
    except ValueError:
        y = np.array(vals)
    groups = np.array([r["group"] for _, r in keep]) if "group" in rows[0] else None
    subsets = np.array([r["split"] for _, r in keep]) if "split" in rows[0] else None
    layers = sorted(int(k[1:]) for k in blocks if k.startswith("L"))
    return blocks, y, groups, subsets, layers, dropped


RESULT_FIELDS = ("feature_set", "kind", "protocol", "metric", "score", "std", "n_features", "outer_folds", "params")


def write_results(rows, out, *, protocols, n_items):
    """``results.json``, ``results.csv``, ``table.txt`` and ``bars_<protocol>.png`` of :func:`kerasmgr.transfer.run` rows.

    Returns
    -------
    str
        The text table.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(RESULT_FIELDS)
        for r in rows:
            w.writerow([r["feature_set"], r["kind"], r["protocol"], r["metric"], f"{r['score']:.6f}", f"{r['std']:.6f}",
                        r["n_features"], r["outer_folds"], json.dumps(r["params"])])
    text = results_table(rows)
    (out / "table.txt").write_text(text + "\n")
    for proto in protocols:
        fig = plots.transfer_figure(rows, rank(rows, proto), protocol=proto, title=f"{proto} protocol ({n_items} items)")
        plots.save_figure(fig, out / f"bars_{proto}.png")
    return text


def run_files(out, *, labels, features=None, layer_files=None, mfcc=None, random=None, target="label", task=None,
              protocols=("thesis", "nested"), n_folds=10, grid="thesis", shuffle=False, seed=0, n_jobs=2,
              progress=True, only=None):
    """The transfer-learning table from feature files (``bin/transfer.py``).

    Parameters
    ----------
    out : str or Path
        Receives :func:`write_results`'s files.
    labels, features, layer_files, mfcc, random, target
        As :func:`load_inputs`.
    task, protocols, n_folds, grid, shuffle, seed, n_jobs, progress, only
        As :func:`kerasmgr.transfer.run`.

    Returns
    -------
    rows : list of dict
    text : str
        The table.
    dropped : list of str
        Items left out, with the reason.
    """
    blocks, y, groups, subsets, layers, dropped = load_inputs(
        labels=labels, features=features, layer_files=layer_files, mfcc=mfcc, random=random, target=target)
    rows = run(blocks, y, task=task, layers=layers, protocols=protocols, n_folds=n_folds, groups=groups, grid=grid,
               subsets=subsets, shuffle=shuffle, seed=seed, n_jobs=n_jobs, progress=progress, only=only)
    return rows, write_results(rows, out, protocols=protocols, n_items=len(y)), dropped
