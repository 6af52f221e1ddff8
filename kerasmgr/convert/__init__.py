"""Converters of released weights to kerasmgr models (``bin/convert_weights.py``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .choi import FORMATS, MODES, PUBLISHED, build_converted

__all__ = ["FORMATS", "MODES", "PUBLISHED", "build_converted", "convert"]


def convert(fmt, src, out, **kwargs):
    """Convert a released weight file and write ``OUT.keras``, ``OUT.h5`` and ``OUT.json``.

    Parameters
    ----------
    fmt : str
        One of :data:`FORMATS`.
    src : str or Path
        The released file.
    out : str or Path
        Output stem (an extension, if given, is dropped).
    **kwargs
        :func:`build_converted` options (``mode``, ``n_samples``, ``calibration``, ``ordering``).

    Returns
    -------
    dict
        ``{'keras': path, 'h5': path, 'json': path}``.
    """
    import logging

    model, meta = build_converted(fmt, src, **kwargs)
    stem = Path(out)
    if stem.suffix in (".keras", ".h5", ".json"):
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = {ext: Path(f"{stem}.{ext}") for ext in ("keras", "h5", "json")}
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)  # Keras' "HDF5 is a legacy format" notice
    try:
        for ext in ("keras", "h5"):
            tmp = paths[ext].with_name(paths[ext].stem + f".tmp.{ext}")
            model.save(tmp)
            os.replace(tmp, paths[ext])
    finally:
        absl.setLevel(level)
    paths["json"].write_text(json.dumps(meta, indent=2))
    return paths
