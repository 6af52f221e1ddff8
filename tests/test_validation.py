"""Dataset validation, MTG-Jamendo and MagnaTagATune's Won et al. (2020) split (issue 21, item 3),
on tiny fixtures written in the real layouts (real MP3/WAV files made here)."""

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from conftest import run_cli
from kerasmgr.data.datasets import DatasetError, load_dataset
from kerasmgr.data.validation import read_index, validate, write_index

GENRES = ["blues", "jazz", "rock"]


def write_audio(path, sr, seconds, freq=220.0, fmt=None):
    t = np.arange(int(sr * seconds)) / sr
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr, format=fmt)


@pytest.fixture
def gtzan(tmp_path):
    """GTZAN layout, 30-s files at 22,050 Hz, with one truncated, one at the wrong rate, one
    corrupt and one byte-identical copy."""
    root = tmp_path / "gtzan_genre"
    for g, genre in enumerate(GENRES):
        for i in range(2):
            write_audio(root / "genres" / genre / f"{genre}.{i:05d}.wav", 22050, 30.0, 200 + 40 * g + 7 * i)
    write_audio(root / "genres" / "blues" / "blues.00002.wav", 22050, 12.0)  # too short
    write_audio(root / "genres" / "jazz" / "jazz.00002.wav", 44100, 30.0)  # wrong rate
    (root / "genres" / "rock" / "rock.00002.wav").write_bytes(b"RIFF....not a wav file")  # undecodable
    (root / "genres" / "rock" / "rock.00003.wav").write_bytes((root / "genres" / "rock" / "rock.00000.wav").read_bytes())
    return root


def test_validate_reports_every_kind_of_problem(gtzan, tmp_path):
    report = validate("gtzan", gtzan, progress=False)
    kinds = {(p.kind, p.path.rsplit("/", 1)[-1]) for p in report.problems}
    assert kinds == {("duration", "blues.00002.wav"), ("rate", "jazz.00002.wav"),
                     ("undecodable", "rock.00002.wav"), ("duplicate", "rock.00003.wav")}
    assert report.n_files == 10 and not report.ok
    text = report.format()
    assert "1 duplicate" in text and "44100 Hz, expected 22050 Hz" in text and "12.00 s" in text


def test_checksums_against_a_mirdata_style_index(gtzan, tmp_path):
    report = validate("gtzan", gtzan, progress=False)
    index = write_index(report, tmp_path / "index.json")
    assert read_index(index)["genres/blues/blues.00000.wav"] == report.checksums[str(gtzan / "genres/blues/blues.00000.wav")]
    # mirdata's own layout: track ids, paths starting with the dataset folder's name
    mirdata = {"version": "1.0", "tracks": {
        "blues.00000": {"audio": ["gtzan_genre/genres/blues/blues.00000.wav", "0" * 32]},
        "jazz.00000": {"audio": ["gtzan_genre/genres/jazz/jazz.00000.wav",
                                 report.checksums[str(gtzan / "genres/jazz/jazz.00000.wav")]]},
        "pop.00000": {"audio": ["gtzan_genre/genres/pop/pop.00000.wav", "1" * 32]}}}
    (tmp_path / "mirdata.json").write_text(json.dumps(mirdata))
    checked = validate("gtzan", gtzan, index=tmp_path / "mirdata.json", progress=False)
    found = {(p.kind, p.path.rsplit("/", 1)[-1]) for p in checked.problems if p.kind in ("checksum", "missing")}
    assert found == {("checksum", "blues.00000.wav"), ("missing", "pop.00000.wav")}


def test_cli_exit_codes_and_layout_errors(gtzan, tmp_path):
    r = run_cli("validate_dataset.py", "gtzan", "--data-root", gtzan, "--json", tmp_path / "r.json")
    assert r.returncode == 1 and "undecodable" in r.stdout
    assert json.loads((tmp_path / "r.json").read_text())["counts"]["duplicate"] == 1
    for bad in ("rock.00002.wav", "rock.00003.wav", "blues.00002.wav"):
        next(gtzan.rglob(bad)).unlink()
    (gtzan / "genres" / "jazz" / "jazz.00002.wav").unlink()
    r = run_cli("validate_dataset.py", "gtzan", "--data-root", gtzan, "--write-index", tmp_path / "i.json")
    assert r.returncode == 0 and "no problems" in r.stdout and (tmp_path / "i.json").is_file()
    r = run_cli("validate_dataset.py", "mtat", "--data-root", tmp_path / "nothing-here")
    assert r.returncode == 2 and r.stderr.startswith("error:") and "annotations_final.csv" in r.stderr
    assert "--data-root" in r.stderr  # what to fix
    r = run_cli("validate_dataset.py", "gtzan", "--data-root", tmp_path / "nothing-here")
    assert r.returncode == 2 and "GTZAN folder not found" in r.stderr and "genres/<genre>" in r.stderr


