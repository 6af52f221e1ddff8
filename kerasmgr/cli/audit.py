"""Audit a saved model: is it listening to the music? One page (index.html) with a verdict table,
performance with intervals, irrelevant transformations, adversaries, split leakage and what the
model responds to, plus audit.json with every number.

Examples
--------
    # the released k2c2 tagger on the embedded dataset's test clips
    python bin/audit.py --model k2c2-embedded --out audit/k2c2

    # a genre model on GTZAN's fault-filtered test split, with a random vs artist-filtered retraining
    python bin/audit.py --model runs/dnn/model.keras --dataset gtzan --data-root ~/data/gtzan \\
        --split filtered --with-splits --out audit/dnn

    # two models on the same clips, with McNemar's test and a paired bootstrap
    python bin/audit.py --model a.keras --compare b.keras --out audit/a-vs-b

    # as a job array: 8 parts score the clips, then one merge writes the report
    python bin/audit.py --model m.keras --out audit/m --part auto/8      # array tasks 1..8
    python bin/merge_parts.py audit audit/m                              # after them

Sections already finished in --out are kept when the command is run again with the same settings.
Open OUT/index.html in a browser (no server needed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..audit import TRANSFORMS
from ..jobs.audit import audit_part, run_audit
from ..parts import parse_part
from .common import add_data_arguments, data_selection, mapping


def main(argv=None):
    p = argparse.ArgumentParser(prog="kerasmgr audit", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="saved model (.keras/.h5 with its sidecar) or released-weights name")
    p.add_argument("--out", required=True, help="report folder")
    add_data_arguments(p, subset="test")
    p.add_argument("--task", choices=("genre", "tags"), help="default: the sidecar's, else the output activation")
    p.add_argument("--limit", type=int, help="audit at most this many clips")
    p.add_argument("--transforms", nargs="+", choices=list(TRANSFORMS), metavar="NAME",
                   help=f"transformation families (default: all: {', '.join(TRANSFORMS)})")
    p.add_argument("--adversary-snrs", type=float, nargs="*", default=[10.0, 20.0, 30.0, 40.0],
                   help="SNR bounds (dB) of the robustness curve (none: skip)")
    p.add_argument("--adversary-clips", type=int, default=6)
    p.add_argument("--adversary-iterations", type=int, default=20)
    p.add_argument("--no-responds", action="store_true", help="skip auralisation and activations")
    p.add_argument("--with-splits", action="store_true",
                   help="train the system on a random and an artist-filtered split (needs <data-root>/artists.csv)")
    p.add_argument("--split-repeats", type=int, default=1)
    p.add_argument("--split-train", type=mapping, default={}, metavar="MAPPING",
                   help="training options for --with-splits, e.g. '{epochs: 5}' (model: the sidecar's)")
    p.add_argument("--compare", help="a second model measured on the same clips (paired statistics)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=16, help="segments per forward pass (default 16)")
    p.add_argument("--part", help="K/N or auto/N (Slurm array / Kubernetes Indexed Job index): score the K-th of N "
                                  "shares of the clips (clean, transformed, --compare) into OUT/audit.part-K-of-N.*; "
                                  "bin/merge_parts.py audit OUT then writes the report, equal to a single run's")
    a = p.parse_args(argv)
    options = dict(task=a.task, limit=a.limit, transforms=a.transforms, adversary_snrs=a.adversary_snrs,
                   adversary_clips=a.adversary_clips, adversary_iterations=a.adversary_iterations,
                   responds=not a.no_responds, with_splits=a.with_splits, split_repeats=a.split_repeats,
                   split_train=a.split_train, compare=a.compare, n_boot=a.bootstrap, seed=a.seed,
                   batch_size=a.batch_size)
    if a.part:
        part = parse_part(a.part)
        r = audit_part(a.model, a.out, data_selection(a), part, **options)
        print(f"part {part[0]}/{part[1]}: {r['n']} clips -> {r['npz']} ({len(r['skipped'])} skipped); "
              f"when every part is done: python bin/merge_parts.py audit {a.out}")
        return 0
    print_report(run_audit(a.model, a.out, data_selection(a), **options), a.out)
    return 0


def print_report(r, out):
    """The verdict table, the timings and where the page is (after an audit or a merge of its parts)."""
    width = max(len(v["test"]) for v in r["verdicts"])
    for v in r["verdicts"]:
        print(f"{v['test']:<{width}}  {v['flag']:<8} {v['figure']:<22} {v['sentence']}")
    print(f"\naudit of {r['n_clips']} clips took {r['seconds']:.0f} s ("
          + ", ".join(f"{k} {t:.0f} s" for k, t in r["timings"].items()) + ")")
    print(f"report: {Path(out) / 'index.html'}")
