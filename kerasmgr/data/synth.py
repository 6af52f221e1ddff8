"""Procedural music synthesis used by the embedded dataset (numpy only, deterministic).

Instruments are additive/subtractive models rendered note by note into a buffer; drums are
one-shots placed on a step grid. Everything takes a ``numpy.random.Generator`` so a clip is a
pure function of its seed. The *score* (notes, onsets, instrument parameters) is drawn before any
sample-rate-dependent noise, so the same seed gives the same music at every sample rate.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

__all__ = ["midi_to_hz", "Renderer", "SCALES"]

SCALES = {
    "major": np.array([0, 2, 4, 5, 7, 9, 11]),
    "minor": np.array([0, 2, 3, 5, 7, 8, 10]),
}


def midi_to_hz(m):
    """MIDI note number -> frequency in Hz (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((np.asarray(m, dtype=np.float64) - 69.0) / 12.0)


def _env_adsr(n, sr, attack, decay, sustain, release):
    """Piecewise-linear ADSR envelope of ``n`` samples (times in seconds)."""
    a = max(int(attack * sr), 1)
    d = max(int(decay * sr), 1)
    r = max(int(release * sr), 1)
    env = np.full(n, sustain, dtype=np.float64)
    env[: min(a, n)] = np.linspace(0, 1, a, endpoint=False)[: min(a, n)]
    if a < n:
        seg = np.linspace(1, sustain, d, endpoint=False)[: max(0, min(d, n - a))]
        env[a : a + len(seg)] = seg
    if n > r:
        env[n - r :] *= np.linspace(1, 0, r)
    return env


class Renderer:
    """Render notes and drum hits into a mono buffer.

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz.
    duration : float
        Buffer length in seconds.
    rng : numpy.random.Generator
        Source of randomness for noise-based sounds (drawn after the score).
    """

    def __init__(self, sample_rate, duration, rng):
        self.sample_rate = int(sample_rate)
        self.n = int(round(duration * self.sample_rate))
        self.rng = rng
        self.tracks = {}

    def track(self, name):
        """The buffer of one mix track (created on first use)."""
        if name not in self.tracks:
            self.tracks[name] = np.zeros(self.n, dtype=np.float64)
        return self.tracks[name]

    def add(self, name, start_s, sound, gain=1.0):
        """Add ``sound`` into track ``name`` at ``start_s`` seconds (clipped at the end)."""
        buf = self.track(name)
        i = int(round(start_s * self.sample_rate))
        if i >= self.n or i + len(sound) <= 0:
            return
        j = min(self.n, i + len(sound))
        s0 = max(0, -i)
        buf[max(i, 0) : j] += gain * sound[s0 : s0 + j - max(i, 0)]

    # ----------------------------------------------------------------------------- tones
    def _harmonic(self, f0, dur, amps, *, decay=None, attack=0.005, release=0.05, sustain=1.0,
                  vibrato=0.0, vib_rate=5.5, inharm=0.0, detune=0.0):
        """Additive tone: harmonic k has amplitude ``amps[k-1]`` and optional decay ``decay[k-1]`` (1/s)."""
        sr = self.sample_rate
        n = max(int(dur * sr), 16)
        t = np.arange(n) / sr
        k = np.arange(1, len(amps) + 1)
        fk = k * f0 * np.sqrt(1.0 + inharm * k * k)
        keep = fk < 0.45 * sr
        if not keep.any():
            return np.zeros(n)
        k, fk, amps = k[keep], fk[keep], np.asarray(amps)[keep]
        if vibrato:
            inst = 1.0 + vibrato * np.sin(2 * np.pi * vib_rate * t)
            base_phase = 2 * np.pi * np.cumsum(inst) / sr
        else:
            base_phase = 2 * np.pi * t
        phase = base_phase[None, :] * fk[:, None]
        if detune:
            phase = phase + detune * t[None, :] * 2 * np.pi * k[:, None]
        parts = np.sin(phase) * amps[:, None]
        if decay is not None:
            parts *= np.exp(-np.outer(np.asarray(decay)[keep], t))
        env = _env_adsr(n, sr, attack, 0.1, sustain, release)
        return parts.sum(axis=0) * env

    def piano(self, f0, dur, bright=1.0):
        k = np.arange(1, 14)
        amps = k ** (-1.6 + 0.4 * (bright - 1.0))
        return self._harmonic(f0, dur, amps, decay=1.2 + 0.9 * k, inharm=2e-4, attack=0.003, release=0.08)

    def epiano(self, f0, dur):
        k = np.arange(1, 8)
        amps = np.array([1, 0.15, 0.35, 0.05, 0.1, 0.02, 0.04])
        return self._harmonic(f0, dur, amps, decay=0.9 + 1.5 * k, attack=0.004, release=0.1, vibrato=0.002,
                              vib_rate=4.0)

    def organ(self, f0, dur):
        amps = np.array([1.0, 0.8, 0.6, 0.3, 0, 0.4, 0, 0.3])
        return self._harmonic(f0, dur, amps, attack=0.01, release=0.03)

    def strings(self, f0, dur):
        k = np.arange(1, 24)
        return self._harmonic(f0, dur, 1.0 / k, attack=min(0.25, dur / 3), release=min(0.3, dur / 3),
                              vibrato=0.004, vib_rate=5.5)

    def pad(self, f0, dur):
        k = np.arange(1, 10)
        a = self._harmonic(f0, dur, 1.0 / k ** 2, attack=min(0.8, dur / 2), release=min(0.8, dur / 2))
        b = self._harmonic(f0 * 1.004, dur, 0.7 / k ** 2, attack=min(0.8, dur / 2), release=min(0.8, dur / 2))
        return a + b

    def pluck(self, f0, dur, pos=0.2):
        k = np.arange(1, 18)
        amps = np.abs(np.sin(np.pi * k * pos)) / k ** 1.3
        return self._harmonic(f0, dur, amps, decay=2.0 + 1.2 * k, attack=0.002, release=0.03)

    def saw_synth(self, f0, dur, cutoff_harm=12):
        k = np.arange(1, cutoff_harm + 1)
        return self._harmonic(f0, dur, 1.0 / k, attack=0.005, release=0.03, sustain=0.8, detune=0.7)

    def square_lead(self, f0, dur):
        k = np.arange(1, 16)
        amps = np.where(k % 2 == 1, 1.0 / k, 0.0)
        return self._harmonic(f0, dur, amps, attack=0.01, release=0.05, vibrato=0.003, vib_rate=6.0)

    def distorted(self, f0, dur, drive=6.0):
        k = np.arange(1, 12)
        x = self._harmonic(f0, dur, 1.0 / k, attack=0.004, release=0.03)
        x = x + self._harmonic(f0 * 1.5, dur, 0.7 / k, attack=0.004, release=0.03)
        return np.tanh(drive * x / (np.abs(x).max() + 1e-9)) * 0.6

    def bass(self, f0, dur, kind="finger"):
        if kind == "sub":
            n = max(int(dur * self.sample_rate), 16)
            t = np.arange(n) / self.sample_rate
            f = f0 * (1 + 0.5 * np.exp(-t * 30))
            x = np.sin(2 * np.pi * np.cumsum(f) / self.sample_rate)
            return x * _env_adsr(n, self.sample_rate, 0.003, 0.2, 0.7, 0.05)
        if kind == "synth":
            return self.saw_synth(f0, dur, cutoff_harm=6)
        k = np.arange(1, 8)
        return self._harmonic(f0, dur, 1.0 / k ** 1.8, decay=1.5 + 1.5 * k, attack=0.004, release=0.04)

    def voice(self, f0, dur, vowel):
        """Formant-filtered harmonic source: a crude sung vowel."""
        formants = {"a": (730, 1090, 2440), "e": (530, 1840, 2480), "o": (570, 840, 2410),
                    "u": (300, 870, 2240), "i": (270, 2290, 3010)}[vowel]
        k = np.arange(1, 40)
        fk = k * f0
        amp = np.zeros(len(k))
        for j, (fc, g) in enumerate(zip(formants, (1.0, 0.6, 0.3))):
            amp += g * np.exp(-0.5 * ((fk - fc) / (60 + 30 * j)) ** 2)
        amp = amp / k ** 0.3 + 0.002
        return self._harmonic(f0, dur, amp, attack=0.04, release=0.08, vibrato=0.006, vib_rate=5.0)

    # ----------------------------------------------------------------------------- drums
    def _noise(self, dur):
        return self.rng.standard_normal(max(int(dur * self.sample_rate), 16))

    def kick(self, tone=1.0):
        n = int(0.35 * self.sample_rate)
        t = np.arange(n) / self.sample_rate
        f = 45 * tone + 110 * np.exp(-t * 35)
        x = np.sin(2 * np.pi * np.cumsum(f) / self.sample_rate) * np.exp(-t * 9)
        click = max(int(0.003 * self.sample_rate), 1)
        x[:click] += 0.3 * self._noise(0.003)[:click]
        return x

    def snare(self, tone=1.0):
        n = self._noise(0.2)
        b, a = signal.butter(2, [min(1500 * tone, 0.4 * self.sample_rate), min(6000, 0.45 * self.sample_rate)], "bandpass",
                             fs=self.sample_rate)
        t = np.arange(len(n)) / self.sample_rate
        body = np.sin(2 * np.pi * 185 * tone * t) * np.exp(-t * 30)
        return 0.6 * signal.lfilter(b, a, n) * np.exp(-t * 18) + 0.5 * body

    def rim(self):
        t = np.arange(int(0.04 * self.sample_rate)) / self.sample_rate
        return np.sin(2 * np.pi * min(1700, 0.4 * self.sample_rate) * t) * np.exp(-t * 120)

    def hihat(self, open_=False):
        n = self._noise(0.25 if open_ else 0.05)
        b, a = signal.butter(2, min(7000, 0.42 * self.sample_rate), "highpass", fs=self.sample_rate)
        t = np.arange(len(n)) / self.sample_rate
        return 0.4 * signal.lfilter(b, a, n) * np.exp(-t * (10 if open_ else 70))

    def ride(self):
        t = np.arange(int(0.9 * self.sample_rate)) / self.sample_rate
        fr = np.array([3150, 4270, 5230, 2870, 3900]) * (self.sample_rate / 2 / max(self.sample_rate / 2, 5500))
        x = np.sin(2 * np.pi * fr[:, None] * t[None, :]).sum(0) / len(fr)
        b, a = signal.butter(2, min(5000, 0.42 * self.sample_rate), "highpass", fs=self.sample_rate)
        x = 0.5 * x + 0.3 * signal.lfilter(b, a, self.rng.standard_normal(len(t)))
        return 0.3 * x * np.exp(-t * 4)

    def shaker(self):
        n = self._noise(0.07)
        b, a = signal.butter(2, min(5000, 0.42 * self.sample_rate), "highpass", fs=self.sample_rate)
        env = np.hanning(len(n))
        return 0.25 * signal.lfilter(b, a, n) * env

    def clap(self):
        out = np.zeros(int(0.2 * self.sample_rate))
        for d in (0.0, 0.011, 0.023):
            n = self._noise(0.15) * np.exp(-np.arange(int(0.15 * self.sample_rate)) / self.sample_rate * 35)
            i = int(d * self.sample_rate)
            out[i : i + len(n)] += n[: len(out) - i]
        sr = self.sample_rate
        b, a = signal.butter(2, [min(900, 0.3 * sr), min(5000, 0.45 * sr)], "bandpass", fs=sr)
        return 0.4 * signal.lfilter(b, a, out)

    # ----------------------------------------------------------------------------- effects
    def lowpass(self, x, cutoff):
        b, a = signal.butter(2, min(cutoff, 0.45 * self.sample_rate), "lowpass", fs=self.sample_rate)
        return signal.lfilter(b, a, x)

    def reverb(self, x, seconds, wet):
        n = int(seconds * self.sample_rate)
        t = np.arange(n) / self.sample_rate
        ir = self.rng.standard_normal(n) * np.exp(-t * 6.9 / seconds)
        ir /= np.sqrt((ir ** 2).sum())
        return (1 - wet) * x + wet * signal.fftconvolve(x, ir)[: len(x)]
