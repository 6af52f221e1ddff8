"""Evaluate a saved model on a dataset, or compare two partitions of a dataset.

Examples
--------
    # a saved model on the test subset of the embedded dataset
    python bin/evaluate.py --model runs/k2c2-tags-.../model.keras --out eval/k2c2

    # on GTZAN with the fault-filtered split lists
    python bin/evaluate.py --model m.keras --dataset gtzan --data-root ~/data/gtzan \\
        --split filtered --split-dir ~/data/gtzan/splits --out eval/filtered

    # the seeds' central comparison: train the same system on two partitions, 3 seeds each
    python bin/evaluate.py --compare-splits stratified filtered --train-config configs/dnn.yaml \\
        --dataset gtzan --data-root ~/data/gtzan --split-dir ~/data/gtzan/splits --repeats 3 --out cmp

Writes metrics.json (every aggregation: raw, max_probability, majority_vote for genres; track
and segment level for tags), table.txt (seed 000's layout: confusion matrix with per-class
precision, recall and F) and confusion_matrix.png into --out. With --compare-splits, one such
folder per partition plus comparison.txt / comparison.json (mean ± std over --repeats runs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..jobs.evaluate import compare_splits, evaluate_part, evaluate_to_folder
from ..parts import parse_part
from .common import add_data_arguments, data_selection


def main(argv=None):
    p = argparse.ArgumentParser(prog="kerasmgr evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="saved model (.keras or .h5); its .json sidecar gives task and labels")
    add_data_arguments(p, subset="test")
    p.add_argument("--task", choices=("genre", "tags"), help="default: from the sidecar or the output layer")
    p.add_argument("--hop", type=float, help="hop between segments in seconds (default: no overlap)")
    p.add_argument("--batch-size", type=int, default=None, help="segments per forward pass (default 32)")
    p.add_argument("--part", help="K/N or auto/N (Slurm array / Kubernetes Indexed Job index): score the K-th of N "
                                  "shares of the subset's clips into OUT/evaluation.part-K-of-N.*; the metrics come "
                                  "from bin/merge_parts.py evaluate OUT, computed once over all clips")
    p.add_argument("--out", default="eval", help="output folder (default: eval)")
    p.add_argument("--compare-splits", nargs=2, metavar=("A", "B"),
                   help="evaluate (--model) or train and evaluate (--train-model/--train-config) on two splits")
    p.add_argument("--train-model", help="with --compare-splits: model name to train on each split")
    p.add_argument("--train-config", help="with --compare-splits: training config YAML")
    p.add_argument("--repeats", type=int, default=1, help="with --compare-splits and training: runs per split")
    a = p.parse_args(argv)
    part = parse_part(a.part) if a.part else None
    data = data_selection(a)
    settings = dict(task=a.task, hop_seconds=a.hop, batch_size=a.batch_size or 32)
    if part:
        if not a.model or a.compare_splits:
            p.error("--part needs --model (and no --compare-splits)")
        same = {"hop": a.hop, "batch_size": settings["batch_size"], "data": data.describe()}
        r = evaluate_part(a.model, a.out, data, part, settings=same, **settings)
        print(f"part {part[0]}/{part[1]}: {r['n']} clips -> {r['npz']} ({len(r['skipped'])} skipped)")
        return 0
    if not a.compare_splits:
        if not a.model:
            p.error("--model is required (or use --compare-splits with --train-model/--train-config)")
        result, text = evaluate_to_folder(a.model, a.out, data, **settings)
        for s in result["skipped"]:
            print(f"skipped {s['path']}: {s['reason']}", file=sys.stderr)
        print(text)
        print(f"\nwrote {Path(a.out) / 'metrics.json'}, table.txt" +
              (", confusion_matrix.png" if result["task"] == "genre" else ""))
        return 0
    if not (a.model or a.train_model or a.train_config):
        p.error("--compare-splits needs --model, --train-model or --train-config")
    extra = {"model": a.train_model} if a.train_model and not a.model else {}
    cmp = compare_splits(a.compare_splits, data, saved_model=a.model, train_config=a.train_config, repeats=a.repeats,
                         out=a.out, **settings, **extra)
    for results in cmp["results"].values():
        for r in results:
            for s in r["skipped"]:
                print(f"skipped {s['path']}: {s['reason']}", file=sys.stderr)
    print(cmp["text"])
    print(f"\nwrote {cmp['paths']['comparison']} and comparison.json")
    return 0
