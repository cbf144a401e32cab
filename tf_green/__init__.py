"""tf_green: make trained TensorFlow/Keras models smaller, faster and cheaper in energy.

Prune, distill and quantize a trained model with fit-style calls, export it to TFLite/LiteRT,
and measure accuracy, size, latency, memory and energy side by side.

Importing tf_green imports no Keras and changes nothing about which Keras you get (it does
not set ``TF_USE_LEGACY_KERAS``): its names load on first use, and each public call works
with the engine of the model it is given (Keras 3 or tf_keras; see :mod:`tf_green.engine`).

tf_green's Keras classes (``Distiller``, ``PositionEmbedding`` ...) are registered with
each engine, so saved models that use them load without ``custom_objects``: at
``import tf_green`` for an engine already imported (``tf_keras``, or Keras 3), otherwise when
tf_green first uses that engine, or when you call :func:`tf_green.engine.tf_keras` /
:func:`tf_green.engine.register_keras3_classes`.

Example:
    >>> import tf_green as tg
    >>> (x, y), (x_val, y_val) = tg.datasets.digits()
    >>> model = tg.models.cnn(width=16)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

from tf_green._version import __version__

__all__ = [
    "Bench",
    "Distiller",
    "EnergyMeter",
    "Profile",
    "TFLiteModel",
    "Targets",
    "__version__",
    "bench",
    "datasets",
    "distill",
    "distillation",
    "engine",
    "generate",
    "models",
    "profile",
    "prune",
    "pruning",
    "quantization",
    "quantize",
    "sparsity_report",
    "to_tflite",
]

# Public name -> (module, attribute or None for the module itself); imported on first use.
_LAZY: dict[str, tuple[str, str | None]] = {
    "bench": ("tf_green.bench", None),
    "datasets": ("tf_green.datasets", None),
    "distillation": ("tf_green.distillation", None),
    "engine": ("tf_green.engine", None),
    "models": ("tf_green.models", None),
    "pruning": ("tf_green.pruning", None),
    "quantization": ("tf_green.quantization", None),
    "Bench": ("tf_green.bench", "Bench"),
    "EnergyMeter": ("tf_green.bench", "EnergyMeter"),
    "Profile": ("tf_green.bench", "Profile"),
    "Targets": ("tf_green.bench", "Targets"),
    "profile": ("tf_green.bench", "profile"),
    "Distiller": ("tf_green.distillation", "Distiller"),
    "distill": ("tf_green.distillation", "distill"),
    "generate": ("tf_green.generation", "generate"),
    "prune": ("tf_green.pruning", "prune"),
    "sparsity_report": ("tf_green.pruning", "sparsity_report"),
    "TFLiteModel": ("tf_green.quantization", "TFLiteModel"),
    "quantize": ("tf_green.quantization", "quantize"),
    "to_tflite": ("tf_green.quantization", "to_tflite"),
}


def __getattr__(name: str) -> Any:
    """Import a public name (or a submodule, as ``tf_green.loading``) on first access (PEP 562)."""
    if name not in _LAZY:
        if not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}"):
            return importlib.import_module(f"{__name__}.{name}")
        raise AttributeError(f"module 'tf_green' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Every public name, loaded or not."""
    return sorted(set(globals()) | set(__all__))


if "tf_keras" in sys.modules:  # a tf_keras user: register tf_green's classes now, as before
    importlib.import_module("tf_green.engine").register_tf_keras_classes()
if getattr(sys.modules.get("keras"), "version", lambda: "2")().startswith("3"):
    importlib.import_module("tf_green.engine").register_keras3_classes()  # a Keras 3 user
