"""Compile a pruning copy like its source, on either engine (the one rule both engines use).

:func:`tf_green._engine.models.compile_like` copies the compile settings; this adds when to
compile at all: a copy of an uncompiled model stays uncompiled unless the call asks for
it (``required``) or passes ``optimizer``/``loss`` (then a missing part is an error, never
silently ignored). Engine-neutral: the models are read duck-typed.

Example:
    >>> compile_like(object(), None)
    False
"""

from __future__ import annotations

from typing import Any

from tf_green._engine.models import compile_like as engine_compile_like
from tf_green._engine.models import is_compiled

__all__ = ["compile_like"]


def compile_like(
    target: Any,
    source: Any,
    *,
    optimizer: Any = None,
    loss: Any = None,
    metrics: Any = None,
    required: bool = False,
) -> bool:
    """Compile ``target`` like ``source`` (:func:`tf_green._engine.models.compile_like`).

    Args:
        target: The model to compile (tf_keras or Keras 3).
        source: The model whose compile settings to copy, or None.
        optimizer: Overrides the optimizer.
        loss: Overrides the loss.
        metrics: Overrides the metrics.
        required: Compile even if ``source`` is not compiled and nothing is overridden
            (then the missing optimizer/loss is an error naming the argument).

    Returns:
        True if ``target`` was compiled; False if there was nothing to compile it with.

    Raises:
        ValueError: If compiling is asked for (``required``, or an override given) and no
            optimizer or loss can be found.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> compile_like(m, None, optimizer="adam", loss="mse")
        True
    """
    given = optimizer is not None or loss is not None
    if not required and not given and (source is None or not is_compiled(source)):
        return False
    engine_compile_like(target, source, optimizer=optimizer, loss=loss, metrics=metrics)
    return True
