"""Engine-neutral core: which Keras a model belongs to, and the one place that says so.

tf_green serves two engines: Keras 3 (the ``keras`` package) and Keras 2 (the ``tf_keras``
package, with TFMOT). A public call looks at the model it is given (:func:`engine_of`) and
dispatches; nothing here imports either Keras (only ``os``, ``sys``, ``importlib``), so
``import tf_green`` leaves the user's choice of Keras (``TF_USE_LEGACY_KERAS``) alone.

* :func:`engine_of`: ``"keras3"`` or ``"tf_keras"`` from the model's class, or a TypeError.
* :func:`keras_of`: the Keras module of a model's engine.
* :func:`tf_keras_engine`: the tf_keras + TFMOT engine module (:mod:`tf_green._keras`),
  imported on first use.
* :func:`require_tf_keras`: the one error for calls that do not take Keras 3 models yet.
* :func:`keras3_backend` / :func:`require_keras3_backend`: Keras 3's backend, and the check
  that tf_green supports it.

Example:
    >>> engine_of("model.keras")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: `model` must be a tf_keras model or a Keras 3 model (tf_keras.Model or ...
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Literal

__all__ = [
    "KERAS3_BACKENDS",
    "KERAS3_REBUILD_ADVICE",
    "Engine",
    "engine_of",
    "keras3_backend",
    "keras_named",
    "keras_of",
    "require_keras3_backend",
    "require_tf_keras",
    "tf_keras_engine",
]

Engine = Literal["keras3", "tf_keras"]

KERAS3_BACKENDS = ("tensorflow", "jax")

# Checked by running it (tests/test_engine.py): a Keras 3 config does not rebuild in tf_keras
# (`batch_shape` and other Keras 3 keys are unknown there), but weights copy over in order to
# the same architecture.
KERAS3_REBUILD_ADVICE = (
    "Rebuild the same architecture with `import tf_keras as keras` (or "
    "`keras = tf_green.engine.tf_keras()`) and copy the weights over in order: "
    "`new.set_weights(old.get_weights())` with both models in one process, or "
    "`old.save_weights('m.weights.h5')` in Keras 3 then `new.load_weights('m.weights.h5')`."
)

# The class that makes an object a model, per engine: (top-level package, class name).
_MODEL_ROOTS = {"keras": "keras3", "tf_keras": "tf_keras"}


def engine_of(model: Any, argument: str = "model") -> Engine:
    """Tell which Keras ``model`` belongs to, from its class alone (no Keras is imported).

    Subclassed models, functional models built from nested models and models of a user's
    own class all count: what decides is the Keras ``Model`` class in the class's MRO.

    Args:
        model: The object to look at.
        argument: The argument it came from, used in the message.

    Returns:
        ``"keras3"`` for a Keras 3 model (``keras.Model``), ``"tf_keras"`` for a Keras 2
        model (``tf_keras.Model``).

    Raises:
        TypeError: If ``model`` is not a Keras model (a path, a layer, a Keras 2 model from
            the old standalone ``keras`` 2 package ...), naming ``argument``.

    Example:
        >>> import tf_keras
        >>> engine_of(tf_keras.Sequential())
        'tf_keras'
    """
    for cls in type(model).__mro__:
        if cls.__name__ != "Model":
            continue
        root = cls.__module__.split(".", 1)[0]
        engine = _MODEL_ROOTS.get(root)
        if engine == "keras3" and not _is_keras3_package():
            raise TypeError(
                f"`{argument}` is a model of the standalone `keras` 2 package "
                f"(keras {_keras_version()}); tf_green supports Keras 3 (`keras` >= 3) and "
                "tf_keras. Build it with `import keras` from Keras 3 or `import tf_keras`."
            )
        if engine is not None:
            return engine  # type: ignore[return-value]
    raise TypeError(
        f"`{argument}` must be a tf_keras model or a Keras 3 model (tf_keras.Model or "
        f"keras.Model), got {type(model).__name__}. Build or load it with `import keras` "
        "(Keras 3) or `import tf_keras` (Keras 2); load a file first (keras.saving.load_model "
        "or tf_green.loading.load_model), then pass the model."
    )


def keras_of(model: Any, argument: str = "model") -> Any:
    """The Keras module of ``model``'s engine: ``keras`` (Keras 3) or ``tf_keras``.

    Args:
        model: A Keras 3 or tf_keras model.
        argument: The argument it came from, used in messages.

    Returns:
        The ``keras`` module for a Keras 3 model, ``tf_keras`` for a tf_keras model.

    Raises:
        TypeError: As :func:`engine_of`.

    Example:
        >>> import tf_keras
        >>> keras_of(tf_keras.Sequential()) is tf_keras
        True
    """
    engine = engine_of(model, argument)
    return importlib.import_module("keras" if engine == "keras3" else "tf_keras")


def keras_named(engine: str, argument: str = "engine") -> Any:
    """The Keras module of an engine named ``"keras3"`` or ``"tf_keras"``.

    The tf_keras engine is reached through :func:`tf_keras_engine`, so ``tf.keras`` and
    ``TF_USE_LEGACY_KERAS`` stay as they were.

    Args:
        engine: ``"keras3"`` or ``"tf_keras"``.
        argument: The argument it came from, used in messages.

    Returns:
        The ``keras`` module for ``"keras3"``, ``tf_keras`` for ``"tf_keras"``.

    Raises:
        ValueError: For any other name.

    Example:
        >>> keras_named("keras3").__name__
        'keras'
    """
    if engine == "keras3":
        return importlib.import_module("keras")
    if engine == "tf_keras":
        return tf_keras_engine().keras
    raise ValueError(f"`{argument}` must be 'keras3' or 'tf_keras', got {engine!r}.")


def tf_keras_engine() -> Any:
    """The tf_keras + TFMOT engine module, :mod:`tf_green._keras`, imported on first use.

    Importing it imports ``tf_keras`` and TFMOT, and leaves ``TF_USE_LEGACY_KERAS`` and
    what ``tf.keras`` refers to as they were.

    Returns:
        The module; ``tf_keras_engine().keras`` is ``tf_keras``.

    Example:
        >>> tf_keras_engine().keras.__name__
        'tf_keras'
    """
    return importlib.import_module("tf_green._keras")


def require_tf_keras(model: Any, argument: str = "model", call: str | None = None) -> Any:
    """Return ``model`` if it is a tf_keras model; say clearly what to do otherwise.

    This is the one error for what only the tf_keras engine does (TFMOT's
    quantization-aware training, ``tg.quantization.qat``), and the guard of the tf_keras
    engine's own entry points, which the public calls reach only with tf_keras models.

    Args:
        model: The object to check.
        argument: The argument it came from (``"teacher"``, ``"student"`` ...).
        call: The public call, e.g. ``"tg.distill"``, named in the message.

    Returns:
        ``model``, unchanged.

    Raises:
        TypeError: For a Keras 3 model (naming ``call`` and how to rebuild it in tf_keras)
            or for anything that is not a Keras model.

    Example:
        >>> import tf_keras
        >>> model = tf_keras.Sequential()
        >>> require_tf_keras(model, call="tg.distill") is model
        True
    """
    try:
        engine = engine_of(model, argument)
    except TypeError:
        raise TypeError(
            f"`{argument}` must be a tf_keras model (tf_keras.Model), got "
            f"{type(model).__name__}. Build or load it with `keras = tf_green.engine.tf_keras()`"
            " (or `import tf_keras as keras`)."
        ) from None
    if engine == "tf_keras":
        return model
    what = f"{call} does not" if call else "this tf_green call does not"
    raise TypeError(
        f"{what} support Keras 3 models yet; `{argument}` is a Keras 3 model (tf_green's "
        f"tf_keras engine uses TFMOT, which needs Keras 2). {KERAS3_REBUILD_ADVICE}"
    )


def keras3_backend() -> str:
    """The backend Keras 3 runs on (``"tensorflow"``, ``"jax"``, ``"torch"`` ...).

    Imports Keras 3 (call it when a Keras 3 model has arrived, so it is already imported).

    Returns:
        ``keras.backend.backend()``.

    Example:
        >>> keras3_backend() in ("tensorflow", "jax", "torch", "numpy", "openvino")
        True
    """
    keras = importlib.import_module("keras")
    return str(keras.backend.backend())


def require_keras3_backend(argument: str = "model") -> str:
    """Return Keras 3's backend if tf_green supports it (TensorFlow or JAX); raise otherwise.

    Args:
        argument: The argument whose Keras 3 model needs the backend, named in the message.

    Returns:
        The backend name, ``"tensorflow"`` or ``"jax"``.

    Raises:
        ValueError: For another backend, naming the supported ones and how to choose one.

    Example:
        >>> require_keras3_backend() in KERAS3_BACKENDS
        True
    """
    backend = keras3_backend()
    if backend not in KERAS3_BACKENDS:
        raise ValueError(
            f"`{argument}` is a Keras 3 model on the {backend!r} backend; tf_green supports "
            f"the {' and '.join(repr(b) for b in KERAS3_BACKENDS)} backends. Set "
            "KERAS_BACKEND=tensorflow (or jax) before `import keras`, in a new process."
        )
    return backend


def _is_keras3_package() -> bool:
    return _keras_version().split(".", 1)[0] == "3"


def _keras_version() -> str:
    module = sys.modules.get("keras")
    return str(getattr(module, "__version__", "?")) if module is not None else "?"
