"""int16x8 and INT4 LiteRT exports through ai-edge-quantizer, and the per-layer precision report.

One tiny trained tf_keras LM and one tiny CNN, exported once per mode (module fixtures).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import tf_green as tg
from tf_green._keras import keras
from tf_green.quantization import _ai_edge, _ai_edge_recipes
from tf_green.quantization import to_tflite as tg_to_tflite
from tf_green.quantization._ai_edge_report import precision_report

VOCAB, SEQ = 12, 16


def _windows(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Token windows of a noisy counting language: next = (t + 1 or t + 2) mod VOCAB."""
    steps = rng.choice([1, 2], p=[0.8, 0.2], size=(n, SEQ + 1))
    tokens = (rng.integers(0, VOCAB, (n, 1)) + np.cumsum(steps, axis=1)) % VOCAB
    return tokens[:, :-1].astype(np.int32), tokens[:, 1:].astype(np.int32)


def _logits(content: bytes, x: np.ndarray, delegate: bool = True) -> np.ndarray:
    kind = OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = Interpreter(model_content=content, experimental_op_resolver_type=kind)
    runner = interpreter.get_signature_runner()
    name = next(iter(runner.get_input_details()))
    return np.concatenate(
        [next(iter(runner(**{name: x[i : i + 1]}).values())) for i in range(len(x))]
    )


def _log_loss(logits: np.ndarray, y: np.ndarray) -> float:
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return float(-np.take_along_axis(log_probs, y[..., None], -1).mean())


@pytest.fixture(scope="module")
def lm():
    rng = np.random.default_rng(0)
    x, y = _windows(256, rng)
    keras.utils.set_random_seed(0)
    model = tg.models.compile_classifier(
        tg.models.tiny_lm(VOCAB, 32, 1, 2, seq_len=SEQ, engine="tf_keras"), 1e-2
    )
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    fixed = tg.models.with_fixed_length(model)
    float_content = tg_to_tflite(fixed)
    x_val, y_val = _windows(24, rng)
    return {
        "model": fixed,
        "x": x,
        "x_val": x_val,
        "y_val": y_val,
        "float": float_content,
        "dynamic": tg_to_tflite(fixed, quantization="dynamic"),
        "int16x8": _ai_edge.export(float_content, "int16x8", x, 64),
        "int4": _ai_edge.export(float_content, "int4", None, 1),
    }


@pytest.fixture(scope="module")
def cnn():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs)
    h = keras.layers.Flatten()(h)  # 6 * 6 * 8 = 288 = 9 blocks of 32
    h = keras.layers.Dense(16, activation="relu", name="hidden")(h)
    outputs = keras.layers.Dense(10, name="head")(h)  # input 16: no block of 32
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(1).random((40, 8, 8, 1), dtype=np.float32)
    float_content = tg_to_tflite(model)
    return {
        "x": x,
        "float": float_content,
        "int4": _ai_edge.export(float_content, "int4", None, 1),
        "int16x8": _ai_edge.export(float_content, "int16x8", x, 40),
    }


def test_lm_exports_stay_close_to_float(lm):
    x, y = lm["x_val"], lm["y_val"]
    reference = _logits(lm["float"], x)
    float_loss = _log_loss(reference, y)
    assert float_loss < 0.8 * np.log(VOCAB)  # the LM learned something to lose
    for mode, loss_tol, agree in (("int16x8", 0.02, 0.97), ("int4", 0.10, 0.85)):
        logits = _logits(lm[mode], x)
        assert logits.dtype == np.float32 and logits.shape == reference.shape
        assert _log_loss(logits, y) <= float_loss * (1 + loss_tol) + 1e-3, mode
        same = np.mean(logits.argmax(-1) == reference.argmax(-1))
        assert same >= agree, (mode, same)


def test_exports_run_with_and_without_xnnpack(lm, cnn):
    cases = [(lm["int16x8"], lm["x_val"][:3]), (cnn["int16x8"], cnn["x"][:3])]
    per_channel_int4 = _ai_edge._run_quantizer(
        cnn["float"], [_ai_edge_recipes._int4_config(".*", "*", "CHANNELWISE")], None
    )
    cases.append((per_channel_int4, cnn["x"][:3]))
    # int16x8 is deterministic integer math; dynamic-range INT4 quantizes activations on
    # the fly, a little differently per kernel (XNNPACK vs builtin)
    for (content, x), atol in zip(cases, (2e-3, 2e-3, 2e-2), strict=True):
        np.testing.assert_allclose(
            _logits(content, x), _logits(content, x, delegate=False), atol=atol, rtol=1e-3
        )


