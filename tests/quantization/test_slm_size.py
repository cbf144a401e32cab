"""The ``"int4"`` export of a transformer LM stores its tables quantized, not float32.

Issue 16: an INT4 LM file was mostly not weights: the token table read by ``GATHER``, the
position table and the constant-folded causal mask stayed float32. One untrained tiny LM
(sizes and exactness need no training), exported once (module fixture).
"""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import tf_green as tg
from tf_green._keras import keras
from tf_green.quantization import _ai_edge, _ai_edge_tables, precision_report
from tf_green.quantization import to_tflite as tg_to_tflite

VOCAB, D_MODEL, SEQ = 40, 32, 32


def _logits(content: bytes, x: np.ndarray, delegate: bool = True) -> np.ndarray:
    kind = OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    runner = Interpreter(model_content=content, experimental_op_resolver_type=kind)
    runner = runner.get_signature_runner()
    name = next(iter(runner.get_input_details()))
    return np.concatenate([next(iter(runner(**{name: row[None]}).values())) for row in x])


def _float_constants(content: bytes) -> list[tuple[str, int]]:
    """(name, elements) of every float32 constant of the first subgraph, largest first."""
    model = schema.Model.GetRootAs(content, 0)
    graph, out = model.Subgraphs(0), []
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        if tensor.Type() != schema.TensorType.FLOAT32:
            continue
        if model.Buffers(tensor.Buffer()).DataLength() == 0:
            continue
        elements = int(tensor.ShapeAsNumpy().prod()) if tensor.ShapeLength() else 1
        out.append(((tensor.Name() or b"").decode(), elements))
    return sorted(out, key=lambda item: -item[1])


@pytest.fixture(scope="module")
def lm():
    keras.utils.set_random_seed(0)
    model = tg.models.tiny_lm(VOCAB, D_MODEL, 1, 2, seq_len=SEQ, engine="tf_keras")
    fixed = tg.models.with_fixed_length(model)
    float_content = tg_to_tflite(fixed)
    x = np.random.default_rng(0).integers(0, VOCAB, (3, SEQ)).astype(np.int32)
    return {
        "model": model,
        "float": float_content,
        "int4": _ai_edge.export(float_content, "int4", None, 1),
        "x": x,
    }


def test_tables_become_exact_embedding_lookups(lm):
    rewritten = _ai_edge_tables.as_embedding_lookups(lm["float"])
    ops = precision_report(rewritten).op
    assert "GATHER" not in set(ops[ops.index < 3])  # the token table is looked up
    # token table, position table, causal mask (one lookup, read by its block's ADD)
    assert (ops == "EMBEDDING_LOOKUP").sum() == 3
    np.testing.assert_array_equal(_logits(rewritten, lm["x"]), _logits(lm["float"], lm["x"]))


def test_int4_file_keeps_no_float_table(lm):
    before = _float_constants(lm["float"])
    assert before[0][1] >= VOCAB * D_MODEL  # the float export holds float32 tables
    largest = _float_constants(lm["int4"])[0]
    assert largest[1] < _ai_edge_tables.MIN_TABLE_ELEMENTS, largest  # biases, norms only
    report = precision_report(lm["int4"])
    lookups = report[report.op == "EMBEDDING_LOOKUP"].set_index("tensor")
    assert set(lookups.weight_granularity) == {"per-channel"}  # one scale per row
    bits = {name.split("/")[0]: int(b) for name, b in lookups.weight_bits.items()}
    assert bits["token_embedding"] == 8 and bits["position_embedding"] == 8
    assert sorted(bits.values()) == [4, 8, 8]  # the 0/-1e9 mask: INT4, exactly


def test_int4_file_is_much_smaller_than_float(lm):
    # 2.1x with float tables and long names; the benchmark's 70k-parameter student gets
    # 3.6x (its graph structure weighs less than in this 14k-parameter LM)
    ratio = len(lm["float"]) / len(lm["int4"])
    assert ratio >= 2.8, (len(lm["float"]), len(lm["int4"]))


def test_int4_mask_is_exact_and_lookups_run_without_xnnpack(lm):
    interpreter = Interpreter(model_content=lm["int4"], experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], lm["x"][:1])
    interpreter.invoke()
    lookups = [
        interpreter.get_tensor(d["index"])
        for d in interpreter.get_tensor_details()
        if d["name"].endswith("/lookup")
    ]
    masks = [v for v in lookups if v.min() < -1e8]
    assert len(lookups) == 3 and len(masks) == 1  # tokens, positions, the mask
    zeros = masks[0] == 0.0  # the causal triangle (the graph may hold it transposed)
    causal = np.tril(np.ones((SEQ, SEQ), bool))
    assert np.array_equal(zeros, causal) or np.array_equal(zeros, causal.T)
    np.testing.assert_allclose(masks[0][~zeros], -1e9, rtol=1e-6)
    # lookups run on the builtin kernel either way; the rest matches within INT4 noise
    np.testing.assert_allclose(
        _logits(lm["int4"], lm["x"]), _logits(lm["int4"], lm["x"], delegate=False), atol=2e-2
    )


def test_compact_names_keep_inputs_outputs_and_results(lm):
    full = _ai_edge._run_quantizer(
        _ai_edge_tables.as_embedding_lookups(lm["float"]),
        _ai_edge.int4_recipe(_ai_edge_tables.as_embedding_lookups(lm["float"])),
        None,
    )
    short = _ai_edge_tables.compact_names(full)
    assert len(short) < len(full) - 1000
    names = [d["name"] for d in Interpreter(model_content=short).get_tensor_details()]
    assert len(names) == len(set(names))
    assert any(name.startswith("block0_ff1/") for name in names)  # layer path kept
    for content in (full, short):
        runner = Interpreter(model_content=content).get_signature_runner()
        assert list(runner.get_input_details()) == ["tokens"]
    np.testing.assert_array_equal(_logits(short, lm["x"]), _logits(full, lm["x"]))


def test_dynamic_length_lm_keeps_its_gather_and_exports(lm):
    # tokens (batch, time) both unknown: EMBEDDING_LOOKUP's flat ids cannot be reshaped
    # back without shape ops, so the GATHER (and its float table) stays
    float_content = tg_to_tflite(lm["model"])
    content = _ai_edge.export(float_content, "int4", None, 1)
    assert "GATHER" in set(precision_report(content).op)
    x = lm["x"][:1]
    reference = _logits(float_content, x)
    assert np.abs(_logits(content, x) - reference).max() < 0.2 * np.abs(reference).max()
