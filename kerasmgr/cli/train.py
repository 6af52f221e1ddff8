"""Train a kerasmgr model and write a run folder (model, config, TensorBoard logs, test metrics).

Examples
--------
    python bin/train.py --model k2c2                      # embedded dataset, tagging
    python bin/train.py --model schindler_shallow --epochs 30
    python bin/train.py --config configs/k2c2.yaml --out runs --name my-run

Options given on the command line override those of --config, which override the model's
defaults (kerasmgr.models.training_defaults). See kerasmgr.training for what a run writes.
"""

from __future__ import annotations

import argparse

from ..jobs.train import summary_line, train, train_repeated
from ..training import TrainConfig
from .common import add_dataclass_arguments, given_options


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kerasmgr train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="YAML file whose keys are the options below (without dashes)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="train this many times with seeds seed, seed+1, ... and report mean ± std "
                             "(run folders <name>-seed<k>, summary <out>/<name>-summary.json)")
    parser.add_argument("--vary", choices=("all", "init"), default="all",
                        help="with --repeats: 'all' changes the seed (data order, crops, initial weights); "
                             "'init' only the initial weights (the thesis' repeats, §5.2.1)")
    add_dataclass_arguments(parser, TrainConfig)
    args = parser.parse_args(argv)
    options = given_options(args)
    config = options.pop("config", None)
    repeats = options.pop("repeats", 1)
    vary = options.pop("vary", "all")
    if repeats > 1:
        results, summary = train_repeated(config, repeats=repeats, vary=vary, **options)
        key = "accuracy" if results[0].metrics["task"] == "genre" else "macro_roc_auc"
        for r in results:
            print(f"{r.run_dir.name}: {summary_line(r)}")
        print(f"\n{key}: {summary['mean'][key]:.4f} ± {summary['std'][key]:.4f} over {repeats} runs")
        return 0
    result = train(config, **options)
    print(f"\n{result.config.model} ({result.config.task}): {summary_line(result)}")
    print(f"run folder: {result.run_dir}")
    print(f"  best model: {result.model_path} (+ .h5), best epoch {result.metrics['best_epoch']}")
    print(f"  metrics:    {result.run_dir / 'metrics.json'}")
    print(f"  TensorBoard: tensorboard --logdir {result.run_dir / 'logs'}")
    return 0
