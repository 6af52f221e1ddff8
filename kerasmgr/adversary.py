"""Music adversaries (seed 004, dnn-mgr) with ``tf.GradientTape``, for any kerasmgr model.

* :func:`spectral_adversary` — Kereliuk, Sturm & Larsen's algorithm: projected gradient descent
  on the linear STFT magnitude ``Y`` of an excerpt, minimising the cross-entropy of a target
  label, with projections onto ``Y ≥ 0`` and onto the spectral-SNR ball
  ``20 log10(‖X0‖_F / ‖Y − X0‖_F) ≥ SNR``, optional FISTA momentum and an optional one-iteration
  Griffin-Lim projection (the magnitude of a real signal); it stops when the target's mean
  posterior over the excerpt's segments reaches ``stop`` or after ``max_iter`` steps. The audio
  is the inverse STFT of ``Y`` with the (original) phase.
* :func:`waveform_adversary` — beyond the seed: the same descent on the samples themselves,
  through the model's own front-end, under a time-domain SNR bound; valid audio by construction.
* :func:`fgsm` — the single signed gradient step (seed 004's adversarial training step).
* :func:`choose_targets` — the paper's target modes; :func:`ensemble` — one excerpt given every
  label.
* :func:`perturbation_fn` — the per-batch perturbation of adversarial training (``bin/train.py
  --adversarial-source``).

Models are seen through a :class:`SpectralView`: waveform models through their STFT/mel
front-end (:meth:`kerasmgr.frontends.Frontend.from_magnitude` and the layers after it), and
dnn-mgr's frame/patch models (``input='frames'``) through dnn-mgr's STFT (Hann 1024 / hop 512 at
22.05 kHz, no padding). An excerpt is cut into the model's non-overlapping segments (frames or
patches for the frame models); the cost is the mean negative log-posterior of the target over
the segments times the number of STFT frames (dnn-mgr's scaling, so ``mu`` means what it meant
there on raw magnitudes of audio in [-1, 1]).

Differences from dnn-mgr, by design: FISTA's extrapolated point is projected again, so every
returned magnitude satisfies both constraints (dnn-mgr applied momentum after the projections
and could leave the set); gradients of the CDNN are taken through its in-model standardisation
(dnn-mgr's ``back_xform`` mapped them with ``(g / istd + mean) * mask``, which is not the chain
rule); the STFT window is TensorFlow's periodic Hann (dnn-mgr: ``np.hanning``, symmetric).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from .data.windows import lengthen
from .frontends import Frontend, find_frontend
from .models import kereliuk

__all__ = ["SpectralView", "AdversaryResult", "spectral_adversary", "waveform_adversary", "fgsm",
           "choose_targets", "ensemble", "snr_db", "project_snr", "lowpass", "perturbation_fn", "binomial_p",
           "TARGET_MODES", "DNN_MGR", "DNN_MGR_DATASET", "PRESETS", "SPECTRAL_SNR_DB", "WAVEFORM_SNR_DB",
           "tag_adversary", "OBJECTIVES"]

#: The SNR bound (dB) of each adversary where a caller gives none: dnn-mgr's 15 dB on the magnitude
#: spectrum, and 30 dB on the waveform (a time-domain bound is the stricter one: 15 dB of white
#: noise is plainly audible on most music). ``bin/adversary.py --snr/--waveform-snr`` default to them.
SPECTRAL_SNR_DB = 15.0
WAVEFORM_SNR_DB = 30.0

#: dnn-mgr's single-excerpt settings (``utils/tensongs_exp.py``) and dataset settings
#: (``utils/create_adversarial_dataset.py``, with the SNR bound it had commented out).
DNN_MGR = dict(snr=SPECTRAL_SNR_DB, mu=0.1, max_iter=100, stop=0.9)
DNN_MGR_DATASET = dict(snr=SPECTRAL_SNR_DB, mu=0.01, max_iter=50, stop=0.5)

#: Algorithm variants. ``'seed'``: seed 004 §3.1 as written -- plain projected gradient descent and,
#: after every step, one Griffin-Lim projection that rebuilds the complex spectrum with the
#: *exemplar's* phase ("where ... is the phase from the exemplar's Fourier transform"), inverts it
#: and takes the magnitude of the resulting signal's DFT. ``'dnn-mgr'``: the authors' released
#: code -- FISTA momentum, no Griffin-Lim step.
PRESETS = {
    "seed": dict(momentum=False, griffin_lim=True),
    "dnn-mgr": dict(momentum=True, griffin_lim=False),
}

TARGET_MODES = ("random", "wrong", "right", "fixed")


def snr_db(reference, perturbed):
    """``20 log10(‖reference‖ / ‖reference − perturbed‖)`` in dB (inf when equal)."""
    reference = np.asarray(reference, dtype=np.float64)
    diff = np.linalg.norm(reference - np.asarray(perturbed, dtype=np.float64))
    if diff == 0:
        return float("inf")
    return float(20 * np.log10(np.linalg.norm(reference) / diff))


def project_snr(Z, X0, snr):
    """Project ``Z`` onto the ball ``‖Z − X0‖_F ≤ ‖X0‖_F / 10^(snr/20)`` (dnn-mgr's step 5).

    ``Y = (Z + ν X0) / (1 + ν)`` with ``ν = max(0, ‖Z − X0‖ / ε − 1)``: a convex combination of
    ``Z`` and ``X0``, so non-negativity is kept; the SNR equals ``snr`` exactly when active.
    ``snr=None`` disables the constraint.
    """
    if snr is None:
        return Z
    eps = tf.norm(X0) / 10.0 ** (snr / 20.0)
    nu = tf.maximum(0.0, tf.norm(Z - X0) / eps - 1.0)
    return (Z + nu * X0) / (1.0 + nu)


class SpectralView:
    """A kerasmgr model as a function of the linear STFT magnitude of an excerpt.

    Parameters
    ----------
    model : keras.Model
        A waveform model with an STFT/mel :class:`~kerasmgr.frontends.Frontend` (layer
        ``"frontend"``), or a dnn-mgr frames model (``dnn``/``cdnn`` with ``input='frames'``).

    Attributes
    ----------
    frontend : Frontend
        The STFT analysis (the model's own, or dnn-mgr's for frame models).
    sample_rate : int
        Hz.
    segment_samples : int
        Samples per model segment (frame models: one hop per frame).
    segment_hop : int
        Samples between consecutive segments (one STFT hop for one-frame models, else a segment).
    """

    def __init__(self, model):
        self.model = model
        fe = find_frontend(model)
        if fe is not None:
            self.kind = "waveform"
            self.frontend = fe
            self.segment_samples = int(model.input_shape[1])
            self.segment_frames = fe.n_frames(self.segment_samples)
            # consecutive segments; a one-frame model (dnn-mgr's DNN) sees every frame
            self.segment_hop = fe.hop_length if self.segment_frames == 1 else self.segment_samples
        else:
            shape = model.input_shape
            if not (len(shape) == 2 and shape[1] == kereliuk.N_BINS) and \
                    not (len(shape) == 4 and shape[2] == kereliuk.N_BINS):
                raise ValueError(f"model {model.name!r} has neither a Frontend layer nor dnn-mgr's frame input "
                                 f"(batch, 513) / (batch, T, 513, 1); input shape {shape}")
            self.kind = "frames"
            self.frontend = Frontend(**kereliuk.FRONTEND)
            self.segment_frames = 1 if len(shape) == 2 else int(shape[1])
            self.segment_samples = self.segment_frames * self.frontend.hop_length
            self.segment_hop = self.segment_samples
        self.sample_rate = int(self.frontend.sample_rate)
        self.spectral = self.frontend.kind != "cqt"
        # Logits of every frame/patch/segment before any averaging, when the model ends in kerasmgr's
        # Dense "output" layer: the cost is then dnn-mgr's mean NLL over frames (or patches) and
        # stays differentiable where a softmax has saturated.
        src = fe.output if self.kind == "waveform" else model.input
        out = next((l for l in model.layers if l.name == "output"), None)
        act = getattr(getattr(out, "activation", None), "__name__", None)
        self.activation = act if act in ("softmax", "sigmoid") else None
        self._output = out if self.activation is not None else None
        end = out.input if self._output is not None else model.output  # else: the model's probabilities
        self._hidden = keras.Model(src, end) if (self.kind == "frames" or self.spectral) else None
        self._hidden_wave = keras.Model(model.input, end) if self.kind == "waveform" else None
        self._gradient_fns = {}

    def gradient_fn(self, domain, n, objective="up"):
        """The compiled gradient step of the adversaries for excerpts of ``n`` samples (cached, so
        attacking many excerpts traces it once).

        ``'magnitude'``: ``(Y, target, scale) -> (d cost / d Y, mean posteriors)`` for an STFT
        magnitude ``Y`` (frames, bins); ``'waveform'``: ``(x, d, target, scale) -> (d cost / d d,
        mean posteriors)`` at the samples ``x + d``. The cost is :func:`_target_cost`: the target's
        negative log-posterior (``objective='up'``) or, for a sigmoid tag, the negative log of its
        absence (``'down'``).
        """
        key = (domain, int(n), objective)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        if key not in self._gradient_fns:
            if domain == "magnitude":
                @tf.function(reduce_retracing=True)
                def fn(Y, target, scale):
                    with tf.GradientTape() as tape:
                        tape.watch(Y)
                        logp = self.log_posteriors_from_magnitude(Y, n)
                        cost = _target_cost(logp, target, scale, objective)
                    return tf.convert_to_tensor(tape.gradient(cost, Y)), tf.reduce_mean(tf.exp(logp), 0)
            elif domain == "waveform":
                @tf.function(reduce_retracing=True)
                def fn(x, d, target, scale):
                    with tf.GradientTape() as tape:
                        tape.watch(d)
                        logp = self.log_posteriors_from_waveform(x + d)
                        cost = _target_cost(logp, target, scale, objective)
                    return tf.convert_to_tensor(tape.gradient(cost, d)), tf.reduce_mean(tf.exp(logp), 0)
            else:
                raise ValueError(f"domain must be 'magnitude' or 'waveform', got {domain!r}")
            self._gradient_fns[key] = fn
        return self._gradient_fns[key]

    def _logits(self, z, hidden=None):
        """Per-unit logits (or log-probabilities on the fallback path), shape (units, n_outputs)."""
        h = (hidden or self._hidden)(z, training=False)
        if self._output is None:
            return tf.math.log(tf.clip_by_value(tf.cast(h, tf.float32), 1e-30, 1.0))
        W, b = self._output.kernel, self._output.bias
        logits = tf.tensordot(tf.cast(h, tf.float32), tf.cast(W, tf.float32), 1) + tf.cast(b, tf.float32)
        return tf.reshape(logits, (-1, logits.shape[-1]))

    def log_probs(self, logits):
        """Log-posteriors from :meth:`_logits` output."""
        if self.activation == "softmax":
            return tf.nn.log_softmax(logits, -1)
        if self.activation == "sigmoid":
            return tf.math.log_sigmoid(logits)
        return logits

    # ----------------------------------------------------------------------------- analysis
    def min_samples(self):
        """Fewest samples of an excerpt (one segment)."""
        if self.kind == "frames":
            return self.frontend.min_samples(self.segment_frames)
        return self.segment_samples

    def stft(self, audio):
        """Complex STFT ``(n_frames, n_fft // 2 + 1)`` of a 1-D excerpt (the model's framing)."""
        return self.frontend.stft(tf.convert_to_tensor(np.asarray(audio, np.float32)[None]))[0]

    def istft(self, spectrum, n_samples):
        """Inverse of :meth:`stft` (:meth:`kerasmgr.frontends.Frontend.istft`), shape (n_samples,)."""
        return self.frontend.istft(tf.convert_to_tensor(spectrum)[None], n_samples)[0]

    # ----------------------------------------------------------------------------- segments
    def n_segments(self, n_samples):
        """Segments the model sees in an excerpt of ``n_samples`` (≥ :meth:`min_samples`)."""
        if self.kind == "frames":
            return self.frontend.n_frames(n_samples) // self.segment_frames
        return max(1, (n_samples - self.segment_samples) // self.segment_hop + 1)

    def _segment_index(self, n_samples):
        """(S, T) frame indices of each segment in the excerpt's STFT."""
        S, T = self.n_segments(n_samples), self.segment_frames
        if self.kind == "frames":
            starts = np.arange(S) * T
        else:  # segment i covers samples [i n, (i + 1) n): its frames start at i n / hop
            starts = np.round(np.arange(S) * self.segment_hop / self.frontend.hop_length).astype(int)
            starts = np.minimum(starts, self.frontend.n_frames(n_samples) - T)
        return starts[:, None] + np.arange(T)[None, :]

    def log_posteriors_from_magnitude(self, Y, n_samples):
        """Log-posteriors of every frame/patch/segment, ``(units, n_outputs)``, from ``(n_frames, F)``.

        Differentiable with respect to the magnitude ``Y`` of an excerpt of ``n_samples``.
        """
        if not self.spectral:
            raise ValueError("a constant-Q model has no STFT magnitude input; use waveform_adversary")
        seg = tf.gather(Y, self._segment_index(n_samples))  # (S, T, F)
        if self.kind == "frames":
            z = seg[:, 0] if self.segment_frames == 1 else seg[..., None]
        else:
            z = self.frontend.from_magnitude(seg)
        return self.log_probs(self._logits(z))

    def log_posteriors_from_waveform(self, x):
        """Log-posteriors of every frame/patch/segment, ``(units, n_outputs)``, from a 1-D excerpt."""
        n = int(x.shape[0])
        if self.kind == "frames":  # through dnn-mgr's STFT
            return self.log_posteriors_from_magnitude(tf.cast(tf.abs(self.frontend.stft(x[None])[0]), tf.float32), n)
        return self.log_probs(self._logits(self._segments(x), self._hidden_wave))  # the model on each segment

    def posteriors(self, audio):
        """The model's mean posterior over the segments of a 1-D excerpt (what it decides)."""
        x = tf.constant(self.prepare(audio))
        if self.kind == "frames":
            return tf.reduce_mean(tf.exp(self.log_posteriors_from_waveform(x)), 0).numpy()
        return np.asarray(self.model(self._segments(x), training=False)).mean(0)

    def _segments(self, x):
        """(S, segment_samples) waveform segments of a 1-D excerpt tensor."""
        S = self.n_segments(int(x.shape[0]))
        return tf.signal.frame(x, self.segment_samples, self.segment_hop)[:S]

    def prepare(self, audio):
        """Excerpt as float32, zero-padded at the end to one segment if shorter."""
        x = np.asarray(audio, dtype=np.float32).reshape(-1)
        if not np.isfinite(x).all():
            raise ValueError("audio contains NaN or inf samples")
        return lengthen(x, self.min_samples(), short="pad")


@dataclass
class AdversaryResult:
    """What an adversary returns (one excerpt, one target)."""

    target: int
    magnitude: np.ndarray = field(repr=False)  # (n_frames, F) adversarial |STFT| (spectral)
    original_magnitude: np.ndarray = field(repr=False)
    audio: np.ndarray = field(repr=False)  # adversarial waveform, the input's length
    snr_spectral_db: float
    snr_time_db: float
    iterations: int
    posteriors: np.ndarray  # mean over segments, as the adversary saw them at the end
    audio_posteriors: np.ndarray  # mean over segments of the model on the adversarial audio
    original_posteriors: np.ndarray
    reached: bool  # target posterior ≥ stop (objective 'up') or ≤ stop ('down')
    domain: str = "spectral"
    objective: str = "class"  # 'class' (single label: make it the decision), 'up' / 'down' (one tag)
    threshold: float = 0.5  # a tag's decision threshold (objectives 'up' and 'down')

    @property
    def success(self):
        """The model's decision on the adversarial *audio* is what the adversary aimed at: the
        target class, or the tag present (``'up'``) or absent (``'down'``) at ``threshold``."""
        if self.objective == "up":
            return bool(self.audio_posteriors[self.target] >= self.threshold)
        if self.objective == "down":
            return bool(self.audio_posteriors[self.target] < self.threshold)
        return int(np.argmax(self.audio_posteriors)) == self.target


def _target_cost(logp, target, scale, objective="up"):
    """dnn-mgr's cost: mean negative log-posterior of ``target`` over units, times ``scale``;
    ``objective='down'``: the mean negative log of ``1 − p`` (a sigmoid tag's absence)."""
    if objective == "down":
        return -tf.reduce_mean(tf.math.log(tf.maximum(1.0 - tf.exp(logp[:, target]), 1e-7))) * scale
    return -tf.reduce_mean(logp[:, target]) * scale


#: What a cost pushes: a class or tag towards 1 (``'up'``), a sigmoid tag towards 0 (``'down'``).
OBJECTIVES = ("up", "down")


def _descend(grad, state, update, target, stop, max_iter, objective="up"):
    """Iterate ``state = update(state, g)`` until the target's mean posterior reaches ``stop``
    (objective ``'down'``: falls to ``stop`` or below).

    ``grad(state) -> (g, mean posteriors)``; ``update`` may return ``None`` to stop early.
    Returns ``(state, iterations, reached, mean posteriors at state)``.
    """
    it = 0
    while True:
        g, pbar = grad(state)
        p = float(pbar[target])
        if (p <= stop) if objective == "down" else (p >= stop):
            return state, it, True, pbar
        if it >= max_iter:
            return state, it, False, pbar
        new = update(state, g)
        if new is None:
            return state, it, False, pbar
        state, it = new, it + 1


def _mean_posterior(view, audio):
    return view.posteriors(np.asarray(audio))


def _time_snr(x, x_adv, n_fft):
    """dnn-mgr's time-domain SNR over ``x[n_fft:-n_fft]`` (the whole excerpt if too short)."""
    if len(x) > 4 * n_fft:
        x, x_adv = x[n_fft:-n_fft], x_adv[n_fft:-n_fft]
    return snr_db(x, x_adv)


def _check_target(view, target):
    n_out = int(view.model.output_shape[-1])
    if not 0 <= int(target) < n_out:
        raise ValueError(f"target {target} outside the model's {n_out} outputs")
    return int(target)


def spectral_adversary(model, audio, target, *, snr=SPECTRAL_SNR_DB, mu=0.1, max_iter=100, stop=0.9, momentum=True,
                       griffin_lim=False, view=None, objective="up"):
    """Seed 004's adversary on the magnitude STFT of one excerpt.

    Parameters
    ----------
    model : keras.Model or SpectralView
    audio : np.ndarray, shape (n_samples,)
        Excerpt at the model's sample rate, in [-1, 1].
    target : int
        Output index the adversary pushes the model towards.
    snr : float or None
        Minimum spectral SNR in dB (``None``: unconstrained).
    mu : float
        Gradient step on raw magnitudes.
    max_iter : int
        Maximum gradient steps.
    stop : float
        Stop once the target's mean posterior over segments reaches this.
    momentum : bool
        FISTA momentum (dnn-mgr's default).
    griffin_lim : bool
        After each step, replace the magnitude by that of the real signal it resynthesises to with
        the exemplar's phase (one Griffin-Lim projection, seed 004 §3.1; :data:`PRESETS`).
    objective : {'up', 'down'}
        ``'down'`` (sigmoid taggers): push the ``target`` tag's posterior down to ``stop``
        (:func:`tag_adversary`).

    Returns
    -------
    AdversaryResult
    """
    view = model if isinstance(model, SpectralView) else (view or SpectralView(model))
    target = _check_target(view, target)
    x, X0, phase = _analyse(view, audio)
    n = len(x)
    scale = float(X0.shape[0])  # dnn-mgr: mean NLL × number of frames

    grad = view.gradient_fn("magnitude", n, objective)

    def step(Y):
        return grad(Y, tf.constant(target), tf.constant(scale, tf.float32))

    st = {"Y_old": X0, "t_old": 1.0, "phase": phase}

    def update(Y, g):
        Z = tf.maximum(Y - mu * g, 0.0)
        if griffin_lim:  # the exemplar's phase every time, as seed 004 §3.1 writes it
            spec = view.stft(view.istft(tf.complex(Z, 0.0) * phase, n).numpy())
            Z = tf.cast(tf.abs(spec), tf.float32)
        Z = project_snr(Z, X0, snr)
        if not momentum:
            return Z
        t = 0.5 + np.sqrt(1.0 + 4.0 * st["t_old"] ** 2) / 2.0
        a = (st["t_old"] - 1.0) / t
        Y = project_snr(tf.maximum(Z + a * (Z - st["Y_old"]), 0.0), X0, snr)
        st["Y_old"], st["t_old"] = Z, t
        return Y

    Y, it, reached, pbar = _descend(step, X0, update, target, stop, max_iter, objective)
    return _spectral_result(view, audio, x, X0, Y, st["phase"], target, it, np.asarray(pbar), reached)


def _analyse(view, audio):
    """Prepared excerpt, its STFT magnitude (float32) and unit phase."""
    x = view.prepare(audio)
    Z0 = view.stft(x)
    phase = tf.math.exp(tf.complex(0.0, tf.cast(tf.math.angle(Z0), tf.float32)))
    return x, tf.cast(tf.abs(Z0), tf.float32), phase


def _spectral_result(view, audio, x, X0, Y, phase, target, iterations, posteriors, reached):
    """Resynthesise ``Y`` with ``phase`` and measure it (SNRs, the model's posteriors on the audio)."""
    x_adv = view.istft(tf.complex(Y, 0.0) * phase, len(x)).numpy()
    return AdversaryResult(
        target=target, magnitude=np.asarray(Y), original_magnitude=np.asarray(X0), audio=x_adv[: len(audio)],
        snr_spectral_db=snr_db(X0, Y), snr_time_db=_time_snr(x, x_adv, view.frontend.n_fft),
        iterations=iterations, posteriors=posteriors, audio_posteriors=_mean_posterior(view, x_adv),
        original_posteriors=_mean_posterior(view, x), reached=reached, domain="spectral")


def waveform_adversary(model, audio, target, *, snr=WAVEFORM_SNR_DB, step=0.05, max_iter=100, stop=0.9, view=None,
                       objective="up"):
    """Projected gradient descent on the samples, through the model's own front-end.

    Each step moves ``δ`` by ``step × radius`` along the normalised negative gradient, then
    projects onto ``‖δ‖ ≤ radius = ‖x‖ / 10^(snr/20)`` and clips ``x + δ`` to [-1, 1]; the result
    is a waveform of the input's length with time-domain SNR ≥ ``snr``.

    Parameters
    ----------
    model : keras.Model or SpectralView
    audio : np.ndarray, shape (n_samples,)
    target : int
    snr : float or None
        Minimum time-domain SNR in dB (``None``: unconstrained; only the [-1, 1] clipping stays).
    step : float
        Step length as a fraction of the SNR ball's radius (unconstrained: of the excerpt's norm).
    max_iter, stop, objective
        As :func:`spectral_adversary`.

    Returns
    -------
    AdversaryResult
        ``magnitude`` holds the STFT magnitude of the adversarial audio (its spectral SNR is
        reported too).
    """
    view = model if isinstance(model, SpectralView) else (view or SpectralView(model))
    target = _check_target(view, target)
    x = tf.constant(view.prepare(audio))
    n = int(x.shape[0])
    norm = float(tf.norm(x))
    if norm == 0:
        raise ValueError("silent audio: a time-domain SNR bound allows no perturbation")
    radius = None if snr is None else norm / 10.0 ** (snr / 20.0)
    length = step * (norm if radius is None else radius)
    scale = float(view.frontend.n_frames(n)) if view.spectral else 1.0

    wave_grad = view.gradient_fn("waveform", n, objective)

    def grad(d):
        return wave_grad(x, d, tf.constant(target), tf.constant(scale, tf.float32))

    def update(d, g):
        gn = tf.norm(g)
        if float(gn) == 0:
            return None
        d = d - length * g / gn
        if radius is not None:
            d = d * tf.minimum(1.0, radius / (tf.norm(d) + 1e-30))
        return tf.clip_by_value(x + d, -1.0, 1.0) - x  # clipping only shrinks |δ|

    d, it, reached, pbar = _descend(grad, tf.zeros_like(x), update, target, stop, max_iter, objective)
    x_adv = (x + d).numpy()
    X0 = Y = None
    if view.spectral:
        X0 = np.abs(view.stft(x.numpy()).numpy())
        Y = np.abs(view.stft(x_adv).numpy())
    return AdversaryResult(
        target=target, magnitude=Y, original_magnitude=X0, audio=x_adv[: len(audio)],
        snr_spectral_db=snr_db(X0, Y) if X0 is not None else float("nan"),
        snr_time_db=snr_db(x.numpy(), x_adv), iterations=it, posteriors=pbar.numpy(),
        audio_posteriors=_mean_posterior(view, x_adv), original_posteriors=_mean_posterior(view, x.numpy()),
        reached=reached, domain="waveform")


def tag_adversary(model, audio, tag, *, direction="down", threshold=0.5, domain="spectral", snr=None, **kwargs):
    """An adversary for multi-label taggers: push one tag's mean posterior above (``'up'``) or below
    (``'down'``) ``threshold``, under the same SNR ball as the single-label adversaries.

    "Remove the top tag" is ``tag=argmax(model's scores), direction='down'``.

    Parameters
    ----------
    model : keras.Model or SpectralView
        A sigmoid tagger.
    audio : np.ndarray, shape (n_samples,)
    tag : int
        Output index of the tag.
    direction : {'up', 'down'}
    threshold : float
        The tag's decision threshold; the descent stops once the tag's mean posterior crosses it.
    domain : {'spectral', 'waveform'}
        :func:`spectral_adversary` (SNR on the magnitude spectrum) or :func:`waveform_adversary`
        (SNR on the samples).
    snr : float or None
        The SNR bound in dB (default: the domain's, :data:`SPECTRAL_SNR_DB` or :data:`WAVEFORM_SNR_DB`).
    **kwargs
        The chosen adversary's other settings (``mu``/``step``, ``max_iter``, ``momentum``, ...).

    Returns
    -------
    AdversaryResult
        ``objective`` is ``direction``; ``success`` tells whether the tag's decision on the
        adversarial *audio* changed as aimed.
    """
    view = model if isinstance(model, SpectralView) else SpectralView(model)
    if view.activation != "sigmoid":
        raise ValueError("tag adversaries need a multi-label (sigmoid) tagger; for a softmax classifier use "
                         "spectral_adversary / waveform_adversary with a target class")
    if direction not in OBJECTIVES:
        raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
    if domain == "spectral":
        r = spectral_adversary(view, audio, tag, snr=SPECTRAL_SNR_DB if snr is None else snr, stop=threshold,
                               objective=direction, **kwargs)
    elif domain == "waveform":
        r = waveform_adversary(view, audio, tag, snr=WAVEFORM_SNR_DB if snr is None else snr, stop=threshold,
                               objective=direction, **kwargs)
    else:
        raise ValueError(f"domain must be 'spectral' or 'waveform', got {domain!r}")
    r.objective, r.threshold = direction, float(threshold)
    return r


def fgsm(model, audio, target, *, mu=0.25, snr=None, domain="spectral", view=None):
    """The single signed gradient step towards ``target`` (seed 004's adversarial-training step).

    Spectral: ``Y = max(X0 − mu · sign(∇), 0)`` (then the SNR ball if ``snr`` is given);
    waveform: ``x − mu · sign(∇)`` clipped to [-1, 1]. Returns an :class:`AdversaryResult`
    with ``iterations=1``.
    """
    view = model if isinstance(model, SpectralView) else (view or SpectralView(model))
    if domain == "spectral":
        return _fgsm_spectral(view, audio, target, mu, snr)
    if domain != "waveform":
        raise ValueError(f"domain must be 'spectral' or 'waveform', got {domain!r}")
    target = _check_target(view, target)
    x = tf.constant(view.prepare(audio))
    with tf.GradientTape() as tape:
        tape.watch(x)
        cost = _target_cost(view.log_posteriors_from_waveform(x), target, 1.0)
    x_adv = tf.clip_by_value(x - mu * tf.sign(tf.convert_to_tensor(tape.gradient(cost, x))), -1.0, 1.0).numpy()
    post = _mean_posterior(view, x_adv)
    return AdversaryResult(target=target, magnitude=None, original_magnitude=None, audio=x_adv[: len(audio)],
                           snr_spectral_db=float("nan"), snr_time_db=snr_db(x.numpy(), x_adv), iterations=1,
                           posteriors=post, audio_posteriors=post, original_posteriors=_mean_posterior(view, x.numpy()),
                           reached=False, domain="waveform")


def _fgsm_spectral(view, audio, target, mu, snr):
    target = _check_target(view, target)
    x, X0, phase = _analyse(view, audio)
    n = len(x)
    with tf.GradientTape() as tape:
        tape.watch(X0)
        cost = _target_cost(view.log_posteriors_from_magnitude(X0, n), target, float(X0.shape[0]))
    Y = project_snr(tf.maximum(X0 - mu * tf.sign(tf.convert_to_tensor(tape.gradient(cost, X0))), 0.0), X0, snr)
    pbar = tf.reduce_mean(tf.exp(view.log_posteriors_from_magnitude(Y, n)), 0).numpy()
    return _spectral_result(view, audio, x, X0, Y, phase, target, 1, pbar, False)


def choose_targets(true_labels, mode, n_classes, *, p=None, label=None, seed=0):
    """Target labels for a set of excerpts (seed 004's modes).

    Parameters
    ----------
    true_labels : array of int, shape (n,)
    mode : {'random', 'wrong', 'right', 'fixed'}
        'random': the true label with probability ``p`` (default ``1 / n_classes``, i.e. uniform
        over all labels), otherwise a uniformly drawn wrong one; 'wrong': always a wrong label;
        'right': always the true label; 'fixed': always ``label``.
    n_classes : int
    p : float or None
    label : int or None
        For mode 'fixed'.
    seed : int

    Returns
    -------
    np.ndarray of int, shape (n,)
    """
    y = np.asarray(true_labels, dtype=int)
    rng = np.random.default_rng(seed)
    if mode not in TARGET_MODES:
        raise ValueError(f"mode must be one of {TARGET_MODES}, got {mode!r}")
    if mode == "right":
        return y.copy()
    if mode == "fixed":
        if label is None or not 0 <= int(label) < n_classes:
            raise ValueError(f"mode 'fixed' needs a label in [0, {n_classes})")
        return np.full_like(y, int(label))
    wrong = (y + rng.integers(1, n_classes, size=len(y))) % n_classes  # uniform over the others
    if mode == "wrong":
        return wrong
    p = 1.0 / n_classes if p is None else float(p)
    return np.where(rng.random(len(y)) < p, y, wrong)


def ensemble(model, audio, *, targets=None, adversary=spectral_adversary, **kwargs):
    """One adversary per label for the same excerpt (seed 004's ensembles).

    Returns
    -------
    list of AdversaryResult
        One per target (default: every output).
    """
    view = model if isinstance(model, SpectralView) else SpectralView(model)
    targets = range(int(view.model.output_shape[-1])) if targets is None else targets
    return [adversary(view, audio, int(t), **kwargs) for t in targets]


def lowpass(audio, sample_rate, cutoff_hz, order=4):
    """dnn-mgr's robustness check filter: Butterworth low-pass (``butter`` + ``lfilter``)."""
    from scipy.signal import butter, lfilter

    if not 0 < cutoff_hz < sample_rate / 2:
        raise ValueError(f"cutoff {cutoff_hz} Hz must lie in (0, {sample_rate / 2}) Hz")
    b, a = butter(order, cutoff_hz / (sample_rate / 2))
    return lfilter(b, a, np.asarray(audio, dtype=np.float64)).astype(np.float32)


# ------------------------------------------------------------------------------ adversarial training
def perturbation_fn(source, *, mu=0.25, domain="spectral", n_classes=None, seed=0):
    """Seed 004's adversarial-training perturbation for ``tf.data`` batches of waveforms.

    Every batch is perturbed by one signed gradient step of the fixed ``source`` model towards
    a random target per clip (uniform over the labels, may equal the true one); the new model
    then trains on the perturbed batch with the true labels. Spectral domain (the paper): the
    step is taken on the source's STFT magnitude (``max(|X| − mu·sign(∇), 0)``) and the batch
    resynthesised with its own phase; waveform domain: ``clip(x − mu·sign(∇), −1, 1)``.

    Parameters
    ----------
    source : keras.Model
        Trained model at the same sample rate, accepting the batch's clip length.
    mu : float
        Step (raw magnitudes; samples in the waveform domain).
    domain : {'spectral', 'waveform'}
    n_classes : int or None
        Labels to draw from (default: the source's outputs).
    seed : int

    Returns
    -------
    callable
        ``(x, y) -> (x_adv, y)`` on batches ``x`` of shape (batch, n_samples).
    """
    if domain not in ("spectral", "waveform"):
        raise ValueError(f"domain must be 'spectral' or 'waveform', got {domain!r}")
    view = SpectralView(source)
    if domain == "spectral" and not view.spectral:
        raise ValueError("a constant-Q source has no STFT magnitude; use domain='waveform'")
    source.trainable = False
    k = int(n_classes or source.output_shape[-1])
    gen = tf.random.Generator.from_seed(seed)

    def perturb(x, y):
        n = int(x.shape[1])
        if n < view.min_samples():
            raise ValueError(f"clips of {n} samples are shorter than the source model's segment")
        targets = gen.uniform([tf.shape(x)[0]], 0, k, dtype=tf.int32)
        if domain == "waveform":
            with tf.GradientTape() as tape:
                tape.watch(x)
                cost = tf.reduce_sum(tf.map_fn(
                    lambda a: _target_cost(view.log_posteriors_from_waveform(a[0]), a[1], 1.0), (x, targets),
                    fn_output_signature=tf.float32))
            return tf.clip_by_value(x - mu * tf.sign(tf.convert_to_tensor(tape.gradient(cost, x))), -1.0, 1.0), y
        Z = view.frontend.stft(x)  # (b, frames, F)
        X = tf.cast(tf.abs(Z), tf.float32)
        phase = tf.math.exp(tf.complex(0.0, tf.cast(tf.math.angle(Z), tf.float32)))
        with tf.GradientTape() as tape:
            tape.watch(X)
            cost = tf.reduce_sum(tf.map_fn(
                lambda a: _target_cost(view.log_posteriors_from_magnitude(a[0], n), a[1], float(X.shape[1])),
                (X, targets), fn_output_signature=tf.float32))
        Y = tf.maximum(X - mu * tf.sign(tf.convert_to_tensor(tape.gradient(cost, X))), 0.0)
        return tf.ensure_shape(view.frontend.istft(tf.complex(Y, 0.0) * phase, n), x.shape), y

    return perturb


def binomial_p(n_correct, n, n_classes):
    """One-sided Binomial test of ``n_correct`` of ``n`` against chance ``1 / n_classes``: the
    probability of at least that many correct answers from a system choosing at random (seed 004
    §5 uses it to reject "the system chooses at random")."""
    from scipy.stats import binomtest

    if n <= 0:
        return float("nan")
    return float(binomtest(int(n_correct), int(n), 1.0 / n_classes, alternative="greater").pvalue)
