"""SVM/SVR transfer learning over layer combinations (thesis ch. 6), two protocols side by side.

    python bin/transfer.py --features feats/convnet.npy --labels labels.csv --out results/gtzan \\
        --mfcc feats/mfcc.npy --random feats/random.npy
    python bin/transfer.py --layer-files l1.npy l2.npy l3.npy l4.npy l5.npy --labels labels.csv --out res

--features: an array from bin/extract_features.py (layer boundaries read from its .json, rows
matched to labels by path through its index .csv when labels.csv has a 'path' column).
--layer-files: one (n x d) array per layer, in layer order. labels.csv: a 'label' column (or
--target COL) with classes (SVC, accuracy) or real values (SVR, r2); optional 'group' (folds
never split a group) and 'split' (train/valid/test: a predefined split) columns.

Writes results.csv, results.json, table.txt and one bar chart per protocol (bars_thesis.png,
bars_nested.png) into --out. Protocols: 'thesis' (best mean score of the grid search over
unshuffled stratified 10-fold CV — optimistic) and 'nested' (grid search inside each outer
fold — unbiased; --shuffle shuffles the outer folds, which leaks artists on GTZAN).
"""

from __future__ import annotations

import argparse
import sys

from ..jobs.transfer import run_files


def main(argv=None):
    p = argparse.ArgumentParser(prog="kerasmgr transfer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--features", help="array written by bin/extract_features.py")
    src.add_argument("--layer-files", nargs="+", help="one (n x d) .npy per layer, in layer order")
    p.add_argument("--labels", required=True, help="CSV with a label column (+ optional group, split, path)")
    p.add_argument("--target", default="label", help="label column (default: label)")
    p.add_argument("--mfcc", help="MFCC baseline array (bin/extract_features.py --mfcc)")
    p.add_argument("--random", help="random-convnet array (bin/extract_features.py --random)")
    p.add_argument("--task", choices=("classification", "regression"), help="default: from the targets")
    p.add_argument("--protocol", nargs="+", choices=("thesis", "nested"), default=["thesis", "nested"])
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--grid", choices=("thesis", "extended"), default="thesis",
                   help="thesis: kernel x gamma x C on the features as they are (§6.4.1); extended: plus a "
                        "standard scaler on/off, the released code's search")
    p.add_argument("--shuffle", action="store_true", help="shuffle the nested protocol's outer folds (seeded)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--feature-sets", nargs="+", metavar="NAME",
                   help="evaluate only these feature sets (e.g. 12345 mfcc 'random 3'; default: all)")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    rows, text, dropped = run_files(a.out, labels=a.labels, features=a.features, layer_files=a.layer_files,
                                    mfcc=a.mfcc, random=a.random, target=a.target, task=a.task, protocols=a.protocol,
                                    n_folds=a.folds, grid=a.grid, shuffle=a.shuffle, seed=a.seed, n_jobs=a.n_jobs,
                                    only=a.feature_sets)
    for d in dropped:
        print(f"left out {d}", file=sys.stderr)
    print(text)
    print(f"\nwrote {a.out}/results.csv, results.json, table.txt, " + ", ".join(f"bars_{q}.png" for q in a.protocol))
    return 0
