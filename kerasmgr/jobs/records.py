"""What the jobs write: JSON that numpy values can go into and ``.npz`` files, written atomically;
ragged lists of arrays (per-clip segment posteriors) packed for ``.npz``; CSV files written
incrementally, read back without a line cut by a kill; and curves kept as CSV files that are
rewritten point by point (a job stopped half-way keeps every finished point)."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

__all__ = ["json_default", "atomic_json", "atomic_npz", "pack_ragged", "unpack_ragged", "read_csv_rows",
           "resumable_curve"]


def json_default(o):
    """``json.dumps(default=...)`` for numpy scalars and arrays (anything else as text)."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def atomic_json(path, obj, *, indent=1):
    """Write ``obj`` as JSON to ``path`` through a temporary file and a rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=indent, default=json_default))
    os.replace(tmp, path)


def atomic_npz(path, **arrays):
    """``np.savez`` of ``arrays`` to ``path`` (ending in ``.npz``) through a temporary file and a rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def pack_ragged(arrays, width):
    """A list of arrays of shape ``(n_i, width)`` (e.g. each clip's segment posteriors) as one
    float array ``(sum n_i, width)`` and the int64 lengths ``n_i``, for an ``.npz``."""
    flat = np.concatenate(arrays) if len(arrays) else np.zeros((0, width), np.float32)
    return flat, np.array([len(a) for a in arrays], np.int64)


def unpack_ragged(flat, counts):
    """The list :func:`pack_ragged` packed."""
    bounds = np.cumsum([0, *counts])
    return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def read_csv_rows(path):
    """The rows (header first) of a CSV a job appends to, without a last line cut by a kill.

    A line without its newline is dropped even where its fields look whole (a score cut short).

    Returns
    -------
    rows : list of list of str
    torn : bool
        Whether a cut last line was dropped.
    """
    with open(path, newline="") as f:
        text = f.read()
    rows = list(csv.reader(io.StringIO(text)))
    torn = len(rows) > 1 and not text.endswith("\n")
    return (rows[:-1] if torn else rows), torn


def resumable_curve(path, xs, measure, *, x="snr_db", y="accuracy", desc="curve", progress=True):
    """A curve ``{x: {x, y, n}}`` computed point by point into a CSV file that a rerun continues.

    Parameters
    ----------
    path : str or Path
        The CSV (columns ``x``, ``y``, ``n``); points already in it are not measured again.
    xs : iterable of float
        The points, e.g. SNR bounds in dB.
    measure : callable
        ``measure(x) -> (y, n)``.

    Returns
    -------
    dict
        ``{x: {x: ..., y: ..., 'n': ...}}`` over every point in the file.
    """
    path = Path(path)
    curve = {}
    if path.exists():
        with open(path, newline="") as f:
            curve = {float(r[x]): r for r in csv.DictReader(f)}
    for v in tqdm(sorted(xs), desc=desc, disable=not progress):
        if float(v) in curve:
            continue
        value, n = measure(float(v))
        curve[float(v)] = {x: float(v), y: value, "n": n}
        with open(path, "w", newline="") as f:  # rewritten after each point: nothing lost
            w = csv.DictWriter(f, fieldnames=(x, y, "n"))
            w.writeheader()
            for k in sorted(curve):
                w.writerow({kk: curve[k][kk] for kk in (x, y, "n")})
    return curve
