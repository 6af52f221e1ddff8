"""Export a released or saved model for deployment: TensorFlow SavedModel, TFLite or ONNX.

    python bin/export.py k2c2-embedded --format tflite --out exported/
    python bin/export.py runs/k2c2/model_best.keras --format onnx --out exported/
    python bin/export.py k2c2-embedded --format saved_model --out exported/

MODEL is a released model name (kerasmgr.pretrained.available()) or a .h5/.keras file. The
exported file is written to --out with the JSON sidecar beside it (labels, sample rate, input
length, and per format the file, input name/shape and tolerance). The export is then checked:
a few generated waveforms go through the exported file (TensorFlow, the TFLite interpreter,
onnxruntime) and the Keras model, and the largest difference is printed (exit 2 if it exceeds
the tolerance). TFLite and ONNX get a real-valued STFT (see kerasmgr.export); ONNX needs
tf2onnx and onnxruntime (pip install 'kerasmgr[export]').
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .. import export, pretrained


def main(argv=None):
    p = argparse.ArgumentParser(prog="kerasmgr export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="released model name or .h5/.keras path")
    p.add_argument("--format", required=True, help=f"export format: {', '.join(export.FORMATS)}")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--name", help="file stem (default: the model's name)")
    p.add_argument("--no-check", action="store_true", help="skip running the exported file against the Keras model")
    a = p.parse_args(argv)
    model, meta = pretrained.load(a.model)
    name = a.name or Path(meta["path"]).stem
    paths = export.export(model, a.out, a.format, metadata=meta, name=name)
    print(f"wrote {paths[a.format]}\n      {paths['json']}")
    if not a.no_check:
        n = int(model.input_shape[1])
        t = np.arange(n) / float(meta.get("sample_rate") or 1)
        rng = np.random.default_rng(0)
        x = np.stack([0.3 * np.sin(2 * np.pi * 440.0 * t), 0.1 * rng.standard_normal(n)]).astype(np.float32)
        err = export.check_export(model, paths[a.format], x)
        print(f"checked: largest difference from the Keras model {err:.1e} (tolerance {export.TOLERANCE:.0e})")
    return 0
