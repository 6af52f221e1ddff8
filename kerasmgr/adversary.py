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

from .frontends import Frontend, find_frontend

__all__ = ["SpectralView", "AdversaryResult", "spectral_adversary", "waveform_adversary", "fgsm",
           "choose_targets", "ensemble", "snr_db", "project_snr", "lowpass", "perturbation_fn", "attack_dataset",
           "attack_ensembles", "binomial_p", "TARGET_MODES", "DNN_MGR", "DNN_MGR_DATASET", "PRESETS"]

#: dnn-mgr's single-excerpt settings (``utils/tensongs_exp.py``) and dataset settings
#: (``utils/create_adversarial_dataset.py``, with the SNR bound it had commented out).
DNN_MGR = dict(snr=15.0, mu=0.1, max_iter=100, stop=0.9)
DNN_MGR_DATASET = dict(snr=15.0, mu=0.01, max_iter=50, stop=0.5)

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
            from .models import kereliuk

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

    def gradient_fn(self, domain, n):
        """The compiled gradient step of the adversaries for excerpts of ``n`` samples (cached, so
        attacking many excerpts traces it once).

        ``'magnitude'``: ``(Y, target, scale) -> (d cost / d Y, mean posteriors)`` for an STFT
        magnitude ``Y`` (frames, bins); ``'waveform'``: ``(x, d, target, scale) -> (d cost / d d,
        mean posteriors)`` at the samples ``x + d``. The cost is :func:`_target_cost`.
        """
        key = (domain, int(n))
        if key not in self._gradient_fns:
            if domain == "magnitude":
                @tf.function(reduce_retracing=True)
                def fn(Y, target, scale):
                    with tf.GradientTape() as tape:
                        tape.watch(Y)
                        logp = self.log_posteriors_from_magnitude(Y, n)
                        cost = _target_cost(logp, target, scale)
                    return tf.convert_to_tensor(tape.gradient(cost, Y)), tf.reduce_mean(tf.exp(logp), 0)
            elif domain == "waveform":
                @tf.function(reduce_retracing=True)
                def fn(x, d, target, scale):
                    with tf.GradientTape() as tape:
                        tape.watch(d)
                        logp = self.log_posteriors_from_waveform(x + d)
                        cost = _target_cost(logp, target, scale)
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
        m = self.min_samples()
        if len(x) < m:
            x = np.pad(x, (0, m - len(x)))
        return x


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
    reached: bool  # target posterior ≥ stop
    domain: str = "spectral"

    @property
    def success(self):
        """The model's decision on the adversarial *audio* is the target."""
        return int(np.argmax(self.audio_posteriors)) == self.target


def _target_cost(logp, target, scale):
    """dnn-mgr's cost: mean negative log-posterior of ``target`` over units, times ``scale``."""
    return -tf.reduce_mean(logp[:, target]) * scale


def _descend(grad, state, update, target, stop, max_iter):
    """Iterate ``state = update(state, g)`` until the target's mean posterior reaches ``stop``.

    ``grad(state) -> (g, mean posteriors)``; ``update`` may return ``None`` to stop early.
    Returns ``(state, iterations, reached, mean posteriors at state)``.
    """
    it = 0
    while True:
        g, pbar = grad(state)
        if float(pbar[target]) >= stop:
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


