"""Structured pruning to a global MACs target, in steps with fine-tuning (Keras 3)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from structured_models import block_net

import tf_green as tg
from tf_green.pruning.structured import analyse, shrink
from tf_green.pruning.structured.report import layer_macs
from tf_green.pruning.structured.targets import estimate_macs, kept_counts, ratio_for_macs

RNG = np.random.default_rng(0)
X = RNG.normal(size=(48, 8, 8, 3)).astype("float32")
Y = (X[:, :4, :, 0].mean((1, 2)) > 0).astype("int64") + (X[:, 4:, :, 1].mean((1, 2)) > 0)


def _compiled_block_net():
    model = block_net()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(1e-3), loss, metrics=["accuracy"], run_eagerly=True)
    return model


def _separable_net():
    inputs = keras.Input((6, 6, 3))
    h = keras.layers.Conv2D(8, 1, name="expand")(inputs)
    h = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(h)
    h = keras.layers.SeparableConv2D(6, 3, depth_multiplier=2, name="sep")(h)
    outputs = keras.layers.Dense(2, name="out")(keras.layers.Flatten()(h))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("build", [block_net, _separable_net])
def test_estimate_equals_rebuilt_macs(build):
    model = build()
    graph = analyse(model)
    for ratio in (0.3, 0.6):
        small, report = shrink(model, ratio=ratio)
        assert estimate_macs(graph, kept_counts(graph, ratio)) == pytest.approx(
            sum(layer_macs(small).values())
        )
        assert report.attrs["macs_after"] == sum(layer_macs(small).values())


def test_one_shot_macs_target_is_reached_closely():
    model = block_net()
    small, report = shrink(model, macs=0.5)
    kept = report.attrs["macs_after"] / report.attrs["macs_before"]
    assert 0.4 < kept <= 0.5  # the smallest ratio that reaches it: not far below
    assert report.attrs["macs_target"] == 0.5
    graph = analyse(model)
    ratio = ratio_for_macs(graph, 0.5 * report.attrs["macs_before"])
    looser = estimate_macs(graph, kept_counts(graph, ratio - 0.02))
    assert looser > 0.5 * report.attrs["macs_before"]  # a smaller ratio misses the target


def test_round_to_keeps_multiples():
    small, report = shrink(block_net(), macs=0.6, round_to=4)
    assert [small.get_layer(n).filters for n in ("stem", "b1a", "down")] == [4, 4, 4]
    assert report.attrs["macs_after"] <= 0.6 * report.attrs["macs_before"]


class _Count(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.fits = 0

    def on_train_begin(self, logs=None):
        self.fits += 1


def test_steps_fine_tune_and_report_per_step():
    model = _compiled_block_net()
    before = [w.copy() for w in model.get_weights()]
    counter = _Count()
    small, report = tg.pruning.shrink(
        model, None, X, Y, macs=0.5, steps=2, epochs=1, validation_data=(X[:16], Y[:16]),
        callbacks=[counter],
    )  # fmt: skip
    assert counter.fits == 2  # one fine-tuning fit per step
    assert list(report.index.names) == ["step", "layer"]
    assert report.loc[(1, "stem"), "channels_before"] == 8
    assert report.loc[(2, "stem"), "channels_before"] == report.loc[(1, "stem"), "channels_after"]
    steps = report.attrs["steps"]
    assert [row["step"] for row in steps] == [1, 2]
    assert steps[0]["macs"] > steps[1]["macs"] == report.attrs["macs_after"]
    assert 0.6 < steps[0]["macs_kept"] <= 0.5**0.5 + 1e-9  # equal fractions per step
    assert steps[1]["macs_kept"] <= 0.5
    assert {"loss", "val_loss", "val_accuracy"} <= set(steps[1])
    assert report.attrs["macs_before"] == sum(layer_macs(model).values())
    assert small.compiled and small.optimizer is not model.optimizer
    assert small.get_layer("stem").filters == report.loc[(2, "stem"), "channels_after"]
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)  # the caller's model is not changed


def test_ratio_with_data_fine_tunes_once():
    model = _compiled_block_net()
    small, report = shrink(model, 0.25, X, Y, epochs=1)
    assert report.index.get_level_values("step").unique().tolist() == [1]
    assert "loss" in report.attrs["steps"][0]
    assert small.get_layer("b1a").filters == 5


def test_target_errors_name_the_argument():
    model = block_net()
    with pytest.raises(ValueError, match="cannot be reached"):
        shrink(model, macs=0.001)
    with pytest.raises(ValueError, match="not several"):
        shrink(model, 0.5, macs=0.5)
    with pytest.raises(ValueError, match=r"`macs` is 0\b"):
        shrink(model, macs=0)
    with pytest.raises(TypeError, match="`macs` must be a number"):
        shrink(model, macs="half")
    with pytest.raises(ValueError, match="need training data"):
        shrink(model, macs=0.5, steps=2)
    with pytest.raises(ValueError, match="`round_to` must be an integer"):
        shrink(model, macs=0.5, round_to=0)
    with pytest.raises(ValueError, match="optimizer"):
        shrink(model, None, X, Y, macs=0.5)  # not compiled, no optimizer/loss given
    bad = X.copy()
    bad[3, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        shrink(_compiled_block_net(), None, bad, Y, macs=0.5)
    with pytest.raises(ValueError, match="`y` has 4;"):
        shrink(_compiled_block_net(), None, X, Y[:4], macs=0.5)
