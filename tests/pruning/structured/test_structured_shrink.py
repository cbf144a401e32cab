"""Structured pruning (tf_green.pruning.structured.shrink) on Keras 3 models."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from structured_models import block_net, randomise_bn, zero_by_groups, zero_channels

from tf_green.pruning.structured import analyse, shrink

X8 = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype("float32")


def _np(tensor):
    return keras.ops.convert_to_numpy(tensor)


def _outputs_equal(model, small, x):
    np.testing.assert_allclose(_np(small(x)), _np(model(x)), rtol=1e-4, atol=1e-5)


def test_block_net_zeroed_channels_removed_exactly():
    """Every group consistent: removing exactly-zero channels leaves the outputs unchanged."""
    model = block_net()
    randomise_bn(model)
    rng = np.random.default_rng(3)
    trunk = rng.choice(8, 4, replace=False)  # stem, b1b, b2b and the Add joins share these
    inner = {name: rng.choice(6, 3, replace=False) for name in ("b1a", "b2a")}
    down, fc = rng.choice(4, 2, replace=False), rng.choice(10, 5, replace=False)
    producers = {"stem": trunk, "b1b": trunk, "b2b": trunk, "down": down, "fc": fc, **inner}
    norms = {f"{name}_bn": index for name, index in producers.items() if name != "fc"}
    zero_channels(model, producers, norms)
    before = [w.copy() for w in model.get_weights()]

    small, report = shrink(model, ratio=0.5)

    _outputs_equal(model, small, X8)
    assert small.get_layer("stem").filters == 4
    assert small.get_layer("b1a").filters == 3
    assert small.get_layer("fc").kernel.shape == (4 * 4 * 2, 5)  # Flatten: 16 positions x 2
    assert small.get_layer("logits").units == 3  # the output is kept
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)  # the caller's model is not changed


def test_block_net_groups_join_residual_branches():
    model = block_net()
    groups = {
        frozenset(layer.name for layer in g.producers): g.prunable for g in analyse(model).groups
    }
    assert groups == {
        frozenset({"stem", "b1b", "b2b"}): True,  # joined by add1 and add2
        frozenset({"b1a"}): True,
        frozenset({"b2a"}): True,
        frozenset({"down"}): True,
        frozenset({"fc"}): True,
        frozenset({"logits"}): False,  # the model's output
    }
    randomise_bn(model)
    trunk = [0, 2, 5, 7]
    zero_channels(model, dict.fromkeys(["stem", "b1b", "b2b"], trunk), {})
    zero_channels(model, {}, dict.fromkeys(["stem_bn", "b1b_bn", "b2b_bn"], trunk))
    small, _ = shrink(model, ratio={"b1b": 0.5})  # one member selected: the whole group goes
    assert [small.get_layer(n).filters for n in ("stem", "b1b", "b2b", "b1a")] == [4, 4, 4, 6]
    _outputs_equal(model, small, X8)


def test_block_net_wrong_indices_would_differ():
    """The exactness check can fail: zeroed channels that are not all removed change outputs."""
    model = block_net()
    randomise_bn(model)
    zero_channels(model, {"stem": [0, 1, 2, 3]}, {"stem_bn": [0, 1, 2, 3]})  # b1b, b2b not zeroed
    small, _ = shrink(model, ratio={"stem": 0.5})
    assert not np.allclose(_np(small(X8)), _np(model(X8)), atol=1e-5)


def test_sequential_report_shapes_and_macs():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(4, name="hidden"),
            keras.layers.Dense(2, name="out"),
        ]
    )
    small, report = shrink(model, ratio=0.5)
    assert isinstance(small, keras.Sequential)
    assert report.loc["conv", "weights_before"] == ((3, 3, 1, 8), (8,))
    assert report.loc["conv", "weights_after"] == ((3, 3, 1, 4), (4,))
    assert report.loc["hidden", "weights_after"] == ((144, 2), (2,))
    assert report.loc["out", "weights_after"] == ((2, 2), (2,))
    assert report.loc["conv", "channels_after"] == 4 and report.loc["conv", "kept"] == 0.5
    assert report.loc["conv", ["macs_before", "macs_after"]].tolist() == [36 * 9 * 8, 36 * 9 * 4]
    assert report.loc["hidden", ["macs_before", "macs_after"]].tolist() == [288 * 4, 144 * 2]
    assert report.loc["out", ["macs_before", "macs_after"]].tolist() == [8, 4]
    assert report.attrs["macs_before"] == 2592 + 1152 + 8
    assert report.attrs["macs_after"] == 1296 + 288 + 4
    assert report.attrs["params_after"] == small.count_params()


def test_block_net_macs_and_per_layer_ratio():
    model = block_net()
    small, report = shrink(model, ratio={"b1a": 0.5, "down": 0.25}, criterion="bn")
    assert small.get_layer("b1a").filters == 3 and small.get_layer("down").filters == 3
    assert small.get_layer("stem").filters == 8 and small.get_layer("b2a").filters == 6
    changed = set(report.index[report["changed"]])
    assert changed == {"b1a", "b1a_bn", "b1b", "down", "down_bn", "fc"}
    assert report.attrs["macs_after"] < report.attrs["macs_before"]


def test_concatenate_maps_index_ranges():
    inputs = keras.Input((6, 6, 2))
    a = keras.layers.Conv2D(4, 3, padding="same", name="a")(inputs)
    b = keras.layers.Conv2D(6, 1, name="b")(inputs)
    h = keras.layers.Concatenate(name="cat")([a, b])
    h = keras.layers.BatchNormalization(name="cat_bn")(h)
    h = keras.layers.Conv2D(3, 3, name="c")(keras.layers.ReLU()(h))
    outputs = keras.layers.Dense(2, name="out")(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model(inputs, outputs)
    randomise_bn(model)
    zero_channels(model, {"a": [1, 3], "b": [0, 2, 5]}, {"cat_bn": [1, 3, 4, 6, 9]})
    x = np.random.default_rng(1).normal(size=(3, 6, 6, 2)).astype("float32")
    small, report = shrink(model, ratio={"a": 0.5, "b": 0.5})
    _outputs_equal(model, small, x)
    assert small.get_layer("c").kernel.shape == (3, 3, 5, 3)
    assert report.loc["cat_bn", "weights_after"][0] == (5,)


def test_depthwise_and_separable_follow_their_input():
    inputs = keras.Input((6, 6, 3))
    h = keras.layers.Conv2D(8, 1, name="expand")(inputs)
    h = keras.layers.BatchNormalization(name="expand_bn")(h)
    h = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(keras.layers.ReLU(6.0)(h))
    h = keras.layers.BatchNormalization(name="dw_bn")(h)
    h = keras.layers.SeparableConv2D(6, 3, depth_multiplier=2, name="sep")(h)
    h = keras.layers.MaxPooling2D()(h)
    outputs = keras.layers.Dense(2, name="out")(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model(inputs, outputs)
    randomise_bn(model)
    zero_channels(model, {"expand": [0, 5, 6, 7], "sep": [1, 2, 4]}, {})
    zero_channels(model, {}, {"expand_bn": [0, 5, 6, 7], "dw_bn": [0, 5, 6, 7]})
    x = np.random.default_rng(2).normal(size=(2, 6, 6, 3)).astype("float32")
    small, report = shrink(model, ratio=0.5)
    _outputs_equal(model, small, x)
    assert small.get_layer("dw").kernel.shape == (3, 3, 4, 1)
    assert small.get_layer("sep").depthwise_kernel.shape == (3, 3, 4, 2)
    assert small.get_layer("sep").pointwise_kernel.shape == (1, 1, 8, 3)
    assert report.loc["dw", "macs_after"] * 2 == report.loc["dw", "macs_before"]


def test_compiled_like_input_with_a_fresh_optimizer():
    model = block_net()
    model.compile(optimizer="adam", loss="mse")
    small, _ = shrink(model, ratio=0.25, criterion="l2", exclude=["down"])
    assert small.compiled and small.optimizer is not model.optimizer
    assert small.get_layer("down").filters == 4  # excluded: its input channels stay too
    assert small.get_layer("stem").filters == 8 and small.get_layer("b1a").filters == 5
    small.fit(X8, np.zeros((4, 3)), epochs=1, verbose=0)


def test_ratio_removing_every_channel_is_refused():
    with pytest.raises(ValueError, match=r"`ratio` is 1.0.*every channel"):
        shrink(block_net(), ratio=1.0)
    with pytest.raises(ValueError, match=r"ratio\['stem'\]"):
        shrink(block_net(), ratio={"stem": 1})


def test_layers_that_cannot_be_pruned_are_named():
    with pytest.raises(ValueError, match=r"'logits'.*model's output"):
        shrink(block_net(), ratio={"logits": 0.5})
    with pytest.raises(ValueError, match=r"'stem_bn'.*no filters"):
        shrink(block_net(), ratio={"stem_bn": 0.5})
    with pytest.raises(ValueError, match="not layers of the model"):
        shrink(block_net(), exclude=["nope"])
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="criterion='bn' needs a BatchNormalization"):
        shrink(model, criterion="bn")


def test_unknown_layer_on_a_channel_path_is_refused_by_name():
    inputs = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    h = keras.layers.LayerNormalization(name="mystery")(h)  # mixes channels: not understood
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(h))
    model = keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match=r"'mystery' \(LayerNormalization\).*exclude"):
        shrink(model, ratio=0.5)
    small, report = shrink(model, ratio=0.5, exclude=["conv"])
    assert not report["changed"].any()
    assert analyse(model).groups[0].blocked


def test_lora_dense_is_not_sliced():
    lora = keras.layers.Dense(4, name="lora")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(6, name="pre"), lora])
    model.add(keras.layers.Dense(2))
    lora.enable_lora(2)
    with pytest.raises(ValueError, match=r"'lora' \(Dense\)"):
        shrink(model, ratio={"pre": 0.5})


def test_subclassed_model_names_unstructured_pruning():
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = Tiny()
    model(np.zeros((1, 3), "float32"))
    with pytest.raises(TypeError, match=r"subclassed.*tg\.prune"):
        shrink(model, ratio=0.5)


def test_mobilenet_v2_shrinks_exactly_and_runs():
    """MobileNetV2 (depthwise, Add skips, ZeroPadding): zeroed channels removed exactly."""
    model = keras.applications.MobileNetV2(
        weights=None, input_shape=(32, 32, 3), alpha=0.35, classifier_activation=None
    )
    randomise_bn(model)
    zero_by_groups(model, analyse(model), 0.3)
    small, report = shrink(model, ratio=0.3)
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    assert small(x).shape == (2, 1000)
    expected = _np(model(x))
    assert np.abs(expected).max() > 1e-2  # a meaningful comparison, not two zero outputs
    np.testing.assert_allclose(_np(small(x)), expected, rtol=1e-4, atol=1e-4)
    assert report.attrs["macs_after"] < 0.75 * report.attrs["macs_before"]
    assert report.loc["predictions", "channels_after"] == 1000


def test_public_shrink_dispatches_on_the_engine():
    import tf_green as tg
    from tf_green import models

    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3), keras.layers.Flatten(),
         keras.layers.Dense(2)]
    )  # fmt: skip
    small, report = tg.pruning.shrink(model, 0.5)
    assert small.layers[0].filters == 4 and len(report)
    tf_keras_small, _ = tg.pruning.shrink(
        models.mlp(hidden=(8,), engine="tf_keras"), 0.5
    )  # pruned once
    assert tg.engine.engine_of(tf_keras_small) == "tf_keras"
    assert tf_keras_small.get_layer("dense1").units == 4
    with pytest.raises(TypeError, match=r"tf_keras model: it is pruned once.*Keras 3"):
        tg.pruning.shrink(
            models.mlp(hidden=(8,), engine="tf_keras"), 0.5, np.zeros((4, 64)), np.zeros(4)
        )
