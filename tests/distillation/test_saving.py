import numpy as np
import pytest

from tf_green import models
from tf_green._keras import keras
from tf_green.distillation.distiller import Distiller


def trained_distiller(teacher, digits_data, **kwargs):
    (x, y), _ = digits_data
    d = Distiller(
        teacher, models.cnn(width=2, engine="tf_keras"), alpha=0.2, temperature=3.0, **kwargs
    )
    d.compile(optimizer=keras.optimizers.Adam(3e-3), metrics=["accuracy"])
    d.fit(x[:128], y[:128], epochs=1, verbose=0)
    return d


def test_get_config_is_complete(teacher):
    d = Distiller(
        teacher, models.cnn(width=2, engine="tf_keras"), alpha=0.3, temperature=2.0,
        feature_pairs=[("conv2", "conv2")], feature_weight=0.25, name="kd",
    )  # fmt: skip
    config = d.get_config()
    assert set(config) == {
        "name", "student", "teacher", "alpha", "temperature", "feature_pairs", "feature_weight"
    }  # fmt: skip
    rebuilt = Distiller.from_config(config)
    assert rebuilt.get_config() == config
    assert rebuilt.feature_pairs == [("conv2", "conv2")] and rebuilt.name == "kd"
    assert rebuilt.student is not d.student and not rebuilt.teacher.trainable


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["keras", "savedmodel"])
@pytest.mark.parametrize("features", [False, True])
def test_round_trip_without_custom_objects(teacher, digits_data, tmp_path, fmt, features):
    (_, _), (xv, yv) = digits_data
    pairs = [("conv2", "conv2")] if features else None
    d = trained_distiller(teacher, digits_data, feature_pairs=pairs)
    path = tmp_path / ("d.keras" if fmt == "keras" else "d_savedmodel")
    d.save(path) if fmt == "keras" else d.save(path, save_format="tf")
    loaded = keras.models.load_model(path)
    assert type(loaded) is Distiller
    assert (loaded.alpha, loaded.temperature, loaded.feature_pairs) == (
        0.2, 3.0, d.feature_pairs,
    )  # fmt: skip
    np.testing.assert_allclose(
        loaded.predict(xv[:8], verbose=0), d.predict(xv[:8], verbose=0), atol=1e-5
    )
    for a, b in zip(loaded.get_weights(), d.get_weights(), strict=True):
        np.testing.assert_allclose(a, b)
    assert not loaded.teacher.trainable
    if fmt == "keras":  # the compile state comes back; training goes on
        assert loaded.optimizer is not None
        assert loaded.evaluate(xv, yv, verbose=0, return_dict=True).keys() >= {"accuracy"}


def test_hdf5_is_refused_clearly_and_the_student_saves_alone(teacher, digits_data, tmp_path):
    (_, _), (xv, _) = digits_data
    d = trained_distiller(teacher, digits_data)
    for path, kwargs in ((tmp_path / "d.h5", {}), (tmp_path / "d", {"save_format": "h5"})):
        with pytest.raises(ValueError, match=r"HDF5 \(\.h5\) cannot store.*distiller\.student"):
            d.save(path, **kwargs)
    with pytest.raises(NotImplementedError, match="subclassed"):
        keras.models.save_model(d, tmp_path / "via_api.h5")
    assert list(tmp_path.iterdir()) == []
    d.student.save(tmp_path / "student.h5")  # deployment: the student alone
    student = keras.models.load_model(tmp_path / "student.h5")
    np.testing.assert_allclose(student.predict(xv[:4], verbose=0), d.predict(xv[:4], verbose=0))
