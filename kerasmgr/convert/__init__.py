"""Converters of released weights to kerasmgr models (``bin/convert_weights.py``)."""

from __future__ import annotations

from ..pretrained import save
from .choi import BN_READINGS, DEFAULT_BN_READING, FORMATS, MODES, PUBLISHED, build_converted

__all__ = ["BN_READINGS", "DEFAULT_BN_READING", "FORMATS", "MODES", "PUBLISHED", "build_converted", "convert"]


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
        :func:`build_converted` options (``mode``, ``n_samples``, ``calibration``, ``ordering``,
        ``bn_reading``).

    Returns
    -------
    dict
        ``{'keras': path, 'h5': path, 'json': path}``.
    """
    model, meta = build_converted(fmt, src, **kwargs)
    paths = save(model, out, meta)
    return paths
