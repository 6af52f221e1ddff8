"""Released weights with sidecar metadata: the project's own (``weights/``) and converted ones.

A released model is a Keras file (``.h5`` and/or ``.keras``) plus a JSON sidecar with the same
stem: model name, ``task``, ``labels`` (classes or tags in output order), ``sample_rate`` (Hz),
``n_samples`` (input length), ``frontend`` settings, ``training_data``, ``metrics`` and
``kerasmgr_version``.

>>> from kerasmgr import pretrained
>>> pretrained.available()                                # doctest: +SKIP
['crnn-embedded', 'k2c2-embedded']
>>> model, meta = pretrained.load("k2c2-embedded")        # doctest: +SKIP
>>> model, meta = pretrained.load("converted/compact.h5") # any kerasmgr model file

Plain ``keras.models.load_model(path)`` after ``import kerasmgr`` loads the same files.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from . import models

__all__ = ["weights_dir", "available", "load", "save", "read_metadata"]

FORMATS = ("h5", "keras")


def weights_dir():
    """``$KERASMGR_WEIGHTS`` or the repository's ``weights/`` folder."""
    env = os.environ.get("KERASMGR_WEIGHTS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "weights"


def available():
    """Names of the released models in :func:`weights_dir` (stems with a sidecar and a model file)."""
    d = weights_dir()
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.json") if any(p.with_suffix(f".{e}").is_file() for e in FORMATS))


def _model_file(name_or_path):
    p = Path(name_or_path)
    if p.suffix in (".h5", ".keras") and p.is_file():
        return p
    if p.suffix == ".json" and p.is_file():
        p = p.with_suffix("")
    for base in ([weights_dir() / str(name_or_path)] if not p.parent.parts or str(p.parent) == "." else []) + [p]:
        for ext in FORMATS:
            cand = Path(f"{base}.{ext}")
            if cand.is_file():
                return cand
    raise FileNotFoundError(f"no released model {name_or_path!r} (available: {', '.join(available()) or 'none'}; "
                            f"or give a .h5/.keras path)")


def read_metadata(model_path):
    """The JSON sidecar of a model file, or ``None``."""
    side = Path(model_path).with_suffix(".json")
    return json.loads(side.read_text()) if side.is_file() else None


def load(name_or_path, *, compile=False):
    """Load a released model and its metadata.

    Parameters
    ----------
    name_or_path : str or Path
        A name from :func:`available`, or a ``.h5``/``.keras`` file (with or without sidecar).
    compile : bool
        Restore the training configuration too.

    Returns
    -------
    model : keras.Model
    meta : dict
        The sidecar; without one, ``sample_rate``, ``n_samples`` and ``labels`` (``None``) are
        filled in from the model.
    """
    import keras


    path = _model_file(name_or_path)
    model = keras.models.load_model(path, compile=compile)
    meta = read_metadata(path)
    if meta is None:
        sr, n = models.input_spec(model)
        meta = {"model": model.name, "labels": None, "sample_rate": sr, "n_samples": n}
    meta["path"] = str(path)
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
        paths["json"] = Path(f"{stem}.json")
        paths["json"].write_text(json.dumps(metadata, indent=2))
    return paths
