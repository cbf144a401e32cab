"""Read a saved model file as untrusted input: its format, its size and its configs.

A model file is decided to be a ``.keras`` zip archive, an HDF5 file or a SavedModel directory
from its bytes, the way tf_keras' loader will see it, and the name's suffix must agree. A file
that parses as both HDF5 and zip is refused: the old check read the zip's end while tf_keras
read the HDF5 start, so the scan and the loader saw different models. Declared sizes are checked
against limits before anything is unpacked, and the engine that wrote the file (Keras 3 or
tf_keras, from its ``keras_version``) is read so that the same engine loads it. Nothing here
deserializes a layer.

Example:
    >>> from tf_green.model_files import Limits
    >>> Limits().max_compression_ratio
    100.0
"""

from __future__ import annotations

import dataclasses
import io
import json
import pathlib
import zipfile
import zlib
from typing import Any

import h5py
from tensorflow.core.protobuf import saved_model_pb2

__all__ = ["HDF5_SIGNATURE", "Limits", "ModelFile", "read_model_file"]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
HDF5_SUFFIXES = (".h5", ".hdf5")
ZIP_SUFFIX = ".keras"
# Compression ratios are only judged for members at least this large: tiny JSON compresses well.
RATIO_FLOOR_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True)
class Limits:
    """Size limits for an untrusted model file; raise them for large files you trust.

    Attributes:
        max_config_bytes: Largest JSON config (``config.json``, ``metadata.json``, an HDF5
            ``model_config``/``training_config`` or ``keras_metadata.pb``).
        max_archive_bytes: Largest file, and largest total a ``.keras`` archive unpacks to or an
            HDF5 file's datasets hold.
        max_compression_ratio: Largest uncompressed/compressed ratio of a zip member or HDF5
            dataset of 1 MiB or more.

    Example:
        >>> Limits(max_config_bytes=1 << 20).max_config_bytes
        1048576
    """

    max_config_bytes: int = 64 << 20
    max_archive_bytes: int = 4 << 30
    max_compression_ratio: float = 100.0


@dataclasses.dataclass
class ModelFile:
    """What :func:`read_model_file` found, before any layer is deserialized.

    Attributes:
        path: The path the caller gave.
        kind: ``"keras"`` (zip), ``"hdf5"`` or ``"savedmodel"``.
        data: The file's bytes (None for a SavedModel directory): load these, not the path.
        configs: ``(where, config)`` pairs of the JSON configs the loader will deserialize.
        saved_model: The parsed ``saved_model.pb`` of a SavedModel directory, else None.
        engine: The Keras that wrote it and will load it: ``"keras3"`` (``keras_version``
            3.x in ``metadata.json`` or the HDF5 attributes) or ``"tf_keras"``.

    Example:
        >>> ModelFile(pathlib.Path("m.h5"), "hdf5").configs
        []
    """

    path: pathlib.Path
    kind: str
    data: bytes | None = None
    configs: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    saved_model: Any = None
    engine: str = "tf_keras"


def _error(path: pathlib.Path, text: str) -> ValueError:
    return ValueError(f"`model` {str(path)!r} {text}")


def _hdf5_offsets(data: bytes) -> list[int]:
    """Offsets where HDF5 looks for its signature: 0, 512, 1024, 2048, ..."""
    offsets, offset = [], 0
    while offset + len(HDF5_SIGNATURE) <= len(data):
        if data[offset : offset + len(HDF5_SIGNATURE)] == HDF5_SIGNATURE:
            offsets.append(offset)
        offset = 512 if offset == 0 else offset * 2
    return offsets


def _sniff(path: pathlib.Path, data: bytes) -> str:
    """Decide the format from the bytes, as the loader will, and check the suffix agrees."""
    is_hdf5 = bool(_hdf5_offsets(data))
    is_zip = zipfile.is_zipfile(io.BytesIO(data))
    if is_hdf5 and is_zip:
        raise _error(
            path,
            "parses as both HDF5 and a zip archive (a polyglot file): the scan and the loader "
            "could see two different models, so it is refused. Save the model again with "
            "`model.save(path)`.",
        )
    suffix = path.suffix.lower()
    if is_zip:
        if suffix != ZIP_SUFFIX:
            raise _error(
                path,
                f"is a .keras zip archive but its suffix is {path.suffix!r}; tf_keras would load "
                "it as another format. Rename it to end in .keras.",
            )
        return "keras"
    if is_hdf5:
        if suffix not in HDF5_SUFFIXES:
            raise _error(
                path,
                f"is an HDF5 file but its suffix is {path.suffix!r}; rename it to end in .h5.",
            )
        return "hdf5"
    raise _error(
        path, "is not a Keras model (.keras zip, .h5 or SavedModel directory): unknown format."
    )


