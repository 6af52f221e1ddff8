"""Job-array parts (issue 22, first pieces): --part parsing, deterministic shares, merge checks, and
feature extraction as parts merged to exactly the single run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from conftest import make_signal, run_cli

from kerasmgr.parts import PartError, check_parts, parse_part, part_metadata, select


def test_parse_part_and_array_environments():
    assert parse_part("1/4") == (1, 4) and parse_part("4/4") == (4, 4)
    assert parse_part("auto/4", env={"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "0"}) == (4, 4)
    assert parse_part("auto/4", env={"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1"}) == (3, 4)
    assert parse_part("auto/8", env={"JOB_COMPLETION_INDEX": "0"}) == (1, 8)
    for bad, match in (("5/4", "parts are numbered 1 to 4"), ("0/4", "part 0 does not exist"), ("x/4", "K must be"),
                       ("4", "expected K/N"), ("1/0", "expected K/N")):
        with pytest.raises(PartError, match=match):
            parse_part(bad, env={})
    with pytest.raises(PartError, match="SLURM_ARRAY_TASK_ID"):
        parse_part("auto/4", env={})
    with pytest.raises(PartError, match="part 9 does not exist"):
        parse_part("auto/4", env={"JOB_COMPLETION_INDEX": "8"})


@pytest.mark.parametrize("n_items,n", [(0, 3), (5, 4), (10, 3), (1000, 16), (3, 5)])
def test_parts_partition_the_list_in_order(n_items, n):
    items = [f"f{i:04d}.wav" for i in range(n_items)]
    parts = [select(items, k, n) for k in range(1, n + 1)]
    assert sum(parts, []) == items  # concatenated in order: the single run's list
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1


def test_merge_checks_name_the_bad_part():
    items = [f"f{i}" for i in range(10)]
    settings = {"model": "k2c2-embedded", "layers": "12345"}
    metas = [(f"p{k}.json", {**part_metadata(items, k, 3, settings), "complete": True}) for k in (1, 2, 3)]
    assert [m["part"] for m in check_parts(metas[::-1])] == [1, 2, 3]
    with pytest.raises(PartError, match=r"missing part\(s\) 2/3"):
        check_parts([metas[0], metas[2]])
    with pytest.raises(PartError, match="p1b.json: part 1 overlaps p1.json"):
        check_parts(metas + [("p1b.json", metas[0][1])])
    other = ("q2.json", {**part_metadata(items, 2, 3, {**settings, "layers": "123"}), "complete": True})
    with pytest.raises(PartError, match="q2.json: made with different settings"):
        check_parts([metas[0], other, metas[2]])
    relisted = ("r2.json", {**part_metadata(items + ["new"], 2, 3, settings), "complete": True})
    with pytest.raises(PartError, match="r2.json: made with a different input list"):
        check_parts([metas[0], relisted, metas[2]])
    unfinished = ("p2.json", {**metas[1][1], "complete": False})
    with pytest.raises(PartError, match="p2.json: the part did not finish"):
        check_parts([metas[0], unfinished, metas[2]])


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    for i in range(11):
        sf.write(d / f"clip{i:02d}.wav", make_signal(("mix", "chirp", "noise")[i % 3], 12000, 1.5, seed=i), 12000)
    (d / "clip05.wav").write_bytes(b"not audio")  # a failure row, to merge too
    return d


def _bytes(stem):
    return [Path(f"{stem}.{e}").read_bytes() for e in ("npy", "csv", "json")]


def test_extraction_in_four_parts_merges_to_the_single_run(corpus, tmp_path):
    # parts run one clip per forward pass; within a batch a clip's features depend on its neighbours
    # (~3e-6: BLAS tiles), so the reference single run uses --batch-size 1 too
    assert run_cli("extract_features.py", corpus, "--out", tmp_path / "single", "--batch-size", "1").returncode == 0
    for k in (1, 2, 3, 4):
        r = run_cli("extract_features.py", corpus, "--out", tmp_path / "parts", "--part", f"{k}/4")
        assert r.returncode == 0, r.stderr[-2000:]
    meta = json.loads((tmp_path / "parts.part-3-of-4.part.json").read_text())
    assert meta["complete"] and (meta["start"], meta["stop"]) == (5, 8) and meta["n_items"] == 11
    r = run_cli("merge_parts.py", "extract", tmp_path / "parts")
    assert r.returncode == 0, r.stderr
    assert _bytes(tmp_path / "parts") == _bytes(tmp_path / "single")
    # a part killed mid-way (its index cut after the first rows, metadata not complete) resumes
    stem = tmp_path / "parts.part-2-of-4"
    lines = Path(f"{stem}.csv").read_text().splitlines(keepends=True)
    Path(f"{stem}.csv").write_text("".join(lines[:2]))
    meta = json.loads(Path(f"{stem}.part.json").read_text())
    Path(f"{stem}.part.json").write_text(json.dumps({**meta, "complete": False}))
    r = run_cli("merge_parts.py", "extract", tmp_path / "parts")
    assert r.returncode == 2 and "parts.part-2-of-4.part.json: the part did not finish" in r.stderr
    assert run_cli("extract_features.py", corpus, "--out", tmp_path / "parts", "--part", "2/4").returncode == 0
    assert run_cli("merge_parts.py", "extract", tmp_path / "parts").returncode == 0
    assert _bytes(tmp_path / "parts") == _bytes(tmp_path / "single")


def test_two_parts_at_once_as_processes(corpus, tmp_path):
    cmd = [sys.executable, str(ROOT / "bin" / "extract_features.py"), str(corpus), "--out", str(tmp_path / "p")]
    procs = [subprocess.Popen([*cmd, "--part", "auto/2"], env={**os.environ, "JOB_COMPLETION_INDEX": str(i)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i in (0, 1)]
    assert all(p.wait(timeout=300) == 0 for p in procs), [p.stderr.read()[-1000:] for p in procs]
    assert run_cli("merge_parts.py", "extract", tmp_path / "p").returncode == 0
    assert run_cli("extract_features.py", corpus, "--out", tmp_path / "single", "--batch-size", "1").returncode == 0
    assert _bytes(tmp_path / "p") == _bytes(tmp_path / "single")


def test_bad_parts_are_errors_naming_the_part(corpus, tmp_path):
    r = run_cli("extract_features.py", corpus, "--out", tmp_path / "x", "--part", "5/4")
    assert r.returncode == 2 and r.stderr.startswith("error: --part '5/4': part 5 does not exist")
    for k in (1, 3):
        assert run_cli("extract_features.py", corpus, "--out", tmp_path / "x", "--part", f"{k}/3").returncode == 0
    r = run_cli("merge_parts.py", "extract", tmp_path / "x")
    assert r.returncode == 2 and "missing part(s) 2/3" in r.stderr
    r = run_cli("extract_features.py", corpus, "--out", tmp_path / "x", "--part", "2/3", "--layers", "123")
    assert r.returncode == 0
    r = run_cli("merge_parts.py", "extract", tmp_path / "x")
    assert r.returncode == 2 and "x.part-2-of-3.part.json: made with different settings" in r.stderr
    r = run_cli("merge_parts.py", "extract", tmp_path / "nothing")
    assert r.returncode == 2 and "no parts to merge" in r.stderr


def test_tagging_in_four_parts_merges_to_the_single_run(corpus, tmp_path):
    files = sorted(str(p) for p in corpus.glob("*.wav"))
    assert run_cli("tag.py", *files, "--save", tmp_path / "single.csv", "--batch-size", "1").returncode == 1  # clip05
    for k in (1, 2, 3, 4):
        r = run_cli("tag.py", *files, "--save", tmp_path / "tags.csv", "--part", f"{k}/4")
        assert r.returncode == 0, r.stderr[-2000:]
    assert run_cli("merge_parts.py", "tag", tmp_path / "tags.csv").returncode == 0
    assert (tmp_path / "tags.csv").read_bytes() == (tmp_path / "single.csv").read_bytes()
    # kill part 3 mid-way: a torn last line, metadata not complete; re-running resumes and repairs
    part = tmp_path / "tags.part-3-of-4.csv"
    text = part.read_text()
    part.write_text(text[: text.index("\n", text.index("\n") + 1) + 25])
    meta = json.loads((tmp_path / "tags.part-3-of-4.part.json").read_text())
    (tmp_path / "tags.part-3-of-4.part.json").write_text(json.dumps({**meta, "complete": False}))
    assert run_cli("merge_parts.py", "tag", tmp_path / "tags.csv").returncode == 2
    assert run_cli("tag.py", *files, "--save", tmp_path / "tags.csv", "--part", "3/4").returncode == 0
    assert part.read_text() == text
    assert run_cli("merge_parts.py", "tag", tmp_path / "tags.csv").returncode == 0
    assert (tmp_path / "tags.csv").read_bytes() == (tmp_path / "single.csv").read_bytes()
    r = run_cli("tag.py", *files, "--save", tmp_path / "tags.csv", "--part", "2/4", "--window", "10")
    assert r.returncode == 2 and "tags.part-2-of-4.part.json: an earlier run of part 2/4 used other" in r.stderr


def test_evaluation_in_four_parts_gives_exactly_the_single_run_metrics(tmp_path):
    model = ROOT / "weights" / "k2c2-embedded.h5"
    data = json.dumps({"clips_per_genre": 5, "duration": 4.0})
    common = ["--model", model, "--dataset-kwargs", data, "--subset", "train"]
    assert run_cli("evaluate.py", *common, "--batch-size", "1", "--out", tmp_path / "single").returncode == 0
    for k in (1, 2, 3, 4):
        r = run_cli("evaluate.py", *common, "--out", tmp_path / "parts", "--part", f"{k}/4")
        assert r.returncode == 0, r.stderr[-2000:]
    r = run_cli("merge_parts.py", "evaluate", tmp_path / "parts")
    assert r.returncode == 0, r.stderr[-2000:]
    single = json.loads((tmp_path / "single" / "metrics.json").read_text())
    merged = json.loads((tmp_path / "parts" / "metrics.json").read_text())
    assert merged == single and merged["n_items"] == 24  # computed once over all clips, not averaged per part
    (tmp_path / "parts" / "evaluation.part-4-of-4.part.json").unlink()
    r = run_cli("merge_parts.py", "evaluate", tmp_path / "parts")
    assert r.returncode == 2 and "missing part(s) 4/4" in r.stderr
