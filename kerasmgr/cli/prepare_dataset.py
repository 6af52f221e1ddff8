"""Decode and resample a dataset once into sharded TFRecord files (plus a manifest).

    python bin/prepare_dataset.py --dataset gtzan --data-root /data/gtzan --split filtered \\
        --sample-rate 22050 --out /data/gtzan-22k
    python bin/prepare_dataset.py --model k2c2 --out shards/embedded        # rate of the model
    python bin/train.py --model k2c2 --dataset shards --data-root shards/embedded

Each split becomes shards of --shard-size clips (audio as int16 or float16, labels, ids); a
shard is finished once its .json is written, so running the same command again resumes an
interrupted preparation. Files that cannot be decoded are listed in the manifest and on stderr,
never fatal. See kerasmgr.data.shards for the format.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..jobs.prepare import prepare_dataset
from .common import add_data_arguments, data_selection


def main(argv=None):
    p = argparse.ArgumentParser(prog="kerasmgr prepare-dataset", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(p, subset=None)
    p.add_argument("--out", required=True, help="output folder")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--sample-rate", type=int, help="target rate in Hz")
    rate.add_argument("--model", help="use this model's input rate (kerasmgr.models.available())")
    p.add_argument("--subsets", default="train,valid,test", help="comma-separated subsets to write")
    p.add_argument("--shard-size", type=int, default=128, help="clips per shard")
    p.add_argument("--dtype", choices=("int16", "float16"), default="int16")
    p.add_argument("--workers", type=int, help="decoding threads (default: CPU count)")
    a = p.parse_args(argv)
    if not (a.model or a.sample_rate):
        p.error("give --sample-rate or --model")
    m = prepare_dataset(data_selection(a), a.out, sample_rate=a.sample_rate, model=a.model,
                        subsets=a.subsets.split(","), shard_size=a.shard_size, dtype=a.dtype, workers=a.workers)
    for e in m["errors"]:
        print(f"failed {e['path']}: {e['reason']}", file=sys.stderr)
    for subset, info in m["splits"].items():
        print(f"{subset}: {info['n_items']} clips in {len(info['shards'])} shard(s)")
    print(f"{len(m['errors'])} file(s) failed; manifest {Path(a.out) / 'manifest.json'} ({m['sample_rate']} Hz, "
          f"{a.dtype})")
    return 0