def spectral_adversary(model, audio, target, *, snr=15.0, mu=0.1, max_iter=100, stop=0.9, momentum=True,
                       griffin_lim=False, view=None):
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

    Returns
    -------
    AdversaryResult
    """
    view = model if isinstance(model, SpectralView) else (view or SpectralView(model))
    target = _check_target(view, target)
    x, X0, phase = _analyse(view, audio)
    n = len(x)
    scale = float(X0.shape[0])  # dnn-mgr: mean NLL × number of frames

    grad = view.gradient_fn("magnitude", n)

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

    Y, it, reached, pbar = _descend(step, X0, update, target, stop, max_iter)
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


def waveform_adversary(model, audio, target, *, snr=30.0, step=0.05, max_iter=100, stop=0.9, view=None):
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
    max_iter, stop
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

    wave_grad = view.gradient_fn("waveform", n)

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

    d, it, reached, pbar = _descend(grad, tf.zeros_like(x), update, target, stop, max_iter)
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


# ------------------------------------------------------------------------------ dataset job
REPORT_FIELDS = ("id", "path", "domain", "true", "original_pred", "original_conf", "target", "adv_pred",
                 "adv_conf", "target_posterior", "reached", "success", "snr_spectral_db", "snr_time_db",
                 "iterations", "lowpass_original_pred", "lowpass_adv_pred", "deployed_original_pred",
                 "deployed_adv_pred", "wav")


def binomial_p(n_correct, n, n_classes):
    """One-sided Binomial test of ``n_correct`` of ``n`` against chance ``1 / n_classes``: the
    probability of at least that many correct answers from a system choosing at random (seed 004
    §5 uses it to reject "the system chooses at random")."""
    from scipy.stats import binomtest

    if n <= 0:
        return float("nan")
    return float(binomtest(int(n_correct), int(n), 1.0 / n_classes, alternative="greater").pvalue)


def _deployed_summary(rows, labels, key):
    from .metrics import classification_metrics

    idx = {c: i for i, c in enumerate(labels)}
    rs = [r for r in rows if r.get(key)]
    if not rs:
        return None
    y = np.array([idx[r["true"]] for r in rs])
    pred = np.array([idx[r[key]] for r in rs])
    m = classification_metrics(y, np.eye(len(labels))[pred], labels)
    k = int((pred == y).sum())
    return {"n": len(rs), "accuracy": m["accuracy"], "normalised_accuracy": m["normalised_accuracy"],
            "n_correct": k, "binomial_p": binomial_p(k, len(rs), len(labels))}


def _load_model(model):
    """A model and its sidecar metadata from a model, a saved file or a released-weights name."""
    from . import pretrained

    if isinstance(model, keras.Model):
        return model, {}
    return pretrained.load(model)


def _done_keys(path, *fields):
    """``{(row[f] for f in fields)}`` of a resumable CSV report (empty when it does not exist yet)."""
    import csv

    if not path.exists():
        return set()
    with open(path) as f:
        return {tuple(r[k] for k in fields) for r in csv.DictReader(f)}


def _read_excerpt(view, path, max_seconds, skipped):
    """The first ``max_seconds`` of a file at the model's rate, or None (the reason appended to
    ``skipped``): an unreadable, silent or too-short file never ends a dataset job."""
    from .data.audio import AudioError, load_audio

    sr = view.sample_rate
    try:
        return load_audio(path, sr, max_seconds=max_seconds, min_seconds=view.min_samples() / sr, allow_silent=False)
    except AudioError as e:
        skipped.append({"path": path, "reason": str(e)})
        return None


def _model_and_excerpts(model, dataset, data_root, split, split_name, split_dir, dataset_kwargs, progress):
    """The attacked softmax model, its view and metadata, the excerpts' split and the label names."""
    from .data.datasets import load_dataset

    model, meta = _load_model(model)
    view = SpectralView(model)
    if view.activation == "sigmoid" or meta.get("task") == "tags":
        raise ValueError("bin/adversary.py attacks single-label (softmax) classifiers; use the library "
                         "functions for tag models")
    kw = dict(dataset_kwargs or {})
    if dataset == "embedded":
        kw.setdefault("sample_rate", view.sample_rate)
        kw.setdefault("progress", progress)
    if split_name:
        kw["split_name"] = split_name
    if split_dir:
        kw["split_dir"] = str(split_dir)
    ds = load_dataset(dataset, data_root, split=split, **kw)
    return model, meta, view, ds, list(meta.get("labels") or ds.labels("genre"))


