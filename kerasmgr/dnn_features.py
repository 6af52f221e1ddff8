"""The DNN-feature system of Kereliuk et al. (seeds 000/004; dnn-mgr ``train_classifier_on_dnn_feats``)
and seed 004's hand-crafted baseline.

DNN features: the hidden activations (``h0``, ``h1``, ``h2`` = layers 1, 2, 3, or all three
concatenated) of a trained frame DNN (:func:`kerasmgr.models.kereliuk.dnn`) on every 1024/512
frame of a file, either

* not aggregated — 100 random frames per file (``RandomState(111)``), or
* aggregated — over 5-s texture windows hopped by 50 % (seed 004 §2: 215 frames hopped by 107 at
  22.05 kHz, hop 512), the mean and standard deviation of every unit (``texture_seconds=None``
  gives dnn-mgr's code instead: 200 frames, 4.64 s, hopped by 100);

then a 500-tree random forest (``random_state=1234``) trained on train + valid, and a majority
vote of its predictions over each file's frames or windows.

Baseline: 13 MFCCs + zero-crossing rate per 46 ms frame (hop 50 %), their mean and variance over
5-s texture windows hopped by 50 %, a minimum-Mahalanobis-distance classifier (one mean per
class, pooled covariance) trained on train + valid, majority vote per file.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier

from .frontends import find_frontend
from .metrics import classification_metrics
from .models import kereliuk

__all__ = ["LAYERS", "TEXTURE_SECONDS", "texture_window", "FeatureForest", "dnn_feature_extractor", "file_features",
           "dnn_feature_experiment", "mfcc_zcr_features",
           "MahalanobisClassifier", "baseline_experiment", "majority_vote", "format_table"]

LAYERS = ("1", "2", "3", "all")
#: Seed 004 §2: "aggregating them over 5-second texture windows (hopped by 50%)".
TEXTURE_SECONDS = 5.0


def texture_window(frontend, texture_seconds=TEXTURE_SECONDS):
    """``(window, hop)`` in frames of a texture window: ``texture_seconds`` hopped by 50 %, or
    dnn-mgr's ``(200, 100)`` when ``texture_seconds`` is None."""
    if texture_seconds is None:
        return 200, 100
    window = max(1, int(round(texture_seconds * frontend.sample_rate / frontend.hop_length)))
    return window, max(1, window // 2)


def dnn_feature_extractor(model):
    """A frames -> ``[h0, h1, h2]`` activation model with the weights of a trained DNN.

    Parameters
    ----------
    model : keras.Model
        A kerasmgr ``dnn`` (waveform or frames input).

    Returns
    -------
    extractor : keras.Model
        ``(batch, 513)`` magnitude frames -> list of ``(batch, n_units)``.
    frontend : Frontend or None
        The waveform model's STFT front-end (to cut a whole file into frames).
    """
    import keras


    hidden = [l for l in model.layers if l.name in ("h0", "h1", "h2")]
    if len(hidden) != 3 or model.get_layer("pre") is None:
        raise ValueError(f"model {model.name!r} is not a kerasmgr dnn (needs layers pre, h0, h1, h2)")
    frames = kereliuk.dnn(input="frames", n_units=hidden[0].units, n_outputs=model.output_shape[-1],
                          max_istd=model.get_layer("pre").max_istd)
    for name in ("pre", "h0", "h1", "h2"):
        frames.get_layer(name).set_weights(model.get_layer(name).get_weights())
    extractor = keras.Model(frames.input, [frames.get_layer(n).output for n in ("h0", "h1", "h2")])
    return extractor, find_frontend(model)


def _frames(frontend, clip):
    return np.asarray(frontend(np.asarray(clip, np.float32)[None]))[0, :, :, 0]


def file_features(extractor, frontend, clip, *, layer="all", aggregate=False, n_frames=100, window=200, hop=100,
                  rng=None):
    """DNN features of one file.

    Parameters
    ----------
    extractor, frontend
        From :func:`dnn_feature_extractor`.
    clip : np.ndarray, shape (n_samples,)
        Waveform at 22.05 kHz.
    layer : {'1', '2', '3', 'all'}
    aggregate : bool
        Mean and std over texture windows of ``window`` frames hopped by ``hop`` (see
        :func:`texture_window`; defaults 200/100, dnn-mgr's) instead of random frames.
    n_frames : int
        Random frames per file when not aggregating.
    rng : numpy.random.RandomState
        For the random frames (dnn-mgr: ``RandomState(111)`` shared over files).

    Returns
    -------
    np.ndarray, shape (n_examples, d)
        ``d`` = units (×3 for 'all'), ×2 when aggregated.
    """
    if str(layer) not in LAYERS:
        raise ValueError(f"layer must be one of {LAYERS}, got {layer!r}")
    frames = _frames(frontend, clip)
    acts = [np.asarray(a) for a in extractor.predict(frames, batch_size=1024, verbose=0)]
    feats = np.concatenate(acts, axis=1) if str(layer) == "all" else acts[int(layer) - 1]
    if aggregate:
        starts = list(range(0, len(feats) - window, hop)) or [0]
        return np.stack([np.concatenate([feats[s : s + window].mean(0), feats[s : s + window].std(0)])
                         for s in starts])
    rng = rng or np.random.RandomState(111)
    idx = rng.choice(len(feats), size=min(n_frames, len(feats)), replace=False)
    return feats[idx]


def majority_vote(predictions, n_classes):
    """``argmax(bincount(predictions))`` (dnn-mgr's file decision; ties to the lower index)."""
    return int(np.bincount(np.asarray(predictions, dtype=np.int64), minlength=n_classes).argmax())


def _fit_vote(make_clf, train_feats, train_labels, test_feats, n_classes, return_model=False):
    X = np.concatenate(train_feats)
    y = np.concatenate([np.full(len(f), l) for f, l in zip(train_feats, train_labels)])
    clf = make_clf().fit(X, y)
    pred = np.array([majority_vote(clf.predict(f), n_classes) for f in test_feats])
    return (pred, clf) if return_model else pred


def dnn_feature_experiment(model, train_clips, train_labels, test_clips, test_labels, classes, *,
                           layers=LAYERS, aggregations=(False, True), n_estimators=500, n_jobs=2, progress=True,
                           texture_seconds=TEXTURE_SECONDS, return_forests=False):
    """Random forests on the DNN's features for every layer choice and aggregation.

    Parameters
    ----------
    model : keras.Model
        Trained ``dnn``.
    train_clips, test_clips : iterable of np.ndarray
        Waveforms at 22.05 kHz (train = the train and valid subsets).
    train_labels, test_labels : array of int
    classes : list of str
    texture_seconds : float or None
        Aggregation window (:func:`texture_window`).
    return_forests : bool
        Also return the fitted forests, ``{(layer, aggregated): RandomForestClassifier}``.

    Returns
    -------
    list of dict
        One row per (layer, aggregation): ``layer``, ``aggregated``, ``accuracy`` (file level,
        majority vote), ``normalised_accuracy``, ``confusion_matrix``.
    """
    from tqdm.auto import tqdm


    extractor, frontend = dnn_feature_extractor(model)
    window, hop = texture_window(frontend, texture_seconds)
    train_clips, test_clips = list(train_clips), list(test_clips)
    rows, forests = [], {}
    for agg in aggregations:
        rng = np.random.RandomState(111)
        # activations once per file; layer choice slices them
        kw = dict(layer="all", aggregate=agg, rng=rng, window=window, hop=hop)
        all_tr = [file_features(extractor, frontend, c, **kw)
                  for c in tqdm(train_clips, desc="DNN features (train)", disable=not progress)]
        all_te = [file_features(extractor, frontend, c, **kw)
                  for c in tqdm(test_clips, desc="DNN features (test)", disable=not progress)]
        units = extractor.outputs[0].shape[-1]
        for layer in layers:
            sl = _layer_slice(layer, units, agg)
            pred, clf = _fit_vote(lambda: RandomForestClassifier(n_estimators=n_estimators, random_state=1234,
                                                                 n_jobs=n_jobs),
                                  [f[:, sl] for f in all_tr], train_labels, [f[:, sl] for f in all_te], len(classes),
                                  return_model=True)
            forests[(str(layer), bool(agg))] = clf
            m = classification_metrics(test_labels, np.eye(len(classes))[pred], classes)
            rows.append({"layer": str(layer), "aggregated": bool(agg), "accuracy": m["accuracy"],
                         "normalised_accuracy": m["normalised_accuracy"], "confusion_matrix": m["confusion_matrix"]})
    return (rows, forests) if return_forests else rows


class FeatureForest:
    """The deployed system of seeds 000/004: a trained frame DNN's features -> random forest ->
    majority vote over a file's texture windows (or frames).

    Parameters
    ----------
    model : keras.Model
        A trained kerasmgr ``dnn``.
    layer : {'1', '2', '3', 'all'}
    aggregate : bool
        Texture-window statistics (seed 004's system) or single frames.
    texture_seconds : float or None
        :func:`texture_window`.
    n_estimators : int
        Trees (500).
    """

    def __init__(self, model, *, layer="all", aggregate=True, texture_seconds=TEXTURE_SECONDS, n_estimators=500,
                 n_jobs=2):
        self.extractor, self.frontend = dnn_feature_extractor(model)
        self.layer, self.aggregate = str(layer), bool(aggregate)
        self.window, self.hop = texture_window(self.frontend, texture_seconds)
        self.units = self.extractor.outputs[0].shape[-1]
        self.forest = RandomForestClassifier(n_estimators=n_estimators, random_state=1234, n_jobs=n_jobs)
        self.n_classes = int(model.output_shape[-1])

    def features(self, clip, rng=None):
        """Feature rows of one waveform at 22.05 kHz, shape (n_examples, d)."""
        f = file_features(self.extractor, self.frontend, clip, layer="all", aggregate=self.aggregate,
                          window=self.window, hop=self.hop, rng=rng or np.random.RandomState(111))
        return f[:, _layer_slice(self.layer, self.units, self.aggregate)]

    def fit(self, clips, labels, progress=False):
        """Fit the forest on waveforms and their class indices; returns self."""
        from tqdm.auto import tqdm

        rng = np.random.RandomState(111)
        feats = [self.features(c, rng) for c in tqdm(list(clips), desc="forest features", disable=not progress)]
        X = np.concatenate(feats)
        y = np.concatenate([np.full(len(f), lab) for f, lab in zip(feats, labels)])
        self.forest.fit(X, y)
        return self

    def predict_clip(self, clip):
        """Class index of one waveform (majority vote of its windows' or frames' decisions)."""
        return majority_vote(self.forest.predict(self.features(clip)), self.n_classes)


def _layer_slice(layer, units, aggregated):
    """Columns of one layer in the 'all' feature (``[h0 h1 h2]``, or ``[means, stds]`` aggregated)."""
    if str(layer) == "all":
        return slice(None)
    k = int(layer) - 1
    if not aggregated:
        return np.arange(k * units, (k + 1) * units)
    return np.concatenate([np.arange(k * units, (k + 1) * units), 3 * units + np.arange(k * units, (k + 1) * units)])


# ----------------------------------------------------------------------------------------- baseline
def mfcc_zcr_features(clip, sample_rate=22050, *, n_mfcc=13, frame=1024, texture_seconds=5.0):
    """Seed 004's hand-crafted features of one file.

    13 MFCCs and the zero-crossing rate per 46 ms frame (1024 samples at 22.05 kHz, hop 50 %);
    mean and variance over 5-s texture windows hopped by 50 %.

    Returns
    -------
    np.ndarray, shape (n_windows, 28)
    """
    import librosa

    hop = frame // 2
    y = np.asarray(clip, dtype=np.float32)
    mfcc = librosa.feature.mfcc(y=y, sr=sample_rate, n_mfcc=n_mfcc, n_fft=frame, hop_length=hop)
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=frame, hop_length=hop)
    f = np.vstack([mfcc, zcr]).T  # (frames, 14)
    win = max(1, int(round(texture_seconds * sample_rate / hop)))
    step = max(1, win // 2)
    starts = list(range(0, max(len(f) - win, 0) + 1, step))
    return np.stack([np.concatenate([f[s : s + win].mean(0), f[s : s + win].var(0)]) for s in starts])


class MahalanobisClassifier(ClassifierMixin, BaseEstimator):
    """Minimum Mahalanobis distance to class means with a pooled (shared) covariance.

    Parameters
    ----------
    reg : float
        Added to the covariance diagonal, relative to its mean variance (numerical safety).
    """

    def __init__(self, reg=1e-6):
        self.reg = reg

    def fit(self, X, y):
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError("X must be (n_samples, n_features) with one label per row")
        self.classes_ = np.unique(y)
        self.means_ = np.stack([X[y == c].mean(0) for c in self.classes_])
        centred = X - self.means_[np.searchsorted(self.classes_, y)]
        cov = centred.T @ centred / max(len(X) - len(self.classes_), 1)
        cov += self.reg * np.trace(cov) / len(cov) * np.eye(len(cov))
        self.precision_ = np.linalg.pinv(cov)
        return self

    def decision_function(self, X):
        """Negative squared Mahalanobis distance to each class mean, shape (n, n_classes)."""
        X = np.asarray(X, dtype=np.float64)
        d = X[:, None, :] - self.means_[None]
        return -np.einsum("ncf,fg,ncg->nc", d, self.precision_, d)

    def predict(self, X):
        return self.classes_[self.decision_function(X).argmax(1)]


BASELINE_CLASSIFIERS = ("mahalanobis", "forest")


def baseline_experiment(train_clips, train_labels, test_clips, test_labels, classes, *, sample_rate=22050, progress=True,
                        classifier="mahalanobis", n_estimators=500):
    """Hand-crafted baselines on MFCC+ZCR texture windows; returns classification metrics (file level).

    ``classifier='mahalanobis'``: seed 004's minimum-Mahalanobis-distance classifier;
    ``'forest'``: seed 000's "random forest with MFCCs" (51 % on fault-filtered GTZAN), the same
    500-tree forest (``random_state=1234``) as the DNN features get.
    """
    if classifier not in BASELINE_CLASSIFIERS:
        raise ValueError(f"classifier must be one of {BASELINE_CLASSIFIERS}, got {classifier!r}")
    from tqdm.auto import tqdm


    tr = [mfcc_zcr_features(c, sample_rate) for c in tqdm(list(train_clips), desc="MFCC+ZCR (train)", disable=not progress)]
    te = [mfcc_zcr_features(c, sample_rate) for c in tqdm(list(test_clips), desc="MFCC+ZCR (test)", disable=not progress)]
    if classifier == "forest":
        make = lambda: RandomForestClassifier(n_estimators=n_estimators, random_state=1234, n_jobs=2)  # noqa: E731
    else:
        make = MahalanobisClassifier
    pred = _fit_vote(make, tr, train_labels, te, len(classes))
    return classification_metrics(test_labels, np.eye(len(classes))[pred], classes)


def format_table(cells, *, split=""):
    """Seed 000's table: rows hidden units × {ReLU+SGD, ReLU+SGD+Dropout} × {no aggregation,
    aggregation}, columns layer 1, 2, 3, All; accuracies in %.

    Parameters
    ----------
    cells : dict
        ``{(units, dropout, aggregated, layer): accuracy}``.
    """
    lines = [f"DNN features + random forest, file-level majority vote{(' — split ' + split) if split else ''}",
             f"{'units':>6} {'training':<20}{'aggregation':<14}" + "".join(f"{l:>8}" for l in ("L1", "L2", "L3", "LAll"))]
    for units in sorted({k[0] for k in cells}):
        for dropout in (False, True):
            for agg in (False, True):
                row = [cells.get((units, dropout, agg, l)) for l in LAYERS]
                if all(v is None for v in row):
                    continue
                name = "ReLU+SGD+Dropout" if dropout else "ReLU+SGD"
                lines.append(f"{units:>6} {name:<20}{'yes' if agg else 'no':<14}" +
                             "".join("     -  " if v is None else f"{100 * v:>8.1f}" for v in row))
    return "\n".join(lines)


#: dnn-mgr's training settings (specs/architectures.md §2.4) as kerasmgr training options.
DNN_MGR_SETTINGS = {
    "RS": dict(optimizer="sgd", learning_rate=0.01, momentum=0.9, momentum_start=0.5, momentum_saturate=50,
               lr_linear_saturate=50, lr_linear_final=0.01, early_stopping=10, monitor="segment",
               batch_size=1200, segments_per_clip=1288, epochs=200),
    "RSD": dict(optimizer="sgd", learning_rate=0.1, momentum=0.9, momentum_start=0.5, momentum_saturate=200,
                lr_linear_saturate=200, lr_linear_final=0.01, early_stopping=50, monitor="segment",
                batch_size=1200, segments_per_clip=1288, epochs=200),
}
