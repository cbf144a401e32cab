"""The PEP 562 loader of the dispatching packages (``tf_green.pruning``, ``tf_green.distillation``).

A package that serves both engines names its engine-neutral submodules and its tf_keras-only
public names; :func:`package_getattr` makes the module ``__getattr__`` that loads them on first
access, importing the tf_keras engine first (it keeps ``tf.keras`` and ``TF_USE_LEGACY_KERAS`` as
they are) for anything that is not engine-neutral.

Example:
    >>> getter = package_getattr("tf_green.pruning", {}, ("keras3",))
    >>> getter("keras3").__name__
    'tf_green.pruning.keras3'
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tf_green._engine import tf_keras_engine

__all__ = ["package_getattr"]


def package_getattr(
    package: str, lazy: Mapping[str, str], engine_neutral: Sequence[str]
) -> Callable[[str], Any]:
    """Make a package's ``__getattr__`` that loads names and submodules on first access.

    Args:
        package: The package's ``__name__``.
        lazy: tf_keras-only public names -> the module that defines each.
        engine_neutral: Submodules that import no tf_keras (loaded without the tf_keras engine).

    Returns:
        The ``__getattr__(name)`` function; a loaded public name is cached in the package.

    Example:
        >>> package_getattr("tf_green.pruning", {}, ())("nothing")
        Traceback (most recent call last):
        ...
        AttributeError: module 'tf_green.pruning' has no attribute 'nothing'
    """

    def load(name: str) -> Any:
        """Load a tf_keras-only name (or a submodule) on first access (PEP 562)."""
        if name not in lazy:
            if not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}"):
                if name not in engine_neutral:
                    tf_keras_engine()
                return importlib.import_module(f"{package}.{name}")
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        tf_keras_engine()
        value = getattr(importlib.import_module(lazy[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    return load
