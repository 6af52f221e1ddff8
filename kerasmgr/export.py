"""Export for deployment: TensorFlow SavedModel, TFLite and ONNX, each with its JSON sidecar.

``saved_model`` is Keras' ``Model.export`` of the model as it is (every op TensorFlow has, the
complex STFT included). TFLite and ONNX have no complex tensors, so those two formats export a
*deployment view* of the model (:func:`deployment_view`): the front-end's STFT becomes a strided
convolution with windowed-DFT kernels (real and imaginary parts as separate channels, the
approach of Kapre 0.1 and of Kapre 0.4's batch-size-1 ``STFTTflite``, here for any batch size),
batch normalisation is folded into the convolution before it, and recurrent layers are unrolled
(TFLite's builtin ops have no dynamic loops; CRNN's GRUs run over 15 steps). Everything after the power
spectrum (mel filterbank, dB, standardisation) is the model's own front-end code. The view
computes the same function; its outputs differ from the Keras model's by float rounding only
(the direct DFT sums 512 products where the FFT sums log2(512) stages): :data:`TOLERANCE`.

>>> from kerasmgr import export, pretrained
>>> model, meta = pretrained.load("k2c2-embedded")               # doctest: +SKIP
>>> export.export(model, "out/k2c2", "tflite", metadata=meta)    # doctest: +SKIP
{'tflite': 'out/k2c2/k2c2-embedded.tflite', 'json': 'out/k2c2/k2c2-embedded.json'}
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .frontends.composite import Frontend
from .inference import fold_batch_norm

__all__ = ["FORMATS", "TOLERANCE", "ExportError", "deployment_view", "export", "check_export", "run_exported"]

#: Export formats: TensorFlow SavedModel directory, TFLite flatbuffer, ONNX graph.
FORMATS = ("saved_model", "tflite", "onnx")
#: Largest absolute difference between an exported model's outputs (probabilities in [0, 1]) and
#: the Keras model's that :func:`check_export` accepts. Measured on the embedded test clips:
#: ~1e-6 (SavedModel: 0), ~1e-5 (TFLite, ONNX: the DFT as a convolution, different summation).
TOLERANCE = 1e-4
_EXTENSIONS = {"tflite": ".tflite", "onnx": ".onnx"}


class ExportError(ValueError):
    """A model or format that cannot be exported; the message says which layer or tool and what to do."""


class _DFTFrontend(keras.layers.Layer):
    """Deployment-only stand-in for a :class:`Frontend` of kind 'stft' or 'mel': the STFT power
    ``re² + im²`` from one strided ``Conv1D`` with kernels ``w[n]·cos(2πkn/N)`` and
    ``−w[n]·sin(2πkn/N)``, then the front-end's own filterbank and scaling (never saved)."""

    def __init__(self, frontend, **kwargs):
        super().__init__(name=f"{frontend.name}_dft", **kwargs)
        self.frontend = frontend
        fe = frontend
        window = fe.analysis_window()
        n, k = np.arange(len(window))[:, None], np.arange(fe.n_fft // 2 + 1)[None, :]
        phase = 2 * np.pi * k * n / fe.n_fft
        kernel = np.concatenate([np.cos(phase), -np.sin(phase)], axis=1) * window[:, None]
        win = len(window)
        # weights, not captured constants: tf2onnx would turn captured tensors into graph inputs
        self.kernel = self.add_weight(name="dft_kernel", shape=(win, 1, kernel.shape[1]), trainable=False,
                                      initializer=keras.initializers.Constant(kernel[:, None, :].astype(np.float32)))
        self.mel = None
        if fe.kind == "mel":
            fb = np.asarray(fe.filterbank(), np.float32)
            self.mel = self.add_weight(name="mel_filterbank", shape=fb.shape, trainable=False,
                                       initializer=keras.initializers.Constant(fb))

    def call(self, x):
        fe = self.frontend
        x, n_frames = fe.framed_input(x)
        z = tf.nn.conv1d(x, self.kernel, stride=fe.hop_length, padding="VALID")  # (b, t, 2 · n_freq)
        if n_frames is not None:
            z = z[:, :n_frames]
        nf = fe.n_fft // 2 + 1
        s = tf.math.square(z[..., :nf]) + tf.math.square(z[..., nf:])
        if fe.power == 1.0:
            s = tf.math.sqrt(s)
        elif fe.power != 2.0:
            s = tf.pow(s, fe.power / 2.0)
        if self.mel is not None:
            s = tf.matmul(s, self.mel)  # (b, t, n_freq) @ (n_freq, n_mels): the front-end's filterbank
        return fe.finish(s)


def _check_frontend(layer):
    if type(layer) is not Frontend:  # subclasses (e.g. Kapre01Frontend) compute their own way
        raise ExportError(f"layer {layer.name!r} ({type(layer).__name__}) has no TFLite/ONNX-friendly path; "
                          f"export it as --format saved_model, or rebuild the model with kerasmgr's Frontend")
    if layer.kind == "cqt":
        raise ExportError(f"layer {layer.name!r}: a constant-Q front-end computes with complex kernels and has no "
                          f"TFLite/ONNX-friendly path; export it as --format saved_model")
    if layer.precision == "float64":
        raise ExportError(f"layer {layer.name!r} computes in float64, which TFLite and ONNX runtimes do not run "
                          f"fast or at all; export it as --format saved_model")


def deployment_view(model):
    """The model as TFLite and ONNX can take it: no complex tensors, batch norm folded.

    Parameters
    ----------
    model : keras.Model
        A kerasmgr waveform model (input (batch, n_samples)).

    Returns
    -------
    keras.Model
        Shares the variables of ``model`` (recurrent layers are unrolled copies, holding the
        weights at the time of the call); outputs equal to ``model(x)`` within :data:`TOLERANCE`.

    Raises
    ------
    ExportError
        A layer without a real-valued path (constant-Q or float64 front-ends, Kapre 0.1 ports).
    """
    fronts = [layer for layer in model.layers if isinstance(layer, Frontend)]
    for layer in fronts:
        _check_frontend(layer)
    view = fold_batch_norm(model)
    ids = {id(layer) for layer in fronts}
    rnns = {id(layer) for layer in model.layers if isinstance(layer, keras.layers.RNN) and not layer.unroll}
    if not ids and not rnns:
        return view

    def call(layer, *args, **kwargs):
        if id(layer) in ids:
            return _DFTFrontend(layer)(args[0])
        if id(layer) in rnns:  # TFLite's builtins have no dynamic loops: unroll (a copy of) the layer
            unrolled = type(layer).from_config({**layer.get_config(), "unroll": True})
            out = unrolled(*args, **kwargs)
            unrolled.set_weights(layer.get_weights())
            return out
        return layer(*args, **kwargs)

    return keras.models.clone_model(view, clone_function=lambda layer: layer, call_function=call)


def _signature(model):
    return [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="waveform")]


