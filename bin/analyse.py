#!/usr/bin/env python
"""Analyse what a trained model learned (thesis chapters 3 and 7, seed 003).

The same as ``kerasmgr analyse`` (options: ``--help``); the code is :mod:`kerasmgr.cli.analyse`.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from kerasmgr.cli.analyse import main  # noqa: E402

if __name__ == "__main__":
    from kerasmgr.cli.common import run

    run(main)
