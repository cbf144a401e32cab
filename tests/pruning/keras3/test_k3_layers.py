"""Which weights the Keras 3 engine prunes in each built-in layer kind."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from k3_helpers import kernel_sparsity

from tf_green.pruning import keras3
from tf_green.pruning.keras3.engine import get_state, update_masks
from tf_green.pruning.keras3.selection import select_weights
from tf_green.pruning.schedule_math import ConstantSparsity


def _selected(model):
    return [(s.name, [w.name for w in s.weights]) for s in select_weights(model, None)]


def test_convolution_kinds():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 4)),
            keras.layers.Conv2DTranspose(4, 3, padding="same", name="tconv"),
            keras.layers.DepthwiseConv2D(3, padding="same", name="dw"),
            keras.layers.SeparableConv2D(4, 3, padding="same", name="sep"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Reshape((64, 4)),
            keras.layers.Conv1D(4, 3, name="c1"),
            keras.layers.Reshape((2, 31, 2, 2)),
            keras.layers.Conv3D(2, 2, name="c3"),
        ]
    )
    assert _selected(model) == [
        ("tconv", ["kernel"]),
        ("dw", ["kernel"]),
        ("sep", ["pointwise_kernel"]),
        ("c1", ["kernel"]),
        ("c3", ["kernel"]),
    ]


def _sequence_model():
    tokens = keras.Input((6,), dtype="int32")
    h = keras.layers.Embedding(20, 8, name="emb")(tokens)
    h = keras.layers.MultiHeadAttention(2, 4, name="mha")(h, h)
    h = keras.layers.EinsumDense("abc,cd->abd", output_shape=(None, 8), name="einsum")(h)
    h = keras.layers.LSTM(8, return_sequences=True, name="lstm")(h)
    h = keras.layers.Bidirectional(keras.layers.GRU(4), name="bigru")(h)
    outputs = keras.layers.Dense(2, name="out")(h)
    model = keras.Model(tokens, outputs)
    model.compile(keras.optimizers.Adam(0.05), "mse")
    return model


def test_sequence_kinds_each_weight_once():
    selected = _selected(_sequence_model())
    assert selected == [
        ("emb", ["embeddings"]),
        ("mha", ["kernel"] * 4),  # query, key, value, output projections
        ("einsum", ["kernel"]),
        ("lstm", ["kernel", "recurrent_kernel"]),
        ("bigru", ["kernel", "recurrent_kernel"] * 2),
        ("out", ["kernel"]),
    ]
    model = _sequence_model()
    query = model.get_layer("mha")._query_dense.name
    assert [s.name for s in select_weights(model, [query])] == [query]  # one projection alone


def test_sequence_model_trains_with_exact_zeros():
    model = _sequence_model()
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 20, size=(64, 6)), rng.normal(size=(64, 2))
    wrapped = keras3.wrap(model, ConstantSparsity(0.5, begin_step=1, end_step=1, frequency=1))
    wrapped.fit(x, y, epochs=1, batch_size=16, callbacks=keras3.callbacks(), verbose=0)
    entries = get_state(wrapped).entries
    assert len(entries) == 1 + 4 + 1 + 2 + 4 + 1
    for entry in entries:
        assert kernel_sparsity(entry.variable) >= 0.5 - 1e-6, entry.variable.path


def test_lora_dense_prunes_its_base_kernel():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, name="d1")])
    model.get_layer("d1").enable_lora(2)  # `kernel` is now base + a @ b, a computed tensor
    (selected,) = select_weights(model, None)
    assert selected.weights == [model.get_layer("d1")._kernel]
    wrapped = keras3.wrap(model, ConstantSparsity(0.5, begin_step=1, frequency=1))
    assert update_masks(wrapped, get_state(wrapped), 1)
    assert kernel_sparsity(wrapped.get_layer("d1")._kernel) == pytest.approx(0.5)
