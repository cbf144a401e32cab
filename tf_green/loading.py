"""Load models and data sets that users name on the command line or in a recipe.

Model files are untrusted input. Before anything is deserialized, :func:`load_model` decides the
file's format from its bytes (refusing polyglots and suffixes that disagree), checks its declared
sizes (:class:`tf_green.model_files.Limits`), names Keras 3 files, and scans every config and, for
a SavedModel, every graph function (:mod:`tf_green.model_scan`). It then loads exactly the bytes
it scanned with the loader for that format. ``Lambda`` code, references outside
Keras/tf_keras/tf_green and graph ops that touch files or run Python are refused unless the
caller opts in with ``unsafe_deserialization=True``.

Example:
    >>> from tf_green.loading import load_data
    >>> (x, y), (x_val, y_val) = load_data("digits")
    >>> x.shape[1:]
    (8, 8, 1)
"""

from __future__ import annotations

import io
import pathlib
import tempfile
import zipfile
from typing import Any

import h5py
import numpy as np

from tf_green import datasets
from tf_green._engine import keras_named
from tf_green.engine import register_keras3_classes, register_tf_keras_classes
from tf_green.model_files import Limits, ModelFile, read_model_file
from tf_green.model_scan import CODE_CARRYING_LAYERS, config_findings, graph_findings

__all__ = ["CODE_CARRYING_LAYERS", "code_carrying_layers", "load_data", "load_model"]

NPZ_KEYS = ("x_train", "y_train", "x_val", "y_val")
EMBEDDED_DATA = ("digits", "python_docs")
_LIMITS = Limits()


def _findings(model_file: ModelFile) -> list[str]:
    # tf_green's own classes are known (registered) before the configs are read.
    if model_file.engine == "keras3":
        register_keras3_classes()
    else:
        register_tf_keras_classes()
    found: list[str] = []
    for _, config in model_file.configs:
        found.extend(
            entry for entry in config_findings(config, model_file.engine) if entry not in found
        )
    if model_file.saved_model is not None:
        found.extend(graph_findings(model_file.saved_model))
    return found


def code_carrying_layers(
    path: str | pathlib.Path,
    *,
    max_config_bytes: int = _LIMITS.max_config_bytes,
    max_archive_bytes: int = _LIMITS.max_archive_bytes,
    max_compression_ratio: float = _LIMITS.max_compression_ratio,
) -> list[str]:
    """List what in a saved model would run code that is not Keras' own, without loading it.

    That is ``Lambda`` layers, references to modules or names outside Keras, tf_keras and
    tf_green, TF-op layers calling file or Python ops, and (SavedModel) graph ops that touch
    files, processes or Python.

    Args:
        path: A ``.keras`` file, an ``.h5`` file or a SavedModel directory.
        max_config_bytes: Largest JSON config read (see :class:`~tf_green.model_files.Limits`).
        max_archive_bytes: Largest file, unpacked archive or HDF5 array total.
        max_compression_ratio: Largest expansion of a zip member or HDF5 dataset of 1 MiB+.

    Returns:
        One line per finding, e.g. ``"evil (Lambda)"``; empty if none.

    Raises:
        ValueError: If ``path`` is missing, is not a Keras model, is a polyglot, has a suffix
            that disagrees with its bytes, or breaks a size limit.

    Example:
        >>> code_carrying_layers("model.keras")  # doctest: +SKIP
        ['scale (Lambda)']
    """
    limits = Limits(max_config_bytes, max_archive_bytes, max_compression_ratio)
    return _findings(read_model_file(path, limits))


def _load(model_file: ModelFile, compile: bool, unsafe: bool) -> Any:
    keras = keras_named(model_file.engine)
    if model_file.kind == "hdf5" and model_file.engine == "tf_keras":
        with h5py.File(io.BytesIO(model_file.data), "r") as h5:
            return keras.models.load_model(h5, compile=compile)
    if model_file.data is not None:  # load a private copy of the very bytes that were scanned
        suffix = ".keras" if model_file.kind == "keras" else ".h5"
        with tempfile.TemporaryDirectory(prefix="tf_green_load_") as tmp:
            copy = pathlib.Path(tmp) / f"model{suffix}"
            copy.write_bytes(model_file.data)
            return keras.models.load_model(copy, compile=compile, safe_mode=not unsafe)
    return keras.models.load_model(model_file.path, compile=compile)