@pytest.mark.xfail(
    strict=True,
    reason="LiteRT 2.3: the builtin FULLY_CONNECTED kernel (no XNNPACK) miscomputes blockwise "
    "INT4 weights; XNNPACK is right (closeness tests). When this passes, update _ai_edge's note.",
)
def test_blockwise_int4_on_builtin_kernels(cnn):
    x = cnn["x"][:3]
    np.testing.assert_allclose(
        _logits(cnn["int4"], x), _logits(cnn["int4"], x, delegate=False), atol=2e-3, rtol=1e-3
    )


def test_cnn_exports_stay_close_to_float(cnn):
    x = cnn["x"]
    reference = _logits(cnn["float"], x)
    scale = np.abs(reference).max()
    for mode, tol in (("int16x8", 0.01), ("int4", 0.15)):
        error = np.abs(_logits(cnn[mode], x) - reference).max() / scale
        assert error < tol, (mode, error)


def test_report_bits_lm(lm):
    float_report = precision_report(lm["float"])
    dense = float_report[float_report.op == "FULLY_CONNECTED"]
    assert len(dense) == 7  # q, k, v, attention output, ff1, ff2, logits
    assert set(dense.weight_bits) == {32} and dense.weight_granularity.isna().all()

    report = precision_report(lm["int16x8"])
    dense = report[report.op == "FULLY_CONNECTED"]
    assert set(dense.weight_bits) == {8} and set(dense.activation_bits) == {16}
    assert set(dense.weight_granularity) == {"per-channel"}
    for op in ("BATCH_MATMUL", "RSQRT", "GELU", "MEAN"):
        assert set(report.loc[report.op == op, "activation_bits"]) == {16}, op
    # The -1e9 causal mask would crush the scores' 16-bit scale: mask add + softmax stay float.
    island = report[report.tensor.str.contains("/softmax/") & ~report.op.str.contains("QUANTIZE")]
    assert list(island.op) == ["ADD", "TRANSPOSE", "SOFTMAX"]
    assert set(island.activation_dtype) == {"float32"}

    report = precision_report(lm["int4"])
    dense = report[report.op == "FULLY_CONNECTED"]
    assert set(dense.weight_bits) == {4} and set(dense.activation_bits) == {32}
    assert set(dense.weight_granularity) == {"blockwise-32"}  # inputs 32 and 128


def test_report_bits_cnn_falls_back_to_per_channel(cnn, tmp_path):
    path = tmp_path / "cnn.tflite"
    path.write_bytes(cnn["int4"])
    report = precision_report(str(path)).set_index("op")
    assert report.loc["CONV_2D", "weight_bits"] == 4
    assert report.loc["CONV_2D", "weight_granularity"] == "per-channel"
    # hidden: input 288 = 9 blocks of 32; head: input 16, one scale per output channel
    dense = report.loc["FULLY_CONNECTED"]
    assert list(dense.weight_granularity) == ["blockwise-32", "per-channel"]
    assert list(dense.weight_bits) == [4, 4]


def _weight_bytes(content: bytes, op_name: str) -> list[tuple[int, int]]:
    """(elements, stored bytes) of each ``op_name`` weight (input 1)."""
    model = schema.Model.GetRootAs(content, 0)
    graph, out = model.Subgraphs(0), []
    codes = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    for o in range(graph.OperatorsLength()):
        op = graph.Operators(o)
        code = model.OperatorCodes(op.OpcodeIndex())
        if codes[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())] != op_name:
            continue
        tensor = graph.Tensors(op.Inputs(1))
        out.append((int(tensor.ShapeAsNumpy().prod()), model.Buffers(tensor.Buffer()).DataLength()))
    return out


def test_sizes_shrink_as_expected(lm):
    for elements, stored in _weight_bytes(lm["int4"], "FULLY_CONNECTED"):
        assert stored == elements // 2  # two INT4 weights per byte
    for elements, stored in _weight_bytes(lm["int16x8"], "FULLY_CONNECTED"):
        assert stored == elements
    sizes = {mode: len(lm[mode]) for mode in ("float", "dynamic", "int16x8", "int4")}
    assert sizes["int4"] < sizes["dynamic"] < 0.7 * sizes["float"], sizes
    assert sizes["int16x8"] < 0.7 * sizes["float"], sizes


def test_int16x8_is_builtin_with_float_io(lm):
    interpreter = Interpreter(model_content=lm["int16x8"])
    assert interpreter.get_input_details()[0]["dtype"] == np.int32  # token ids stay ids
    assert interpreter.get_output_details()[0]["dtype"] == np.float32
    assert not _ai_edge._custom_ops(lm["int16x8"])
    report = precision_report(lm["int16x8"])
    floats = report[(report.activation_dtype == "float32") & (report.op != "DEQUANTIZE")]
    floats = floats[~floats.tensor.str.contains("/softmax/")]  # the mask island
    assert set(floats.op) == {"SQUARED_DIFFERENCE"}  # LayerNorm variance: no int16 kernel


