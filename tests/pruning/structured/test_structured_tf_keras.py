"""Structured pruning of tf_keras functional models: the same graph, tf_keras layers rebuilt."""

from __future__ import annotations

import numpy as np
import pytest

import tf_green as tg
from tf_green import models
from tf_green._engine import engine_of
from tf_green.pruning.structured import analyse, shrink
from tf_green.pruning.structured.taylor import taylor_scores

keras = tg.engine.tf_keras()
L = keras.layers
X8 = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype("float32")


def _zero(model, producers, norms=()):
    """Zero filters (kernel, bias) of producers and gamma/beta of BatchNormalizations."""
    for name, index in producers.items():
        layer = model.get_layer(name)
        kernel, bias = layer.get_weights()
        kernel[..., index], bias[index] = 0.0, 0.0
        layer.set_weights([kernel, bias])
    for name, index in dict(norms).items():
        gamma, beta, mean, var = model.get_layer(name).get_weights()
        gamma[index], beta[index] = 0.0, 0.0
        model.get_layer(name).set_weights([gamma, beta, mean, var])


def _randomise_bn(model):
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            n = layer.gamma.shape[0]
            stats = [rng.uniform(0.5, 1.5, n), rng.normal(0, 0.3, n), rng.normal(0, 0.3, n)]
            layer.set_weights([*stats, rng.uniform(0.5, 1.5, n)])


def _residual_net():
    """stem -> [conv, BN, ReLU, conv, BN] + skip (Add) -> ReLU -> Flatten -> Dense -> logits."""
    inputs = keras.Input((8, 8, 3))
    a = L.Conv2D(8, 3, padding="same", name="stem")(inputs)
    a = L.ReLU()(L.BatchNormalization(name="stem_bn")(a))
    h = L.Conv2D(6, 3, padding="same", name="b1a")(a)
    h = L.ReLU()(L.BatchNormalization(name="b1a_bn")(h))
    h = L.BatchNormalization(name="b1b_bn")(L.Conv2D(8, 3, padding="same", name="b1b")(h))
    a = L.ReLU()(L.Add(name="add")([a, h]))
    h = L.Dense(6, activation="relu", name="fc")(L.Flatten()(L.MaxPooling2D()(a)))
    return keras.Model(inputs, L.Dense(3, name="logits")(h))


def test_digits_cnn_shrinks_to_a_tf_keras_model_exactly():
    model = models.cnn(
        width=8, engine="tf_keras"
    )  # tf_keras: conv1 (8) -> pool -> conv2 (16) -> flatten -> logits
    _zero(model, {"conv1": [0, 3, 5, 6], "conv2": [1, 2, 4, 8, 9, 11, 12, 15]})
    x = np.random.default_rng(2).uniform(size=(3, 8, 8, 1)).astype("float32")
    small, report = shrink(model, ratio=0.5)
    assert engine_of(small) == "tf_keras" and isinstance(small, keras.Model)
    np.testing.assert_allclose(small(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-5)
    assert small.get_layer("conv1").filters == 4 and small.get_layer("conv2").filters == 8
    assert tuple(small.get_layer("logits").kernel.shape) == (2 * 2 * 8, 10)  # Flatten repeat
    assert report.loc["conv2", "weights_after"] == ((3, 3, 4, 8), (8,))
    assert report.attrs["macs_before"] == 16 * 9 * 8 + 4 * 9 * 8 * 16 + 64 * 10
    assert report.attrs["macs_after"] == 16 * 9 * 4 + 4 * 9 * 4 * 8 + 32 * 10


def test_residual_tf_keras_net_groups_and_exact_outputs():
    model = _residual_net()
    _randomise_bn(model)
    trunk = [0, 2, 5, 7]
    _zero(model, {"stem": trunk, "b1b": trunk, "b1a": [1, 4, 5], "fc": [0, 3, 4]})
    _zero(model, {}, {"stem_bn": trunk, "b1b_bn": trunk, "b1a_bn": [1, 4, 5]})
    groups = {frozenset(p.name for p in g.producers): g.prunable for g in analyse(model).groups}
    assert groups == {
        frozenset({"stem", "b1b"}): True,  # joined by the Add
        frozenset({"b1a"}): True,
        frozenset({"fc"}): True,
        frozenset({"logits"}): False,
    }
    before = [w.copy() for w in model.get_weights()]
    small, _ = shrink(model, ratio=0.5)
    np.testing.assert_allclose(small(X8).numpy(), model(X8).numpy(), rtol=1e-4, atol=1e-5)
    assert [small.get_layer(n).filters for n in ("stem", "b1a", "b1b")] == [4, 3, 4]
    assert tuple(small.get_layer("fc").kernel.shape) == (4 * 4 * 4, 3)
    assert small.get_layer("b1b_bn").gamma.shape == (4,)
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)  # the caller's model is not changed


