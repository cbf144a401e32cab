"""Embedded data sets: nothing here downloads anything.

* :func:`digits`: scikit-learn's shipped 8x8 handwritten digits (1,797 images, 10 classes).
* :func:`python_docs`: a real English/Python text corpus, the ~465k characters of help
  topics the standard library ships in ``pydoc_data.topics``, for language modelling.
* :func:`as_dataset`: arrays to a batched ``tf.data.Dataset``.

Example:
    >>> from tf_green import datasets
    >>> (x_train, y_train), (x_val, y_val) = datasets.digits()
    >>> x_train.shape[1:], x_train.dtype.name
    ((8, 8, 1), 'float32')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

__all__ = [
    "TextCorpus",
    "Vocabulary",
    "as_dataset",
    "digits",
    "python_docs",
    "python_docs_vocabulary",
]

UNKNOWN_TOKEN = "\ufffd"


def digits(
    validation_split: float = 0.25, seed: int = 0, image: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load scikit-learn's shipped 8x8 digits, scaled to [0, 1], with a stratified split.

    Args:
        validation_split: Fraction of the 1,797 samples held out, in (0, 1).
        seed: Seed of the split; the same seed gives the same split.
        image: If True, ``x`` has shape (n, 8, 8, 1) for CNNs; else (n, 64).

    Returns:
        ``((x_train, y_train), (x_val, y_val))``: float32 images in [0, 1] and int64 labels
        in 0..9.

    Raises:
        ValueError: If ``validation_split`` is not in (0, 1).

    Example:
        >>> (x, y), (xv, yv) = digits(image=False)
        >>> x.shape[1], len(x) + len(xv)
        (64, 1797)
    """
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"`validation_split` must be in (0, 1), got {validation_split!r}.")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    x = x[..., np.newaxis] if image else x.reshape(len(x), -1)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=validation_split, random_state=seed, stratify=y
    )
    return (x_train, y_train), (x_val, y_val)


