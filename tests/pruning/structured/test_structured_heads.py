"""Structured pruning of attention heads, feed-forward units and embedding widths (Keras 3)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tf_green import models
from tf_green._models_keras3 import PositionEmbedding
from tf_green.pruning.structured import analyse, shrink
from tf_green.pruning.structured.report import layer_macs
from tf_green.pruning.structured.targets import MacsCounter
from tf_green.pruning.structured.taylor import taylor_scores

TOKENS = np.random.default_rng(0).integers(0, 13, size=(3, 6)).astype("int32")


def _np(tensor):
    return keras.ops.convert_to_numpy(tensor)


def _lm():
    return models.tiny_lm(13, d_model=8, num_layers=2, num_heads=4, seq_len=6, engine="keras3")


def _zero_heads(model, name, heads, parts=("query", "key", "value", "attention_output")):
    """Zero the given heads' slices of an attention layer's projections (in place)."""
    layer = model.get_layer(name)
    for sub in (layer._query_dense, layer._key_dense, layer._value_dense, layer._output_dense):
        if sub.name not in parts:
            continue
        weights = sub.get_weights()
        if sub is layer._output_dense:
            weights[0][heads] = 0.0  # (heads, value_dim, out); the output bias is shared
        else:
            weights[0][:, heads] = 0.0  # (channels, heads, key_dim)
            weights[1][heads] = 0.0
        sub.set_weights(weights)


def _zero_units(model, name, units):
    layer = model.get_layer(name)
    kernel, bias = layer.get_weights()
    kernel[:, units], bias[units] = 0.0, 0.0
    layer.set_weights([kernel, bias])


def test_tiny_lm_heads_and_units_removed_exactly():
    """Zeroed heads and feed-forward units removed: same logits, consistent shapes."""
    model = _lm()
    _zero_heads(model, "block0_attention", [1, 2])
    _zero_heads(model, "block1_attention", [3])
    _zero_units(model, "block0_ff1", [0, 5, 6, 9, 17, 20, 30, 31])
    before = [w.copy() for w in model.get_weights()]
    ratio = {"block0_attention": 0.5, "block1_attention": 0.25, "block0_ff1": 0.25}
    small, report = shrink(model, ratio=ratio)
    np.testing.assert_allclose(_np(small(TOKENS)), _np(model(TOKENS)), rtol=1e-5, atol=1e-5)
    attention = small.get_layer("block0_attention")
    assert attention.num_heads == 2 and attention.key_dim == 2
    assert tuple(attention._query_dense.kernel.shape) == (8, 2, 2)
    assert tuple(attention._output_dense.kernel.shape) == (2, 2, 8)
    assert small.get_layer("block1_attention").num_heads == 3
    assert tuple(small.get_layer("block0_ff2").kernel.shape) == (24, 8)
    assert small.get_layer("block1_ff1").units == 32  # not selected
    assert tuple(small.get_layer("token_embedding").embeddings.shape) == (13, 8)
    assert report.loc["block0_attention", "changed"]
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)  # the caller's model is not changed


def test_removing_a_live_head_changes_the_logits():
    """The exactness check can fail: a head that is not zero changes the output when removed."""
    model = _lm()
    _zero_heads(model, "block0_attention", [2], parts=("query", "key"))  # v and output stay
    small, _ = shrink(model, ratio={"block0_attention": 0.25})
    assert not np.allclose(_np(small(TOKENS)), _np(model(TOKENS)), atol=1e-5)


def test_uniform_ratio_prunes_heads_and_units_and_keeps_the_residual_width():
    model = _lm()
    graph = analyse(model)
    residual = next(g for g in graph.groups if model.get_layer("token_embedding") in g.producers)
    assert not residual.prunable and "block0_ln1" in residual.protected[0]
    small, _ = shrink(model, ratio=0.5)
    assert [small.get_layer(f"block{i}_attention").num_heads for i in (0, 1)] == [2, 2]
    assert [small.get_layer(f"block{i}_ff1").units for i in (0, 1)] == [16, 16]
    assert small.get_layer("token_embedding").output_dim == 8
    assert small.get_layer("logits").units == 13
    assert small(TOKENS).shape == (3, 6, 13)


def test_embedding_width_behind_layer_norm_is_refused_by_name():
    with pytest.raises(ValueError, match=r"'token_embedding'.*'block0_ln1' \(LayerNormalization\)"):
        shrink(_lm(), ratio={"token_embedding": 0.5})
    with pytest.raises(ValueError, match=r"'block0_ff2'.*'block0_ln1' \(LayerNormalization\)"):
        shrink(_lm(), ratio={"block0_ff2": 0.5})  # its output joins the residual stream


def _post_norm_free_encoder():
    """Embedding + positions -> attention -> Add -> Dense(ff) -> pooling: all follow the width."""
    tokens = keras.Input((6,), dtype="int32")
    e = keras.layers.Embedding(13, 8, name="emb")(tokens)
    e = PositionEmbedding(6, name="pos")(e)
    a = keras.layers.MultiHeadAttention(2, 4, name="att")(e, e)
    h = keras.layers.Add(name="res")([e, a])
    h = keras.layers.Dense(6, activation="relu", name="ff")(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    return keras.Model(tokens, keras.layers.Dense(3, name="out")(h))


def test_embedding_width_follows_attention_and_residual_exactly():
    model = _post_norm_free_encoder()
    gone = [1, 4, 6]
    emb = model.get_layer("emb")
    table = emb.get_weights()[0]
    table[:, gone] = 0.0
    emb.set_weights([table])
    positions = model.get_layer("pos").get_weights()[0]
    positions[:, gone] = 0.0
    model.get_layer("pos").set_weights([positions])
    att = model.get_layer("att")._output_dense
    kernel, bias = att.get_weights()
    kernel[..., gone], bias[gone] = 0.0, 0.0  # the attention output's channels in the group
    att.set_weights([kernel, bias])
    small, report = shrink(model, ratio={"emb": 0.375})
    np.testing.assert_allclose(_np(small(TOKENS)), _np(model(TOKENS)), rtol=1e-5, atol=1e-5)
    assert small.get_layer("emb").output_dim == 5
    sliced = small.get_layer("att")
    assert tuple(sliced._query_dense.kernel.shape) == (5, 2, 4)
    assert tuple(sliced._output_dense.kernel.shape) == (2, 4, 5)
    assert tuple(small.get_layer("ff").kernel.shape) == (5, 6)
    assert report.loc["emb", "weights_after"] == ((13, 5),)
    assert report.loc["pos", "weights_after"] == ((6, 5),)


def test_attention_excluded_or_with_a_fixed_output_keeps_its_channels():
    model = _post_norm_free_encoder()
    small, _ = shrink(model, ratio=0.5, exclude=["att"])
    assert small.get_layer("att").num_heads == 2 and small.get_layer("emb").output_dim == 8
    assert small.get_layer("ff").units == 3
    tokens = keras.Input((6,), dtype="int32")
    e = keras.layers.Embedding(13, 8, name="emb")(tokens)
    a = keras.layers.MultiHeadAttention(2, 4, output_shape=8, name="att")(e, e)
    out = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(a))
    small, _ = shrink(keras.Model(tokens, out), ratio={"att": 0.5, "emb": 0.5})
    assert small.get_layer("att").num_heads == 1
    assert tuple(small.get_layer("att")._output_dense.kernel.shape) == (1, 4, 8)
    assert small(TOKENS).shape == (3, 2)


def test_taylor_ranks_heads_and_embedding_columns():
    model = _post_norm_free_encoder()
    _zero_heads(model, "att", [1], parts=("value",))  # head 1 reads nothing: no gradient x weight
    graph = analyse(model)
    x, y = TOKENS, np.ones((3, 3), "float32")
    scores = taylor_scores(graph, x, y, "mse")
    heads = scores[graph.find(graph.heads["att"].segments[0][0])]
    assert heads.shape == (2,) and heads[0] > 0 and heads[1] == 0.0
    emb = next(g for g in graph.groups if model.get_layer("emb") in g.producers)
    assert scores[emb.root].shape == (8,) and (scores[emb.root] > 0).all()


def test_attention_macs_counted_and_estimated_like_the_rebuilt_model():
    model = _post_norm_free_encoder()  # length 6, d 8, 2 heads of 4
    graph = analyse(model)
    counter = MacsCounter(graph)
    assert layer_macs(model)["att"] == 4 * 6 * 8 * 2 * 4 + 6 * 6 * 2 * (4 + 4)
    assert counter.total({}) == sum(layer_macs(model).values())
    small, report = shrink(model, ratio={"att": 0.5, "emb": 0.5, "ff": 0.5})
    assert report.loc["att", "macs_after"] == 4 * 6 * 4 * 1 * 4 + 6 * 6 * 1 * (4 + 4)
    roots = {name: _root(graph, model.get_layer(name)) for name in ("att", "emb", "ff")}
    counts = {roots["att"]: 1, roots["emb"]: 4, roots["ff"]: 3}
    assert counter.total(counts) == report.attrs["macs_after"] == sum(layer_macs(small).values())
    small, report = shrink(model, macs=0.5, round_to=1)
    assert report.attrs["macs_after"] <= 0.5 * report.attrs["macs_before"]
    assert small.get_layer("att").num_heads == 1


def test_unknown_length_model_reports_no_macs_and_refuses_a_macs_target():
    small, report = shrink(_lm(), ratio=0.5)
    assert report.attrs["macs_before"] is None and "unknown" in report.attrs["macs_note"]
    assert np.isnan(report.loc["block0_ff1", "macs_after"])
    with pytest.raises(ValueError, match="unknown"):
        shrink(_lm(), macs=0.5)


def _root(graph, layer):
    if layer.name in graph.heads:
        return graph.find(graph.heads[layer.name].segments[0][0])
    return next(g.root for g in graph.groups if layer in g.producers)
