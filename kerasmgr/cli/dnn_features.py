"""Seed 000's DNN-feature experiment: frame DNNs, random forests on their activations, and the
MFCC+ZCR Mahalanobis baseline, printed in the seed's table layout.

    python bin/dnn_features.py --dataset gtzan --data-root ~/data/gtzan --split filtered \\
        --split-dir ~/data/gtzan/splits --out runs/dnnfeat-filtered
    python bin/dnn_features.py --units 50 --variants RS --epochs 5      # quick, embedded dataset

Training follows dnn-mgr (kerasmgr.dnn_features.DNN_MGR_SETTINGS: SGD, momentum 0.5 -> 0.9,
linear learning-rate decay to 1 %, early stopping on validation frame error); --epochs and
--segments-per-clip shorten it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..jobs.dnn_features import run_protocol
from .common import add_data_arguments, data_selection


def main(argv=None):
    p = argparse.ArgumentParser(prog="kerasmgr dnn-features", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(p, subset=None)
    p.add_argument("--units", type=int, nargs="+", default=[50, 500])
    p.add_argument("--variants", nargs="+", default=["RS", "RSD"], choices=["RS", "RSD"])
    p.add_argument("--epochs", type=int, help="override the DNN epochs (dnn-mgr: up to 200)")
    p.add_argument("--segments-per-clip", type=int, help="override frames drawn per clip per epoch (1288)")
    p.add_argument("--trees", type=int, default=500, help="random-forest size (500)")
    p.add_argument("--no-baseline", action="store_true", help="skip the MFCC+ZCR baseline")
    p.add_argument("--baseline", choices=("mahalanobis", "forest"), default="mahalanobis",
                   help="the baseline's classifier: seed 004's minimum Mahalanobis distance, or seed 000's "
                        "random forest (the poster's 51 %%)")
    p.add_argument("--texture-seconds", type=float, default=5.0,
                   help="aggregation window in seconds, hopped by 50 %% (seed 004); 0 = dnn-mgr's 200 frames")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/dnn_features")
    a = p.parse_args(argv)
    overrides = {k: v for k, v in (("epochs", a.epochs), ("segments_per_clip", a.segments_per_clip)) if v}
    r = run_protocol(data_selection(a), units=a.units, variants=a.variants, out=a.out, seed=a.seed,
                     overrides=overrides, baseline=not a.no_baseline, n_estimators=a.trees,
                     baseline_classifier=a.baseline, texture_seconds=a.texture_seconds or None)
    print(r["table"])
    print(f"\nwrote {Path(a.out) / 'dnn_features.json'} and dnn_features.txt")
    return 0
