"""Load models and data sets that users name on the command line or in a recipe.

Model files are untrusted input. A ``Lambda`` layer carries Python code: the ``.keras``
format stores it as marshalled bytecode that Keras' ``safe_mode`` refuses, but ``.h5`` files
and SavedModel directories are loaded by tf_keras' legacy path, where ``safe_mode`` does not
apply and the bytecode runs while the model is rebuilt. :func:`load_model` therefore reads the
model's config *before* deserializing anything and refuses code-carrying layers in every
format unless the caller opts in with ``unsafe_deserialization=True``.

Example:
    >>> from tf_green.loading import load_data
    >>> (x, y), (x_val, y_val) = load_data("digits")
    >>> x.shape[1:]
    (8, 8, 1)
"""

from __future__ import annotations

import json
import pathlib
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from tf_green import datasets
from tf_green._keras import keras

__all__ = ["CODE_CARRYING_LAYERS", "code_carrying_layers", "load_data", "load_model"]

CODE_CARRYING_LAYERS = frozenset({"Lambda"})
NPZ_KEYS = ("x_train", "y_train", "x_val", "y_val")
EMBEDDED_DATA = ("digits", "python_docs")


def _walk_layers(config: Any) -> Iterator[tuple[str, str]]:
    """Yield (class_name, layer name) for every object with a class_name in a config tree."""
    if isinstance(config, dict):
        if "class_name" in config:
            inner = config.get("config")
            name = inner.get("name", "?") if isinstance(inner, dict) else "?"
            yield str(config["class_name"]), str(name)
        for value in config.values():
            yield from _walk_layers(value)
    elif isinstance(config, list):
        for value in config:
            yield from _walk_layers(value)


