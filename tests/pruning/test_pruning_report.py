import numpy as np
import pytest

import tf_green.pruning as tgp
from tf_green import models
from tf_green._keras import keras
from tf_green.pruning.report import COLUMNS, mn_satisfied


def mlp_with_zeros():
    model = models.mlp(hidden=(8,), input_dim=4, num_classes=4, engine="tf_keras")
    kernel = np.arange(1, 33, dtype=np.float32).reshape(4, 8)
    kernel[:2] = 0.0  # rows 0-1: every group of 4 inputs (axis 0) has 2 zeros
    model.get_layer("dense1").set_weights([kernel, np.zeros(8, np.float32)])
    logits = np.ones((8, 4), np.float32)
    logits[0, 0] = 0.0
    model.get_layer("logits").set_weights([logits, np.ones(4, np.float32)])
    return model


def test_report_counts_zeros_per_tensor_and_in_total():
    report = tgp.sparsity_report(mlp_with_zeros())
    assert list(report.columns) == COLUMNS
    assert report[["layer", "weight"]].values.tolist() == [
        ["dense1", "kernel"],
        ["dense1", "bias"],
        ["logits", "kernel"],
        ["logits", "bias"],
        ["total", ""],
    ]
    assert report["shape"].tolist() == [(4, 8), (8,), (8, 4), (4,), ()]
    assert report["params"].tolist() == [32, 8, 32, 4, 76]
    assert report["zeros"].tolist() == [16, 8, 1, 0, 25]
    np.testing.assert_allclose(report["sparsity"], [0.5, 1.0, 1 / 32, 0.0, 25 / 76])
    assert report["prunable"].tolist() == [True, False, True, False, None]
    assert report["mn_pattern"].tolist() == ["2:4"] * 5
    assert report["mn_satisfied"].tolist() == [True, None, False, None, False]


def test_m_by_n_check_groups_input_channels():
    assert mn_satisfied(np.array([[0.0], [1.0], [0.0], [2.0]]), (2, 4))
    assert not mn_satisfied(np.array([[0.0, 1.0, 0.0, 2.0]]), (2, 4))  # 1 input channel
    conv = np.ones((3, 3, 4, 2))
    conv[:, :, :2, :] = 0
    assert mn_satisfied(conv, (2, 4))
    conv[1, 1, 0, 1] = 5.0
    assert not mn_satisfied(conv, (2, 4))
    assert not mn_satisfied(np.zeros((3, 4, 4)), (2, 4))  # rank 3 cannot
    assert mn_satisfied(np.zeros((8, 2)), (1, 2))
    report = tgp.sparsity_report(mlp_with_zeros(), structure="1:2")
    assert report["mn_pattern"].iloc[0] == "1:2"
    assert report["mn_satisfied"].iloc[0] is False  # inputs 2 and 3 of dense1 are not zero


def test_report_of_wrapped_and_stripped_models_line_up(small_digits):
    (x, y), _ = small_digits
    wrapped = tgp.wrap(
        models.cnn(width=4, engine="tf_keras"),
        tgp.constant_schedule(0.5, steps_per_epoch=8),
        layers=["conv2"],
    )
    wrapped.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    wrapped.fit(x, y, epochs=1, callbacks=tgp.callbacks(), verbose=0)
    before, after = tgp.sparsity_report(wrapped), tgp.sparsity_report(tgp.strip(wrapped))
    assert "mask" not in " ".join(before["weight"]) and "pruning_step" not in before["weight"]
    assert before.drop(columns="shape").equals(after.drop(columns="shape"))
    conv2 = after.set_index(["layer", "weight"]).loc[("conv2", "kernel")]
    assert conv2["sparsity"] == pytest.approx(0.5)


def test_report_errors_name_the_argument():
    with pytest.raises(TypeError, match=r"`model` must be a tf_keras model"):
        tgp.sparsity_report("model.keras")
    with pytest.raises(ValueError, match=r"`structure`"):
        tgp.sparsity_report(models.mlp(engine="tf_keras"), structure="4:2")
