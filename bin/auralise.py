#!/usr/bin/env python
"""Auralise the conv features of a model (thesis chapter 7): listen to what each feature responds to.

The same as ``kerasmgr auralise`` (options: ``--help``); the code is :mod:`kerasmgr.cli.auralise`.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from kerasmgr.cli.auralise import main  # noqa: E402

if __name__ == "__main__":
    from kerasmgr.cli.common import run

    run(main)
