"""The teacher-output cache type: teacher logits for fixed data, in data order.

A :class:`TeacherCache` holds the teacher's logits (or top-k logits and their class ids)
for every sample of a fixed data set, in memory or on disk, plus a 4-byte fingerprint of
each input so it can check that it is paired with the data it was computed on.
:func:`~tf_green.distillation.cache_teacher` creates one. A cache that did not fit its
memory budget lives as disk shards in a temporary folder the cache owns: :meth:`close`
(or leaving a ``with`` block, or the cache being garbage-collected, or the interpreter
exiting) deletes it. Engine-neutral: the same cache serves tf_keras and Keras 3 Distillers
(it imports no Keras); pairing data with it is :mod:`tf_green.distillation.cache_pairing`.
"""

from __future__ import annotations

import math
import os
import shutil
import weakref
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from tf_green._engine.checks import check_finite
from tf_green.distillation import _storage
from tf_green.distillation._inputs import (
    INDICES,
    INPUTS,
    LOGITS,
    VALUES,
    count_samples,
    fingerprint_arrays,
    num_samples,
    x_of,
)
from tf_green.distillation.cache_pairing import pack_batches, spec_bytes, zip_in_memory

__all__ = ["CacheInfo", "TeacherCache", "bytes_per_sample", "index_dtype"]


