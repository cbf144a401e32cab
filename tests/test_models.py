import numpy as np
import pytest

from tf_green import models
from tf_green._keras import keras, tf


@pytest.mark.parametrize(("width", "params"), [(256, 1_203_210), (128, 306_698), (16, 6_090)])
def test_cnn_parameter_counts_match_the_docs(width, params):
    model = models.cnn(width=width, engine="tf_keras")
    assert model.count_params() == params
    assert model.output_shape == (None, 10)
    assert not model.optimizer if hasattr(model, "optimizer") else True


def test_cnn_and_mlp_forward():
    x = np.zeros((3, 8, 8, 1), np.float32)
    assert models.cnn(width=4, num_classes=5, engine="tf_keras")(x).shape == (3, 5)
    assert models.mlp(hidden=(8,), engine="tf_keras")(np.zeros((2, 64), np.float32)).shape == (
        2,
        10,
    )
    assert models.mlp(engine="tf_keras").count_params() == 17_226


@pytest.mark.parametrize(
    ("factory", "kwargs", "argument"),
    [
        (models.cnn, {"width": 0}, "width"),
        (models.mlp, {"dropout": 1.0}, "dropout"),
        (models.tiny_lm, {"vocab_size": 10, "d_model": 30, "num_heads": 4}, "divisible"),
        (models.tiny_lm, {"vocab_size": 0}, "vocab_size"),
    ],
)
def test_bad_sizes_name_the_argument(factory, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        factory(**kwargs)


def test_tiny_lm_is_causal_and_has_dynamic_length():
    model = models.tiny_lm(
        vocab_size=30, d_model=16, num_layers=2, num_heads=2, seq_len=12, engine="tf_keras"
    )
    tokens = np.random.default_rng(0).integers(0, 30, size=(2, 12)).astype(np.int32)
    changed = tokens.copy()
    changed[:, 8:] = (changed[:, 8:] + 1) % 30
    a, b = model(tokens).numpy(), model(changed).numpy()
    np.testing.assert_allclose(a[:, :8], b[:, :8], atol=1e-5)
    assert not np.allclose(a[:, 8:], b[:, 8:])
    assert model(tokens[:, :5]).shape == (2, 5, 30)
    types = {type(layer).__name__ for layer in model.layers}
    assert {"Embedding", "MultiHeadAttention", "Dense", "LayerNormalization"} <= types
    assert not any("Lambda" in t for t in types)


def test_tiny_lm_refuses_sequences_longer_than_seq_len():
    model = models.tiny_lm(
        vocab_size=30, d_model=16, num_layers=1, num_heads=2, seq_len=8, engine="tf_keras"
    )
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="max_length"):
        model(np.zeros((1, 9), np.int32))


@pytest.mark.parametrize("fmt", ["keras", "h5", "savedmodel"])
def test_tiny_lm_round_trips_without_custom_objects(tmp_path, fmt):
    model = models.tiny_lm(
        vocab_size=20, d_model=8, num_layers=1, num_heads=2, seq_len=6, engine="tf_keras"
    )
    tokens = np.arange(12, dtype=np.int32).reshape(2, 6) % 20
    path = tmp_path / ("model" if fmt == "savedmodel" else f"model.{fmt}")
    model.save(path, save_format="tf" if fmt == "savedmodel" else None)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(model(tokens), loaded(tokens), atol=1e-5)
    if fmt != "savedmodel":
        layer = loaded.get_layer("position_embedding")
        assert isinstance(layer, models.PositionEmbedding) and layer.max_length == 6


def test_position_embedding_config_is_complete():
    layer = models.PositionEmbedding(max_length=5, initializer="zeros", name="pos")
    clone = models.PositionEmbedding.from_config(layer.get_config())
    assert clone.max_length == 5 and clone.name == "pos"
    assert np.all(clone(tf.ones((1, 3, 4))).numpy() == 1.0)
    with pytest.raises(ValueError, match="max_length"):
        models.PositionEmbedding(max_length=0)


def test_compile_classifier_compiles_for_logits():
    model = models.compile_classifier(models.cnn(width=2, engine="tf_keras"), learning_rate=0.01)
    assert model.loss.get_config()["from_logits"]
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    history = model.fit(np.zeros((4, 8, 8, 1)), np.arange(4), epochs=1, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}


# --- engine="keras3": the same architectures with Keras 3 --------------------------------
# (built, trained, saved, loaded and generated from without tf_keras, in a fresh interpreter:
# tests/test_fresh_interpreter.py::test_keras3_builds_train_save_and_load_without_tf_keras)


@pytest.mark.parametrize(
    ("factory", "kwargs"),
    [
        (models.cnn, {"width": 16}),
        (models.mlp, {"dropout": 0.1}),
        (models.tiny_lm, {"vocab_size": 30, "d_model": 16, "num_layers": 2, "num_heads": 2}),
    ],
)
def test_keras3_engine_builds_the_same_architecture(factory, kwargs):
    import keras as keras3

    old, new = factory(**kwargs, engine="tf_keras"), factory(**kwargs, engine="keras3")
    assert isinstance(new, keras3.Model) and isinstance(old, keras.Model)
    assert [layer.name for layer in new.layers] == [layer.name for layer in old.layers]
    assert [w.shape for w in new.get_weights()] == [w.shape for w in old.get_weights()]
    assert new.count_params() == old.count_params()
    assert new.name == old.name


def test_keras3_tiny_lm_computes_what_the_tf_keras_one_does():
    old = models.tiny_lm(
        vocab_size=30, d_model=16, num_layers=2, num_heads=2, seq_len=12, engine="tf_keras"
    )
    new = models.tiny_lm(30, 16, 2, 2, seq_len=12, engine="keras3")
    new.set_weights(old.get_weights())
    tokens = np.random.default_rng(1).integers(0, 30, size=(2, 12)).astype(np.int32)
    np.testing.assert_allclose(np.asarray(new(tokens)), old(tokens).numpy(), atol=1e-4)
    np.testing.assert_allclose(np.asarray(new(tokens[:, :5])), old(tokens[:, :5]), atol=1e-4)
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="max_length"):
        new(np.zeros((1, 13), np.int32))
    layer = models.position_embedding_class("keras3")
    assert isinstance(new.get_layer("position_embedding"), layer)


def test_engine_arguments_are_checked():
    with pytest.raises(ValueError, match="`engine` must be"):
        models.cnn(width=2, engine="torch")
    with pytest.raises(ValueError, match="is a tf_keras model"):
        models.compile_classifier(models.cnn(width=2, engine="tf_keras"), engine="keras3")
    with pytest.raises(ValueError, match="`engine` must be"):
        models.with_fixed_length(models.mlp(engine="tf_keras"), seq_len=3, engine="keras2")


def test_builders_build_keras3_models_by_default():
    from tf_green._engine import engine_of

    built = [models.cnn(width=2), models.mlp(hidden=(4,)), models.tiny_lm(10, 8, 1, 2, seq_len=4)]
    assert [engine_of(model) for model in built] == ["keras3"] * 3
