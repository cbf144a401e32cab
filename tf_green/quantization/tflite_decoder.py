"""LiteRT export and runner for key/value-cached decoding of tiny_lm-style models.

:func:`export_decoder` writes one ``.tflite`` file with two signatures, the pattern LiteRT
uses for on-device language models, builtin ops only:

* ``prefill``: ``tokens`` (1, seq_len) int32, the context right-padded -> ``logits``
  (1, seq_len, vocab), ``k_cache`` and ``v_cache`` (num_layers, 1, seq_len, heads, head_dim).
* ``decode``: ``token`` (1, 1) int32, ``input_pos`` () int32, ``k_cache``, ``v_cache`` ->
  ``logits`` (1, 1, vocab) and the updated caches.

The cache tensors are inputs and outputs, so the runner (:class:`TFLiteDecoder`) owns the
state and a decode step costs one token's work. Both signatures trace the same arithmetic
as the Keras decoder (:func:`tf_green.lm_blocks.forward`) on the model's own weights.

Example:
    >>> import tf_green as tg
    >>> lm = tg.models.tiny_lm(20, d_model=8, num_layers=1, num_heads=2, seq_len=8)
    >>> decoder = TFLiteDecoder(export_decoder(lm))
    >>> logits, state = decoder.prefill([1, 2, 3])
    >>> decoder.decode(int(logits.argmax()), 3, state)[0].shape
    (20,)
"""

from __future__ import annotations

import importlib
import os
import pathlib
import tempfile
from typing import Any

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from tf_green.lm_blocks import forward, tf_ops
from tf_green.lm_cache import CachedDecoder

__all__ = [
    "QUANTIZATIONS",
    "SIGNATURES",
    "TFLiteDecoder",
    "export_decoder",
    "has_decode_signatures",
]

SIGNATURES = ("prefill", "decode")
QUANTIZATIONS = ("float", "dynamic")


