#!/usr/bin/env python
"""Re-run a seed table or figure as the seed ran it, and write it beside the seed's numbers.

The same as ``kerasmgr reproduce`` (options: ``--help``); the code is :mod:`kerasmgr.cli.reproduce`.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from kerasmgr.cli.reproduce import main  # noqa: E402

if __name__ == "__main__":
    from kerasmgr.cli.common import run

    run(main)
