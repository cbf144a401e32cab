import numpy as np
import pytest

from tf_green import datasets


def test_digits_shapes_range_and_split():
    (x, y), (xv, yv) = datasets.digits()
    assert x.shape[1:] == (8, 8, 1) and x.dtype == np.float32
    assert len(x) + len(xv) == 1797
    assert len(xv) == pytest.approx(0.25 * 1797, abs=1)
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.9
    assert set(np.unique(y)) == set(range(10))


def test_digits_is_stratified_and_deterministic():
    (x1, y1), (xv1, yv1) = datasets.digits(seed=3)
    (x2, y2), (xv2, yv2) = datasets.digits(seed=3)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(yv1, yv2)
    train_share = np.bincount(y1) / len(y1)
    val_share = np.bincount(yv1) / len(yv1)
    np.testing.assert_allclose(train_share, val_share, atol=0.01)
    (_, _), (_, yv_other) = datasets.digits(seed=4)
    assert not np.array_equal(yv1, yv_other)


def test_digits_flat():
    (x, _), _ = datasets.digits(image=False)
    assert x.shape[1:] == (64,)


@pytest.mark.parametrize("split", [0.0, 1.0, -0.1])
def test_digits_bad_split(split):
    with pytest.raises(ValueError, match="validation_split"):
        datasets.digits(validation_split=split)


def test_as_dataset_batches_and_shuffle_determinism():
    x = np.arange(10, dtype=np.float32)
    ds = datasets.as_dataset(x, x * 2, batch_size=4)
    batches = list(ds.as_numpy_iterator())
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(batches[0][1], batches[0][0] * 2)
    a = np.concatenate(list(datasets.as_dataset(x, batch_size=3, shuffle=True, seed=1)))
    b = np.concatenate(list(datasets.as_dataset(x, batch_size=3, shuffle=True, seed=1)))
    np.testing.assert_array_equal(a, b)
    assert sorted(a.tolist()) == x.tolist() and a.tolist() != x.tolist()


def test_as_dataset_bad_input():
    with pytest.raises(ValueError, match="`y` has 3"):
        datasets.as_dataset(np.zeros(4), np.zeros(3))
    with pytest.raises(ValueError, match="batch_size"):
        datasets.as_dataset(np.zeros(4), batch_size=0)


def test_python_docs_windows_are_next_token_pairs():
    corpus = datasets.python_docs(seq_len=32, batch_size=8)
    assert corpus.x_train.shape[1] == 32 and corpus.x_train.dtype == np.int32
    np.testing.assert_array_equal(corpus.x_train[:, 1:], corpus.y_train[:, :-1])
    # windows are consecutive and non-overlapping: the next window starts where the target ends
    assert corpus.x_train[1, 0] == corpus.y_train[0, -1]
    text = corpus.vocab.decode(corpus.x_train[:3].ravel())
    assert "\n" in text or " " in text
    assert len(corpus.x_train) > 10 * len(corpus.x_val) * 0.8
    x, y = next(iter(corpus.val))
    assert x.shape == (8, 32) and y.shape == (8, 32)
    assert 90 < len(corpus.vocab) < 130


def test_python_docs_is_real_text_and_deterministic():
    a = datasets.python_docs(seq_len=64, max_chars=5000)
    b = datasets.python_docs(seq_len=64, max_chars=5000)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert a.vocab == b.vocab
    from pydoc_data.topics import topics

    first = topics[sorted(topics)[0]]
    assert a.vocab.decode(a.x_train[0]) == first[:64]


def test_python_docs_vocabulary_does_not_depend_on_max_chars():
    vocab = datasets.python_docs_vocabulary()
    assert vocab == datasets.python_docs(seq_len=8, max_chars=1_000).vocab
    assert len(vocab) == len(datasets.python_docs(seq_len=8).vocab)


def test_python_docs_bad_input():
    with pytest.raises(ValueError, match="level"):
        datasets.python_docs(level="word")
    with pytest.raises(ValueError, match="seq_len"):
        datasets.python_docs(seq_len=1)
    with pytest.raises(ValueError, match="max_chars"):
        datasets.python_docs(seq_len=64, max_chars=100)


def test_vocabulary_unknown_characters():
    vocab = datasets.Vocabulary.from_text("abc")
    with pytest.raises(ValueError, match=r"outside the vocabulary.*errors=.replace."):
        vocab.encode("abz")
    assert vocab.encode("abz", errors="replace").tolist() == [1, 2, 0]
    assert vocab.decode([0]) == datasets.UNKNOWN_TOKEN
    with pytest.raises(ValueError, match="out of range"):
        vocab.decode([7])
    with pytest.raises(ValueError, match="errors"):
        vocab.encode("a", errors="ignore")