def _engine_of_version(version: Any) -> str:
    """The engine that wrote a file, from its ``keras_version``: Keras 3 or tf_keras."""
    text = version.decode() if isinstance(version, bytes) else str(version or "")
    major = text.split(".")[0]
    return "keras3" if major.isdigit() and int(major) >= 3 else "tf_keras"


def _check_config_size(path: pathlib.Path, where: str, size: int, limits: Limits) -> None:
    if size > limits.max_config_bytes:
        raise _error(
            path,
            f"has a {size}-byte {where}, over max_config_bytes={limits.max_config_bytes}; "
            "pass a larger max_config_bytes if you trust the file.",
        )


def _json(path: pathlib.Path, where: str, raw: Any, limits: Limits) -> Any:
    _check_config_size(path, where, len(raw), limits)
    try:
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _error(path, f"has a {where} that is not valid JSON: {error}") from None


def _check_ratio(path: pathlib.Path, where: str, size: int, stored: int, limits: Limits) -> None:
    if size >= RATIO_FLOOR_BYTES and size > limits.max_compression_ratio * max(stored, 1):
        raise _error(
            path,
            f"holds {where} that expands {size / max(stored, 1):.0f}x ({stored} -> {size} "
            f"bytes), over max_compression_ratio={limits.max_compression_ratio:g} (an archive "
            "bomb?); pass a larger max_compression_ratio if you trust the file.",
        )


def _read_zip(model: ModelFile, limits: Limits) -> None:
    path = model.path
    try:
        with zipfile.ZipFile(io.BytesIO(model.data)) as archive:
            infos = archive.infolist()
            end = getattr(archive, "start_dir", len(model.data))
            total = sum(info.file_size for info in infos)
            if total > limits.max_archive_bytes:
                raise _error(
                    path,
                    f"unpacks to {total} bytes, over max_archive_bytes="
                    f"{limits.max_archive_bytes}; pass a larger max_archive_bytes if you trust "
                    "the file.",
                )
            for info in infos:
                if info.header_offset + info.compress_size > end or info.header_offset < 0:
                    raise _error(
                        path,
                        f"has a crafted or truncated zip directory: member {info.filename!r} "
                        "lies outside the archive.",
                    )
                _check_ratio(
                    path, f"member {info.filename!r}", info.file_size, info.compress_size, limits
                )
            names = archive.namelist()
            if "config.json" not in names:
                raise _error(
                    path,
                    "is a zip archive but not a .keras model (no config.json); save the model "
                    "with `model.save(path)`.",
                )
            for name in ("metadata.json", "config.json"):
                if name in names:
                    _check_config_size(path, name, archive.getinfo(name).file_size, limits)
            if "metadata.json" in names:
                metadata = _json(path, "metadata.json", archive.read("metadata.json"), limits)
                if isinstance(metadata, dict):
                    model.engine = _engine_of_version(metadata.get("keras_version"))
            model.configs.append(
                ("config.json", _json(path, "config.json", archive.read("config.json"), limits))
            )
    except (
        zipfile.BadZipFile,
        EOFError,
        zlib.error,
        NotImplementedError,
        OSError,
        RuntimeError,
        KeyError,
    ) as error:
        raise _error(path, f"has a crafted or truncated zip archive: {error}") from None


