"""Keras 3 model files: loaded by Keras 3, under the same untrusted-input rules (issue #14).

A file saved by Keras 3 (``keras_version`` 3.x) is scanned against Keras 3's own registry and
API table and loaded by Keras 3; hostile ones are refused before any of their code runs.
"""

import json
import sys
import zipfile

import h5py
import keras
import numpy as np
import pytest

import tf_green as tg
from tf_green import loading


def _k3_model(compiled=True):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(inputs))
    if compiled:  # Keras 3.15 cannot read back its own .h5 training config for "mse"
        model.compile(loss="mse", optimizer="adam")
    return model


def _rezip(src, dst, replace):
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, replace.get(info.filename, old.read(info.filename)))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_keras3_file_loads_as_a_keras3_model_with_its_weights(tmp_path, suffix):
    model = _k3_model(compiled=suffix == ".keras")
    path = tmp_path / f"m{suffix}"
    model.save(path)
    loaded = loading.load_model(path)
    assert tg.engine.engine_of(loaded) == "keras3"
    x = np.random.default_rng(0).random((3, 4)).astype("float32")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


def test_tf_green_keras3_layers_load_without_custom_objects(tmp_path):
    model = tg.models.tiny_lm(13, d_model=8, num_layers=1, num_heads=2, seq_len=5, engine="keras3")
    model.save(tmp_path / "lm.keras")
    loaded = loading.load_model(tmp_path / "lm.keras")
    tokens = np.arange(10).reshape(2, 5) % 13
    np.testing.assert_allclose(np.asarray(loaded(tokens)), np.asarray(model(tokens)), atol=1e-6)


def test_a_keras3_lambda_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "marker.txt"

    def side_effect(x):
        with open(marker, "a") as f:
            f.write("ran\n")
        return x * 2.0

    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2)(keras.layers.Lambda(side_effect, name="evil")(inputs))
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    marker.unlink(missing_ok=True)
    with pytest.raises(ValueError, match=r"evil \(Lambda\).*unsafe_deserialization=True"):
        loading.load_model(tmp_path / "lambda.keras")
    assert not marker.exists()
    assert loading.code_carrying_layers(tmp_path / "lambda.keras") == ["evil (Lambda)"]


@pytest.fixture
def evil_module(tmp_path, monkeypatch):
    """A module whose import writes a marker: it must never be imported."""
    marker = tmp_path / "imported.txt"
    (tmp_path / "tg_evil_k3.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\nFunctional = None\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop("tg_evil_k3", None)


@pytest.mark.parametrize(
    ("where", "reference", "message"),
    [
        ("model", {"module": "tg_evil_k3"}, r"module 'tg_evil_k3'"),
        (
            "loss",
            {"module": "os", "class_name": "function", "config": "system"},
            r"module 'os' \(system\)",
        ),
        (
            "loss",
            {"module": "keras.src.utils", "class_name": "function", "config": "os.system"},
            r"dotted name 'os\.system'",
        ),
        (
            "loss",
            {"module": "keras_hub.evil", "class_name": "Evil", "config": {}},
            r"module 'keras_hub\.evil'",
        ),
    ],
)
def test_keras3_configs_naming_code_outside_keras_are_refused(
    tmp_path, evil_module, where, reference, message
):
    _k3_model().save(tmp_path / "clean.keras")
    with zipfile.ZipFile(tmp_path / "clean.keras") as archive:
        config = json.loads(archive.read("config.json"))
    if where == "model":
        config.update(reference)
    else:
        config["compile_config"]["loss"] = {"registered_name": None, **reference}
    path = tmp_path / "evil.keras"
    _rezip(tmp_path / "clean.keras", path, {"config.json": json.dumps(config)})
    with pytest.raises(ValueError, match=message):
        loading.load_model(path)
    assert not evil_module.exists()


def test_a_keras3_h5_is_scanned_too(tmp_path):
    path = tmp_path / "m.h5"
    _k3_model(compiled=False).save(path)
    with h5py.File(path, "r+") as h5:
        config = json.loads(h5.attrs["model_config"])
        config["config"]["layers"][1]["module"] = "os"
        h5.attrs["model_config"] = json.dumps(config)
    with pytest.raises(ValueError, match=r"names module 'os'"):
        loading.load_model(path)
