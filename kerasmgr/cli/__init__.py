"""The ``kerasmgr`` command: one installed command with a subcommand per workflow.

``kerasmgr train --model k2c2`` is ``python bin/train.py --model k2c2`` with the same flags; the
``bin/`` scripts of a checkout are thin wrappers over the same modules. One command (as ``git``
or ``dvc`` do) rather than a dozen ``kerasmgr-*`` scripts: one name on the ``PATH``, one
``kerasmgr --help`` that lists every workflow, and a subcommand imports only its own module.

Each module here parses arguments, makes one library call (mostly into :mod:`kerasmgr.jobs`) and
prints; shared options and error handling are :mod:`kerasmgr.cli.common`.
"""

from __future__ import annotations

import importlib
import sys

from .. import __version__

__all__ = ["COMMANDS", "main"]

#: subcommand -> (module under kerasmgr.cli, one-line help); the modules are bin/<module>.py's mains
COMMANDS = {
    "train": ("train", "train a model and write a run folder"),
    "evaluate": ("evaluate", "evaluate a saved model, or compare two splits"),
    "tag": ("tag", "print the top tags of audio files"),
    "extract-features": ("extract_features", "convnet / MFCC / random-convnet features of audio files"),
    "transfer": ("transfer", "SVM transfer-learning tables from feature files"),
    "adversary": ("adversary", "music adversaries over a dataset subset (seed 004)"),
    "auralise": ("auralise", "listen to what a model's conv features respond to"),
    "audit": ("audit", "is the model listening to the music? one HTML report"),
    "analyse": ("analyse", "label vectors, label noise, reliability, activations"),
    "prepare-dataset": ("prepare_dataset", "decode a dataset once into TFRecord shards"),
    "dnn-features": ("dnn_features", "seed 000's DNN-feature experiment"),
    "reproduce": ("reproduce", "re-run a seed table as the seed ran it"),
    "convert-weights": ("convert_weights", "convert Choi's released weights"),
    "export": ("export", "export a model as SavedModel, TFLite or ONNX"),
    "merge-parts": ("merge_parts", "merge job-array parts (--part K/N) into the single run's outputs"),
    "validate-dataset": ("validate_dataset", "check a dataset copy: missing, broken, duplicate files, checksums"),
    "models": ("models", "list the model zoo"),
}


def _usage():
    width = max(len(c) for c in COMMANDS)
    lines = ["usage: kerasmgr <command> [options]   (kerasmgr <command> --help for its options)", "", "commands:"]
    lines += [f"  {c:<{width}}  {h}" for c, (_, h) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv=None):
    """Entry point of the ``kerasmgr`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        print(f"kerasmgr {__version__}")
        return 0
    command = argv[0].replace("_", "-")
    if command not in COMMANDS:
        print(f"error: unknown command {argv[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    # a dynamic import keeps start-up to what the command needs (no static edge, hence no cycle)
    module = importlib.import_module(f"{__name__}.{COMMANDS[command][0]}")
    common = importlib.import_module(f"{__name__}.common")
    common.run(lambda: module.main(argv[1:]))