@dataclass(frozen=True)
class CacheInfo:
    """What a teacher cache holds and what it costs.

    Attributes:
        num_samples: Number of cached samples.
        sample_shape: Teacher output shape per sample, e.g. ``(10,)`` or ``(64, 96)``.
        dtype: Stored dtype of the logits (``"float32"`` or ``"float16"``).
        top_k: Logits kept per position, or None for all of them.
        bytes_per_sample: Stored bytes per sample (logits, ids and a 4-byte fingerprint).
        memory_bytes: Bytes held in memory (0 for an on-disk cache).
        disk_bytes: Bytes on disk (0 for an in-memory cache).
        directory: Folder of an on-disk cache, or None.

    Example:
        >>> info = CacheInfo(10, (3,), "float32", None, 16, 160, 0, None)
        >>> info.to_pandas()["memory_bytes"].tolist()
        [160]
    """

    num_samples: int
    sample_shape: tuple[int, ...]
    dtype: str
    top_k: int | None
    bytes_per_sample: int
    memory_bytes: int
    disk_bytes: int
    directory: str | None

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a dict."""
        return asdict(self)

    def to_pandas(self) -> Any:
        """Return a one-row ``pandas.DataFrame`` of the fields."""
        import pandas as pd

        return pd.DataFrame([self.to_dict()])


class TeacherCache:
    """Teacher logits for a fixed data set, in data order, in memory or on disk.

    Create one with :func:`cache_teacher` (or reopen an on-disk one with
    :meth:`TeacherCache.load`); pass it as ``Distiller(..., teacher_outputs=cache)``.

    Example:
        >>> from tf_green import models
        >>> from tf_green.distillation import cache_teacher
        >>> x = np.random.default_rng(0).random((6, 64), dtype=np.float32)
        >>> cache = cache_teacher(models.mlp(hidden=(8,)), x, batch_size=4, dtype="float16")
        >>> cache.info.dtype, cache.sample_shape
        ('float16', (10,))
    """

    def __init__(
        self,
        targets: dict[str, np.ndarray] | None,
        fingerprints: np.ndarray,
        sample_shape: tuple[int, ...],
        dtype: str,
        top_k: int | None,
        directory: str | None = None,
        shards: int = 0,
    ) -> None:
        self._targets = targets
        self._fingerprints = np.asarray(fingerprints, np.float32)
        self.sample_shape = tuple(int(d) for d in sample_shape)
        self.dtype = dtype
        self.top_k = top_k
        self.directory = directory
        self._shards = shards
        self._cleanup: weakref.finalize | None = None
        self._closed = False

    @classmethod
    def _spilled(cls, folder: str, directory: str) -> TeacherCache:
        """Open the cache at ``directory``, owning (and later deleting) the temp ``folder``."""
        try:
            cache = cls.load(directory)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        cache._cleanup = weakref.finalize(cache, shutil.rmtree, folder, True)
        return cache

    @property
    def spilled(self) -> bool:
        """Whether this cache lives in a temporary folder it owns (over its memory budget)."""
        return self._cleanup is not None

    def close(self) -> None:
        """Delete the temporary shards of a cache that spilled to disk; else do nothing.

        The cache cannot be used after that. It also happens when the cache is
        garbage-collected or the interpreter exits; a cache written to ``directory=`` by
        the caller is never deleted.

        Example:
            >>> from tf_green import models
            >>> from tf_green.distillation import cache_teacher
            >>> with cache_teacher(models.mlp(hidden=(4,)), np.ones((3, 64)),
            ...                    max_memory_bytes=10) as cache:
            ...     cache.spilled
            True
        """
        if self._cleanup is not None and self._cleanup.alive:
            self._cleanup()
            self._closed = True

    def __enter__(self) -> TeacherCache:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(
                "this TeacherCache was closed (its temporary disk shards are deleted); "
                "compute it again with cache_teacher(...)."
            )

    @classmethod
    def load(cls, directory: str | os.PathLike) -> TeacherCache:
        """Open a cache written by ``cache_teacher(..., directory=...)``.

        Args:
            directory: The cache folder.

        Returns:
            The on-disk cache (nothing is read into memory but the fingerprints).

        Raises:
            ValueError: If the folder is not a complete tf_green cache.

        Example:
            >>> cache = TeacherCache.load("runs/teacher_cache")  # doctest: +SKIP
        """
        meta, fingerprints = _storage.load(directory)
        return cls(
            None,
            fingerprints,
            tuple(meta["sample_shape"]),
            meta["dtype"],
            meta["top_k"],
            directory=str(directory),
            shards=meta["shards"],
        )

    def __len__(self) -> int:
        return len(self._fingerprints)

    @property
    def num_classes(self) -> int:
        """Size of the teacher's last output axis (classes or vocabulary)."""
        return self.sample_shape[-1]

    @property
    def bytes_per_sample(self) -> int:
        """Stored bytes per sample, including the 4-byte input fingerprint."""
        return bytes_per_sample(self.sample_shape, self.dtype, self.top_k)

    @property
    def memory_bytes(self) -> int:
        """Bytes this cache holds in memory (the fingerprints only, when on disk)."""
        held = self._fingerprints.nbytes
        if self._targets is not None:
            held += sum(a.nbytes for a in self._targets.values())
        return int(held)

    @property
    def info(self) -> CacheInfo:
        """A :class:`CacheInfo` summary (sizes in bytes)."""
        on_disk = self.directory is not None
        return CacheInfo(
            num_samples=len(self),
            sample_shape=self.sample_shape,
            dtype=self.dtype,
            top_k=self.top_k,
            bytes_per_sample=self.bytes_per_sample,
            memory_bytes=self.memory_bytes,
            disk_bytes=_storage.disk_bytes(self.directory) if on_disk else 0,
            directory=self.directory,
        )

    def __repr__(self) -> str:
        where = f"on disk at {self.directory!r}" if self.directory else "in memory"
        top = f", top_k={self.top_k}" if self.top_k else ""
        return (
            f"TeacherCache({len(self)} samples x {self.sample_shape} {self.dtype}{top}, "
            f"{where}, {self.memory_bytes / 2**20:.2f} MiB in memory)"
        )

    def numpy(self) -> dict[str, np.ndarray]:
        """Return the cached arrays (logits, or top-k values and ids), loading them if on disk.

        Returns:
            ``{"logits": ...}`` or ``{"values": ..., "indices": ...}``, first axis samples.

        Example:
            >>> from tf_green import models
            >>> from tf_green.distillation import cache_teacher
            >>> cache = cache_teacher(models.mlp(hidden=(4,)), np.ones((3, 64)), batch_size=2)
            >>> cache.numpy()["logits"].shape
            (3, 10)
        """
        names = {LOGITS: "logits", VALUES: "values", INDICES: "indices"}
        if self._targets is not None:
            return {names[k]: v for k, v in self._targets.items()}
        batches = list(self.targets().batch(4096).as_numpy_iterator())
        return {names[k]: np.concatenate([b[k] for b in batches]) for k in batches[0]}

    def targets(self) -> tf.data.Dataset:
        """Stream the cached teacher outputs, one dict per sample, in data order.

        Returns:
            A dataset of dicts keyed by the Distiller's packed-input names.

        Example:
            >>> from tf_green import models
            >>> from tf_green.distillation import cache_teacher
            >>> cache = cache_teacher(models.mlp(hidden=(4,)), np.ones((3, 64)), batch_size=2)
            >>> len(list(cache.targets()))
            3
        """
        self._check_open()
        if self._targets is not None:
            return tf.data.Dataset.from_tensor_slices(self._targets)
        return _storage.dataset(self.directory, self._shards)

    def zip(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        *,
        batch_size: int | None = None,
        shuffle: bool = True,
        seed: int | None = None,
    ) -> tf.data.Dataset:
        """Pair data with its cached teacher outputs, as the batches a Distiller trains on.

        Args:
            x: The inputs the cache was computed on, in the same order: arrays (then ``y``
                and ``sample_weight`` are arrays too) or a ``tf.data.Dataset`` of ``x`` or
                ``(x, y[, sample_weight])`` batches, not shuffled.
            y: Labels (``-1`` marks a sample without a label), or None.
            sample_weight: Per-sample weights, or None.
            batch_size: Batch size; for a dataset, defaults to its first batch's size.
            shuffle: Shuffle the samples (with their teacher outputs) every epoch.
            seed: Shuffle seed.

        Returns:
            Batches ``({inputs, teacher outputs}, y[, sample_weight])``.

        Raises:
            ValueError: If the number of samples differs from the cache's, if array inputs
                hold NaN/inf or are not the cached data in the cached order, or if ``y`` is
                passed with a dataset. A dataset in another order fails at the first batch with an
                ``InvalidArgumentError`` naming the cache.

        Example:
            >>> from tf_green import models
            >>> from tf_green.distillation import cache_teacher
            >>> x = np.random.default_rng(0).random((5, 64), dtype=np.float32)
            >>> cache = cache_teacher(models.mlp(hidden=(4,)), x, batch_size=2)
            >>> len(list(cache.zip(x, np.arange(5), batch_size=2)))
            3
        """
        if isinstance(x, tf.data.Dataset):
            if y is not None or sample_weight is not None:
                raise ValueError(
                    "`y` and `sample_weight` must be inside the dataset when `x` is a "
                    "tf.data.Dataset; yield (x, y[, sample_weight]) batches."
                )
            return self._zip_dataset(x, batch_size, shuffle, seed)
        return self._zip_arrays(x, y, sample_weight, batch_size or 32, shuffle, seed)

    def _check_count(self, count: int) -> None:
        if count != len(self):
            raise ValueError(
                f"`teacher_outputs` has {len(self)} samples but the data has {count}; compute "
                "the cache on exactly the training inputs: cache_teacher(teacher, x)."
            )

    def _zip_arrays(self, x, y, sample_weight, batch_size, shuffle, seed) -> tf.data.Dataset:
        x = check_finite(tf.nest.map_structure(np.asarray, x), "x")
        count = num_samples(x)
        self._check_count(count)
        for name, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None and len(value) != count:
                raise ValueError(f"`{name}` has {len(value)} samples but `x` has {count}.")
        found = fingerprint_arrays(x)
        bad = ~np.isclose(found, self._fingerprints, rtol=1e-4, atol=1e-3)
        if np.any(bad):
            raise ValueError(
                f"`x` is not the data `teacher_outputs` was computed on: sample "
                f"{int(np.argmax(bad))} differs (other data, or another order). Compute the "
                "cache on these inputs, in this order: cache_teacher(teacher, x)."
            )
        extras = tuple(np.asarray(v) for v in (y, sample_weight) if v is not None)
        if self._targets is not None:
            return zip_in_memory(({INPUTS: x}, *extras), self._targets, count, batch_size,
                                 shuffle, seed)  # fmt: skip
        slices = tf.data.Dataset.from_tensor_slices((x, *extras))
        return self._pair(slices, count, batch_size, shuffle, seed)

    def _zip_dataset(self, dataset, batch_size, shuffle, seed) -> tf.data.Dataset:
        self._check_count(count_samples(dataset))  # one pass, nothing kept
        if batch_size is None:
            first = next(iter(dataset))
            batch_size = int(tf.shape(tf.nest.flatten(x_of(first))[0])[0])
        return self._pair(dataset.unbatch(), len(self), batch_size, shuffle, seed)

    def _pair(self, samples, count, batch_size, shuffle, seed) -> tf.data.Dataset:
        fingerprints = tf.data.Dataset.from_tensor_slices(self._fingerprints)
        pairs = tf.data.Dataset.zip((samples, self.targets(), fingerprints))
        sample_bytes = spec_bytes(samples.element_spec)
        if sample_bytes is not None:
            sample_bytes += self.bytes_per_sample
        return pack_batches(pairs, count, batch_size, shuffle, seed, sample_bytes)


def bytes_per_sample(sample_shape: tuple[int, ...], dtype: str, top_k: int | None) -> int:
    """Stored bytes per sample: logits (or top-k values and ids) plus a 4-byte fingerprint."""
    positions = math.prod(sample_shape[:-1])
    item = np.dtype(dtype).itemsize
    if top_k is None:
        return positions * sample_shape[-1] * item + 4
    return positions * top_k * (item + np.dtype(index_dtype(sample_shape[-1])).itemsize) + 4


def index_dtype(num_classes: int) -> str:
    """The smallest integer dtype that holds class ids below ``num_classes``."""
    return "int16" if num_classes <= np.iinfo(np.int16).max else "int32"
