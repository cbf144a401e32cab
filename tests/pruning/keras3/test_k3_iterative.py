"""iterative on Keras 3: rising sparsities, the budget, the history."""

from __future__ import annotations

import pytest

from tf_green.pruning import keras3


def test_iterative_keeps_the_sparsest_model_within_budget(k3_trained_cnn, k3_digits):
    (x, y), (xv, yv) = k3_digits
    result = keras3.iterative(
        k3_trained_cnn,
        x,
        y,
        validation_data=(xv, yv),
        sparsities=(0.3, 0.6),
        max_accuracy_drop=1.0,  # everything is kept
    )
    assert result.history.step.tolist() == [1, 2]
    assert result.history.kept.tolist() == [True, True]
    assert result.sparsity == 0.6
    assert result.history.achieved_sparsity.tolist() == pytest.approx([0.3, 0.6], abs=0.01)
    report = keras3.sparsity_report(result.model).query("prunable == True")
    assert report.sparsity.min() == pytest.approx(0.6, abs=0.02)
    assert 0.0 <= result.baseline_metric <= 1.0


def test_iterative_refuses_bad_arguments(k3_trained_cnn, k3_digits):
    (x, y), (xv, yv) = k3_digits
    with pytest.raises(ValueError, match="strictly increasing"):
        keras3.iterative(k3_trained_cnn, x, y, validation_data=(xv, yv), sparsities=(0.5, 0.3))
    with pytest.raises(ValueError, match="`metric`='auc'"):
        keras3.iterative(k3_trained_cnn, x, y, validation_data=(xv, yv), metric="auc")
