"""Convert Keunwoo Choi's released Keras weights to kerasmgr models (.keras, .h5, .json sidecar).

    python bin/convert_weights.py FORMAT SRC OUT [--mode faithful|per_clip] [--calibration embedded|DIR]
    python bin/convert_weights.py FORMAT SRC --preset DIR     # a preset folder (sha256-checked, model card)

FORMAT                  SRC (from the original projects)
choi2017-keras2         transfer_learning_music: keras2_model/model_best.hdf5
choi2017-keras1-theano  transfer_learning_music: weights_transfer/weights_theano.hdf5
choi2016-cnn            music-auto_tagging-keras: data/music_tagger_cnn_weights_{tensorflow,theano}.h5
choi2016-crnn           music-auto_tagging-keras: data/music_tagger_crnn_weights_{tensorflow,theano}.h5

OUT is an output stem: OUT.keras, OUT.h5 and OUT.json (50 MSD tags in output order, 12 kHz,
input length, front-end, mode) are written. --mode faithful reproduces the original numbers
including their dependence on the batch; per_clip makes every clip independent (for the Theano
compact convnet it freezes batch-norm statistics from --calibration music).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..convert import FORMATS, convert


def main(argv=None):
    p = argparse.ArgumentParser(prog="kerasmgr convert-weights", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("format", choices=FORMATS)
    p.add_argument("src", help="released weight file")
    p.add_argument("out", nargs="?", help="output stem (writes OUT.keras, OUT.h5, OUT.json)")
    p.add_argument("--preset", help="also (or instead of OUT) write a preset folder: config, weights, "
                                    "metadata with sha256, model card (load with kerasmgr.models.from_preset)")
    p.add_argument("--mode", choices=("faithful", "per_clip"), default="faithful")
    p.add_argument("--n-samples", type=int, help="input length at 12 kHz for the compact convnets (348000)")
    p.add_argument("--calibration", help="per_clip mode of choi2017-keras1-theano: a folder of music "
                                         "(decoded at 12 kHz, first 29 s) or 'embedded' (generated stand-in)")
    p.add_argument("--ordering", choices=("tensorflow", "theano"), help="choi2016 kernel ordering (default: detected)")
    p.add_argument("--bn-reading", choices=("published", "trained"),
                   help="choi2016 batch normalisation: 'published' reads running_std as a variance (Keras >= 1.0.7, "
                        "reproduces the author's published CRNN tags), 'trained' as a standard deviation (Keras "
                        "1.0.6, as trained). Default: CRNN published, CNN trained")
    a = p.parse_args(argv)
    if a.out is None and a.preset is None:
        p.error("give OUT, --preset DIR, or both")
    if not Path(a.src).is_file():
        print(f"error: {a.src}: no such file", file=sys.stderr)
        return 2
    paths = convert(a.format, a.src, a.out, preset=a.preset, mode=a.mode, n_samples=a.n_samples, calibration=a.calibration,
                    ordering=a.ordering, bn_reading=a.bn_reading)
    print("wrote " + ", ".join(str(v) for v in paths.values()))
    return 0
