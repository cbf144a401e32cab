"""tf_green: make trained TensorFlow/Keras models smaller, faster and cheaper in energy.

Prune, distill and quantize a trained ``tf_keras`` model with fit-style calls, export it to
TFLite/LiteRT, and measure accuracy, size, latency, memory and energy side by side.

Importing tf_green registers its Keras classes (``Distiller``, ``PositionEmbedding`` ...),
so saved models that use them load without ``custom_objects``.

Example:
    >>> import tf_green as tg
    >>> (x, y), (x_val, y_val) = tg.datasets.digits()
    >>> model = tg.models.cnn(width=16)
"""

from tf_green import bench, datasets, distillation, models, pruning, quantization
from tf_green._version import __version__
from tf_green.bench import Bench, EnergyMeter, Profile, Targets, profile
from tf_green.distillation import Distiller, distill
from tf_green.generation import generate
from tf_green.pruning import prune, sparsity_report
from tf_green.quantization import TFLiteModel, quantize, to_tflite

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
