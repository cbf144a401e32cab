"""Knowledge distillation: train a small student to match a large teacher's soft targets.

* :class:`Distiller`: a ``keras.Model`` with temperature-scaled KL, optional feature
  (FitNets) losses, partial labels (``-1`` = no label) and a cached teacher.
* :func:`distill`: the one-call version, returning the compiled, trained student.
* :func:`cache_teacher` / :class:`TeacherCache`: run the teacher once for fixed data.
* :mod:`~tf_green.distillation.losses`: the loss functions.

Example:
    >>> from tf_green import distillation, models
    >>> d = distillation.Distiller(models.cnn(width=2), models.cnn(width=4), temperature=4.0)
    >>> d.temperature
    4.0
"""

from tf_green.distillation import losses
from tf_green.distillation._labels import UNLABELED
from tf_green.distillation.api import distill
from tf_green.distillation.cache import cache_teacher
from tf_green.distillation.distiller import Distiller
from tf_green.distillation.losses import DistillationLoss
from tf_green.distillation.teacher_cache import CacheInfo, TeacherCache

__all__ = [
    "UNLABELED",
    "CacheInfo",
    "DistillationLoss",
    "Distiller",
    "TeacherCache",
    "cache_teacher",
    "distill",
    "losses",
]
