"""Engine-neutral argument types and checks of the pruning calls (no Keras import).

Both engines (tf_keras + TFMOT in :mod:`tf_green.pruning.finetune`, Keras 3 in
:mod:`tf_green.pruning.keras3.prune`) and the dispatchers of :mod:`tf_green.pruning` use
these, so a check or a type is written once.

Example:
    >>> check_epochs(3)
    3
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Union

__all__ = ["LayerSelector", "check_epochs", "check_per_layer_structure"]

LayerSelector = Union[None, str, "re.Pattern[str]", Callable[[Any], bool], list, tuple, Mapping]
"""What ``layers=`` accepts: None, names/classes, a regex, a callable, ``{name: sparsity}``."""


def check_epochs(epochs: Any, argument: str = "epochs") -> int:
    """Return ``epochs`` if it is an integer >= 1; else raise naming ``argument``.

    Args:
        epochs: The value to check.
        argument: The argument's name, used in the message.

    Returns:
        ``epochs``.

    Raises:
        ValueError: For a bool, a non-integer or a value below 1.

    Example:
        >>> check_epochs(0)
        Traceback (most recent call last):
        ...
        ValueError: `epochs` must be an integer >= 1, got 0.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"`{argument}` must be an integer >= 1, got {epochs!r}.")
    return epochs


def check_per_layer_structure(layers: Any, structure: Any, m_by_n: tuple[int, int]) -> None:
    """Refuse per-layer sparsities (``layers={name: sparsity}``) with m:n ``structure``.

    Args:
        layers: ``prune``'s ``layers`` argument.
        structure: ``prune``'s ``structure`` argument, as given.
        m_by_n: ``structure`` parsed to ``(m, n)``.

    Raises:
        ValueError: If ``layers`` is a dict.

    Example:
        >>> check_per_layer_structure(["dense"], "2:4", (2, 4))
    """
    if isinstance(layers, dict):
        raise ValueError(
            f"`layers` gives per-layer sparsities, but structure={structure!r} fixes every "
            f"selected layer at {m_by_n[0]}/{m_by_n[1]}. Pass `layers` as a list of names."
        )
