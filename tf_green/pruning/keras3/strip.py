"""``strip``: a pruned Keras 3 model as a plain model, masks applied, sharing nothing.

Example:
    >>> import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    >>> [layer.name for layer in strip(m).layers]
    ['d']
"""

from __future__ import annotations

import contextlib
from typing import Any

from tf_green.pruning.keras3._models import check_model, compile_like, copy_model
from tf_green.pruning.keras3.engine import masked_values, require_backend

__all__ = ["strip"]


def strip(model: Any) -> Any:
    """Copy a pruned model into a plain Keras 3 model, each weight multiplied by its mask.

    The result has no masks or constraints of tf_green's, so it saves to ``.keras`` and
    loads without ``custom_objects``; its pruned weights are exactly zero even if
    training stopped mid-step. ``model`` is not changed.

    Args:
        model: A Keras 3 model from :func:`tf_green.pruning.keras3.wrap` (or any built
            Keras 3 model: then a plain copy).

    Returns:
        The copy, compiled like ``model`` (a fresh optimizer) if ``model`` was compiled,
        built in ``model``'s ``tf.distribute`` strategy on the TensorFlow backend.

    Raises:
        TypeError: If ``model`` is not a Keras 3 model.
        ValueError: If it is not built, or Keras 3 runs on an unsupported backend.

    Example:
        >>> stripped = strip(wrapped)                 # doctest: +SKIP
        >>> stripped.save("pruned.keras")             # doctest: +SKIP
    """
    require_backend()
    model = check_model(model)
    masked = masked_values(model)
    pairs = zip(model.weights, model.get_weights(), strict=True)
    values = [masked.get(id(v), value) for v, value in pairs]
    strategy = getattr(model, "distribute_strategy", None)  # TensorFlow backend only
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        result = copy_model(model)
        result.set_weights(values)
        if compile_like(result, model):
            result.optimizer.build(result.trainable_variables)  # saves and loads as built
    return result
