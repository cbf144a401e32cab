"""LiteRT cached decoding: prefill/decode signatures, builtin ops, same tokens as Keras."""

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from tf_green import datasets, models
from tf_green.generation import generate
from tf_green.quantization import TFLiteModel, to_tflite
from tf_green.quantization.tflite_decoder import (
    TFLiteDecoder,
    export_decoder,
    has_decode_signatures,
    signature_ops,
)


@pytest.fixture(scope="module")
def corpus():
    return datasets.python_docs(seq_len=16, max_chars=20_000)


@pytest.fixture(scope="module")
def lm(corpus):
    return models.tiny_lm(
        len(corpus.vocab), d_model=16, num_layers=2, num_heads=2, seq_len=16, engine="tf_keras"
    )


@pytest.fixture(scope="module")
def exported(lm, tmp_path_factory):
    path = tmp_path_factory.mktemp("decoder") / "lm.tflite"
    return export_decoder(lm, path), path


def _greedy(model, corpus, use_cache, n=10):
    return generate(model, "def f(x):", n, vocab=corpus.vocab, temperature=0, use_cache=use_cache)


def test_export_has_prefill_and_decode_signatures_with_cache_tensors(exported):
    content, path = exported
    assert path.read_bytes() == content and has_decode_signatures(path)
    interpreter = Interpreter(model_content=content)
    signatures = interpreter.get_signature_list()
    assert sorted(signatures["decode"]["inputs"]) == ["input_pos", "kv_cache", "token"]
    assert sorted(signatures["decode"]["outputs"]) == ["kv_cache", "logits"]
    assert sorted(signatures["prefill"]["outputs"]) == ["kv_cache", "logits"]
    cache = interpreter.get_signature_runner("decode").get_input_details()["kv_cache"]
    assert list(cache["shape"]) == [4, 2, 16, 8]  # 2 x layers, heads, seq_len, head_dim
    ops = {op for names in signature_ops(content).values() for op in names}
    assert not any("FLEX" in op or "CUSTOM" in op for op in ops)


def test_decode_step_is_few_big_ops_in_one_xnnpack_partition(exported):
    """Issue #16: ~112 small ops (per-head reshapes, per-layer cache rewrites) made a LiteRT
    step cost most of a 64-token forward; now all heads share one BATCH_MATMUL, LayerNorm
    folds into 4 ops, and the cache is written once per step."""
    ops = signature_ops(exported[0])["decode"]
    layers = 2
    assert len(ops) <= 32 * layers, ops  # 64 for 2 layers (the old graph had 112)
    assert ops.count("BATCH_MATMUL") == 2 * layers  # scores and mix, all heads at once
    assert ops.count("FULLY_CONNECTED") == 4 * layers + 1  # q/k/v fused; ff1, ff2, out; logits
    assert ops.count("DYNAMIC_UPDATE_SLICE") == 1  # one cache write per step
    assert ops.count("SELECT_V2") == 1  # the mask
    for absent in ("TRANSPOSE", "STRIDED_SLICE", "SHAPE", "PACK", "SQUARED_DIFFERENCE"):
        assert absent not in ops, absent
    # decode is the primary subgraph: after XNNPACK, every op between the embedding
    # lookups/mask and the cache write is one delegate partition (builtin ops, no Flex)
    interpreter = Interpreter(model_content=exported[0], num_threads=1)
    interpreter.allocate_tensors()
    nodes = [op["op_name"] for op in interpreter._get_ops_details()]
    assert nodes.count("DELEGATE") == 1, nodes


def test_litert_cached_greedy_equals_uncached_and_keras(lm, corpus, exported):
    content, path = exported
    decoder = TFLiteDecoder(path)
    keras_text = _greedy(lm, corpus, False)  # 9 + 10 > 16: the window slides too
    assert _greedy(decoder, corpus, True) == keras_text
    assert _greedy(content, corpus, None) == keras_text  # bytes with signatures: cached
    assert _greedy(TFLiteModel(content), corpus, None) == keras_text
    assert _greedy(decoder, corpus, False) == keras_text  # prefill per token, no cache


def test_litert_decode_matches_the_keras_model_step_by_step(lm, exported):
    decoder = TFLiteDecoder(exported[0])
    ids = [4, 8, 15, 16, 23, 42]
    logits, state = decoder.prefill(ids[:2])
    for position in range(2, len(ids)):
        logits, state = decoder.decode(ids[position], position, state)
        full = lm(np.array([ids[: position + 1]], np.int32)).numpy()[0, -1]
        np.testing.assert_allclose(logits, full, atol=1e-4)
    with pytest.raises(ValueError, match="position"):
        decoder.decode(1, 16, state)
    with pytest.raises(ValueError, match=r"1 \.\. 16 tokens"):
        decoder.prefill(list(range(17)))


def test_keras3_lm_exports_dynamic_range_and_generates(corpus):
    lm3 = models.tiny_lm(len(corpus.vocab), 16, 1, 2, seq_len=16, engine="keras3")
    decoder = TFLiteDecoder(export_decoder(lm3, quantization="dynamic"))
    ids = [3, 1, 4, 1, 5]
    reference = np.asarray(lm3(np.array([ids], np.int32)))[0, -1]
    assert np.max(np.abs(decoder.prefill(ids)[0] - reference)) < 0.1  # int8 weights
    assert len(generate(decoder, "if ", 5, vocab=corpus.vocab, seed=0)) == 5


def test_a_layernorm_with_its_own_epsilon_folds_exactly(corpus):
    lm = models.tiny_lm(len(corpus.vocab), 16, 1, 2, seq_len=8, engine="tf_keras")
    norms = [layer for layer in lm.layers if "LayerNormalization" in type(layer).__name__]
    norms[1].epsilon = 0.5  # ln2 of the block: not the stream's epsilon (the largest is)
    norms[0].epsilon = 1e-6
    decoder = TFLiteDecoder(export_decoder(lm))  # the export checks itself against lm
    ids = [5, 3, 9]
    _, state = decoder.prefill(ids[:2])
    reference = lm(np.array([ids], np.int32)).numpy()[0, -1]
    np.testing.assert_allclose(decoder.decode(ids[2], 2, state)[0], reference, atol=1e-4)


def test_bad_exports_and_runners_are_refused(lm):
    with pytest.raises(ValueError, match="quantization"):
        export_decoder(lm, quantization="int8")
    with pytest.raises(ValueError, match="no key/value cache path"):
        export_decoder(models.mlp(hidden=(2,), engine="tf_keras"))
    plain = to_tflite(models.mlp(hidden=(2,), engine="tf_keras"))
    assert not has_decode_signatures(plain)
    with pytest.raises(ValueError, match="export_decoder"):
        TFLiteDecoder(plain)
