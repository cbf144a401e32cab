"""Subclassed models with nested blocks, custom layers, GradientTape loops (TensorFlow)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from k3_helpers import kernel_sparsity, tensorflow_only

from tf_green.pruning import keras3
from tf_green.pruning.keras3.engine import get_state
from tf_green.pruning.schedule_math import ConstantSparsity


class Block(keras.layers.Layer):
    """A layer holding a Conv2D and a Dense sublayer."""

    def __init__(self, units=8, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.conv = keras.layers.Conv2D(units, 3, padding="same", activation="relu", name="conv")
        self.proj = keras.layers.Dense(units, name="proj")

    def call(self, x):
        return self.proj(self.conv(x))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class Net(keras.Model):
    """A subclassed model: Block -> pooling -> Dense head."""

    def __init__(self, classes=10, **kwargs):
        super().__init__(**kwargs)
        self.classes = classes
        self.block = Block(8, name="block")
        self.pool = keras.layers.GlobalAveragePooling2D(name="pool")
        self.head = keras.layers.Dense(classes, name="head")

    def call(self, x):
        return self.head(self.pool(self.block(x)))

    def get_config(self):
        return {**super().get_config(), "classes": self.classes}


class Scale(keras.layers.Layer):
    """A custom layer with its own weight and no prunable-weights protocol."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 4), name="w")

    def call(self, x):
        return x @ self.w


class PrunableScale(Scale):
    """The same layer, opting in with get_prunable_weights()."""

    def get_prunable_weights(self):
        return [self.w]


def make_net():
    model = Net()
    model(np.zeros((1, 8, 8, 1), "float32"))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_subclassed_model_with_nested_block_reaches_target(k3_digits):
    (x, y), _ = k3_digits
    model = make_net()
    before = [np.array(w) for w in model.get_weights()]
    pruned = keras3.prune(model, x, y, target_sparsity=0.75, epochs=2, verbose=0)
    assert isinstance(pruned, Net)
    for layer in (pruned.block.conv, pruned.block.proj, pruned.head):
        size = np.prod(layer.kernel.shape)
        assert kernel_sparsity(layer.kernel) == pytest.approx(0.75, abs=1.0 / size), layer.name
        assert kernel_sparsity(layer.bias) == 0.0
    report = keras3.sparsity_report(pruned).query("prunable == True")
    assert report.layer.tolist() == ["conv", "proj", "head"]
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_selecting_a_block_selects_the_layers_inside_it(k3_digits):
    (x, y), _ = k3_digits
    pruned = keras3.prune(make_net(), x, y, layers={"block": 0.6}, epochs=2, verbose=0)
    assert kernel_sparsity(pruned.block.conv.kernel) == pytest.approx(0.6, abs=0.01)
    assert kernel_sparsity(pruned.block.proj.kernel) == pytest.approx(0.6, abs=0.01)
    assert kernel_sparsity(pruned.head.kernel) == 0.0


def _functional_with(layer):
    inputs = keras.Input((6,))
    outputs = keras.layers.Dense(2, name="out")(layer(inputs))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "mse")
    return model


def test_custom_layer_needs_the_protocol_or_named_weights():
    x, y = np.random.default_rng(0).normal(size=(64, 6)), np.zeros((64, 2))
    model = _functional_with(Scale(name="scale"))
    with pytest.raises(ValueError, match=r"'scale'.*get_prunable_weights"):
        keras3.prune(model, x, y, layers=["scale"], epochs=2, verbose=0)
    with pytest.warns(UserWarning, match=r"'scale'.*get_prunable_weights"):
        keras3.wrap(model)  # layers=None: skipped with a warning, `out` still pruned
    pruned = keras3.prune(model, x, y, layers={"scale/w": 0.5}, epochs=2, verbose=0)
    assert kernel_sparsity(pruned.get_layer("scale").w) == pytest.approx(0.5)
    opted = _functional_with(PrunableScale(name="scale"))
    pruned = keras3.prune(opted, x, y, layers=["scale"], target_sparsity=0.5, epochs=2, verbose=0)
    assert kernel_sparsity(pruned.get_layer("scale").w) == pytest.approx(0.5)


def test_layer_without_prunable_weights_selected_by_name_is_an_error(k3_trained_cnn, k3_digits):
    (x, y), _ = k3_digits
    with pytest.raises(ValueError, match=r"'flatten'.*no weights to prune"):
        keras3.prune(k3_trained_cnn, x, y, layers=["flatten"], verbose=0)
    with pytest.raises(ValueError, match=r"no such layer"):
        keras3.prune(k3_trained_cnn, x, y, layers=["nope"], verbose=0)


@pytest.mark.parametrize("value", [1.0, -0.2])
def test_sparsity_outside_range_is_an_error(k3_trained_cnn, k3_digits, value):
    (x, y), _ = k3_digits
    with pytest.raises(ValueError, match=r"target_sparsity.*\[0, 1\)"):
        keras3.prune(k3_trained_cnn, x, y, target_sparsity=value, verbose=0)
    with pytest.raises(ValueError, match=r"layers\['conv2'\]"):
        keras3.prune(k3_trained_cnn, x, y, layers={"conv2": value}, verbose=0)


def test_tf_keras_model_is_refused_with_a_hint(k3_digits):
    import tf_keras

    model = tf_keras.Sequential([tf_keras.layers.Dense(2, input_shape=(3,))])
    with pytest.raises(TypeError, match="Keras 3"):
        keras3.wrap(model)


@tensorflow_only
def test_gradient_tape_loop(k3_digits):
    """The calls a custom loop makes: set_model, on_train_begin, on_train_batch_begin."""
    (x, y), _ = k3_digits
    model = make_net()
    wrapped = keras3.wrap(model, ConstantSparsity(0.6, begin_step=1, frequency=4))
    optimizer = keras.optimizers.Adam(0.01)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    cbs = keras3.callbacks()
    for cb in cbs:
        cb.set_model(wrapped)
        cb.on_train_begin()

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, wrapped(xb, training=True))
        grads = tape.gradient(loss, wrapped.trainable_variables)
        optimizer.apply_gradients(zip(grads, wrapped.trainable_variables, strict=True))

    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    for step, (xb, yb) in enumerate(dataset.take(6)):
        for cb in cbs:
            cb.on_train_batch_begin(step)
        train_step(xb, yb)
    for cb in cbs:
        cb.on_train_end()
    assert get_state(wrapped).step == 6  # masks updated at steps 1 and 5; 6 ran unmasked
    for layer in (wrapped.block.conv, wrapped.block.proj, wrapped.head):
        assert kernel_sparsity(layer.kernel) == pytest.approx(0.6, abs=0.02), layer.name
    stripped = keras3.strip(wrapped)
    assert get_state(stripped) is None
    assert kernel_sparsity(stripped.head.kernel) == pytest.approx(0.6, abs=0.02)
