"""Teacher-output cache: run the teacher once, reuse its logits every distillation epoch.

For a fixed (non-augmented) training set the teacher's logits are the same every epoch, so
recomputing them costs one teacher forward pass per sample per epoch for nothing: with a
1.2M-parameter teacher and a 6k-parameter student that pass is most of the work.
:func:`cache_teacher` computes them once; ``Distiller(..., teacher_outputs=cache)`` then
trains without running the teacher.

When it does not apply: the teacher must see exactly the inputs the student sees. Random
augmentation in the input pipeline (random crops, flips, noise, mixup), or a different
tokenization or sequence cropping each epoch, changes the inputs, so the cached logits
would be for other images: use the live teacher there.

Memory: a cache states its size (:attr:`TeacherCache.memory_bytes`). It can store float16
(``dtype="float16"``, half the bytes) and, for large vocabularies (the ``(time, vocab)``
logits of a language model), only the ``top_k`` logits and their ids per position. It
refuses, before computing anything, to exceed ``max_memory_bytes``; with ``directory=`` it
lives on disk as tf.data shards and streams during training, for data larger than memory.

Example:
    >>> from tf_green import models
    >>> teacher = models.mlp(hidden=(8,))
    >>> cache = cache_teacher(teacher, np.zeros((10, 64), np.float32), batch_size=4)
    >>> len(cache), cache.memory_bytes
    (10, 440)
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tf_green._keras import keras, require_tf_keras_model, tf
from tf_green.distillation import _storage
from tf_green.distillation._inputs import (
    count_samples,
    fingerprint,
    fingerprint_arrays,
    input_batches,
    num_samples,
    sample_input_shape,
    x_of,
)

__all__ = [
    "DEFAULT_MAX_MEMORY_BYTES",
    "CacheInfo",
    "TeacherCache",
    "cache_teacher",
]

DEFAULT_MAX_MEMORY_BYTES = 2 * 1024**3
"""Default memory budget of an in-memory cache: 2 GiB."""

INPUTS = "tf_green_inputs"
LOGITS = "tf_green_teacher_logits"
VALUES = "tf_green_teacher_values"
INDICES = "tf_green_teacher_indices"
_CHUNK_BYTES = 64 * 2**20


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
        return _bytes_per_sample(self.sample_shape, self.dtype, self.top_k)

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
            >>> cache = cache_teacher(models.mlp(hidden=(4,)), np.ones((3, 64)), batch_size=2)
            >>> len(list(cache.targets()))
            3
        """
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
                are not the cached data in the cached order, or if ``y`` is passed with a
                dataset. A dataset in another order fails at the first batch with an
                ``InvalidArgumentError`` naming the cache.

        Example:
            >>> from tf_green import models
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
        x = tf.nest.map_structure(np.asarray, x)
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
            data = ({INPUTS: x, **self._targets}, *extras)
            indices = tf.data.Dataset.range(count)
            if shuffle:
                indices = indices.shuffle(count, seed=seed, reshuffle_each_iteration=True)
            indices = indices.batch(batch_size)
            whole = tf.data.Dataset.from_tensors(data).repeat()
            batches = tf.data.Dataset.zip((indices, whole)).map(
                lambda i, d: tf.nest.map_structure(lambda a: tf.gather(a, i), d),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
            return batches.prefetch(tf.data.AUTOTUNE)
        slices = tf.data.Dataset.from_tensor_slices((x, *extras))
        elements = tf.data.Dataset.zip((slices, self.targets())).map(
            lambda s, t: ({INPUTS: s[0], **_targets_only(t)}, *s[1:])
        )
        return _finish(elements, count, batch_size, shuffle, seed)

    def _zip_dataset(self, dataset, batch_size, shuffle, seed) -> tf.data.Dataset:
        self._check_count(count_samples(dataset))
        if batch_size is None:
            first = next(iter(dataset))
            batch_size = int(tf.shape(tf.nest.flatten(x_of(first))[0])[0])
        message = (
            "the dataset is not in the order `teacher_outputs` was computed in (an input "
            "differs from the cached one): cache and train on the same unshuffled dataset"
        )

        def pack(element, target):
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(element)
            found = fingerprint(tf.nest.map_structure(lambda a: a[tf.newaxis], x))[0]
            check = tf.debugging.assert_near(
                found, target["fingerprint"], rtol=1e-4, atol=1e-3, message=message
            )
            with tf.control_dependencies([check]):
                x = tf.nest.map_structure(tf.identity, x)
            packed = {INPUTS: x, **_targets_only(target)}
            return (packed, *(v for v in (y, sample_weight) if v is not None))

        fingerprints = tf.data.Dataset.from_tensor_slices({"fingerprint": self._fingerprints})
        targets = tf.data.Dataset.zip((self.targets(), fingerprints)).map(lambda a, b: {**a, **b})
        elements = tf.data.Dataset.zip((dataset.unbatch(), targets)).map(pack)
        return _finish(elements, len(self), batch_size, shuffle, seed)


def _targets_only(target: dict) -> dict:
    return {k: v for k, v in target.items() if k in (LOGITS, VALUES, INDICES)}


def _finish(elements, count, batch_size, shuffle, seed) -> tf.data.Dataset:
    if shuffle:
        elements = elements.shuffle(min(count, 10_000), seed=seed, reshuffle_each_iteration=True)
    return elements.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _bytes_per_sample(sample_shape: tuple[int, ...], dtype: str, top_k: int | None) -> int:
    positions = math.prod(sample_shape[:-1])
    item = np.dtype(dtype).itemsize
    if top_k is None:
        return positions * sample_shape[-1] * item + 4
    return positions * top_k * (item + np.dtype(_index_dtype(sample_shape[-1])).itemsize) + 4


def _index_dtype(num_classes: int) -> str:
    return "int16" if num_classes <= np.iinfo(np.int16).max else "int32"


def _check_options(dtype: Any, top_k: int | None, batch_size: int) -> str:
    try:
        name = tf.as_dtype(dtype).name
    except TypeError:
        name = str(dtype)
    if name not in ("float32", "float16"):
        raise ValueError(f"`dtype` must be 'float32' or 'float16', got {dtype!r}.")
    if top_k is not None and (isinstance(top_k, bool) or int(top_k) != top_k or top_k < 1):
        raise ValueError(f"`top_k` must be None or an integer >= 1, got {top_k!r}.")
    if int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be >= 1, got {batch_size!r}.")
    return name


def _output_shape(teacher: keras.Model, x: Any, input_shape: Any) -> tuple[int, ...]:
    try:
        shape = teacher.compute_output_shape(input_shape)
        dims = tuple(tf.TensorShape(shape).as_list()[1:])
    except Exception:  # subclassed models: one sample tells the shape
        first = next(iter(input_batches(x, 1)))
        dims = tuple(teacher(first, training=False).shape[1:])
    if not dims or any(d is None for d in dims):
        raise ValueError(
            f"the teacher's output shape per sample {dims} is not fully known; the cache "
            "needs fixed shapes (pad or crop sequences to one length)."
        )
    return tuple(int(d) for d in dims)


def cache_teacher(
    teacher: keras.Model,
    x: Any,
    *,
    batch_size: int = 256,
    dtype: str = "float32",
    top_k: int | None = None,
    max_memory_bytes: int | None = DEFAULT_MAX_MEMORY_BYTES,
    directory: str | os.PathLike | None = None,
) -> TeacherCache:
    """Run the teacher once over fixed data and keep its logits, in data order.

    Args:
        teacher: The trained teacher (a ``tf_keras`` model that outputs logits).
        x: Inputs as arrays (or a dict of arrays), or a finite ``tf.data.Dataset`` of ``x``
            or ``(x, y[, sample_weight])`` batches in a fixed order (no random
            augmentation, no reshuffling).
        batch_size: Batch size of the teacher's forward pass over arrays (a dataset keeps
            its own batches).
        dtype: Stored dtype, ``"float32"`` or ``"float16"`` (half the bytes; logits keep
            about three significant digits, plenty for softened targets).
        top_k: Keep only the ``top_k`` largest logits (and their class ids) per position,
            for large vocabularies; None keeps all.
        max_memory_bytes: Refuse an in-memory cache larger than this (default 2 GiB); None
            for no limit. Not applied with ``directory``.
        directory: Write the cache to this new folder (tf.data shards) instead of memory;
            it then streams from disk during training.

    Returns:
        A :class:`TeacherCache`.

    Raises:
        TypeError: If ``teacher`` is not a tf_keras model (a Keras 3 model included).
        ValueError: On a bad option, an empty or infinite dataset, an output shape that is
            not fixed, or a cache over ``max_memory_bytes`` (raised before the teacher runs,
            with the size and how to shrink it), or an unusable ``directory``.

    Example:
        >>> from tf_green import models
        >>> lm = models.tiny_lm(vocab_size=40, d_model=8, num_layers=1, num_heads=2, seq_len=6)
        >>> tokens = np.zeros((4, 6), np.int32)
        >>> cache = cache_teacher(lm, tokens, batch_size=2, top_k=5, dtype="float16")
        >>> cache.numpy()["indices"].shape, cache.bytes_per_sample
        ((4, 6, 5), 124)
    """
    teacher = require_tf_keras_model(teacher, "teacher")
    dtype = _check_options(dtype, top_k, batch_size)
    if isinstance(x, tf.data.Dataset):
        if x.cardinality() == tf.data.INFINITE_CARDINALITY:
            raise ValueError("`x` is an infinite dataset (repeat()); cache a finite one.")
        count = count_samples(x)
    else:
        x = tf.nest.map_structure(np.asarray, x)
        count = num_samples(x)
    if count == 0:
        raise ValueError("`x` has no samples; nothing to cache.")
    sample_shape = _output_shape(teacher, x, sample_input_shape(x))
    if top_k is not None and top_k > sample_shape[-1]:
        raise ValueError(
            f"`top_k`={top_k} exceeds the teacher's {sample_shape[-1]} output classes; "
            "use top_k=None to keep them all."
        )
    per_sample = _bytes_per_sample(sample_shape, dtype, top_k)
    total = count * per_sample
    path = None
    if directory is not None:
        path = _storage.check_target_directory(directory, total)
    elif max_memory_bytes is not None and total > max_memory_bytes:
        raise ValueError(
            f"the teacher cache would need {total / 2**20:,.1f} MiB ({count} samples x "
            f"{sample_shape} {dtype}{f', top_k={top_k}' if top_k else ''}), over "
            f"`max_memory_bytes`={max_memory_bytes / 2**20:,.1f} MiB. Store "
            "dtype='float16', keep top_k logits per position, write it to disk with "
            "directory=..., or raise max_memory_bytes."
        )

    index_dtype = _index_dtype(sample_shape[-1])

    @tf.function(reduce_retracing=True)
    def forward(batch):
        logits = teacher(batch, training=False)
        if top_k is None:
            outputs = {LOGITS: tf.cast(logits, dtype)}
        else:
            values, indices = tf.math.top_k(logits, k=int(top_k))
            outputs = {VALUES: tf.cast(values, dtype), INDICES: tf.cast(indices, index_dtype)}
        return outputs, fingerprint(batch)

    fingerprints = np.empty(count, np.float32)
    kept = sample_shape if top_k is None else (*sample_shape[:-1], int(top_k))
    expected = {LOGITS: kept, VALUES: kept, INDICES: kept}

    def batches():
        start = 0
        for batch in input_batches(x, batch_size):
            outputs, found = forward(batch)
            rows = int(found.shape[0])
            if start + rows > count:
                raise ValueError("`x` yielded more samples than when it was counted.")
            for key, value in outputs.items():
                if tuple(value.shape[1:]) != expected[key]:
                    raise ValueError(
                        f"the teacher's outputs for samples {start}.. have shape "
                        f"{tuple(value.shape[1:])}, not {expected[key]}; the cache needs one "
                        "fixed shape per sample (pad or crop sequences to one length)."
                    )
            fingerprints[start : start + rows] = found.numpy()
            yield start, {k: v.numpy() for k, v in outputs.items()}
            start += rows
        if start != count:
            raise ValueError(f"`x` yielded {start} samples, {count} when it was counted.")

    if path is not None:
        meta = {"sample_shape": list(sample_shape), "dtype": dtype, "top_k": top_k}
        rows = max(1, _CHUNK_BYTES // per_sample)
        _storage.write(path, _chunks(batches(), rows), lambda: fingerprints, meta)
        return TeacherCache.load(path)
    targets: dict[str, np.ndarray] = {}
    for start, outputs in batches():
        for key, value in outputs.items():
            if key not in targets:
                targets[key] = np.empty((count, *value.shape[1:]), value.dtype)
            targets[key][start : start + len(value)] = value
    return TeacherCache(targets, fingerprints, sample_shape, dtype, top_k)


def _chunks(batches, rows_per_chunk: int):
    pending: list[dict[str, np.ndarray]] = []
    rows = 0
    for _, outputs in batches:
        pending.append(outputs)
        rows += len(next(iter(outputs.values())))
        if rows >= rows_per_chunk:
            yield {k: np.concatenate([p[k] for p in pending]) for k in pending[0]}
            pending, rows = [], 0
    if pending:
        yield {k: np.concatenate([p[k] for p in pending]) for k in pending[0]}
