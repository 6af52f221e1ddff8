"""Job-array parts (issue 22): --part parsing, deterministic shares on a job's grid, merge checks, and
extraction, tagging and evaluation run as 4 parts — sequentially and two at once as separate
processes, one of them killed mid-way and re-run — merged to exactly the single run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import make_signal, run_cli

from kerasmgr.parts import PartError, check_parts, parse_part, part_bounds, part_metadata, select

ROOT = Path(__file__).resolve().parents[1]


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


@pytest.mark.parametrize("n_items,n,grid", [(0, 3, 1), (5, 4, 1), (10, 3, 1), (1000, 16, 1), (3, 5, 1), (23, 4, 4),
                                            (23, 4, 8), (1000, 16, 16), (1_000_000, 64, 16)])
def test_parts_partition_the_list_in_order_on_the_grid(n_items, n, grid):
    bounds = [part_bounds(n_items, k, n, grid) for k in range(1, n + 1)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n_items
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))  # contiguous, in order, no overlap
    assert all(start % grid == 0 for start, _ in bounds)  # whole groups
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= grid
    if n_items <= 1000:
        items = [f"f{i:04d}.wav" for i in range(n_items)]
        assert sum((select(items, k, n, grid) for k in range(1, n + 1)), []) == items


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
    regrid = ("g2.json", {**part_metadata(items, 2, 3, settings, grid=4), "complete": True})
    with pytest.raises(PartError, match="g2.json: made with a different grouping"):
        check_parts([metas[0], regrid, metas[2]])
    unfinished = ("p2.json", {**metas[1][1], "complete": False})
    with pytest.raises(PartError, match="p2.json: the part did not finish"):
        check_parts([metas[0], unfinished, metas[2]])


def test_how_a_clips_outputs_depend_on_its_batch():
    """Why jobs compute fixed groups of files: k2c2 gives bit-equal outputs for a clip in any batch
    of two or more (whatever its neighbours), but a pass over a lone clip takes other kernels."""
    from kerasmgr import pretrained
    from kerasmgr.inference import batch_predictor

    model, _ = pretrained.load("k2c2-embedded")
    x = (np.random.default_rng(0).standard_normal((8, model.input_shape[1])) * 0.1).astype(np.float32)
    ref = batch_predictor(model, 8)(x)
    for size in (2, 4):
        assert np.array_equal(batch_predictor(model, size)(x), ref), size
    assert np.array_equal(batch_predictor(model, 8)(x[3:7]), ref[3:7])
    lone = batch_predictor(model, 1)(x)
    assert np.abs(lone - ref).max() < 1e-5  # equal to float rounding (bit-equal on some CPUs)


def test_tagging_groups_make_scores_independent_of_where_a_part_starts(corpus):
    """CRNN's scores move by ~1e-7 with the batch shape, so they are equal between a part and the
    single run only because both batch the same groups of GROUP_FILES files."""
    from kerasmgr import pretrained
    from kerasmgr.jobs.tag import GROUP_FILES, tag_files

    model, meta = pretrained.load("crnn-embedded")
    files = sorted(str(p) for p in corpus.glob("*.wav"))
    whole = tag_files(model, meta, files, progress=False, workers=1)
    part = tag_files(model, meta, files[GROUP_FILES:], progress=False, workers=2)
    assert all(a["status"] == b["status"] and (a["scores"] is None or np.array_equal(a["scores"], b["scores"]))
               for a, b in zip(whole[GROUP_FILES:], part))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """23 files (one unreadable): 6 extraction chunks of 4 and 3 tagging groups of 8, so 4 parts
    get 4, 8, 4 and 7 files to extract and 0, 8, 8 and 7 to tag (an empty part too)."""
    d = tmp_path_factory.mktemp("corpus")
    for i in range(23):
        sf.write(d / f"clip{i:02d}.wav", make_signal(("mix", "chirp", "noise")[i % 3], 12000, 1.5, seed=i), 12000)
    (d / "clip05.wav").write_bytes(b"not audio")  # a failure row, to merge too
    return d


def _spawn(script, *args, index):
    """``bin/<script> args`` as a separate process, as array task ``index`` (0-based) of Kubernetes."""
    return subprocess.Popen([sys.executable, str(ROOT / "bin" / script), *map(str, args)],
                            env={**os.environ, "JOB_COMPLETION_INDEX": str(index)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _parts(script, *args):
    """Parts 1 and 2 of 4 one after the other in this process, then parts 3 and 4 at once as two
    separate processes (``--part auto/4``, as a Kubernetes Indexed Job gives them)."""
    for k in (1, 2):
        r = run_cli(script, *args, "--part", f"{k}/4")
        assert r.returncode == 0, r.stderr[-2000:]
    procs = [_spawn(script, *args, "--part", "auto/4", index=i) for i in (2, 3)]
    errors = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for e in errors]


def _bytes(stem):
    return [Path(f"{stem}.{e}").read_bytes() for e in ("npy", "csv", "json")]


def test_extraction_in_four_parts_merges_to_the_single_run(corpus, tmp_path):
    assert run_cli("extract_features.py", corpus, "--out", tmp_path / "single", "--chunk", "4").returncode == 0
    _parts("extract_features.py", corpus, "--out", tmp_path / "parts", "--chunk", "4")
    meta = json.loads((tmp_path / "parts.part-3-of-4.part.json").read_text())
    assert meta["complete"] and (meta["start"], meta["stop"], meta["grid"]) == (12, 16, 4) and meta["n_items"] == 23
    r = run_cli("merge_parts.py", "extract", tmp_path / "parts")
    assert r.returncode == 0, r.stderr
    assert "1 item(s) could not be read" in r.stderr and "clip05.wav" in r.stderr  # named, not fatal
    assert _bytes(tmp_path / "parts") == _bytes(tmp_path / "single")
    # a part cut off mid-chunk (its index torn after the first rows, metadata not complete) resumes
    stem = tmp_path / "parts.part-4-of-4"
    text = Path(f"{stem}.csv").read_text()
    Path(f"{stem}.csv").write_text(text[: text.index("\n", text.index("\n") + 1) + 30])
    meta = json.loads(Path(f"{stem}.part.json").read_text())
    Path(f"{stem}.part.json").write_text(json.dumps({**meta, "complete": False}))
    r = run_cli("merge_parts.py", "extract", tmp_path / "parts")
    assert r.returncode == 2 and "parts.part-4-of-4.part.json: the part did not finish" in r.stderr
    r = run_cli("extract_features.py", corpus, "--out", tmp_path / "parts", "--part", "4/4", "--chunk", "4")
    assert r.returncode == 0, r.stderr[-2000:]
    assert Path(f"{stem}.csv").read_text() == text
    assert run_cli("merge_parts.py", "extract", tmp_path / "parts").returncode == 0
    assert _bytes(tmp_path / "parts") == _bytes(tmp_path / "single")


def test_a_part_killed_mid_way_resumes_and_merges_to_the_single_run(tmp_path):
    corpus = tmp_path / "many"
    corpus.mkdir()
    for i in range(160):
        sf.write(corpus / f"c{i:03d}.wav", make_signal(("noise", "chirp")[i % 2], 8000, 1.0, seed=i), 8000)
    common = [corpus, "--out", tmp_path / "x", "--chunk", "4"]
    proc = _spawn("extract_features.py", *common, "--part", "auto/2", index=1)
    index = tmp_path / "x.part-2-of-2.csv"
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if index.is_file() and index.read_text().count("\n") > 1:  # the first chunk is written
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"the part was not killed mid-way: {proc.stderr.read()[-2000:]}"
    written = index.read_text().count("\n") - 1
    assert 0 < written < 80
    assert not json.loads((tmp_path / "x.part-2-of-2.part.json").read_text())["complete"]
    assert run_cli("merge_parts.py", "extract", tmp_path / "x").returncode == 2  # part 1 missing, part 2 unfinished
    for k in (2, 1):  # re-run the killed part (it resumes), then the other
        r = run_cli("extract_features.py", *common, "--part", f"{k}/2")
        assert r.returncode == 0, r.stderr[-2000:]
    assert run_cli("merge_parts.py", "extract", tmp_path / "x").returncode == 0
    assert run_cli("extract_features.py", corpus, "--out", tmp_path / "single", "--chunk", "4").returncode == 0
    assert _bytes(tmp_path / "x") == _bytes(tmp_path / "single")


def test_bad_parts_are_errors_naming_the_part(corpus, tmp_path):
    r = run_cli("extract_features.py", corpus, "--out", tmp_path / "x", "--part", "5/4")
    assert r.returncode == 2 and r.stderr.startswith("error: --part '5/4': part 5 does not exist")
    for k in (1, 3):
        assert run_cli("extract_features.py", corpus, "--out", tmp_path / "x", "--part", f"{k}/3").returncode == 0
    r = run_cli("merge_parts.py", "extract", tmp_path / "x")
    assert r.returncode == 2 and "missing part(s) 2/3" in r.stderr
    for other in (["--weights", "crnn-embedded", "--layers", "1234"], ["--layers", "123"]):  # another model; options
        r = run_cli("extract_features.py", corpus, "--out", tmp_path / "x", "--part", "2/3", "--overwrite", *other)
        assert r.returncode == 0, r.stderr[-2000:]
        r = run_cli("merge_parts.py", "extract", tmp_path / "x")
        assert r.returncode == 2 and "x.part-2-of-3.part.json: made with different settings" in r.stderr
    assert run_cli("extract_features.py", corpus, "--out", tmp_path / "x", "--part", "1/2").returncode == 0
    r = run_cli("merge_parts.py", "extract", tmp_path / "x")  # parts of a 2-way and a 3-way split overlap
    assert r.returncode == 2 and "made with a different number of parts" in r.stderr and "x.part-" in r.stderr
    r = run_cli("merge_parts.py", "extract", tmp_path / "nothing")
    assert r.returncode == 2 and "no parts to merge" in r.stderr


def test_tagging_in_four_parts_merges_to_the_single_run(corpus, tmp_path):
    files = sorted(str(p) for p in corpus.glob("*.wav"))
    assert run_cli("tag.py", corpus, "--save", tmp_path / "single.csv").returncode == 1  # clip05 is unreadable
    (tmp_path / "files.txt").write_text("\n".join(files) + "\n")  # the parts get the same list from a file
    _parts("tag.py", "--file-list", tmp_path / "files.txt", "--save", tmp_path / "tags.csv")
    r = run_cli("merge_parts.py", "tag", tmp_path / "tags.csv")
    assert r.returncode == 0 and "clip05.wav" in r.stderr
    assert (tmp_path / "tags.csv").read_bytes() == (tmp_path / "single.csv").read_bytes()
    assert (tmp_path / "tags.part-1-of-4.csv").read_text().count("\n") == 1  # the empty part: a header
    # part 3 cut off mid-group: a torn last line, metadata not complete; re-running repairs it
    part = tmp_path / "tags.part-3-of-4.csv"
    text = part.read_text()
    part.write_text(text[: text.index("\n", text.index("\n") + 1) + 25])
    meta = json.loads((tmp_path / "tags.part-3-of-4.part.json").read_text())
    (tmp_path / "tags.part-3-of-4.part.json").write_text(json.dumps({**meta, "complete": False}))
    assert run_cli("merge_parts.py", "tag", tmp_path / "tags.csv").returncode == 2
    assert run_cli("tag.py", *files, "--save", tmp_path / "tags.csv", "--part", "3/4").returncode == 0
    assert part.read_text() == text
    part.write_text(text.rstrip("\r\n")[:-2])  # cut inside the last score: the row still has every field
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
    assert run_cli("evaluate.py", *common, "--out", tmp_path / "single").returncode == 0
    _parts("evaluate.py", *common, "--out", tmp_path / "parts")
    r = run_cli("merge_parts.py", "evaluate", tmp_path / "parts")
    assert r.returncode == 0, r.stderr[-2000:]
    single = json.loads((tmp_path / "single" / "metrics.json").read_text())
    merged = json.loads((tmp_path / "parts" / "metrics.json").read_text())
    assert merged == single and merged["n_items"] == 24  # computed once over all clips, not averaged per part
    (tmp_path / "parts" / "evaluation.part-4-of-4.part.json").unlink()
    r = run_cli("merge_parts.py", "evaluate", tmp_path / "parts")
    assert r.returncode == 2 and "missing part(s) 4/4" in r.stderr


def _numbers(result):
    """An audit's result without its timings (the only part that differs between runs)."""
    drop = {"seconds", "timings", "settings_key"}
    if isinstance(result, dict):
        return {k: _numbers(v) for k, v in result.items() if k not in drop}
    if isinstance(result, list):
        return [_numbers(v) for v in result]
    return result


