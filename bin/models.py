#!/usr/bin/env python
"""List the kerasmgr model zoo: name, seed, input and trainable parameters (Markdown table).

The same as ``kerasmgr models`` (options: ``--help``); the code is :mod:`kerasmgr.cli.models`.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from kerasmgr.cli.models import main  # noqa: E402

if __name__ == "__main__":
    from kerasmgr.cli.common import run

    run(main)
