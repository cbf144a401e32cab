"""tf_green: make trained TensorFlow/Keras models smaller, faster and cheaper in energy.

Prune, distill and quantize a trained ``tf_keras`` model with fit-style calls, export it to
TFLite/LiteRT, and measure accuracy, size, latency, memory and energy side by side.

Example:
    >>> import tf_green as tg
    >>> (x, y), (x_val, y_val) = tg.datasets.digits()
    >>> model = tg.models.cnn(width=16)
"""

from tf_green import datasets, models
from tf_green._version import __version__

__all__ = [
    "__version__",
    "datasets",
    "models",
]
