"""On-graph audio front-ends: waveform batch in, ``(batch, time, freq, 1)`` image out.

A package by concern, as Kapre splits ``time_frequency``/``signal``/``backend``/``composed``:
:mod:`~kerasmgr.frontends.framing` (where frames start), :mod:`~kerasmgr.frontends.scaling`
(magnitude scaling and normalisation), :mod:`~kerasmgr.frontends.cqt` (constant-Q),
:mod:`~kerasmgr.frontends.composite` (:class:`Frontend`) and :mod:`~kerasmgr.frontends.legacy`
(ports of older front-ends). Their public names are this package's API.

Built on Kapre 0.4.1 (``kapre.STFT``, ``kapre.Magnitude``, ``kapre.ApplyFilterbank`` and
``kapre.backend.magnitude_to_decibel``) plus a few small registered layers for what Kapre lacks:
centred framing, arbitrary power/log scaling, A-weighting, per-frequency and per-sample
standardisation, a constant scaler (thesis chapter 5) and a constant-Q transform.

Every statistic is computed per clip (never over the batch), so each clip's output is the same
whatever the batch size or batch composition (up to float32 rounding of batched kernels).

The composite layer :class:`Frontend` wires these according to its arguments and is what the model
zoo puts first in every model (named ``"frontend"``).

Examples
--------
>>> import numpy as np, kerasmgr.frontends as fe
>>> mel = fe.Frontend(kind="mel", sample_rate=12000, n_fft=512, hop_length=256, n_mels=96)
>>> mel(np.zeros((2, 348000), "float32")).shape
TensorShape([2, 1360, 96, 1])
"""

from __future__ import annotations

from .composite import KINDS, Frontend, find_frontend
from .cqt import ConstantQ, cqt_kernel
from .framing import FRAMINGS, FramingPad, framing_pads
from .legacy import Kapre01Frontend
from .scaling import (
    FREQUENCY_WEIGHTINGS,
    MAGNITUDE_SCALES,
    Decibel,
    FrequencyWeighting,
    NaturalLog,
    PerFrequencyStandardization,
    PerSampleStandardization,
    Scale,
    a_weighting_db,
)

__all__ = ["Frontend", "Kapre01Frontend", "FramingPad", "framing_pads", "FRAMINGS", "Decibel", "NaturalLog",
           "FrequencyWeighting", "PerFrequencyStandardization", "PerSampleStandardization", "Scale", "ConstantQ",
           "cqt_kernel", "a_weighting_db", "KINDS", "MAGNITUDE_SCALES", "FREQUENCY_WEIGHTINGS", "find_frontend"]
