import functools

import numpy as np
import pytest

from tf_green import models
from tf_green._keras import keras, tf
from tf_green.quantization import TFLiteModel, qat, quantize, to_tflite
from tf_green.quantization._flatbuffer import int8_weight_zero_fraction
from tf_green.quantization._wrappers import has_pruning_wrappers, has_qat_wrappers, kernel_sparsity

compile_classifier = functools.partial(models.compile_classifier, learning_rate=1e-3)


def _wrapped_layer_classes(model):
    return {type(layer).__name__ for layer in model.layers}


def test_qat_wraps_a_copy_and_keeps_compile_settings(trained_cnn, weights_digest):
    before = weights_digest(trained_cnn)
    wrapped = qat(trained_cnn)
    assert weights_digest(trained_cnn) == before
    assert has_qat_wrappers(wrapped) and not has_qat_wrappers(trained_cnn)
    assert {"QuantizeLayer", "QuantizeWrapperV2"} <= _wrapped_layer_classes(wrapped)
    assert wrapped.optimizer is not trained_cnn.optimizer
    assert isinstance(wrapped.optimizer, keras.optimizers.Adam)
    assert float(wrapped.optimizer.learning_rate) == pytest.approx(3e-3)
    assert isinstance(wrapped.loss, keras.losses.SparseCategoricalCrossentropy)
    assert wrapped.compiled_metrics._user_metrics == ["accuracy"]
    x = np.random.default_rng(0).random((4, 8, 8, 1), dtype=np.float32)
    # Before any training the fake-quant ranges are not calibrated; weights are the same.
    (kernel,) = [w for w in wrapped.get_layer("quant_logits").weights if "/kernel:" in w.name]
    np.testing.assert_array_equal(kernel.numpy(), trained_cnn.get_layer("logits").kernel.numpy())
    assert wrapped.predict(x, verbose=0).shape == (4, 10)


def test_qat_of_an_uncompiled_model_is_uncompiled():
    wrapped = qat(models.mlp(engine="tf_keras"))
    assert not wrapped._is_compiled and has_qat_wrappers(wrapped)


def test_qat_strips_pruning_wrappers(pruned_cnn, weights_digest):
    before = weights_digest(pruned_cnn)
    wrapped = qat(pruned_cnn, preserve_sparsity=True)
    assert not has_pruning_wrappers(wrapped) and has_pruning_wrappers(pruned_cnn)
    assert weights_digest(pruned_cnn) == before
    assert kernel_sparsity(wrapped) >= 0.79


@pytest.mark.slow
def test_pqat_keeps_sparsity_and_plain_qat_does_not(pruned_mlp_wrapped, flat_digits):
    (x, y), (xv, yv) = flat_digits
    pqat = quantize(pruned_mlp_wrapped, x, y, epochs=1)  # auto: pruning wrappers -> PQAT
    plain = quantize(pruned_mlp_wrapped, x, y, epochs=1, preserve_sparsity=False)
    assert kernel_sparsity(pqat) >= 0.89
    assert kernel_sparsity(plain) < 0.5
    content = to_tflite(pqat, quantization="int8")
    assert int8_weight_zero_fraction(content) >= 0.85
    tfl = TFLiteModel(content)
    assert tfl.precision == "int8"
    keras_acc = pqat.evaluate(xv, yv, verbose=0)[1]
    assert tfl.evaluate(xv, yv) == pytest.approx(keras_acc, abs=0.03)


@pytest.mark.slow
def test_quantize_fine_tunes_and_exports_without_representative_data(trained_cnn, digits_data):
    (x, y), (xv, yv) = digits_data
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    model = quantize(trained_cnn, dataset, epochs=1)
    assert model._is_compiled and has_qat_wrappers(model)
    keras_acc = model.evaluate(xv, yv, verbose=0)[1]
    assert keras_acc >= trained_cnn.evaluate(xv, yv, verbose=0)[1] - 0.05
    tfl = TFLiteModel(to_tflite(model, quantization="int8", int8_io=True))
    assert tfl.precision == "int8" and tfl.input_details[0]["dtype"] == np.int8
    assert tfl.evaluate(xv, yv) == pytest.approx(keras_acc, abs=0.02)


@pytest.mark.slow
def test_quantize_auto_detects_a_stripped_pruned_model(pruned_mlp, flat_digits):
    (x, y), _ = flat_digits
    model = compile_classifier(keras.models.clone_model(pruned_mlp))
    model.set_weights(pruned_mlp.get_weights())
    tuned = quantize(model, x[:256], y[:256], epochs=1)
    assert kernel_sparsity(tuned) >= 0.89


def test_quantize_with_loss_for_an_uncompiled_model(flat_digits):
    (x, y), _ = flat_digits
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    tuned = quantize(
        models.mlp(engine="tf_keras"),
        x[:64],
        y[:64],
        loss=loss,
        optimizer="sgd",
        metrics=["accuracy"],
    )
    assert isinstance(tuned.optimizer, keras.optimizers.SGD)
    assert "accuracy" in tuned.evaluate(x[:64], y[:64], verbose=0, return_dict=True)


def test_quantize_bad_arguments(trained_cnn, digits_data):
    (x, y), _ = digits_data
    with pytest.raises(ValueError, match="`epochs` must be an int >= 1, got 0"):
        quantize(trained_cnn, x, y, epochs=0)
    with pytest.raises(ValueError, match="`y` is missing"):
        quantize(trained_cnn, x)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    with pytest.raises(ValueError, match="`y` must be None when `x` is a tf"):
        quantize(trained_cnn, dataset, y)
    with pytest.raises(ValueError, match=r"not compiled.*pass loss=\.\.\."):
        quantize(models.cnn(width=4, engine="tf_keras"), x, y)


def test_unsupported_layer_is_named():
    inputs = keras.Input((6,))
    h = keras.layers.LayerNormalization(name="norm")(keras.layers.Dense(4)(inputs))
    model = keras.Model(inputs, h)
    with pytest.raises(ValueError, match=r"layer 'norm' \(LayerNormalization\) is not supported"):
        qat(model)


def test_subclassed_unbuilt_and_already_wrapped_models_are_refused(trained_cnn):
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    with pytest.raises(TypeError, match=r"subclassed model .*Tiny.*Sequential or functional"):
        qat(Tiny())
    with pytest.raises(ValueError, match="is not built"):
        qat(keras.Sequential([keras.layers.Dense(2)]))
    with pytest.raises(ValueError, match="already prepared for quantization-aware training"):
        qat(qat(trained_cnn))
    with pytest.raises(TypeError, match="must be a tf_keras model"):
        qat("model")


def test_qat_model_exports_only_as_int8(trained_cnn):
    with pytest.raises(ValueError, match="export it with quantization='int8', not 'float16'"):
        to_tflite(qat(trained_cnn), quantization="float16")
