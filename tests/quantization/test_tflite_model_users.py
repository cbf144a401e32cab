"""TFLiteModel on the models users bring: recurrent (stateful at batch 1), multi-output,
regression; labels that do not fit the output (issue #12 findings 1, 2, 3, 4)."""

import time

import numpy as np
import pytest

from tf_green._keras import keras, tf
from tf_green.quantization import TFLiteModel


def _convert(model):
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def _sequence_data(n=48, steps=6, seed=0):
    """Three classes told apart by where in the sequence the signal sits (needs the state)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(0, 0.1, (n, steps, 2)).astype(np.float32)
    for i, label in enumerate(y):
        x[i, 2 * label : 2 * label + 2, 0] += 1.0
    return x, y


@pytest.mark.parametrize("layer", [keras.layers.LSTM, keras.layers.GRU])
def test_recurrent_model_at_batch_one_matches_keras(layer):
    keras.utils.set_random_seed(0)
    x, y = _sequence_data()

    def build(batch_size):
        inputs = keras.Input(shape=x.shape[1:], batch_size=batch_size)
        return keras.Model(inputs, keras.layers.Dense(3)(layer(8)(inputs)))

    trained = build(None)  # train fast at batch 16, serve the weights at batch 1
    trained.compile(
        keras.optimizers.Adam(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    trained.fit(x, y, batch_size=16, epochs=15, verbose=0)
    model = build(1)
    model.set_weights(trained.get_weights())
    tfl = TFLiteModel(_convert(model))
    # the converter keeps an LSTM's state in variable tensors (a GRU becomes a While loop)
    assert tfl.stateful == (layer is keras.layers.LSTM)
    expected = model.predict(x, batch_size=1, verbose=0)
    np.testing.assert_allclose(tfl.predict(x), expected, atol=1e-4)
    keras_accuracy = float(np.mean(expected.argmax(-1) == y))
    assert tfl.evaluate(x, y) == pytest.approx(keras_accuracy)
    # the same sample twice gives the same answer: no state carried between calls
    twice = tfl.predict(np.concatenate([x[:1], x[:1]]))
    np.testing.assert_allclose(twice[0], twice[1], atol=1e-6)


def test_stateless_model_skips_the_reset(monkeypatch):
    inputs = keras.Input((4,))
    tfl = TFLiteModel(_convert(keras.Model(inputs, keras.layers.Dense(2)(inputs))))
    assert not tfl.stateful
    calls = []
    interpreter = tfl._interpreter
    monkeypatch.setattr(interpreter, "reset_all_variables", lambda: calls.append(1))
    tfl.predict(np.zeros((3, 4), np.float32))
    assert calls == []


def test_reset_costs_little_next_to_an_invoke():
    """Measure: the reset is a fraction of a batch-1 LSTM call (printed with -s)."""
    inputs = keras.Input(shape=(6, 2), batch_size=1)
    tfl = TFLiteModel(_convert(keras.Model(inputs, keras.layers.LSTM(8)(inputs))))
    x = np.zeros((200, 6, 2), np.float32)
    tfl.predict(x[:5])
    start = time.perf_counter()
    tfl.predict(x)
    with_reset = time.perf_counter() - start
    interpreter = tfl._interpreter
    start = time.perf_counter()
    for _ in range(200):
        interpreter.reset_all_variables()
    resets = time.perf_counter() - start
    print(f"200 predicts {with_reset * 1e3:.2f} ms, of which resets {resets * 1e3:.2f} ms")
    assert resets < with_reset


@pytest.fixture(scope="module")
def two_heads():
    """Two heads whose Keras order (digit, parity) is not the converter's (alphabetical)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,), name="features")
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    digit = keras.layers.Dense(10, name="zdigit")(hidden)
    parity = keras.layers.Dense(2, name="parity")(hidden)
    model = keras.Model(inputs, [digit, parity])
    x = np.random.default_rng(1).normal(size=(40, 4)).astype(np.float32)
    return model, TFLiteModel(_convert(model)), x


def test_multi_output_predict_returns_outputs_by_keras_name(two_heads):
    model, tfl, x = two_heads
    digit, parity = model.predict(x, verbose=0)
    assert sorted(tfl.output_names) == ["parity", "zdigit"]
    out = tfl.predict(x)
    assert set(out) == {"zdigit", "parity"}
    np.testing.assert_allclose(out["zdigit"], digit, atol=1e-5)
    np.testing.assert_allclose(out["parity"], parity, atol=1e-5)
    np.testing.assert_allclose(tfl.predict(x, output="parity"), parity, atol=1e-5)
    with pytest.raises(ValueError, match=r"`output` 'digit' is not an output.*'zdigit'"):
        tfl.predict(x, output="digit")
    with pytest.raises(TypeError, match="`output` must be an output name"):
        tfl.predict(x, output=0)


def test_multi_output_evaluate_scores_the_head_the_labels_belong_to(two_heads):
    model, tfl, x = two_heads
    digit, parity = model.predict(x, verbose=0)
    digit_labels = np.arange(40) % 10
    parity_labels = digit_labels % 2
    expected = float(np.mean(digit.argmax(-1) == digit_labels))
    assert tfl.evaluate(x, digit_labels) == pytest.approx(expected)  # only the 10-class head fits
    assert tfl.evaluate(x, parity_labels, output="parity") == pytest.approx(
        float(np.mean(parity.argmax(-1) == parity_labels))
    )
    with pytest.raises(ValueError, match=r"fits several outputs.*pass output=<name>"):
        tfl.evaluate(x, parity_labels)  # 0/1 fit both heads: refuse to guess


def test_labels_outside_the_classes_raise(two_heads):
    _, tfl, x = two_heads
    labels = np.arange(40) % 10
    with pytest.raises(ValueError, match=r"`y` has class id 9 but the output has 2 classes"):
        tfl.evaluate(x, labels, output="parity")
    single = TFLiteModel(_convert(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])))
    with pytest.raises(ValueError, match=r"`y` has class id 7 but the output has 3 classes"):
        single.evaluate(x, np.full(40, 7))
    with pytest.raises(ValueError, match=r"`y` has class id -1"):
        single.evaluate(x, np.full(40, -1))


def test_regression_metrics_and_continuous_labels():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(2).normal(size=(32, 3)).astype(np.float32)
    y = (x @ np.array([0.5, -1.0, 2.0], np.float32)).astype(np.float32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    tfl = TFLiteModel(_convert(model))
    out = model.predict(x, verbose=0)[:, 0]
    assert tfl.evaluate(x, y, metric="mse") == pytest.approx(np.mean((out - y) ** 2), rel=1e-4)
    assert tfl.evaluate(x, y, metric="rmse") == pytest.approx(
        np.sqrt(np.mean((out - y) ** 2)), rel=1e-4
    )
    with pytest.raises(ValueError, match=r"`y` holds continuous values .* metric='mse'"):
        tfl.evaluate(x, y)  # accuracy on a regression target: refuse, not "0.39"
