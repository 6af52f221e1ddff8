"""Multi-worker training (two processes on localhost) and kill-and-resume with BackupAndRestore."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kerasmgr.data import pipeline

ROOT = Path(__file__).resolve().parents[1]
TRAIN = [sys.executable, str(ROOT / "bin" / "train.py")]
DATA = ["--dataset-kwargs", "{clips_per_genre: 3, duration: 3.0}", "--early-stopping", "0", "--verbose", "2",
        "--seed", "3"]
# kill and resume: a model with batch normalisation and dropout (8 genres x 3 clips of 3 s, 6 epochs of 6 steps)
ARGS = ["--model", "schindler_shallow", "--epochs", "6", "--segments-per-clip", "8", "--batch-size", "16",
        "--learning-rate", "1e-3"] + DATA
# two workers: Kereliuk's DNN (no batch normalisation or dropout, so nothing depends on how a
# global batch is split between workers)
MW_ARGS = ["--model", "dnn", "--model-kwargs", "{n_units: 50}", "--epochs", "4", "--segments-per-clip", "16",
           "--batch-size", "32"] + DATA
#: Tolerances, stated. A resumed run redoes the interrupted epoch from the checkpoint (weights,
#: optimizer, dropout generators) with the same data stream, so on the same machine and thread
#: count it ends where an uninterrupted run ends, up to float noise. Two workers each see half of
#: every global batch and all-reduce the gradients, so they follow the single worker's run up to
#: the summation order of the gradient mean.
RESUME_ATOL = 1e-3
WORKERS_RTOL = 1e-3


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **extra)
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _history(run_dir):
    with open(run_dir / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def _reference(out, args):
    """One uninterrupted single-worker run (it also generates the embedded data for the others)."""
    r = subprocess.run(TRAIN + args + ["--out", str(out), "--name", "ref"], env=_env(), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    run = out / "ref"
    assert not (run / "backup").exists(), "the checkpoint is removed when training ends"
    return run


def _metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


def test_killed_training_resumes_from_its_checkpoint(tmp_path):
    reference = _reference(tmp_path / "reference", ARGS)
    cmd = TRAIN + ARGS + ["--out", str(tmp_path), "--name", "run"]
    run = tmp_path / "run"
    meta = run / "backup" / "training_metadata.json"
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        try:
            if json.loads(meta.read_text())["epoch"] >= 2:
                break
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be killed: " + proc.stderr.read()[-2000:]
    time.sleep(0.3)  # into epoch 3
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "metrics.json").exists()
    done = json.loads(meta.read_text())["epoch"]
    assert 2 <= done < 6

    again = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resuming {run} after epoch {done}" in again.stdout
    assert not (run / "backup").exists()
    history, ref_history = _history(run), _history(reference)
    assert [r["epoch"] for r in history] == [str(e) for e in range(6)]  # every epoch once
    for key in ("loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose([float(r[key]) for r in history], [float(r[key]) for r in ref_history],
                                   atol=RESUME_ATOL, err_msg=key)
    m, ref = _metrics(run), _metrics(reference)
    assert m["best_epoch"] == ref["best_epoch"]
    assert abs(m["accuracy"] - ref["accuracy"]) <= RESUME_ATOL


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_two_workers_train_like_one(tmp_path):
    reference = _reference(tmp_path / "reference", MW_ARGS)
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(TRAIN + MW_ARGS + ["--out", str(tmp_path), "--name", "mw",
                                                      "--strategy", "multiworker"],
                                      env=_env(TF_CONFIG=tf_config), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    run = tmp_path / "mw"
    assert not (run / "worker-1").exists(), "the other worker's files are removed at the end"
    history, ref_history = _history(run), _history(reference)
    assert len(history) == 4
    for key in ("loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose([float(r[key]) for r in history], [float(r[key]) for r in ref_history],
                                   rtol=WORKERS_RTOL, err_msg=key)
    m, ref = _metrics(run), _metrics(reference)
    assert m["n"] == ref["n"] and m["best_epoch"] == ref["best_epoch"]
    np.testing.assert_allclose(m["accuracy"], ref["accuracy"], rtol=WORKERS_RTOL)


def test_worker_shards_make_up_the_global_batch():
    class Store:
        def __len__(self):
            return 10

        def crop(self, i, n, offset):
            return np.full(n, float(i), np.float32) + offset

    targets = np.arange(10)
    one, steps = pipeline.training_dataset(Store(), targets, 4, segments_per_clip=2, batch_size=6, seed=1)
    halves = [pipeline.training_dataset(Store(), targets, 4, segments_per_clip=2, batch_size=6, seed=1,
                                        num_workers=2, worker_index=w)[0] for w in range(2)]
    for (x, y), (x0, y0), (x1, y1) in zip(one.take(7), halves[0].take(7), halves[1].take(7)):
        np.testing.assert_array_equal(x.numpy(), np.concatenate([x0.numpy(), x1.numpy()]))
        np.testing.assert_array_equal(y.numpy(), np.concatenate([y0.numpy(), y1.numpy()]))
    # a resumed stream continues where the uninterrupted one is
    later, _ = pipeline.training_dataset(Store(), targets, 4, segments_per_clip=2, batch_size=6, seed=1,
                                         start=2 * steps * 6)
    full = [b[0].numpy() for b in one.take(3 * steps)]
    for a, b in zip(full[2 * steps:], (b[0].numpy() for b in later.take(steps))):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="multiple"):
        pipeline.training_dataset(Store(), targets, 4, batch_size=5, num_workers=2)
