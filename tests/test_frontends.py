"""Front-ends against librosa, and batch-size invariance."""

import librosa
import numpy as np
import pytest

from kerasmgr import frontends as fe
from conftest import make_signal

SR = 12000


def run(layer, y):
    return np.asarray(layer(np.atleast_2d(y)))[..., 0]


@pytest.mark.parametrize("kind", ["noise", "mix", "chirp"])
def test_mel_db_matches_librosa(kind):
    y = make_signal(kind, SR, 4.0)
    layer = fe.Frontend(kind="mel", sample_rate=SR, n_fft=512, hop_length=256, n_mels=96)
    out = run(layer, y)[0]
    ref = librosa.power_to_db(
        librosa.feature.melspectrogram(y=y, sr=SR, n_fft=512, hop_length=256, n_mels=96),
        ref=1.0, amin=1e-10, top_db=80.0,
    ).T
    assert out.shape == ref.shape == (1 + len(y) // 256, 96)
    np.testing.assert_allclose(out, ref, atol=2e-3)  # dB


def test_stft_magnitude_matches_librosa():
    y = make_signal("mix", SR, 3.0)
    layer = fe.Frontend(kind="stft", sample_rate=SR, n_fft=512, hop_length=256, power=1.0,
                        magnitude_scale="linear")
    out = run(layer, y)[0]
    ref = np.abs(librosa.stft(y, n_fft=512, hop_length=256)).T
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, atol=1e-5 * ref.max())


def test_amplitude_db_and_uncentred_frames():
    y = make_signal("chirp", 22050, 2.0)
    layer = fe.Frontend(kind="stft", sample_rate=22050, n_fft=1024, hop_length=512, center=False, power=1.0,
                        magnitude_scale="db", top_db=None, db_amin=1e-5)
    out = run(layer, y)[0]
    ref = librosa.amplitude_to_db(np.abs(librosa.stft(y, n_fft=1024, hop_length=512, center=False)),
                                  ref=1.0, amin=1e-5, top_db=None).T
    assert out.shape[0] == layer.n_frames(len(y)) == 1 + (len(y) - 1024) // 512
    loud = ref > ref.max() - 60  # float32 FFT rounding dominates far below the peak
    np.testing.assert_allclose(out[loud], ref[loud], atol=2e-3)


def test_natural_log_mel_magnitude():
    y = make_signal("mix", 22050, 1.0)
    layer = fe.Frontend(kind="mel", sample_rate=22050, n_fft=512, hop_length=256, n_mels=80, power=1.0,
                        magnitude_scale="log", log_offset=1e-6)
    mel = librosa.filters.mel(sr=22050, n_fft=512, n_mels=80) @ np.abs(librosa.stft(y, n_fft=512, hop_length=256))
    np.testing.assert_allclose(run(layer, y)[0], np.log(mel + 1e-6).T, atol=2e-4)


