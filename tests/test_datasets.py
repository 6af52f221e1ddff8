"""Dataset loaders on tiny fixtures written in each real layout (generated audio)."""

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kerasmgr.data.datasets import (
    MSD_TAGS, DatasetError, load_dataset, load_waveforms, read_split_list, stratified_split,
)
from conftest import SHARED

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]


def tone(path, freq, sr=8000, seconds=0.25, fmt=None):
    t = np.arange(int(sr * seconds)) / sr
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr, format=fmt)


@pytest.fixture
def gtzan(tmp_path):
    """GTZAN layout: genres/<genre>/<genre>.000NN.au, 4 files per genre, and split lists saying .wav."""
    root = tmp_path / "gtzan"
    for g, genre in enumerate(GENRES):
        for i in range(4):
            tone(root / "genres" / genre / f"{genre}.{i:05d}.au", 200 + 50 * g, fmt="AU")
    splits = root / "splits"
    splits.mkdir()
    for subset, idx in (("train", [0, 1]), ("valid", [2]), ("test", [3])):
        lines = [f"{g}/{g}.{i:05d}.wav" for g in GENRES for i in idx]
        (splits / f"{subset}_mine.txt").write_text("\n".join(lines) + "\n")
    return root


def test_gtzan_split_lists(gtzan):
    ds = load_dataset("gtzan", gtzan, subset="train", split="mine")
    assert len(ds) == 20 and ds.classes == GENRES
    assert all(Path(it.path).suffix == ".au" and Path(it.path).is_file() for it in ds.items)
    assert ds.items[0].label == "blues"
    assert len(load_dataset("gtzan", gtzan, subset="test", split="mine")) == 10
    audio, ok, errors = load_waveforms(ds.items[:3], 8000, progress=False)
    assert audio.shape == (3, 2000) and not errors


def test_gtzan_random_stratified_split(gtzan):
    parts = {s: load_dataset("gtzan", gtzan, subset=s, seed=5) for s in ("train", "valid", "test")}
    assert [len(parts[s]) for s in ("train", "valid", "test")] == [20, 10, 10]
    paths = [it.path for s in parts for it in parts[s].items]
    assert len(set(paths)) == 40
    again = load_dataset("gtzan", gtzan, subset="test", seed=5)
    assert [it.path for it in again.items] == [it.path for it in parts["test"].items]
    other = load_dataset("gtzan", gtzan, subset="test", seed=6)
    assert [it.path for it in other.items] != [it.path for it in parts["test"].items]


def test_split_list_errors(gtzan):
    bad = gtzan / "splits"
    (bad / "train_escape.txt").write_text("../../etc/passwd\n")
    with pytest.raises(DatasetError, match="outside"):
        load_dataset("gtzan", gtzan, subset="train", split="escape")
    (bad / "train_abs.txt").write_text("/etc/passwd\n")
    with pytest.raises(DatasetError, match="absolute"):
        load_dataset("gtzan", gtzan, subset="train", split="abs")
    (bad / "train_gone.txt").write_text("blues/blues.00099.wav\n")
    with pytest.raises(DatasetError, match="not found"):
        load_dataset("gtzan", gtzan, subset="train", split="gone")
    with pytest.raises(DatasetError, match="split list not found"):
        load_dataset("gtzan", gtzan, subset="train", split="nosuch")


@pytest.mark.skipif(not (SHARED / "data" / "gtzan_splits").is_dir(),
                    reason="reference GTZAN split lists (../shared/data/gtzan_splits) are absent")
@pytest.mark.parametrize("name,counts", [("filtered", (443, 197, 290)), ("stratified", (500, 250, 250))])
def test_reference_gtzan_split_lists_load_with_the_right_counts(tmp_path, name, counts):
    """The dnn-mgr lists resolve against a GTZAN-layout folder of (tiny) .au stand-ins."""
    split_dir = SHARED / "data" / "gtzan_splits"
    root = tmp_path / "gtzan"
    for g in GENRES:
        (root / "genres" / g).mkdir(parents=True)
        for i in range(100):
            tone(root / "genres" / g / f"{g}.{i:05d}.au", 300, seconds=0.01, fmt="AU")
    sizes = tuple(len(load_dataset("gtzan", root, subset=s, split=name, split_dir=split_dir))
                  for s in ("train", "valid", "test"))
    assert sizes == counts
    seen = [it.path for s in ("train", "valid", "test")
            for it in load_dataset("gtzan", root, subset=s, split=name, split_dir=split_dir).items]
    assert len(seen) == len(set(seen))  # partitions do not overlap
    assert read_split_list(split_dir / f"train_{name}.txt")[0].startswith("blues/")


