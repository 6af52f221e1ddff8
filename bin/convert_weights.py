#!/usr/bin/env python
"""Convert Keunwoo Choi's released Keras weights to kerasmgr models (.keras, .h5, .json sidecar).

The same as ``kerasmgr convert-weights`` (options: ``--help``); the code is :mod:`kerasmgr.cli.convert_weights`.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from kerasmgr.cli.convert_weights import main  # noqa: E402

if __name__ == "__main__":
    from kerasmgr.cli.common import run

    run(main)
