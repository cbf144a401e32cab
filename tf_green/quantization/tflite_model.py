"""Run a TFLite/LiteRT flatbuffer like a Keras model: predict, evaluate, inspect.

:class:`TFLiteModel` wraps ``ai_edge_litert.interpreter.Interpreter``. It quantizes float
inputs of INT8 models, dequantizes their outputs, runs any number of samples in batches
(resizing the input tensor when the model allows it), and falls back from the default
XNNPACK delegate to the builtin kernels when XNNPACK cannot take the model (LiteRT 2.3
cannot run sparse-encoded INT8 or dynamic-range tensors on XNNPACK).

Every interpreter call scores independent samples: a stateful model (an LSTM/GRU converted
with a fixed batch size keeps its state in variable tensors) has its variables reset before
each call, so one sample's state never leaks into the next; stateless models skip the reset.
A model with several outputs is addressed by output name (the Keras output names, which the
model's signature keeps; the converter does not keep the Keras output order).

Example:
    >>> from tf_green import models
    >>> from tf_green.quantization import to_tflite
    >>> tfl = TFLiteModel(to_tflite(models.mlp()))
    >>> tfl.predict(np.zeros((3, 64), np.float32)).shape
    (3, 10)
"""

from __future__ import annotations

import os
import pathlib
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from tf_green._engine.metrics import Metric
from tf_green.quantization import _data, _flatbuffer
from tf_green.quantization._ai_edge_report import blockwise_ops
from tf_green.quantization._metrics import METRICS
from tf_green.quantization._tflite_io import (
    check_shape,
    dequantize,
    fits,
    is_stateful,
    pad,
    quantize,
    signature_input_names,
    signature_output_names,
)

__all__ = ["METRICS", "TFLiteModel"]

DEFAULT_BATCH_SIZE = 32


