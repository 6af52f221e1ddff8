"""Sharded TFRecord datasets: preparation (resumable, bad files reported), reading, training and extraction."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kerasmgr.data import shards
from kerasmgr.data.selection import DataSelection
from kerasmgr.jobs.prepare import prepare_dataset
from kerasmgr.data.audio import load_audio
from conftest import make_signal, run_cli

ROOT = Path(__file__).resolve().parents[1]
GENRES = ("blues", "jazz", "rock")


@pytest.fixture
def folder_dataset(tmp_path):
    """GTZAN-style class folders: 3 genres x 4 clips (2 s, 22.05 kHz, one stereo), one corrupt file."""
    root = tmp_path / "genres"
    for g, genre in enumerate(GENRES):
        (root / genre).mkdir(parents=True)
        for i in range(4):
            y = make_signal(("mix", "chirp", "noise", "sine")[i], 22050, 2.0, seed=10 * g + i) * (0.5 + 0.1 * g)
            if i == 0:
                y = np.stack([y, 0.5 * y], axis=1)
            sf.write(root / genre / f"{genre}.{i:05d}.wav", y, 22050)
    (root / "jazz" / "jazz.00099.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    return root


def test_prepare_writes_shards_reports_bad_files_and_resumes(folder_dataset, tmp_path):
    out = tmp_path / "shards"
    m = prepare_dataset(DataSelection("folder", str(folder_dataset)), out, sample_rate=16000, shard_size=2, progress=False)
    assert m["complete"] and m["sample_rate"] == 16000 and m["classes"] == list(GENRES)
    assert [e["path"].endswith("jazz.00099.wav") for e in m["errors"]] == [True]
    assert "cannot decode" in m["errors"][0]["reason"]
    n = sum(v["n_items"] for v in m["splits"].values())
    assert n == 12

    # every record holds the resampled clip (int16 precision), its label and id
    split = shards.ShardedSplit(out, "train")
    waves = list(split)
    assert len(waves) == len(split) == len(split.ids)
    for item_id, y, label in zip(split.ids, waves, split.targets("genre")):
        ref = load_audio(item_id, 16000)
        np.testing.assert_allclose(y, ref, atol=1.5 / 32767)
        assert GENRES[label] == Path(item_id).parent.name

    # resume: finished shards are kept, the unfinished one is written again
    names = [s["name"] for s in m["splits"]["test"]["shards"]]
    kept = out / f"{names[0]}.tfrecord"
    before = kept.stat().st_mtime_ns
    (out / f"{names[-1]}.json").unlink()
    (out / f"{names[-1]}.tfrecord").write_bytes(b"half-written")
    again = prepare_dataset(DataSelection("folder", str(folder_dataset)), out, sample_rate=16000, shard_size=2, progress=False)
    assert kept.stat().st_mtime_ns == before
    assert again["splits"] == m["splits"]
    assert len(list(shards.ShardedSplit(out, "test"))) == m["splits"]["test"]["n_items"]
    with pytest.raises(ValueError, match="other settings"):
        prepare_dataset(DataSelection("folder", str(folder_dataset)), out, sample_rate=8000, shard_size=2, progress=False)


def test_unfinished_or_foreign_folders_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="prepare_dataset"):
        shards.ShardedSplit(tmp_path, "train")
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "kerasmgr-shards", "splits": {}}))
    with pytest.raises(ValueError, match="did not finish"):
        shards.ShardedSplit(tmp_path, "train")


def test_sharded_stream_is_deterministic_and_split_between_workers(folder_dataset, tmp_path):
    out = tmp_path / "shards"
    prepare_dataset(DataSelection("folder", str(folder_dataset)), out, sample_rate=8000, shard_size=1, subsets=["train"],
                           progress=False)
    split = shards.ShardedSplit(out, "train")
    y = split.targets("genre")
    ds, steps = shards.sharded_training_dataset(split, y, 4000, segments_per_clip=2, batch_size=4, seed=1)
    first = [(x.numpy(), t.numpy()) for x, t in ds.take(3)]
    assert first[0][0].shape == (4, 4000) and steps == int(np.ceil(len(split) * 2 / 4))
    it = iter(ds)  # an extra iterator does not change what the next one sees
    next(it)
    again = [(x.numpy(), t.numpy()) for x, t in ds.take(3)]
    for (a, b), (c, d) in zip(first, again):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    # windows carry the label of the clip they were cut from
    waves = dict(zip(split.ids, split))
    for x, t in first:
        for row, label in zip(x, t):
            owner = [i for i, w in waves.items() if any(np.array_equal(row, w[o:o + 4000])
                                                         for o in range(0, len(w) - 3999, 1))]
            assert owner and GENRES[label] == Path(owner[0]).parent.name
    w0, _ = shards.sharded_training_dataset(split, y, 4000, batch_size=4, num_workers=2, worker_index=0)
    w1, _ = shards.sharded_training_dataset(split, y, 4000, batch_size=4, num_workers=2, worker_index=1)
    assert next(iter(w0))[0].shape == (2, 4000)
    seen0 = {tuple(r[:8]) for x, _ in w0.take(6) for r in x.numpy()}
    seen1 = {tuple(r[:8]) for x, _ in w1.take(6) for r in x.numpy()}
    assert seen0 and seen1 and not seen0 & seen1  # different shards


def test_train_and_extract_from_shards_through_the_clis(folder_dataset, tmp_path):
    out = tmp_path / "shards"
    r = run_cli("prepare_dataset.py", "--dataset", "folder", "--data-root", folder_dataset, "--model",
                "schindler_shallow", "--out", out, "--shard-size", "3")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "jazz.00099.wav" in r.stderr and "1 file(s) failed" in r.stdout
    r = run_cli("train.py", "--model", "schindler_shallow", "--dataset", "shards", "--data-root", out, "--epochs", "1",
                "--segments-per-clip", "2", "--out", tmp_path / "runs", "--name", "s", "--verbose", "0")
    assert r.returncode == 0, r.stderr[-2000:]
    metrics = json.loads((tmp_path / "runs" / "s" / "metrics.json").read_text())
    assert metrics["n"] == shards.ShardedSplit(out, "test").__len__()
    assert metrics["n_skipped_files"] == 1
    # features from the shards equal features decoded from the files (up to int16 storage)
    feats = tmp_path / "f"
    r = run_cli("extract_features.py", "--shards", out, "--subset", "test", "--out", feats / "shards.npy",
                "--min-seconds", "0.5")
    assert r.returncode == 0, r.stderr[-2000:]
    ids = shards.ShardedSplit(out, "test").ids
    r = run_cli("extract_features.py", *ids, "--out", feats / "files.npy", "--min-seconds", "0.5")
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = np.load(feats / "shards.npy"), np.load(feats / "files.npy")
    assert a.shape == b.shape and np.isfinite(a).all()
    np.testing.assert_allclose(a, b, rtol=0.05, atol=0.02)
