"""Converted Choi weights against independent numpy forward passes of the HDF5 files."""

import json

import keras
import numpy as np
import pytest

import kerasmgr  # noqa: F401
from kerasmgr.convert import DEFAULT_BN_READING, build_converted, convert
from kerasmgr.data.datasets import MSD_TAGS
from conftest import SHARED, make_signal
import choi_reference as ref

CHOI2017 = SHARED / "data" / "choi2017"
CHOI2016 = SHARED / "data" / "choi2016"
needs_2017 = pytest.mark.skipif(not CHOI2017.is_dir(), reason="Choi's released weights (../shared/data/choi2017) are absent")
needs_2016 = pytest.mark.skipif(not CHOI2016.is_dir(), reason="Choi's released weights (../shared/data/choi2016) are absent")

SR = 12000


def inputs(n):
    """Noise, a sine, a chirp and a silence-padded sine, each ``n`` samples at 12 kHz."""
    sec = n / SR
    sil = make_signal("sine", SR, sec)
    sil[n // 3 :] = 0.0
    return np.stack([make_signal("noise", SR, sec), make_signal("sine", SR, sec), make_signal("chirp", SR, sec), sil])


def taps(model, names):
    return keras.Model(model.input, [model.get_layer(n).output for n in names])


@needs_2017
def test_keras2_faithful_matches_the_reference_on_a_batch():
    x = inputs(348000)
    model, meta = build_converted("choi2017-keras2", CHOI2017 / "keras2_model_best.hdf5", mode="faithful")
    out = taps(model, ["output"] + [f"elu{i}" for i in range(1, 6)])(x)
    tags = np.asarray(out[0])
    feats = np.concatenate([np.asarray(o).mean(axis=(1, 2)) for o in out[1:]], axis=1)
    want_tags, want_feats = ref.compact_keras2(CHOI2017 / "keras2_model_best.hdf5", x)
    assert np.abs(tags - want_tags).max() < 1e-4
    assert np.abs(feats - want_feats).max() < 1e-3
    assert meta["labels"] == list(MSD_TAGS) and meta["sample_rate"] == 12000


@needs_2017
def test_keras2_per_clip_mode_is_batch_independent_and_matches_per_clip_reference():
    x = inputs(348000)
    model, _ = build_converted("choi2017-keras2", CHOI2017 / "keras2_model_best.hdf5", mode="per_clip")
    batch = model.predict(x, verbose=0)
    want, _ = ref.compact_keras2(CHOI2017 / "keras2_model_best.hdf5", x, per_clip=True)
    assert np.abs(batch - want).max() < 1e-4
    alone = np.concatenate([model.predict(x[i : i + 1], verbose=0) for i in range(len(x))])
    assert np.abs(batch - alone).max() < 1e-5


@needs_2017
def test_keras1_theano_faithful_matches_the_reference():
    x = inputs(348000)
    path = CHOI2017 / "keras1_theano_weights.hdf5"
    model, _ = build_converted("choi2017-keras1-theano", path, mode="faithful")
    out = taps(model, ["output"] + [f"pool{i}" for i in range(1, 6)])(x)
    tags = np.asarray(out[0])
    feats = np.concatenate([np.asarray(o).mean(axis=(1, 2)) for o in out[1:]], axis=1)
    want_tags, want_feats = ref.compact_keras1_theano(path, x)
    assert np.abs(tags - want_tags).max() < 1e-4
    assert np.abs(feats - want_feats).max() < 1e-3


@needs_2017
def test_keras1_theano_per_clip_mode_uses_frozen_calibration_statistics():
    path = CHOI2017 / "keras1_theano_weights.hdf5"
    clips = inputs(348000)
    faithful, _ = build_converted("choi2017-keras1-theano", path, mode="faithful")
    # calibrated on one clip, the per-clip model is the faithful model run on that clip alone
    one, meta = build_converted("choi2017-keras1-theano", path, mode="per_clip", calibration=clips[1:2])
    assert meta["mode"] == "per_clip"
    assert np.abs(one.predict(clips[1:2], verbose=0) - faithful.predict(clips[1:2], verbose=0)).max() < 1e-4
    # calibrated on a set, each clip's output no longer depends on the batch
    model, _ = build_converted("choi2017-keras1-theano", path, mode="per_clip", calibration=clips)
    batch = model.predict(clips, verbose=0)
    alone = np.concatenate([model.predict(clips[i : i + 1], verbose=0) for i in range(len(clips))])
    assert np.abs(batch - alone).max() < 1e-5
    with pytest.raises(ValueError, match="calibration"):
        build_converted("choi2017-keras1-theano", path, mode="per_clip")


@needs_2016
@pytest.mark.parametrize("kind,reading", [("cnn", None), ("crnn", None), ("crnn", "trained")])
@pytest.mark.parametrize("ordering", ["tensorflow", "theano"])
def test_choi2016_taggers_match_the_reference(kind, reading, ordering):
    path = CHOI2016 / f"music_tagger_{kind}_weights_{ordering}.h5"
    x = inputs(349440)
    model, meta = build_converted(f"choi2016-{kind}", path, bn_reading=reading)
    assert meta["ordering"] == ordering
    assert meta["bn_reading"] == (reading or DEFAULT_BN_READING[f"choi2016-{kind}"])
    got = model.predict(x, verbose=0)
    logmel = np.stack([ref.librosa_logmel(c) for c in x])
    want = ref.tagger2016(path, logmel, kind=kind, theano=ordering == "theano", reading=meta["bn_reading"])
    assert np.abs(got - want).max() < 1e-4


EXAMPLES = CHOI2016 / "examples"
needs_examples = pytest.mark.skipif(not (EXAMPLES / "published_tags.json").is_file(),
                                    reason="the original project's example melgrams and published tags "
                                           "(../shared/data/choi2016/examples) are absent")


def _example_melgrams():
    published = json.loads((EXAMPLES / "published_tags.json").read_text())["songs"]
    songs = list(published)
    # the example script stacked the four songs into one (4, 1, 96, 1366) batch
    return songs, published, np.concatenate([np.load(EXAMPLES / f"bensound-{s}.npy")[:, 0] for s in songs])


@needs_2016
@needs_examples
@pytest.mark.parametrize("ordering", ["theano", "tensorflow"])
def test_choi2016_crnn_reproduces_the_published_tags_of_the_example_melgrams(ordering, tmp_path):
    songs, published, melgrams = _example_melgrams()
    model, meta = build_converted("choi2016-crnn", CHOI2016 / f"music_tagger_crnn_weights_{ordering}.h5",
                                  input="melgram")
    assert meta["bn_reading"] == "published" and meta["input"] == "melgram"
    got = model.predict(melgrams, verbose=0)
    for i, song in enumerate(songs):
        # published: top-10 tags with 3 decimals; the port must give each score within +-0.01
        # (measured: within 5e-4, i.e. the printed rounding) and the same top-10 order
        for tag, score in published[song]:
            assert abs(got[i, MSD_TAGS.index(tag)] - score) < 0.01, (song, tag, got[i, MSD_TAGS.index(tag)], score)
        top = [MSD_TAGS[j] for j in np.argsort(-got[i])[:10]]
        want = [t for t, _ in published[song]]
        assert _same_order(top, want, published[song]), (song, top)
    # the Keras 1.0.6 reading (as trained) does not give the published numbers
    trained, _ = build_converted("choi2016-crnn", CHOI2016 / f"music_tagger_crnn_weights_{ordering}.h5",
                                 input="melgram", bn_reading="trained")
    other = trained.predict(melgrams, verbose=0)
    assert max(abs(other[0, MSD_TAGS.index(t)] - s) for t, s in published["cute"]) > 0.1
    # the melgram-input model round-trips through .keras and .h5 (LegacyBatchNorm keeps its reading)
    for ext in ("keras", "h5"):
        model.save(tmp_path / f"crnn.{ext}")
        again = keras.models.load_model(tmp_path / f"crnn.{ext}")
        np.testing.assert_array_equal(again.predict(melgrams, verbose=0), got)


def _same_order(top, want, pairs):
    """``top`` equals ``want`` up to the order inside groups of equal printed scores."""
    score = dict(pairs)
    return len(top) == len(want) and all(t in score and score[t] == score[w] for t, w in zip(top, want))


@needs_2016
@needs_examples
def test_choi2016_cnn_default_reading_avoids_the_published_collapse():
    _, _, melgrams = _example_melgrams()
    path = CHOI2016 / "music_tagger_cnn_weights_theano.h5"
    collapsed = build_converted("choi2016-cnn", path, input="melgram", bn_reading="published")[0].predict(melgrams, verbose=0)
    default, meta = build_converted("choi2016-cnn", path, input="melgram")
    assert meta["bn_reading"] == "trained"
    out = default.predict(melgrams, verbose=0)
    # under Keras >= 1.0.7 (the published reading) three of the four songs get no tag above 0.05
    # (measured: 99.5 % of scores < 1e-3); the default reading tags each song (measured 2-8 tags > 0.05)
    assert (collapsed > 0.05).sum(axis=1).min() == 0
    assert (out > 0.05).sum(axis=1).min() >= 1
    # the jazz piano piece is tagged jazz under the default reading
    assert MSD_TAGS[int(np.argmax(out[3]))] == "jazz"


def test_melgram_input_only_for_the_2016_models_and_readings_are_checked():
    with pytest.raises(ValueError, match="input"):
        build_converted("choi2017-keras2", "missing.h5", input="melgram")
    with pytest.raises(ValueError, match="bn_reading"):
        build_converted("choi2016-crnn", "missing.h5", bn_reading="keras2")


@needs_2017
def test_convert_writes_loadable_files_with_a_sidecar(tmp_path):
    paths = convert("choi2017-keras2", CHOI2017 / "keras2_model_best.hdf5", tmp_path / "compact.keras")
    meta = json.loads(paths["json"].read_text())
    assert meta["model"] == "choi2017-keras2" and len(meta["labels"]) == 50
    x = inputs(348000)[:2]
    a = keras.models.load_model(paths["keras"]).predict(x, verbose=0)
    b = keras.models.load_model(paths["h5"]).predict(x, verbose=0)
    np.testing.assert_array_equal(a, b)


@needs_2017
def test_convert_weights_writes_a_verified_preset_with_a_model_card(tmp_path):
    from conftest import run_cli
    from kerasmgr import models, pretrained

    r = run_cli("convert_weights.py", "choi2017-keras2", CHOI2017 / "keras2_model_best.hdf5", "--preset",
                tmp_path / "choi-compact")
    assert r.returncode == 0, r.stderr
    folder = tmp_path / "choi-compact"
    meta = json.loads((folder / "metadata.json").read_text())
    assert set(meta["sha256"]) == {"config.json", "model.weights.h5"} and len(meta["labels"]) == 50
    card = (folder / "README.md").read_text()
    for section in ("## Intended use", "## Training data", "## Metrics", "## Limitations"):
        assert section in card
    assert "Million Song Dataset" in card
    x = inputs(348000)[:2]
    ref_model, _ = build_converted("choi2017-keras2", CHOI2017 / "keras2_model_best.hdf5")
    np.testing.assert_array_equal(models.from_preset(folder).predict(x, verbose=0), ref_model.predict(x, verbose=0))
    assert pretrained.load(folder)[1]["labels"] == list(MSD_TAGS)