def test_to_tflite_writes_atomically(tmp_path, monkeypatch):
    model = tg.models.mlp(engine="tf_keras")
    path = tmp_path / "m.tflite"
    content = _ai_edge.to_tflite(tg_to_tflite, model, path, quantization="int4")
    assert path.read_bytes() == content
    assert precision_report(path).weight_bits.max() == 4

    def broken(*args, **kwargs):
        raise RuntimeError("quantizer crashed")

    monkeypatch.setattr(_ai_edge, "export", broken)
    with pytest.raises(RuntimeError, match="crashed"):
        _ai_edge.to_tflite(tg_to_tflite, model, path, quantization="int4")
    assert path.read_bytes() == content  # the old file survives a failed export
    assert os.listdir(tmp_path) == ["m.tflite"]  # no temporary file left


def test_misuse_is_refused_with_the_fix(tmp_path):
    model = tg.models.mlp(engine="tf_keras")
    with pytest.raises(ValueError, match="representative_data"):
        _ai_edge.to_tflite(tg_to_tflite, model, quantization="int16x8")
    with pytest.raises(ValueError, match="int8_io"):
        _ai_edge.to_tflite(tg_to_tflite, model, quantization="int4", int8_io=True)
    with pytest.raises(ValueError, match="sparse"):
        _ai_edge.to_tflite(tg_to_tflite, model, quantization="int4", sparse=True)
    with pytest.raises(ValueError, match="does not exist"):
        _ai_edge.to_tflite(tg_to_tflite, model, tmp_path / "no" / "m.tflite", quantization="int4")
    with pytest.raises(ValueError, match=r"shape \(n, 64\)"):
        _ai_edge.to_tflite(
            tg_to_tflite, model, quantization="int16x8", representative_data=np.zeros((4, 3))
        )
    with pytest.raises(ValueError, match="NaN"):
        _ai_edge.to_tflite(
            tg_to_tflite,
            model,
            quantization="int16x8",
            representative_data=np.full((4, 64), np.nan, np.float32),
        )
    with pytest.raises(ValueError, match="'int16x8', 'int4'"):
        tg.to_tflite(model, quantization="int3")


def test_precision_report_refuses_what_is_not_tflite(tmp_path):
    with pytest.raises(TypeError, match="bytes or a path"):
        precision_report(123)
    with pytest.raises(ValueError, match="TFL3"):
        precision_report(b"not a model at all")
    with pytest.raises(FileNotFoundError, match="not a file"):
        precision_report(tmp_path / "missing.tflite")


def test_tflite_model_and_bench_name_int16x8_and_int4_and_count_int4_weights(cnn, lm):
    from tf_green.bench.size import tflite_size

    for content in (cnn, lm):
        assert tg.TFLiteModel(content["int16x8"]).kind == "tflite-int16x8"
        assert tg.TFLiteModel(content["int4"]).kind == "tflite-int4"
    assert tg.TFLiteModel(lm["dynamic"]).kind == "tflite-dynamic"
    float_size, int4_size = tflite_size(cnn["float"]), tflite_size(cnn["int4"])
    # Every weight is counted once (plus the blockwise scales), read at 4 bits.
    assert float_size.params <= int4_size.params <= 1.1 * float_size.params
    assert int4_size.weight_bytes_read < float_size.weight_bytes_read / 3


def test_blockwise_int4_is_refused_rather_than_run_on_the_builtin_kernels(cnn, monkeypatch):
    from tf_green.quantization import tflite_model

    class NoXnnpack(Interpreter):
        def allocate_tensors(self):
            if self._tf_green_auto:
                raise RuntimeError("Failed to apply XNNPACK delegate.")
            return super().allocate_tensors()

        def __init__(self, *args, experimental_op_resolver_type=OpResolverType.AUTO, **kwargs):
            self._tf_green_auto = experimental_op_resolver_type is OpResolverType.AUTO
            super().__init__(
                *args, experimental_op_resolver_type=experimental_op_resolver_type, **kwargs
            )

    monkeypatch.setattr(tflite_model, "Interpreter", NoXnnpack)
    with pytest.raises(ValueError, match=r"builtin kernels compute blockwise INT4 weights wrongly"):
        tg.TFLiteModel(cnn["int4"])
    with pytest.warns(RuntimeWarning, match="builtin kernels instead"):
        assert tg.TFLiteModel(cnn["int16x8"]).kind == "tflite-int16x8"  # not blockwise: runs
