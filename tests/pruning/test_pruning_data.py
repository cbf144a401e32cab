import numpy as np
import pytest

from tf_green._keras import tf
from tf_green.pruning.data import count_samples, inspect_data, inspect_validation


def test_arrays_give_steps_from_batch_size():
    data = inspect_data(np.zeros((100, 3)), np.zeros(100), batch_size=32)
    assert (data.steps_per_epoch, data.num_samples) == (4, 100)
    capped = inspect_data(np.zeros((100, 3)), np.zeros(100), batch_size=10, steps_per_epoch=3)
    assert capped.steps_per_epoch == 3
    multi = inspect_data({"a": np.zeros((9, 2)), "b": np.zeros(9)}, [0] * 9, batch_size=4)
    assert multi.steps_per_epoch == 3


def test_datasets_give_their_cardinality_or_are_counted():
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((10, 2)), np.zeros(10))).batch(4)
    assert inspect_data(ds).steps_per_epoch == 3
    unknown = ds.filter(lambda x, y: True)
    assert int(unknown.cardinality()) == int(tf.data.UNKNOWN_CARDINALITY)
    assert inspect_data(unknown).steps_per_epoch == 3
    assert inspect_data(ds.repeat(), steps_per_epoch=5).steps_per_epoch == 5


def test_infinite_dataset_needs_steps_per_epoch():
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((4, 2)), np.zeros(4))).batch(2).repeat()
    with pytest.raises(ValueError, match=r"`x` is an infinite dataset: pass steps_per_epoch"):
        inspect_data(ds)


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (None, None, r"`x` is required"),
        (np.zeros((0, 3)), np.zeros(0), r"`x` is empty \(0 samples\)"),
        (np.zeros((4, 3)), None, r"`y` is required with array inputs"),
        (np.zeros((4, 3)), np.zeros(5), r"`x` has 4 samples but `y` has 5"),
        (
            tf.data.Dataset.from_tensor_slices((np.zeros((4, 2)), np.zeros(4))).batch(2),
            np.zeros(4),
            r"`y` must be None when `x` is a tf.data.Dataset",
        ),
        (
            tf.data.Dataset.from_tensor_slices((np.zeros((0, 2)), np.zeros(0))).batch(2),
            None,
            r"`x` is an empty dataset \(0 batches\)",
        ),
        (
            tf.data.Dataset.from_tensor_slices((np.zeros((4, 2)), np.zeros(4)))
            .filter(lambda x, y: False)
            .batch(2),
            None,
            r"`x` is an empty dataset",
        ),
        ({"a": np.zeros((3, 2)), "b": np.zeros(4)}, np.zeros(3), r"different lengths: \[3, 4\]"),
    ],
)
def test_bad_training_data_is_explained(x, y, message):
    with pytest.raises(ValueError, match=message):
        inspect_data(x, y)


def test_unsupported_input_types_are_refused():
    with pytest.raises(TypeError, match=r"`x` must be a numpy array.*from_generator"):
        inspect_data((i for i in range(3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"`batch_size` must be an integer >= 1"):
        inspect_data(np.zeros((3, 1)), np.zeros(3), batch_size=0)
    with pytest.raises(ValueError, match=r"`steps_per_epoch` must be None or an integer"):
        inspect_data(np.zeros((3, 1)), np.zeros(3), steps_per_epoch=-1)
    with pytest.raises(ValueError, match=r"must have a sample axis"):
        count_samples(np.float32(3.0))


def test_validation_data_is_checked():
    inspect_validation(None)
    inspect_validation((np.zeros((3, 2)), np.zeros(3)))
    inspect_validation(tf.data.Dataset.range(3).map(lambda i: (i, i)).batch(2))
    with pytest.raises(ValueError, match=r"`validation_data` is empty"):
        inspect_validation((np.zeros((0, 2)), np.zeros(0)))
    with pytest.raises(ValueError, match=r"`validation_data` is an empty dataset"):
        inspect_validation(tf.data.Dataset.range(0).batch(2))
    with pytest.raises(ValueError, match=r"parts of `validation_data` have different lengths"):
        inspect_validation((np.zeros((3, 2)), np.zeros(4)))
    with pytest.raises(TypeError, match=r"`validation_data` must be a tf.data.Dataset or a tuple"):
        inspect_validation(np.zeros((3, 2)))
