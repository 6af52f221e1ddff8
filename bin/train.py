#!/usr/bin/env python
"""Train a kerasmgr model and write a run folder (model, config, TensorBoard logs, test metrics).

The same as ``kerasmgr train`` (options: ``--help``); the code is :mod:`kerasmgr.cli.train`.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from kerasmgr.cli.train import main  # noqa: E402

if __name__ == "__main__":
    from kerasmgr.cli.common import run

    run(main)
