import shutil

import numpy as np
import pytest
from distillation_helpers import copy_model

from tf_green import datasets, models
from tf_green._keras import keras, tf
from tf_green.distillation import CacheInfo, Distiller, TeacherCache, cache_teacher


class CountCalls:
    """Count the teacher's forward passes (calls while tracing or running eagerly)."""

    def __init__(self, monkeypatch, model):
        self.count = 0
        original = type(model).__call__

        def counted(this, *args, **kwargs):
            if this is model:
                self.count += 1
            return original(this, *args, **kwargs)

        monkeypatch.setattr(type(model), "__call__", counted)


def test_cache_holds_the_teacher_logits_and_states_its_memory(teacher, digits_data):
    (x, _), _ = digits_data
    cache = cache_teacher(teacher, x[:100], batch_size=32)
    np.testing.assert_allclose(cache.numpy()["logits"], teacher.predict(x[:100], verbose=0), 1e-5)
    assert len(cache) == 100 and cache.sample_shape == (10,)
    info = cache.info
    assert isinstance(info, CacheInfo)
    assert info.memory_bytes == 100 * (10 * 4 + 4) == cache.memory_bytes
    assert info.to_pandas()["bytes_per_sample"].tolist() == [44]
    assert "100 samples" in repr(cache) and "MiB" in repr(cache)
    half = cache_teacher(teacher, x[:100], batch_size=32, dtype="float16")
    assert half.numpy()["logits"].dtype == np.float16 and half.memory_bytes == 100 * (20 + 4)
    np.testing.assert_allclose(
        half.numpy()["logits"], cache.numpy()["logits"], rtol=2e-3, atol=2e-3
    )


def test_top_k_cache_for_language_model_logits():
    lm = models.tiny_lm(
        vocab_size=50, d_model=8, num_layers=1, num_heads=2, seq_len=12, engine="tf_keras"
    )
    tokens = np.random.default_rng(0).integers(0, 50, (9, 12)).astype(np.int32)
    cache = cache_teacher(lm, tokens, batch_size=4, top_k=4, dtype="float16")
    arrays = cache.numpy()
    assert arrays["values"].shape == arrays["indices"].shape == (9, 12, 4)
    assert arrays["indices"].dtype == np.int16
    assert cache.bytes_per_sample == 12 * 4 * (2 + 2) + 4
    full = lm.predict(tokens, verbose=0)
    expected = np.sort(full, axis=-1)[..., ::-1][..., :4]
    np.testing.assert_allclose(arrays["values"], expected, rtol=2e-3, atol=2e-3)
    at_indices = np.take_along_axis(full, arrays["indices"].astype(np.int64), -1)
    np.testing.assert_allclose(arrays["values"], at_indices, rtol=2e-3, atol=2e-3)
    assert np.all(arrays["indices"][..., 0] == full.argmax(-1))


def test_memory_budget_refuses_before_running_the_teacher(teacher, digits_data, monkeypatch):
    # Over max_memory_bytes the cache spills to disk (tests/distillation/test_cache_shards.py);
    # without the disk space for it, it refuses before the teacher runs.
    (x, _), _ = digits_data
    calls = CountCalls(monkeypatch, teacher)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(1, 1, 0))
    with pytest.raises(ValueError, match=r"needs about .*MiB on disk.*float16"):
        cache_teacher(teacher, x, batch_size=64, max_memory_bytes=10_000)
    assert calls.count == 0


def test_bad_options_are_refused(teacher, digits_data):
    (x, _), _ = digits_data
    for kwargs, message in [
        ({"dtype": "int8"}, "`dtype`"),
        ({"top_k": 0}, "`top_k`"),
        ({"top_k": 11}, "exceeds the teacher's 10"),
        ({"batch_size": 0}, "`batch_size`"),
    ]:
        with pytest.raises(ValueError, match=message):
            cache_teacher(teacher, x[:10], **kwargs)
    with pytest.raises(ValueError, match="infinite"):
        cache_teacher(teacher, tf.data.Dataset.from_tensor_slices(x[:4]).batch(2).repeat())
    with pytest.raises(ValueError, match="no samples"):
        cache_teacher(teacher, x[:0])


