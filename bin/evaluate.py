#!/usr/bin/env python
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

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SUBSETS = ("train", "valid", "test")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="saved model (.keras or .h5); its .json sidecar gives task and labels")
    p.add_argument("--dataset", default="embedded", help="dataset name (default: embedded)")
    p.add_argument("--data-root", help="dataset folder (csv: the CSV file)")
    p.add_argument("--split", help="partition: split-list name ({train,valid,test}_<NAME>.txt); "
                                   "'train', 'valid' or 'test' here select the subset instead")
    p.add_argument("--split-dir", help="folder of the split lists (default <data-root>/splits)")
    p.add_argument("--subset", default=None, choices=SUBSETS, help="subset to evaluate (default: test)")
    p.add_argument("--dataset-kwargs", type=json.loads, default={}, help="loader options as JSON")
    p.add_argument("--task", choices=("genre", "tags"), help="default: from the sidecar or the output layer")
    p.add_argument("--hop", type=float, help="hop between segments in seconds (default: no overlap)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--out", default="eval", help="output folder (default: eval)")
    p.add_argument("--compare-splits", nargs=2, metavar=("A", "B"),
                   help="evaluate (--model) or train and evaluate (--train-model/--train-config) on two partitions")
    p.add_argument("--train-model", help="with --compare-splits: model name to train on each partition")
    p.add_argument("--train-config", help="with --compare-splits: training config YAML")
    p.add_argument("--repeats", type=int, default=1, help="with --compare-splits and training: runs per partition")
    a = p.parse_args(argv)

    subset = a.subset or "test"
    split_name = a.split
    if a.split in SUBSETS:  # --split test: the subset, for symmetry with the other scripts
        subset, split_name = a.split, None
    from kerasmgr import evaluation

    if not a.compare_splits:
        if not a.model:
            p.error("--model is required (or use --compare-splits with --train-model/--train-config)")
        result, text = evaluation.evaluate_to_folder(
            a.model, a.out, dataset=a.dataset, data_root=a.data_root, split_name=split_name, split_dir=a.split_dir,
            dataset_kwargs=a.dataset_kwargs, subset=subset, task=a.task, hop_seconds=a.hop, batch_size=a.batch_size)
        for s in result["skipped"]:
            print(f"skipped {s['path']}: {s['reason']}", file=sys.stderr)
        print(text)
        print(f"\nwrote {Path(a.out) / 'metrics.json'}, table.txt" +
              (", confusion_matrix.png" if result["task"] == "genre" else ""))
        return 0

    if not (a.model or a.train_model or a.train_config):
        p.error("--compare-splits needs --model, --train-model or --train-config")
    extra = {"model": a.train_model} if a.train_model and not a.model else {}
    cmp = evaluation.compare_splits(a.compare_splits, saved_model=a.model, train_config=a.train_config,
                                    dataset=a.dataset, data_root=a.data_root, split_dir=a.split_dir,
                                    dataset_kwargs=a.dataset_kwargs, subset=subset, task=a.task, repeats=a.repeats,
                                    out=a.out, hop_seconds=a.hop, batch_size=a.batch_size, **extra)
    for results in cmp["results"].values():
        for r in results:
            for s in r["skipped"]:
                print(f"skipped {s['path']}: {s['reason']}", file=sys.stderr)
    print(cmp["text"])
    print(f"\nwrote {cmp['paths']['comparison']} and comparison.json")
    return 0


if __name__ == "__main__":
    from kerasmgr.cli import run

    run(main)
