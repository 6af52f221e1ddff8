"""Analyse what a trained model learned (thesis chapters 3 and 7, seed 003).

Subcommands
-----------
    # label vectors vs co-occurrence (Eq. 7.1 vs Eq. 3.1; figures 3.1, 7.10; Table 7-C)
    python bin/analyse.py labels --model weights/k2c2-embedded.h5 --out analysis/labels

    # label noise of a ground truth against a re-annotated subset (Table 3-A, figures 3.2-3.3);
    # CSVs: an id column and one 0/1 column per tag
    python bin/analyse.py label-noise --ground-truth gt.csv --annotation mine.csv --n-total 242842 --out analysis/noise
    # ... or a simulated weak labelling of the embedded dataset's tags (30 % of positives missing)
    python bin/analyse.py label-noise --simulate --missing 0.3 --out analysis/noise-sim

    # AUC against a re-annotation and the reliability of a noisy ground truth (figures 3.4, 3.6):
    # several systems' scores of the re-annotated items (CSV: id + one score column per tag)
    python bin/analyse.py reliability --ground-truth gt.csv --annotation mine.csv --scores a.csv b.csv c.csv \
        --all-auc 0.849 0.851 0.839 --out analysis/reliability

    # activations vs onset rate, loudness, HPSS and chroma (seed 003)
    python bin/analyse.py activations --model weights/k2c2-embedded.h5 --out analysis/activations

Every subcommand writes PNG figures and CSV/JSON tables into --out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..jobs import activations
from ..jobs.analyse import (
    label_job,
    label_noise_inputs,
    label_noise_job,
    reliability_from_csvs,
    simulated_label_noise_inputs,
)
from .common import add_data_arguments, data_selection


def main(argv=None):
    p = argparse.ArgumentParser(prog="kerasmgr analyse", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    pl = sub.add_parser("labels", help="label-vector similarity vs tag co-occurrence")
    pl.add_argument("--model", required=True)
    pl.add_argument("--out", required=True)
    add_data_arguments(pl, subset="train")
    pl.add_argument("--tags", nargs="+", help="tags of the heat maps (default: all, or the 23 most frequent)")
    pl.add_argument("--top", type=int, default=20)
    pn = sub.add_parser("label-noise", help="error rates, precision/recall and Eq. 3.2 from a re-annotation")
    pn.add_argument("--out", required=True)
    pn.add_argument("--ground-truth", help="CSV: id + one 0/1 column per tag (the dataset's labels)")
    pn.add_argument("--annotation", help="CSV: the same items re-annotated (taken as the truth)")
    pn.add_argument("--n-total", type=int, help="items in the whole dataset, T in Eq. 3.2")
    pn.add_argument("--positive-counts", help="CSV tag,count of N+ over the whole dataset (default: the subset's)")
    pn.add_argument("--simulate", action="store_true",
                    help="simulate a weak labelling of a dataset's tags (writes ground_truth.csv/annotation.csv)")
    add_data_arguments(pn, subset="train")
    pn.add_argument("--missing", type=float, default=0.3, help="--simulate: probability a positive is missing")
    pn.add_argument("--false", type=float, default=0.02, help="--simulate: probability a negative is tagged")
    pn.add_argument("--bootstrap", type=int, default=2000)
    pn.add_argument("--seed", type=int, default=0)
    pr = sub.add_parser("reliability", help="AUC against a re-annotation; rho1/rho2 of figures 3.4/3.6")
    pr.add_argument("--out", required=True)
    pr.add_argument("--ground-truth", required=True, help="CSV: id + one 0/1 column per tag (the dataset's labels)")
    pr.add_argument("--annotation", required=True, help="CSV: the same items re-annotated")
    pr.add_argument("--scores", nargs="+", required=True,
                    help="one CSV per experiment: id + one score column per tag, for the re-annotated items")
    pr.add_argument("--all-auc", type=float, nargs="*",
                    help="per experiment: mean AUC of all tags on the whole test set (for rho2)")
    pr.add_argument("--names", nargs="*", help="experiment names (default: the score files' stems)")
    pa = sub.add_parser("activations", help="activations vs onset rate, loudness, HPSS and chroma (seed 003)")
    pa.add_argument("--model", required=True)
    pa.add_argument("--out", required=True)
    add_data_arguments(pa, subset="test")
    pa.add_argument("--limit", type=int, default=40, help="clips analysed")
    pa.add_argument("--dense-layers", nargs="+", default=["embedding"],
                    help="layers compared with onset rate/loudness ('embedding': the input of the output layer)")
    pa.add_argument("--conv-layers", type=int, nargs="+", default=[1, 2], help="conv blocks compared with HPSS/chroma")
    pa.add_argument("--map-clips", type=int, default=2)
    a = p.parse_args(argv)
    if a.what == "labels":
        r = label_job(a.model, a.out, data_selection(a), tags=a.tags, top=a.top)
        print(f"Pearson correlation of the LVS and co-occurrence rankings: {r['pearson_of_rankings']:.3f} "
              f"over {r['n_pairs']} tag pairs ({r['n_items']} items); {len(r['common'])} of the top-{a.top} "
              f"pairs in common")
    elif a.what == "label-noise":
        if a.simulate:
            G, A, labels = simulated_label_noise_inputs(a.out, data_selection(a), missing=a.missing, false=a.false,
                                                        seed=a.seed)
            n_pos = None
        else:
            if not (a.ground_truth and a.annotation):
                p.error("label-noise needs --ground-truth and --annotation (or --simulate)")
            G, A, labels, n_pos = label_noise_inputs(a.ground_truth, a.annotation, positive_counts=a.positive_counts)
        label_noise_job(a.out, ground_truth=G, annotation=A, labels=labels, n_total=a.n_total, n_positive=n_pos,
                        n_boot=a.bootstrap, seed=a.seed)
        print((Path(a.out) / "label_noise.txt").read_text(), end="")
    elif a.what == "reliability":
        if a.all_auc and len(a.all_auc) != len(a.scores):
            p.error("--all-auc needs one value per --scores file")
        r = reliability_from_csvs(a.out, ground_truth=a.ground_truth, annotation=a.annotation, scores=a.scores,
                                  all_auc=a.all_auc, names=a.names)
        print(f"rho1 = {r['rho1']:.3f} (annotation vs ground truth), rho2 = {r['rho2']:.3f} "
              f"(re-annotated tags vs all tags) over {r['n_experiments']} experiments")
    else:
        r = activations.run(a.model, a.out, data_selection(a), limit=a.limit, dense_layers=a.dense_layers,
                            conv_layers=a.conv_layers, map_clips=a.map_clips)
        for layer, by_feat in r["dense"].items():
            for feat, v in by_feat.items():
                best = v["by_correlation"][0]
                print(f"{layer}: neuron {best['neuron']} has r = {best['pearson']:.2f} with {feat}")
        for layer, by_ref in r["maps"].items():
            print(f"{layer}: " + ", ".join(f"{ref} best channel {v[0]['channel']} (SIFT {v[0]['similarity']:.2f})"
                                           for ref, v in by_ref.items()))
    print(f"written to {a.out}")
    return 0
