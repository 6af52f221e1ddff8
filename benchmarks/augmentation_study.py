"""k2c2 trained with and without augmentation, each model audited: the README's "Augmentation, measured".

    python benchmarks/augmentation_study.py --out studies/augment [--seeds 0 1 2] [--data embedded gtzan]

For every dataset, condition (plain / augmented) and seed it runs ``bin/train.py --model k2c2``
(``--augment '{}'``, plus ``--mixup-alpha 0.2`` for the tags) and then
``bin/audit.py --no-responds --adversary-clips 4`` on the run's test subset, each in its own
process, and finally prints the README's tables (test metric per seed, and the audit verdicts side
by side). Finished runs and audits in ``--out`` are kept: run it again to resume. The GTZAN data are
the generated GTZAN-layout stand-in (``make_gtzan_standin`` defaults, written once into
``--out/gtzan-standin``) with its artist-filtered split.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = {
    "embedded": {"title": "embedded (tags)", "metric": "macro_roc_auc", "metric_name": "macro ROC-AUC",
                 "train": [], "audit": [], "augment": ["--augment", "{}", "--mixup-alpha", "0.2"]},
    "gtzan": {"title": "GTZAN stand-in (genre)", "metric": "accuracy", "metric_name": "accuracy",
              "train": ["--task", "genre", "--dataset", "gtzan", "--split", "filtered"],
              "audit": ["--dataset", "gtzan", "--split", "filtered"], "augment": ["--augment", "{}"]},
}
CONDITIONS = {"plain": "no aug.", "augmented": "aug."}


def _run(cmd):
    print("+", " ".join(cmd), flush=True)
    subprocess.run([sys.executable, *cmd], check=True, cwd=ROOT)


def study(out, *, seeds=(0, 1, 2), data=("embedded", "gtzan"), conditions=tuple(CONDITIONS)):
    """Train and audit every (dataset, condition, seed); return their test metrics and verdicts.

    Returns
    -------
    dict
        ``{dataset: {condition: [{"seed", "metric", "verdicts"}, ...]}}``.
    """
    out = Path(out).resolve()
    results = {}
    for name in data:
        spec = dict(DATA[name])
        extra = []
        if name == "gtzan":
            root = out / "gtzan-standin"
            if not (root / "genres").is_dir():
                from kerasmgr.data.embedded import make_gtzan_standin

                make_gtzan_standin(root)
            extra = ["--data-root", str(root)]
        results[name] = {}
        for cond in conditions:
            rows = []
            for seed in seeds:
                run = out / name / f"{cond}-seed{seed}"
                if not (run / "metrics.json").is_file():
                    _run(["bin/train.py", "--model", "k2c2", *spec["train"], *extra,
                          *(spec["augment"] if cond == "augmented" else []), "--seed", str(seed),
                          "--out", str(run.parent), "--name", run.name, "--verbose", "2"])
                audit = run / "audit"
                if not (audit / "audit.json").is_file():
                    _run(["bin/audit.py", "--model", str(run / "model.keras"), *spec["audit"], *extra,
                          "--no-responds", "--adversary-clips", "4", "--out", str(audit)])
                metrics = json.loads((run / "metrics.json").read_text())
                verdicts = json.loads((audit / "audit.json").read_text())["verdicts"]
                rows.append({"seed": seed, "metric": metrics[spec["metric"]], "verdicts": verdicts})
            results[name][cond] = rows
    return results


def tables(results):
    """The README's markdown tables from :func:`study`'s result."""
    import numpy as np

    lines = ["| data | condition | runs | test metric (mean ± std) | per seed |", "|---|---|---|---|---|"]
    for name, by_cond in results.items():
        for cond, rows in by_cond.items():
            v = np.array([r["metric"] for r in rows])
            lines.append(f"| {DATA[name]['title']} | {'with' if cond == 'augmented' else 'without'} augmentation | "
                         f"{len(v)} | {DATA[name]['metric_name']} {v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f} | "
                         f"{', '.join(f'{x:.3f}' for x in v)} |")
    for name, by_cond in results.items():
        cols = [(cond, r) for cond, rows in by_cond.items() for r in rows]
        lines += ["", f"Audit verdicts, {DATA[name]['title']}:", "",
                  "| test | " + " | ".join(f"{CONDITIONS[c]} s{r['seed']}" for c, r in cols) + " |",
                  "|---|" + "---|" * len(cols)]
        tests = [v["test"] for v in cols[0][1]["verdicts"]]
        for test in tests:
            cells = []
            for _, r in cols:
                v = next((v for v in r["verdicts"] if v["test"] == test), None)
                cells.append("—" if v is None else f"{v['flag']} {v['figure'].replace(' flipped', '')}")
            lines.append(f"| {test} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="study folder (runs, audits, the stand-in); resumable")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--data", nargs="+", choices=sorted(DATA), default=["embedded", "gtzan"])
    p.add_argument("--conditions", nargs="+", choices=list(CONDITIONS), default=list(CONDITIONS))
    a = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    res = study(a.out, seeds=tuple(a.seeds), data=tuple(a.data), conditions=tuple(a.conditions))
    text = tables(res)
    (Path(a.out) / "tables.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
