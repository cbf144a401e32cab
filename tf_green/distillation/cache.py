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
logits of a language model), only the ``top_k`` logits and their ids per position. A cache
over ``max_memory_bytes`` (told before the teacher runs) is written to disk shards in a
temporary folder the cache owns and deletes (:meth:`TeacherCache.close`), and streams back
in step with the input pipeline during training; with ``directory=`` it is written to a
folder of the caller's that outlives it. ``x`` may be a dataset that reads files: it is
read batch by batch (once to count its samples, once to run the teacher), never held.

Engine-neutral: the teacher is a tf_keras or a Keras 3 model (TensorFlow or JAX backend);
only its forward pass differs (a ``tf.function`` on TensorFlow, the model's compiled
``predict_on_batch`` on JAX), and the one :class:`TeacherCache` serves both engines.

Example:
    >>> from tf_green import models
    >>> teacher = models.mlp(hidden=(8,))
    >>> cache = cache_teacher(teacher, np.zeros((10, 64), np.float32), batch_size=4)
    >>> len(cache), cache.memory_bytes
    (10, 440)
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile
from typing import Any

import numpy as np
import tensorflow as tf

from tf_green._engine import engine_of, keras3_backend, require_keras3_backend
from tf_green._engine.checks import check_finite
from tf_green.distillation import _storage
from tf_green.distillation._inputs import (
    INDICES,
    LOGITS,
    VALUES,
    count_samples,
    fingerprint,
    input_batches,
    num_samples,
    sample_input_shape,
)
from tf_green.distillation.teacher_cache import TeacherCache, bytes_per_sample, index_dtype

__all__ = ["DEFAULT_MAX_MEMORY_BYTES", "cache_teacher"]

DEFAULT_MAX_MEMORY_BYTES = 2 * 1024**3
"""Default memory budget of an in-memory cache: 2 GiB."""

_CHUNK_BYTES = 64 * 2**20


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


def _forward(teacher: Any, dtype: str, top_k: int | None, ids_dtype: str) -> Any:
    """``batch -> ({key: numpy outputs}, numpy fingerprints)`` for the teacher's engine."""
    if engine_of(teacher, "teacher") == "tf_keras" or keras3_backend() == "tensorflow":

        @tf.function(reduce_retracing=True)
        def graph(batch):
            logits = teacher(batch, training=False)
            if top_k is None:
                outputs = {LOGITS: tf.cast(logits, dtype)}
            else:
                values, indices = tf.math.top_k(logits, k=int(top_k))
                outputs = {VALUES: tf.cast(values, dtype), INDICES: tf.cast(indices, ids_dtype)}
            return outputs, fingerprint(batch)

        def run(batch):
            outputs, found = graph(batch)
            return {k: v.numpy() for k, v in outputs.items()}, found.numpy()

        return run

    def run_eager(batch):  # Keras 3 on JAX: the model's own jitted predict step
        batch = tf.nest.map_structure(np.asarray, batch)
        logits = np.asarray(teacher.predict_on_batch(batch), np.float32)
        found = fingerprint(batch).numpy()
        if top_k is None:
            return {LOGITS: logits.astype(dtype)}, found
        k = int(top_k)
        indices = np.argpartition(-logits, k - 1, axis=-1)[..., :k]
        values = np.take_along_axis(logits, indices, -1)
        order = np.argsort(-values, axis=-1, kind="stable")
        indices = np.take_along_axis(indices, order, -1)
        values = np.take_along_axis(values, order, -1)
        return {VALUES: values.astype(dtype), INDICES: indices.astype(ids_dtype)}, found

    return run_eager


