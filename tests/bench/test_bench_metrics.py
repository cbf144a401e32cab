import numpy as np
import pytest

from tf_green._keras import tf
from tf_green.bench._inputs import as_arrays
from tf_green.bench.metrics import METRICS, accuracy, macro_f1, perplexity, resolve_metric


def test_accuracy_from_logits_probabilities_one_hot_and_binary():
    y = np.array([0, 1, 2, 1])
    logits = np.array([[3.0, 0, 0], [0, 2, 0], [0, 5, 1], [1, 0, 0]])
    assert accuracy(y, logits) == 0.5
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    assert accuracy(y, probs) == 0.5
    assert accuracy(np.eye(3)[y], logits) == 0.5
    # binary: probabilities threshold 0.5, logits threshold 0
    assert accuracy(np.array([1, 0, 1]), np.array([[0.9], [0.4], [0.2]])) == pytest.approx(2 / 3)
    assert accuracy(np.array([1, 0, 1]), np.array([2.0, -1.0, -0.5])) == pytest.approx(2 / 3)


def test_accuracy_of_sequences_counts_tokens():
    y = np.array([[1, 2], [0, 0]])
    logits = np.zeros((2, 2, 3))
    logits[0, 0, 1] = logits[0, 1, 0] = logits[1, 0, 0] = logits[1, 1, 0] = 1.0
    assert accuracy(y, logits) == 0.75


def test_macro_f1_matches_hand_computation():
    y = np.array([0, 0, 1, 1])
    predicted = np.eye(2)[[0, 1, 1, 1]]
    # class 0: p=1, r=0.5 -> f1=2/3; class 1: p=2/3, r=1 -> f1=0.8
    assert macro_f1(y, predicted) == pytest.approx((2 / 3 + 0.8) / 2)


def test_perplexity_of_uniform_logits_is_the_vocabulary_size():
    y = np.array([[1, 2, 3]])
    assert perplexity(y, np.zeros((1, 3, 7))) == pytest.approx(7.0)
    probs = np.full((1, 3, 4), 0.25)
    assert perplexity(y, probs) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="perplexity needs token ids of shape"):
        perplexity(np.zeros(3), np.zeros((2, 4)))


def test_mismatched_targets_name_both_shapes():
    with pytest.raises(ValueError, match=r"targets of shape \(3,\) do not match outputs"):
        accuracy(np.zeros(3), np.zeros((4, 2)))


def test_resolve_metric_names_callables_and_errors():
    assert set(METRICS) == {"accuracy", "macro_f1", "perplexity", "mse", "mae", "rmse"}
    assert resolve_metric("Macro-F1").name == "macro_f1"
    assert resolve_metric("perplexity").higher_is_better is False

    def error_rate(y_true, y_pred):
        return 1.0 - accuracy(y_true, y_pred)

    error_rate.higher_is_better = False
    metric = resolve_metric(error_rate)
    assert (metric.name, metric.higher_is_better) == ("error_rate", False)
    assert metric.drop(0.1, 0.3) == pytest.approx(0.2)
    with pytest.raises(ValueError, match=r"`metric` 'top5' is unknown; use one of \['accuracy'"):
        resolve_metric("top5")
    with pytest.raises(TypeError, match="`metric` must be a name"):
        resolve_metric(3)


def test_as_arrays_reads_numpy_and_batched_datasets():
    x, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    xa, ya = as_arrays(tf.data.Dataset.from_tensor_slices((x, y)).batch(2))
    np.testing.assert_array_equal(xa, x)
    np.testing.assert_array_equal(ya, y)
    xa, ya = as_arrays(tf.data.Dataset.from_tensor_slices(x).batch(3), y)
    np.testing.assert_array_equal(ya, y)
    assert as_arrays([[1, 2]])[0].shape == (1, 2)


def test_as_arrays_errors_name_the_argument():
    with pytest.raises(ValueError, match="`x` has 3 samples but `y` has 2"):
        as_arrays(np.zeros((3, 1)), np.zeros(2))
    pairs = tf.data.Dataset.from_tensor_slices((np.zeros((2, 1)), np.zeros(2))).batch(1)
    with pytest.raises(ValueError, match="`y` was given but `x` is a dataset"):
        as_arrays(pairs, np.zeros(2))
    with pytest.raises(ValueError, match="batched dataset"):
        as_arrays(tf.data.Dataset.from_tensor_slices(np.zeros(3)))
    with pytest.raises(ValueError, match="`x` has no samples"):
        as_arrays(np.zeros((0, 2)))
    with pytest.raises(TypeError, match="`x` must be a numpy array"):
        as_arrays(object())
