"""Check a copy of a dataset: missing, undecodable, duplicate files, wrong durations or rates,
checksum mismatches against an index.

    python bin/validate_dataset.py gtzan --data-root data/gtzan
    python bin/validate_dataset.py gtzan --data-root data/gtzan --index gtzan_genre_index_1.0.json
    python bin/validate_dataset.py mtat --data-root data/mtat --split won2020 --split-dir sota/split/mtat
    python bin/validate_dataset.py jamendo --data-root data/jamendo --tag-subset moodtheme \\
        --split-dir mtg-jamendo-dataset/data/splits/split-0
    python bin/validate_dataset.py gtzan --data-root data/gtzan --write-index gtzan_md5.json

--index takes mirdata's index JSON for the dataset (gtzan_genre, ballroom,
mtg_jamendo_autotagging_moodtheme) or one written by --write-index from a copy you trust.
Prints the report; exit code 0 when the copy is clean, 1 when problems were found, 2 when the
folder is not in the dataset's layout (the message says what is missing).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..data.datasets import DATASETS
from ..data.validation import validate, write_index


def main(argv=None):
    p = argparse.ArgumentParser(prog="kerasmgr validate-dataset", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", choices=sorted(n for n in DATASETS if n not in ("shards", "embedded")))
    p.add_argument("--data-root", required=True, help="the dataset's folder (csv: the CSV file)")
    p.add_argument("--split", help="split-list name (gtzan/folder/ballroom/lmd), 'hex'/'won2020' (mtat), "
                                   "'split-0'... (jamendo)")
    p.add_argument("--split-dir", help="folder of the split files")
    p.add_argument("--tag-subset", help="jamendo: top50tags, genre, instrument or moodtheme")
    p.add_argument("--index", help="checksum index JSON (mirdata's, or --write-index's)")
    p.add_argument("--write-index", help="write the MD5s of this copy as an index JSON")
    p.add_argument("--json", help="also write the report as JSON")
    p.add_argument("--workers", type=int, help="reading threads (default: the CPU count)")
    a = p.parse_args(argv)
    kw = {k: v for k, v in (("split", a.split), ("split_dir", a.split_dir), ("tag_subset", a.tag_subset)) if v}
    report = validate(a.dataset, a.data_root, index=a.index, workers=a.workers, **kw)
    print(report.format())
    if a.json:
        Path(a.json).write_text(json.dumps(report.to_dict(), indent=2))
    if a.write_index:
        print(f"wrote {write_index(report, a.write_index)}")
    return 0 if report.ok else 1
