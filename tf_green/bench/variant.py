"""The interface the bench profiles through: :class:`Variant` (runs batches, counts MACs, size).

Engine-neutral: it imports no Keras. The concrete variants are
:class:`~tf_green.bench.keras_variant.KerasVariant` (a tf_keras or Keras 3 model) and
:class:`~tf_green.bench.variants.TFLiteVariant`; :func:`~tf_green.bench.variants.as_variant`
picks one.

Example:
    >>> _compatible((None, 3), (7, 3)), _compatible((4,), (5,))
    (True, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tf_green.bench._inputs import Inputs
from tf_green.bench.flops import MacCount
from tf_green.bench.size import SizeStats

Spec = tuple[tuple[int | None, ...], np.dtype]

__all__ = ["Spec", "Variant"]


def _compatible(expected: Sequence[int | None], sample_shape: Sequence[int]) -> bool:
    if len(expected) != len(sample_shape):
        return False
    pairs = zip(expected, sample_shape, strict=True)
    return all(e is None or e < 0 or int(e) == int(s) for e, s in pairs)


class Variant:
    """A profiled model: runs batches, counts MACs, measures size.

    Attributes:
        name: Name in results.
        kind: "keras" or the TFLite kind ("tflite-float32", "tflite-int8" ...).
        model: The wrapped object (never changed).

    Example:
        >>> from tf_green import models
        >>> from tf_green.bench.variants import as_variant
        >>> as_variant(models.mlp()).expected_shape()
        (64,)
    """

    name: str
    kind: str
    model: Any

    @property
    def runtime(self) -> str:
        """What runs the model, e.g. "TensorFlow (tf.function)" or "LiteRT (xnnpack)"."""
        raise NotImplementedError

    def input_specs(self) -> list[Spec] | None:
        """``(sample shape, dtype)`` of each input (None: any size); None until known."""
        raise NotImplementedError

    def input_names(self) -> list[str]:
        """The input names, in the model's input order."""
        raise NotImplementedError

    def input_ranks(self) -> list[int] | None:
        """Each input's rank, batch axis included (None: not known before the data)."""
        specs = self.input_specs()
        return None if specs is None else [len(shape) + 1 for shape, _ in specs]

    def expected_shape(self) -> tuple[int | None, ...]:
        """Shape of one sample of the first input (None: any size)."""
        specs = self.input_specs()
        if specs is None:
            raise ValueError(f"variant {self.name!r} learns its input shape from the data.")
        return specs[0][0]

    def input_dtype(self) -> np.dtype:
        """The dtype the first input's data is cast to before inference."""
        specs = self.input_specs()
        return np.dtype(np.float32) if specs is None else specs[0][1]

    def _specs_from(self, arrays: list[np.ndarray]) -> list[Spec]:
        """Learn the input signature from the data (models without ``inputs``)."""
        return [
            (tuple(a.shape[1:]), np.dtype(np.float32) if a.dtype.kind == "f" else a.dtype)
            for a in arrays
        ]

    def check_input(self, x: Any) -> np.ndarray | Inputs:
        """Check that ``x``'s samples fit the model and cast them to its input dtypes.

        Args:
            x: Inputs, first axis the samples: an array, or for several inputs a list (in the
                model's input order) or a dict keyed by input name.

        Returns:
            The array in the model's input dtype, or :class:`~tf_green.bench._inputs.Inputs`
            (one array per input, in the model's order) for several inputs.

        Raises:
            ValueError: If the number of inputs or a sample shape does not match the model.
        """
        # Imported here: the quantization package may import its tf_keras engine, which a
        # Keras 3 profile must not load.
        from tf_green.quantization._data import as_input_list

        names = self.input_names()
        if isinstance(x, Inputs):
            x = x.as_dict()
        arrays = as_input_list(x, names, "x")
        specs = self.input_specs() or self._specs_from(arrays)
        checked = []
        for name, array, (expected, dtype) in zip(names, arrays, specs, strict=True):
            if not _compatible(expected, array.shape[1:]):
                shown = tuple("None" if e is None or e < 0 else int(e) for e in expected)
                which = f" input {name!r}" if len(names) > 1 else ""
                raise ValueError(
                    f"variant {self.name!r}{which} expects samples of shape {shown} but `x` has "
                    f"samples of shape {tuple(array.shape[1:])}; profile it with the data it "
                    "was built for."
                )
            checked.append(array.astype(dtype, copy=False))
        return checked[0] if len(checked) == 1 else Inputs(checked, names)

    def run(self, batch: np.ndarray | Inputs) -> np.ndarray:
        """Run one batch to completion and return the outputs as float arrays."""
        raise NotImplementedError

    def predict(self, x: np.ndarray | Inputs, batch_size: int = 64) -> np.ndarray:
        """Outputs for all of ``x``, in batches.

        Args:
            x: Inputs (already checked).
            batch_size: Samples per call.

        Returns:
            The concatenated outputs.
        """
        parts = [self.run(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts, axis=0)

    def macs(self, sample_shape: Sequence[int]) -> MacCount:
        """MACs of one inference on one sample."""
        raise NotImplementedError

    def size(self) -> SizeStats:
        """Size figures."""
        raise NotImplementedError
