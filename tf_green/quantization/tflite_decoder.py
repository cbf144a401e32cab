"""LiteRT export and runner for key/value-cached decoding of tiny_lm-style models.

:func:`export_decoder` writes one ``.tflite`` file with two signatures, the pattern LiteRT
uses for on-device language models, builtin ops only:

* ``decode`` (the file's first subgraph): ``token`` (1, 1) int32, ``input_pos`` () int32,
  ``kv_cache`` (2 * num_layers, heads, seq_len, head_dim) float32 -> ``logits``
  (1, 1, vocab) and the updated ``kv_cache`` (keys of block i at 2i, values at 2i + 1).
* ``prefill``: ``tokens`` (1, seq_len) int32, the context right-padded -> ``logits``
  (1, seq_len, vocab) and ``kv_cache``.

The cache is an input and an output, so the runner (:class:`TFLiteDecoder`) owns the
state and a decode step costs one token's work. The graph
(:mod:`tf_green.quantization._decoder_graph`) is built for a cheap step: weights folded
into few large operators (one FULLY_CONNECTED for q/k/v, all heads in one BATCH_MATMUL,
LayerNorm in 4 ops, one cache write per step) that XNNPACK runs as one partition; the
export checks it against the Keras model before converting. :func:`signature_ops` lists
each signature's operators.

Example:
    >>> import tf_green as tg
    >>> lm = tg.models.tiny_lm(20, d_model=8, num_layers=1, num_heads=2, seq_len=8)
    >>> decoder = TFLiteDecoder(export_decoder(lm))
    >>> logits, state = decoder.prefill([1, 2, 3])
    >>> decoder.decode(int(logits.argmax()), 3, state)[0].shape
    (20,)
"""

from __future__ import annotations

import os
import pathlib
import tempfile
from typing import Any

import numpy as np
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter

from tf_green.lm_blocks import find_plan
from tf_green.quantization import _decoder_graph as graph

__all__ = [
    "QUANTIZATIONS",
    "SIGNATURES",
    "TFLiteDecoder",
    "export_decoder",
    "has_decode_signatures",
    "signature_ops",
]

SIGNATURES = ("prefill", "decode")
QUANTIZATIONS = ("float", "dynamic")
_DECODE_INPUTS = ("input_pos", "kv_cache", "token")
_OP_NAMES = {
    value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")
}


