"""Quantization and export: TFLite/LiteRT conversion, a LiteRT runner, Keras-side quantization.

* :func:`to_tflite`: convert a tf_keras or Keras 3 model (TensorFlow or JAX backend) to
  float32/float16/dynamic/full INT8 (or int16x8/INT4) TFLite, builtin ops only unless
  ``allow_flex=True``; write atomically, return the bytes.
* :class:`TFLiteModel`: run a ``.tflite`` model like a Keras one (predict/evaluate) and
  read its size, precision, sparsity and the kernels it runs on.
* :func:`quantize`: tf_keras: TFMOT quantization-aware fine-tuning; Keras 3: Keras' own
  weight quantization (``model.quantize("int8"|"int4")``) on a copy, with a per-layer report.
* :func:`qat`: TFMOT quantization-aware training (PQAT for pruned models), tf_keras only.
* :func:`precision_report`: the precision of each operator of a ``.tflite``.
* :func:`export_decoder`: a language model's LiteRT file with ``prefill`` and ``decode``
  signatures (key/value cache in and out), which :func:`tf_green.generate` runs cached.

Each call dispatches on the model it is given (:func:`tf_green._engine.engine_of`); this
package imports its modules on first use (PEP 562), so a Keras 3 call leaves tf_keras and
TFMOT unimported.

Example:
    >>> from tf_green import models
    >>> from tf_green.quantization import TFLiteModel, to_tflite
    >>> TFLiteModel(to_tflite(models.mlp(), quantization="float16")).precision
    'float16'
"""

from __future__ import annotations

import importlib
from typing import Any

# Eager (engine-neutral, imports only tf_green._engine): binding the functions here keeps
# the package attribute `qat` the function, not the submodule of the same name.
from tf_green.quantization.qat import qat, quantize

__all__ = ["TFLiteModel", "export_decoder", "precision_report", "qat", "quantize", "to_tflite"]

# Public name -> the module that defines it, imported on first access. All of them are
# engine-neutral: convert dispatches and imports the tf_keras engine only for a tf_keras model.
_LAZY = {
    "TFLiteModel": "tf_green.quantization.tflite_model",
    "export_decoder": "tf_green.quantization.tflite_decoder",
    "precision_report": "tf_green.quantization._ai_edge_report",
    "to_tflite": "tf_green.quantization.convert",
}


def __getattr__(name: str) -> Any:
    """Load a public name on first access (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'tf_green.quantization' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Every public name, loaded or not."""
    return sorted(set(globals()) | set(__all__))
