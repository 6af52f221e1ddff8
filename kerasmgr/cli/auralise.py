"""Auralise the conv features of a model (thesis chapter 7): listen to what each feature responds to.

Examples
--------
    # a clip of the embedded dataset, every conv layer, the 4 most active features of each
    python bin/auralise.py --model runs/k2c2-tags-.../model.keras --out aural/k2c2

    # one file, layer 3, features 5 and 12, guided backprop instead of Choi's deconvnet rule
    python bin/auralise.py --model m.keras --audio song.wav --layer 3 --feature 5 --feature 12 --rule guided --out a

Writes wav/layer<K>_feature<F>.wav (the original STFT masked by the deconvolved map, original
phase), original.wav, deconvolved.png (rows: layers, columns: features), receptive_fields.txt/.json
(thesis Table 7-A for this model) and summary.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..jobs.auralise import run


def main(argv=None):
    p = argparse.ArgumentParser(prog="kerasmgr auralise", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="saved model (.keras/.h5) or released-weights name")
    p.add_argument("--out", required=True)
    p.add_argument("--audio", help="audio file (default: the first test clip of the embedded dataset)")
    p.add_argument("--offset", type=float, default=0.0, help="start of the excerpt in the file (seconds)")
    p.add_argument("--layer", type=int, action="append", help="conv block (1-based; repeatable; default all)")
    p.add_argument("--feature", type=int, action="append", help="feature map (repeatable; default the --top most active)")
    p.add_argument("--top", type=int, default=4, help="features per layer when --feature is not given")
    p.add_argument("--rule", default="deconvnet", choices=("deconvnet", "guided", "saliency"))
    a = p.parse_args(argv)
    summary = run(a.model, a.out, audio=a.audio, offset=a.offset, layers=a.layer, features=a.feature, top=a.top,
                  rule=a.rule)
    for row in summary["layers"]:
        print(f"layer {row['layer']} ({row['tap']}): features {row['features']}")
    print((Path(a.out) / "receptive_fields.txt").read_text(), end="")
    print(f"written to {a.out}")
    return 0
