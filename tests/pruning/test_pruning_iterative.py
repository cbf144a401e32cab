import numpy as np
import pytest

import tf_green.pruning as tgp
from tf_green.pruning.iterative_pruning import HISTORY_COLUMNS


@pytest.mark.slow
def test_iterative_keeps_the_sparsest_model_within_budget(
    trained_cnn, small_digits, weights_digest
):
    (x, y), (xv, yv) = small_digits
    before = weights_digest(trained_cnn)
    result = tgp.iterative(
        trained_cnn,
        x,
        y,
        validation_data=(xv, yv),
        sparsities=(0.3, 0.6),
        max_accuracy_drop=1.0,
        layers=["conv2", "logits"],
    )
    assert weights_digest(trained_cnn) == before
    baseline = trained_cnn.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    assert result.baseline_metric == pytest.approx(baseline)
    assert list(result.history.columns) == HISTORY_COLUMNS
    assert result.history["step"].tolist() == [1, 2]
    assert result.history["kept"].tolist() == [True, True]
    assert result.sparsity == 0.6 and result.metric == "accuracy"
    np.testing.assert_allclose(result.history["achieved_sparsity"], [0.3, 0.6], atol=0.01)
    last = result.history.iloc[-1]
    assert last["drop"] == pytest.approx(baseline - last["metric"])
    accuracy = result.model.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    assert accuracy == pytest.approx(last["metric"])
    report = tgp.sparsity_report(result.model).set_index(["layer", "weight"])
    assert report.loc[("conv1", "kernel"), "zeros"] == 0  # not selected
    assert report.loc[("conv2", "kernel"), "sparsity"] == pytest.approx(0.6, abs=0.01)
    assert result.to_pandas().equals(result.history)


@pytest.mark.slow
def test_iterative_stops_at_the_first_step_over_budget(trained_cnn, small_digits):
    (x, y), (xv, yv) = small_digits
    with pytest.warns(UserWarning, match=r"No sparsity stayed within max_accuracy_drop=0"):
        result = tgp.iterative(
            trained_cnn,
            x,
            y,
            validation_data=(xv, yv),
            sparsities=(0.97, 0.98),
            max_accuracy_drop=0.0,
            metric="loss",
        )
    assert result.history["step"].tolist() == [1]  # 0.98 was never tried
    assert result.history["kept"].tolist() == [False]
    assert result.history["drop"].iloc[0] > 0  # loss rose
    assert result.sparsity == 0.0
    unpruned = tgp.sparsity_report(trained_cnn)["zeros"].tolist()
    assert tgp.sparsity_report(result.model)["zeros"].tolist() == unpruned  # a copy
    assert result.model is not trained_cnn


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"sparsities": ()}, ValueError, r"`sparsities` is empty"),
        ({"sparsities": (0.5, 0.5)}, ValueError, r"`sparsities` must be strictly increasing"),
        ({"sparsities": (0.0, 0.5)}, ValueError, r"strictly increasing values in \(0, 1\)"),
        ({"sparsities": (0.5, 1.0)}, ValueError, r"`sparsities` must be in \[0, 1\)"),
        ({"sparsities": "0.5"}, TypeError, r"`sparsities` must be a sequence"),
        ({"epochs_per_step": 1}, ValueError, r"`epochs_per_step`=1 is too few"),
        ({"max_accuracy_drop": -1}, ValueError, r"`max_accuracy_drop` must be a number >= 0"),
        ({"validation_data": None}, ValueError, r"`validation_data` is required"),
        ({"metric": "f1"}, ValueError, r"`metric`='f1' is not computed.*\['accuracy', 'loss'\]"),
    ],
)
def test_iterative_bad_arguments(trained_cnn, small_digits, weights_digest, kwargs, error, message):
    (x, y), (xv, yv) = small_digits
    before = weights_digest(trained_cnn)
    arguments = {"validation_data": (xv, yv), **kwargs}
    with pytest.raises(error, match=message):
        tgp.iterative(trained_cnn, x, y, **arguments)
    assert weights_digest(trained_cnn) == before