def test_disk_cache_streams_and_reopens(teacher, digits_data, tmp_path):
    (x, _), _ = digits_data
    ds = tf.data.Dataset.from_tensor_slices(x[:70]).batch(16)
    cache = cache_teacher(teacher, ds, directory=tmp_path / "cache")
    assert cache.directory and cache.memory_bytes == 70 * 4  # fingerprints only
    assert cache.info.disk_bytes > 70 * 40
    again = TeacherCache.load(tmp_path / "cache")
    np.testing.assert_allclose(again.numpy()["logits"], teacher.predict(x[:70], verbose=0), 1e-5)
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]  # no temporary leftovers
    y = np.arange(70) % 10
    losses = []
    for source in (again, cache_teacher(teacher, x[:70])):
        keras.utils.set_random_seed(0)
        d = Distiller(teacher, models.cnn(width=2, engine="tf_keras"), teacher_outputs=source)
        d.compile(optimizer="sgd")
        losses.append(d.fit(x[:70], y, batch_size=16, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)
    with pytest.raises(ValueError, match="already exists and is not empty"):
        cache_teacher(teacher, x[:5], directory=tmp_path / "cache")
    with pytest.raises(ValueError, match="not a tf_green teacher cache"):
        TeacherCache.load(tmp_path)


def test_a_failing_teacher_leaves_no_half_written_cache(digits_data, tmp_path):
    (x, _), _ = digits_data

    class Failing(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(10)
            self.calls = 0

        def call(self, inputs, training=None):
            self.calls += 1
            if self.calls > 2:
                raise RuntimeError("teacher broke")
            return self.dense(keras.layers.Flatten()(inputs))

    with pytest.raises(RuntimeError, match="teacher broke"):
        cache_teacher(Failing(), x[:50], batch_size=8, directory=tmp_path / "c")
    assert list(tmp_path.iterdir()) == []


def test_cached_training_matches_live_training_without_running_the_teacher(
    teacher, digits_data, monkeypatch
):
    (x, y), _ = digits_data
    x, y = x[:256], y[:256]
    keras.utils.set_random_seed(1)
    start = models.cnn(width=2, engine="tf_keras")

    def train(cache):
        student = copy_model(start)
        d = Distiller(teacher, student, teacher_outputs=cache)
        d.compile(optimizer=keras.optimizers.SGD(0.05))
        history = d.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
        return student.get_weights(), history.history["loss"]

    cache = cache_teacher(teacher, x)
    calls = CountCalls(monkeypatch, teacher)
    cached_weights, cached_loss = train(cache)
    assert calls.count == 0
    live_weights, live_loss = train(None)
    assert calls.count > 0
    np.testing.assert_allclose(cached_loss, live_loss, rtol=1e-4)
    for a, b in zip(cached_weights, live_weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_cache_must_match_the_data(teacher, digits_data):
    (x, y), _ = digits_data
    cache = cache_teacher(teacher, x[:64])
    d = Distiller(teacher, models.cnn(width=2, engine="tf_keras"), teacher_outputs=cache)
    d.compile(optimizer="adam")
    with pytest.raises(ValueError, match="`teacher_outputs` has 64 samples but the data has 65"):
        d.fit(x[:65], y[:65], verbose=0)
    with pytest.raises(ValueError, match="not the data `teacher_outputs` was computed on"):
        d.fit(x[:64][::-1], y[:64][::-1], verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        d.fit(x[:64], y[:64], validation_split=0.2, verbose=0)
    shuffled = tf.data.Dataset.from_tensor_slices((x[:64][::-1], y[:64])).batch(16)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not in the order"):
        d.fit(shuffled, verbose=0)
    with pytest.raises(ValueError, match="cached teacher outputs and student outputs differ"):
        Distiller(
            models.cnn(width=4, num_classes=5, engine="tf_keras"),
            models.cnn(width=2, num_classes=5, engine="tf_keras"),
            teacher_outputs=cache,
        )
    with pytest.raises(ValueError, match="feature_pairs"):
        Distiller(teacher, models.cnn(width=2, engine="tf_keras"), teacher_outputs=cache,
                  feature_pairs=[("conv2", "conv2")])  # fmt: skip


def test_cached_dataset_and_top_k_language_model_training():
    corpus = datasets.python_docs(seq_len=16, max_chars=5000, batch_size=16)
    vocab = len(corpus.vocab)
    teacher = models.tiny_lm(
        vocab, d_model=16, num_layers=1, num_heads=2, seq_len=16, engine="tf_keras"
    )
    student = models.tiny_lm(
        vocab, d_model=8, num_layers=1, num_heads=2, seq_len=16, engine="tf_keras"
    )
    ordered = datasets.as_dataset(corpus.x_train, corpus.y_train, batch_size=16)
    cache = cache_teacher(teacher, ordered, top_k=8, dtype="float16")
    assert cache.sample_shape == (16, vocab)
    d = Distiller(teacher, student, alpha=0.5, temperature=2.0, teacher_outputs=cache)
    d.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = d.fit(ordered, epochs=2, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