def test_wrong_indices_on_tf_keras_would_differ():
    """The exactness check can fail here too: half-zeroed residual channels change outputs."""
    model = _residual_net()
    _randomise_bn(model)
    _zero(model, {"stem": [0, 1, 2, 3]}, {"stem_bn": [0, 1, 2, 3]})  # b1b not zeroed
    small, _ = shrink(model, ratio={"stem": 0.5})
    assert not np.allclose(small(X8).numpy(), model(X8).numpy(), atol=1e-5)


def test_public_shrink_takes_tf_keras_and_compiles_like_it():
    model = _residual_net()
    model.compile("adam", "mse")
    assert shrink(model, {"b1a": 0.5}, criterion="bn")[0].get_layer("b1a").filters == 3
    small, _ = tg.pruning.shrink(model, 0.25, exclude=["b1a"])
    assert engine_of(small) == "tf_keras" and small.optimizer is not model.optimizer
    assert small.get_layer("stem").filters == 8  # b1a's input channels are kept too
    assert small.get_layer("b1a").filters == 6 and small.get_layer("fc").units == 5
    assert small.loss == "mse" and small.optimizer.get_config()["name"].lower() == "adam"


def test_tf_keras_unknown_layer_and_subclassed_model_are_refused_by_name():
    inputs = keras.Input((6, 6, 2))
    h = L.LayerNormalization(name="mystery")(L.Conv2D(4, 3, name="conv")(inputs))
    model = keras.Model(inputs, L.Dense(2)(L.Flatten()(h)))
    with pytest.raises(ValueError, match=r"'mystery' \(LayerNormalization\).*exclude"):
        shrink(model, ratio=0.5)

    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.backbone = keras.Sequential([L.Dense(2)])

        def call(self, x):
            return self.backbone(x)

    tiny = Tiny()
    tiny(np.zeros((1, 3), "float32"))
    with pytest.raises(TypeError, match=r"subclassed tf_keras model.*tg\.prune.*inner"):
        shrink(tiny, ratio=0.5)
    with pytest.raises(TypeError, match=r"subclassed tf_keras model.*tg\.prune"):
        tg.pruning.shrink(tiny, 0.5)


def test_tf_keras_tiny_lm_prunes_heads_and_units():
    model = models.tiny_lm(
        13, d_model=8, num_layers=1, num_heads=4, seq_len=6, engine="tf_keras"
    )  # tf_keras
    tokens = np.random.default_rng(0).integers(0, 13, size=(2, 6)).astype("int32")
    small, _ = shrink(model, ratio={"block0_attention": 0.5, "block0_ff1": 0.5})
    assert engine_of(small) == "tf_keras"
    assert small.get_layer("block0_attention")._num_heads == 2
    assert tuple(small.get_layer("block0_ff2").kernel.shape) == (16, 8)
    assert small(tokens).shape == (2, 6, 13)


def test_taylor_scores_read_tf_keras_gradients():
    model = models.cnn(width=4, engine="tf_keras")
    _zero(model, {"conv1": [2]})  # a dead filter: zero weights, so zero gradient x weight
    graph = analyse(model)
    x = np.random.default_rng(3).uniform(size=(8, 8, 8, 1)).astype("float32")
    y = np.arange(8) % 10
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    scores = taylor_scores(graph, x, y, loss)
    conv1 = scores[graph.groups[0].root]
    assert conv1.shape == (4,) and conv1[2] == 0.0 and (np.delete(conv1, 2) > 0).all()
