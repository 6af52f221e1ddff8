"""Metrics against hand-computed examples."""

import numpy as np
import pytest

from kerasmgr.metrics import classification_metrics, tagging_metrics


def test_classification_metrics_by_hand():
    # true:      0 0 0 1 1 2 ; predicted: 0 0 1 1 2 2
    y_true = [0, 0, 0, 1, 1, 2]
    prob = np.eye(3)[[0, 0, 1, 1, 2, 2]]
    m = classification_metrics(y_true, prob, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    # recalls 2/3, 1/2, 1 -> normalised accuracy = mean
    assert m["normalised_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert m["per_class"]["b"]["precision"] == pytest.approx(1 / 2)
    assert m["per_class"]["c"]["f1"] == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert m["per_class"]["a"]["support"] == 3


def test_tagging_metrics_by_hand():
    y = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 1], [0, 0, 1]])
    s = np.array([[0.9, 0.2, 0.5], [0.1, 0.3, 0.5], [0.8, 0.1, 0.5], [0.2, 0.4, 0.5]])
    m = tagging_metrics(y, s, ["x", "y", "z"])
    assert m["per_tag"]["x"]["roc_auc"] == pytest.approx(1.0)
    # tag y: positives score 0.3, 0.1; negatives 0.2, 0.4 -> pairs won: (0.3>0.2) = 1 of 4
    assert m["per_tag"]["y"]["roc_auc"] == pytest.approx(0.25)
    assert m["per_tag"]["z"]["roc_auc"] is None  # all positive: no AUC, left out of the mean
    assert m["macro_roc_auc"] == pytest.approx(0.625)
    assert m["per_tag"]["x"]["pr_auc"] == pytest.approx(1.0)
