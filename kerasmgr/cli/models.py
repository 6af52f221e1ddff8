"""List the kerasmgr model zoo: name, seed, input and trainable parameters (Markdown table).

    python bin/models.py               # the default models (the README table)
    python bin/models.py --budgets     # plus the chapter-4 budgets of k2c2, k1c2, k2c1 and crnn
"""

from __future__ import annotations

import argparse

from .. import models
from ..models import choi


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kerasmgr models", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", action="store_true", help="also print the Table 4-A budget counts")
    args = parser.parse_args(argv)
    print(models.markdown_table())
    if args.budgets:
        print("\n| structure | " + " | ".join(f"{b / 1e6:g}M" for b in choi.BUDGETS) + " |")
        print("|---|" + "---|" * len(choi.BUDGETS))
        for name in ("k2c2", "k1c2", "k2c1", "crnn"):
            counts = [models.count_trainable(models.build(name, n_params=b)) for b in choi.BUDGETS]
            print(f"| `{name}` | " + " | ".join(f"{c:,}" for c in counts) + " |")
    return 0

