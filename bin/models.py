#!/usr/bin/env python
"""List the kerasmgr model zoo: name, seed, input and trainable parameters (Markdown table).

    python bin/models.py               # the default models (the README table)
    python bin/models.py --budgets     # plus the chapter-4 budgets of k2c2, k1c2, k2c1 and crnn
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", action="store_true", help="also print the Table 4-A budget counts")
    args = parser.parse_args(argv)
    from kerasmgr import models
    from kerasmgr.models import choi

    print(models.markdown_table())
    if args.budgets:
        print("\n| structure | " + " | ".join(f"{b / 1e6:g}M" for b in choi.BUDGETS) + " |")
        print("|---|" + "---|" * len(choi.BUDGETS))
        for name in ("k2c2", "k1c2", "k2c1", "crnn"):
            counts = [models.count_trainable(models.build(name, n_params=b)) for b in choi.BUDGETS]
            print(f"| `{name}` | " + " | ".join(f"{c:,}" for c in counts) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
