"""Knowledge distillation: train a small student to match a large teacher's soft targets.

* :class:`Distiller`: a ``keras.Model`` with temperature-scaled KL, optional feature
  (FitNets) losses, partial labels (``-1`` = no label) and a cached teacher.
* :func:`distill`: the one-call version, returning the compiled, trained student.
* :func:`cache_teacher` / :class:`TeacherCache`: run the teacher once for fixed data.
* :mod:`~tf_green.distillation.losses`: the loss functions.

Partial labels: the label ``-1`` (:data:`UNLABELED`; a row of ``-1`` for one-hot labels)
marks a sample without a label. It learns from the teacher only, so a few labelled
samples plus many unlabelled inputs form a transfer set: ``distill(teacher, student, x,
y_with_minus_ones)``. ``y=None`` is pure distillation.

Choosing ``temperature`` (T) and ``alpha``: start from the defaults (T=4, alpha=0.1) and
run a short validation sweep on your data (T in {2, 4, 8}, alpha in {0.1, 0.5}). The loss
multiplies the KL term by T**2, so the soft-target gradients keep their scale for every
T, and T mainly sets how much of the teacher's ranking of the wrong classes the student
sees. A low alpha puts the weight on the teacher, which a transfer set with few labels
needs; with plentiful clean labels alpha=0.5 does as well. On the digits benchmark
(``benchmarks/distillation.py``, section ``distillation`` of ``benchmarks/RESULTS.md``) all
nine settings of that sweep land within 0.7 points of each other, above the scratch
student, with all labels and with 10% of them; the budget (epochs x learning rate) mattered
more than T or alpha.

Deployment: train with the Distiller, then save ``distiller.student`` alone.

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
