"""Check fit-style training data and count its steps per epoch (pruning schedules need it).

The checks and the counting are the engine-neutral ones of :mod:`tf_green._engine.fit_data`
(one implementation for every transform and both engines); this module gives them the
names the pruning code and its users know. Accepted like ``Model.fit``: arrays (numpy,
lists, tensors, or a list/dict of them for multi-input models) with ``y``, or a
``tf.data.Dataset`` of ``(x, y)`` batches or single samples (``y`` None). NaN/inf values
are refused (arrays up front, datasets batch by batch as training consumes them), class-id
labels are checked against the loss (one-hot rows become ids for a sparse loss), and a
dataset of single samples is batched with ``batch_size``.

Example:
    >>> import numpy as np
    >>> inspect_data(np.zeros((100, 3)), np.zeros(100), batch_size=32).steps_per_epoch
    4
"""

from __future__ import annotations

from typing import Any

from tf_green._engine.data import count_samples
from tf_green._engine.fit_data import FitData, check_fit_data, check_validation_data

__all__ = ["FitData", "count_samples", "inspect_data", "inspect_validation"]


def inspect_data(
    x: Any,
    y: Any = None,
    *,
    batch_size: int = 32,
    steps_per_epoch: int | None = None,
    model: Any = None,
    loss: Any = None,
) -> FitData:
    """Check training data like ``Model.fit`` would and count its steps per epoch.

    See :func:`tf_green._engine.fit_data.check_fit_data` for the arguments; an infinite
    dataset without ``steps_per_epoch`` is refused because the pruning schedule needs to
    know how many steps training runs.

    Returns:
        The checked data (:class:`FitData`): ``steps_per_epoch`` is what the pruning
        schedule counts on.

    Raises:
        TypeError: If ``x`` is of an unsupported type.
        ValueError: As :func:`~tf_green._engine.fit_data.check_fit_data`.

    Example:
        >>> import numpy as np
        >>> import tensorflow as tf
        >>> ds = tf.data.Dataset.from_tensor_slices((np.zeros((10, 2)), np.zeros(10)))
        >>> inspect_data(ds.batch(4)).steps_per_epoch
        3
    """
    return check_fit_data(
        x, y, batch_size=batch_size, steps_per_epoch=steps_per_epoch, model=model, loss=loss
    )


def inspect_validation(
    validation_data: Any, *, model: Any = None, loss: Any = None, batch_size: int = 32
) -> Any:
    """Check ``validation_data`` (a dataset, or an ``(x, y)`` tuple) is usable and not empty.

    The same as :func:`tf_green._engine.fit_data.check_validation_data`.

    Example:
        >>> import numpy as np
        >>> inspect_validation((np.zeros((3, 2)), np.zeros(3)))[1].shape
        (3,)
    """
    return check_validation_data(validation_data, model=model, loss=loss, batch_size=batch_size)
