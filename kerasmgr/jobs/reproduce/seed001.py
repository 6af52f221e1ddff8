"""Seed 001 (Schindler et al.'s parallel CNNs, as reproduced) for :mod:`kerasmgr.reproduce`."""

from __future__ import annotations

from ...data.splits import SCHINDLER_PROPORTIONS
from .common import ensure_split, experiment, train_row
from .core import Column, Config, Table, register

#: Seed 001's results (§VII and §X.C): accuracy in % (raw, max-probability, majority vote).
PUBLISHED = {
    ("baseline", "shallow", 100): (65.20, 81.20, 78.90), ("baseline", "deep", 100): (68.60, 83.20, 82.40),
    ("baseline", "shallow", 200): (64.80, 79.60, 78.80), ("baseline", "deep", 200): (68.60, 84.80, 83.20),
    ("CQT", "shallow", 100): (63.30, 80.00, 79.20), ("CQT", "deep", 100): (68.20, 81.20, 80.40),
    ("CQT", "shallow", 200): (63.90, 82.00, 80.80), ("CQT", "deep", 200): (67.90, 82.00, 82.00),
    ("EXP", "shallow", 100): (67.60, 84.40, 81.20), ("EXP", "deep", 100): (69.70, 84.40, 81.60),
    ("EXP", "shallow", 200): (67.60, 84.40, 80.80), ("EXP", "deep", 200): (67.10, 83.20, 81.60),
    ("CQT & EXP", "shallow", 100): (65.30, 84.00, 83.20), ("CQT & EXP", "deep", 100): (70.00, 85.60, 85.20),
    ("CQT & EXP", "shallow", 200): (65.00, 82.40, 83.20), ("CQT & EXP", "deep", 200): (69.20, 85.20, 84.40),
}
CONFIG = {"baseline": ("mel", "const"), "CQT": ("cqt", "const"), "EXP": ("mel", "exp"), "CQT & EXP": ("cqt", "exp")}


def _configs(ctx):
    out = []
    for (variant, net, epochs), (raw, mx, maj) in PUBLISHED.items():
        fe, lr = CONFIG[variant]
        out.append(Config(f"{net}_{fe}_{lr}_{epochs}", {"improvement": variant, "model": net, "ep": epochs},
                          {"config": f"schindler_{net}_{fe}_{lr}_{epochs}"},
                          {"raw": raw, "max": mx, "maj": maj},
                          smoke=(variant, net, epochs) in (("baseline", "shallow", 100), ("CQT & EXP", "deep", 100))))
    return out


def _run(ctx, cfg):
    split_dir = ensure_split(ctx, "schindler", proportions=SCHINDLER_PROPORTIONS)
    row = train_row(ctx, experiment(cfg.params["config"]), cfg.key, smoke_data="gtzan", split="schindler",
                    split_dir=str(split_dir))
    pct = {k: None if row.get(v) is None else 100 * row[v]
           for k, v in (("raw", "raw_accuracy"), ("max", "metric"), ("maj", "majority_accuracy"))}
    return {**row, **pct}


register(Table(
    id="001-results", seed="001", section="§VII 'Replicating results' and §X.C (improvements)",
    title="Shallow and deep parallel CNNs on GTZAN: raw, max-probability and majority-vote accuracy",
    data="GTZAN (genres/<genre>/*.au)", estimate="16 trainings of 100-200 epochs (GPU hours each)",
    smoke_estimate="20 s (2 configurations, 1 epoch, GTZAN-layout stand-in)",
    columns=(Column("raw", "raw", "%", 2), Column("max", "max", "%", 2), Column("maj", "maj", "%", 2)),
    label_headers=("improvement", "model", "ep"), configs=_configs, run=_run,
    notes="""
- Protocol as the seed ran it: 750/250 train/test, stratified per genre, no validation subset
  (split lists `{train,valid,test}_schindler.txt`, drawn with `--seed` (default 0) by
  `kerasmgr.data.datasets.write_split_lists` with `numpy.random.RandomState` per genre, unless
  `--split-dir` already holds them); 15 random 0.97-s segments per track drawn once and reused
  every epoch (`fixed_segments`); the same 15 segments of each test track; batch 15; ReLU; the
  model after epoch 100 or 200 (`select: last`); EXP decay counted in epochs, as stated.
- raw = segment accuracy, max = summed-probability track decision, maj = majority vote.
- The seed's segments came from a pickled GTZAN of 15 segments per track; its exact segments and
  split are not published, so they are drawn here.
"""))
