"""Presets: a model folder in keras-hub's style, checked by sha256 before anything is loaded.

A preset folder holds

* ``config.json`` — the Keras functional config (``keras.saving.serialize_keras_object``),
  deserialised in Keras' safe mode (kerasmgr's registered layers, no ``Lambda``);
* ``model.weights.h5`` — the weights;
* ``metadata.json`` — ``name``, ``version``, ``model``, ``task``, ``labels``, ``sample_rate``
  (Hz), ``n_samples``, ``frontend``, ``training_data``, ``metrics``, ``kerasmgr_version`` and
  ``sha256`` (file name → hex digest of ``config.json`` and ``model.weights.h5``);
* ``README.md`` — the model card: intended use, training data, metrics, limitations.

:func:`load_preset` verifies every digest first: a modified, truncated or missing file raises
:class:`PresetError` and nothing is deserialised. The released ``.h5``/``.keras`` files of
``weights/`` carry the same ``sha256`` entry in their JSON sidecar and are checked the same way
by :func:`kerasmgr.pretrained.load`.

>>> from kerasmgr import models
>>> model = models.from_preset("k2c2-embedded")          # doctest: +SKIP
>>> model = models.from_preset("presets/choi-compact")   # a folder written by save_preset
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from typing import NamedTuple

from . import __version__

__all__ = ["PresetError", "Release", "FORMATS", "available", "resolve", "read_metadata", "load_released",
           "weights_dir", "sha256", "verify_files", "save_preset", "read_preset", "load_preset",
           "is_preset", "model_card", "CONFIG", "WEIGHTS", "METADATA", "CARD"]

CONFIG, WEIGHTS, METADATA, CARD = "config.json", "model.weights.h5", "metadata.json", "README.md"


class PresetError(ValueError):
    """A preset or released model that fails its integrity check or is incomplete."""


def weights_dir():
    """``$KERASMGR_WEIGHTS`` or the repository's ``weights/`` folder (released models and presets)."""
    env = os.environ.get("KERASMGR_WEIGHTS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "weights"


def sha256(path, chunk=1 << 20):
    """Hex sha256 digest of a file (read in 1-MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def verify_files(folder, digests, *, what):
    """Check ``{file name: sha256}`` under ``folder``; raise :class:`PresetError` naming the first
    missing or altered file and what to do."""
    folder = Path(folder)
    if not digests:
        raise PresetError(f"{what}: its metadata lists no sha256 digests, so its files cannot be verified; "
                          f"write it again with kerasmgr.presets.save_preset (or pretrained.save)")
    for name, want in digests.items():
        path = folder / name
        if not path.is_file():
            raise PresetError(f"{path}: missing from {what}; copy or download the complete folder again")
        got = sha256(path)
        if got != want:
            raise PresetError(f"{path}: sha256 {got[:16]}… does not match {want[:16]}… recorded in {what}'s metadata "
                              f"(the file was modified or truncated); download or convert it again — it was not loaded")


FORMATS = ("h5", "keras")


class Release(NamedTuple):
    """One entry of :func:`available`."""

    name: str
    version: str
    metrics: dict
    path: str


def available():
    """The released models and presets in :func:`weights_dir`, by name.

    Returns
    -------
    list of Release
        ``(name, version, metrics, path)`` for each ``NAME.json`` sidecar with a model file beside
        it and each preset folder.
    """
    d = weights_dir()
    if not d.is_dir():
        return []
    out = {}
    for p in d.glob("*.json"):
        files = [p.with_suffix(f".{e}") for e in FORMATS if p.with_suffix(f".{e}").is_file()]
        if files:
            meta = json.loads(p.read_text())
            out[p.stem] = Release(p.stem, str(meta.get("version", "1")), meta.get("metrics") or {}, str(files[0]))
    for p in d.iterdir():
        if p.is_dir() and is_preset(p):  # a preset of the same name as a single file: the preset
            meta = read_preset(p)
            out[p.name] = Release(p.name, str(meta.get("version", "1")), meta.get("metrics") or {}, str(p))
    return sorted(out.values())


def _names():
    return ", ".join(r.name for r in available()) or "none"


def resolve(name_or_path):
    """The file or preset folder of a released name, a ``.h5``/``.keras``/``.json`` path or a
    preset folder; ``FileNotFoundError`` naming what is available otherwise."""
    p = Path(name_or_path)
    if p.suffix in (".h5", ".keras") and p.is_file():
        return p
    if p.suffix == ".json" and p.is_file():
        p = p.with_suffix("")
    sidecar = Path(name_or_path).suffix == ".json"
    for base in ([weights_dir() / str(name_or_path)] if not p.parent.parts or str(p.parent) == "." else []) + [p]:
        if not sidecar and base.is_dir() and is_preset(base):  # a preset folder before a file of its name
            return base
        for ext in FORMATS:
            cand = Path(f"{base}.{ext}")
            if cand.is_file():
                return cand
    raise FileNotFoundError(f"no released model {name_or_path!r} (available: {_names()}; "
                            f"or give a .h5/.keras path or a preset folder)")


def read_metadata(model_path):
    """The JSON sidecar of a model file, or ``None``."""
    side = Path(model_path).with_suffix(".json")
    return json.loads(side.read_text()) if side.is_file() else None


def load_released(name_or_path, *, compile=False):
    """Verify and load a released model file or preset (what :func:`kerasmgr.pretrained.load` and
    :func:`kerasmgr.models.from_preset` call).

    Returns
    -------
    model : keras.Model
    meta : dict
        The sidecar or preset metadata plus ``path`` (only ``path`` for a file without a sidecar).

    Raises
    ------
    FileNotFoundError
        No such name, file or folder.
    PresetError
        A file whose sha256 differs from the one its metadata records (it is not loaded).
    """
    import keras

    path = resolve(name_or_path)
    if path.is_dir():
        return load_preset(path)
    meta = read_metadata(path)
    if meta is not None and path.name in (meta.get("sha256") or {}):
        verify_files(path.parent, {path.name: meta["sha256"][path.name]}, what=f"released model {path.with_suffix('')}")
    model = keras.models.load_model(path, compile=compile)
    return model, {**(meta or {}), "path": str(path)}


def model_card(meta):
    """The README.md model card of a preset from its metadata (``card`` entries override defaults)."""
    card = dict(meta.get("card") or {})
    td = meta.get("training_data") or {}
    data = td.get("description") or td.get("dataset") or "not recorded"
    embedded = td.get("dataset") == "embedded"
    intended = card.get("intended_use") or (
        "A demonstration and test fixture of kerasmgr: it shows the training, tagging, export and audit "
        "workflows end to end. It is not a real-music tagger." if embedded else
        f"Research on {meta.get('task') or 'music classification'} with kerasmgr: tagging, feature extraction "
        f"and comparison with the seed systems.")
    limitations = card.get("limitations") or (
        "Trained on generated music (kerasmgr's embedded dataset: synthesised drums, bass, chords and melodies "
        "in eight styles). Its tags describe those generators; on real recordings its scores mean little. "
        "Use it to try the tools, not to tag music." if embedded else
        "Inherits the biases of its training data (genres, eras, production styles and label noise); check it "
        "on your own data (bin/audit.py) before relying on it.")
    metrics = meta.get("metrics") or {}
    rows = "\n".join(f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items())
    labels = meta.get("labels") or []
    lines = [
        f"# {meta.get('name', 'model')} (version {meta.get('version', '1')})", "",
        f"{meta.get('model', '?')} — {meta.get('task', '?')}; input: mono waveform, {meta.get('n_samples')} samples "
        f"at {meta.get('sample_rate')} Hz; outputs: {len(labels)} "
        f"({', '.join(labels[:12])}{', …' if len(labels) > 12 else ''}).", "",
        "## Intended use", "", intended, "",
        "## Training data", "", data + (f" (`{td['command']}`)" if td.get("command") else ""), "",
        "## Metrics", "", "On the held-out test subset of the training data.", "",
        "| metric | value |", "|---|---|", rows or "| (none recorded) | |", "",
        "## Limitations", "", limitations, "",
        "## Files", "",
        f"`{CONFIG}`, `{WEIGHTS}`, `{METADATA}` (sha256 of each file, checked on loading). "
        f"Load with `kerasmgr.models.from_preset(folder)`. Written by kerasmgr {meta.get('kerasmgr_version')}.", "",
    ]
    if meta.get("citation"):
        lines += ["## Citation", "", meta["citation"], ""]
    return "\n".join(lines)


def save_preset(model, folder, metadata, *, version="1"):
    """Write a preset folder.

    Parameters
    ----------
    model : keras.Model
    folder : str or Path
        Created if missing; its four files are replaced.
    metadata : dict
        ``labels``, ``sample_rate`` (Hz), ``n_samples``, ``task``, ``training_data``, ``metrics``,
        optionally ``name``, ``card`` ({``intended_use``, ``limitations``}) and ``citation``.
    version : str
        The preset's version.

    Returns
    -------
    Path
        The folder.
    """
    import keras

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {k: v for k, v in dict(metadata).items() if k != "path"}
    meta.setdefault("name", folder.name)
    meta.setdefault("model", model.name)
    meta["version"] = str(meta.get("version") or version)
    meta["kerasmgr_version"] = __version__
    config = json.dumps(keras.saving.serialize_keras_object(model), indent=1)
    tmp_cfg, tmp_w = folder / f".{CONFIG}.tmp", folder / f".tmp.{WEIGHTS}"
    tmp_cfg.write_text(config)
    model.save_weights(tmp_w)
    os.replace(tmp_cfg, folder / CONFIG)
    os.replace(tmp_w, folder / WEIGHTS)
    meta["sha256"] = {CONFIG: sha256(folder / CONFIG), WEIGHTS: sha256(folder / WEIGHTS)}
    (folder / METADATA).write_text(json.dumps(meta, indent=2, default=str))
    (folder / CARD).write_text(model_card(meta))
    return folder


def is_preset(folder):
    """Whether ``folder`` looks like a preset (has ``metadata.json`` and ``config.json``)."""
    folder = Path(folder)
    return (folder / METADATA).is_file() and (folder / CONFIG).is_file()


def read_preset(folder):
    """The metadata of a preset folder (not verified)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PresetError(f"{folder}: no such preset folder")
    try:
        return json.loads((folder / METADATA).read_text())
    except FileNotFoundError:
        raise PresetError(f"{folder}: not a preset (no {METADATA}); write one with bin/convert_weights.py "
                          f"--preset DIR or kerasmgr.presets.save_preset") from None
    except ValueError as e:
        raise PresetError(f"{folder / METADATA}: not valid JSON ({e})") from None


def load_preset(folder):
    """Verify and load a preset folder.

    Returns
    -------
    model : keras.Model
    meta : dict
        Its metadata, with ``path`` (the folder).

    Raises
    ------
    PresetError
        Missing files, a sha256 mismatch (nothing is deserialised then), or a config Keras
        cannot rebuild.
    """
    import keras

    folder = Path(folder)
    meta = read_preset(folder)
    verify_files(folder, meta.get("sha256"), what=f"preset {folder}")
    try:
        model = keras.saving.deserialize_keras_object(json.loads((folder / CONFIG).read_text()), safe_mode=True)
        model.load_weights(folder / WEIGHTS)
    except Exception as e:
        raise PresetError(f"{folder}: the preset's files passed their checksums but Keras could not rebuild "
                          f"the model ({type(e).__name__}: {str(e)[:300]}); is kerasmgr older than "
                          f"{meta.get('kerasmgr_version')}?") from None
    meta["path"] = str(folder)
    return model, meta
