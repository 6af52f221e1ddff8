"""Released weights with sidecar metadata: the project's own (``weights/``) and converted ones.

A released model is a Keras file (``.h5`` and/or ``.keras``) plus a JSON sidecar with the same
stem: model name, ``version``, ``task``, ``labels`` (classes or tags in output order),
``sample_rate`` (Hz), ``n_samples`` (input length), ``frontend`` settings, ``training_data``,
``metrics``, ``kerasmgr_version`` and ``sha256`` ({file name: digest}); or a preset folder
(:mod:`kerasmgr.presets`) in :func:`weights_dir`. Files whose sidecar records a digest are
verified before they are loaded: an altered or truncated file raises
:class:`kerasmgr.presets.PresetError` and is never deserialised.

>>> from kerasmgr import pretrained
>>> [r.name for r in pretrained.available()]              # doctest: +SKIP
['crnn-embedded', 'k2c2-embedded']
>>> model, meta = pretrained.load("k2c2-embedded")        # doctest: +SKIP
>>> model, meta = pretrained.load("converted/compact.h5") # any kerasmgr model file
>>> model, meta = pretrained.load("presets/compact")      # a preset folder

Plain ``keras.models.load_model(path)`` after ``import kerasmgr`` loads the same files.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from . import models
from .presets import PresetError, Release, available, load_released, read_metadata, sha256, weights_dir

__all__ = ["weights_dir", "available", "load", "save", "read_metadata", "Release", "PresetError"]


def load(name_or_path, *, compile=False):
    """Load a released model and its metadata.

    Parameters
    ----------
    name_or_path : str or Path
        A name from :func:`available`, a ``.h5``/``.keras`` file (with or without sidecar) or a
        preset folder.
    compile : bool
        Restore the training configuration too.

    Returns
    -------
    model : keras.Model
    meta : dict
        The sidecar; without one, ``sample_rate``, ``n_samples`` and ``labels`` (``None``) are
        filled in from the model.

    Raises
    ------
    FileNotFoundError, PresetError
        As :func:`kerasmgr.presets.load_released` (a file that fails its sha256 is not loaded).
    """
    model, meta = load_released(name_or_path, compile=compile)
    if set(meta) == {"path"}:  # no sidecar: what the model itself says
        sr, n = models.input_spec(model)
        meta.update({"model": model.name, "labels": None, "sample_rate": sr, "n_samples": n})
    return model, meta


def save(model, stem, metadata=None, *, formats=("keras", "h5")):
    """Write ``stem.keras`` / ``stem.h5`` atomically (temporary file, then rename) and the sidecar.

    Returns
    -------
    dict
        ``{format: path}`` including ``'json'`` when ``metadata`` is given.
    """
    stem = Path(stem)
    if stem.suffix in (".keras", ".h5", ".json"):
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = {}
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)  # Keras' "HDF5 is a legacy format" notice: .h5 is what users load
    # Keras 3.13's legacy .h5 writer pops "optimizer" from the model's own compile config, so every
    # later save of the model would lose its optimizer: keep a copy and put it back.
    compile_config = getattr(model, "_compile_config", None)
    kept = dict(compile_config.config) if compile_config is not None else None
    try:
        for ext in formats:
            final = Path(f"{stem}.{ext}")
            tmp = final.with_name(f"{final.stem}.tmp.{ext}")
            model.save(tmp)
            os.replace(tmp, final)
            paths[ext] = final
    finally:
        absl.setLevel(level)
        if kept is not None:
            compile_config.config.update(kept)
    if metadata is not None:
        metadata = {**metadata, "sha256": {p.name: sha256(p) for p in paths.values()}}
        metadata.setdefault("version", "1")
        paths["json"] = Path(f"{stem}.json")
        paths["json"].write_text(json.dumps(metadata, indent=2))
    return paths
