"""The Taylor (gradient x weight) channel importance of structured pruning (Keras 3)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tf_green.pruning.structured import analyse, shrink
from tf_green.pruning.structured.taylor import taylor_scores

RNG = np.random.default_rng(0)
X = RNG.normal(size=(32, 3)).astype("float32")
Y = RNG.normal(size=(32, 1)).astype("float32")


def _unused_big_unit_net():
    """Dense(4) whose unit 2 has the largest weights but feeds nothing (its row below is 0)."""
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, name="hidden"), keras.layers.Dense(1, name="out")]
    )
    kernel, bias = model.get_layer("hidden").get_weights()
    kernel[:, 2] = 10.0
    model.get_layer("hidden").set_weights([kernel, bias])
    kernel, bias = model.get_layer("out").get_weights()
    kernel[2] = 0.0
    model.get_layer("out").set_weights([kernel, bias])
    model.compile("sgd", "mse", run_eagerly=True)
    return model


def test_taylor_drops_a_large_unit_that_does_not_reach_the_loss():
    model = _unused_big_unit_net()
    graph = analyse(model)
    scores = taylor_scores(graph, X, Y)  # the compiled loss
    assert scores[graph.groups[0].root][2] == 0.0
    assert (np.delete(scores[graph.groups[0].root], 2) > 0).all()
    l1_small, _ = shrink(model, ratio=0.25)  # L1 keeps the big, useless unit
    assert l1_small.get_layer("hidden").kernel.shape == (3, 3)
    assert np.abs(keras.ops.convert_to_numpy(l1_small.get_layer("hidden").kernel)).max() == 10
    small, _ = shrink(model, 0.25, X, Y, criterion="taylor", epochs=1)
    assert np.abs(keras.ops.convert_to_numpy(small.get_layer("hidden").kernel)).max() < 10


def test_taylor_scores_batch_norm_and_leave_statistics_alone():
    inputs = keras.Input((4, 4, 2))
    h = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    h = keras.layers.BatchNormalization(name="bn")(h)
    outputs = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model(inputs, outputs)
    gamma, beta, mean, var = model.get_layer("bn").get_weights()
    model.get_layer("conv").set_weights([np.zeros((3, 3, 2, 4)), np.zeros(4)])
    beta[:] = [0.0, 1.0, 0.0, 1.0]  # only the BN's beta makes channels 1 and 3 matter
    model.get_layer("bn").set_weights([gamma, beta, mean, var])
    x = RNG.normal(size=(8, 4, 4, 2)).astype("float32")
    graph = analyse(model)
    scores = taylor_scores(graph, x, np.ones((8, 1), "float32"), "mse")[graph.groups[0].root]
    assert scores[0] == scores[2] == 0.0 and scores[1] > 0 and scores[3] > 0
    after = model.get_layer("bn").get_weights()
    np.testing.assert_array_equal(after[2], mean)  # inference mode: statistics unchanged


def test_taylor_needs_data_and_one_loss():
    model = _unused_big_unit_net()
    with pytest.raises(ValueError, match=r"criterion='taylor'.*pass x"):
        shrink(model, ratio=0.5, criterion="taylor")
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="needs one loss"):
        taylor_scores(analyse(plain), X, Y)


def test_distill_fine_tunes_each_step_from_the_unpruned_model_with_one_cache(monkeypatch):
    from tf_green import distillation

    calls = []
    real = distillation.distill

    def spy(teacher, student, *args, **kwargs):
        calls.append((teacher, kwargs["cache"], kwargs["epochs"]))
        return real(teacher, student, *args, **kwargs)

    monkeypatch.setattr(distillation, "distill", spy)
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(hidden))
    model.get_layer("out").bias.assign([0.1, -0.1])  # a trained-looking teacher
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile("adam", loss, metrics=["accuracy"])
    labels = (X[:, 0] > 0).astype("int64")
    small, report = shrink(
        model, None, X, labels, macs=0.5, steps=2, epochs=1, distill=True, temperature=2.0
    )
    assert [teacher is model for teacher, _, _ in calls] == [True, True]
    assert isinstance(calls[0][1], distillation.TeacherCache) and calls[0][1] is calls[1][1]
    assert small.get_layer("hidden").units == 4
    assert "loss" in report.attrs["steps"][1]
    with pytest.raises(ValueError, match="need training data"):
        shrink(model, macs=0.5, distill=True)
