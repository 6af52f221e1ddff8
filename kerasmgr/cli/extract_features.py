"""Extract transfer-learning features: multi-layer convnet features (thesis ch. 6), the MFCC
baseline or a random-weights convnet.

    # one array file (+ index CSV and metadata JSON), resumable: run again to continue
    python bin/extract_features.py music/ --out feats/convnet.npy --layers 12345
    python bin/extract_features.py music/ --out feats/mfcc.npy --mfcc
    python bin/extract_features.py music/ --out feats/random.npy --random --seed 0
    # a dataset split, with a converted MSD tagger
    python bin/extract_features.py --dataset gtzan --data-root /data/gtzan --subset all \\
        --weights converted/compact.h5 --out feats/gtzan.npy
    # one .npz per file (openl3 style), existing outputs skipped unless --overwrite
    python bin/extract_features.py music/ --output-dir feats/npz --suffix _convnet

Inputs: files and folders (searched recursively for audio), --file-list (one path per line),
--dataset, or --shards (a folder prepared by bin/prepare_dataset.py, read shard by shard).
Unreadable, silent and too-short files are reported in the index (status 'error')
and never stop the job. Features: global-average-pooled feature maps of each chosen conv layer
(after max-pooling; --tap elu: before it), concatenated; signals shorter than the model input
are repeated, longer ones centre-cropped (--long average: mean over consecutive windows).
"""

from __future__ import annotations

import argparse
import sys

from ..data.selection import DataSelection
from ..jobs.extract import EXTRACT_CHUNK, extract_array, extract_files, extract_part, input_files, make_extractor
from ..parts import parse_part
from .common import add_data_arguments, data_selection


def main(argv=None):
    p = argparse.ArgumentParser(prog="kerasmgr extract-features", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", help="audio files and/or folders")
    p.add_argument("--file-list", help="text file with one audio path per line")
    add_data_arguments(p, subset="all", allow_all=True, dataset=None)
    p.add_argument("--shards", help="a folder written by bin/prepare_dataset.py: its clips (of --subset) are read "
                                    "from the TFRecord shards instead of decoding audio files")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", help="array output (OUT.npy + OUT.csv index + OUT.json metadata)")
    out.add_argument("--output-dir", help="one .npz per input file under this folder")
    p.add_argument("--suffix", default="", help="with --output-dir: appended to each file stem")
    p.add_argument("--overwrite", action="store_true", help="recompute existing outputs")
    p.add_argument("--weights", default="k2c2-embedded",
                   help="extractor: released name or .h5/.keras path (default: k2c2-embedded; the converted "
                        "MSD Compact-convnet is the thesis' extractor)")
    p.add_argument("--layers", default="12345", help="conv layers to use, e.g. 12345 or 135")
    p.add_argument("--tap", choices=("pool", "elu"), default="pool")
    p.add_argument("--long", choices=("crop", "average"), default="crop", help="signals longer than the input")
    p.add_argument("--crop", choices=("centre", "start"), default="centre",
                   help="where --long crop cuts: the middle, or the start (the thesis' Task 4: 'the first 29-second')")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--mfcc", action="store_true", help="MFCC baseline (120-d) instead of convnet features")
    kind.add_argument("--random", action="store_true", help="same architecture with random (He-normal) weights")
    p.add_argument("--seed", type=int, default=0, help="seed of --random")
    p.add_argument("--sample-rate", type=int, default=22050, help="decoding rate of --mfcc (Hz)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="segments per forward pass (default: about a minute of audio, "
                        "kerasmgr.inference.inference_batch_size; fastest and leanest on CPU)")
    p.add_argument("--min-seconds", type=float, default=1.0, help="shorter files are reported, not extracted")
    p.add_argument("--chunk", type=int, default=EXTRACT_CHUNK,
                   help=f"with --out: files computed together and written at once (default {EXTRACT_CHUNK}); "
                        "parts start at multiples of it")
    p.add_argument("--part", help="K/N or auto/N (Slurm array / Kubernetes Indexed Job index): extract the K-th of "
                                  "N shares of the inputs into OUT.part-K-of-N.*; merge with bin/merge_parts.py "
                                  "extract OUT (needs --out), byte-identical to a single run with the same "
                                  "options; a killed part resumes when run again")
    a = p.parse_args(argv)
    part = parse_part(a.part) if a.part else None
    if part and not a.out:
        p.error("--part needs --out (the array output the parts merge into)")
    data = data_selection(a)
    if data is None and a.shards:
        data = DataSelection(subset=a.subset)  # only its subset matters: which shards to read
    files, loader = input_files(a.inputs, file_list=a.file_list, data=data, shards=a.shards)
    if not files:
        p.error("no input files (give files/folders, --file-list, --dataset or --shards)")
    if loader is not None and a.output_dir:
        p.error("--shards writes one array file: use --out")
    extractor, meta, sr = make_extractor(a.weights, mfcc=a.mfcc, random=a.random, seed=a.seed, layers=a.layers,
                                         tap=a.tap, long=a.long, crop=a.crop,
                                         batch_size=a.batch_size,
                                         sample_rate=a.sample_rate)
    if a.out and part:
        settings = {"weights": a.weights, "mfcc": a.mfcc, "random": a.random, "seed": a.seed, "layers": a.layers,
                    "tap": a.tap, "long": a.long, "crop": a.crop, "sample_rate": sr, "min_seconds": a.min_seconds,
                    "extractor": meta, "batch_size": getattr(extractor, "batch_size", None)}
        r = extract_part(files, a.out, extractor, part, settings=settings, sample_rate=sr, metadata=meta,
                         overwrite=a.overwrite, min_seconds=a.min_seconds, loader=loader, chunk=a.chunk)
        print(f"part {part[0]}/{part[1]}: {r['n_ok']} of {r['n']} files -> {r['paths']['npy']} "
              f"(part metadata {r['part_json']})")
    elif a.out:
        r = extract_array(files, a.out, extractor, sample_rate=sr, metadata=meta, overwrite=a.overwrite,
                          min_seconds=a.min_seconds, loader=loader, chunk=a.chunk)
        print(f"{r['n_ok']} of {r['n']} files -> {r['paths']['npy']} (index {r['paths']['csv']}, "
              f"metadata {r['paths']['json']})")
    else:
        r = extract_files(files, a.output_dir, extractor, sample_rate=sr, suffix=a.suffix, overwrite=a.overwrite,
                          min_seconds=a.min_seconds, metadata=meta)
        print(f"{r['n_written']} written, {r['n_skipped']} skipped (existing), {r['n_failed']} failed -> {a.output_dir}")
    for path, reason in r["failed"]:
        print(f"failed {path}: {reason}", file=sys.stderr)
    return 0
