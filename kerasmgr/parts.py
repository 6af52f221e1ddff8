"""Job-array parts: a deterministic share of a batch job's inputs, and the checks a merge needs.

A batch job over a large corpus (extraction, tagging, evaluation) runs as ``N`` parts on a
cluster's own array engine — Slurm job arrays, Kubernetes Indexed Jobs — each part taking
``--part K/N`` (``K`` = 1..N) or ``--part auto/N`` (``K`` from ``SLURM_ARRAY_TASK_ID`` or
``JOB_COMPLETION_INDEX``). Part ``K`` takes the ``K``-th contiguous block of the input list in its
given order (sorted paths, or a split list's order), so the same listing gives the same parts on
every machine and the parts, concatenated in order, are the single run's list. Block boundaries
fall on a job's *grid* (e.g. every 16 files for extraction): the groups of files a job computes
together (their segments share forward passes) are then the same in a part as in the single run,
which is what makes a merge byte-identical to it.

Each part records :func:`part_metadata`: which part it is, the digest of the *whole* input list
and of the settings (model, options). :func:`check_parts` is what a merge runs first: every
part present exactly once, all made from the same list and settings, each complete.

>>> from kerasmgr.parts import parse_part, select
>>> k, n = parse_part("2/4")
>>> select(["a", "b", "c", "d", "e"], k, n)
['b', 'c']
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from .presets import sha256

__all__ = ["PartError", "parse_part", "part_bounds", "select", "digest", "part_metadata", "check_parts", "part_stem",
           "start_part", "finish_part", "finished_part", "load_parts", "output_stem", "part_blocks", "block_stem",
           "model_identity"]

#: Environment variables that carry an array task's index (Slurm; Kubernetes Indexed Jobs).
ARRAY_INDEX_VARIABLES = ("SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX")


class PartError(ValueError):
    """A bad ``--part`` value, or parts that cannot be merged (missing, overlapping, mismatched)."""


def _array_index(env):
    """1-based part number from the array engine's environment, or None."""
    if env.get("SLURM_ARRAY_TASK_ID") not in (None, ""):
        task = int(env["SLURM_ARRAY_TASK_ID"])
        first = int(env.get("SLURM_ARRAY_TASK_MIN") or 0)  # arrays may start at 0 or 1
        return task - first + 1
    if env.get("JOB_COMPLETION_INDEX") not in (None, ""):
        return int(env["JOB_COMPLETION_INDEX"]) + 1  # Kubernetes: 0-based
    return None


def parse_part(spec, env=None):
    """``'K/N'`` or ``'auto/N'`` -> ``(K, N)`` with ``1 <= K <= N``.

    Parameters
    ----------
    spec : str
        ``K/N`` (``K`` from 1 to ``N``) or ``auto/N``.
    env : mapping or None
        Where ``auto`` reads the array index (default ``os.environ``): ``SLURM_ARRAY_TASK_ID``
        (minus ``SLURM_ARRAY_TASK_MIN``, so 0- and 1-based arrays both work) or Kubernetes'
        0-based ``JOB_COMPLETION_INDEX``.

    Raises
    ------
    PartError
        Malformed, ``K`` outside 1..N, or ``auto`` without an array index.
    """
    env = os.environ if env is None else env
    k_text, sep, n_text = str(spec).partition("/")
    try:
        n = int(n_text)
    except ValueError:
        n = 0
    if not sep or n < 1:
        raise PartError(f"--part {spec!r}: expected K/N or auto/N with N >= 1, e.g. --part 2/8")
    if k_text.strip().lower() == "auto":
        k = _array_index(env)
        if k is None:
            raise PartError(f"--part {spec!r}: 'auto' needs SLURM_ARRAY_TASK_ID (a Slurm job array) or "
                            f"JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) in the environment")
    else:
        try:
            k = int(k_text)
        except ValueError:
            raise PartError(f"--part {spec!r}: K must be a number from 1 to {n} or 'auto'") from None
    if not 1 <= k <= n:
        raise PartError(f"--part {spec!r}: part {k} does not exist; parts are numbered 1 to {n}")
    return k, n