def _signatures(folded: graph.Folded) -> tuple[Any, Any]:
    """The ``decode`` and ``prefill`` tf.functions of folded weights."""
    size = folded.max_length

    @tf.function(
        input_signature=[
            tf.TensorSpec([1, 1], tf.int32, name="token"),
            tf.TensorSpec([], tf.int32, name="input_pos"),
            tf.TensorSpec(folded.cache_shape, tf.float32, name="kv_cache"),
        ]
    )
    def decode(token: Any, input_pos: Any, kv_cache: Any) -> dict[str, tf.Tensor]:
        logits, kv_cache = graph.decode(folded, token, input_pos, kv_cache)
        return {"logits": logits, "kv_cache": kv_cache}

    @tf.function(input_signature=[tf.TensorSpec([1, size], tf.int32, name="tokens")])
    def prefill(tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        logits, kv_cache = graph.prefill(folded, tokens)
        return {"logits": logits, "kv_cache": kv_cache}

    return decode, prefill


def _verify(model: Any, decode: Any, prefill: Any, size: int, vocab: int) -> None:
    """Compare the export's functions with the model on random ids; raise if they differ."""
    length = max(2, min(6, size))
    tokens = np.random.default_rng(0).integers(0, vocab, size=length).astype(np.int32)
    padded = np.zeros((1, size), np.int32)
    padded[0, :length] = tokens
    full = np.asarray(model(padded, training=False), np.float32)[0, :length]
    before = padded.copy()
    before[0, length - 1] = 0  # the cache of tokens[:-1], then decode the last one
    state = prefill(tf.constant(before))
    step = decode(
        tf.constant(tokens[-1:].reshape(1, 1)), tf.constant(length - 1), state["kv_cache"]
    )
    cached = [prefill(tf.constant(padded))["logits"].numpy()[0, :length]]
    cached.append(step["logits"].numpy()[0])
    gap = max(float(np.max(np.abs(a - b))) for a, b in zip(cached, [full, full[-1:]], strict=True))
    scale = max(1.0, float(np.max(np.abs(full))))
    if not gap <= 1e-3 * scale:
        raise ValueError(
            f"model {model.name}: the decoder graph differs from the model's own output by "
            f"{gap:.3g} (scale {scale:.3g}); it is not a tiny_lm-style model, so it has no "
            "key/value cache path."
        )


def export_decoder(
    model: Any, path: str | os.PathLike | None = None, *, quantization: str = "float"
) -> bytes:
    """Export a tiny_lm-style model as a LiteRT LM with ``prefill`` and ``decode`` signatures.

    Args:
        model: A tiny_lm-style model (tf_keras, or Keras 3 on any backend: the weights are
            read as constants), or a :func:`tf_green.models.with_fixed_length` wrapper of
            one; it is not changed.
        path: Where to write the ``.tflite`` file (atomically), or None.
        quantization: ``"float"`` (float32) or ``"dynamic"`` (int8 weights, float
            activations: the converter's dynamic-range mode).

    Returns:
        The flatbuffer bytes.

    Raises:
        ValueError: If the model has no cache path (not tiny_lm-style, or its layers do not
            fold: the reason is in the message), or ``quantization`` is unknown.

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
    plan = find_plan(model)
    if isinstance(plan, str):
        raise ValueError(plan)
    folded = graph.fold_weights(plan)
    decode, prefill = _signatures(folded)
    _verify(model, decode, prefill, plan.max_length, plan.vocab_size)
    # decode first: it becomes the primary subgraph, which the runner invokes directly
    functions = [decode.get_concrete_function(), prefill.get_concrete_function()]
    converter = tf.lite.TFLiteConverter.from_concrete_functions(functions, tf.Module())
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


def _signature_defs(content: bytes) -> dict[str, tuple[int, dict, dict]]:
    """Signature key -> (subgraph index, {input: tensor index}, {output: tensor index})."""
    if len(content) < 8 or content[4:8] != b"TFL3":
        return {}
    model = schema.Model.GetRootAsModel(content, 0)
    found = {}
    for i in range(model.SignatureDefsLength()):
        signature = model.SignatureDefs(i)

        def tensors(count: int, get: Any) -> dict[str, int]:
            return {get(j).Name().decode(): int(get(j).TensorIndex()) for j in range(count)}

        found[signature.SignatureKey().decode()] = (
            int(signature.SubgraphIndex()),
            tensors(signature.InputsLength(), signature.Inputs),
            tensors(signature.OutputsLength(), signature.Outputs),
        )
    return found


def signature_ops(model: Any) -> dict[str, list[str]]:
    """The builtin operators of each signature of a ``.tflite`` model, in execution order.

    Args:
        model: ``.tflite`` bytes, a path or a TFLiteModel.

    Returns:
        Signature key -> operator names (``"FULLY_CONNECTED"`` ...; custom ops by their
        custom code).

    Example:
        >>> import tf_green as tg
        >>> lm = tg.models.tiny_lm(20, d_model=8, num_layers=1, num_heads=2, seq_len=8)
        >>> "BATCH_MATMUL" in signature_ops(export_decoder(lm))["decode"]
        True
    """
    content = _content(model)
    flatbuffer = schema.Model.GetRootAsModel(content, 0)
    result = {}
    for key, (index, _, _) in _signature_defs(content).items():
        subgraph, names = flatbuffer.Subgraphs(index), []
        for j in range(subgraph.OperatorsLength()):
            code = flatbuffer.OperatorCodes(subgraph.Operators(j).OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            custom = code.CustomCode() if builtin == schema.BuiltinOperator.CUSTOM else None
            names.append(custom.decode() if custom else _OP_NAMES.get(builtin, str(builtin)))
        result[key] = names
    return result


def has_decode_signatures(model: Any) -> bool:
    """Whether a ``.tflite`` model (bytes, path or TFLiteModel) has prefill/decode signatures.

    Reads the flatbuffer's signature table (no interpreter is built).

    Example:
        >>> import tf_green as tg
        >>> has_decode_signatures(tg.to_tflite(tg.models.mlp(hidden=(2,))))
        False
    """
    signatures = _signature_defs(_content(model))
    return all(name in signatures for name in SIGNATURES)


class TFLiteDecoder:
    """Runs a LiteRT LM from :func:`export_decoder`: prefill once, then one token per step.

    The key/value cache lives in this runner (a numpy array passed in and out of the
    ``decode`` signature); the interface is :class:`tf_green.lm_cache.CachedDecoder`'s, so
    :func:`tf_green.generate` drives both the same way. A decode step is one interpreter
    call on the file's primary subgraph (inputs set, invoke, outputs read); the prefill
    runs on a second interpreter of the same file, so the two never share buffers.

    Args:
        model: The ``.tflite`` bytes, a path, or a ``tg.TFLiteModel`` of such a file.
        num_threads: Interpreter threads; None keeps LiteRT's default.

    Raises:
        ValueError: If the model lacks the ``prefill``/``decode`` signatures, or its
            ``decode`` signature is not :func:`export_decoder`'s (re-export it).

    Example:
        >>> import tf_green as tg
        >>> lm = tg.models.tiny_lm(20, d_model=8, num_layers=1, num_heads=2, seq_len=8)
        >>> TFLiteDecoder(export_decoder(lm)).max_length
        8
    """

    def __init__(self, model: Any, num_threads: int | None = None) -> None:
        self.model_bytes = _content(model)
        signatures = _signature_defs(self.model_bytes)
        missing = [name for name in SIGNATURES if name not in signatures]
        if missing:
            raise ValueError(
                f"`model` has no {' / '.join(missing)} signature (it has {sorted(signatures)}); "
                "export it with tf_green.quantization.tflite_decoder.export_decoder."
            )
        subgraph, inputs, outputs = signatures["decode"]
        if tuple(sorted(inputs)) != _DECODE_INPUTS or "kv_cache" not in outputs:
            raise ValueError(
                f"`model`'s decode signature takes {sorted(inputs)}, not {list(_DECODE_INPUTS)}: "
                "it was written by an older export_decoder; export the model again."
            )
        self._prefill = Interpreter(
            model_content=self.model_bytes, num_threads=num_threads
        ).get_signature_runner("prefill")
        steps = Interpreter(model_content=self.model_bytes, num_threads=num_threads)
        self._inputs: dict | None = None
        if subgraph == 0:  # the primary subgraph: set, invoke, get (no per-call resize)
            steps.allocate_tensors()
            self._steps, self._inputs, self._outputs = steps, inputs, outputs
        else:
            self._steps = steps.get_signature_runner("decode")
        self._token, self._position = np.zeros((1, 1), np.int32), np.zeros((), np.int32)
        tokens = self._prefill.get_input_details()["tokens"]
        self.max_length = int(tokens["shape"][-1])
        self.input_details = [tokens]  # what tg.generation.context_length reads

    def _run_prefill(self, tokens: Any) -> tuple[np.ndarray, np.ndarray]:
        tokens = np.asarray(tokens, np.int32).reshape(-1)
        if not 1 <= len(tokens) <= self.max_length:
            raise ValueError(
                f"the context must have 1 .. {self.max_length} tokens, got {len(tokens)}."
            )
        padded = np.zeros((1, self.max_length), np.int32)
        padded[0, : len(tokens)] = tokens
        out = self._prefill(tokens=padded)
        return out["logits"][0], out["kv_cache"]

    def full_logits(self, tokens: Any) -> np.ndarray:
        """Logits at every position of ``tokens`` (1-D), from one prefill; (len, vocab).

        Example:
            >>> import tf_green as tg
            >>> lm = tg.models.tiny_lm(20, d_model=8, num_layers=1, num_heads=2, seq_len=8)
            >>> TFLiteDecoder(export_decoder(lm)).full_logits([1, 2]).shape
            (2, 20)
        """
        logits, _ = self._run_prefill(tokens)
        return np.array(logits[: len(np.asarray(tokens).reshape(-1))], np.float32)

    def prefill(self, tokens: Any) -> tuple[np.ndarray, np.ndarray]:
        """Run the context (1-D ids) and return (next-token logits (vocab,), cache state).

        Example:
            >>> import tf_green as tg
            >>> lm = tg.models.tiny_lm(20, d_model=8, num_layers=1, num_heads=2, seq_len=8)
            >>> TFLiteDecoder(export_decoder(lm)).prefill([4])[0].shape
            (20,)
        """
        logits, kv_cache = self._run_prefill(tokens)
        last = len(np.asarray(tokens).reshape(-1)) - 1
        return np.array(logits[last], np.float32), kv_cache

    def decode(self, token: int, position: int, state: np.ndarray) -> tuple[np.ndarray, Any]:
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
        self._token[0, 0], self._position[...] = int(token), int(position)
        if self._inputs is None:
            out = self._steps(token=self._token, input_pos=self._position, kv_cache=state)
            return out["logits"].reshape(-1), out["kv_cache"]
        steps, inputs, outputs = self._steps, self._inputs, self._outputs
        steps.set_tensor(inputs["token"], self._token)  # set_tensor copies
        steps.set_tensor(inputs["input_pos"], self._position)
        steps.set_tensor(inputs["kv_cache"], state)
        steps.invoke()
        logits = steps.get_tensor(outputs["logits"]).reshape(-1)
        return logits, steps.get_tensor(outputs["kv_cache"])
