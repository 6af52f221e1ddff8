#!/usr/bin/env python
"""Attack a saved model with music adversaries (seed 004) over a dataset split and report.

The same as ``kerasmgr adversary`` (options: ``--help``); the code is :mod:`kerasmgr.cli.adversary`.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from kerasmgr.cli.adversary import main  # noqa: E402

if __name__ == "__main__":
    from kerasmgr.cli.common import run

    run(main)
