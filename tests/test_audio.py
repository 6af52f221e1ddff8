"""Audio loading: decoding, mixing, resampling, and clear errors naming the file."""

import numpy as np
import pytest
import soundfile as sf

from kerasmgr.data.audio import AudioError, fix_length, load_audio
from kerasmgr.data.windows import clip_windows as windows
from kerasmgr.data.datasets import Item, load_waveforms


def test_decode_mix_and_resample(tmp_path):
    t = np.arange(44100) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)], axis=1) * 0.5
    path = tmp_path / "a.wav"
    sf.write(path, stereo, 44100)
    y = load_audio(path, 22050)
    assert y.dtype == np.float32 and y.shape == (22050,)
    assert abs(np.abs(y).max() - 0.25) < 0.01  # averaged channels
    au = tmp_path / "b.au"
    sf.write(au, stereo[:, 0], 44100, format="AU")
    assert load_audio(au, 44100).shape == (44100,)
    assert load_audio(au, 44100, max_seconds=0.5).shape == (22050,)


@pytest.mark.parametrize("case", ["missing", "empty", "not_audio", "nan", "directory"])
def test_bad_input_is_named_with_a_reason(tmp_path, case):
    path = tmp_path / f"{case}.wav"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "not_audio":
        path.write_text("this is not a wav file\n" * 10)
    elif case == "nan":
        sf.write(path, np.array([0.1, np.nan, 0.2] * 100, dtype=np.float32), 8000, subtype="FLOAT")
    elif case == "directory":
        path.mkdir()
    with pytest.raises(AudioError) as err:
        load_audio(path, 8000)
    assert str(path) in str(err.value)
    reason = {"missing": "no such file", "empty": "decode", "not_audio": "decode", "nan": "NaN",
              "directory": "directory"}[case]
    assert reason in str(err.value)


def test_zero_length_wav(tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 8000)
    with pytest.raises(AudioError, match="no samples"):
        load_audio(path, 8000)


def test_load_waveforms_skips_and_reports_bad_files(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, np.full(800, 0.1, dtype=np.float32), 8000)
    bad = tmp_path / "bad.wav"
    bad.write_text("nope")
    audio, ok, errors = load_waveforms([Item(str(good)), Item(str(bad)), Item(str(good))], 8000, n_samples=1000,
                                       progress=False)
    assert audio.shape == (2, 1000) and list(ok) == [0, 2]
    assert errors[0][0] == str(bad) and "decode" in errors[0][1]
    np.testing.assert_array_equal(audio[0, 800:], 0)


def test_fix_length_and_windows():
    y = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(fix_length(y, 4), [3, 4, 5, 6])
    np.testing.assert_array_equal(fix_length(y, 4, mode="start"), [0, 1, 2, 3])
    np.testing.assert_array_equal(fix_length(y, 12)[-2:], [0, 0])
    w = windows(y, 3)
    np.testing.assert_array_equal(w, [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    w = windows(np.arange(11, dtype=np.float32), 3)  # 2 samples left over: one dropped at each end
    np.testing.assert_array_equal(w[:, 0], [1, 4, 7])
    np.testing.assert_array_equal(windows(y, 4, hop=2)[:, 0], [0, 2, 4, 6])
    assert windows(y, 20).shape == (1, 20)


def test_too_short_and_silent_files_can_be_rejected(tmp_path):
    short = tmp_path / "short.wav"
    sf.write(short, np.full(400, 0.1, dtype=np.float32), 8000)  # 0.05 s
    assert load_audio(short, 8000).shape == (400,)
    with pytest.raises(AudioError, match="too short"):
        load_audio(short, 8000, min_seconds=0.5)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(8000, dtype=np.float32), 8000)
    assert load_audio(silent, 8000).shape == (8000,)
    with pytest.raises(AudioError, match="silent"):
        load_audio(silent, 8000, allow_silent=False)


def test_mix_down_and_resampling_equal_numpy_mean_and_librosa_bit_for_bit(tmp_path):
    """The fast mix-down and the direct soxr call change no sample: tagging and extraction
    outputs are those of ``mean(axis=1)`` + ``librosa.resample(res_type='soxr_hq')``."""
    import librosa

    from kerasmgr.data.audio import mix_down, resample

    rng = np.random.default_rng(0)
    for k in (1, 2, 3, 6, 9):
        y = rng.standard_normal((10007, k)).astype(np.float32)
        np.testing.assert_array_equal(mix_down(y), y.mean(axis=1))
    for orig, target in ((44100, 12000), (22050, 12000), (8000, 22050)):
        for n in (1, 7, 4410, 11025, 44101):  # (11025 · 12000/22050 rounds up to 6001 in librosa)
            x = rng.standard_normal(n).astype(np.float32)
            np.testing.assert_array_equal(resample(x, orig, target),
                                          librosa.resample(x, orig_sr=orig, target_sr=target, res_type="soxr_hq"))
    stereo = (0.3 * rng.standard_normal((3 * 44100, 2))).astype(np.float32)
    sf.write(tmp_path / "s.wav", stereo, 44100, subtype="PCM_16")
    raw, _ = sf.read(tmp_path / "s.wav", dtype="float32", always_2d=True)
    expected = librosa.resample(raw.mean(axis=1), orig_sr=44100, target_sr=12000, res_type="soxr_hq")
    np.testing.assert_array_equal(load_audio(tmp_path / "s.wav", 12000), expected)
    # 16-bit files are mixed in integers: still bit-equal, for any channel count, WAV or FLAC
    for k, fmt in ((1, "wav"), (3, "flac"), (6, "wav"), (9, "wav")):
        ints = rng.integers(-32768, 32768, size=(22050, k)).astype(np.int16)
        path = tmp_path / f"i{k}.{fmt}"
        sf.write(path, ints, 22050, subtype="PCM_16")
        floats = sf.read(path, dtype="float32", always_2d=True)[0].mean(axis=1)
        np.testing.assert_array_equal(load_audio(path, 22050), floats)
        np.testing.assert_array_equal(load_audio(path, 12000, max_seconds=0.5),
                                      librosa.resample(floats[:11025], orig_sr=22050, target_sr=12000, res_type="soxr_hq"))