def jamendo_fixture(root):
    """MTG-Jamendo: splits/split-0/autotagging_<subset>-<part>.tsv and audio/NN/ID.mp3 (real MP3s)."""
    header = "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS\n"
    rows = {"train": [("track_0000214", "artist_000014", "14/214.mp3", 3.0, ["genre---punkrock", "mood/theme---energetic"]),
                      ("track_0000215", "artist_000014", "15/215.mp3", 3.0, ["genre---rock", "instrument---guitar"])],
            "validation": [("track_0001000", "artist_000100", "00/1000.mp3", 3.0, ["mood/theme---calm"])],
            "test": [("track_0002001", "artist_000200", "01/2001.mp3", 9.0, ["genre---rock"])]}
    for part, rs in rows.items():
        lines = [f"{t}\t{a}\talbum_000001\t{p}\t{d}\t" + "\t".join(tags) + "\n" for t, a, p, d, tags in rs]
        for sub in ("top50tags", "genre", "moodtheme"):
            keep = [ln for ln in lines if sub == "top50tags" or ("genre---" in ln if sub == "genre" else "mood/theme" in ln)]
            f = root / "splits" / "split-0" / f"autotagging_{sub}-{part}.tsv"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(header + "".join(keep))
        for t, _, p, _, _ in rs:
            write_audio(root / "audio" / p, 44100, 3.0, 100.0 + int(t[-4:]) / 10, fmt="MP3")
    return root


def test_mtg_jamendo_loader_and_validation(tmp_path):
    root = jamendo_fixture(tmp_path / "jamendo")
    train = load_dataset("jamendo", root, subset="train")
    assert len(train) == 2 and train.items[0].group == "artist_000014"
    assert train.items[0].path == str(root / "audio" / "14" / "214.mp3")
    assert train.tags == sorted({"genre---punkrock", "mood/theme---energetic", "genre---rock", "instrument---guitar",
                                 "mood/theme---calm"})
    assert train.targets("tags").shape == (2, 5)
    mood = load_dataset("jamendo", root, subset="all", tag_subset="moodtheme")
    assert [it.tags for it in mood.items] == [("genre---punkrock", "mood/theme---energetic"), ("mood/theme---calm",)]
    report = validate("jamendo", root, progress=False)  # the test track is 3 s, its DURATION says 9 s
    assert [(p.kind, p.path.rsplit("/", 1)[-1]) for p in report.problems] == [("duration", "2001.mp3")]
    with pytest.raises(DatasetError, match="moods"):
        load_dataset("jamendo", root, tag_subset="moods")
    (root / "splits" / "split-0" / "autotagging_genre-test.tsv").write_text("id\tpath\n")
    with pytest.raises(DatasetError, match="not an MTG-Jamendo split file"):
        load_dataset("jamendo", root, subset="test", tag_subset="genre")


def test_mtat_won2020_split_beside_the_hex_split(tmp_path):
    root = tmp_path / "mtat"
    rows = []
    for i, folder in enumerate("0cf"):
        rel = f"{folder}/artist_{i}-album-{i}-title-0-29.mp3"
        write_audio(root / "mp3" / rel, 16000, 1.0, 300.0 + 50 * i, fmt="MP3")
        rows.append({"clip_id": str(i), "guitar": "1", "classical": "0", "slow": str(i % 2), "mp3_path": rel})
    with open(root / "annotations_final.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t")
        w.writeheader()
        w.writerows(rows)
    split = root / "split"
    split.mkdir()
    # Won et al.: "index<TAB>path" strings; here the hex-test clip is in train and vice versa
    np.save(split / "train.npy", np.array([f"2\t{rows[2]['mp3_path']}", f"0\t{rows[0]['mp3_path']}"]))
    np.save(split / "valid.npy", np.array([f"1\t{rows[1]['mp3_path']}"]))
    np.save(split / "test.npy", np.array([f"0\t{rows[0]['mp3_path']}"]))
    hexsplit = load_dataset("mtat", root, subset="test", n_tags=2)
    won = load_dataset("mtat", root, subset="train", split="won2020", n_tags=2)
    assert [it.path.rsplit("/", 2)[-2] for it in hexsplit.items] == ["f"]
    assert [it.path.rsplit("/", 2)[-2] for it in won.items] == ["f", "0"] and won.tags == ["guitar", "slow"]
    assert won.items[1].tags == ("guitar",) and won.items[0].tags == ("guitar",)
    np.save(split / "tags.npy", np.array(["slow", "guitar"]))
    np.save(split / "binary.npy", np.array([[1, 0], [0, 1], [1, 1]]))
    won = load_dataset("mtat", root, subset="train", split="won2020")
    assert won.tags == ["slow", "guitar"] and won.items[0].tags == ("slow", "guitar")
    with pytest.raises(DatasetError, match="won2020"):
        load_dataset("mtat", root, split="won2021")
    assert validate("mtat", root, split="won2020", progress=False).problems[0].kind == "duration"  # 1-s clips
