"""Converters of released weights to kerasmgr models (``bin/convert_weights.py``)."""

from __future__ import annotations

from pathlib import Path

from ..presets import save_preset
from ..pretrained import save
from .choi import BN_READINGS, DEFAULT_BN_READING, FORMATS, MODES, PUBLISHED, build_converted

__all__ = ["BN_READINGS", "DEFAULT_BN_READING", "FORMATS", "MODES", "PUBLISHED", "build_converted", "convert"]


def convert(fmt, src, out=None, *, preset=None, **kwargs):
    """Convert a released weight file and write ``OUT.keras``, ``OUT.h5`` and ``OUT.json`` and/or
    a preset folder.

    Parameters
    ----------
    fmt : str
        One of :data:`FORMATS`.
    src : str or Path
        The released file.
    out : str or Path or None
        Output stem (an extension, if given, is dropped).
    preset : str or Path or None
        Also (or instead) write a preset folder (:func:`kerasmgr.presets.save_preset`) with a
        model card naming the original project, its paper and the conversion mode.
    **kwargs
        :func:`build_converted` options (``mode``, ``n_samples``, ``calibration``, ``ordering``,
        ``bn_reading``).

    Returns
    -------
    dict
        ``{'keras': path, 'h5': path, 'json': path}`` and/or ``{'preset': folder}``.
    """
    if out is None and preset is None:
        raise ValueError("give an output stem, a preset folder, or both")
    model, meta = build_converted(fmt, src, **kwargs)
    paths = save(model, out, meta) if out is not None else {}
    if preset is not None:
        card = {"intended_use": "Music auto-tagging with the 50 Million Song Dataset tags, and multi-layer "
                                "convnet features for transfer learning (Choi et al.), in kerasmgr.",
                "limitations": "Converted from the author's released Keras weights "
                               f"({fmt}: {meta.get('source_file')}, mode {meta.get('mode')}); "
                               "trained on the Million Song Dataset's last.fm tags, which are noisy and "
                               "weighted towards Western popular music of the 2000s. Scores match the "
                               "original code's within the tolerance stated in the kerasmgr README."}
        meta = {**meta, "card": card, "name": Path(preset).name}
        paths["preset"] = save_preset(model, preset, meta)
    return paths
