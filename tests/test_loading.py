import numpy as np
import pytest

from tf_green import loading, models
from tf_green._keras import keras


def _lambda_model(marker):
    def side_effect(x):
        # Runs whenever the layer is rebuilt: proves whether loading executed the code.
        with open(marker, "a") as f:
            f.write("ran\n")
        return x * 2.0

    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2)(keras.layers.Lambda(side_effect, name="evil")(inputs))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("fmt", ["keras", "h5", "savedmodel"])
def test_malicious_lambda_does_not_run(tmp_path, fmt):
    marker = tmp_path / "marker.txt"
    model = _lambda_model(str(marker))
    path = tmp_path / ("model" if fmt == "savedmodel" else f"model.{fmt}")
    model.save(path, save_format="tf" if fmt == "savedmodel" else None)
    marker.unlink(missing_ok=True)
    assert loading.code_carrying_layers(path) == ["evil (Lambda)"]
    with pytest.raises(ValueError, match=r"evil \(Lambda\).*unsafe_deserialization=True"):
        loading.load_model(path)
    assert not marker.exists()


def test_unsafe_deserialization_opt_in_loads_h5(tmp_path):
    marker = tmp_path / "marker.txt"
    path = tmp_path / "model.h5"
    _lambda_model(str(marker)).save(path)
    marker.unlink()
    loaded = loading.load_model(path, unsafe_deserialization=True)
    assert loaded.get_layer("evil") is not None
    assert marker.exists()  # the user opted in: the code did run


@pytest.mark.parametrize("fmt", ["keras", "h5", "savedmodel"])
def test_plain_models_load_in_every_format(tmp_path, fmt):
    model = models.mlp(hidden=(4,), engine="tf_keras")
    model.compile(loss="mse")
    path = tmp_path / ("m" if fmt == "savedmodel" else f"m.{fmt}")
    model.save(path, save_format="tf" if fmt == "savedmodel" else None)
    loaded = loading.load_model(path)
    x = np.ones((2, 64), np.float32)
    np.testing.assert_allclose(model(x), loaded(x), atol=1e-6)


def test_bad_model_paths(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        loading.load_model(tmp_path / "missing.keras")
    not_a_model = tmp_path / "notes.h5"
    not_a_model.write_text("hello")
    with pytest.raises(ValueError, match="is not a Keras model"):
        loading.load_model(not_a_model)
    with pytest.raises(ValueError, match="not a Keras SavedModel"):
        loading.load_model(tmp_path)
    archive = tmp_path / "data.keras"
    np.savez(archive, x=np.zeros(2))
    (tmp_path / "data.keras.npz").rename(archive)
    with pytest.raises(ValueError, match=r"zip archive but not a \.keras model"):
        loading.load_model(archive)
    weights_only = tmp_path / "w.weights.h5"
    models.mlp(hidden=(4,), engine="tf_keras").save_weights(weights_only)
    with pytest.raises(ValueError, match="weights only"):
        loading.load_model(weights_only)


def test_load_data_digits_and_npz(tmp_path):
    (x, y), (xv, yv) = loading.load_data("digits")
    assert x.shape[1:] == (8, 8, 1) and len(xv) == len(yv)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=x[:10], y_train=y[:10], x_val=xv[:5], y_val=yv[:5])
    (x2, _), (xv2, _) = loading.load_data(path)
    np.testing.assert_array_equal(x2, x[:10])
    assert len(xv2) == 5


def test_load_data_bad_input(tmp_path):
    with pytest.raises(ValueError, match="neither an embedded data set"):
        loading.load_data(tmp_path / "nope.npz")
    partial = tmp_path / "p.npz"
    np.savez(partial, x_train=np.zeros(3), y_train=np.zeros(3))
    with pytest.raises(ValueError, match=r"lacks the arrays \['x_val', 'y_val'\]"):
        loading.load_data(partial)
    uneven = tmp_path / "u.npz"
    np.savez(uneven, x_train=np.zeros(3), y_train=np.zeros(2), x_val=np.zeros(1), y_val=np.zeros(1))
    with pytest.raises(ValueError, match="x_train has 3 samples but y_train has 2"):
        loading.load_data(uneven)
    text = tmp_path / "t.npz"
    text.write_text("x")
    with pytest.raises(ValueError, match=r"not a readable \.npz"):
        loading.load_data(text)
