"""Turn the data a caller gives the bench into arrays, the way ``keras.Model.evaluate`` reads it.

Accepted, as Keras ``fit``/``evaluate`` accept them: a numpy array, a list of arrays or a dict of
arrays keyed by input name (multi-input models), or a ``tf.data.Dataset``, batched or unbatched,
of ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` elements, where ``x`` may itself be a
tuple or dict of inputs. The bench needs single samples (batch-1 latency) and repeatable passes
over the same data, so a dataset is read once into memory (by
:func:`tf_green._engine.data_read.read_elements`, the one dataset reader).

Batched or unbatched: a dataset whose elements carry a batch axis of unknown size
(``.batch(n)``) is batched; one whose targets are scalars is unbatched; otherwise the model
decides (an element of the model input's rank is a batch, one of a rank less is a sample), and
without a model it is read as batched, like Keras.

Example:
    >>> import numpy as np
    >>> x, y = as_arrays(np.zeros((4, 3)), np.arange(4))
    >>> x.shape, y.tolist()
    ((4, 3), [0, 1, 2, 3])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tf_green._engine.data import count_samples, is_dataset, to_numpy
from tf_green._engine.data_read import elements_batched, join_elements, read_elements

__all__ = ["Data", "Inputs", "as_arrays", "head", "num_samples"]


def _structure(x: Any, argument: str = "x") -> Any:
    """An array, or a list/dict of arrays for several inputs."""
    if isinstance(x, dict):
        return {str(k): to_numpy(v, argument) for k, v in x.items()}
    if (
        isinstance(x, (list, tuple))
        and x
        and all(isinstance(a, (np.ndarray, tf.Tensor)) for a in x)
    ):
        return [to_numpy(a, argument) for a in x]
    return to_numpy(x, argument)


# The one sample count (tf_green._engine.data): arrays, a list/dict of arrays, or Inputs.
num_samples = count_samples


class Data:
    """The caller's ``x`` and ``y``, read once; assembled into arrays for a model's inputs.

    Args:
        x: Inputs (see the module docstring).
        y: Targets, when ``x`` does not yield them.

    Attributes:
        ambiguous: True for a dataset that may be batched or unbatched: the model decides.

    Raises:
        ValueError: If ``x`` is empty, or ``y`` is given twice.
        TypeError: If ``x`` or ``y`` is not array-like.

    Example:
        >>> ds = tf.data.Dataset.from_tensor_slices((np.zeros((5, 3)), np.arange(5)))
        >>> x, y = Data(ds).arrays()  # scalar targets: an unbatched dataset
        >>> x.shape, y.shape
        ((5, 3), (5,))
    """

    def __init__(self, x: Any, y: Any = None) -> None:
        self._elements: list[tuple[Any, Any, Any]] | None = None
        self._batched: bool | None = None
        self._y = None if y is None else to_numpy(y, "y")
        if is_dataset(x):
            self._elements, self._batched = read_elements(x)
            if self._elements[0][1] is not None and y is not None:
                raise ValueError(
                    "`y` was given but `x` is a dataset that already yields (x, y); pass y=None."
                )
        else:
            self._x = _structure(x)
        self.ambiguous = self._elements is not None and self._batched is None

    def arrays(self, ranks: Sequence[int] | None = None) -> tuple[Any, np.ndarray | None]:
        """``(x, y)`` as arrays (``x`` a list/dict of arrays for several inputs).

        Args:
            ranks: The model's input ranks (batch axis included), to tell an unbatched dataset
                from a batched one; None reads an ambiguous dataset as batched.

        Returns:
            ``(x, y)``; ``y`` is None when no targets were given.

        Raises:
            ValueError: If there are no samples, ``x`` and ``y`` lengths differ, or the
                dataset's ranks fit neither batches nor samples of the model.

        Example:
            >>> Data(np.zeros((2, 2))).arrays()[1] is None
            True
        """
        if self._elements is None:
            x, y = self._x, self._y
        else:
            batched = self._batched
            if batched is None and ranks:
                batched = elements_batched(self._elements, list(ranks))
            x, y, _ = join_elements(self._elements, batched)
            y = self._y if y is None else y
        n = count_samples(x)
        if n == 0:
            raise ValueError("`x` has no samples; give at least one.")
        if y is not None and len(y) != n:
            raise ValueError(
                f"`x` has {n} samples but `y` has {len(y)}; they must match "
                "(one target per input sample)."
            )
        return x, y


def as_arrays(
    x: Any, y: Any = None, ranks: Sequence[int] | None = None
) -> tuple[Any, np.ndarray | None]:
    """Read ``x`` (and ``y``) into numpy arrays and check that they agree.

    Args:
        x: Inputs: an array (first axis the samples), a list or dict of arrays for several
            inputs, or a ``tf.data.Dataset`` (batched or not) of ``x`` or ``(x, y)``, as
            ``keras.Model.fit`` accepts.
        y: Targets, when ``x`` is an array (or a dataset of inputs only).
        ranks: The model's input ranks, to tell an unbatched dataset from a batched one.

    Returns:
        ``(x, y)``; ``y`` is None when no targets were given.

    Raises:
        ValueError: If ``x`` is empty, ``y`` is given twice (dataset of pairs and ``y``), or the
            numbers of samples differ.
        TypeError: If ``x`` or ``y`` is not array-like.

    Example:
        >>> as_arrays(np.zeros((2, 2)))[1] is None
        True
    """
    return Data(x, y).arrays(ranks)


class Inputs:
    """The arrays of a multi-input model, in its input order, sliced together like one array.

    ``len``, slicing and ``shape`` (the first input's) behave as for a single array, so the
    profile's stages run unchanged on several inputs.

    Args:
        arrays: One array per input, samples first, all of the same length.
        names: The input names, in the same order.

    Example:
        >>> both = Inputs([np.zeros((4, 2)), np.ones((4, 3))], ["a", "b"])
        >>> len(both[1:3]), both.shape, both[:1].as_dict()["b"].shape
        (2, (4, 2), (1, 3))
    """

    def __init__(self, arrays: Sequence[np.ndarray], names: Sequence[str]) -> None:
        self.arrays = list(arrays)
        self.names = list(names)

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: slice) -> Inputs:
        return Inputs([a[index] for a in self.arrays], self.names)

    @property
    def shape(self) -> tuple[int, ...]:
        """The first input's shape."""
        return tuple(self.arrays[0].shape)

    def as_dict(self) -> dict[str, np.ndarray]:
        """The arrays keyed by input name."""
        return dict(zip(self.names, self.arrays, strict=True))

    def repeat_to(self, n: int) -> Inputs:
        """Samples repeated (cycled) to ``n`` of them."""
        return Inputs([np.resize(a, (n, *a.shape[1:])) for a in self.arrays], self.names)


def head(x: Any, n: int) -> Any:
    """The first ``n`` samples of an array, a list or dict of arrays, or :class:`Inputs`.

    Example:
        >>> head({"a": np.arange(4)}, 2)["a"].tolist()
        [0, 1]
    """
    if isinstance(x, dict):
        return {k: v[:n] for k, v in x.items()}
    if isinstance(x, list):
        return [a[:n] for a in x]
    return x[:n]