def part_bounds(n_items, k, n, grid=1):
    """``[start, stop)`` of part ``k`` of ``n`` over ``n_items`` items.

    Parameters
    ----------
    n_items, k, n : int
    grid : int
        Boundaries are multiples of ``grid`` (the job's group of items computed together); parts
        get whole groups, their sizes differing by at most one group (a part may be empty when
        there are fewer groups than parts).
    """
    grid = max(1, int(grid))
    groups = -(-n_items // grid)
    return min(n_items, (k - 1) * groups // n * grid), min(n_items, k * groups // n * grid)


def select(items, k, n, grid=1):
    """The ``k``-th of ``n`` contiguous blocks of ``items`` (in their given order), on ``grid``."""
    items = list(items)
    start, stop = part_bounds(len(items), k, n, grid)
    return items[start:stop]


def digest(obj):
    """sha256 of a JSON-serialisable object (keys sorted): the identity of an input list or settings."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def part_metadata(items, k, n, settings, grid=1):
    """What a part records about itself for the merge.

    Parameters
    ----------
    items : sequence of str
        The whole input list (every part's), in order.
    k, n : int
        This part.
    settings : dict
        Everything that must be equal across parts (model name and digest, options).
    grid : int
        The job's grid (:func:`part_bounds`).

    Returns
    -------
    dict
        ``part``, ``n_parts``, ``n_items`` (whole list), ``grid``, ``start``, ``stop``,
        ``items_digest``, ``settings_digest``, ``settings``, ``complete`` (False until the part's
        job sets it).
    """
    start, stop = part_bounds(len(items), k, n, grid)
    return {"part": k, "n_parts": n, "n_items": len(items), "grid": int(grid), "start": start, "stop": stop,
            "items_digest": digest(list(items)), "settings_digest": digest(settings), "settings": settings,
            "complete": False}


def check_parts(metas):
    """Check that part metadata can be merged; return them in part order.

    Parameters
    ----------
    metas : sequence of (name, dict)
        Each part's label (its file) and :func:`part_metadata` (with ``complete`` set by its job).

    Raises
    ------
    PartError
        Naming the part: different part counts, input lists or settings; a part given twice;
        missing parts; an incomplete part.
    """
    if not metas:
        raise PartError("no parts given")
    first_name, first = metas[0]
    seen = {}
    for name, m in metas:
        for key, what in (("n_parts", "a different number of parts"), ("items_digest", "a different input list"),
                          ("grid", "a different grouping of the inputs (kerasmgr version)"),
                          ("settings_digest", "different settings (model or options)")):
            if m.get(key) != first.get(key):
                raise PartError(f"{name}: made with {what} than {first_name} ({key} {m.get(key)!r} vs "
                                f"{first.get(key)!r}); re-run it with the same inputs and options")
        k = m.get("part")
        if k in seen:
            raise PartError(f"{name}: part {k} overlaps {seen[k]} (the same part given twice)")
        seen[k] = name
    n = int(first["n_parts"])
    missing = [k for k in range(1, n + 1) if k not in seen]
    if missing:
        raise PartError(f"missing part(s) {', '.join(f'{k}/{n}' for k in missing)}: run them (or re-run the "
                        f"failed array tasks) before merging")
    unfinished = [name for name, m in metas if not m.get("complete")]
    if unfinished:
        raise PartError(f"{unfinished[0]}: the part did not finish; re-run it (it resumes) before merging")
    return [m for _, m in sorted(metas, key=lambda nm: nm[1]["part"])]


def model_identity(model):
    """What identifies a model in part settings: its name or path, and the file's sha256 where it
    is a file (so that parts made with another file under the same path are told apart)."""
    return {"model": str(model), "model_sha256": sha256(model) if Path(str(model)).is_file() else None}


def output_stem(out, ext):
    """``out`` without the extension ``ext`` (e.g. ``'.npy'``, ``'.csv'``) if it has it: the stem parts are named after."""
    out = Path(out)
    return out.with_suffix("") if out.suffix == ext else out


def part_stem(stem, k, n):
    """Output stem of part ``k`` of ``n`` of a job whose single-run output stem is ``stem``:
    ``STEM.part-K-of-N`` (its metadata is ``STEM.part-K-of-N.part.json``)."""
    return Path(f"{stem}.part-{k}-of-{n}")


def _write(path, obj):
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


def _same_run(old, meta):
    return all(old.get(key) == meta[key] for key in ("items_digest", "settings_digest", "grid"))


def finished_part(stem, items, k, n, settings, grid=1):
    """The metadata of part ``k``/``n`` of ``stem`` if an earlier run with the same inputs and
    settings finished it, else ``None``."""
    meta_file = Path(f"{part_stem(stem, k, n)}.part.json")
    if not meta_file.is_file():
        return None
    old = json.loads(meta_file.read_text())
    return old if old.get("complete") and _same_run(old, part_metadata(items, k, n, settings, grid)) else None


def start_part(stem, items, k, n, settings, *, grid=1, overwrite=False):
    """Record that part ``k``/``n`` of ``stem`` starts (or resumes): writes its metadata with
    ``complete: False``. A previous run of the same part with another input list or other settings
    is refused unless ``overwrite``. ``grid``: the job's (:func:`part_bounds`).

    Returns
    -------
    (Path, dict)
        The part's output stem and its metadata (pass both to :func:`finish_part`).
    """
    out = part_stem(stem, k, n)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta_file = Path(f"{out}.part.json")
    meta = part_metadata(items, k, n, settings, grid)
    if meta_file.is_file() and not overwrite:
        if not _same_run(json.loads(meta_file.read_text()), meta):
            raise PartError(f"{meta_file}: an earlier run of part {k}/{n} used other inputs or settings; "
                            f"pass --overwrite or another output")
    _write(meta_file, meta)
    return out, meta


def finish_part(out, meta):
    """Mark a part complete (its outputs are all on disk)."""
    _write(Path(f"{out}.part.json"), {**meta, "complete": True})


def load_parts(stem):
    """The metadata of every part of ``stem`` found on disk, checked by :func:`check_parts`, in
    part order, each with ``stem`` (its output stem)."""
    stem = Path(stem)
    found = sorted(stem.parent.glob(f"{stem.name}.part-*-of-*.part.json"))
    if not found:
        raise PartError(f"{stem}: no parts to merge (expected {stem}.part-K-of-N.part.json files from --part runs)")
    metas = []
    for f in found:
        try:
            metas.append((str(f), {**json.loads(f.read_text()), "stem": str(f)[: -len(".part.json")]}))
        except ValueError as e:
            raise PartError(f"{f}: unreadable part metadata ({e}); re-run that part") from None
    return check_parts(metas)


def part_blocks(stem, *, overwrite=False, marker=".npz"):
    """Where a part saves its finished blocks of items, and which are there (a killed part resumes
    after the last).

    Parameters
    ----------
    stem : str or Path
        The part's output stem (:func:`part_stem`); blocks go to ``STEM.blocks/``, one per block,
        named by :func:`block_stem`.
    overwrite : bool
        Empty the folder first.
    marker : str
        Suffix of the block file written last (its presence means the block is finished).

    Returns
    -------
    folder : Path
    firsts : list of int
        Positions (in the part's items) of the first item of every finished block, ascending.
    """
    folder = Path(f"{stem}.blocks")
    if overwrite and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder, sorted(int(f.name[: -len(marker)]) for f in folder.glob(f"[0-9]*[0-9]{marker}"))


def block_stem(folder, first):
    """Stem of the block whose first item is at position ``first``: ``FOLDER/0000000064``."""
    return Path(folder) / f"{int(first):010d}"
