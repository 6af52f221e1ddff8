"""Dataset validation: is a copy of a dataset complete, decodable and the copy it should be?

:func:`validate` opens every subset of a dataset through its loader (so a wrong layout is the
loader's clear :class:`~kerasmgr.data.splits.DatasetError`) and checks each listed file:

* ``missing`` — listed by the dataset's index or split files but absent;
* ``undecodable`` — libsndfile cannot read it (or it has no samples);
* ``rate`` / ``duration`` — not the sample rate (Hz) or length (s) the dataset's files have
  (:data:`EXPECTED`; MTG-Jamendo: each track's DURATION column, ±1 s);
* ``duplicate`` — byte-identical files (same MD5) listed as different items;
* ``checksum`` — an MD5 that differs from a checksum index: mirdata's index JSON for the dataset
  (``--index``; mirdata's own loader downloads it into ``<data_home>/indexes``) or one written by
  :func:`write_index` from a verified copy.

mirdata covers GTZAN (``gtzan_genre``), Ballroom (``ballroom``) and MTG-Jamendo's mood/theme
subset (``mtg_jamendo_autotagging_moodtheme``), not MagnaTagATune, the MSD split, LMD or
Extended Ballroom. Its 1.0 wheel ships no index files (they are downloaded from Zenodo at
run time), so kerasmgr reads the index format rather than depending on mirdata: pass the index
file you have.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from .datasets import AUDIO_EXTENSIONS, load_dataset
from .splits import DatasetError

__all__ = ["EXPECTED", "Problem", "ValidationReport", "validate", "read_index", "write_index", "md5"]

#: What the files of each dataset are: ``sample_rate`` (Hz) and ``seconds`` (min, max) where the
#: dataset fixes them (None: not checked).
EXPECTED = {
    "gtzan": {"sample_rate": 22050, "seconds": (29.0, 31.0)},  # 30-s excerpts, 22,050 Hz mono
    "mtat": {"sample_rate": 16000, "seconds": (28.0, 30.5)},  # 29.1-s MP3 clips at 16 kHz
    "msd": {"sample_rate": None, "seconds": (25.0, 65.0)},  # 7digital previews: 30 s or 60 s
    "lmd": {"sample_rate": None, "seconds": (30.0, None)},  # whole recordings; the protocol reads 30 s
    "ballroom": {"sample_rate": None, "seconds": (25.0, 35.0)},  # 30-s previews
    "jamendo": {"sample_rate": 44100, "seconds": None},  # per track: the split file's DURATION
}
_JAMENDO_TOLERANCE = 1.0


@dataclass
class Problem:
    """One finding: ``kind`` (missing, undecodable, rate, duration, duplicate, checksum), the file,
    what is wrong."""

    kind: str
    path: str
    detail: str


@dataclass
class ValidationReport:
    """The result of :func:`validate`."""

    dataset: str
    root: str
    n_files: int
    problems: list = field(default_factory=list)
    checked_against_index: str | None = None
    checksums: dict = field(default_factory=dict)  # path -> md5 of every readable file

    @property
    def ok(self):
        return not self.problems

    def counts(self):
        out = defaultdict(int)
        for p in self.problems:
            out[p.kind] += 1
        return dict(out)

    def to_dict(self):
        d = asdict(self)
        d.pop("checksums")
        d["ok"], d["counts"] = self.ok, self.counts()
        return d

    def format(self, limit=20):
        """The printed report: a summary line, then up to ``limit`` findings per kind."""
        head = (f"{self.dataset} at {self.root}: {self.n_files} files, "
                + ("no problems" if self.ok else ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items()))))
        if self.checked_against_index:
            head += f" (checksums against {self.checked_against_index})"
        lines = [head]
        by_kind = defaultdict(list)
        for p in self.problems:
            by_kind[p.kind].append(p)
        for kind in sorted(by_kind):
            lines.append(f"{kind}:")
            lines += [f"  {p.path}: {p.detail}" for p in by_kind[kind][:limit]]
            if len(by_kind[kind]) > limit:
                lines.append(f"  ... and {len(by_kind[kind]) - limit} more")
        return "\n".join(lines)


def md5(path, chunk=1 << 20):
    """Hex MD5 of a file (the digest mirdata's indexes use)."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def read_index(path):
    """``{relative path: md5}`` of the audio files in a checksum index: mirdata's JSON
    (``{"tracks": {id: {"audio": [path, md5], ...}}}``) or :func:`write_index`'s (same shape)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{path}: checksum index not found") from None
    except ValueError as e:
        raise DatasetError(f"{path}: not a JSON checksum index ({e})") from None
    tracks = data.get("tracks") if isinstance(data, dict) else None
    if not isinstance(tracks, dict):
        raise DatasetError(f"{path}: not a mirdata-style index (no 'tracks' object)")
    out = {}
    for entry in tracks.values():
        for value in (entry.values() if isinstance(entry, dict) else []):
            if (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
                    and Path(value[0]).suffix.lower() in AUDIO_EXTENSIONS and value[1]):
                out[value[0]] = str(value[1])
    return out


def write_index(report, path):
    """Write the MD5s of a validated copy as a mirdata-style index (paths relative to its root),
    to check other copies against later."""
    root = Path(report.root)
    tracks = {}
    for p, digest in sorted(report.checksums.items()):
        rel = os.path.relpath(p, root)
        tracks[rel] = {"audio": [rel, digest]}
    Path(path).write_text(json.dumps({"version": "kerasmgr", "dataset": report.dataset, "tracks": tracks}, indent=1))
    return Path(path)


def _check_file(path, expected, expected_seconds):
    import soundfile as sf

    p = Path(path)
    if not p.is_file():
        return [Problem("missing", str(p), "listed by the dataset but not on disk")], None
    try:
        info = sf.info(str(p))
    except Exception as e:  # libsndfile's messages vary by format
        return [Problem("undecodable", str(p), f"libsndfile cannot read it ({str(e).strip()[:160]})")], None
    found = []
    if info.frames <= 0:
        found.append(Problem("undecodable", str(p), "contains no samples"))
    rate = expected.get("sample_rate")
    if rate and info.samplerate != rate:
        found.append(Problem("rate", str(p), f"{info.samplerate} Hz, expected {rate} Hz"))
    seconds = info.frames / info.samplerate if info.samplerate else 0.0
    if expected_seconds is not None:
        if abs(seconds - expected_seconds) > _JAMENDO_TOLERANCE:
            found.append(Problem("duration", str(p), f"{seconds:.2f} s, the index says {expected_seconds:.2f} s"))
    elif expected.get("seconds"):
        lo, hi = expected["seconds"]
        if (lo is not None and seconds < lo) or (hi is not None and seconds > hi):
            span = f"{lo if lo is not None else 0:g}-{hi:g} s" if hi is not None else f">= {lo:g} s"
            found.append(Problem("duration", str(p), f"{seconds:.2f} s, expected {span}"))
    return found, md5(p)


def _match_index(index, root, files):
    """Pair index entries with dataset files: the index path relative to ``root``, or with its
    leading folders dropped (mirdata's paths start with the dataset's folder name)."""
    by_rel = {os.path.relpath(f, root): f for f in files}
    pairs, absent = [], []
    for rel, digest in index.items():
        parts = Path(rel).parts
        hit = next((by_rel[str(Path(*parts[k:]))] for k in range(len(parts)) if str(Path(*parts[k:])) in by_rel), None)
        (pairs.append((hit, digest)) if hit is not None else absent.append(rel))
    return pairs, absent


def validate(name, root=None, *, index=None, workers=None, progress=True, **loader_kwargs):
    """Check every file of a dataset (all subsets).

    Parameters
    ----------
    name : str
        A dataset of :func:`kerasmgr.data.datasets.load_dataset` ('gtzan', 'mtat', 'jamendo', ...).
    root : str or Path
        Its folder.
    index : str or Path or None
        A checksum index (mirdata's JSON or :func:`write_index`'s) to compare MD5s with.
    workers : int or None
        Reading threads (default: the CPU count).
    progress : bool
    **loader_kwargs
        The loader's options (``split``, ``split_dir``, ``tag_subset``, ...).

    Returns
    -------
    ValidationReport

    Raises
    ------
    DatasetError
        The folder is not in the dataset's layout (the loader's message says what is missing).
    """
    ds = load_dataset(name, root, subset="all", **loader_kwargs)
    expected = EXPECTED.get(name, {})
    durations = ds.durations or {}
    files = list(dict.fromkeys(it.path for it in ds.items))  # items listed twice are checked once
    report = ValidationReport(name, str(ds.root if Path(ds.root).is_dir() else Path(ds.root).parent), len(files))
    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        results = pool.map(lambda f: _check_file(f, expected, durations.get(f)), files)
        for f, (found, digest) in tqdm(zip(files, results), total=len(files), desc=f"validating {name}",
                                       unit="file", disable=not progress):
            report.problems += found
            if digest is not None:
                report.checksums[f] = digest
    same = defaultdict(list)
    for f, digest in report.checksums.items():
        same[digest].append(f)
    for group in same.values():
        group = sorted(group)  # the first path in sorted order counts as the original
        for f in group[1:]:
            report.problems.append(Problem("duplicate", f, f"byte-identical to {group[0]}"))
    if index is not None:
        pairs, absent = _match_index(read_index(index), report.root, files)
        for f, want in pairs:
            got = report.checksums.get(f)
            if got is not None and got != want:
                report.problems.append(Problem("checksum", f, f"md5 {got} differs from the index's {want}"))
        report.problems += [Problem("missing", rel, f"listed in the index {Path(index).name} but not in the dataset")
                            for rel in absent]
        report.checked_against_index = str(index)
    return report
