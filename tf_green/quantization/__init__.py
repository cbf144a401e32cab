"""Quantization and export: TFLite/LiteRT conversion, a LiteRT runner, quantization-aware training.

* :func:`to_tflite`: strip pruning wrappers, convert to float32/float16/dynamic/full INT8
  TFLite (optionally sparse-encoded), write atomically, return the bytes.
* :class:`TFLiteModel`: run a ``.tflite`` model like a Keras one (predict/evaluate) and
  read its size, precision, sparsity and the kernels it runs on.
* :func:`qat` / :func:`quantize`: TFMOT quantization-aware training (PQAT for pruned models).

Example:
    >>> from tf_green import models
    >>> from tf_green.quantization import TFLiteModel, to_tflite
    >>> TFLiteModel(to_tflite(models.mlp(), quantization="float16")).precision
    'float16'
"""

from tf_green.quantization.convert import to_tflite
from tf_green.quantization.qat import qat, quantize
from tf_green.quantization.tflite_model import TFLiteModel

__all__ = ["TFLiteModel", "qat", "quantize", "to_tflite"]
