"""Datasets larger than memory (#17): counting, prune and distill stream from files.

The data is a ~52 MB set of ``.npy`` shards read through ``np.load(mmap_mode="r")`` in a
generator. Two things prove nothing materialises it: the generator counts its passes (a
materialising input path would read it once and then train from memory, so every epoch
must read the files again), and the process's peak RSS (``VmHWM``, reset through
``/proc/self/clear_refs``) grows by far less than the data while it runs.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_green as tg
from tf_green._engine.data import count_batches, count_samples
from tf_green._engine.fit_data import check_fit_data
from tf_green.distillation import cache_pairing, cache_teacher

SHARDS, ROWS, FEATURES, CLASSES, BATCH = 8, 384, 4096, 4, 128
DATA_MB = SHARDS * ROWS * FEATURES * 4 / 2**20  # 48 MiB of inputs

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="Keras 3 on the TensorFlow backend"
)


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise LookupError(field)


class PeakGrowth:
    """Peak RSS growth (MiB) over a block: VmHWM is reset on entry (Linux; else None)."""

    def __enter__(self) -> PeakGrowth:
        self.mb = self.start = None
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")
            self.start = _status_mb("VmRSS")
        except (OSError, LookupError):
            pass
        return self

    def __exit__(self, *exc_info) -> None:
        if self.start is not None:
            self.mb = _status_mb("VmHWM") - self.start


def _extra_peak_mb(run, one_shard: Shards, shards: Shards) -> float | None:
    """Peak RSS growth of ``run(shards)`` over that of ``run(one_shard)``, warmed up first.

    Streaming keeps it to a few MiB (both hold one shard's pages and a few batches in
    tf.data's buffers, which the larger set fills); reading the data into memory would
    make it about the size of the 7 extra shards (42 MiB), over the DATA_MB / 2 bound.
    """
    run(one_shard)  # warm-up: traces, allocator pools
    with PeakGrowth() as small:
        run(one_shard)
    shards.started = shards.finished = 0
    with PeakGrowth() as big:
        run(shards)
    return None if big.mb is None else big.mb - small.mb


def _can_measure_peak() -> bool:
    with PeakGrowth() as peak:
        pass
    return peak.mb is not None


class Shards:
    """``.npy`` shards on disk and a dataset that streams them, counting its passes."""

    def __init__(self, folder, shards: int) -> None:
        rng = np.random.default_rng(0)
        self.paths = []
        for index in range(shards):
            x = rng.random((ROWS, FEATURES), dtype=np.float32)
            y = (x[:, :2] > 0.5).astype(np.int64) @ np.array([1, 2])
            paths = (folder / f"x-{index}.npy", folder / f"y-{index}.npy")
            np.save(paths[0], x)
            np.save(paths[1], y)
            self.paths.append(paths)
        self.samples = shards * ROWS
        self.started = self.finished = 0

    def _generate(self):
        self.started += 1
        for x_path, y_path in self.paths:
            xs, ys = np.load(x_path, mmap_mode="r"), np.load(y_path, mmap_mode="r")
            for start in range(0, len(xs), BATCH):
                yield np.array(xs[start : start + BATCH]), np.array(ys[start : start + BATCH])
            del xs, ys
        self.finished += 1

    def dataset(self) -> tf.data.Dataset:
        signature = (
            tf.TensorSpec((None, FEATURES), tf.float32),
            tf.TensorSpec((None,), tf.int64),
        )
        return tf.data.Dataset.from_generator(self._generate, output_signature=signature)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return Shards(tmp_path_factory.mktemp("shards"), SHARDS)


@pytest.fixture(scope="module")
def one_shard(tmp_path_factory):
    return Shards(tmp_path_factory.mktemp("one_shard"), 1)


def _model(hidden: int | None, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((FEATURES,))
    h = keras.layers.Dense(hidden, activation="relu")(inputs) if hidden else inputs
    model = keras.Model(inputs, keras.layers.Dense(CLASSES)(h))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_counting_and_fit_data_stream_one_pass_each(shards, one_shard):
    def count(source: Shards) -> None:
        ds = source.dataset()
        assert int(ds.cardinality()) == int(tf.data.UNKNOWN_CARDINALITY)
        assert count_samples(ds) == source.samples
        assert count_batches(ds) == source.samples // BATCH
        model = _model(None, 0)
        data = check_fit_data(ds, model=model, loss="sparse_categorical_crossentropy")
        assert data.steps_per_epoch == source.samples // BATCH
        assert int(data.x.cardinality()) == source.samples // BATCH  # counted once, stated
        assert count_batches(data.x) == source.samples // BATCH

    extra = _extra_peak_mb(count, one_shard, shards)
    assert shards.started == shards.finished == 3  # one pass per count, nothing kept
    zeros = np.zeros((40, 3), np.float32)
    fixed = tf.data.Dataset.from_tensor_slices(zeros).batch(8, drop_remainder=True)
    unread = fixed.map(lambda b: tf.debugging.check_numerics(b * np.nan, "read"))
    assert count_samples(unread) == 40  # fixed batches: counted without a pass
    if extra is not None:
        assert extra < DATA_MB / 2, f"counting 8x the data grew the peak RSS by {extra:.0f} MiB"


@pytest.mark.skipif(not _can_measure_peak(), reason="needs /proc/self/clear_refs (Linux)")
def test_prune_streams_from_npy_shards(shards, one_shard):
    pruned = []

    def prune(source: Shards) -> None:
        model = _model(None, 0)
        pruned.append(tg.prune(model, source.dataset(), epochs=1, schedule="constant", verbose=0))

    extra = _extra_peak_mb(prune, one_shard, shards)
    assert shards.started == shards.finished == 2  # the count, then one read per epoch
    kernel = pruned[-1].layers[-1].get_weights()[0]
    assert abs(float(np.mean(kernel == 0)) - 0.8) < 0.01
    assert extra < DATA_MB / 2, f"prune on 8x the data grew the peak RSS by {extra:.0f} MiB"


@pytest.mark.skipif(not _can_measure_peak(), reason="needs /proc/self/clear_refs (Linux)")
def test_distill_with_spilled_cache_streams_from_npy_shards(
    shards, one_shard, tmp_path, monkeypatch
):
    # The shuffle buffer holds up to SHUFFLE_BUFFER_BYTES (64 MiB) of samples, which these
    # 48 MiB would fit in: a 2 MiB bound shows the rest of the pipeline holds nothing.
    monkeypatch.setattr(cache_pairing, "SHUFFLE_BUFFER_BYTES", 2 * 2**20)
    teacher = _model(8, seed=1)
    caches, students = [], []

    def distill(source: Shards) -> None:
        cache = cache_teacher(
            teacher, source.dataset(), max_memory_bytes=4096, spill_directory=tmp_path
        )  # 20 B per sample: spilled in chunks of 2 batches
        student = tg.distill(teacher, _model(None, 2), source.dataset(), cache=cache, epochs=1)
        students.append(student)
        caches.append(cache)
        assert cache.spilled and cache.memory_bytes == 4 * source.samples
        cache.close()

    extra = _extra_peak_mb(distill, one_shard, shards)
    # cache: count + teacher pass; distill: the cache's count check + one epoch (and a
    # first batch read each time to tell shapes and the batch size).
    assert shards.finished == 4 and shards.started <= 6
    assert np.isfinite(students[-1].history.history["loss"]).all()
    assert os.listdir(tmp_path) == []
    assert extra < DATA_MB / 2, f"distill on 8x the data grew the peak RSS by {extra:.0f} MiB"


def test_tfrecord_files_stream_into_the_cache(tmp_path):
    path = str(tmp_path / "data.tfrecord")
    rng = np.random.default_rng(0)
    x = rng.random((50, FEATURES), dtype=np.float32)
    with tf.io.TFRecordWriter(path) as writer:
        for row, label in zip(x, np.arange(50) % CLASSES, strict=True):
            feature = {
                "x": tf.train.Feature(float_list=tf.train.FloatList(value=row)),
                "y": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
            }
            writer.write(
                tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
            )
    spec = {
        "x": tf.io.FixedLenFeature([FEATURES], tf.float32),
        "y": tf.io.FixedLenFeature([], tf.int64),
    }
    ds = (
        tf.data.TFRecordDataset(path)
        .map(lambda record: tf.io.parse_single_example(record, spec))
        .map(lambda e: (e["x"], e["y"]))
        .batch(16)
    )
    assert count_samples(ds) == 50
    teacher = _model(None, seed=1)
    with cache_teacher(teacher, ds, max_memory_bytes=100, spill_directory=tmp_path) as cache:
        np.testing.assert_allclose(
            cache.numpy()["logits"], teacher.predict(x, verbose=0), rtol=1e-5, atol=1e-5
        )
        batches = list(cache.zip(ds, shuffle=False))
        assert sum(len(b[1]) for b in batches) == 50


def test_tf_keras_prune_streams_from_npy_shards(one_shard):
    # The tf_keras engine reads data through the same check_fit_data, and the teacher cache
    # is engine-neutral (its tf_keras use: tests/distillation/test_cache.py).
    from tf_green._keras import keras as tf_keras

    tf_keras.utils.set_random_seed(0)
    inputs = tf_keras.Input((FEATURES,))
    model = tf_keras.Model(inputs, tf_keras.layers.Dense(CLASSES)(inputs))
    model.compile("adam", tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    one_shard.started = one_shard.finished = 0
    pruned = tg.prune(model, one_shard.dataset(), epochs=1, schedule="constant", verbose=0)
    assert one_shard.started == one_shard.finished == 2  # the count, then the epoch's read
    assert abs(float(np.mean(pruned.layers[-1].get_weights()[0] == 0)) - 0.8) < 0.01
