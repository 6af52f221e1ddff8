"""Print the top tags of audio files with a released or converted model.

    python bin/tag.py song.mp3 other.wav                       # default: the project's k2c2 weights
    python bin/tag.py *.wav --weights converted/compact.h5 --top-n 10 --save tags.csv
    python bin/tag.py long.flac --window 29 --hop 10           # average over overlapping windows
    python bin/tag.py --file-list files.txt --save tags.csv --part auto/16   # one task of a job array

--weights takes a name from kerasmgr.pretrained.available(), a preset folder or a .h5/.keras path (its JSON
sidecar names the tags). Files longer than the model input are cut into windows whose
probabilities are averaged; shorter ones are zero-padded (--short repeat to loop them). Any
sample rate and channel count. Unreadable files are reported and skipped; the exit code is 1 if
any file failed (2 if the weights cannot be loaded).
"""

from __future__ import annotations

import argparse
import sys

from .. import pretrained
from ..inference import inference_batch_size
from ..jobs.extract import input_files
from ..jobs.tag import format_result, tag_files, tag_labels, tag_part, write_csv
from ..parts import parse_part


def main(argv=None):
    p = argparse.ArgumentParser(prog="kerasmgr tag", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", help="audio files and folders (searched recursively, sorted)")
    p.add_argument("--file-list", help="a text file with one audio path per line (for corpora too long for a "
                                       "command line; the same list for every --part)")
    p.add_argument("--weights", default="k2c2-embedded", help="released model name or .h5/.keras path")
    p.add_argument("--top-n", type=int, default=5, help="tags to print per file (default 5)")
    p.add_argument("--save", help="write every tag's score to this CSV")
    p.add_argument("--window", type=float, help="window length in seconds (default: the model input)")
    p.add_argument("--hop", type=float, help="hop between windows in seconds (default: the window)")
    p.add_argument("--short", choices=("pad", "repeat"), default="pad", help="files shorter than a window")
    p.add_argument("--batch-size", type=int, help="segments per forward pass (default: about a minute of audio)")
    p.add_argument("--part", help="K/N or auto/N (Slurm array / Kubernetes Indexed Job index): tag the K-th of N "
                                  "shares of the files into SAVE.part-K-of-N.csv, resumable; merge with "
                                  "bin/merge_parts.py tag SAVE (needs --save), byte for byte the CSV of a single "
                                  "run with the same options")
    a = p.parse_args(argv)
    files, _ = input_files(a.files, file_list=a.file_list)
    if not files:
        p.error("no input files (give files, folders or --file-list)")
    part = parse_part(a.part) if a.part else None
    if part and not a.save:
        p.error("--part needs --save (the CSV the parts merge into)")
    try:
        model, meta = pretrained.load(a.weights)
    except (FileNotFoundError, OSError, ValueError) as e:
        print(f"error: cannot load weights {a.weights!r}: {e}", file=sys.stderr)
        return 2
    if part:
        batch = a.batch_size or inference_batch_size(int(meta["n_samples"]), int(meta["sample_rate"]))
        settings = {"weights": a.weights, "window": a.window, "hop": a.hop, "short": a.short, "batch_size": batch,
                    "sha256": meta.get("sha256")}
        r = tag_part(model, meta, files, a.save, part, settings=settings, window=a.window, hop=a.hop,
                     short=a.short, batch_size=batch, progress=False)
        print(f"part {part[0]}/{part[1]}: {r['n']} files -> {r['csv']} ({r['n_failed']} failed)")
        return 0
    results = tag_files(model, meta, files, top_n=a.top_n, window=a.window, hop=a.hop, short=a.short,
                        batch_size=a.batch_size, progress=False)
    for r in results:
        print(format_result(r))
    if a.save:
        labels = tag_labels(model, meta)
        write_csv(results, labels, a.save)
        print(f"wrote {a.save}")
    failed = [r for r in results if r["status"] != "ok"]
    if failed:
        print(f"{len(failed)} of {len(results)} file(s) could not be tagged", file=sys.stderr)
        return 1
    return 0