def _read_hdf5(model: ModelFile, limits: Limits) -> None:
    path = model.path
    datasets: list[h5py.Dataset] = []
    links: list[str] = []
    try:
        with h5py.File(io.BytesIO(model.data), "r") as h5:
            model.engine = _engine_of_version(h5.attrs.get("keras_version"))

            def visit(name: str, link: Any) -> None:
                if isinstance(link, h5py.ExternalLink):
                    links.append(name)
                elif isinstance(link, h5py.HardLink):
                    obj = h5.get(name)
                    if isinstance(obj, h5py.Dataset):
                        datasets.append(obj)

            h5.visititems_links(visit)
            total = 0
            for ds in datasets:
                if ds.external or ds.is_virtual:
                    raise _error(path, f"has a dataset {ds.name!r} stored outside the file.")
                size = int(ds.size or 0) * ds.dtype.itemsize
                total += size
                if ds.compression:
                    stored = ds.id.get_storage_size()
                    _check_ratio(path, f"dataset {ds.name!r}", size, stored, limits)
            if links:
                raise _error(path, f"links to other files: {links}.")
            if total > limits.max_archive_bytes:
                raise _error(
                    path,
                    f"holds {total} bytes of arrays, over max_archive_bytes="
                    f"{limits.max_archive_bytes}; pass a larger max_archive_bytes if you trust "
                    "the file.",
                )
            raw = h5.attrs.get("model_config")
            if raw is None:
                raise _error(
                    path,
                    "holds weights only, not a model; save the whole model with "
                    "`model.save(path)`.",
                )
            model.configs.append(("model_config", _json(path, "model_config", raw, limits)))
            training = h5.attrs.get("training_config")
            if training is not None:
                model.configs.append(
                    ("training_config", _json(path, "training_config", training, limits))
                )
    except (OSError, RuntimeError, KeyError) as error:
        raise _error(
            path, f"is not a Keras model (.keras zip, .h5 or SavedModel directory): {error}"
        ) from None


def _read_saved_model(model: ModelFile, limits: Limits) -> None:
    path = model.path
    metadata_path = path / "keras_metadata.pb"
    if not metadata_path.is_file():
        raise _error(
            path,
            "directory is not a Keras SavedModel (no keras_metadata.pb); save it with "
            "`model.save(dir, save_format='tf')`.",
        )
    from tf_keras.protobuf import saved_metadata_pb2

    _check_config_size(path, "keras_metadata.pb", metadata_path.stat().st_size, limits)
    raw = metadata_path.read_bytes()
    metadata = saved_metadata_pb2.SavedMetadata()
    graph = saved_model_pb2.SavedModel()
    try:
        metadata.ParseFromString(raw)
        for node in metadata.nodes:
            where = f"keras_metadata.pb node {node.node_path or node.identifier}"
            model.configs.append((where, _json(path, where, node.metadata or "{}", limits)))
        pb = path / "saved_model.pb"
        if pb.is_file():
            graph.ParseFromString(pb.read_bytes())
        elif (path / "saved_model.pbtxt").is_file():
            from google.protobuf import text_format

            text_format.Parse((path / "saved_model.pbtxt").read_text(), graph)
        else:
            raise _error(path, "directory has no saved_model.pb.")
    except Exception as error:  # protobuf raises its own DecodeError / ParseError types
        if isinstance(error, ValueError) and str(error).startswith("`model`"):
            raise
        raise _error(path, f"directory holds an unreadable SavedModel: {error}") from None
    model.saved_model = graph


def read_model_file(path: str | pathlib.Path, limits: Limits | None = None) -> ModelFile:
    """Read a model file's format, bytes and configs, checking its sizes, without loading it.

    Args:
        path: A ``.keras`` file, an ``.h5`` file or a SavedModel directory.
        limits: Size limits; defaults to :class:`Limits`.

    Returns:
        The :class:`ModelFile`; load its ``data``, not ``path``, so what was checked is loaded.

    Raises:
        ValueError: If ``path`` is missing, is not a Keras model, parses as two formats, has a
            suffix that disagrees with its bytes, breaks a size limit (named in the message),
            or has a crafted zip directory.

    Example:
        >>> read_model_file("model.keras").kind  # doctest: +SKIP
        'keras'
    """
    limits = limits or Limits()
    path = pathlib.Path(path)
    if not path.exists():
        raise _error(path, "path does not exist.")
    if path.is_dir():
        model = ModelFile(path, "savedmodel")
        _read_saved_model(model, limits)
        return model
    size = path.stat().st_size
    if size > limits.max_archive_bytes:
        raise _error(
            path,
            f"is {size} bytes, over max_archive_bytes={limits.max_archive_bytes}; pass a larger "
            "max_archive_bytes if you trust the file.",
        )
    data = path.read_bytes()
    model = ModelFile(path, _sniff(path, data), data)
    if model.kind == "keras":
        _read_zip(model, limits)
    else:
        _read_hdf5(model, limits)
    return model
