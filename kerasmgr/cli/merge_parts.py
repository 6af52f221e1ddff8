"""Merge the parts of a job run as a job array (``--part K/N``) into the single run's outputs.

    python bin/merge_parts.py extract feats/msd          # feats/msd.part-K-of-N.* -> feats/msd.{npy,csv,json}
    python bin/merge_parts.py tag tags.csv               # tags.part-K-of-N.csv -> tags.csv
    python bin/merge_parts.py evaluate eval              # eval/evaluation.part-K-of-N.* -> eval/metrics.json ...
    python bin/merge_parts.py audit audit/m              # audit/m/audit.part-K-of-N.* -> the report in audit/m

The merge first checks the parts' metadata: every part 1..N present once, all made from the same
input list and the same settings, each finished; a problem is reported as ``error: ...`` naming
the part (exit code 2) and nothing is written. The merged files are byte-identical to a single
run over the whole list with the same options; evaluation metrics are computed once over all the
parts' per-clip posteriors (equal to a single run's); an audit's merge computes its statistics
once over every part's per-clip scores, then runs the sections of fixed size (adversaries,
leakage, what the model responds to) and writes the page.
"""

from __future__ import annotations

import argparse
import sys

from ..jobs.audit import merge_audit
from ..jobs.extract import merge_extraction
from ..jobs.evaluate import merge_evaluation
from ..jobs.tag import merge_tags
from .audit import print_report


def main(argv=None):
    p = argparse.ArgumentParser(prog="kerasmgr merge-parts", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("job", choices=("extract", "tag", "evaluate", "audit"), help="which job's parts")
    p.add_argument("out", help="the --out the parts were run with")
    a = p.parse_args(argv)
    if a.job == "evaluate":
        result, text = merge_evaluation(a.out)
        print(text)
        print(f"\nmerged {a.out}/evaluation.part-*; wrote {a.out}/metrics.json, table.txt")
        failed = [(s["path"], s["reason"]) for s in result["skipped"]]
    elif a.job == "audit":
        result = merge_audit(a.out)
        print_report(result, a.out)
        failed = [(s["path"], s["reason"]) for s in result["skipped"]]
    elif a.job == "tag":
        r = merge_tags(a.out)
        print(f"merged {r['n_parts']} parts, {r['n']} files -> {r['csv']}")
        failed = r["failed"]
    else:
        r = merge_extraction(a.out)
        print(f"merged {r['n_parts']} parts, {r['n']} rows -> {r['paths']['npy']} (index {r['paths']['csv']}, "
              f"metadata {r['paths']['json']})")
        failed = r["failed"]
    if failed:
        print(f"{len(failed)} item(s) could not be read in their parts (the merged outputs list them):", file=sys.stderr)
        for path, reason in failed[:20]:
            print(f"  {path}: {reason}", file=sys.stderr)
        if len(failed) > 20:
            print(f"  ... and {len(failed) - 20} more", file=sys.stderr)
    return 0