def _configs(path: pathlib.Path) -> Iterator[Any]:
    """Yield the JSON configs stored in a saved model, without deserializing any layer."""
    if path.is_dir():
        metadata_path = path / "keras_metadata.pb"
        if not metadata_path.exists():
            raise ValueError(
                f"`model` directory {str(path)!r} is not a Keras SavedModel (no "
                "keras_metadata.pb); save it with `model.save(dir, save_format='tf')`."
            )
        from tf_keras.protobuf import saved_metadata_pb2

        metadata = saved_metadata_pb2.SavedMetadata()
        metadata.ParseFromString(metadata_path.read_bytes())
        for node in metadata.nodes:
            yield json.loads(node.metadata or "{}")
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if "config.json" not in archive.namelist():
                raise ValueError(
                    f"`model` file {str(path)!r} is a zip archive but not a .keras model (no "
                    "config.json); save the model with `model.save(path)`."
                )
            yield json.loads(archive.read("config.json"))
    else:
        import h5py

        try:
            with h5py.File(path, "r") as h5:
                raw = h5.attrs.get("model_config")
        except OSError as error:
            raise ValueError(
                f"`model` file {str(path)!r} is not a Keras model (.keras zip, .h5 or SavedModel "
                f"directory): {error}"
            ) from None
        if raw is None:
            raise ValueError(
                f"`model` file {str(path)!r} holds weights only, not a model; save the whole "
                "model with `model.save(path)`."
            )
        yield json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def code_carrying_layers(path: str | pathlib.Path) -> list[str]:
    """List the layers of a saved model that carry Python code, without loading it.

    Args:
        path: A ``.keras`` file, an ``.h5`` file or a SavedModel directory.

    Returns:
        ``"<layer name> (<class>)"`` for each code-carrying layer; empty if none.

    Raises:
        ValueError: If ``path`` is missing or is not a saved Keras model.

    Example:
        >>> code_carrying_layers("model.keras")  # doctest: +SKIP
        ['scale (Lambda)']
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise ValueError(f"`model` path {str(path)!r} does not exist.")
    found = []
    for config in _configs(path):
        for class_name, name in _walk_layers(config):
            entry = f"{name} ({class_name})"
            if class_name in CODE_CARRYING_LAYERS and entry not in found:
                found.append(entry)
    return found


def load_model(
    path: str | pathlib.Path, *, unsafe_deserialization: bool = False, compile: bool = True
) -> keras.Model:
    """Load a tf_keras model from ``.keras``, ``.h5`` or a SavedModel directory, safely.

    Args:
        path: The saved model.
        unsafe_deserialization: Allow layers that carry Python code (``Lambda``). Only for
            files you trust: their code runs while the model loads.
        compile: Restore the training configuration saved with the model.

    Returns:
        The loaded model.

    Raises:
        ValueError: If ``path`` is missing, is not a Keras model, or carries code and
            ``unsafe_deserialization`` is False.

    Example:
        >>> model = load_model("baseline.keras")  # doctest: +SKIP
    """
    path = pathlib.Path(path)
    risky = code_carrying_layers(path)
    if risky and not unsafe_deserialization:
        raise ValueError(
            f"`model` {str(path)!r} contains layers that carry Python code: {', '.join(risky)}. "
            "Loading it would run that code. If you trust the file, pass "
            "unsafe_deserialization=True (--unsafe-deserialization on the command line); "
            "otherwise replace the Lambda layers with registered custom layers."
        )
    try:
        if path.suffix == ".keras":
            return keras.models.load_model(
                path, compile=compile, safe_mode=not unsafe_deserialization
            )
        return keras.models.load_model(path, compile=compile)
    except (OSError, ValueError, TypeError) as error:
        raise ValueError(f"`model` {str(path)!r} could not be loaded: {error}") from error


def load_data(
    spec: str | pathlib.Path,
    *,
    image: bool = True,
    seed: int = 0,
    seq_len: int = 64,
    max_chars: int | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load a named embedded data set or an ``.npz`` file of train/validation arrays.

    Args:
        spec: ``"digits"``, ``"python_docs"`` (next-character windows of the standard
            library's help text), or the path of an ``.npz`` with arrays ``x_train``,
            ``y_train``, ``x_val`` and ``y_val``.
        image: For ``"digits"``: images (n, 8, 8, 1) if True, else flat (n, 64).
        seed: For ``"digits"``: seed of the split.
        seq_len: For ``"python_docs"``: tokens per window.
        max_chars: For ``"python_docs"``: use only the first ``max_chars`` characters.

    Returns:
        ``((x_train, y_train), (x_val, y_val))``.

    Raises:
        ValueError: If the file is missing, is not an ``.npz``, lacks a key, or its x/y
            lengths differ.

    Example:
        >>> (x, y), _ = load_data("digits", image=False)
        >>> x.shape[1]
        64
    """
    if str(spec) == "python_docs":
        corpus = datasets.python_docs(seq_len=seq_len, max_chars=max_chars, seed=seed)
        return (corpus.x_train, corpus.y_train), (corpus.x_val, corpus.y_val)
    if str(spec) in EMBEDDED_DATA:
        return datasets.digits(seed=seed, image=image)
    path = pathlib.Path(spec)
    if not path.exists():
        raise ValueError(
            f"`data` {str(spec)!r} is neither an embedded data set {list(EMBEDDED_DATA)} "
            "nor an existing .npz file."
        )
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"`data` file {str(path)!r} is not a readable .npz: {error}") from None
    if not hasattr(archive, "files"):
        raise ValueError(f"`data` file {str(path)!r} is a single .npy array, not an .npz archive.")
    with archive:
        missing = [key for key in NPZ_KEYS if key not in archive.files]
        if missing:
            raise ValueError(
                f"`data` file {str(path)!r} lacks the arrays {missing}; it must hold "
                f"{list(NPZ_KEYS)} (np.savez(path, x_train=..., y_train=..., ...))."
            )
        arrays = {key: archive[key] for key in NPZ_KEYS}
    for split in ("train", "val"):
        if len(arrays[f"x_{split}"]) != len(arrays[f"y_{split}"]):
            raise ValueError(
                f"`data` file {str(path)!r}: x_{split} has {len(arrays[f'x_{split}'])} samples "
                f"but y_{split} has {len(arrays[f'y_{split}'])}."
            )
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_val"], arrays["y_val"])