def export_decoder(
    model: Any, path: str | os.PathLike | None = None, *, quantization: str = "float"
) -> bytes:
    """Export a tiny_lm-style model as a LiteRT LM with ``prefill`` and ``decode`` signatures.

    Args:
        model: A tiny_lm-style model (tf_keras, or Keras 3 on the TensorFlow backend), or a
            :func:`tf_green.models.with_fixed_length` wrapper of one; it is not changed.
        path: Where to write the ``.tflite`` file (atomically), or None.
        quantization: ``"float"`` (float32) or ``"dynamic"`` (int8 weights, float
            activations: the converter's dynamic-range mode).

    Returns:
        The flatbuffer bytes.

    Raises:
        ValueError: If the model has no cache path, ``quantization`` is unknown, or the model
            is a Keras 3 model on the JAX backend (export needs TensorFlow variables).

    Example:
        >>> import tf_green as tg
        >>> lm = tg.models.tiny_lm(20, d_model=8, num_layers=1, num_heads=2, seq_len=8)
        >>> has_decode_signatures(export_decoder(lm, quantization="dynamic"))
        True
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"`quantization` must be one of {QUANTIZATIONS} for the cached decoder, got "
            f"{quantization!r} (other modes: quantize the written .tflite file)."
        )
    decoder = CachedDecoder(model)  # raises with the reason if there is no cache path
    if decoder.backend != "tensorflow":
        raise ValueError(
            "export_decoder needs TensorFlow variables; `model` is a Keras 3 model on the "
            f"{decoder.backend!r} backend. Build it with KERAS_BACKEND=tensorflow and copy the "
            "weights over (`new.set_weights(model.get_weights())`)."
        )
    decoder.check()
    plan = decoder.plan
    ops = tf_ops() if decoder.engine == "tf_keras" else importlib.import_module("keras").ops
    cache = [plan.num_layers, 1, *plan.cache_shape[1:]]
    module = tf.Module()
    # tf_keras variables are tf.Variables; a Keras 3 variable holds one in `.value`
    module.weights = [v if isinstance(v, tf.Variable) else v.value for v in model.variables]

    @tf.function(input_signature=[tf.TensorSpec([1, plan.max_length], tf.int32, name="tokens")])
    def prefill(tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        logits, keys, values = forward(plan, ops, tokens, 0)
        return {"logits": logits, "k_cache": keys, "v_cache": values}

    @tf.function(
        input_signature=[
            tf.TensorSpec([1, 1], tf.int32, name="token"),
            tf.TensorSpec([], tf.int32, name="input_pos"),
            tf.TensorSpec(cache, tf.float32, name="k_cache"),
            tf.TensorSpec(cache, tf.float32, name="v_cache"),
        ]
    )
    def decode(token: Any, input_pos: Any, k_cache: Any, v_cache: Any) -> dict[str, tf.Tensor]:
        logits, keys, values = forward(plan, ops, token, input_pos, k_cache, v_cache)
        return {"logits": logits, "k_cache": keys, "v_cache": values}

    # each concrete function becomes a signature named after its function
    functions = [prefill.get_concrete_function(), decode.get_concrete_function()]
    converter = tf.lite.TFLiteConverter.from_concrete_functions(functions, module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    content = bytes(converter.convert())
    if path is not None:
        _write_atomically(pathlib.Path(path), content)
    return content


def _write_atomically(path: pathlib.Path, content: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent or ".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.replace(temporary, path)
    except BaseException:
        pathlib.Path(temporary).unlink(missing_ok=True)
        raise


def _content(model: Any) -> bytes:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    if isinstance(model, (str, os.PathLike)):
        path = pathlib.Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"`model`: no such file {str(path)!r}.")
        return path.read_bytes()
    content = getattr(model, "model_bytes", None)  # a tg.TFLiteModel
    if isinstance(content, (bytes, bytearray)):
        return bytes(content)
    raise TypeError(
        "`model` must be .tflite bytes, a path or a TFLiteModel, got " + type(model).__name__
    )


def has_decode_signatures(model: Any) -> bool:
    """Whether a ``.tflite`` model (bytes, path or TFLiteModel) has prefill/decode signatures.

    Example:
        >>> import tf_green as tg
        >>> has_decode_signatures(tg.to_tflite(tg.models.mlp(hidden=(2,))))
        False
    """
    try:
        signatures = Interpreter(model_content=_content(model)).get_signature_list()
    except ValueError:
        return False
    return all(name in signatures for name in SIGNATURES)


class TFLiteDecoder:
    """Runs a LiteRT LM from :func:`export_decoder`: prefill once, then one token per step.

    The key/value caches live in this runner (numpy arrays passed in and out of the
    ``decode`` signature); the interface is :class:`tf_green.lm_cache.CachedDecoder`'s, so
    :func:`tf_green.generate` drives both the same way.

    Args:
        model: The ``.tflite`` bytes, a path, or a ``tg.TFLiteModel`` of such a file.
        num_threads: Interpreter threads; None keeps LiteRT's default.

    Raises:
        ValueError: If the model lacks the ``prefill``/``decode`` signatures.

    Example:
        >>> import tf_green as tg
        >>> lm = tg.models.tiny_lm(20, d_model=8, num_layers=1, num_heads=2, seq_len=8)
        >>> TFLiteDecoder(export_decoder(lm)).max_length
        8
    """

    def __init__(self, model: Any, num_threads: int | None = None) -> None:
        self.model_bytes = _content(model)
        self._interpreter = Interpreter(model_content=self.model_bytes, num_threads=num_threads)
        signatures = self._interpreter.get_signature_list()
        missing = [name for name in SIGNATURES if name not in signatures]
        if missing:
            raise ValueError(
                f"`model` has no {' / '.join(missing)} signature (it has {sorted(signatures)}); "
                "export it with tf_green.quantization.tflite_decoder.export_decoder."
            )
        self._prefill = self._interpreter.get_signature_runner("prefill")
        self._decode = self._interpreter.get_signature_runner("decode")
        tokens = self._prefill.get_input_details()["tokens"]
        self.max_length = int(tokens["shape"][-1])
        self.input_details = [tokens]  # what tg.generation.context_length reads

    def _run_prefill(self, tokens: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tokens = np.asarray(tokens, np.int32).reshape(-1)
        if not 1 <= len(tokens) <= self.max_length:
            raise ValueError(
                f"the context must have 1 .. {self.max_length} tokens, got {len(tokens)}."
            )
        padded = np.zeros((1, self.max_length), np.int32)
        padded[0, : len(tokens)] = tokens
        out = self._prefill(tokens=padded)
        return out["logits"][0], out["k_cache"], out["v_cache"]

    def full_logits(self, tokens: Any) -> np.ndarray:
        """Logits at every position of ``tokens`` (1-D), from one prefill; (len, vocab).

        Example:
            >>> import tf_green as tg
            >>> lm = tg.models.tiny_lm(20, d_model=8, num_layers=1, num_heads=2, seq_len=8)
            >>> TFLiteDecoder(export_decoder(lm)).full_logits([1, 2]).shape
            (2, 20)
        """
        logits, _, _ = self._run_prefill(tokens)
        return np.array(logits[: len(np.asarray(tokens).reshape(-1))], np.float32)

    def prefill(self, tokens: Any) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Run the context (1-D ids) and return (next-token logits (vocab,), cache state).

        Example:
            >>> import tf_green as tg
            >>> lm = tg.models.tiny_lm(20, d_model=8, num_layers=1, num_heads=2, seq_len=8)
            >>> TFLiteDecoder(export_decoder(lm)).prefill([4])[0].shape
            (20,)
        """
        logits, keys, values = self._run_prefill(tokens)
        last = len(np.asarray(tokens).reshape(-1)) - 1
        return np.array(logits[last], np.float32), (keys, values)

    def decode(
        self, token: int, position: int, state: tuple[np.ndarray, np.ndarray]
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Feed one token at ``position``; return (next-token logits, new cache state).

        Example:
            >>> import tf_green as tg
            >>> lm = tg.models.tiny_lm(20, d_model=8, num_layers=1, num_heads=2, seq_len=8)
            >>> decoder = TFLiteDecoder(export_decoder(lm))
            >>> decoder.decode(5, 1, decoder.prefill([4])[1])[0].shape
            (20,)
        """
        if not 0 <= int(position) < self.max_length:
            raise ValueError(f"`position` must be in [0, {self.max_length}), got {position}.")
        keys, values = state
        out = self._decode(
            token=np.full((1, 1), int(token), np.int32),
            input_pos=np.array(int(position), np.int32),
            k_cache=keys,
            v_cache=values,
        )
        return np.array(out["logits"][0, 0], np.float32), (out["k_cache"], out["v_cache"])
