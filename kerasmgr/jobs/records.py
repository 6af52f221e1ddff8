"""What the jobs write: JSON that numpy values can go into, written atomically, and curves kept as CSV
files that are rewritten point by point (a job stopped half-way keeps every finished point)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

__all__ = ["json_default", "atomic_json", "resumable_curve"]


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
