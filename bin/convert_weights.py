#!/usr/bin/env python
"""Convert Keunwoo Choi's released Keras weights to kerasmgr models (.keras, .h5, .json sidecar).

    python bin/convert_weights.py FORMAT SRC OUT [--mode faithful|per_clip] [--calibration embedded|DIR]

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

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FORMATS = ("choi2017-keras2", "choi2017-keras1-theano", "choi2016-cnn", "choi2016-crnn")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("format", choices=FORMATS)
    p.add_argument("src", help="released weight file")
    p.add_argument("out", help="output stem (writes OUT.keras, OUT.h5, OUT.json)")
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
    if not Path(a.src).is_file():
        print(f"error: {a.src}: no such file", file=sys.stderr)
        return 2
    from kerasmgr.convert import convert

    calibration = a.calibration
    if calibration and calibration != "embedded":
        from kerasmgr.data.datasets import AUDIO_EXTENSIONS, Item, load_waveforms

        files = sorted(q for q in Path(calibration).rglob("*") if q.suffix.lower() in AUDIO_EXTENSIONS)
        audio, _, errors = load_waveforms([Item(str(f)) for f in files], 12000, n_samples=a.n_samples or 348000)
        for path, reason in errors:
            print(f"skipped {path}: {reason}", file=sys.stderr)
        if not len(audio):
            print(f"error: no usable audio in {calibration}", file=sys.stderr)
            return 2
        calibration = audio
    paths = convert(a.format, a.src, a.out, mode=a.mode, n_samples=a.n_samples, calibration=calibration,
                    ordering=a.ordering, bn_reading=a.bn_reading)
    print("wrote " + ", ".join(str(v) for v in paths.values()))
    return 0


if __name__ == "__main__":
    from kerasmgr.cli import run

    run(main)