class TFLiteModel:
    """A TFLite/LiteRT model loaded from a file or bytes, with a Keras-like interface.

    Args:
        path_or_bytes: A ``.tflite`` file path, or the flatbuffer bytes (what
            :func:`~tf_green.quantization.to_tflite` returns).
        num_threads: Interpreter threads, >= 1; None keeps LiteRT's default.
        name: A display name; defaults to the file stem, or ``"model"`` for bytes.

    Attributes:
        precision: ``"float32"``, ``"float16"``, ``"dynamic"`` or ``"int8"``, read from the
            flatbuffer's tensor types.
        sparse: Whether the flatbuffer has sparse-encoded tensors.
        delegate: ``"xnnpack"`` when the default XNNPACK delegate runs (part of) the graph,
            ``"builtin"`` when only the builtin kernels run it.
        fallback_reason: Why XNNPACK was dropped (its error), or None.
        stateful: Whether the model keeps state between calls (variable tensors, e.g. an
            LSTM/GRU converted with a fixed batch size); its variables are reset before each
            interpreter call, so samples are scored independently, as Keras scores them.
        input_names: The inputs' names (the Keras ``Input`` names, from the signature), in
            ``input_details`` order: the keys a dict ``x`` may use.
        output_names: The outputs' names (the Keras output names, from the signature), in
            ``output_details`` order.
        kind: ``f"tflite-{precision}"``.
        name: The display name.
        num_threads: The thread count asked for (None: LiteRT's default).

    Raises:
        FileNotFoundError: If a path is given and the file does not exist.
        TypeError: If ``path_or_bytes`` is neither a path nor bytes, or ``num_threads`` is
            not an int.
        ValueError: If the content is not a valid TFLite model (corrupt, truncated or another
            format), or ``num_threads`` < 1.

    Example:
        >>> from tf_green import models
        >>> from tf_green.quantization import to_tflite
        >>> tfl = TFLiteModel(to_tflite(models.mlp(), quantization="dynamic"), num_threads=1)
        >>> tfl.precision, tfl.kind, tfl.size_bytes > 0
        ('dynamic', 'tflite-dynamic', True)
    """

    def __init__(
        self,
        path_or_bytes: str | os.PathLike | bytes | bytearray | memoryview,
        num_threads: int | None = None,
        *,
        name: str | None = None,
    ) -> None:
        if num_threads is not None:
            if isinstance(num_threads, bool) or not isinstance(num_threads, int):
                raise TypeError(
                    f"`num_threads` must be an int or None, got {type(num_threads).__name__}."
                )
            if num_threads < 1:
                raise ValueError(f"`num_threads` must be >= 1 (or None), got {num_threads}.")
        self.num_threads = num_threads
        content, source = self._read(path_or_bytes)
        if not _flatbuffer.is_tflite(content):
            raise ValueError(
                f"{source} is not a TFLite model: it lacks the 'TFL3' flatbuffer identifier. "
                "Pass a .tflite file or the bytes that to_tflite() returns."
            )
        self._content = content
        self.name = name or (pathlib.Path(source).stem if source != "the bytes" else "model")
        try:
            summary = _flatbuffer.inspect(content)
        except Exception as error:  # a truncated/corrupt flatbuffer can fail anywhere
            raise ValueError(f"{source} is a corrupt TFLite model: {error}") from None
        self.precision: str = summary.precision
        self.sparse: bool = summary.sparse
        self.fallback_reason: str | None = None
        self._source = source
        self._interpreter = self._load(OpResolverType.AUTO)
        self.delegate: str = self._delegate_name()
        self._inputs = self._interpreter.get_input_details()
        self._outputs = self._interpreter.get_output_details()
        self._input_names = signature_input_names(self._interpreter, self._inputs)
        self.input_names: list[str] = list(self._input_names)
        self.output_names: list[str] = signature_output_names(self._interpreter, self._outputs)
        self.stateful: bool = is_stateful(content)

    @staticmethod
    def _read(path_or_bytes: Any) -> tuple[bytes, str]:
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            return bytes(path_or_bytes), "the bytes"
        if isinstance(path_or_bytes, (str, os.PathLike)):
            path = pathlib.Path(path_or_bytes)
            if not path.is_file():
                raise FileNotFoundError(f"`path_or_bytes`: no such file {str(path)!r}.")
            return path.read_bytes(), str(path)
        raise TypeError(
            "`path_or_bytes` must be a .tflite path (str or os.PathLike) or bytes, got "
            f"{type(path_or_bytes).__name__}."
        )

    def _load(self, resolver: OpResolverType) -> Interpreter:
        try:
            interpreter = Interpreter(
                model_content=self._content,
                num_threads=self.num_threads,
                experimental_op_resolver_type=resolver,
            )
        except ValueError as error:
            raise ValueError(f"{self._source} is a corrupt TFLite model: {error}") from None
        try:
            interpreter.allocate_tensors()
        except RuntimeError as error:
            if resolver is not OpResolverType.AUTO or "delegate" not in str(error).lower():
                raise ValueError(f"{self._source}: LiteRT cannot prepare it: {error}") from None
            self.fallback_reason = str(error).strip()
            blockwise = blockwise_ops(self._content)
            if blockwise:
                # LiteRT 2.3's builtin FULLY_CONNECTED miscomputes blockwise INT4 weights
                # (XNNPACK computes them right): refuse rather than return wrong outputs.
                raise ValueError(
                    f"{self._source}: XNNPACK cannot run this model ({self.fallback_reason}), "
                    f"and LiteRT's builtin kernels compute blockwise INT4 weights wrongly "
                    f"({', '.join(blockwise[:3])}). Export it again with "
                    "quantization='int4' from a model XNNPACK can run, or use 'dynamic'."
                ) from None
            warnings.warn(
                f"TFLiteModel {self.name!r}: the XNNPACK delegate cannot run this "
                f"{'sparse ' if self.sparse else ''}{self.precision} model "
                f"({self.fallback_reason}); running it on LiteRT's builtin kernels instead, "
                "which is usually slower.",
                RuntimeWarning,
                stacklevel=3,
            )
            return self._load(OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        return interpreter

    def _delegate_name(self) -> str:
        ops = self._interpreter._get_ops_details()
        return "xnnpack" if any(op.get("op_name") == "DELEGATE" for op in ops) else "builtin"

    @property
    def kind(self) -> str:
        """``f"tflite-{precision}"``, e.g. ``"tflite-int8"``."""
        return f"tflite-{self.precision}"

    @property
    def model_bytes(self) -> bytes:
        """The raw flatbuffer bytes."""
        return self._content

    @property
    def size_bytes(self) -> int:
        """Size of the raw flatbuffer in bytes (what a device maps into memory)."""
        return len(self._content)

    @property
    def input_details(self) -> list[dict]:
        """The interpreter's input details (name, index, shape, dtype, quantization ...)."""
        return self._interpreter.get_input_details()

    @property
    def output_details(self) -> list[dict]:
        """The interpreter's output details."""
        return self._interpreter.get_output_details()

    def __repr__(self) -> str:
        return (
            f"TFLiteModel(name={self.name!r}, precision={self.precision!r}, "
            f"sparse={self.sparse}, delegate={self.delegate!r}, size_bytes={self.size_bytes})"
        )

    # ------------------------------------------------------------------ running
    def predict(
        self, x: Any, batch_size: int | None = None, *, output: str | None = None
    ) -> np.ndarray | dict[str, np.ndarray]:
        """Run the model on any number of samples; return float (dequantized) outputs.

        Float inputs of an INT8-input model are quantized with the input's scale and zero
        point; inputs already in the model's integer dtype are passed as they are. INT8
        outputs are dequantized to float32.

        Args:
            x: An array with samples first (single-input models); for several inputs a
                dict keyed by input name (the Keras ``Input`` names, as the model's
                signature has them) or a list in ``input_details`` order (which the converter
                may not keep in the Keras model's input order); or a ``tf.data.Dataset`` of
                ``x`` or ``(x, y)`` elements.
            batch_size: Samples per interpreter call when the batch axis is resizable
                (default 32). A model with a fixed batch size runs in chunks of that size
                (the last one zero-padded) whatever ``batch_size`` says.
            output: For a model with several outputs, the name of the one to return (one of
                :attr:`output_names`, the Keras output names); None returns them all.

        Returns:
            The output array, shape ``(n, ...)``; for several outputs and ``output=None``, a
            dict from output name to array (by name, because the converter does not keep the
            Keras output order).

        Raises:
            ValueError: If ``batch_size`` < 1, the number of inputs is wrong, a sample's
                shape does not fit the model's input, or ``output`` names no output.
            TypeError: If ``x`` is not numeric, or ``output`` is not a name.

        Example:
            >>> from tf_green import models
            >>> from tf_green.quantization import to_tflite
            >>> tfl = TFLiteModel(to_tflite(models.mlp()))
            >>> tfl.predict(np.zeros((70, 64), np.float32), batch_size=16).shape
            (70, 10)
        """
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
        ):
            raise ValueError(f"`batch_size` must be an int >= 1 or None, got {batch_size!r}.")
        self._check_output(output)
        arrays = self._inputs_from(x)[0]
        n = len(arrays[0]) if arrays[0].ndim else 0
        if n == 0:
            raise ValueError("`x` has no samples; pass an array with samples first (n, ...).")
        fixed = [int(d["shape_signature"][0]) for d in self._inputs if d["shape_signature"][0] > 0]
        chunk = fixed[0] if fixed else (batch_size or DEFAULT_BATCH_SIZE)
        outputs: list[list[np.ndarray]] = [[] for _ in self._outputs]
        for start in range(0, n, chunk):
            batch = [a[start : start + chunk] for a in arrays]
            count = len(batch[0])
            if fixed and count < chunk:
                batch = [pad(b, chunk) for b in batch]
            for i, result in enumerate(self._run(batch)):
                outputs[i].append(result[:count])
        pairs = zip(self.output_names, outputs, strict=True)
        merged = {name: np.concatenate(parts) for name, parts in pairs}
        if output is not None:
            return merged[output]
        return next(iter(merged.values())) if len(merged) == 1 else merged

    def _check_output(self, output: Any) -> None:
        if output is None:
            return
        if not isinstance(output, str):
            raise TypeError(
                f"`output` must be an output name (one of {self.output_names}), got "
                f"{type(output).__name__}: the converter does not keep the Keras output order, "
                "so outputs are chosen by name."
            )
        if output not in self.output_names:
            raise ValueError(
                f"`output` {output!r} is not an output of this model; its outputs are "
                f"{self.output_names}."
            )

    def _select(self, predictions: dict[str, np.ndarray], y: np.ndarray) -> np.ndarray:
        """The one output ``y`` can belong to (shape and class count), else a clear error."""
        if len(predictions) == 1:
            return next(iter(predictions.values()))
        fitting = [name for name, p in predictions.items() if fits(y, p)]
        if len(fitting) == 1:
            return predictions[fitting[0]]
        shapes = ", ".join(f"{n!r} {tuple(p.shape[1:])}" for n, p in predictions.items())
        which = f"several outputs ({fitting})" if fitting else "none of the outputs"
        raise ValueError(
            f"the model has several outputs ({shapes}) and `y` of shape {tuple(y.shape)} fits "
            f"{which}; pass output=<name> to score one of {self.output_names}."
        )

    def evaluate(
        self,
        x: Any,
        y: Any = None,
        metric: str | Metric | Callable[[np.ndarray, np.ndarray], float] = "accuracy",
        batch_size: int | None = None,
        *,
        output: str | None = None,
    ) -> float:
        """Score the model's predictions on ``(x, y)``.

        For a model with several outputs, the output scored is ``output``, else the only one
        the targets fit (same shape, or class ids below its class count); when several fit
        (or none), a ``ValueError`` lists the output names.

        Args:
            x: Inputs as for :meth:`predict`, or a ``tf.data.Dataset`` of ``(x, y)``.
            y: Targets (integer labels or one-hot for ``"accuracy"``); None when ``x`` is a
                dataset that yields them.
            metric: A name from the bench's table (:mod:`tf_green.bench.metrics`):
                ``"accuracy"`` (Keras-style: argmax over classes, or a threshold for one
                output unit), ``"macro_f1"``, ``"perplexity"``, ``"mse"``, ``"mae"``,
                ``"rmse"``; a :class:`~tf_green.bench.metrics.Metric`; or a callable
                ``metric(y_true, y_pred) -> float``.
            batch_size: As for :meth:`predict`.
            output: For several outputs, the name of the one to score (see above).

        Returns:
            The metric value (accuracy as a fraction in [0, 1]).

        Raises:
            ValueError: On an unknown metric name, missing targets, lengths that differ,
                class ids outside the output's classes or continuous targets for a
                classification metric (the message names ``y``), or targets that fit no
                single output of a multi-output model.

        Example:
            >>> from tf_green import models
            >>> from tf_green.quantization import to_tflite
            >>> tfl = TFLiteModel(to_tflite(models.mlp()))
            >>> 0.0 <= tfl.evaluate(np.zeros((4, 64), np.float32), np.zeros(4)) <= 1.0
            True
        """
        if isinstance(metric, Metric):
            score = metric.fn
        elif callable(metric):
            score = metric
        elif metric in METRICS:
            score = METRICS[metric]
        else:
            raise ValueError(
                f"unknown `metric` {metric!r}; use one of {sorted(METRICS)} or a callable "
                "metric(y_true, y_pred) -> float."
            )
        arrays, dataset_y = self._inputs_from(x)
        if _data.is_dataset(x) and y is not None:
            raise ValueError("`y` must be None when `x` is a tf.data.Dataset (it yields y).")
        if y is None:
            y = dataset_y
        if y is None:
            raise ValueError(
                "`y` is missing: pass targets, or a tf.data.Dataset that yields (x, y)."
            )
        y = np.asarray(y)
        if len(y) != len(arrays[0]):
            raise ValueError(f"`x` has {len(arrays[0])} samples but `y` has {len(y)}.")
        self._check_output(output)
        predictions = self.predict(arrays if len(arrays) > 1 else arrays[0], batch_size)
        if output is not None:
            predictions = predictions[output]
        elif isinstance(predictions, dict):
            predictions = self._select(predictions, y)
        return float(score(y, predictions))

    def _inputs_from(self, x: Any) -> tuple[list[np.ndarray], np.ndarray | None]:
        names = self._input_names
        y = None
        if _data.is_dataset(x):
            ranks = [len(d["shape_signature"]) for d in self._inputs]
            x, y = _data.dataset_to_arrays(x, ranks)
            if isinstance(x, list) and len(x) == 1:
                x = x[0]
        return _data.as_input_list(x, names, "x"), y

    def _run(self, batch: list[np.ndarray]) -> list[np.ndarray]:
        interpreter = self._interpreter
        resized = False
        for array, detail in zip(batch, self._inputs, strict=True):
            shape = tuple(array.shape)
            if shape != tuple(detail["shape"]):
                check_shape(shape, detail)
                interpreter.resize_tensor_input(detail["index"], shape)
                resized = True
        if resized:
            interpreter.allocate_tensors()
            self._inputs = interpreter.get_input_details()
            self._outputs = interpreter.get_output_details()
        if self.stateful:  # each call holds new, independent samples: no carried-over state
            interpreter.reset_all_variables()
        for array, detail in zip(batch, self._inputs, strict=True):
            interpreter.set_tensor(detail["index"], quantize(array, detail))
        interpreter.invoke()
        return [dequantize(interpreter.get_tensor(d["index"]), d) for d in self._outputs]
