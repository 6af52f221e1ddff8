"""One dataset API: items with a path, labels and (where known) a group id.

``load_dataset(name, root, subset=..., split=...)`` serves the embedded dataset and real datasets in their
published layouts: GTZAN (with dnn-mgr split lists), any folder-per-class dataset, a CSV,
MagnaTagATune (hex-digit or Won et al. 2020 split), the MSD (Choi's split), Extended Ballroom,
LMD and MTG-Jamendo (official autotagging splits).
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import embedded
from .audio import fix_length
from .pipeline import ClipStore
from .shards import ShardedSplit
from .splits import (
    LMD_SECONDS,
    SUBSETS,
    DatasetError,
    read_split_list,
    split_list_path,
    stratified_split,
    subsets_of,
)

__all__ = ["Item", "Dataset", "load_dataset", "load_waveforms", "write_split_lists", "read_artist_table",
           "gtzan_base", "audio_files", "DATASETS", "TASKS", "MSD_TAGS", "AUDIO_EXTENSIONS", "MTAT_SPLITS",
           "JAMENDO_SUBSETS"]

TASKS = ("genre", "tags")


@dataclass(frozen=True)
class Item:
    """One audio file and its labels.

    ``path`` is absolute; ``label`` the class name (or ``None``); ``tags`` a tuple of tag names;
    ``group`` an artist/piece/track id where the dataset knows one.
    """

    path: str
    label: str | None = None
    tags: tuple = ()
    group: str | None = None


@dataclass
class Dataset:
    """One subset of a dataset: items plus the label vocabularies, in output order."""

    name: str
    root: str
    subset: str
    items: list = field(default_factory=list)
    classes: list = field(default_factory=list)
    tags: list = field(default_factory=list)
    sample_rate: int | None = None  # native rate when the dataset fixes one
    max_seconds: float | None = None  # the protocol reads only the first max_seconds of each file (LMD: 30)
    durations: dict | None = None  # expected seconds per path, where the dataset's index gives them (MTG-Jamendo)

    def __len__(self):
        return len(self.items)

    def labels(self, task):
        """Names of the outputs for ``task`` ('genre': classes, 'tags': tags)."""
        _check_task(task)
        return list(self.classes if task == "genre" else self.tags)

    def targets(self, task, labels=None):
        """Targets for ``task``, indexed by ``labels`` (default: the dataset's own order).

        ``labels`` lets a model's output order differ from the dataset's; tags not among them
        are ignored.

        Returns
        -------
        np.ndarray
            'genre': int class indices, shape (n_items,); 'tags': float32 multi-hot,
            shape (n_items, n_labels).
        """
        _check_task(task)
        labels = self.labels(task) if labels is None else list(labels)
        index = {c: i for i, c in enumerate(labels)}
        if task == "genre":
            return np.array([index[it.label] for it in self.items], dtype=np.int64)
        y = np.zeros((len(self.items), len(labels)), dtype=np.float32)
        for r, it in enumerate(self.items):
            for t in it.tags:
                if t in index:
                    y[r, index[t]] = 1.0
        return y


def _check_task(task):
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")


AUDIO_EXTENSIONS = (".wav", ".au", ".flac", ".mp3", ".ogg", ".aiff", ".aif", ".m4a")

#: The 50 MSD last.fm tags of Choi's split, in the output order of the released models.
MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock",
    "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental",
    "punk", "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist",
    "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy", "catchy", "funk",
    "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)


def _inside(root, rel, *, where):
    """``root / rel`` if it stays inside ``root`` (no absolute paths, no ``..`` escapes)."""
    p = Path(rel)
    if p.is_absolute():
        raise DatasetError(f"{where}: absolute path {rel!r} is not allowed (paths are relative to {root})")
    full = (Path(root) / p).resolve()
    if not full.is_relative_to(Path(root).resolve()):
        raise DatasetError(f"{where}: path {rel!r} points outside the dataset root {root}")
    return full


def audio_files(folder):
    """Files with an audio extension below ``folder``; broken and looping links are kept, so the
    jobs that read them report them."""
    return sorted(p for p in Path(folder).rglob("*")
                  if p.suffix.lower() in AUDIO_EXTENSIONS and (p.is_file() or p.is_symlink()))


def _class_folders(base):
    classes = sorted(d.name for d in Path(base).iterdir() if d.is_dir() and not d.name.startswith(".")
                     and audio_files(d))
    if not classes:
        raise DatasetError(f"{base}: no class folders with audio files (expected one folder per class, e.g. "
                           f"{Path(base) / 'blues' / 'blues.00000.wav'}); check --data-root")
    return classes


def read_artist_table(path):
    """``{relative path: artist}`` from a CSV with columns ``path`` and ``artist`` (e.g. GTZAN's
    or LMD's artist table; paths relative to the class folders' parent)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: artist table not found")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"path", "artist"} <= set(rows[0]):
        raise DatasetError(f"{path}: an artist table needs the columns 'path' and 'artist'")
    return {r["path"].strip(): r["artist"].strip() for r in rows}


def write_split_lists(base, split_dir, name, *, proportions=(0.5, 0.25, 0.25), seed=0, artists=None):
    """Draw a seeded stratified partition of a folder-per-class dataset and write its split lists.

    Parameters
    ----------
    base : str or Path
        The folder holding one sub-folder of audio files per class (GTZAN's ``genres``, LMD's root).
    split_dir : str or Path
        Where ``{train,valid,test}_<name>.txt`` are written (one path per line, relative to
        ``base``, as the loaders read them).
    name : str
        The partition's name (``split``).
    proportions : (float, float, float)
        Train, valid, test fractions per class (e.g. :data:`SCHINDLER_PROPORTIONS`).
    seed : int
        Seed of :func:`stratified_split` (``numpy.random.RandomState``).
    artists : str, Path, dict or None
        An artist table (:func:`read_artist_table`) or ``{relative path: artist}``: every artist's
        files land in one subset (artist filter). Files missing from the table are an error.

    Returns
    -------
    dict
        ``{'train': [paths], 'valid': [...], 'test': [...]}``.
    """
    base = Path(base)
    classes = _class_folders(base)
    files = [p.relative_to(base).as_posix() for c in classes for p in audio_files(base / c)]
    if not files:
        raise DatasetError(f"{base}: no audio files in class folders")
    groups = None
    if artists is not None:
        table = artists if isinstance(artists, dict) else read_artist_table(artists)
        # lists often name .wav where GTZAN ships .au: a path matches with any audio extension
        by_stem = {Path(k).with_suffix("").as_posix(): v for k, v in table.items()}
        groups = [table.get(f, by_stem.get(Path(f).with_suffix("").as_posix())) for f in files]
        missing = [f for f, g in zip(files, groups) if g is None]
        if missing:
            raise DatasetError(f"artist table has no artist for {len(missing)} file(s), e.g. {missing[:3]}")
    parts = stratified_split([f.split("/")[0] for f in files], seed=seed, proportions=proportions, groups=groups)
    split_dir = Path(split_dir)
    split_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    for subset in SUBSETS:
        out[subset] = [files[i] for i in sorted(parts[subset])]
        split_list_path(split_dir, name, subset).write_text("".join(f + "\n" for f in out[subset]))
    return out


def _resolve_listed(base, rel, *, where):
    """A split-list entry as a file under ``base``, trying the other audio extensions (lists
    often say ``.wav`` where GTZAN ships ``.au``)."""
    p = _inside(base, rel, where=where)
    if p.is_file():
        return p
    for ext in AUDIO_EXTENSIONS:
        alt = p.with_suffix(ext)
        if alt.is_file():
            return alt
    return None


def _from_folders(name, root, subset, *, base, split=None, split_dir=None, seed=0,
                  proportions=(0.5, 0.25, 0.25), classes=None):
    classes = list(classes) if classes else _class_folders(base)
    if split:
        listfile = split_list_path(split_dir or Path(root) / "splits", split, subset)
        items, missing = [], []
        for ln, rel in enumerate(read_split_list(listfile), start=1):
            path = _resolve_listed(base, rel, where=f"{listfile}:{ln}")
            if path is None:
                missing.append(rel)
                continue
            label = Path(rel).parts[0] if len(Path(rel).parts) > 1 else None
            if label not in classes:
                raise DatasetError(f"{listfile}:{ln}: {rel!r} is not inside a class folder of {base}")
            items.append(Item(str(path), label, (), None))
        if missing:
            raise DatasetError(f"{listfile}: {len(missing)} listed file(s) not found under {base}, e.g. "
                               f"{', '.join(missing[:3])}")
        return Dataset(name, str(root), subset, items, classes, [])
    files = [(p, p.relative_to(base).parts[0]) for c in classes for p in audio_files(Path(base) / c)]
    idx = stratified_split([c for _, c in files], seed=seed, proportions=proportions)[subset]
    items = [Item(str(files[i][0]), files[i][1], (), None) for i in idx]
    return Dataset(name, str(root), subset, items, classes, [])


def gtzan_base(root):
    """GTZAN's class-folder parent: ``<root>/genres`` if present, else ``root`` (split lists are
    relative to it)."""
    root = Path(root)
    return root / "genres" if (root / "genres").is_dir() else root


def _load_gtzan(root, subset, **kw):
    """GTZAN: ``<root>/genres/<genre>/<genre>.000NN.{au,wav}`` (or the genre folders directly in
    ``root``). Split lists are relative to the ``genres`` folder, as dnn-mgr's."""
    root = Path(root)
    base = gtzan_base(root)
    if not base.is_dir():
        raise DatasetError(f"{root}: GTZAN folder not found (expected {root}/genres/<genre>/<genre>.000NN.au, or "
                           f"the genre folders directly in it); check --data-root")
    return _from_folders("gtzan", root, subset, base=base, **kw)


def _load_lmd(root, subset, *, seconds=LMD_SECONDS, **kw):
    """Latin Music Database: ``<root>/<genre>/*.mp3`` (10 genre folders of MP3s). Seed 004 uses the
    first 30 s of each recording: the split's ``max_seconds`` (``seconds``) tells the audio stores."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: LMD folder not found (expected {root}/<genre>/*.mp3); check --data-root")
    return dataclasses.replace(_from_folders("lmd", root, subset, base=root, **kw), max_seconds=seconds)


def _load_folder(root, subset, **kw):
    """Any folder-per-class dataset: classes are the sub-folder names of ``root``."""
    if not Path(root).is_dir():
        raise DatasetError(f"{root}: folder not found (expected {root}/<class>/<audio files>); check --data-root")
    return _from_folders("folder", root, subset, base=Path(root), **kw)


def _load_ballroom(root, subset, **kw):
    """Extended Ballroom: one folder per dance style (``<root>/<Style>/*.mp3``)."""
    root = Path(root)
    base = root / "Audio" if (root / "Audio").is_dir() else root
    if not base.is_dir():
        raise DatasetError(f"{root}: Ballroom folder not found (expected {root}/<Style>/*.mp3 or {root}/Audio/<Style>/); "
                           f"check --data-root")
    return _from_folders("ballroom", root, subset, base=base, **kw)


def _load_csv(root, subset, *, path_column="path", label_column="label", tags_column="tags",
              group_column="group", split_column="split", tag_separator=";", seed=0,
              proportions=(0.5, 0.25, 0.25)):
    """A CSV file (``root``) with a path column and a label and/or tags column.

    Paths are relative to the CSV's folder. With a ``split`` column (values train/valid/test) it
    gives the subsets; otherwise a seeded stratified split (grouped by the group column when
    present) is made.
    """
    csv_path = Path(root)
    if csv_path.is_dir():
        found = sorted(csv_path.glob("*.csv"))
        if len(found) != 1:
            raise DatasetError(f"{root}: give the CSV file itself (found {len(found)} CSV files)")
        csv_path = found[0]
    if not csv_path.is_file():
        raise DatasetError(f"{root}: CSV file not found")
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or path_column not in rows[0]:
        raise DatasetError(f"{csv_path}: needs a {path_column!r} column")
    has_label, has_tags = label_column in rows[0], tags_column in rows[0]
    if not (has_label or has_tags):
        raise DatasetError(f"{csv_path}: needs a {label_column!r} or {tags_column!r} column")
    base = csv_path.parent
    items = []
    for ln, r in enumerate(rows, start=2):
        path = _inside(base, r[path_column], where=f"{csv_path}:{ln}")
        tags = tuple(t.strip() for t in r[tags_column].split(tag_separator) if t.strip()) if has_tags else ()
        items.append(Item(str(path), r[label_column] if has_label else None, tags,
                          r.get(group_column) or None))
    if split_column in rows[0]:
        bad = {r[split_column] for r in rows} - set(SUBSETS)
        if bad:
            raise DatasetError(f"{csv_path}: split column values must be train/valid/test, got {sorted(bad)}")
        chosen = [it for it, r in zip(items, rows) if r[split_column] == subset]
    else:
        strata = [it.label if has_label else "" for it in items]
        groups = [it.group if it.group is not None else it.path for it in items]
        idx = stratified_split(strata, seed=seed, proportions=proportions, groups=groups)[subset]
        chosen = [items[i] for i in idx]
    classes = sorted({it.label for it in items}) if has_label else []
    tags = sorted({t for it in items for t in it.tags}) if has_tags else []
    return Dataset("csv", str(csv_path), subset, chosen, classes, tags)


def _mtat_group(mp3_path):
    stem = Path(mp3_path).stem  # artist-album-track_no-title-start-end
    parts = stem.rsplit("-", 2)
    return parts[0] if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit() else stem


#: MagnaTagATune splits selectable by name: the first hex digit of the clip's folder (Choi and
#: the thesis: 0-b train, c valid, d-f test) or Won et al. (2020)'s benchmark split.
MTAT_SPLITS = ("hex", "won2020")


def _mtat_won2020(split_dir, subset, ann_rows, top, audio_dir, where):
    """Items of Won et al. (2020)'s MagnaTagATune split: ``{train,valid,test}.npy`` (arrays of
    ``"index\tpath"`` strings, the sota-music-tagging-models files) with ``binary.npy`` (index ->
    50-d multi-hot) and ``tags.npy`` (the 50 names) when present, else the tags of
    ``annotations_final.csv``."""
    sdir = Path(split_dir)
    name = {"train": "train", "valid": "valid", "test": "test"}[subset]
    listfile = sdir / f"{name}.npy"
    if not listfile.is_file():
        raise DatasetError(f"{listfile}: Won et al. (2020) split file not found; give --split-dir the folder with "
                           f"train.npy, valid.npy and test.npy (sota-music-tagging-models split/mtat)")
    entries = [str(e) for e in np.load(listfile, allow_pickle=False)]
    tags = [str(t) for t in np.load(sdir / "tags.npy", allow_pickle=False)] if (sdir / "tags.npy").is_file() else top
    binary = np.load(sdir / "binary.npy", allow_pickle=False) if (sdir / "binary.npy").is_file() else None
    by_path = {r["mp3_path"]: r for r in ann_rows}
    items = []
    for ln, e in enumerate(entries):
        ix, _, rel = e.partition("\t")
        if not rel or not ix.strip().isdigit():
            raise DatasetError(f"{listfile}[{ln}]: {e!r} is not an 'index<TAB>path' entry")
        if binary is not None:
            row = binary[int(ix)]
            labels = tuple(t for t, v in zip(tags, row) if v > 0)
        elif rel in by_path:
            labels = tuple(t for t in tags if by_path[rel].get(t) == "1")
        else:
            raise DatasetError(f"{listfile}[{ln}]: {rel} is not in {where} (and no binary.npy beside the split)")
        items.append(Item(str(_inside(audio_dir, rel, where=f"{listfile}[{ln}]")), None, labels, _mtat_group(rel)))
    return items, tags


def _load_mtat(root, subset, *, n_tags=50, annotations=None, audio_dir=None, split="hex", split_dir=None):
    """MagnaTagATune: ``annotations_final.csv`` (tab-separated: clip_id, 188 tags, mp3_path).

    Tags: the ``n_tags`` most frequent. ``split='hex'`` (default): by the first hex digit of the
    clip's folder, 0-b train, c valid, d-f test (Choi's thesis). ``split='won2020'``: Won et al.
    (2020)'s split files in ``split_dir`` (default ``root/split``; see :func:`_mtat_won2020`),
    the split of today's tagging benchmarks. Group: the song (clip names minus the segment
    suffix), so the clips of one song share a group id. Audio under ``audio_dir`` (default
    ``root`` or ``root/mp3``) at ``mp3_path``.
    """
    root = Path(root)
    if split not in MTAT_SPLITS:
        raise DatasetError(f"unknown MagnaTagATune split {split!r}; choose one of {', '.join(MTAT_SPLITS)}")
    ann = Path(annotations) if annotations else root / "annotations_final.csv"
    if not ann.is_file():
        raise DatasetError(f"{ann}: MagnaTagATune annotations_final.csv not found (expected it in --data-root with the "
                           f"mp3 folders 0/ ... f/ beside it or in mp3/; or pass --dataset-kwargs '{{annotations: FILE}}')")
    with open(ann, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or "mp3_path" not in rows[0]:
        raise DatasetError(f"{ann}: not a tab-separated MagnaTagATune annotation file (no mp3_path column)")
    tag_cols = [c for c in rows[0] if c not in ("clip_id", "mp3_path")]
    counts = {t: sum(r[t] == "1" for r in rows) for t in tag_cols}
    top = sorted(tag_cols, key=lambda t: (-counts[t], tag_cols.index(t)))[:n_tags]
    if audio_dir is None:
        audio_dir = root / "mp3" if (root / "mp3").is_dir() else root
    if split == "won2020":
        items, tags = _mtat_won2020(split_dir or root / "split", subset, rows, top, audio_dir, ann)
        return Dataset("mtat", str(root), subset, items, [], tags, sample_rate=16000)
    digits = {"train": "0123456789ab", "valid": "c", "test": "def"}[subset]
    items = []
    for ln, r in enumerate(rows, start=2):
        rel = r["mp3_path"]
        if not rel or rel[0].lower() not in digits:
            continue
        items.append(Item(str(_inside(audio_dir, rel, where=f"{ann}:{ln}")), None,
                          tuple(t for t in top if r[t] == "1"), _mtat_group(rel)))
    return Dataset("mtat", str(root), subset, items, [], top, sample_rate=16000)


#: MTG-Jamendo autotagging subsets (the official ``autotagging_<subset>-<part>.tsv`` files).
JAMENDO_SUBSETS = ("top50tags", "genre", "instrument", "moodtheme")
_JAMENDO_PARTS = {"train": "train", "valid": "validation", "test": "test"}


def _read_jamendo_tsv(path):
    """Rows of an MTG-Jamendo split file: TRACK_ID, ARTIST_ID, ALBUM_ID, PATH, DURATION, then one
    tag per remaining tab-separated column (``genre---rock``)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: MTG-Jamendo split file not found; give --split-dir the folder of the official "
                           f"split (e.g. mtg-jamendo-dataset/data/splits/split-0)")
    lines = path.read_text().splitlines()
    if not lines or not lines[0].startswith("TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION"):
        raise DatasetError(f"{path}: not an MTG-Jamendo split file (expected the header "
                           f"TRACK_ID, ARTIST_ID, ALBUM_ID, PATH, DURATION, TAGS)")
    rows = []
    for ln, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) < 6:
            raise DatasetError(f"{path}:{ln}: expected at least 6 tab-separated columns, found {len(cols)}")
        try:
            duration = float(cols[4])
        except ValueError:
            raise DatasetError(f"{path}:{ln}: DURATION {cols[4]!r} is not a number") from None
        rows.append((ln, cols[0], cols[1], cols[3], duration, tuple(t for t in cols[5:] if t)))
    return rows


def _load_jamendo(root, subset, *, tag_subset="top50tags", split="split-0", split_dir=None, audio_dir=None,
                  low_quality=False):
    """MTG-Jamendo autotagging (Bogdanov et al. 2019) from the official split files.

    ``split_dir`` (default ``root/splits/<split>``) holds ``autotagging_<tag_subset>-{train,
    validation,test}.tsv``; ``tag_subset`` is one of :data:`JAMENDO_SUBSETS`. Audio is
    ``audio_dir`` (default ``root/audio`` if present, else ``root``) / PATH (``14/214.mp3``);
    ``low_quality`` reads the ``.low.mp3`` previews instead. Tags keep their category prefix
    (``genre---rock``), in sorted order over the three parts; the group is the artist (the official
    splits keep artists apart). Each item's expected duration is the file's DURATION column.
    """
    if tag_subset not in JAMENDO_SUBSETS:
        raise DatasetError(f"unknown MTG-Jamendo subset {tag_subset!r}; choose one of {', '.join(JAMENDO_SUBSETS)}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: MTG-Jamendo folder not found (expected the audio folders 00/ ... 99/ in "
                           f"{root}/audio or {root}); check --data-root")
    sdir = Path(split_dir) if split_dir else root / "splits" / split
    files = {s: sdir / f"autotagging_{tag_subset}-{part}.tsv" for s, part in _JAMENDO_PARTS.items()}
    vocabulary = sorted({t for f in files.values() if f.is_file() for row in _read_jamendo_tsv(f) for t in row[5]})
    base = Path(audio_dir) if audio_dir else (root / "audio" if (root / "audio").is_dir() else root)
    items, durations = [], {}
    for ln, _track, artist, rel, duration, tags in _read_jamendo_tsv(files[subset]):
        if low_quality:
            rel = rel[: -len(".mp3")] + ".low.mp3" if rel.endswith(".mp3") else rel
        path = _inside(base, rel, where=f"{files[subset]}:{ln}")
        items.append(Item(str(path), None, tags, artist))
        durations[str(path)] = duration
    return Dataset("jamendo", str(root), subset, items, [], vocabulary, durations=durations)


def _load_msd(root, subset, *, split_dir=None, audio_suffix=".clip.mp3", tags=MSD_TAGS):
    """MSD top-50 last.fm tags in the format of Choi's MSD_split_for_tagging.

    Expects in ``split_dir`` (default ``root``): ``{subset}_x_filename.txt`` (one relative name
    per line, e.g. ``3/6/36122424.npy``) and ``{subset}_y.npy`` (an ``(n, 50)`` 0/1 matrix in
    :data:`MSD_TAGS` order). The audio of line ``a/b/id.npy`` is ``root/a/b/id`` +
    ``audio_suffix`` (the 7digital preview, ``.clip.mp3`` by default). The 7digital id is the
    group.
    """
    root = Path(root)
    sdir = Path(split_dir) if split_dir else root
    names = read_split_list(sdir / f"{subset}_x_filename.txt")
    ypath = sdir / f"{subset}_y.npy"
    if not ypath.is_file():
        raise DatasetError(f"{ypath}: tag matrix not found")
    y = np.load(ypath, allow_pickle=False)
    if y.shape != (len(names), len(tags)):
        raise DatasetError(f"{ypath}: shape {y.shape} does not match {len(names)} files x {len(tags)} tags")
    items = []
    for ln, (rel, row) in enumerate(zip(names, y), start=1):
        stem = rel[: -len(".npy")] if rel.endswith(".npy") else rel
        path = _inside(root, stem + audio_suffix, where=f"{sdir / (subset + '_x_filename.txt')}:{ln}")
        items.append(Item(str(path), None, tuple(t for t, v in zip(tags, row) if v > 0),
                          Path(stem).name))
    return Dataset("msd", str(root), subset, items, [], list(tags), sample_rate=None)


def _load_embedded(root, subset, *, sample_rate=22050, seed=0, clips_per_genre=40, duration=30.0,
                   progress=True, split="default", split_dir=None):
    folder = embedded.ensure_dataset(seed=seed, clips_per_genre=clips_per_genre, duration=duration,
                                     sample_rate=sample_rate, root=root, progress=progress)
    with open(folder / "tags.csv", newline="") as f:
        rows = {r["path"]: r for r in csv.DictReader(f)}
    names = read_split_list(split_list_path(split_dir or folder / "splits", split, subset))
    unknown = [p for p in names if p not in rows]
    if unknown:
        raise DatasetError(f"split list {subset}_{split}.txt names clips not in the embedded dataset: "
                           f"{unknown[:3]}")
    items = [Item(str(folder / p), rows[p]["genre"], tuple(t for t in rows[p]["tags"].split(";") if t),
                  group=p) for p in names]
    return Dataset("embedded", str(folder), subset, items, list(embedded.GENRES), list(embedded.TAGS),
                   sample_rate=sample_rate)


DATASETS = {
    "embedded": _load_embedded,
    "gtzan": _load_gtzan,
    "folder": _load_folder,
    "csv": _load_csv,
    "mtat": _load_mtat,
    "msd": _load_msd,
    "ballroom": _load_ballroom,
    "lmd": _load_lmd,
    "jamendo": _load_jamendo,
}


def _load_shards(root, subset):
    return ShardedSplit(root, subset)


DATASETS["shards"] = _load_shards


def load_dataset(name, root=None, *, subset="train", **kwargs):
    """Load one subset of a dataset.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`: 'embedded' (generated default), 'gtzan', 'folder', 'csv',
        'mtat', 'msd', 'ballroom', 'lmd', 'jamendo', 'shards' (a folder written by ``bin/prepare_dataset.py``;
        returns a :class:`kerasmgr.data.shards.ShardedSplit`).
    root : str or Path or None
        Dataset folder ('csv': the CSV file; 'embedded': the cache root, default
        ``$KERASMGR_CACHE`` or ``~/.cache/kerasmgr``).
    subset : {'train', 'valid', 'test', 'all'}
        Which part of the split (``'all'``: the three together, in that order).
    **kwargs
        Loader options. gtzan/folder/ballroom/lmd: ``split`` (the name of the split lists
        ``{train,valid,test}_<split>.txt``), ``split_dir`` (default ``<root>/splits``), else
        ``seed`` and ``proportions`` for a seeded stratified split. csv: column names, ``seed``,
        ``proportions``. mtat: ``n_tags``, ``annotations``, ``audio_dir``, ``split`` ('hex' or
        'won2020'), ``split_dir``. jamendo: ``tag_subset``, ``split`` ('split-0'...),
        ``split_dir``, ``audio_dir``, ``low_quality``. msd: ``split_dir``,
        ``audio_suffix``. embedded: ``sample_rate`` (Hz), ``seed``, ``clips_per_genre``,
        ``duration`` (s), ``progress``, ``split`` (default ``'default'``), ``split_dir``.

    Returns
    -------
    Dataset

    See Also
    --------
    kerasmgr.data.selection.open_split : the same for a :class:`~kerasmgr.data.selection.DataSelection`,
        with the rules that tie a dataset to a model (the embedded dataset at the model's rate).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")
    parts = subsets_of(subset)
    if name != "embedded" and root is None:
        raise DatasetError(f"dataset {name!r} needs a root folder (--data-root)")
    if len(parts) == 1:
        return DATASETS[name](root, subset, **kwargs)
    if name == "shards":
        raise ValueError("subset 'all' is not available with sharded datasets; open each subset")
    loaded = [DATASETS[name](root, s, **kwargs) for s in parts]
    durations = {k: v for d in loaded for k, v in (d.durations or {}).items()} or None
    return dataclasses.replace(loaded[0], subset="all", items=[it for d in loaded for it in d.items],
                               durations=durations)


def load_waveforms(items, sample_rate, *, n_samples=None, progress=True, desc="loading audio"):
    """Decode the items' audio at ``sample_rate`` into one array.

    Parameters
    ----------
    items : sequence of Item
    sample_rate : int
        Sample rate in Hz.
    n_samples : int or None
        Length of every row (centre-cropped or zero-padded at the end); default the longest file.
    progress : bool
        tqdm progress bar.

    Returns
    -------
    audio : np.ndarray, float32, shape (n_ok, n_samples)
    ok : np.ndarray of int
        Indices (into ``items``) of the rows of ``audio``.
    errors : list of (str, str)
        ``(path, reason)`` of every file that could not be used (skipped, not fatal).
    """
    store = ClipStore([it.path for it in items], sample_rate, mode="memory", progress=progress, desc=desc)
    waves = list(store)
    if not waves:
        return np.zeros((0, n_samples or 0), np.float32), store.index, store.errors
    if n_samples is None:
        n_samples = max(len(w) for w in waves)
    audio = np.stack([fix_length(w, n_samples) for w in waves]).astype(np.float32)
    return audio, store.index, store.errors
