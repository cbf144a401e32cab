"""On-disk storage of a teacher-output cache: tf.data shards plus a JSON description.

A cache folder holds ``cache.json`` (shapes, dtypes, sample count), ``fingerprints.npy``
(one float32 per sample, to check the data order) and ``shard-00000`` ... folders written
by ``tf.data.Dataset.save``. The folder is written under a temporary name in the same
parent and renamed into place at the end, so a failure never leaves a half-written cache.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import tensorflow as tf

__all__ = ["check_target_directory", "dataset", "disk_bytes", "load", "write"]

META = "cache.json"
FINGERPRINTS = "fingerprints.npy"
FORMAT_VERSION = 1


def check_target_directory(directory: str | os.PathLike, needed_bytes: int) -> pathlib.Path:
    """Check that a cache can be written to ``directory``, before anything is computed.

    Args:
        directory: Where the cache folder will be; it must not exist yet (or be empty).
        needed_bytes: Estimated size of the cache.

    Returns:
        The absolute path.

    Raises:
        ValueError: If ``directory`` exists and is not empty, its parent does not exist,
            or the disk lacks space.
    """
    path = pathlib.Path(directory).expanduser().absolute()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ValueError(
            f"`directory` {str(path)!r} already exists and is not empty; pass a new path, or "
            "open the existing cache with TeacherCache.load()."
        )
    if not path.parent.is_dir():
        raise ValueError(f"`directory`'s parent {str(path.parent)!r} does not exist; create it.")
    free = shutil.disk_usage(path.parent).free
    if needed_bytes > free:
        raise ValueError(
            f"the cache needs about {needed_bytes / 2**20:.1f} MiB on disk but "
            f"{str(path.parent)!r} has {free / 2**20:.1f} MiB free; use top_k=, "
            "dtype='float16' or another `directory`."
        )
    return path


def write(
    path: pathlib.Path,
    chunks: Iterable[dict[str, np.ndarray]],
    fingerprints: Callable[[], np.ndarray],
    meta: dict[str, Any],
) -> None:
    """Write ``chunks`` (dicts of per-sample arrays) as shards of a cache folder, atomically.

    Args:
        path: The final folder (checked with :func:`check_target_directory`).
        chunks: Dicts of arrays whose first axis is the samples.
        fingerprints: Called once ``chunks`` is exhausted; returns the (num_samples,)
            float32 fingerprints of the inputs.
        meta: JSON-serializable description, written to ``cache.json``.
    """
    tmp = pathlib.Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        count = 0
        for index, chunk in enumerate(chunks):
            tf.data.Dataset.from_tensor_slices(chunk).save(str(tmp / f"shard-{index:05d}"))
            count += 1
        np.save(tmp / FINGERPRINTS, fingerprints())
        (tmp / META).write_text(json.dumps({**meta, "shards": count, "format": FORMAT_VERSION}))
        if path.exists():
            path.rmdir()  # empty, checked before
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load(path: str | os.PathLike) -> tuple[dict[str, Any], np.ndarray]:
    """Read a cache folder's description and fingerprints.

    Args:
        path: A folder written by :func:`write`.

    Returns:
        ``(meta, fingerprints)``.

    Raises:
        ValueError: If the folder is not a complete tf_green teacher cache.
    """
    path = pathlib.Path(path)
    meta_file = path / META
    if not meta_file.is_file():
        raise ValueError(
            f"{str(path)!r} is not a tf_green teacher cache (no {META}); create one with "
            "cache_teacher(..., directory=...)."
        )
    meta = json.loads(meta_file.read_text())
    if meta.get("format") != FORMAT_VERSION:
        raise ValueError(f"{str(path)!r} has cache format {meta.get('format')!r}, expected 1.")
    missing = [i for i in range(meta["shards"]) if not (path / f"shard-{i:05d}").is_dir()]
    if missing or not (path / FINGERPRINTS).is_file():
        raise ValueError(f"the cache folder {str(path)!r} is incomplete (shards {missing}).")
    return meta, np.load(path / FINGERPRINTS)


def dataset(path: str | os.PathLike, shards: int) -> tf.data.Dataset:
    """Stream the per-sample elements of a cache folder, in order.

    Args:
        path: The cache folder.
        shards: Number of shards (from ``cache.json``).

    Returns:
        A dataset of per-sample dicts.
    """
    path = pathlib.Path(path)
    parts = [tf.data.Dataset.load(str(path / f"shard-{i:05d}")) for i in range(shards)]
    result = parts[0]
    for part in parts[1:]:
        result = result.concatenate(part)
    return result


def disk_bytes(path: str | os.PathLike) -> int:
    """Total size of the files under ``path``, in bytes."""
    return sum(f.stat().st_size for f in pathlib.Path(path).rglob("*") if f.is_file())