@pytest.mark.parametrize("sr,hop,n_bins", [(22050, 256, 80), (12000, 256, 72)])
def test_cqt_matches_librosa(sr, hop, n_bins):
    """Tolerance vs librosa.cqt (which resamples the lower octaves, we do not): the top octave
    within 0.01 % of the maximum; frames farther than half the longest filter from either end
    within 0.5 %; the edge frames within 2.5 %."""
    y = make_signal("mix", sr, 3.0) + make_signal("chirp", sr, 3.0)
    layer = fe.ConstantQ(sample_rate=sr, hop_length=hop, n_bins=n_bins)
    out = np.asarray(layer(y[None, :, None]))[0]
    ref = np.abs(librosa.cqt(y, sr=sr, hop_length=hop, n_bins=n_bins, sparsity=0.0)).T
    assert out.shape == ref.shape == (1 + len(y) // hop, n_bins)
    err = np.abs(out - ref) / ref.max()
    edge = -(-layer.n_fft // 2 // hop)
    assert err[:, -12:].max() <= 1e-4
    assert err[edge:-edge].max() <= 5e-3
    assert err.max() <= 2.5e-2
    # librosa's default (sparsified) basis stays within the same tolerance inside the clip
    ref_default = np.abs(librosa.cqt(y, sr=sr, hop_length=hop, n_bins=n_bins)).T
    assert (np.abs(out - ref_default) / ref.max())[edge:-edge].max() <= 1e-2


def test_cqt_rejects_bins_above_nyquist():
    with pytest.raises(ValueError, match="Nyquist"):
        fe.ConstantQ(sample_rate=8000, n_bins=96)


def test_a_weighting_in_db_domain():
    y = make_signal("noise", SR, 2.0)
    plain = fe.Frontend(kind="mel", sample_rate=SR, top_db=None)
    weighted = fe.Frontend(kind="mel", sample_rate=SR, top_db=None, frequency_weighting="a_weighting")
    a = librosa.A_weighting(librosa.mel_frequencies(n_mels=98, fmin=0, fmax=SR / 2)[1:-1])
    np.testing.assert_allclose(run(weighted, y)[0] - run(plain, y)[0], np.broadcast_to(a, (len(y) // 256 + 1, 96)),
                               atol=1e-3)


def test_a_weighting_linear_domain_multiplies_power():
    y = make_signal("noise", SR, 1.0)
    lin = fe.Frontend(kind="stft", sample_rate=SR, power=2.0, magnitude_scale="linear")
    w = fe.Frontend(kind="stft", sample_rate=SR, power=2.0, magnitude_scale="linear", frequency_weighting="a_weighting")
    with np.errstate(divide="ignore"):
        gain = 10 ** (librosa.A_weighting(librosa.fft_frequencies(sr=SR, n_fft=512)) / 10)
    np.testing.assert_allclose(run(w, y)[0], run(lin, y)[0] * gain, rtol=1e-4, atol=1e-10)


def test_standardisations_and_scaler():
    y = make_signal("mix", SR, 3.0)
    pf = run(fe.Frontend(kind="mel", sample_rate=SR, frequency_weighting="per_frequency"), y)[0]
    np.testing.assert_allclose(pf.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(pf.std(axis=0), 1, atol=1e-3)
    ps = run(fe.Frontend(kind="mel", sample_rate=SR, sample_standardization=True), y)[0]
    assert abs(ps.mean()) < 1e-4 and abs(ps.std() - 1) < 1e-3
    x10 = run(fe.Frontend(kind="mel", sample_rate=SR, sample_standardization=True, scale=10.0), y)[0]
    np.testing.assert_allclose(x10, 10 * ps, rtol=1e-5, atol=1e-5)


CONFIGS = [
    dict(kind="mel", sample_standardization=True),
    dict(kind="mel", magnitude_scale="db", frequency_weighting="per_frequency"),
    dict(kind="stft", magnitude_scale="db", frequency_weighting="a_weighting", scale=10.0),
    dict(kind="mel", power=1.0, magnitude_scale="log"),
    dict(kind="cqt", n_bins=72, magnitude_scale="db"),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_output_does_not_depend_on_the_batch(cfg):
    """Each clip's output is the same alone or in a batch with very different clips (no batch-wide
    maxima or statistics); equal up to float32 rounding of batched kernels."""
    layer = fe.Frontend(sample_rate=SR, **cfg)
    clips = np.stack([make_signal(k, SR, 2.0, seed=i) for i, k in enumerate(["noise", "sine", "chirp", "mix"])])
    clips[1] *= 1e-3  # a quiet clip: a batch-wide dB maximum would change its floor
    batch = np.asarray(layer(clips))
    for i in range(len(clips)):
        alone = np.asarray(layer(clips[i : i + 1]))[0]
        np.testing.assert_allclose(batch[i], alone, atol=1e-4 * max(1.0, np.abs(alone).max()), rtol=0)


def test_per_clip_db_floor():
    layer = fe.Frontend(kind="mel", sample_rate=SR, top_db=80.0)
    loud = make_signal("mix", SR, 1.0)
    out = run(layer, np.stack([loud, loud * 1e-3]))
    for clip in out:
        assert clip.max() - clip.min() <= 80.0 + 1e-3


def test_frontend_config_round_trip_and_helpers():
    layer = fe.Frontend(kind="mel", sample_rate=SR, n_mels=64, frequency_weighting="a_weighting", scale=10.0)
    clone = fe.Frontend.from_config(layer.get_config())
    y = make_signal("noise", SR, 1.0)[None]
    np.testing.assert_array_equal(np.asarray(layer(y)), np.asarray(clone(y)))
    assert layer.n_freq == 64 and len(layer.frequencies()) == 64
    assert layer.filterbank().shape == (257, 64)
    assert layer.n_frames(348000) == 1360
    assert layer.min_samples(1360) == 1359 * 256


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        fe.Frontend(kind="wavelet")
    with pytest.raises(ValueError, match="magnitude_scale"):
        fe.Frontend(magnitude_scale="sqrt")
    with pytest.raises(ValueError, match="frequency_weighting"):
        fe.Frontend(frequency_weighting="b_weighting")
