#!/usr/bin/env python
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

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="saved model (.keras/.h5) or released-weights name")
    p.add_argument("--out", required=True)
    p.add_argument("--audio", help="audio file (default: the first test clip of the embedded dataset)")
    p.add_argument("--offset", type=float, default=0.0, help="start of the excerpt in the file (seconds)")
    p.add_argument("--layer", type=int, action="append", help="conv block (1-based; repeatable; default all)")
    p.add_argument("--feature", type=int, action="append", help="feature map (repeatable; default the --top most active)")
    p.add_argument("--top", type=int, default=4, help="features per layer when --feature is not given")
    p.add_argument("--rule", default="deconvnet", choices=("deconvnet", "guided", "saliency"))
    a = p.parse_args(argv)

    import numpy as np

    from kerasmgr import auralisation, pretrained
    from kerasmgr.data.audio import AudioError, load_audio
    from kerasmgr.frontends import find_frontend

    try:
        model, meta = pretrained.load(a.model)
        fe = find_frontend(model)
        if fe is None:
            raise ValueError(f"{a.model}: auralisation needs a waveform model with a Frontend layer")
        sr = int(fe.sample_rate)
        if a.audio:
            y = load_audio(a.audio, sr)
            name = Path(a.audio).name
        else:
            from kerasmgr.data.datasets import load_dataset

            item = load_dataset("embedded", split="test", sample_rate=sr).items[0]
            y, name = load_audio(item.path, sr), Path(item.path).name
        y = y[int(a.offset * sr):]
        if not np.any(y):
            raise ValueError(f"{name}: the excerpt is silent")
        summary = auralisation.run(model, a.out, audio=y, audio_name=name, layers=a.layer, features=a.feature,
                                   top=a.top, rule=a.rule)
    except (ValueError, FileNotFoundError, AudioError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for row in summary["layers"]:
        print(f"layer {row['layer']} ({row['tap']}): features {row['features']}")
    print(auralisation.receptive_field_table(model))
    print(f"written to {a.out}")
    return 0


if __name__ == "__main__":
    from kerasmgr.cli import run

    run(main)
