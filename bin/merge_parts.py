#!/usr/bin/env python
"""Merge the parts of a job run as a job array (--part K/N) into the single run's outputs.

The same as ``kerasmgr merge-parts`` (options: ``--help``); the code is :mod:`kerasmgr.cli.merge_parts`.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from kerasmgr.cli.merge_parts import main  # noqa: E402

if __name__ == "__main__":
    from kerasmgr.cli.common import run

    run(main)
