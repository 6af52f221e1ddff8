#!/usr/bin/env python
"""Extract transfer-learning features: multi-layer convnet features (thesis ch. 6), the MFCC

The same as ``kerasmgr extract-features`` (options: ``--help``); the code is :mod:`kerasmgr.cli.extract_features`.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from kerasmgr.cli.extract_features import main  # noqa: E402

if __name__ == "__main__":
    from kerasmgr.cli.common import run

    run(main)