def load_model(
    path: str | pathlib.Path,
    *,
    unsafe_deserialization: bool = False,
    compile: bool = True,
    max_config_bytes: int = _LIMITS.max_config_bytes,
    max_archive_bytes: int = _LIMITS.max_archive_bytes,
    max_compression_ratio: float = _LIMITS.max_compression_ratio,
) -> Any:
    """Load a Keras 3 or tf_keras model from ``.keras``, ``.h5`` or a SavedModel, safely.

    The file's format is decided from its bytes, its sizes are checked and its configs and
    graph are scanned (:func:`code_carrying_layers`) before anything is deserialized; then the
    very bytes that were scanned are loaded, by the engine that wrote them: a file saved by
    Keras 3 (its ``keras_version``) loads as a Keras 3 model, any other as a tf_keras model
    (a SavedModel directory is tf_keras only: Keras 3 cannot load one as a model).

    Args:
        path: The saved model.
        unsafe_deserialization: Allow what runs code: ``Lambda`` layers, references to modules
            outside Keras/tf_keras/tf_green, and SavedModel graph ops that touch files or run
            Python. Only for files you trust. The size limits below still apply.
        compile: Restore the training configuration saved with the model.
        max_config_bytes: Largest JSON config read (64 MiB by default).
        max_archive_bytes: Largest file, total unpacked ``.keras`` archive or HDF5 array
            total (4 GiB by default).
        max_compression_ratio: Largest expansion of a zip member or HDF5 dataset of 1 MiB or
            more (100 by default).

    Returns:
        The loaded model.

    Raises:
        ValueError: If ``path`` is missing, is not a Keras model, parses as two formats, has
            a suffix that disagrees with its bytes, breaks a size limit (named in the message),
            or runs code and ``unsafe_deserialization`` is False.

    Example:
        >>> model = load_model("baseline.keras")  # doctest: +SKIP
    """
    limits = Limits(max_config_bytes, max_archive_bytes, max_compression_ratio)
    model_file = read_model_file(path, limits)
    path = model_file.path
    if not unsafe_deserialization:
        risky = _findings(model_file)
        if risky:
            raise ValueError(
                f"`model` {str(path)!r} holds what would run code that is not Keras' own: "
                f"{'; '.join(risky)}. Loading it would run that code. If you trust the file, "
                "pass unsafe_deserialization=True (--unsafe-deserialization on the command "
                "line); otherwise replace Lambda layers with registered custom layers."
            )
    try:
        return _load(model_file, compile, unsafe_deserialization)
    except (OSError, ValueError, TypeError, EOFError, KeyError, zipfile.BadZipFile) as error:
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
        arrays = {}
        for key in NPZ_KEYS:
            try:
                arrays[key] = archive[key]
            except ValueError as error:
                if "allow_pickle" not in str(error):
                    raise ValueError(
                        f"`data` file {str(path)!r}: array {key!r} is unreadable: {error}"
                    ) from None
                raise ValueError(
                    f"`data` file {str(path)!r}: array {key!r} holds Python objects, which "
                    "would need pickle to load (pickle can run code), so it is refused. Save "
                    "numeric arrays: np.savez(path, x_train=np.asarray(x, dtype=np.float32), "
                    "...)."
                ) from None
    for split in ("train", "val"):
        if len(arrays[f"x_{split}"]) != len(arrays[f"y_{split}"]):
            raise ValueError(
                f"`data` file {str(path)!r}: x_{split} has {len(arrays[f'x_{split}'])} samples "
                f"but y_{split} has {len(arrays[f'y_{split}'])}."
            )
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_val"], arrays["y_val"])