def _output_shape(teacher: Any, x: Any, input_shape: Any) -> tuple[int, ...]:
    dims = None
    if engine_of(teacher, "teacher") == "tf_keras":
        try:
            shape = teacher.compute_output_shape(input_shape)
            dims = tuple(tf.TensorShape(shape).as_list()[1:])
        except Exception:  # subclassed models: one sample tells the shape
            dims = None
    if dims is None:  # Keras 3 (any backend) or subclassed: one sample tells the shape
        first = tf.nest.map_structure(np.asarray, next(iter(input_batches(x, 1))))
        dims = tuple(np.shape(teacher.predict_on_batch(first))[1:])
    if not dims or any(d is None for d in dims):
        raise ValueError(
            f"the teacher's output shape per sample {dims} is not fully known; the cache "
            "needs fixed shapes (pad or crop sequences to one length)."
        )
    return tuple(int(d) for d in dims)


def cache_teacher(
    teacher: Any,
    x: Any,
    *,
    batch_size: int = 256,
    dtype: str = "float32",
    top_k: int | None = None,
    max_memory_bytes: int | None = DEFAULT_MAX_MEMORY_BYTES,
    directory: str | os.PathLike | None = None,
    spill_directory: str | os.PathLike | None = None,
) -> TeacherCache:
    """Run the teacher once over fixed data and keep its logits, in data order.

    Pass the result as ``Distiller(..., teacher_outputs=cache)`` (or ``distill(...,
    cache=cache)``): training then never runs the teacher, which saves one teacher forward
    pass per sample per epoch. It does not apply when the student's inputs change between
    epochs (random augmentation, random crops, re-tokenization): use the live teacher.

    Args:
        teacher: The trained teacher that outputs logits: a tf_keras or a Keras 3 model.
        x: Inputs as arrays (or a dict of arrays), or a finite ``tf.data.Dataset`` of ``x``
            or ``(x, y[, sample_weight])`` batches in a fixed order (no random
            augmentation, no reshuffling).
        batch_size: Batch size of the teacher's forward pass over arrays (a dataset keeps
            its own batches).
        dtype: Stored dtype, ``"float32"`` or ``"float16"`` (half the bytes; logits keep
            about three significant digits, plenty for softened targets).
        top_k: Keep only the ``top_k`` largest logits (and their class ids) per position,
            for large vocabularies; None keeps all.
        max_memory_bytes: Memory budget of the cache (default 2 GiB; None: no limit). A
            larger cache is written to disk shards in a temporary folder that the cache
            owns and deletes on :meth:`TeacherCache.close` (or when it is collected, or at
            exit); writing holds at most this many bytes (64 MiB at most) of logits at a
            time. Not applied with ``directory``.
        directory: Write the cache to this new folder (tf.data shards) instead of memory;
            it then streams from disk during training and is kept.
        spill_directory: Parent of the temporary folder of a cache over
            ``max_memory_bytes`` (default: the system's temporary folder).

    Returns:
        A :class:`TeacherCache`.

    Raises:
        TypeError: If ``teacher`` is not a Keras model (tf_keras or Keras 3).
        ValueError: On a bad option, an empty or infinite dataset, NaN/inf in array ``x``
            (the first bad index named), an output shape that is not fixed, or an unusable
            ``directory`` or ``spill_directory`` (not empty, missing, or without the disk
            space: raised before the teacher runs, with the size).

    Example:
        >>> from tf_green import models
        >>> lm = models.tiny_lm(vocab_size=40, d_model=8, num_layers=1, num_heads=2, seq_len=6)
        >>> tokens = np.zeros((4, 6), np.int32)
        >>> cache = cache_teacher(lm, tokens, batch_size=2, top_k=5, dtype="float16")
        >>> cache.numpy()["indices"].shape, cache.bytes_per_sample
        ((4, 6, 5), 124)
    """
    if engine_of(teacher, "teacher") == "keras3":
        require_keras3_backend("teacher")
    dtype = _check_options(dtype, top_k, batch_size)
    if max_memory_bytes is not None and (
        isinstance(max_memory_bytes, bool) or not isinstance(max_memory_bytes, int)
        or max_memory_bytes < 0
    ):  # fmt: skip
        raise ValueError(
            f"`max_memory_bytes` must be None or an integer >= 0, got {max_memory_bytes!r}."
        )
    if isinstance(x, tf.data.Dataset):
        if x.cardinality() == tf.data.INFINITE_CARDINALITY:
            raise ValueError("`x` is an infinite dataset (repeat()); cache a finite one.")
        count = count_samples(x)
    else:
        x = check_finite(tf.nest.map_structure(np.asarray, x), "x")
        count = num_samples(x)
    if count == 0:
        raise ValueError("`x` has no samples; nothing to cache.")
    sample_shape = _output_shape(teacher, x, sample_input_shape(x))
    if top_k is not None and top_k > sample_shape[-1]:
        raise ValueError(
            f"`top_k`={top_k} exceeds the teacher's {sample_shape[-1]} output classes; "
            "use top_k=None to keep them all."
        )
    per_sample = bytes_per_sample(sample_shape, dtype, top_k)
    total = count * per_sample
    chunk_bytes = _CHUNK_BYTES
    spill_folder = path = None
    if directory is not None:
        path = _storage.check_target_directory(directory, total)
    elif max_memory_bytes is not None and total > max_memory_bytes:
        spill_folder, path = _spill_target(spill_directory, total)
        chunk_bytes = max(1, min(chunk_bytes, int(max_memory_bytes)))

    ids_dtype = index_dtype(sample_shape[-1])
    forward = _forward(teacher, dtype, top_k, ids_dtype)

    fingerprints = np.empty(count, np.float32)
    kept = sample_shape if top_k is None else (*sample_shape[:-1], int(top_k))
    expected = {LOGITS: kept, VALUES: kept, INDICES: kept}

    def batches():
        start = 0
        for batch in input_batches(x, batch_size):
            outputs, found = forward(batch)
            rows = len(found)
            if start + rows > count:
                raise ValueError("`x` yielded more samples than when it was counted.")
            for key, value in outputs.items():
                if tuple(value.shape[1:]) != expected[key]:
                    raise ValueError(
                        f"the teacher's outputs for samples {start}.. have shape "
                        f"{tuple(value.shape[1:])}, not {expected[key]}; the cache needs one "
                        "fixed shape per sample (pad or crop sequences to one length)."
                    )
            fingerprints[start : start + rows] = found
            yield start, outputs
            start += rows
        if start != count:
            raise ValueError(f"`x` yielded {start} samples, {count} when it was counted.")

    if path is not None:
        meta = {"sample_shape": list(sample_shape), "dtype": dtype, "top_k": top_k}
        rows = max(1, chunk_bytes // per_sample)
        try:
            _storage.write(path, _chunks(batches(), rows), lambda: fingerprints, meta)
        except BaseException:
            if spill_folder is not None:
                shutil.rmtree(spill_folder, ignore_errors=True)
            raise
        if spill_folder is not None:
            return TeacherCache._spilled(spill_folder, str(path))
        return TeacherCache.load(path)
    targets: dict[str, np.ndarray] = {}
    for start, outputs in batches():
        for key, value in outputs.items():
            if key not in targets:
                targets[key] = np.empty((count, *value.shape[1:]), value.dtype)
            targets[key][start : start + len(value)] = value
    return TeacherCache(targets, fingerprints, sample_shape, dtype, top_k)


def _spill_target(parent: Any, needed_bytes: int) -> tuple[str, pathlib.Path]:
    """A new temporary folder for a cache over its memory budget, and the cache path in it."""
    if parent is not None:
        parent = pathlib.Path(parent).expanduser()
        if not parent.is_dir():
            raise ValueError(f"`spill_directory` {str(parent)!r} is not a folder; create it.")
    folder = tempfile.mkdtemp(prefix="tf_green-teacher-cache-", dir=parent)
    try:
        path = _storage.check_target_directory(pathlib.Path(folder) / "cache", needed_bytes)
    except ValueError as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise ValueError(
            f"the teacher cache is over `max_memory_bytes`, so it goes to disk: {error} "
            "Pass spill_directory= on a disk with room, or raise max_memory_bytes."
        ) from None
    return folder, path


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
