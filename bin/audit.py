#!/usr/bin/env python
"""Audit a saved model: is it listening to the music? (one HTML report)

The same as ``kerasmgr audit`` (options: ``--help``); the code is :mod:`kerasmgr.cli.audit`.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from kerasmgr.cli.audit import main  # noqa: E402

if __name__ == "__main__":
    from kerasmgr.cli.common import run

    run(main)
