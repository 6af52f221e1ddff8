"""Re-run a seed table or figure as the seed ran it, and write it beside the seed's numbers.

    python bin/reproduce.py --list
    python bin/reproduce.py TABLE --data-root DIR [--split-dir D] --out OUT
    python bin/reproduce.py TABLE --smoke --out OUT          # generated data, tiny epochs, minutes

Runs every configuration of TABLE (one result file per configuration under OUT/TABLE/results/:
running the same command again skips finished configurations and retries failed ones), then
writes OUT/TABLE.md and OUT/TABLE.csv in the seed's layout, with the seed's published number and
the difference beside each measured one, and a list of what differs from the seed and why. A
configuration that fails is reported in the table; the others still run (exit code 1 if any
failed). --list prints every table id with its seed, section, data needed and run-time estimates.
"""

from __future__ import annotations

import argparse
import sys

from ..jobs import reproduce


def main(argv=None):
    p = argparse.ArgumentParser(prog="kerasmgr reproduce", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", nargs="?", help="table id (see --list)")
    p.add_argument("--list", action="store_true", help="list the reproducible tables and exit")
    p.add_argument("--data-root", help="the seed's dataset folder (not needed with --smoke or for data-free tables)")
    p.add_argument("--split-dir", help="folder of the split lists (default: the table's own or <data-root>/splits)")
    p.add_argument("--out", default="reproduce", help="output folder (default: reproduce)")
    p.add_argument("--smoke", action="store_true", help="generated data and tiny epochs: every path in minutes")
    p.add_argument("--seed", type=int, default=0, help="random seed of every configuration (default: 0)")
    p.add_argument("--only", nargs="+", metavar="KEY", help="run only these configuration keys")
    a = p.parse_args(argv)
    if a.list:
        print(reproduce.list_tables())
        return 0
    if not a.table:
        p.error("give a table id or --list")
    result = reproduce.reproduce(a.table, a.out, data_root=a.data_root, split_dir=a.split_dir, smoke=a.smoke,
                                 seed=a.seed, only=a.only)
    print(f"wrote {result['md']} and {result['csv']} ({len(result['done'])} run, {len(result['skipped'])} "
          f"already done, {len(result['failed'])} failed)")
    for key, msg in result["failed"].items():
        print(f"failed: {key}: {msg}", file=sys.stderr)
    return 1 if result["failed"] else 0

