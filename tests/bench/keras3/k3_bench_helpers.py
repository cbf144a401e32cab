"""Tiny Keras 3 models for the bench tests, their tf_keras twins and a plain TFLite conversion."""

from __future__ import annotations

import tempfile

import keras
import tensorflow as tf
import tf_keras

# MACs of twin_cnn() per sample, by hand: conv 8*8*4 x 3*3*3, depthwise 6*6*4 x 3*3,
# separable 6*6*4 x 3*3 + 6*6*4 x 4, transposed conv 6*6*4 x 3*3 x 2, dense 13*13*2 x 6.
TWIN_CNN_MACS = 6912 + 1296 + (1296 + 576) + 2592 + 2028


def _zeros(keras_module, *names):
    """Zero initializers for Keras 3 (random ones compile an XLA kernel per shape on JAX,
    seconds each); the weights are then copied from a tf_keras twin."""
    return {name: "zeros" for name in names} if keras_module is keras else {}


def twin_cnn(keras_module=keras):
    """Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose and Dense on (8, 8, 3)."""
    layers, z = keras_module.layers, _zeros
    return keras_module.Sequential(
        [
            keras_module.Input((8, 8, 3)),
            layers.Conv2D(
                4, 3, padding="same", activation="relu", **z(keras_module, "kernel_initializer")
            ),
            layers.DepthwiseConv2D(3, **z(keras_module, "depthwise_initializer")),
            layers.SeparableConv2D(
                4,
                3,
                padding="same",
                **z(keras_module, "depthwise_initializer", "pointwise_initializer"),
            ),
            layers.Conv2DTranspose(2, 3, strides=2, **z(keras_module, "kernel_initializer")),
            layers.Flatten(),
            layers.Dense(6, **z(keras_module, "kernel_initializer")),
        ]
    )


def twin_sequence(keras_module=keras):
    """Dense on a sequence, EinsumDense and self-attention, on (5, 4) inputs."""
    layers, init = keras_module.layers, _zeros(keras_module, "kernel_initializer")
    inputs = keras_module.Input((5, 4))
    hidden = layers.Dense(6, **init)(inputs)
    hidden = layers.EinsumDense("abc,cd->abd", output_shape=(5, 3), **init)(hidden)
    hidden = layers.MultiHeadAttention(num_heads=2, key_dim=3, **init)(hidden, hidden)
    outputs = layers.Dense(2, **init)(layers.GlobalAveragePooling1D()(hidden))
    return keras_module.Model(inputs, outputs)


def tiny_cnn(keras_module=keras):
    """A Keras 3 CNN for the (8, 8, 1) digits: 10 classes, a few hundred parameters."""
    layers, init = keras_module.layers, _zeros(keras_module, "kernel_initializer")
    return keras_module.Sequential(
        [
            keras_module.Input((8, 8, 1)),
            layers.Conv2D(4, 3, activation="relu", **init),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(10, **init),
        ]
    )


def pair(build):
    """``(keras3_model, tf_keras_model)`` of one architecture with the same (random) weights."""
    twin = build(tf_keras)
    model = build(keras)
    model.set_weights(twin.get_weights())
    return model, twin


def compile_classifier(model):
    """Adam 0.01, sparse categorical cross-entropy on logits, accuracy."""
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def to_tflite_bytes(model) -> bytes:
    """Convert a Keras 3 model with TensorFlow's converter (independent of tg.to_tflite).

    TensorFlow backend: a concrete function, its variables tracked by a tf.Module so that the
    converter freezes them. JAX backend: Keras 3's SavedModel export, then the converter.
    """
    spec = [tf.TensorSpec((None, *t.shape[1:]), t.dtype) for t in model.inputs]
    if keras.backend.backend() == "jax":
        with tempfile.TemporaryDirectory() as folder:
            model.export(folder, format="tf_saved_model", verbose=False)
            return tf.lite.TFLiteConverter.from_saved_model(folder).convert()
    function = tf.function(lambda x: model(x, training=False)).get_concrete_function(*spec)
    module = tf.Module()
    module.variables_ = [v.value for v in model.variables]
    return tf.lite.TFLiteConverter.from_concrete_functions([function], module).convert()