def test_folder_and_ballroom(tmp_path):
    root = tmp_path / "ballroom"
    for c, style in enumerate(["ChaChaCha", "Jive", "Quickstep", "Tango"]):
        for i in range(5):
            tone(root / style / f"{style}-{i}.wav", 300 + c * 40)
    ds = load_dataset("ballroom", root, subset="train", seed=0)
    assert ds.classes == ["ChaChaCha", "Jive", "Quickstep", "Tango"]
    n = [len(load_dataset("folder", root, subset=s)) for s in ("train", "valid", "test")]
    assert sum(n) == 20 and n[0] >= n[1]


def test_csv_with_split_and_group_columns(tmp_path):
    root = tmp_path / "csvset"
    rows = []
    for i in range(12):
        rel = f"audio/clip{i}.flac"
        tone(root / rel, 300 + 10 * i)
        rows.append({"path": rel, "label": "a" if i % 2 else "b", "tags": "x;y" if i % 3 == 0 else "y",
                     "group": f"song{i // 2}", "split": ["train", "valid", "test"][i % 3]})
    with open(root / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    ds = load_dataset("csv", root / "labels.csv", subset="valid")
    assert len(ds) == 4 and ds.classes == ["a", "b"] and ds.tags == ["x", "y"]
    assert ds.items[0].group == "song0" and ds.targets("tags").shape == (4, 2)
    # without a split column: grouped stratified split keeps each song on one side
    for r in rows:
        del r["split"]
    with open(root / "nosplit.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    parts = {s: load_dataset("csv", root / "nosplit.csv", subset=s) for s in ("train", "valid", "test")}
    owner = {}
    for s, d in parts.items():
        for it in d.items:
            assert owner.setdefault(it.group, s) == s


def test_mtat_layout(tmp_path):
    root = tmp_path / "mtat"
    tags = ["guitar", "classical", "slow", "techno"]
    rows = []
    for i, folder in enumerate("0abcdf"):
        for seg in range(2):
            rel = f"{folder}/artist_{i}-album-{i}-title-{seg * 29}-{seg * 29 + 29}.mp3"
            tone(root / "mp3" / rel.replace(".mp3", ".wav"), 300)  # stand-in audio
            row = {"clip_id": str(len(rows)), **{t: "0" for t in tags}, "mp3_path": rel}
            row["guitar"] = "1"
            row["slow"] = "1" if i % 2 else "0"
            row["techno"] = "1" if i == 0 else "0"
            rows.append(row)
    with open(root / "annotations_final.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t")
        w.writeheader()
        w.writerows(rows)
    train = load_dataset("mtat", root, subset="train", n_tags=3)
    assert train.tags == ["guitar", "slow", "techno"]  # by count, ties in file order
    assert len(train) == 6  # folders 0, a, b
    assert len(load_dataset("mtat", root, subset="valid")) == 2  # folder c
    assert len(load_dataset("mtat", root, subset="test")) == 4  # folders d, f
    assert train.items[0].group == train.items[1].group  # two segments of one song
    assert train.items[0].path.endswith(".mp3")


def test_msd_choi_split_format(tmp_path):
    root = tmp_path / "msd"
    names = ["3/6/36122424.npy", "1/1/11623.npy", "8/9/8985987.npy"]
    (root).mkdir()
    (root / "test_x_filename.txt").write_text("\n".join(names) + "\n")
    y = np.zeros((3, 50), dtype=np.int64)
    y[0, MSD_TAGS.index("rock")] = 1
    y[2, MSD_TAGS.index("jazz")] = 1
    np.save(root / "test_y.npy", y)
    ds = load_dataset("msd", root, subset="test")
    assert ds.tags == list(MSD_TAGS) and len(ds) == 3
    assert ds.items[0].path == str(root / "3/6/36122424.clip.mp3") and ds.items[0].tags == ("rock",)
    assert ds.targets("tags").sum() == 2
    np.save(root / "test_y.npy", y[:2])
    with pytest.raises(DatasetError, match="does not match"):
        load_dataset("msd", root, subset="test")


def test_stratified_split_by_hand():
    labels = ["a"] * 8 + ["b"] * 4
    parts = stratified_split(labels, seed=0)
    assert sorted(len(v) for v in parts.values()) == [3, 3, 6]
    assert sum(labels[i] == "a" for i in parts["train"]) == 4
    with pytest.raises(ValueError):
        stratified_split(labels, proportions=(0.5, 0.5, 0.5))


def test_missing_root_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="needs a root"):
        load_dataset("gtzan", None)
    with pytest.raises(DatasetError, match="not found"):
        load_dataset("gtzan", tmp_path / "nowhere")
