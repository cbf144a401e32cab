"""A teacher cache over its memory budget spills to disk shards it owns, and trains the same.

Issue #17: ``cache_teacher`` used to refuse a cache over ``max_memory_bytes``; it now writes
the logits to shards in a temporary folder (atomically), streams them back in step with the
input pipeline, and deletes the folder on ``close()``, on garbage collection, or when
``distill`` that made it returns.
"""

from __future__ import annotations

import gc
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_green.distillation.keras3.api as k3_api
from tf_green.distillation import cache_teacher
from tf_green.distillation.keras3 import distill

pytestmark = pytest.mark.skipif(
    keras.backend.backend() not in ("tensorflow", "jax"), reason="TF or JAX backend"
)

N, FEATURES, CLASSES = 96, 6, 4
BUDGET = 1_000  # bytes: 96 samples x 20 B of logits + fingerprints -> several shards


def _mlp(hidden: int, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((FEATURES,))
    h = keras.layers.Dense(hidden, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(CLASSES)(h))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, FEATURES)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + 2 * (x[:, 1] > 0)
    return x, y


@pytest.fixture(scope="module")
def teacher(data):
    x, y = data
    model = _mlp(16, seed=1)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    return model


def _entries(folder) -> list[str]:
    return sorted(os.listdir(folder))


def test_over_budget_cache_spills_to_owned_shards_and_deletes_them(teacher, data, tmp_path):
    x, _ = data
    in_memory = cache_teacher(teacher, x, batch_size=16)
    spilled = cache_teacher(
        teacher, x, batch_size=16, max_memory_bytes=BUDGET, spill_directory=tmp_path
    )
    assert not in_memory.spilled and spilled.spilled
    assert spilled.memory_bytes == 4 * N  # only the fingerprints stay in memory
    (folder,) = _entries(tmp_path)
    assert folder.startswith("tf_green-teacher-cache-")
    shards = [f for f in _entries(tmp_path / folder / "cache") if f.startswith("shard-")]
    assert len(shards) > 1  # written in chunks no larger than the budget
    assert not any(name.startswith(".") for name in _entries(tmp_path / folder))  # no temp left
    np.testing.assert_array_equal(spilled.numpy()["logits"], in_memory.numpy()["logits"])
    with spilled:
        pass
    assert _entries(tmp_path) == []
    with pytest.raises(ValueError, match="closed"):
        spilled.targets()
    collected = cache_teacher(teacher, x, max_memory_bytes=BUDGET, spill_directory=tmp_path)
    assert len(_entries(tmp_path)) == 1
    del collected
    gc.collect()
    assert _entries(tmp_path) == []


def test_spilled_cache_pairs_batches_like_the_in_memory_one(teacher, data, tmp_path):
    x, y = data
    in_memory = cache_teacher(teacher, x, batch_size=16)
    with cache_teacher(
        teacher, x, batch_size=16, max_memory_bytes=BUDGET, spill_directory=tmp_path
    ) as spilled:
        for source in ("arrays", "dataset"):
            batches = []
            for cache in (in_memory, spilled):
                if source == "arrays":
                    zipped = cache.zip(x, y, batch_size=10, shuffle=True, seed=3)
                else:
                    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(10)
                    zipped = cache.zip(ds, shuffle=True, seed=3)
                batches.append(list(zipped.as_numpy_iterator()))
            assert len(batches[0]) == len(batches[1]) == 10
            for a, b in zip(*batches, strict=True):
                tf.nest.map_structure(np.testing.assert_array_equal, a, b)


def test_distilled_student_equals_the_in_memory_cache_result(teacher, data, tmp_path, monkeypatch):
    # distill(cache=True) over a tiny budget: its own cache spills, trains the same student
    # as an in-memory cache on the same seeds, and is deleted when distill returns.
    x, y = data
    in_memory = cache_teacher(teacher, x, batch_size=256)
    keras.utils.set_random_seed(0)
    expected = distill(teacher, _mlp(8, seed=2), x, y, epochs=1, batch_size=16, cache=in_memory)
    made = []

    def small_budget(*args, **kwargs):
        cache = cache_teacher(*args, **kwargs, max_memory_bytes=BUDGET, spill_directory=tmp_path)
        made.append(cache)
        return cache

    monkeypatch.setattr(k3_api, "cache_teacher", small_budget)
    keras.utils.set_random_seed(0)
    trained = distill(teacher, _mlp(8, seed=2), x, y, epochs=1, batch_size=16, cache=True)
    assert len(made) == 1 and made[0].spilled
    assert _entries(tmp_path) == []
    for a, b in zip(expected.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(expected.get_weights()[0], _mlp(8, seed=2).get_weights()[0])


def test_a_failing_teacher_leaves_no_spilled_shards(data, tmp_path):
    x, _ = data
    calls = []

    class Failing(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(CLASSES)

        def call(self, inputs):
            calls.append(1)
            if len(calls) > 3:
                raise RuntimeError("teacher failed")
            return self.dense(inputs)

    teacher = Failing()
    teacher(x[:1])
    with pytest.raises(RuntimeError, match="teacher failed"):
        cache_teacher(teacher, x, batch_size=8, max_memory_bytes=BUDGET, spill_directory=tmp_path)
    assert _entries(tmp_path) == []


def test_bad_budget_and_spill_directory_are_refused(teacher, data, tmp_path, monkeypatch):
    x, _ = data
    with monkeypatch.context() as patch:  # no disk space: refused, nothing left behind
        patch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(1, 1, 0))
        with pytest.raises(ValueError, match=r"over `max_memory_bytes`.*MiB on disk"):
            cache_teacher(teacher, x, max_memory_bytes=BUDGET, spill_directory=tmp_path)
    assert _entries(tmp_path) == []
    with pytest.raises(ValueError, match="`max_memory_bytes`"):
        cache_teacher(teacher, x, max_memory_bytes=-1)
    with pytest.raises(ValueError, match="`spill_directory`"):
        cache_teacher(teacher, x, max_memory_bytes=BUDGET, spill_directory=tmp_path / "missing")
