#!/usr/bin/env python
"""Seed 000's DNN-feature experiment: frame DNNs, random forests on their activations, and the

The same as ``kerasmgr dnn-features`` (options: ``--help``); the code is :mod:`kerasmgr.cli.dnn_features`.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from kerasmgr.cli.dnn_features import main  # noqa: E402

if __name__ == "__main__":
    from kerasmgr.cli.common import run

    run(main)
