"""Export and quantization for Keras 3 models (``import keras``), TensorFlow and JAX backends.

* :func:`convert`: the Keras 3 engine of :func:`tf_green.quantization.to_tflite` (an
  ``ExportArchive`` SavedModel, jax2tf on JAX, converted with builtin ops only).
* :func:`quantize`: Keras' own ``model.quantize("int8"|"int4")`` on a copy, with a per-layer
  report of what was quantized and what was not, and why.

Imports only Keras 3, TensorFlow, numpy/pandas and engine-neutral tf_green modules (never
tf_keras or TFMOT). Call them through ``tg.to_tflite`` and ``tg.quantize``, which dispatch on
the model.

Example:
    >>> import keras
    >>> from tf_green.quantization import keras3
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> keras3.convert(model)[4:8]
    b'TFL3'
"""

from tf_green.quantization.keras3.export import convert, input_specs
from tf_green.quantization.keras3.quantize import MODES, quantize

__all__ = ["MODES", "convert", "input_specs", "quantize"]
