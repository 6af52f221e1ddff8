#!/usr/bin/env python
"""Export a released or saved model as a TensorFlow SavedModel, TFLite or ONNX file.

The same as ``kerasmgr export`` (options: ``--help``); the code is :mod:`kerasmgr.cli.export`.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from kerasmgr.cli.export import main  # noqa: E402

if __name__ == "__main__":
    from kerasmgr.cli.common import run

    run(main)
