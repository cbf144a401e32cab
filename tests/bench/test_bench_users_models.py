"""Bench and profile on the models and data users bring: regression, multi-input, subclassed,
datasets batched or not, with or without targets (issue #12 findings 2, 3, 6, 7)."""

import numpy as np
import pytest

from tf_green._keras import keras, tf
from tf_green.bench import Bench, Targets, profile
from tf_green.bench.metrics import Metric
from tf_green.quantization import TFLiteModel

FAST = {"repeats": 1, "latency_calls": 2, "throughput_batch_size": 16, "energy": False}


def _convert(model):
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


@pytest.fixture(scope="module")
def regression():
    """Two linear regressors of y = x @ w: the 'pruned' one is closer to w (smaller MSE)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    w = np.array([[0.5], [-1.0], [2.0]], np.float32)
    y = (x @ w)[:, 0]

    def regressor(weights):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, use_bias=False)])
        model.set_weights([weights])
        return model

    worse, better = regressor(w + 0.6), regressor(w + 0.3)
    return x, y, worse, better


def test_regression_metric_by_name_is_lower_is_better(regression):
    x, y, worse, better = regression
    bench = Bench(x, y, metric="mse", targets=Targets(max_metric_drop=0.01), **FAST)
    results = bench.add("baseline", worse).add("pruned", better).run(progress=False)
    base, pruned = results["metric_value"]
    assert pruned < base
    assert results["metric_drop"].iloc[1] == pytest.approx(pruned - base)  # negative: better
    assert results["meets_targets"].tolist() == [True, True]
    assert results["metric_higher_is_better"].tolist() == [False, False]


def test_callable_metric_needs_a_direction(regression):
    x, y, worse, better = regression

    def squared_error(y_true, y_pred):
        return float(np.mean((y_true - y_pred[:, 0]) ** 2))

    with pytest.raises(ValueError, match="without a direction: pass higher_is_better"):
        Bench(x, y, metric=squared_error)
    bench = Bench(x, y, metric=squared_error, higher_is_better=False, **FAST)
    results = bench.add("baseline", worse).add("pruned", better).run(progress=False)
    assert results["metric_drop"].iloc[1] < 0 and results["meets_targets"].all()
    metric = Metric("squared_error", squared_error, higher_is_better=False)
    assert Bench(x, y, metric=metric).metric.higher_is_better is False


def test_accuracy_on_continuous_targets_is_refused(regression):
    x, y, worse, _ = regression
    bench = Bench(x, y, **FAST).add("baseline", worse)
    with pytest.raises(ValueError, match=r"`y` holds continuous values .* metric='mse'"):
        bench.run(progress=False)


def test_labels_outside_the_classes_are_refused():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    x = np.zeros((8, 4), np.float32)
    bench = Bench(x, np.full(8, 5), **FAST).add("baseline", model)
    with pytest.raises(ValueError, match=r"`y` has class id 5 but the output has 3 classes"):
        bench.run(progress=False)
    with pytest.raises(ValueError, match=r"class id 5 but the output has 3 classes"):
        profile(TFLiteModel(_convert(model)), x, np.full(8, 5), **FAST)


@pytest.fixture(scope="module")
def two_inputs():
    keras.utils.set_random_seed(0)
    image = keras.Input((4,), name="image")
    meta = keras.Input((2,), name="meta")
    joined = keras.layers.Concatenate()([keras.layers.Dense(3)(image), meta])
    model = keras.Model([image, meta], keras.layers.Dense(3)(joined))
    rng = np.random.default_rng(0)
    x = {
        "image": rng.normal(size=(24, 4)).astype(np.float32),
        "meta": rng.normal(size=(24, 2)).astype(np.float32),
    }
    logits = model.predict([x["image"], x["meta"]], verbose=0)
    return model, x, logits.argmax(-1)


def test_multi_input_models_profile_with_dict_or_list_data(two_inputs):
    model, x, y = two_inputs
    result = profile(model, x, y, **FAST)
    assert result.metric_value == 1.0 and result.flops_per_sample > 0
    assert profile(model, [x["image"], x["meta"]], y, **FAST).metric_value == 1.0
    tflite = profile(TFLiteModel(_convert(model)), x, y, **FAST)
    assert tflite.metric_value == 1.0


def test_bench_takes_a_batched_dataset_of_dict_and_labels(two_inputs):
    model, x, y = two_inputs
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(5)
    bench = Bench(dataset, **FAST).add("keras", model).add("tflite", _convert(model))
    results = bench.run(progress=False)
    assert results["metric_value"].tolist() == [1.0, 1.0]
    assert results["samples"].tolist() == [24, 24]


def test_subclassed_model_that_was_called_profiles():
    class Classifier(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(4, activation="relu")
            self.out = keras.layers.Dense(3)

        def call(self, inputs):
            return self.out(self.hidden(inputs))

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(16, 5)).astype(np.float32)
    model = Classifier()
    with pytest.raises(ValueError, match=r"never built.*call it once on a sample"):
        profile(model, x, **FAST)
    y = model(x).numpy().argmax(-1)
    result = profile(model, x, y, **FAST)
    assert result.metric_value == 1.0 and result.flops_per_sample == 2 * (5 * 4 + 4 * 3)
    bench = Bench(x, y, **FAST).add("sub", model)
    assert bench.run(progress=False)["metric_value"].iloc[0] == 1.0


def test_unbatched_datasets_with_and_without_targets():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3, 2)), keras.layers.Flatten(), keras.layers.Dense(2)])
    x = np.random.default_rng(0).normal(size=(10, 3, 2)).astype(np.float32)
    y = model.predict(x, verbose=0).argmax(-1)
    pairs = tf.data.Dataset.from_tensor_slices((x, y))  # unbatched, scalar labels
    assert profile(model, pairs, **FAST).metric_value == 1.0
    assert Bench(pairs, **FAST).add("m", model).run(progress=False)["samples"].iloc[0] == 10
    # x only, unbatched (elements (3, 2)): a latency-only bench; the model tells the batching
    inputs_only = tf.data.Dataset.from_tensor_slices(x)
    bench = Bench(inputs_only, **FAST).add("m", model)
    row = bench.run(progress=False).iloc[0]
    assert row["samples"] == 10 and row["metric_value"] is None and row["meets_targets"]
    with pytest.raises(ValueError, match=r"`targets` bound the metric .* there are no targets"):
        Bench(inputs_only, targets=Targets(max_metric_drop=0.02))