def test_audit_in_four_parts_gives_the_single_run_report(tmp_path):
    common = ["--model", "k2c2-embedded", "--dataset-kwargs", "{clips_per_genre: 3, duration: 6.0}", "--limit", "10",
              "--transforms", "gain", "white_noise", "--adversary-snrs", "30", "--adversary-clips", "1",
              "--adversary-iterations", "1", "--no-responds", "--bootstrap", "50", "--compare",
              ROOT / "weights" / "k2c2-embedded.h5"]
    assert run_cli("audit.py", *common, "--out", tmp_path / "single").returncode == 0
    for k in (1, 2, 3, 4):  # in this process (the other jobs' tests run parts as separate processes too)
        r = run_cli("audit.py", *common, "--out", tmp_path / "parts", "--part", f"{k}/4")
        assert r.returncode == 0, r.stderr[-2000:]
    meta = json.loads((tmp_path / "parts" / "audit.part-2-of-4.part.json").read_text())
    n = meta["n_items"]
    assert meta["complete"] and (meta["start"], meta["stop"]) == (n // 4, n // 2) and n >= 8
    r = run_cli("merge_parts.py", "audit", tmp_path / "parts")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "report:" in r.stdout and (tmp_path / "parts" / "index.html").is_file()
    single = json.loads((tmp_path / "single" / "audit.json").read_text())
    merged = json.loads((tmp_path / "parts" / "audit.json").read_text())
    assert merged["n_clips"] == n and merged["sections"]["transformations"]["rows"]
    assert _numbers(merged) == _numbers(single)  # bootstrap, flips, comparison: computed once over all clips
    r = run_cli("audit.py", *common, "--out", tmp_path / "parts", "--part", "2/4", "--seed", "1")
    assert r.returncode == 2 and "audit.part-2-of-4.part.json: an earlier run of part 2/4 used other" in r.stderr


def _killed_at_second_block(blocks):
    """``clip_blocks`` as a job killed while it decodes its second block; records what it yields."""
    seen = []

    def wrapped(*args, **kwargs):
        for i, b in enumerate(blocks(*args, **kwargs)):
            if i == 1 and wrapped.kill:
                raise KeyboardInterrupt
            seen.append(b[0])
            yield b

    wrapped.kill, wrapped.seen = True, seen
    return wrapped


def test_evaluation_and_audit_parts_resume_after_their_last_finished_block(tmp_path, monkeypatch):
    from kerasmgr.data.selection import DataSelection
    from kerasmgr.jobs import audit as audit_job
    from kerasmgr.jobs import evaluate as evaluate_job

    model = str(ROOT / "weights" / "k2c2-embedded.h5")
    data = DataSelection(dataset_kwargs={"clips_per_genre": 5, "duration": 4.0}, subset="train")
    monkeypatch.setattr(evaluate_job, "EVAL_BLOCK", 4)
    blocks = _killed_at_second_block(evaluate_job.clip_blocks)
    monkeypatch.setattr(evaluate_job, "clip_blocks", blocks)
    with pytest.raises(KeyboardInterrupt):
        evaluate_job.evaluate_part(model, tmp_path / "e", data, (2, 2), settings={"model": model}, progress=False)
    assert sorted(p.name for p in (tmp_path / "e").glob("evaluation.part-2-of-2.blocks/*")) == ["0000000000.npz"]
    blocks.kill = False
    evaluate_job.evaluate_part(model, tmp_path / "e", data, (2, 2), settings={"model": model}, progress=False)
    assert blocks.seen == [0, 4, 8] and not (tmp_path / "e" / "evaluation.part-2-of-2.blocks").exists()
    evaluate_job.evaluate_part(model, tmp_path / "e", data, (1, 2), settings={"model": model}, progress=False)
    merged, _ = evaluate_job.merge_evaluation(tmp_path / "e")
    single = evaluate_job.evaluate_model(model, data, progress=False)
    assert json.loads(json.dumps(merged, default=str)) == json.loads(json.dumps(single, default=str))

    monkeypatch.setattr(audit_job, "SCORE_BLOCK", 4)
    blocks = _killed_at_second_block(audit_job.clip_blocks)
    monkeypatch.setattr(audit_job, "clip_blocks", blocks)
    options = dict(limit=12, transforms=["gain"], adversary_snrs=(), responds=False, n_boot=20, progress=False)
    with pytest.raises(KeyboardInterrupt):
        audit_job.audit_part("k2c2-embedded", tmp_path / "a", data, (1, 1), **options)
    blocks.kill = False
    audit_job.audit_part("k2c2-embedded", tmp_path / "a", data, (1, 1), **options)
    assert blocks.seen == [0, 4, 8]  # block 0 kept from the killed run
    merged = audit_job.merge_audit(tmp_path / "a", progress=False)
    single = audit_job.run_audit("k2c2-embedded", tmp_path / "single", data, **options)
    assert _numbers(merged) == _numbers(single)
