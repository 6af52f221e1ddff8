#!/usr/bin/env python
"""SVM/SVR transfer learning over layer combinations (thesis ch. 6), two protocols side by side.

The same as ``kerasmgr transfer`` (options: ``--help``); the code is :mod:`kerasmgr.cli.transfer`.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from kerasmgr.cli.transfer import main  # noqa: E402

if __name__ == "__main__":
    from kerasmgr.cli.common import run

    run(main)
