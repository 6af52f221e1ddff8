"""The DNN-feature + random-forest system and the MFCC+ZCR Mahalanobis baseline."""

import numpy as np

from kerasmgr import dnn_features as dfe
from kerasmgr import models
from kerasmgr.data.selection import DataSelection
from kerasmgr.jobs import dnn_features as dfe_job
from conftest import make_signal


def test_mahalanobis_classifier_on_known_gaussians():
    rng = np.random.default_rng(0)
    cov = np.array([[4.0, 1.9], [1.9, 1.0]])  # strongly correlated: Euclidean distance would err
    means = np.array([[0.0, 0.0], [1.0, -1.0]])
    X = np.concatenate([rng.multivariate_normal(m, cov, 500) for m in means])
    y = np.repeat([0, 1], 500)
    clf = dfe.MahalanobisClassifier().fit(X, y)
    np.testing.assert_allclose(clf.means_, means, atol=0.2)
    # a point nearer mean 0 in Euclidean terms but nearer mean 1 in Mahalanobis terms
    p = np.array([[-1.6, -1.8]])
    assert np.linalg.norm(p - means[0]) < np.linalg.norm(p - means[1])
    assert clf.predict(p)[0] == 1
    assert (clf.predict(X) == y).mean() > 0.9


def test_majority_vote_and_layer_slices():
    assert dfe.majority_vote([2, 1, 2, 0], 3) == 2
    assert dfe.majority_vote([1, 0], 3) == 0  # ties to the lower index, as bincount().argmax()
    np.testing.assert_array_equal(dfe._layer_slice("2", 4, False), [4, 5, 6, 7])
    np.testing.assert_array_equal(dfe._layer_slice("1", 4, True), [0, 1, 2, 3, 12, 13, 14, 15])


def test_file_features_shapes():
    m = models.build("dnn", n_units=20)
    ext, fe = dfe.dnn_feature_extractor(m)
    clip = make_signal("mix", 22050, 8.0)  # 343 frames
    f1 = dfe.file_features(ext, fe, clip, layer="1", rng=np.random.RandomState(111))
    assert f1.shape == (100, 20) and (f1 >= 0).all()  # ReLU activations
    fall = dfe.file_features(ext, fe, clip, layer="all", aggregate=True)
    assert fall.shape == (len(range(0, 343 - 200, 100)), 120)
    # the extractor's h0 equals the waveform model's h0 on the same frame
    import keras

    tap = keras.Model(m.input, m.get_layer("h0").output)
    np.testing.assert_allclose(np.asarray(tap(clip[None, :1024]))[0, 0],
                               np.asarray(ext(np.asarray(fe(clip[None, :1024]))[0, :, :, 0]))[0][0], atol=1e-5)


def test_mfcc_zcr_texture_windows():
    clip = make_signal("noise", 22050, 12.0)
    f = dfe.mfcc_zcr_features(clip)
    frames = 1 + len(clip) // 512
    win = round(5 * 22050 / 512)
    assert f.shape == (len(range(0, frames - win + 1, win // 2)), 28)


def test_format_table_layout():
    cells = {(50, False, False, l): 0.5 for l in dfe.LAYERS}
    cells[(50, True, True, "all")] = 0.625
    text = dfe.format_table(cells, split="filtered")
    assert "split filtered" in text and "ReLU+SGD+Dropout" in text
    assert "62.5" in text and "LAll" in text


def test_whole_protocol_runs_quickly_on_generated_data(tmp_path):
    r = dfe_job.run_protocol(DataSelection(dataset_kwargs=dict(clips_per_genre=3, duration=6.0)), units=(16,),
                             variants=("RS",), out=str(tmp_path / "p"),
                             overrides=dict(epochs=1, segments_per_clip=20), n_estimators=10, progress=False)
    assert len(r["rows"]) == 8  # 4 layer choices x 2 aggregations
    assert all(0 <= row["accuracy"] <= 1 for row in r["rows"])
    assert "MFCC+ZCR" in r["table"] and 0 <= r["baseline"]["accuracy"] <= 1
    assert (tmp_path / "p" / "dnn_features.json").is_file()
