"""Evaluation jobs: a saved model on a dataset subset, with its report; one system on several splits.

``bin/evaluate.py`` calls :func:`evaluate_to_folder` and :func:`compare_splits`. The computing
(segment posteriors, aggregation, metrics, tables) is :mod:`kerasmgr.evaluation`.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import keras
import numpy as np
from tqdm.auto import tqdm

from .. import plots
from ..data.pipeline import clip_blocks
from ..data.selection import DataSelection, open_split
from ..evaluation import (
    dumps,
    evaluate_segments,
    format_classification_table,
    format_tagging_table,
    infer_task,
    segment_posteriors,
    side_by_side,
    summarise_headlines,
)
from ..models import input_spec
from ..parts import (
    block_stem,
    finish_part,
    finished_part,
    load_parts,
    model_identity,
    part_blocks,
    part_stem,
    start_part,
)
from ..pretrained import read_metadata
from .records import atomic_npz, pack_ragged, unpack_ragged
from .train import train_repeated

__all__ = ["evaluate_model", "write_report", "evaluate_to_folder", "compare_splits", "evaluate_part",
           "merge_evaluation"]


def evaluate_model(model, data=None, *, task=None, labels=None, hop=None, hop_seconds=None, batch_size=32,
                   max_segments=None, progress=True):
    """Evaluate a waveform model (or a saved ``.keras``/``.h5`` path) on a dataset subset.

    Parameters
    ----------
    model : keras.Model or str or Path
        A model, or a saved model (loaded after ``import kerasmgr``); its JSON sidecar, if present,
        supplies ``task`` and ``labels``.
    data : DataSelection or None
        Dataset, split and subset (default: the embedded dataset's test subset).
    task : {'genre', 'tags'} or None
        Default: the sidecar's, else from the output activation.
    labels : list of str or None
        Output names; default the sidecar's, else the dataset's.
    hop : int or None
        Hop between segments in samples (default: no overlap).
    batch_size, max_segments, progress
        See :func:`segment_posteriors`.

    Returns
    -------
    dict
        :func:`evaluate_segments` output plus ``task``, ``dataset``, ``subset``, ``skipped``.
    """
    setup = _setup(model, data or DataSelection(), task, labels, hop, hop_seconds, progress)
    post, index, skipped = _posteriors(setup, setup["items"], batch_size, max_segments, progress)
    return _result(setup, post, setup["targets"][index], skipped)


def _setup(model, data, task, labels, hop, hop_seconds, progress):
    """Model, task, labels, the subset's items and targets: what every evaluation (or part) needs."""
    sidecar = None
    if not hasattr(model, "predict"):
        sidecar = read_metadata(model)
        model = keras.models.load_model(model, compile=False)
    task = task or (sidecar or {}).get("task") or infer_task(model)
    sr, _ = input_spec(model)
    if hop_seconds is not None:
        hop = int(hop_seconds * sr)
    ds = open_split(data, sample_rate=sr, progress=progress)
    labels = list(labels or (sidecar or {}).get("labels") or ds.labels(task))
    n_out = model.output_shape[-1]
    if len(labels) != n_out:
        raise ValueError(f"the model has {n_out} outputs but {len(labels)} labels were given")
    ds_labels = ds.labels(task)
    if ds_labels != labels:
        missing = sorted(set(ds_labels) - set(labels))
        if missing:
            raise ValueError(f"dataset labels not among the model's outputs: {missing[:5]}")
    return {"model": model, "task": task, "labels": labels, "sr": sr, "hop": hop, "data": data,
            "items": [it.path for it in ds.items], "targets": ds.targets(task, labels), "max_seconds": ds.max_seconds}


#: Clips decoded and scored at a time by an evaluation (and saved at a time by an evaluation part).
EVAL_BLOCK = 64


def _posteriors(setup, paths, batch_size, max_segments, progress, *, start=0, on_block=None):
    """Segment posteriors of the clips at ``paths`` (clips keep their own lengths, as in
    training's validation), decoded :data:`EVAL_BLOCK` at a time: the posteriors, the indices
    (into ``paths``) of the clips read and the skipped ones. With ``on_block``, each block's
    ``(first, index, posteriors, skipped)`` goes to it instead (from block ``start`` on)."""
    post, index, skipped = [], [], []
    bar = tqdm(total=len(paths), initial=start, desc=f"scoring {setup['data'].subset}", unit="clip",
               disable=not progress)
    for first, read, clips, errors in clip_blocks(paths, setup["sr"], block=EVAL_BLOCK,
                                                  max_seconds=setup["max_seconds"], start=start):
        p = segment_posteriors(setup["model"], clips, hop=setup["hop"], batch_size=batch_size,
                               max_segments=max_segments)
        bad = [{"path": f, "reason": r} for f, r in errors]
        if on_block is None:
            post, index, skipped = post + p, index + read, skipped + bad
        else:
            on_block(first, read, p, bad)
        bar.update(len(read) + len(errors))
    bar.close()
    return post, index, skipped


def _result(setup, post, targets, skipped):
    data = setup["data"]
    result = evaluate_segments(setup["task"], post, targets, setup["labels"])
    result.update({"task": setup["task"], "dataset": data.dataset, "split": data.split, "subset": data.subset,
                   "n_items": len(setup["items"]), "skipped": skipped})
    return result


def evaluate_part(model, out, data, part, *, settings, task=None, hop_seconds=None, batch_size=32, progress=True,
                  overwrite=False):
    """Part ``K`` of ``N`` of an evaluation (a job-array task): the segment posteriors of the
    ``K``-th contiguous block of the subset's items, saved for :func:`merge_evaluation`.

    Writes ``OUT/evaluation.part-K-of-N.npz`` (posteriors of every segment, segments per clip,
    the clips' targets and indices) and ``.part.json``. Clips are decoded and scored
    :data:`EVAL_BLOCK` at a time, each finished block saved under ``….blocks/``: a killed part
    resumes after its last finished block; a finished part is not recomputed.

    Parameters
    ----------
    model, data, task, hop_seconds, batch_size, progress
        As :func:`evaluate_model`. A clip's segments are batched by themselves, so its
        posteriors do not depend on the partition: the merged metrics equal a single run's.
    out : str or Path
        The evaluation's output folder.
    part : (int, int)
    settings : dict
        What must be equal across parts (model, task, hop, batch size, data selection).

    Returns
    -------
    dict
        ``n`` clips in this part, ``skipped``, ``npz``, ``part_json``.
    """
    setup = _setup(model, data or DataSelection(), task, None, None, hop_seconds, progress)
    settings = {**settings, **model_identity(model), "task": setup["task"], "labels": setup["labels"]}
    done = None if overwrite else finished_part(Path(out) / "evaluation", setup["items"], *part, settings)
    if done is not None:  # finished earlier: nothing to redo
        stem = part_stem(Path(out) / "evaluation", *part)
        info = json.loads(Path(f"{stem}.skipped.json").read_text())
        return {"n": done["stop"] - done["start"], "skipped": info["skipped"], "npz": f"{stem}.npz",
                "part_json": f"{stem}.part.json"}
    stem, meta = start_part(Path(out) / "evaluation", setup["items"], *part, settings, overwrite=overwrite)
    mine = setup["items"][meta["start"]:meta["stop"]]
    blocks, firsts = part_blocks(stem, overwrite=overwrite)  # a killed part resumes after its last block
    n_out = len(setup["labels"])

    def save_block(first, read, post, bad):
        flat, counts = pack_ragged(post, n_out)
        atomic_npz(f"{block_stem(blocks, first)}.npz", posteriors=flat, counts=counts,
                   index=np.asarray(read, np.int64), skipped=np.array([json.dumps(b) for b in bad], dtype=str))

    _posteriors(setup, mine, batch_size, None, progress, start=firsts[-1] + EVAL_BLOCK if firsts else 0,
                on_block=save_block)
    post, rows, skipped = [], [], []
    for first in part_blocks(stem)[1]:
        with np.load(f"{block_stem(blocks, first)}.npz", allow_pickle=False) as z:
            post += unpack_ragged(z["posteriors"], z["counts"])
            rows += list(z["index"] + meta["start"])
            skipped += [json.loads(b) for b in z["skipped"]]
    rows = np.asarray(rows, np.int64)
    npz = Path(f"{stem}.npz")
    flat, counts = pack_ragged(post, n_out)
    atomic_npz(npz, posteriors=flat, counts=counts, rows=rows, targets=setup["targets"][rows])
    (Path(f"{stem}.skipped.json")).write_text(json.dumps({"skipped": skipped, "task": setup["task"],
                                                          "labels": setup["labels"],
                                                          "data": dataclasses.asdict(setup["data"])}))
    finish_part(stem, meta)
    shutil.rmtree(blocks)
    return {"n": len(mine), "skipped": skipped, "npz": str(npz), "part_json": f"{stem}.part.json"}


def merge_evaluation(out, *, title=""):
    """Metrics computed once over the merged per-clip posteriors of an evaluation's parts (never
    averaged across parts), written as :func:`write_report` does.

    Raises
    ------
    PartError
        Missing, overlapping, unfinished or mismatched parts (named).

    Returns
    -------
    result : dict
    text : str
    """
    ordered = load_parts(Path(out) / "evaluation")
    post, targets, skipped = [], [], []
    info = None
    for m in ordered:
        with np.load(f"{m['stem']}.npz", allow_pickle=False) as z:
            post += unpack_ragged(z["posteriors"], z["counts"])
            targets.append(z["targets"])
        info = json.loads(Path(f"{m['stem']}.skipped.json").read_text())
        skipped += info["skipped"]
    data = DataSelection(**info["data"])
    setup = {"task": info["task"], "labels": info["labels"], "data": data, "items": range(ordered[0]["n_items"])}
    result = _result(setup, post, np.concatenate(targets), skipped)
    return result, write_report(result, out, title=title or data.describe())


def write_report(result, out_dir, *, title=""):
    """Write ``metrics.json``, ``table.txt`` and (classification) ``confusion_matrix.png``.

    Returns the text table.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(dumps(result))
    if "max_probability" in result:
        text = "\n\n".join(format_classification_table(result[k], title=f"{title} [{k}]".strip())
                           for k in ("max_probability", "majority_vote", "raw"))
        mp = result["max_probability"]
        plots.save_figure(plots.confusion_matrix_figure(mp["confusion_matrix"], mp["classes"],
                                                        title=f"{title} (max. probability)".strip()),
                          out / "confusion_matrix.png")
    else:
        text = format_tagging_table(result["track"], title=title)
    (out / "table.txt").write_text(text + "\n")
    return text


def evaluate_to_folder(model, out, data=None, *, task=None, hop_seconds=None, batch_size=32, progress=True):
    """:func:`evaluate_model` on one partition, with its report written (what ``bin/evaluate.py`` does).

    Parameters
    ----------
    model : keras.Model or str or Path
        A model or a saved one (its sidecar gives task and labels).
    out : str or Path
        Receives :func:`write_report`'s files.
    data, task, hop_seconds, batch_size, progress
        As :func:`evaluate_model`.

    Returns
    -------
    result : dict
        :func:`evaluate_model`'s result.
    text : str
        The report's table.
    """
    data = data or DataSelection()
    result = evaluate_model(model, data, task=task, hop_seconds=hop_seconds, batch_size=batch_size, progress=progress)
    text = write_report(result, out, title=data.describe())
    return result, text


def compare_splits(partitions, data, *, saved_model=None, train_config=None, task=None, repeats=1, out="compare",
                   hop_seconds=None, batch_size=32, progress=True, **train_overrides):
    """The seeds' central comparison: one system on several partitions of a dataset, side by side.

    With ``saved_model``, that model is evaluated on each partition's ``subset``; otherwise the
    system of ``train_config`` (plus ``train_overrides``) is trained ``repeats`` times (seeds
    ``seed, seed+1, ...``) on each partition's train subset and each run evaluated on its
    ``subset``. This is ``bin/evaluate.py --compare-splits``.

    Parameters
    ----------
    partitions : sequence of str
        Split-list names, e.g. ``('stratified', 'filtered')`` (files
        ``{train,valid,test}_<name>.txt`` in ``split_dir``).
    saved_model : str or Path or None
        A saved model (``.keras``/``.h5`` with its sidecar) to evaluate instead of training.
    train_config : TrainConfig, dict, YAML path or None
        Training configuration (see :func:`kerasmgr.training.resolve_config`).
    data : DataSelection
        The dataset, the folder of the split lists and the evaluated subset (its ``split`` is
        replaced by each partition in turn).
    task : {'genre', 'tags'} or None
        Evaluation task (default: the saved model's sidecar, else its output activation).
    repeats : int
        Training runs per partition.
    out : str or Path
        Writes ``<out>/<partition>/`` (run folders, or the evaluation report) and
        ``comparison.txt`` / ``comparison.json``.
    hop_seconds : float or None
        Hop between evaluation segments in seconds (default: no overlap).
    batch_size : int
    progress : bool
    **train_overrides
        :class:`kerasmgr.training.TrainConfig` fields, e.g. ``model='dnn'``, ``epochs=5``.

    Returns
    -------
    dict
        ``summaries`` {partition: :func:`summarise_headlines` output}, ``results`` {partition:
        [evaluation results]}, ``text`` (the side-by-side table), ``paths`` of the outputs.
    """
    if saved_model is None and train_config is None and "model" not in train_overrides:
        raise ValueError("compare_splits needs a saved model, or a training config / model name to train")
    out = Path(out)

    settings = dict(task=task, hop_seconds=hop_seconds, batch_size=batch_size, progress=progress)
    summaries, results = {}, {}
    for name in partitions:
        part = dataclasses.replace(data, split=name)
        if saved_model is not None:
            results[name] = [evaluate_to_folder(saved_model, out / name, part, **settings)[0]]
        else:
            overrides = dict(train_overrides, dataset=part.dataset, data_root=part.data_root, split=name,
                             split_dir=part.split_dir, out=str(out / name), name=name,
                             dataset_kwargs=part.dataset_kwargs or None)
            runs, _ = train_repeated(train_config, repeats=repeats, **overrides)
            results[name] = [evaluate_to_folder(r.model_path, r.run_dir / "evaluation", part, **settings)[0]
                             for r in runs]
        summaries[name] = summarise_headlines(results[name])
    text = side_by_side(list(summaries.values()), list(partitions))
    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.txt").write_text(text + "\n")
    (out / "comparison.json").write_text(json.dumps(summaries, indent=2))
    return {"summaries": summaries, "results": results, "text": text,
            "paths": {"comparison": str(out / "comparison.txt"), "json": str(out / "comparison.json")}}
