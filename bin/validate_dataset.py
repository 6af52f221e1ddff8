#!/usr/bin/env python
"""Check a copy of a dataset: missing, undecodable, duplicate files, wrong durations or rates, checksums.

The same as ``kerasmgr validate-dataset`` (options: ``--help``); the code is :mod:`kerasmgr.cli.validate_dataset`.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from kerasmgr.cli.validate_dataset import main  # noqa: E402

if __name__ == "__main__":
    from kerasmgr.cli.common import run

    run(main)
