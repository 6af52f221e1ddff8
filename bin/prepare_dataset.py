#!/usr/bin/env python
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

import argparse
import os
import sys
from pathlib import Path

import yaml

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="embedded", help="dataset name (kerasmgr.data.datasets.DATASETS)")
    p.add_argument("--data-root", help="dataset folder")
    p.add_argument("--split", help="split-list name, e.g. filtered")
    p.add_argument("--split-dir", help="folder of the split lists")
    p.add_argument("--dataset-kwargs", type=yaml.safe_load, default={}, help="loader options (YAML/JSON mapping)")
    p.add_argument("--out", required=True, help="output folder")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--sample-rate", type=int, help="target rate in Hz")
    rate.add_argument("--model", help="use this model's input rate (kerasmgr.models.available())")
    p.add_argument("--subsets", default="train,valid,test", help="comma-separated subsets to write")
    p.add_argument("--shard-size", type=int, default=128, help="clips per shard")
    p.add_argument("--dtype", choices=("int16", "float16"), default="int16")
    p.add_argument("--workers", type=int, help="decoding threads (default: CPU count)")
    a = p.parse_args(argv)

    from kerasmgr.data.shards import prepare_dataset

    if a.model:
        from kerasmgr import models

        sr = models.contract(a.model).sample_rate
    elif a.sample_rate:
        sr = a.sample_rate
    else:
        p.error("give --sample-rate or --model")
    kw = dict(a.dataset_kwargs or {})
    if a.split:
        kw["split_name"] = a.split
    if a.split_dir:
        kw["split_dir"] = a.split_dir
    try:
        m = prepare_dataset(a.dataset, a.data_root, a.out, sample_rate=sr, splits=a.subsets.split(","),
                            shard_size=a.shard_size, dtype=a.dtype, dataset_kwargs=kw, workers=a.workers)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for e in m["errors"]:
        print(f"failed {e['path']}: {e['reason']}", file=sys.stderr)
    for split, info in m["splits"].items():
        print(f"{split}: {info['n_items']} clips in {len(info['shards'])} shard(s)")
    print(f"{len(m['errors'])} file(s) failed; manifest {Path(a.out) / 'manifest.json'} ({sr} Hz, {a.dtype})")
    return 0


if __name__ == "__main__":
    from kerasmgr.cli import run

    run(main)