def attack_dataset(model, out, *, dataset="embedded", data_root=None, split="test", dataset_kwargs=None, limit=None,
                   mode="random", p=None, label=None, snr=15.0, mu=0.1, max_iter=100, stop=0.9, momentum=True,
                   griffin_lim=False, domains=("spectral",), waveform_snr=None, waveform_step=0.05,
                   robustness_snrs=(10.0, 20.0, 30.0, 40.0), lowpass_hz=None, max_seconds=30.0, figures=3,
                   write_audio=True, seed=0, progress=True, deployed=None, split_name=None, split_dir=None):
    """Attack a saved model over a dataset split and write the report (``bin/adversary.py``).

    Parameters
    ----------
    model : keras.Model or str
        Model, ``.keras``/``.h5`` path or released-weights name (single-label softmax models).
    out : str or Path
        Output folder: ``report.csv`` (one row per excerpt and domain, written as each finishes),
        ``summary.json``, ``wav/<id>_<domain>_target-<label>.wav``, ``figures/<id>.png`` (seed 004's
        figure 2), ``robustness.csv``/``robustness.png`` (accuracy against the SNR bound).
    dataset, data_root, split, dataset_kwargs
        As :func:`kerasmgr.data.datasets.load_dataset` (the embedded dataset by default).
    limit : int or None
        Attack at most this many excerpts (the first ones of the split).
    mode, p, label
        Target choice (:func:`choose_targets`).
    snr, mu, max_iter, stop, momentum, griffin_lim
        Spectral adversary settings (:func:`spectral_adversary`; :data:`DNN_MGR` defaults).
    domains : tuple of {'spectral', 'waveform'}
        Adversaries to run; both are reported side by side.
    waveform_snr, waveform_step
        Time-domain SNR bound (default ``snr``) and step of :func:`waveform_adversary`.
    robustness_snrs : sequence of float
        SNR bounds of the robustness curve: accuracy under the spectral adversary with targets
        that are always wrong (seed 004's robustness experiment), per bound; empty to skip.
    lowpass_hz : float or None
        Cut-off of dnn-mgr's 4th-order Butterworth check (default ``min(5000, 0.4 sr)``).
    max_seconds : float
        Excerpt length read from each file (dnn-mgr: the first 30 s).
    figures : int
        Figures for this many excerpts.
    write_audio : bool
        Write the adversarial wavs.
    seed : int
        Target draws.
    deployed : object or None
        The system that is deployed on the model's features, with ``predict_clip(audio) -> int``
        (e.g. :class:`kerasmgr.dnn_features.FeatureForest`, seed 004's headline experiment: the
        adversary attacks the DNN, the random forest on its features classifies the result). Its
        decisions on the original and adversarial audio are reported (``deployed_*`` columns;
        ``summary['deployed']``: accuracy, normalised accuracy, Binomial test against chance, mean
        SNR of the excerpts it misclassifies).
    split_name, split_dir : str or None
        Partition (split lists) of the dataset, as ``bin/train.py --split/--split-dir``.

    Returns
    -------
    dict
        The summary (also ``summary.json``).

    Notes
    -----
    Resumable: excerpts already in ``report.csv`` are skipped. Unreadable or too-short files are
    listed in ``summary.json`` under ``skipped`` and never stop the job.
    """
    import csv
    import json
    from pathlib import Path

    import soundfile as sf
    from tqdm.auto import tqdm

    from . import plots

    model, meta, view, ds, labels = _model_and_excerpts(model, dataset, data_root, split, split_name, split_dir,
                                                        dataset_kwargs, progress)
    sr = view.sample_rate
    out = Path(out)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    n_out = int(model.output_shape[-1])
    if len(labels) != n_out:
        raise ValueError(f"the model has {n_out} outputs but {len(labels)} labels are known")
    items = ds.items[: limit] if limit else ds.items
    index = {c: i for i, c in enumerate(labels)}
    true = np.array([index.get(it.label, -1) for it in items])
    targets = choose_targets(np.maximum(true, 0), mode, n_out, p=p, label=label, seed=seed)
    wrong = choose_targets(np.maximum(true, 0), "wrong", n_out, seed=seed + 1)  # robustness curve
    lowpass_hz = min(5000.0, 0.4 * sr) if lowpass_hz is None else float(lowpass_hz)
    waveform_snr = snr if waveform_snr is None else waveform_snr

    report = out / "report.csv"
    done = _done_keys(report, "id", "domain")
    new_file = not report.exists()
    fh = open(report, "a", newline="")
    writer = csv.DictWriter(fh, fieldnames=REPORT_FIELDS)
    if new_file:
        writer.writeheader()
    skipped, clips = [], {}
    n_fig = 0
    try:
        for i, it in enumerate(tqdm(items, desc="adversaries", disable=not progress)):
            uid = f"{i:05d}_{Path(it.path).stem}"
            if true[i] < 0:
                skipped.append({"path": it.path, "reason": f"label {it.label!r} is not one of the model's labels"})
                continue
            if all((uid, d) in done for d in domains) and not robustness_snrs:
                continue
            x = _read_excerpt(view, it.path, max_seconds, skipped)
            if x is None:
                continue
            clips[i] = x
            for d in domains:
                if (uid, d) in done:
                    continue
                try:
                    if d == "spectral":
                        r = spectral_adversary(view, x, targets[i], snr=snr, mu=mu, max_iter=max_iter, stop=stop,
                                               momentum=momentum, griffin_lim=griffin_lim)
                    else:
                        r = waveform_adversary(view, x, targets[i], snr=waveform_snr, step=waveform_step,
                                               max_iter=max_iter, stop=stop)
                except ValueError as e:  # one excerpt that cannot be attacked never ends the job
                    skipped.append({"path": it.path, "reason": f"{d} adversary: {e}"})
                    continue
                wav = ""
                if write_audio:
                    wav = f"wav/{uid}_{d}_target-{labels[r.target]}.wav"
                    sf.write(out / wav, np.clip(r.audio, -1, 1), sr, subtype="FLOAT")
                lp_o = int(np.argmax(view.posteriors(lowpass(x, sr, lowpass_hz))))
                lp_a = int(np.argmax(view.posteriors(lowpass(r.audio, sr, lowpass_hz))))
                adv_pred = int(np.argmax(r.audio_posteriors))
                dep_o = dep_a = ""
                if deployed is not None:
                    dep_o = labels[int(deployed.predict_clip(x))]
                    dep_a = labels[int(deployed.predict_clip(np.clip(r.audio, -1, 1)))]
                writer.writerow({
                    "id": uid, "path": it.path, "domain": d, "true": labels[true[i]],
                    "original_pred": labels[int(np.argmax(r.original_posteriors))],
                    "original_conf": round(float(np.max(r.original_posteriors)), 4),
                    "target": labels[r.target], "adv_pred": labels[adv_pred],
                    "adv_conf": round(float(r.audio_posteriors[adv_pred]), 4),
                    "target_posterior": round(float(r.posteriors[r.target]), 4), "reached": int(r.reached),
                    "success": int(r.success), "snr_spectral_db": round(r.snr_spectral_db, 3),
                    "snr_time_db": round(r.snr_time_db, 3), "iterations": r.iterations,
                    "lowpass_original_pred": labels[lp_o], "lowpass_adv_pred": labels[lp_a],
                    "deployed_original_pred": dep_o, "deployed_adv_pred": dep_a, "wav": wav})
                fh.flush()
                if d == "spectral" and n_fig < figures and r.magnitude is not None:
                    fig = plots.adversary_figure(r.original_magnitude, r.magnitude, sample_rate=sr,
                                                 hop_length=view.frontend.hop_length, n_fft=view.frontend.n_fft,
                                                 title=f"{Path(it.path).name}: {labels[true[i]]} -> "
                                                       f"{labels[adv_pred]} (target {labels[r.target]}), "
                                                       f"SNR {r.snr_spectral_db:.1f} dB")
                    plots.save_figure(fig, out / "figures" / f"{uid}.png")
                    n_fig += 1
    finally:
        fh.close()

    with open(report) as f:
        rows = list(csv.DictReader(f))
    summary = {"model": meta.get("path", getattr(model, "name", "")), "dataset": dataset, "split": split,
               "mode": mode, "labels": labels, "sample_rate": sr, "lowpass_hz": lowpass_hz,
               "settings": {"snr": snr, "mu": mu, "max_iter": max_iter, "stop": stop, "momentum": momentum,
                            "griffin_lim": griffin_lim, "waveform_snr": waveform_snr,
                            "waveform_step": waveform_step},
               "skipped": skipped, "domains": {}}
    for d in domains:
        rs = [r for r in rows if r["domain"] == d]
        if not rs:
            continue
        def f(k, rs=rs):  # bound explicitly: one domain's rows
            return np.array([float(r[k]) for r in rs])

        snr_s, snr_t = f("snr_spectral_db"), f("snr_time_db")
        summary["domains"][d] = {
            "n": len(rs),
            "accuracy_before": float(np.mean([r["original_pred"] == r["true"] for r in rs])),
            "accuracy_after": float(np.mean([r["adv_pred"] == r["true"] for r in rs])),
            "success_rate": float(f("success").mean()),
            "reached_rate": float(f("reached").mean()),
            "snr_spectral_db": {"mean": float(np.mean(snr_s[np.isfinite(snr_s)])) if np.isfinite(snr_s).any()
                                else None, "min": float(np.min(snr_s)), "max": float(np.max(snr_s))},
            "snr_time_db": {"mean": float(np.mean(snr_t[np.isfinite(snr_t)])) if np.isfinite(snr_t).any()
                            else None, "min": float(np.min(snr_t)), "max": float(np.max(snr_t))},
            "mean_confidence": float(f("adv_conf").mean()),
            "mean_iterations": float(f("iterations").mean()),
            "lowpass_accuracy_original": float(np.mean([r["lowpass_original_pred"] == r["true"] for r in rs])),
            "lowpass_accuracy_adversarial": float(np.mean([r["lowpass_adv_pred"] == r["true"] for r in rs])),
        }

    dep_rows = [r for r in rows if r["domain"] == "spectral" and r.get("deployed_adv_pred")]
    if dep_rows:
        before, after = (_deployed_summary(dep_rows, labels, k) for k in ("deployed_original_pred", "deployed_adv_pred"))
        mis = [float(r["snr_spectral_db"]) for r in dep_rows if r["deployed_adv_pred"] != r["true"]]
        mis = [v for v in mis if np.isfinite(v)]
        summary["deployed"] = {"original": before, "adversarial": after,
                               "mean_snr_misclassified_db": float(np.mean(mis)) if mis else None,
                               "n_misclassified": len(mis)}
    if robustness_snrs:
        curve_path = out / "robustness.csv"
        curve = {}
        if curve_path.exists():
            with open(curve_path) as f:
                curve = {float(r["snr_db"]): r for r in csv.DictReader(f)}
        for s in tqdm(sorted(robustness_snrs), desc="robustness", disable=not progress):
            if float(s) in curve:
                continue
            correct, n = 0, 0
            for i in sorted(clips):
                r = spectral_adversary(view, clips[i], wrong[i], snr=float(s), mu=mu, max_iter=max_iter, stop=stop,
                                       momentum=momentum, griffin_lim=griffin_lim)
                correct += int(np.argmax(r.audio_posteriors)) == true[i]
                n += 1
            curve[float(s)] = {"snr_db": float(s), "accuracy": correct / max(n, 1), "n": n}
            with open(curve_path, "w", newline="") as f:  # rewritten after each bound: nothing lost
                w = csv.DictWriter(f, fieldnames=("snr_db", "accuracy", "n"))
                w.writeheader()
                for k in sorted(curve):
                    w.writerow({kk: curve[k][kk] for kk in ("snr_db", "accuracy", "n")})
        snrs = sorted(curve)
        clean = summary["domains"].get("spectral", {}).get("accuracy_before")
        plots.save_figure(plots.robustness_figure(snrs, [float(curve[k]["accuracy"]) for k in snrs],
                                                  chance=1.0 / n_out, clean=clean,
                                                  title="spectral adversary, always-wrong targets"),
                          out / "robustness.png")
        summary["robustness"] = [{"snr_db": k, "accuracy": float(curve[k]["accuracy"])} for k in snrs]
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