def _saved_model(model, path):
    model.export(str(path), format="tf_saved_model", input_signature=_signature(model), verbose=False)


def _tflite(model, path):
    with tempfile.TemporaryDirectory(prefix="kerasmgr-export-") as tmp:
        _saved_model(model, tmp)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no TensorFlow ops inside
        try:
            flat = converter.convert()
        except Exception as e:  # the converter's own message lists the ops
            ops = sorted({line.split("'")[1] for line in str(e).splitlines() if "is neither a custom op" in line})
            raise ExportError(f"TFLite cannot convert op(s) {', '.join(ops) or '(see below)'} of model {model.name!r}; "
                              f"export it as --format saved_model.\n{str(e)[-600:]}") from None
    path.write_bytes(flat)


def _onnx(model, path):
    try:
        import tf2onnx  # noqa: F401  (Keras' ONNX export for TensorFlow models uses it)
    except ImportError:
        raise ExportError("ONNX export needs tf2onnx and onnx: pip install 'kerasmgr[export]' "
                          "(or pip install tf2onnx onnxruntime)") from None
    try:
        model.export(str(path), format="onnx", input_signature=_signature(model), verbose=False)
    except Exception as e:
        raise ExportError(f"tf2onnx could not convert model {model.name!r} ({type(e).__name__}: {str(e)[:400]}); "
                          f"export it as --format saved_model or tflite") from None