def as_dataset(
    x: np.ndarray,
    y: np.ndarray | None = None,
    batch_size: int = 32,
    *,
    shuffle: bool = False,
    seed: int = 0,
) -> tf.data.Dataset:
    """Turn arrays into a batched, prefetched ``tf.data.Dataset``.

    Args:
        x: Inputs, first axis the samples.
        y: Optional targets with ``len(y) == len(x)``.
        batch_size: Batch size, >= 1.
        shuffle: Shuffle the samples every epoch (deterministic for a given ``seed``).
        seed: Shuffle seed.

    Returns:
        A dataset of ``x`` batches, or of ``(x, y)`` batches when ``y`` is given.

    Raises:
        ValueError: If the lengths differ or ``batch_size`` < 1.

    Example:
        >>> ds = as_dataset(np.zeros((10, 4)), np.zeros(10), batch_size=4)
        >>> [int(b[0].shape[0]) for b in ds]
        [4, 4, 2]
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1, got {batch_size}.")
    if y is not None and len(x) != len(y):
        raise ValueError(f"`x` has {len(x)} samples but `y` has {len(y)}; they must match.")
    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


@dataclass(frozen=True)
class Vocabulary:
    """A character vocabulary; id 0 is the unknown token.

    Attributes:
        tokens: The tokens in id order; ``tokens[0]`` is :data:`UNKNOWN_TOKEN`.

    Example:
        >>> vocab = Vocabulary.from_text("abca")
        >>> vocab.decode(vocab.encode("cab"))
        'cab'
    """

    tokens: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.tokens or self.tokens[0] != UNKNOWN_TOKEN:
            raise ValueError("`tokens[0]` must be the unknown token; use Vocabulary.from_text.")
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(self.tokens)})

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        """Build the vocabulary of the distinct characters of ``text``, sorted.

        Args:
            text: The corpus.

        Returns:
            The vocabulary, with the unknown token first.

        Example:
            >>> len(Vocabulary.from_text("hello"))
            5
        """
        return cls((UNKNOWN_TOKEN, *sorted(set(text) - {UNKNOWN_TOKEN})))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, errors: str = "strict") -> np.ndarray:
        """Map text to token ids.

        Args:
            text: The text to encode.
            errors: ``"strict"`` raises on characters outside the vocabulary;
                ``"replace"`` maps them to the unknown token (id 0).

        Returns:
            int32 ids, one per character.

        Raises:
            ValueError: On an unknown character with ``errors="strict"``, or an unknown
                ``errors`` value.

        Example:
            >>> Vocabulary.from_text("ab").encode("abz", errors="replace").tolist()
            [1, 2, 0]
        """
        if errors not in ("strict", "replace"):
            raise ValueError(f"`errors` must be 'strict' or 'replace', got {errors!r}.")
        unknown = sorted({c for c in text if c not in self._index})
        if unknown and errors == "strict":
            raise ValueError(
                f"text has characters outside the vocabulary: {unknown[:10]!r}. "
                "Pass errors='replace' to map them to the unknown token."
            )
        return np.array([self._index.get(c, 0) for c in text], dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> str:
        """Map token ids back to text.

        Args:
            ids: Token ids in ``[0, len(self))``.

        Returns:
            The text.

        Raises:
            ValueError: If an id is out of range.

        Example:
            >>> Vocabulary.from_text("ab").decode([2, 1])
            'ba'
        """
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < len(self.tokens)]
        if bad:
            raise ValueError(f"token ids out of range [0, {len(self.tokens)}): {bad[:10]}.")
        return "".join(self.tokens[i] for i in ids)


@dataclass(frozen=True)
class TextCorpus:
    """A tokenized corpus cut into next-token windows.

    Attributes:
        train: Batched ``(input, target)`` dataset, shuffled; both int32 (batch, seq_len).
        val: Batched ``(input, target)`` dataset, in order.
        vocab: The :class:`Vocabulary`.
        x_train: int32 (n, seq_len) input windows; ``y_train`` are the same shifted by one.
        y_train: int32 (n, seq_len) next-token targets.
        x_val: Held-out windows, cut from the end of the text (no overlap with training).
        y_val: Held-out targets.
        seq_len: Window length.

    Example:
        >>> corpus = python_docs(seq_len=32)
        >>> corpus.vocab.decode(corpus.x_train[0][:1]) == corpus.vocab.decode(corpus.x_train[0])[0]
        True
    """

    train: tf.data.Dataset
    val: tf.data.Dataset
    vocab: Vocabulary
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    seq_len: int


def _python_docs_text() -> str:
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name] for name in sorted(topics))


def python_docs_vocabulary() -> Vocabulary:
    """The character vocabulary of :func:`python_docs`, without building any windows.

    It is built from the whole text, so it is the same whatever ``max_chars`` a corpus used:
    a model trained on any :func:`python_docs` corpus decodes with it.

    Returns:
        The :class:`Vocabulary`.

    Example:
        >>> python_docs_vocabulary() == python_docs(seq_len=8, max_chars=1_000).vocab
        True
    """
    return Vocabulary.from_text(_python_docs_text())


def _windows(ids: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    count = (len(ids) - 1) // seq_len
    starts = np.arange(count) * seq_len
    x = np.stack([ids[s : s + seq_len] for s in starts]).astype(np.int32)
    y = np.stack([ids[s + 1 : s + seq_len + 1] for s in starts]).astype(np.int32)
    return x, y


def python_docs(
    seq_len: int = 64,
    level: str = "char",
    validation_split: float = 0.1,
    *,
    batch_size: int = 32,
    max_chars: int | None = None,
    seed: int = 0,
) -> TextCorpus:
    """Load the standard library's help topics as a character-level LM corpus.

    The text is ``pydoc_data.topics`` (what ``help("FOR")`` shows), joined in sorted topic
    order. The last ``validation_split`` of the text is held out, so no training window
    overlaps a validation window. Windows do not overlap each other (stride ``seq_len``).

    Args:
        seq_len: Tokens per window, >= 2.
        level: Tokenization level; only ``"char"`` is available (no tokenizer ships with
            the standard library).
        validation_split: Fraction of the text held out, in (0, 1).
        batch_size: Batch size of the returned datasets.
        max_chars: Use only the first ``max_chars`` characters (quick runs and tests).
        seed: Shuffle seed of the training dataset.

    Returns:
        A :class:`TextCorpus`.

    Raises:
        ValueError: On an unknown ``level``, ``seq_len`` < 2, a bad split, or a text too
            short for one window on each side.

    Example:
        >>> corpus = python_docs(seq_len=64, max_chars=20_000)
        >>> corpus.x_train.shape[1], corpus.x_train.dtype.name
        (64, 'int32')
    """
    if level != "char":
        raise ValueError(f"`level` must be 'char' (the only level available), got {level!r}.")
    if seq_len < 2:
        raise ValueError(f"`seq_len` must be >= 2, got {seq_len}.")
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"`validation_split` must be in (0, 1), got {validation_split!r}.")
    text = _python_docs_text()
    if max_chars is not None:
        text = text[:max_chars]
    vocab = python_docs_vocabulary()
    ids = vocab.encode(text)
    split = int(len(ids) * (1.0 - validation_split))
    if split < seq_len + 1 or len(ids) - split < seq_len + 1:
        raise ValueError(
            f"{len(ids)} characters cannot give a window of `seq_len`={seq_len} on both sides "
            "of the split; raise `max_chars` or lower `seq_len`."
        )
    x_train, y_train = _windows(ids[:split], seq_len)
    x_val, y_val = _windows(ids[split:], seq_len)
    return TextCorpus(
        train=as_dataset(x_train, y_train, batch_size, shuffle=True, seed=seed),
        val=as_dataset(x_val, y_val, batch_size),
        vocab=vocab,
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        seq_len=seq_len,
    )