ENSEMBLE_FIELDS = ("id", "path", "true", "target", "reached", "adv_pred", "adv_conf", "snr_spectral_db",
                   "iterations")


def attack_ensembles(model, out, *, dataset="embedded", data_root=None, split="test", split_name=None,
                     split_dir=None, dataset_kwargs=None, limit=None, snr=15.0, mu=0.1, max_iter=100, stop=0.9,
                     momentum=True, griffin_lim=False, max_seconds=30.0, progress=True):
    """Seed 004's ensembles: every excerpt attacked towards every label; the ensemble table.

    Writes ``ensemble.csv`` (one row per excerpt and target, appended as each finishes;
    resumable), ``ensemble.md`` (excerpts × labels: the SNR in dB of the adversary that made the
    model choose that label, ``–`` where none reached ``stop``) and returns a summary: the share
    of (excerpt, label) pairs reached, and their mean SNR.

    Parameters
    ----------
    model : keras.Model or str
        A single-label softmax model (or a saved file).
    out : str or Path
        Output folder.
    dataset, data_root, split, split_name, split_dir, dataset_kwargs, limit, max_seconds
        The excerpts (as :func:`attack_dataset`).
    snr, mu, max_iter, stop, momentum, griffin_lim
        :func:`spectral_adversary` settings (``stop`` is the minimum confidence).

    Returns
    -------
    dict
    """
    import csv
    import json
    from pathlib import Path

    from tqdm.auto import tqdm

    model, meta, view, ds, labels = _model_and_excerpts(model, dataset, data_root, split, split_name, split_dir,
                                                        dataset_kwargs, progress)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    items = ds.items[:limit] if limit else ds.items
    path = out / "ensemble.csv"
    done = _done_keys(path, "id", "target")
    new = not path.exists()
    skipped = []
    with open(path, "a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=ENSEMBLE_FIELDS)
        if new:
            w.writeheader()
        for i, it in enumerate(tqdm(items, desc="ensembles", disable=not progress)):
            uid = f"{i:05d}_{Path(it.path).stem}"
            if all((uid, lab) in done for lab in labels):
                continue
            x = _read_excerpt(view, it.path, max_seconds, skipped)
            if x is None:
                continue
            for t, lab in enumerate(labels):
                if (uid, lab) in done:
                    continue
                r = spectral_adversary(view, x, t, snr=snr, mu=mu, max_iter=max_iter, stop=stop, momentum=momentum,
                                       griffin_lim=griffin_lim)
                pred = int(np.argmax(r.audio_posteriors))
                w.writerow({"id": uid, "path": it.path, "true": it.label, "target": lab, "reached": int(r.reached),
                            "adv_pred": labels[pred], "adv_conf": round(float(r.audio_posteriors[pred]), 4),
                            "snr_spectral_db": round(r.snr_spectral_db, 3), "iterations": r.iterations})
                fh.flush()
    with open(path) as f:
        rows = list(csv.DictReader(f))
    ids = sorted({r["id"] for r in rows})
    cell = {(r["id"], r["target"]): r for r in rows}
    lines = [f"Ensembles: minimum confidence {stop}, SNR bound {snr} dB; cell = spectral SNR (dB) of the "
             f"adversary that made the model choose the column's label, '–' where none did", "",
             "| excerpt (true) | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for uid in ids:
        true = next(r["true"] for r in rows if r["id"] == uid)
        cells = []
        for lab in labels:
            r = cell.get((uid, lab))
            ok = r is not None and r["adv_pred"] == lab and float(r["adv_conf"]) >= stop
            cells.append(f"{float(r['snr_spectral_db']):.1f}" if ok else "–")
        lines.append(f"| {uid} ({true}) | " + " | ".join(cells) + " |")
    reached = [r for r in rows if r["adv_pred"] == r["target"] and float(r["adv_conf"]) >= stop]
    snrs = [float(r["snr_spectral_db"]) for r in reached if np.isfinite(float(r["snr_spectral_db"]))]
    summary = {"n_pairs": len(rows), "n_reached": len(reached), "reached_rate": len(reached) / max(len(rows), 1),
               "mean_snr_db": float(np.mean(snrs)) if snrs else None, "stop": stop, "snr": snr,
               "skipped": skipped}
    lines += ["", f"{len(reached)} of {len(rows)} (excerpt, label) pairs reached; mean SNR "
                  f"{summary['mean_snr_db'] if summary['mean_snr_db'] is None else round(summary['mean_snr_db'], 1)} dB"]
    (out / "ensemble.md").write_text("\n".join(lines) + "\n")
    (out / "ensemble.json").write_text(json.dumps(summary, indent=2))
    return summary