def export(model, out, fmt, *, metadata=None, name=None):
    """Write ``model`` in a deployment format with its sidecar JSON.

    Parameters
    ----------
    model : keras.Model
        A kerasmgr waveform model.
    out : str or Path
        Output folder (created).
    fmt : {'saved_model', 'tflite', 'onnx'}
    metadata : dict or None
        The model's sidecar (labels, ``sample_rate`` in Hz, ``n_samples``, ...), written as
        ``out/NAME.json`` with an ``export`` entry per format exported to ``out``: file, input
        name and shape (batch, n_samples) float32 waveform in [-1, 1], output shape, tolerance.
    name : str or None
        File stem (default: the metadata's ``name``, else the model's name).

    Returns
    -------
    dict
        ``{fmt: path, 'json': path}``.

    Raises
    ------
    ExportError
        Unknown format, an unconvertible layer, or a missing converter.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(metadata or {})
    meta.pop("path", None)
    stem = name or meta.get("name") or model.name
    target = out / (f"{stem}_saved_model" if fmt == "saved_model" else f"{stem}{_EXTENSIONS[fmt]}")
    tmp = target.with_name(f".{target.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
    if fmt == "saved_model":
        _saved_model(model, tmp)
    else:
        view = deployment_view(model)
        (_tflite if fmt == "tflite" else _onnx)(view, tmp)
    if target.exists():
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    tmp.rename(target)
    side = out / f"{stem}.json"
    exports = {}
    if side.is_file():  # one sidecar per model and folder: it lists every format exported there
        try:
            exports = dict(json.loads(side.read_text()).get("export") or {})
        except (ValueError, AttributeError):
            exports = {}
    exports[fmt] = {"file": target.name, "input": "waveform", "input_shape": [None, *model.input_shape[1:]],
                    "input_dtype": "float32", "output_shape": [None, *model.output_shape[1:]],
                    "tolerance": 0.0 if fmt == "saved_model" else TOLERANCE}
    meta["export"] = exports
    side.write_text(json.dumps(meta, indent=2, default=str))
    return {fmt: str(target), "json": str(side)}


def run_exported(path, x):
    """Run an exported model on a batch of waveforms.

    Parameters
    ----------
    path : str or Path
        A ``*_saved_model`` folder, ``.tflite`` or ``.onnx`` file written by :func:`export`.
    x : np.ndarray, float32, shape (batch, n_samples)

    Returns
    -------
    np.ndarray, shape (batch, n_outputs)
    """
    path = Path(path)
    x = np.asarray(x, np.float32)
    if path.is_dir():
        loaded = tf.saved_model.load(str(path))  # keep the object: its variables live with it
        return np.asarray(loaded.serve(tf.constant(x)))
    if path.suffix == ".tflite":
        interp = tf.lite.Interpreter(model_path=str(path))
        inp = interp.get_input_details()[0]
        interp.resize_tensor_input(inp["index"], x.shape)
        interp.allocate_tensors()
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        return np.asarray(interp.get_tensor(interp.get_output_details()[0]["index"]))
    if path.suffix == ".onnx":
        import onnxruntime as ort

        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return np.asarray(sess.run(None, {sess.get_inputs()[0].name: x})[0])
    raise ExportError(f"{path}: not an exported model (a *_saved_model folder, .tflite or .onnx file)")


def check_export(model, path, x, *, tolerance=TOLERANCE):
    """Largest absolute difference between the exported model's outputs and ``model``'s on ``x``;
    raises :class:`ExportError` if it exceeds ``tolerance``."""
    ref = np.asarray(model(np.asarray(x, np.float32), training=False))
    got = run_exported(path, x)
    err = float(np.max(np.abs(got - ref)))
    if not err <= tolerance:
        raise ExportError(f"{path}: outputs differ from the Keras model's by {err:.2e} (> {tolerance:.0e})")
    return err
