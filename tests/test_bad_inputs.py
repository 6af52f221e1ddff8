"""A generated corpus of bad inputs run through train, evaluate, extract_features, tag and adversary.

Batch jobs never crash: every bad file is named with its reason in the job's report. Single-file
commands fail with a clear message and a non-zero exit code.
"""

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import make_signal, run_cli

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "bin"

#: name -> the words its reason must contain
BAD = {
    "corrupt_header.wav": "cannot decode",
    "truncated.flac": "cannot decode",
    "zero_length.wav": "cannot decode",
    "silence.wav": "silent",
    "nan.wav": "NaN",
    "inf.wav": "NaN or infinite",
    "not_audio.mp3": "cannot decode",
    "loop.wav": "looping",
    "missing_target.wav": "looping",  # a broken link reads the same
}
#: odd but valid: decoded, resampled, mixed down, padded
ODD = ("rate_8k.wav", "rate_96k.wav", "six_channels.wav", "tenth_of_a_second.wav", "thirty_minutes.wav")


def _write_corpus(folder, sr=22050):
    folder.mkdir(parents=True, exist_ok=True)
    good = make_signal("mix", sr, 3.0)
    sf.write(folder / "good_a.wav", good, sr)
    sf.write(folder / "good_b.flac", make_signal("chirp", sr, 3.0), sr)
    raw = (folder / "good_a.wav").read_bytes()
    (folder / "corrupt_header.wav").write_bytes(b"RIFX" + raw[4:12] + b"garbage" + raw[40:200])
    sf.write(folder / "full.flac", make_signal("mix", sr, 3.0), sr)
    data = (folder / "full.flac").read_bytes()
    (folder / "truncated.flac").write_bytes(data[: len(data) // 3])
    (folder / "full.flac").unlink()
    (folder / "zero_length.wav").write_bytes(b"")
    sf.write(folder / "silence.wav", np.zeros(sr * 2, np.float32), sr)
    y = good.copy()
    y[1000:1010] = np.nan
    sf.write(folder / "nan.wav", y, sr, subtype="FLOAT")
    y = good.copy()
    y[5] = np.inf
    sf.write(folder / "inf.wav", y, sr, subtype="FLOAT")
    sf.write(folder / "rate_8k.wav", make_signal("mix", 8000, 3.0), 8000)
    sf.write(folder / "rate_96k.wav", make_signal("mix", 96000, 3.0), 96000)
    sf.write(folder / "six_channels.wav", np.stack([make_signal("mix", sr, 3.0, seed=k) for k in range(6)], 1), sr)
    sf.write(folder / "tenth_of_a_second.wav", make_signal("sine", sr, 0.1), sr)
    sf.write(folder / "thirty_minutes.wav", make_signal("mix", 8000, 1800.0), 8000, subtype="PCM_16")
    (folder / "not_audio.mp3").write_text("this is a text file with an audio extension\n" * 20)
    os.symlink(folder / "loop.wav", folder / "loop.wav")  # a link to itself
    os.symlink(folder / "nowhere.wav", folder / "missing_target.wav")
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return _write_corpus(tmp_path_factory.mktemp("corpus") / "audio")


@pytest.fixture(scope="module")
def gtzan(tmp_path_factory):
    """A GTZAN-layout dataset: two genres of good clips, the bad corpus inside one genre folder."""
    root = tmp_path_factory.mktemp("gtzan")
    for g, genre in enumerate(("blues", "rock")):
        (root / "genres" / genre).mkdir(parents=True)
        for i in range(4):
            sf.write(root / "genres" / genre / f"{genre}.{i:05d}.wav",
                     make_signal(("mix", "chirp", "noise", "sine")[i], 22050, 3.0, seed=g) * (0.4 + 0.3 * g), 22050)
    _write_corpus(root / "genres" / "rock" / "bad")
    return root


def _run(script, *args):
    return run_cli(script, *args)


def _reason_of(text, name):
    """The line naming ``name`` and the next one (tag.py prints the reason under the path)."""
    lines = text.splitlines()
    at = [k for k, l in enumerate(lines) if name in l]
    assert at, f"{name} not reported in:\n{text[-3000:]}"
    return " ".join(lines[at[0]:at[0] + 2])


def _bad_in(root, subset):
    """The bad corpus files that the dataset loader puts in ``subset``."""
    from kerasmgr.data.datasets import load_dataset

    names = {Path(it.path).name for it in load_dataset("gtzan", root, subset=subset).items}
    return {n for n in BAD if n in names}


def test_tag_reports_every_bad_file_and_tags_the_rest(corpus):
    files = sorted(str(p) for p in corpus.iterdir()) + [str(corpus / "no_such_file.wav"), str(corpus)]
    r = _run("tag.py", *files, "--save", corpus.parent / "tags.csv")
    assert r.returncode == 1, r.stderr[-2000:]
    out = r.stdout + r.stderr
    for name, reason in BAD.items():
        assert reason in _reason_of(out, name), name
    assert "no such file" in _reason_of(out, "no_such_file.wav")
    with open(corpus.parent / "tags.csv", newline="") as f:
        rows = {Path(row["path"]).name: row for row in csv.DictReader(f)}
    for name in ("good_a.wav", "good_b.flac", *ODD):
        assert rows[name]["status"] == "ok", (name, rows[name])
    # a single bad file: a clear message naming it and a non-zero exit code
    one = _run("tag.py", corpus / "truncated.flac")
    assert one.returncode == 1 and "truncated.flac" in one.stdout + one.stderr
    assert "Traceback" not in one.stderr


def test_extract_features_reports_bad_files_in_its_index(corpus, tmp_path):
    r = _run("extract_features.py", corpus, "--out", tmp_path / "f.npy", "--min-seconds", "0.5")
    assert r.returncode == 0, r.stderr[-2000:]
    with open(tmp_path / "f.csv", newline="") as f:
        rows = {Path(row["path"]).name: row for row in csv.DictReader(f)}
    for name, reason in BAD.items():
        assert rows[name]["status"] == "error" and reason in rows[name]["error"], (name, rows[name])
    assert "too short" in rows["tenth_of_a_second.wav"]["error"]
    for name in ("good_a.wav", "good_b.flac", "rate_8k.wav", "rate_96k.wav", "six_channels.wav",
                 "thirty_minutes.wav"):
        assert rows[name]["status"] == "ok", (name, rows[name])
    feats = np.load(tmp_path / "f.npy")
    ok = [int(row["row"]) for row in rows.values() if row["status"] == "ok"]
    assert np.isfinite(feats[ok]).all()


@pytest.fixture(scope="module")
def trained(gtzan, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    r = _run("train.py", "--model", "schindler_shallow", "--dataset", "gtzan", "--data-root", gtzan, "--epochs", "1",
             "--segments-per-clip", "2", "--out", out, "--name", "bad", "--verbose", "0")
    assert r.returncode == 0, r.stderr[-3000:]
    return out / "bad"


def test_train_skips_and_lists_bad_files(trained):
    skipped = {Path(s["path"]).name: s["reason"] for s in json.loads((trained / "skipped.json").read_text())}
    for name, reason in BAD.items():
        assert reason in skipped[name], (name, skipped.get(name))
    assert not set(ODD) & set(skipped)


def test_evaluate_skips_and_reports_bad_files(trained, gtzan, tmp_path):
    r = _run("evaluate.py", "--model", trained / "model.keras", "--dataset", "gtzan", "--data-root", gtzan,
             "--subset", "train", "--out", tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    report = (r.stdout + r.stderr + "".join(p.read_text() for p in tmp_path.rglob("*.json")))
    bad = _bad_in(gtzan, "train")
    assert bad
    for name in bad:
        assert name in report, name


def test_adversary_job_reports_bad_files(trained, gtzan, tmp_path):
    r = _run("adversary.py", "--model", trained / "model.keras", "--dataset", "gtzan", "--data-root", gtzan,
             "--subset", "train", "--out", tmp_path, "--iterations", "2", "--figures", "0", "--no-audio",
             "--robustness-snrs")
    assert r.returncode == 0, r.stderr[-3000:]
    with open(tmp_path / "report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    text = json.dumps(rows) + r.stdout + r.stderr + (tmp_path / "summary.json").read_text()
    bad = _bad_in(gtzan, "train")
    assert bad
    for name in bad:
        assert name in text, name


@pytest.mark.parametrize("entry, words", [("../outside.wav", "outside the dataset root"),
                                          ("/etc/passwd", "absolute path")])
def test_split_lists_cannot_point_outside_the_root(gtzan, tmp_path, entry, words):
    root = tmp_path / "g"
    os.symlink(gtzan / "genres", root / "genres") if root.mkdir() is None else None
    (root / "splits").mkdir()
    for s in ("train", "valid", "test"):
        (root / "splits" / f"{s}_x.txt").write_text(f"blues/blues.00000.wav\n{entry}\n")
    r = _run("train.py", "--model", "schindler_shallow", "--dataset", "gtzan", "--data-root", root, "--split", "x",
             "--epochs", "1", "--out", tmp_path / "runs", "--verbose", "0")
    assert r.returncode == 2, r.stderr[-2000:]
    assert words in r.stderr and entry in r.stderr and "Traceback" not in r.stderr
