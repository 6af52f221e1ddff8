"""The embedded default dataset: procedurally generated, genre-labelled and tagged music clips.

No downloads: every clip is synthesised from a seed (:mod:`kerasmgr.data.synth`) and written
once to a cache folder in a GTZAN-like layout, so later runs only read files::

    <cache>/embedded-v1-seed<seed>-<n>x<sec>s-<sr>Hz/
        genres/<genre>/<genre>.000NN.flac     mono, 16-bit FLAC
        tags.csv                              path, genre, tags (';'-separated), tempo, key, mode
        splits/{train,valid,test}_default.txt  dnn-mgr-style split lists (60/20/20 % per genre)
        manifest.json                         generator version, arguments, genres, tags

The cache root is ``$KERASMGR_CACHE`` if set, else ``~/.cache/kerasmgr``.

Eight genre-like classes differ in tempo, rhythm (drum patterns, swing), harmony (progressions,
mode, 7th chords) and timbre (instruments, distortion, reverb), with per-clip randomness in all
of these so classes overlap; each clip also carries 16 multi-label tags derived from what was
actually rendered (instruments, tempo class, mode, swing, distortion, electronic/acoustic), so
the same data serve genre classification and auto-tagging.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .cache import default_cache_dir
from .splits import SUBSETS, stratified_split
from .synth import SCALES, Renderer, midi_to_hz

__all__ = ["GENRES", "TAGS", "VERSION", "generate_clip", "ensure_dataset", "make_gtzan_standin", "make_lmd_standin",
           "clip_seed", "dataset_dir"]

VERSION = 1
GENRES = ("ambient", "bossa", "classical", "hiphop", "jazz", "reggae", "rock", "techno")
TAGS = (
    "drums", "bass", "piano", "guitar", "strings", "synth", "organ", "vocals",
    "distortion", "swing", "fast", "slow", "major", "minor", "electronic", "acoustic",
)

# instrument (mix track) -> tags it implies
_INSTRUMENT_TAGS = {
    "kick": ("drums",), "snare": ("drums",), "hats": ("drums",), "perc": ("drums",),
    "bass": ("bass",), "sub": ("bass", "electronic"), "synthbass": ("bass", "synth", "electronic"),
    "piano": ("piano",), "epiano": ("piano",),
    "guitar": ("guitar",), "distguitar": ("guitar", "distortion"),
    "strings": ("strings",), "pad": ("synth",), "lead": ("synth",), "stabs": ("synth", "electronic"),
    "organ": ("organ",), "vocals": ("vocals",),
}


# ------------------------------------------------------------------------------------ score
class _Score:
    """Tempo, harmony and timing shared by a clip's parts."""

    def __init__(self, rng, *, tempo, mode, key, progression, sevenths, duration, swing=0.0):
        self.rng = rng
        self.tempo = float(tempo)
        self.mode = mode
        self.key = int(key)
        self.beat = 60.0 / self.tempo
        self.bar = 4 * self.beat
        self.swing = swing
        self.offset = -rng.uniform(0, self.bar)  # clips do not all start on a downbeat
        self.n_bars = int(np.ceil((duration - self.offset) / self.bar)) + 1
        self.sevenths = sevenths
        self.progression = [progression[i % len(progression)] for i in range(self.n_bars)]

    def degree(self, d, octave=0):
        scale = SCALES[self.mode]
        return self.key + 12 * (octave + d // 7) + scale[d % 7]

    def chord(self, bar, octave=0):
        d = self.progression[bar]
        notes = [self.degree(d + i, octave) for i in (0, 2, 4)]
        if self.sevenths:
            notes.append(self.degree(d + 6, octave))
        return notes

    def root(self, bar, octave=-1):
        return self.degree(self.progression[bar], octave)

    def time(self, bar, step):
        """Onset in seconds of 16th-note ``step`` of ``bar`` (with swing on off-beat 8ths)."""
        t = self.offset + bar * self.bar + step * self.beat / 4
        if self.swing and step % 4 == 2:
            t += self.swing * self.beat / 4
        return t + self.rng.normal(0, 0.004)


def _drums(r, s, patterns, *, breakdown_p=0.08, vel_jitter=0.15, tones=None):
    """Place one-shots from 16-step ``patterns`` {track: (sound, steps)} bar by bar."""
    for bar in range(s.n_bars):
        if s.rng.random() < breakdown_p:
            continue
        for track, (sound, steps) in patterns.items():
            for step, vel in enumerate(steps):
                if vel and s.rng.random() < min(1.0, vel + 0.1):
                    r.add(track, s.time(bar, step), sound, gain=vel * (1 + s.rng.uniform(-vel_jitter, vel_jitter)))


def _steps(hits, vel=1.0):
    v = np.zeros(16)
    v[list(hits)] = vel
    return v


def _melody(r, s, track, voice_fn, *, octave, density, lengths, start_p=1.0, span=7):
    """A random walk on the scale, ``density`` = probability of a note on each 8th."""
    if s.rng.random() > start_p:
        return False
    d = int(s.rng.integers(0, 5))
    for bar in range(s.n_bars):
        for step in range(0, 16, 2):
            if s.rng.random() < density:
                d = int(np.clip(d + s.rng.integers(-2, 3), -span // 2, span))
                dur = s.beat * float(s.rng.choice(lengths))
                r.add(track, s.time(bar, step), voice_fn(midi_to_hz(s.degree(d, octave)), dur),
                      gain=s.rng.uniform(0.6, 1.0))
    return True


# ------------------------------------------------------------------------------------ genres
def _ambient(r, rng, dur):
    s = _Score(rng, tempo=rng.uniform(60, 84), mode=str(rng.choice(["major", "minor"])), key=rng.integers(48, 60),
               progression=[0, 5, 3, 4] if rng.random() < 0.5 else [0, 3, 0, 4], sevenths=rng.random() < 0.5,
               duration=dur)
    for bar in range(0, s.n_bars, 2):
        for m in s.chord(bar, 0):
            r.add("pad", s.time(bar, 0), r.pad(midi_to_hz(m), 2 * s.bar + 0.5), gain=0.35)
    if rng.random() < 0.4:
        for bar in range(0, s.n_bars, 2):
            r.add("strings", s.time(bar, 0), r.strings(midi_to_hz(s.root(bar, 0)), 2 * s.bar), gain=0.3)
    _melody(r, s, "piano", r.piano, octave=1, density=0.12, lengths=[2, 4], start_p=0.6)
    if rng.random() < 0.3:
        for bar in range(s.n_bars):
            r.add("sub", s.time(bar, 0), r.bass(midi_to_hz(s.root(bar, -1)), s.bar, "sub"), gain=0.4)
    if rng.random() < 0.2:
        _drums(r, s, {"perc": (r.shaker(), _steps(range(0, 16, 2), 0.4))})
    return s, 0.55


def _classical(r, rng, dur):
    s = _Score(rng, tempo=rng.uniform(60, 125), mode="major" if rng.random() < 0.65 else "minor",
               key=rng.integers(50, 62), progression=[0, 3, 4, 0] if rng.random() < 0.5 else [0, 5, 3, 4],
               sevenths=False, duration=dur)
    strings = rng.random() < 0.85
    piano = (not strings) or rng.random() < 0.5
    if strings:
        for bar in range(s.n_bars):
            for half in (0, 8):
                for m in s.chord(bar, -1)[:3]:
                    r.add("strings", s.time(bar, half), r.strings(midi_to_hz(m), 2 * s.beat + 0.1), gain=0.25)
        _melody(r, s, "strings", r.strings, octave=1, density=0.45, lengths=[1, 2], start_p=0.7)
    if piano:
        pattern = [0, 1, 2, 1] if rng.random() < 0.5 else [0, 1, 2, 3]
        for bar in range(s.n_bars):
            ch = s.chord(bar, 0) + [s.chord(bar, 1)[0]]
            for i, step in enumerate(range(0, 16, 2)):
                m = ch[pattern[i % len(pattern)] % len(ch)]
                r.add("piano", s.time(bar, step), r.piano(midi_to_hz(m), s.beat * 1.5), gain=0.4)
    return s, 0.35


def _jazz(r, rng, dur):
    s = _Score(rng, tempo=rng.uniform(100, 190), mode="major" if rng.random() < 0.6 else "minor",
               key=rng.integers(48, 58), progression=[1, 4, 0, 0] if rng.random() < 0.6 else [0, 5, 1, 4],
               sevenths=True, duration=dur, swing=rng.uniform(0.25, 0.35) * 4 / 3)
    _drums(r, s, {
        "perc": (r.ride(), _steps([0, 4, 7, 8, 12, 15], 0.7)),
        "hats": (r.hihat(), _steps([4, 12], 0.6)),
        "kick": (r.kick(0.9), _steps([0], 0.3)),
    }, breakdown_p=0.05)
    for bar in range(s.n_bars):  # walking bass
        target = s.root(bar + 1 if bar + 1 < s.n_bars else bar, -1)
        m = s.root(bar, -1)
        for beat in range(4):
            note = m if beat == 0 else (target + int(rng.choice([-2, -1, 1, 2, 3])) if beat == 3
                                        else s.degree(s.progression[bar] + int(rng.choice([1, 2, 4])), -1))
            r.add("bass", s.time(bar, 4 * beat), r.bass(midi_to_hz(note), s.beat * 0.95), gain=0.7)
    comp = "piano" if rng.random() < 0.8 else "guitar"
    for bar in range(s.n_bars):
        for step in rng.choice([0, 3, 6, 10, 14], size=2, replace=False):
            for m in s.chord(bar, 0):
                snd = r.piano(midi_to_hz(m), s.beat) if comp == "piano" else r.pluck(midi_to_hz(m), s.beat)
                r.add(comp, s.time(bar, int(step)), snd, gain=0.2)
    _melody(r, s, "piano" if rng.random() < 0.5 else "lead", r.piano if rng.random() < 0.5 else r.square_lead,
            octave=1, density=0.5, lengths=[0.5, 1], start_p=0.5)
    return s, 0.25


def _rock(r, rng, dur):
    s = _Score(rng, tempo=rng.uniform(95, 160), mode="major" if rng.random() < 0.5 else "minor",
               key=rng.integers(40, 50), progression=[0, 5, 3, 4] if rng.random() < 0.5 else [0, 6, 5, 6],
               sevenths=False, duration=dur)
    _drums(r, s, {
        "kick": (r.kick(), _steps([0, 8, 10], 1.0)),
        "snare": (r.snare(), _steps([4, 12], 0.9)),
        "hats": (r.hihat(), _steps(range(0, 16, 2), 0.6)),
    })
    dist = rng.random() < 0.85
    for bar in range(s.n_bars):
        root = s.root(bar, 0)
        for step in range(0, 16, 2):
            if dist:
                r.add("distguitar", s.time(bar, step), r.distorted(midi_to_hz(root), s.beat / 2), gain=0.35)
            else:
                for m in s.chord(bar, 0):
                    r.add("guitar", s.time(bar, step), r.pluck(midi_to_hz(m), s.beat / 2), gain=0.2)
            r.add("bass", s.time(bar, step), r.bass(midi_to_hz(s.root(bar, -1)), s.beat / 2), gain=0.5)
    vowel = str(rng.choice(list("aeiou")))
    _melody(r, s, "vocals", lambda f, d: r.voice(f, d, vowel), octave=0, density=0.55, lengths=[0.5, 1, 2],
            start_p=0.55)
    return s, 0.1


def _techno(r, rng, dur):
    s = _Score(rng, tempo=rng.uniform(118, 140), mode="minor" if rng.random() < 0.75 else "major",
               key=rng.integers(36, 46), progression=[0, 0, 0, 0] if rng.random() < 0.5 else [0, 0, 5, 5],
               sevenths=False, duration=dur)
    _drums(r, s, {
        "kick": (r.kick(1.1), _steps([0, 4, 8, 12], 1.0)),
        "hats": (r.hihat(True), _steps([2, 6, 10, 14], 0.6)),
        "snare": (r.clap(), _steps([4, 12], 0.7 if rng.random() < 0.7 else 0.0)),
        "perc": (r.hihat(), _steps(range(16), 0.35 if rng.random() < 0.5 else 0.0)),
    }, breakdown_p=0.1)
    for bar in range(s.n_bars):
        for step in (2, 6, 10, 14):
            r.add("synthbass", s.time(bar, step), r.bass(midi_to_hz(s.root(bar, 0)), s.beat / 2, "synth"), gain=0.4)
    if rng.random() < 0.6:
        arp = [0, 2, 4, 7]
        for bar in range(s.n_bars):
            for step in range(0, 16, 2 if rng.random() < 0.5 else 1):
                d = s.progression[bar] + arp[(step // 2) % 4]
                r.add("stabs", s.time(bar, step), r.saw_synth(midi_to_hz(s.degree(d, 1)), s.beat / 4, 8), gain=0.2)
    else:
        for bar in range(s.n_bars):
            for m in s.chord(bar, 1):
                r.add("pad", s.time(bar, 0), r.pad(midi_to_hz(m), s.bar), gain=0.2)
    return s, 0.15


def _hiphop(r, rng, dur):
    s = _Score(rng, tempo=rng.uniform(75, 102), mode="minor" if rng.random() < 0.7 else "major",
               key=rng.integers(40, 52), progression=[0, 5] * 2 if rng.random() < 0.5 else [0, 3, 5, 4],
               sevenths=rng.random() < 0.6, duration=dur, swing=rng.uniform(0.0, 0.3))
    kick_steps = [0, 3, 10] if rng.random() < 0.5 else [0, 7, 10]
    _drums(r, s, {
        "kick": (r.kick(0.9), _steps(kick_steps, 1.0)),
        "snare": (r.snare(0.9) if rng.random() < 0.5 else r.clap(), _steps([4, 12], 0.9)),
        "hats": (r.hihat(), _steps(range(0, 16, 2 if rng.random() < 0.5 else 1), 0.5)),
    })
    sub = rng.random() < 0.6
    for bar in range(s.n_bars):
        for step in kick_steps:
            snd = r.bass(midi_to_hz(s.root(bar, -1)), s.beat * 1.5, "sub" if sub else "finger")
            r.add("sub" if sub else "bass", s.time(bar, step), snd, gain=0.6)
    keys = "epiano" if rng.random() < 0.6 else "piano"
    for bar in range(s.n_bars):
        for m in s.chord(bar, 0):
            snd = r.epiano(midi_to_hz(m), s.bar * 0.9) if keys == "epiano" else r.piano(midi_to_hz(m), s.bar * 0.9)
            r.add(keys, s.time(bar, 0), snd, gain=0.18)
    if rng.random() < 0.6:  # rap-like: many short notes on a narrow range
        vowels = list("aeiou")
        for bar in range(s.n_bars):
            for step in range(16):
                if rng.random() < 0.55:
                    f = midi_to_hz(s.degree(int(rng.integers(-1, 2)), 0))
                    r.add("vocals", s.time(bar, step), r.voice(f, s.beat / 4, str(rng.choice(vowels))), gain=0.5)
    return s, 0.1


def _reggae(r, rng, dur):
    s = _Score(rng, tempo=rng.uniform(65, 92), mode="major" if rng.random() < 0.6 else "minor",
               key=rng.integers(43, 53), progression=[0, 3] * 2 if rng.random() < 0.5 else [0, 4, 5, 3],
               sevenths=False, duration=dur, swing=0.25 if rng.random() < 0.3 else 0.0)
    _drums(r, s, {
        "kick": (r.kick(), _steps([8], 1.0)),
        "snare": (r.rim() if rng.random() < 0.5 else r.snare(1.2), _steps([8], 0.8)),
        "hats": (r.hihat(), _steps(range(0, 16, 2), 0.5)),
    })
    skank = "organ" if rng.random() < 0.5 else "guitar"
    for bar in range(s.n_bars):
        for step in (2, 6, 10, 14):
            for m in s.chord(bar, 0):
                snd = r.organ(midi_to_hz(m), s.beat / 4) if skank == "organ" else r.pluck(midi_to_hz(m), s.beat / 4)
                r.add(skank, s.time(bar, step), snd, gain=0.22)
        for step, deg in zip((0, 3, 6, 10), (0, 0, 4, 2)):
            if rng.random() < 0.85:
                m = s.degree(s.progression[bar] + deg, -1)
                r.add("bass", s.time(bar, step), r.bass(midi_to_hz(m), s.beat * 0.8), gain=0.7)
    vowel = str(rng.choice(list("aeiou")))
    _melody(r, s, "vocals", lambda f, d: r.voice(f, d, vowel), octave=0, density=0.4, lengths=[1, 2],
            start_p=0.4)
    return s, 0.15


def _bossa(r, rng, dur):
    s = _Score(rng, tempo=rng.uniform(110, 148), mode="major" if rng.random() < 0.6 else "minor",
               key=rng.integers(45, 55), progression=[1, 4, 0, 5] if rng.random() < 0.5 else [0, 0, 1, 4],
               sevenths=True, duration=dur)
    _drums(r, s, {
        "perc": (r.rim(), _steps([0, 3, 6, 10, 13], 0.6)),
        "hats": (r.shaker(), _steps(range(16), 0.4)),
        "kick": (r.kick(0.8), _steps([0, 6, 8, 14], 0.5)),
    }, breakdown_p=0.05)
    for bar in range(s.n_bars):
        for step in (0, 3, 6, 10, 12):
            for m in s.chord(bar, 0):
                r.add("guitar", s.time(bar, step), r.pluck(midi_to_hz(m), s.beat, pos=0.3), gain=0.2)
        for step, deg in ((0, 0), (6, 4), (8, 0), (14, 4)):
            r.add("bass", s.time(bar, step), r.bass(midi_to_hz(s.degree(s.progression[bar] + deg, -1)), s.beat),
                  gain=0.6)
    if rng.random() < 0.5:
        vowel = str(rng.choice(list("aou")))
        _melody(r, s, "vocals", lambda f, d: r.voice(f, d, vowel), octave=0, density=0.45, lengths=[1, 2])
    else:
        _melody(r, s, "piano", r.piano, octave=1, density=0.4, lengths=[0.5, 1], start_p=0.6)
    return s, 0.2


_GENRE_FN = {
    "ambient": _ambient, "bossa": _bossa, "classical": _classical, "hiphop": _hiphop,
    "jazz": _jazz, "reggae": _reggae, "rock": _rock, "techno": _techno,
}


def clip_seed(seed, genre, index):
    """The integer seed of clip ``index`` of ``genre`` (stable across Python versions)."""
    h = hashlib.sha256(f"{seed}:{genre}:{index}".encode()).digest()
    return int.from_bytes(h[:8], "little")


def generate_clip(genre, seed, *, sample_rate=22050, duration=30.0):
    """Synthesise one clip.

    Parameters
    ----------
    genre : str
        One of :data:`GENRES`.
    seed : int
        Clip seed; the same seed gives the same music at every sample rate.
    sample_rate : int
        Sample rate in Hz.
    duration : float
        Length in seconds.

    Returns
    -------
    audio : np.ndarray, float32, shape (round(duration * sample_rate),)
        Mono waveform, peak below 1.
    meta : dict
        ``tags`` (list of :data:`TAGS`), ``tempo`` (BPM), ``key`` (MIDI root), ``mode``.
    """
    if genre not in _GENRE_FN:
        raise ValueError(f"unknown genre {genre!r}; one of {GENRES}")
    score_rng = np.random.default_rng(seed)
    noise_rng = np.random.default_rng([seed, sample_rate])
    r = Renderer(sample_rate, duration, noise_rng)
    s, reverb = _GENRE_FN[genre](r, score_rng, duration)

    # mix: random part gains, occasional dropped part (not the only one), production colour
    names = sorted(r.tracks)
    mix = np.zeros(r.n)
    present = []
    for name in names:
        x = r.tracks[name]
        rms = np.sqrt(np.mean(x * x))
        if rms < 1e-6:
            continue
        if len(names) > 2 and score_rng.random() < 0.07:
            continue
        mix += x * score_rng.uniform(0.6, 1.3)
        present.append(name)
    if reverb > 0:
        mix = r.reverb(mix, score_rng.uniform(1.0, 2.5), min(0.9, reverb * score_rng.uniform(0.6, 1.4)))
    mix = r.lowpass(mix, score_rng.uniform(3500, 11000))
    target_rms = 10 ** (score_rng.uniform(-26, -14) / 20)
    mix *= target_rms / (np.sqrt(np.mean(mix * mix)) + 1e-12)
    mix += noise_rng.standard_normal(r.n) * target_rms * 10 ** (score_rng.uniform(-45, -25) / 20)
    peak = np.abs(mix).max()
    if peak > 0.95:
        mix = 0.95 * np.tanh(mix / peak * 1.2) / np.tanh(1.2)

    tags = set()
    for name in present:
        tags.update(_INSTRUMENT_TAGS[name])
    if s.swing > 0.05:
        tags.add("swing")
    if s.tempo >= 125:
        tags.add("fast")
    if s.tempo < 90:
        tags.add("slow")
    tags.add(s.mode)
    if genre == "techno":
        tags.add("electronic")
    if "electronic" not in tags and "distortion" not in tags and "synth" not in tags:
        tags.add("acoustic")
    meta = {"tags": [t for t in TAGS if t in tags], "tempo": round(s.tempo, 2), "key": int(s.key), "mode": s.mode}
    return mix.astype(np.float32), meta


# ------------------------------------------------------------------------------------ dataset
def _split_of(index, n_per_genre):
    n_test = max(1, round(0.2 * n_per_genre))
    n_valid = max(1, round(0.2 * n_per_genre))
    if index < n_per_genre - n_test - n_valid:
        return "train"
    return "valid" if index < n_per_genre - n_test else "test"


def _in_workers(fn, args, n_jobs):
    """``fn(*a)`` for every ``a`` in ``args``, results in order as they finish (a generator).

    Several jobs run in worker processes that import kerasmgr without TensorFlow (the synthesis is
    numpy/scipy only), which saves each worker seconds of start-up; one job or ``n_jobs=1`` runs
    here.
    """
    n = min(n_jobs or os.cpu_count() or 1, len(args))
    if n <= 1:
        for a in args:
            yield fn(*a)
        return
    from joblib.externals.loky import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=n, env={"KERASMGR_NUMPY_WORKER": "1"}) as pool:
        futures = [pool.submit(fn, *a) for a in args]
        for f in futures:
            yield f.result()


def dataset_dir(*, seed=0, clips_per_genre=40, duration=30.0, sample_rate=22050, root=None):
    """Folder of the embedded dataset with these arguments (see the module docstring)."""
    root = Path(root) if root is not None else default_cache_dir()
    return root / f"embedded-v{VERSION}-seed{seed}-{clips_per_genre}x{duration:g}s-{sample_rate}Hz"


def _write_one(path, genre, cseed, sample_rate, duration):
    import soundfile as sf

    audio, meta = generate_clip(genre, cseed, sample_rate=sample_rate, duration=duration)
    tmp = path.with_name(path.stem + ".part.flac")
    sf.write(tmp, audio, sample_rate, subtype="PCM_16", format="FLAC")
    os.replace(tmp, path)  # atomic: an interrupted run never leaves a half-written clip
    return meta


def ensure_dataset(*, seed=0, clips_per_genre=40, duration=30.0, sample_rate=22050, root=None, n_jobs=None,
                   progress=True):
    """Generate the embedded dataset once (resumable) and return its folder.

    Parameters
    ----------
    seed : int
        Dataset seed.
    clips_per_genre : int
        Clips per genre (>= 3; split 60/20/20 % into train/valid/test).
    duration : float
        Clip length in seconds (30 s covers k2c2's 29 s input).
    sample_rate : int
        Sample rate in Hz of the written files.
    root : str or Path or None
        Cache root (default :func:`default_cache_dir`).
    n_jobs : int or None
        Parallel workers (default: all cores).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    Path
        The dataset folder; ``manifest.json`` in it marks a complete dataset.
    """
    if clips_per_genre < 3:
        raise ValueError("clips_per_genre must be >= 3 (one clip each for train, valid and test)")
    folder = dataset_dir(seed=seed, clips_per_genre=clips_per_genre, duration=duration, sample_rate=sample_rate, root=root)
    manifest = folder / "manifest.json"
    if manifest.exists():
        return folder
    from tqdm.auto import tqdm

    jobs = []
    for genre in GENRES:
        (folder / "genres" / genre).mkdir(parents=True, exist_ok=True)
        for i in range(clips_per_genre):
            rel = f"genres/{genre}/{genre}.{i:05d}.flac"
            jobs.append((rel, genre, clip_seed(seed, genre, i), i))
    # metadata is cheap to recompute from the score; audio already written is kept
    todo = [j for j in jobs if not (folder / j[0]).exists()]
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="embedded dataset", unit="clip",
               disable=not progress)
    metas = {}
    for (rel, *_), meta in zip(todo, _in_workers(_write_one, [(folder / rel, g, cs, sample_rate, duration)
                                                               for rel, g, cs, _ in todo], n_jobs)):
        metas[rel] = meta
        bar.update(1)
    bar.close()
    rows = []
    splits = {"train": [], "valid": [], "test": []}
    for rel, genre, cseed, i in jobs:
        meta = metas.get(rel)
        if meta is None:  # written by an earlier, interrupted run: re-derive the labels only
            meta = generate_clip(genre, cseed, sample_rate=sample_rate, duration=duration)[1]  # labels depend on the mix
        rows.append({"path": rel, "genre": genre, "tags": ";".join(meta["tags"]), "tempo": meta["tempo"],
                     "key": meta["key"], "mode": meta["mode"], "seed": cseed})
        splits[_split_of(i, clips_per_genre)].append(rel)
    with open(folder / "tags.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (folder / "splits").mkdir(exist_ok=True)
    for name, paths in splits.items():
        (folder / "splits" / f"{name}_default.txt").write_text("\n".join(paths) + "\n")
    manifest.write_text(json.dumps({
        "generator": "kerasmgr.data.embedded", "version": VERSION, "seed": seed,
        "clips_per_genre": clips_per_genre, "duration": duration, "sample_rate": sample_rate,
        "genres": list(GENRES), "tags": list(TAGS),
        "splits": {k: len(v) for k, v in splits.items()},
    }, indent=2))
    return folder


# ------------------------------------------------------------------------------------ GTZAN stand-in
def _write_artist(folder, genre, cseed, sample_rate, first, n_excerpts, seconds, layout="gtzan"):
    import soundfile as sf

    audio, _ = generate_clip(genre, cseed, sample_rate=sample_rate, duration=n_excerpts * seconds)
    n = int(round(seconds * sample_rate))
    rels = []
    for k in range(n_excerpts):
        if layout == "lmd":  # <root>/<genre>/<genre>_NNNN.mp3
            rel = f"{genre}/{genre}_{first + k:04d}.mp3"
            path, fmt, subtype = folder / rel, "MP3", "MPEG_LAYER_III"
        else:
            rel = f"{genre}/{genre}.{first + k:05d}.au"
            path, fmt, subtype = folder / "genres" / rel, "AU", "PCM_16"
        tmp = path.with_name(path.stem + ".part" + path.suffix)
        sf.write(tmp, audio[k * n:(k + 1) * n], sample_rate, subtype=subtype, format=fmt)
        os.replace(tmp, path)
        rels.append(rel)
    return rels


def _write_artist_lmd(folder, genre, cseed, sample_rate, first, n_excerpts, seconds):
    return _write_artist(folder, genre, cseed, sample_rate, first, n_excerpts, seconds, layout="lmd")


def make_lmd_standin(root, *, artists_per_genre=3, songs_per_artist=2, song_seconds=35.0, sample_rate=22050, seed=0,
                     n_jobs=None, progress=True):
    """Write a Latin-Music-Database-layout folder of generated music and its artist table.

    Layout (what ``load_dataset('lmd', root, ...)`` reads; split lists come from
    :func:`kerasmgr.data.datasets.write_split_lists` with the artist table)::

        <root>/<genre>/<genre>_NNNN.mp3     MP3, mono, ``sample_rate`` Hz (LMD ships MP3s in genre folders)
        <root>/artists.csv                  path, genre, artist

    Each "artist" is one generated recording cut into ``songs_per_artist`` files, so an artist
    filter matters as it does on the real LMD. Songs longer than 30 s exercise the protocol's
    "first 30 s".

    Returns
    -------
    Path
        ``root``.
    """
    import csv

    from tqdm.auto import tqdm

    if artists_per_genre < 3 or songs_per_artist < 1 or song_seconds <= 0:
        raise ValueError("need artists_per_genre >= 3, songs_per_artist >= 1 and song_seconds > 0")
    root = Path(root)
    jobs = []
    for genre in GENRES:
        (root / genre).mkdir(parents=True, exist_ok=True)
        for a in range(artists_per_genre):
            first = a * songs_per_artist
            done = all((root / genre / f"{genre}_{first + k:04d}.mp3").exists() for k in range(songs_per_artist))
            jobs.append((genre, a, first, done))
    args = [(root, g, clip_seed(seed, g, 2000 + a), sample_rate, first, songs_per_artist, song_seconds)
            for g, a, first, done in jobs if not done]
    for _ in tqdm(_in_workers(_write_artist_lmd, args, n_jobs), total=len(args), desc="LMD stand-in",
                  unit="artist", disable=not progress):
        pass
    with open(root / "artists.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "genre", "artist"])
        w.writerows([(f"{g}/{g}_{first + k:04d}.mp3", g, f"{g}-artist{a}")
                     for g, a, first, _ in jobs for k in range(songs_per_artist)])
    return root


def make_gtzan_standin(root, *, artists_per_genre=8, excerpts_per_artist=3, excerpt_seconds=10.0, sample_rate=22050,
                       seed=0, proportions=(0.5, 0.25, 0.25), n_jobs=None, progress=True):
    """Write a GTZAN-layout folder of generated music with an artist effect and both partitions.

    GTZAN's faults that matter for evaluation (Sturm; Kereliuk, Sturm & Larsen) are repeated
    artists and excerpts of the same recordings on both sides of a random split. The stand-in
    builds that in: each "artist" is one generated recording (same instruments, tempo, key and
    mix throughout) cut into ``excerpts_per_artist`` consecutive excerpts, each a file. Two
    partitions are written as dnn-mgr-style split lists:

    * ``stratified``: a seeded random stratified split of the files (artists straddle the subsets,
      like dnn-mgr's ``stratified`` lists of real GTZAN);
    * ``filtered``: the same proportions, but every artist's files in one subset (the
      fault-filtered protocol).

    Layout (what ``load_dataset('gtzan', root, subset='test', split='filtered')`` reads)::

        <root>/genres/<genre>/<genre>.000NN.au    16-bit AU, mono, ``sample_rate`` Hz
        <root>/splits/{train,valid,test}_{stratified,filtered}.txt   entries '<genre>/<genre>.000NN.wav'
        <root>/artists.csv                        path, genre, artist

    (The lists say ``.wav`` where the files are ``.au``, as dnn-mgr's lists of real GTZAN do.)

    Parameters
    ----------
    root : str or Path
        Output folder (created; existing files are kept, so a rerun is cheap).
    artists_per_genre, excerpts_per_artist : int
        Files per genre = their product.
    excerpt_seconds : float
        Length of each file in seconds.
    sample_rate : int
        Sample rate in Hz (GTZAN: 22,050).
    seed : int
        Music and split seed.
    proportions : (float, float, float)
        Train/valid/test fractions of files (stratified) or artists (filtered).
    n_jobs : int or None
        Parallel workers (default: all cores).
    progress : bool
        tqdm progress bar.

    Returns
    -------
    Path
        ``root``.
    """
    import csv

    from tqdm.auto import tqdm


    if artists_per_genre < 3:
        raise ValueError("artists_per_genre must be >= 3 (one artist each for train, valid and test)")
    if excerpts_per_artist < 1 or excerpt_seconds <= 0:
        raise ValueError("excerpts_per_artist must be >= 1 and excerpt_seconds > 0")
    root = Path(root)
    jobs = []
    for genre in GENRES:
        (root / "genres" / genre).mkdir(parents=True, exist_ok=True)
        for a in range(artists_per_genre):
            first = a * excerpts_per_artist
            names = [root / "genres" / genre / f"{genre}.{first + k:05d}.au" for k in range(excerpts_per_artist)]
            jobs.append((genre, a, first, all(n.exists() for n in names)))
    todo = [j for j in jobs if not j[3]]
    args = [(root, g, clip_seed(seed, g, 1000 + a), sample_rate, first, excerpts_per_artist, excerpt_seconds)
            for g, a, first, _ in todo]
    for _ in tqdm(_in_workers(_write_artist, args, n_jobs), total=len(todo), desc="GTZAN stand-in",
                  unit="artist", disable=not progress):
        pass
    rows = [(f"{g}/{g}.{first + k:05d}.wav", g, f"{g}-artist{a}")
            for g, a, first, _ in jobs for k in range(excerpts_per_artist)]
    with open(root / "artists.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "genre", "artist"])
        w.writerows(rows)
    labels = [g for _, g, _ in rows]
    (root / "splits").mkdir(exist_ok=True)
    for name, groups in (("stratified", None), ("filtered", [a for _, _, a in rows])):
        parts = stratified_split(labels, seed=seed, proportions=proportions, groups=groups)
        for subset in SUBSETS:
            lines = [rows[i][0] for i in sorted(parts[subset])]
            (root / "splits" / f"{subset}_{name}.txt").write_text("\n".join(lines) + "\n")
    return root
