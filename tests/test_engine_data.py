"""The one input normaliser (tf_green._engine.data, data_read, fit_data) on both engines."""

from __future__ import annotations

import ast
from pathlib import Path

import keras as keras3
import numpy as np
import pytest
import tensorflow as tf

from tf_green._engine import checks, data, data_read, fit_data
from tf_green._input_checks import batch_if_unbatched
from tf_green._keras import keras as tf_keras
from tf_green.distillation import _inputs as distill_inputs
from tf_green.pruning.data import inspect_data

X = np.arange(40, dtype=np.float32).reshape(10, 4)
Y = np.arange(10) % 3


def _tf_keras_model():
    model = tf_keras.Sequential([tf_keras.layers.Dense(3, input_shape=(4,))])
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model


def _keras3_model():
    model = keras3.Sequential([keras3.Input((4,)), keras3.layers.Dense(3)])
    model.compile("sgd", keras3.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _two_input_model(module):
    """Inputs in the order b (rank 2), a (rank 3): not the sorted order of a dict's keys."""
    b = module.Input((3,), name="b")
    a = module.Input((2, 2), name="a")
    joined = module.layers.Concatenate()([b, module.layers.Flatten()(a)])
    return module.Model([b, a], module.layers.Dense(1)(joined))


ENGINES = [pytest.param(_tf_keras_model, id="tf_keras"), pytest.param(_keras3_model, id="keras3")]


def test_the_engine_modules_import_no_keras():
    allowed = {"__future__", "collections", "contextlib", "dataclasses", "math", "re", "typing"}
    for module in (data, data_read, fit_data, checks):
        tree = ast.parse(Path(module.__file__).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in allowed | {"numpy", "tensorflow"} or name.startswith(
                    "tf_green._engine."
                ), f"{module.__name__} imports {name}"


@pytest.mark.parametrize("make", ENGINES)
def test_model_facts_are_read_duck_typed(make):
    model = make()
    assert data.input_ranks(model) == [2]
    assert data.output_shape(model) == (None, 3)
    assert data.input_ranks([3, 2]) == [3, 2]
    assert data.input_ranks(object()) is None and data.output_shape(object()) is None


@pytest.mark.parametrize("make", ENGINES)
def test_batched_or_not_is_read_from_the_model(make):
    model = make()
    samples = tf.data.Dataset.from_tensor_slices((X, Y))
    assert data.is_batched(samples, model) is False
    assert data.is_batched(samples.batch(4), model) is True
    batched = batch_if_unbatched(samples, model, 4)  # before: Keras 3 shapes have no .rank
    assert batched.element_spec[0].shape.as_list() == [None, 4]
    assert batch_if_unbatched(batched, model, 4) is batched
    with pytest.raises(ValueError, match=r"`x` yields inputs of rank 3 .* takes rank 2"):
        data.is_batched(batched.batch(2), model)


@pytest.mark.parametrize("make", ENGINES)
def test_count_samples_and_count_batches_on_every_input_kind(make):
    model = make()
    samples = tf.data.Dataset.from_tensor_slices((X, Y))
    for ds in (samples, samples.batch(4), samples.batch(4).filter(lambda x, y: True)):
        assert data.count_samples(ds, model) == 10
        assert data.count_batches(ds, 4, model=model) == 3
    assert data.count_samples(X) == data.count_samples(X.tolist()) == 10
    assert data.count_batches(X, 4) == 3 and data.count_batches(X, 4, steps_per_epoch=2) == 2
    assert data.count_batches(samples.batch(4).repeat(), steps_per_epoch=5) == 5
    with pytest.raises(ValueError, match=r"`x` is an infinite dataset: pass steps_per_epoch"):
        data.count_batches(samples.batch(4).repeat())
    with pytest.raises(ValueError, match=r"infinite dataset \(repeat\(\)\), so it has no sample"):
        data.count_samples(samples.repeat())
    with pytest.raises(ValueError, match="`batch_size` is needed"):
        data.count_batches(X)


def test_count_samples_of_several_inputs_counts_samples_not_inputs():
    # Before: pruning counted a list of two input arrays as 2 samples (and refused y).
    x = [np.zeros((9, 2)), np.zeros(9)]
    assert data.count_samples(x) == 9
    assert data.count_samples({"a": np.zeros((9, 2)), "b": (np.zeros(9), np.zeros(9))}) == 9
    assert inspect_data(x, np.zeros(9), batch_size=4).steps_per_epoch == 3
    assert data.count_samples([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]) == 3  # one input's rows
    with pytest.raises(ValueError, match=r"different lengths: \[3, 4\]"):
        data.count_samples([np.zeros(3), np.zeros(4)])


def test_count_samples_of_an_unbatched_dataset_counts_its_elements():
    # Before: distillation summed the first axis of each element: 10 samples of 4 gave 40.
    samples = tf.data.Dataset.from_tensor_slices((X, Y))
    assert distill_inputs.count_samples(samples) == 10
    assert distill_inputs.count_samples(samples.batch(3)) == 10
    assert data.count_samples(tf.data.Dataset.from_tensor_slices(X), [2]) == 10


@pytest.mark.parametrize("module", [tf_keras, keras3], ids=["tf_keras", "keras3"])
def test_dict_inputs_are_matched_by_rank_not_by_key_order(module):
    # Before: the first sorted key ('a', rank 3) was compared with the first input ('b', rank 2).
    model = _two_input_model(module)
    assert sorted(data.input_ranks(model)) == [2, 3]
    x = {"a": np.zeros((6, 2, 2), np.float32), "b": np.zeros((6, 3), np.float32)}
    samples = tf.data.Dataset.from_tensor_slices((x, np.zeros(6)))
    assert data.is_batched(samples, model) is False
    assert data.is_batched(samples.batch(2), model) is True
    assert data.count_samples(samples.batch(4), model) == 6
    assert batch_if_unbatched(samples, model, 4).element_spec[0]["b"].shape.as_list() == [None, 3]
    xs, y, _ = data_read.read_dataset(samples, model)
    assert xs["a"].shape == (6, 2, 2) and y.shape == (6,)


@pytest.mark.parametrize("make", ENGINES)
def test_read_dataset_on_every_element_kind(make):
    model = make()
    w = np.ones(10)
    for ds in (
        tf.data.Dataset.from_tensor_slices((X, Y)),
        tf.data.Dataset.from_tensor_slices((X, Y)).batch(3),
        tf.data.Dataset.from_tensor_slices((X, Y, w)).batch(4),
    ):
        x, y, _ = data_read.read_dataset(ds, model)
        np.testing.assert_array_equal(x, X)
        np.testing.assert_array_equal(y, Y)
    x, y, weights = data_read.read_dataset(tf.data.Dataset.from_tensor_slices((X, Y, w)), model)
    assert weights.shape == (10,)
    x, y, _ = data_read.read_dataset(tf.data.Dataset.from_tensor_slices((X,)).batch(4), model)
    assert x.shape == (10, 4) and y is None
    x, _, _ = data_read.read_dataset(tf.data.Dataset.from_tensor_slices(X).batch(4), limit=6)
    np.testing.assert_array_equal(x, X[:6])
    pair = tf.data.Dataset.from_tensor_slices((X, X[:, :1])).batch(4)
    x, y, _ = data_read.read_dataset(pair, [2, 2], tuple_is_x=True)
    assert y is None and [a.shape for a in x] == [(10, 4), (10, 1)]
    x, y, _ = data_read.read_dataset(pair, [2, 2])  # as fit reads it: (x, y)
    assert x.shape == (10, 4) and y.shape == (10, 1)


def test_read_dataset_errors():
    with pytest.raises(ValueError, match="the dataset is empty"):
        data_read.read_dataset(tf.data.Dataset.from_tensor_slices(X[:0]).batch(2))
    with pytest.raises(ValueError, match="elements have 4 components"):
        data_read.read_dataset(tf.data.Dataset.from_tensor_slices((X, X, X, X)).batch(2))
    with pytest.raises(ValueError, match="dataset of scalar elements"):
        data_read.read_dataset(tf.data.Dataset.from_tensor_slices(Y))


def test_split_element_follows_fit():
    assert data.split_element((1,)) == (1, None, None)
    assert data.split_element([1, 2, 3]) == (1, 2, 3)
    assert data.split_element({"a": 1}) == ({"a": 1}, None, None)
    assert data.split_element(((1, 2), 3), num_inputs=2) == ((1, 2), 3, None)
    with pytest.raises(ValueError, match="`data`: dataset elements have 5 components"):
        data.split_element((1, 2, 3, 4, 5), argument="data")


@pytest.mark.parametrize("make", ENGINES)
def test_check_fit_data_on_both_engines(make):
    model = make()
    checked = fit_data.check_fit_data(X, np.eye(3)[Y], batch_size=4, model=model, loss=model.loss)
    assert (checked.steps_per_epoch, checked.num_samples) == (3, 10)
    assert checked.y.tolist() == Y.tolist()  # one-hot rows become ids for a sparse loss
    samples = tf.data.Dataset.from_tensor_slices((X, Y))
    checked = inspect_data(samples, batch_size=4, model=model)
    assert checked.steps_per_epoch == 3 and checked.num_samples is None
    assert checked.x.element_spec[0].shape.as_list() == [None, 4]  # batched, then checked
    with pytest.raises(ValueError, match=r"`y` has label 3 at index \(0,\)"):
        fit_data.check_fit_data(X, Y + 3, model=model, loss=model.loss)
    with pytest.raises(ValueError, match="Dataset of inputs only"):
        fit_data.check_fit_data(tf.data.Dataset.from_tensor_slices(X), model=model)
    val = fit_data.check_validation_data(samples, model=model, batch_size=5)
    assert val.cardinality() == 2
    with pytest.raises(ValueError, match=r"validation_data\[1\]` has label 7"):
        fit_data.check_validation_data((X, Y + 7), model=model, loss=model.loss)


def test_a_keras3_dataset_with_nan_is_refused_as_fit_consumes_it():
    model = _keras3_model()
    x = X.copy()
    x[6, 2] = np.nan
    checked = fit_data.check_fit_data(
        tf.data.Dataset.from_tensor_slices((x, Y)), batch_size=4, model=model
    )
    with pytest.raises(ValueError, match=r"in its x at batch 1, sample 2"), checks.data_errors():
        model.fit(checked.x, epochs=1, verbose=0)


def test_loss_kind_reads_keras3_losses():
    assert checks.loss_kind(keras3.losses.SparseCategoricalCrossentropy()) == "sparse"
    assert checks.loss_kind(keras3.losses.sparse_categorical_crossentropy) == "sparse"
    assert checks.loss_kind(keras3.losses.CategoricalCrossentropy()) == "categorical"
    assert checks.loss_kind(keras3.losses.BinaryFocalCrossentropy()) == "binary"
    assert checks.loss_kind(keras3.losses.Huber()) == "regression"
    assert checks.loss_kind(keras3.losses.MeanSquaredError()) == "regression"
    assert checks.loss_kind(tf_keras.losses.SparseCategoricalCrossentropy()) == "sparse"


def test_keras3_subclassed_model_falls_back_to_the_data():
    class Tiny(keras3.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras3.layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    model = Tiny()
    assert data.input_ranks(model) is None
    samples = tf.data.Dataset.from_tensor_slices((X, Y))
    assert data.is_batched(samples, model) is False  # scalar targets: samples
    assert data.count_samples(samples, model) == 10
    assert data.count_batches(samples, 4, model=model) == 3
