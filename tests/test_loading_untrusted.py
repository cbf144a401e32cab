"""Hostile model and data files (issue #11 findings 1, 3, 4, 9; issue #12 finding 9).

Each exploit writes a marker file in tmp_path as its side effect (never anything destructive),
or resolves a non-Keras function, and must be refused before any of it happens.
"""

import json
import struct
import sys
import zipfile

import h5py
import numpy as np
import pytest

from tf_green import loading, model_scan
from tf_green._keras import keras, tf


def _lambda_model(marker):
    def side_effect(x):
        with open(marker, "a") as f:
            f.write("ran\n")
        return x * 2.0

    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2)(keras.layers.Lambda(side_effect, name="evil")(inputs))
    return keras.Model(inputs, outputs)


def _clean_model():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(inputs))
    model.compile(loss="mse", optimizer="adam")
    return model


def _rezip(src, dst, replace=None, extra=None):
    """Copy a .keras archive, replacing or adding members, deflated."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = (replace or {}).get(info.filename, old.read(info.filename))
            new.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            new.writestr(name, data)


# Finding 1: one file, two formats.


def test_hdf5_and_zip_polyglot_is_refused(tmp_path):
    marker = tmp_path / "marker.txt"
    _lambda_model(str(marker)).save(tmp_path / "lambda.h5")
    _clean_model().save(tmp_path / "clean.keras")
    marker.unlink(missing_ok=True)
    poly = tmp_path / "poly.h5"
    poly.write_bytes(
        (tmp_path / "lambda.h5").read_bytes() + (tmp_path / "clean.keras").read_bytes()
    )
    assert zipfile.is_zipfile(poly) and h5py.is_hdf5(poly)  # the exploit's premise
    for call in (loading.load_model, loading.code_carrying_layers):
        with pytest.raises(ValueError, match="both HDF5 and a zip archive"):
            call(poly)
    assert not marker.exists()


def test_hdf5_signature_at_512_counts_as_hdf5(tmp_path):
    _clean_model().save(tmp_path / "clean.keras")
    poly = tmp_path / "poly.keras"
    head = b"\0" * 512 + b"\x89HDF\r\n\x1a\n" + b"\0" * 504
    poly.write_bytes(head + (tmp_path / "clean.keras").read_bytes())
    assert zipfile.is_zipfile(poly)
    with pytest.raises(ValueError, match="both HDF5 and a zip archive"):
        loading.load_model(poly)


def test_suffix_must_agree_with_the_bytes(tmp_path):
    model = _clean_model()
    model.save(tmp_path / "clean.keras")
    model.save(tmp_path / "clean.h5")
    zip_as_h5 = tmp_path / "zip.h5"
    zip_as_h5.write_bytes((tmp_path / "clean.keras").read_bytes())
    with pytest.raises(ValueError, match=r"\.keras zip archive but its suffix is '\.h5'"):
        loading.load_model(zip_as_h5)
    h5_as_keras = tmp_path / "h5.keras"
    h5_as_keras.write_bytes((tmp_path / "clean.h5").read_bytes())
    with pytest.raises(ValueError, match=r"HDF5 file but its suffix is '\.keras'"):
        loading.load_model(h5_as_keras)


# Finding 3a: dangerous ops in a SavedModel graph.


class _FileWriter(keras.layers.Layer):
    """Not registered: tf_keras revives it from its traced graph, WriteFile included."""

    def __init__(self, marker, **kwargs):
        super().__init__(**kwargs)
        self.marker = marker

    def call(self, x):
        tf.io.write_file(self.marker, "ran")
        return x * 2.0


class _PyCaller(keras.layers.Layer):
    def call(self, x):
        out = tf.py_function(lambda t: t * 2.0, [x], tf.float32)
        out.set_shape(x.shape)
        return out


@pytest.mark.parametrize(("layer", "op"), [("write_file", "WriteFile"), ("py", "EagerPyFunc")])
def test_savedmodel_with_file_or_python_ops_is_refused(tmp_path, layer, op):
    marker = tmp_path / "marker.txt"
    inputs = keras.Input((4,))
    block = _FileWriter(str(marker)) if layer == "write_file" else _PyCaller()
    model = keras.Model(inputs, keras.layers.Dense(2)(block(inputs)))
    path = tmp_path / "sm"
    model.save(path, save_format="tf")
    marker.unlink(missing_ok=True)
    with pytest.raises(ValueError, match=rf"graph op {op} in __inference_.*unsafe_deserialization"):
        loading.load_model(path)
    assert any(op in entry for entry in loading.code_carrying_layers(path))
    if layer == "write_file":  # the opt-in loads it, and then the graph does write the file
        loaded = loading.load_model(path, unsafe_deserialization=True)
        loaded(np.ones((1, 4), np.float32))
        assert marker.exists()


def test_clean_savedmodel_keeps_its_checkpoint_ops_and_loads(tmp_path):
    inputs = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(2, 3, activation="relu")(inputs)
    h = tf.nn.relu(h) * 2.0 + tf.reduce_mean(h)
    h = keras.layers.GlobalAveragePooling2D()(h[:, :, :, :2])
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(np.ones((4, 6, 6, 1)), np.zeros(4), epochs=1, verbose=0)
    path = tmp_path / "sm"
    model.save(path, save_format="tf")
    assert loading.code_carrying_layers(path) == []
    loaded = loading.load_model(path)
    x = np.random.default_rng(0).random((2, 6, 6, 1)).astype(np.float32)
    np.testing.assert_allclose(model(x), loaded(x), atol=1e-6)


def test_checkpoint_ops_in_a_callable_function_are_refused():
    from tensorflow.core.protobuf import saved_model_pb2

    graph = saved_model_pb2.SavedModel()
    meta = graph.meta_graphs.add()
    function = meta.graph_def.library.function.add()
    function.signature.name = "__inference__traced_save_1"
    function.node_def.add(name="s", op="SaveV2")
    call = meta.graph_def.node.add(name="save", op="StatefulPartitionedCall")
    call.attr["f"].func.name = "__inference__traced_save_1"
    assert model_scan.graph_findings(graph) == []  # only the saver graph calls it
    meta.object_graph_def.concrete_functions["__inference__traced_save_1"].SetInParent()
    assert model_scan.graph_findings(graph) == ["graph op SaveV2 in __inference__traced_save_1"]


# Findings 3b and 3c: configs that import modules or resolve functions outside Keras.


@pytest.fixture
def evil_module(tmp_path, monkeypatch):
    """A module whose import writes a marker: it must never be imported."""
    marker = tmp_path / "imported.txt"
    (tmp_path / "tg_evil_mod.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\nFunctional = None\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop("tg_evil_mod", None)


def test_keras_config_naming_a_module_does_not_import_it(tmp_path, evil_module):
    _clean_model().save(tmp_path / "clean.keras")
    with zipfile.ZipFile(tmp_path / "clean.keras") as archive:
        config = json.loads(archive.read("config.json"))
    config["module"] = "tg_evil_mod"
    path = tmp_path / "evil.keras"
    _rezip(tmp_path / "clean.keras", path, {"config.json": json.dumps(config)})
    with pytest.raises(ValueError, match=r"module 'tg_evil_mod'.*unsafe_deserialization"):
        loading.load_model(path)
    assert not evil_module.exists()


SYSTEM_LOSSES = {
    "os": {"module": "os", "class_name": "function", "config": "system", "registered_name": None},
    "dotted": {
        "module": "tf_keras.src.callbacks",  # imports os: "os.system" resolves
        "class_name": "function",
        "config": "os.system",
        "registered_name": None,
    },
    "builtins": {
        "module": "builtins",
        "class_name": "function",
        "config": "eval",
        "registered_name": None,
    },
}


@pytest.mark.parametrize("kind", sorted(SYSTEM_LOSSES))
def test_keras_compile_config_cannot_name_os_system(tmp_path, kind):
    _clean_model().save(tmp_path / "clean.keras")
    with zipfile.ZipFile(tmp_path / "clean.keras") as archive:
        config = json.loads(archive.read("config.json"))
    config["compile_config"]["loss"] = SYSTEM_LOSSES[kind]
    path = tmp_path / "evil.keras"
    _rezip(tmp_path / "clean.keras", path, {"config.json": json.dumps(config)})
    with pytest.raises(ValueError, match=r"names (module 'os'|the dotted name|builtins\.eval)"):
        loading.load_model(path)


def test_h5_training_config_and_registered_name_tricks_are_refused(tmp_path, evil_module):
    path = tmp_path / "m.h5"
    _clean_model().save(path)
    with h5py.File(path, "r+") as h5:
        training = json.loads(h5.attrs["training_config"])
        training["loss"] = SYSTEM_LOSSES["os"]
        h5.attrs["training_config"] = json.dumps(training)
    with pytest.raises(ValueError, match="names module 'os'"):
        loading.load_model(path)
    # A class_name that is harmless, with the Lambda class reached through registered_name.
    sneaky = {
        "module": "tf_keras.src.layers.core.lambda_layer",
        "class_name": "Harmless",
        "registered_name": "Lambda",
        "config": {"name": "x"},
    }
    assert model_scan.config_findings(sneaky) == [
        "x (Harmless) names the registered name 'Lambda' for 'Harmless' in module "
        "'tf_keras.src.layers.core.lambda_layer'"
    ]
    not_imported = {"module": "tf_green.__main__", "class_name": "Anything", "config": {}}
    assert "not imported yet" in model_scan.config_findings(not_imported)[0]


@pytest.mark.parametrize("symbol", ["io.write_file", "print", "py_function", "io.gfile.rmtree"])
def test_tf_op_layers_may_not_call_file_or_python_ops(symbol):
    layer = {"class_name": "TFOpLambda", "config": {"name": "op", "function": symbol}}
    assert model_scan.config_findings(layer) == [f"op (TFOpLambda) calls TF symbol tf.{symbol}"]
    plain = {"class_name": "TFOpLambda", "config": {"name": "op", "function": "nn.relu"}}
    assert model_scan.config_findings(plain) == []


# Finding 4: archive bombs and crafted zip directories.


def test_config_bomb_is_refused_before_it_is_read(tmp_path):
    _clean_model().save(tmp_path / "clean.keras")
    with zipfile.ZipFile(tmp_path / "clean.keras") as archive:
        config = archive.read("config.json")
    path = tmp_path / "bomb.keras"
    _rezip(tmp_path / "clean.keras", path, {"config.json": config + b" " * (24 << 20)})
    assert path.stat().st_size < 200_000
    with pytest.raises(ValueError, match="max_compression_ratio=100"):
        loading.load_model(path)
    with pytest.raises(ValueError, match=r"config\.json, over max_config_bytes=1048576"):
        loading.load_model(path, max_config_bytes=1 << 20, max_compression_ratio=1e6)
    assert loading.load_model(path, max_compression_ratio=1e6).get_layer("out") is not None


def test_member_bomb_is_refused_before_unpacking(tmp_path):
    _clean_model().save(tmp_path / "clean.keras")
    path = tmp_path / "bomb.keras"
    _rezip(tmp_path / "clean.keras", path, extra={"assets/blob.bin": bytes(24 << 20)})
    with pytest.raises(ValueError, match=r"member 'assets/blob.bin'.*max_compression_ratio"):
        loading.load_model(path)
    with pytest.raises(ValueError, match=r"unpacks to \d+ bytes, over max_archive_bytes=8388608"):
        loading.load_model(path, max_archive_bytes=8 << 20, max_compression_ratio=1e6)
    with pytest.raises(ValueError, match="max_archive_bytes=1000"):
        loading.load_model(path, max_archive_bytes=1000)  # the file itself is larger


def test_hdf5_dataset_bomb_is_refused(tmp_path):
    path = tmp_path / "bomb.h5"
    _clean_model().save(path)
    with h5py.File(path, "r+") as h5:
        h5.create_dataset("blob", data=np.zeros(6 << 20, np.float32), compression="gzip")
    with pytest.raises(ValueError, match=r"dataset '/blob'.*max_compression_ratio"):
        loading.load_model(path)


def test_crafted_zip_directory_is_a_clear_error(tmp_path):
    _clean_model().save(tmp_path / "clean.keras")
    data = bytearray((tmp_path / "clean.keras").read_bytes())
    entry = data.rindex(b"PK\x01\x02")  # central directory entry of the last member
    size = struct.unpack_from("<I", data, entry + 20)[0]
    struct.pack_into("<II", data, entry + 20, size + 4096, size + 4096)  # past the end
    path = tmp_path / "crafted.keras"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="crafted or truncated zip"):
        loading.load_model(path)


# Finding 9 (#11): object arrays in an .npz.


def test_npz_with_objects_names_file_and_key(tmp_path):
    path = tmp_path / "objects.npz"
    x = np.zeros((3, 2), np.float32)
    np.savez(path, x_train=x, y_train=np.array([{"a": 1}, 2, 3], dtype=object), x_val=x, y_val=x)
    with pytest.raises(ValueError, match=r"objects\.npz.*'y_train' holds Python objects"):
        loading.load_data(path)


# Finding 9 (#12): Keras 3 files are loaded by Keras 3 now (tests/test_loading_keras3.py); the
# advice in _KERAS3_HINT is run in a fresh interpreter by
# tests/test_fresh_interpreter.py::test_keras3_hint_gives_advice_that_works.
