import numpy as np
import pytest

from tf_green import datasets, models
from tf_green.generation import context_length, generate, next_token_logits


@pytest.fixture(scope="module")
def corpus():
    return datasets.python_docs(seq_len=16, max_chars=20_000)


@pytest.fixture(scope="module")
def lm(corpus):
    return models.tiny_lm(
        len(corpus.vocab), d_model=16, num_layers=1, num_heads=2, seq_len=16, engine="tf_keras"
    )


def test_generate_is_deterministic_and_in_vocabulary(lm, corpus):
    a = generate(lm, "for ", 12, vocab=corpus.vocab, seed=1)
    b = generate(lm, "for ", 12, vocab=corpus.vocab, seed=1)
    c = generate(lm, "for ", 12, vocab=corpus.vocab, seed=2)
    assert a == b and len(a) == 12 and a != c
    assert datasets.UNKNOWN_TOKEN not in a
    assert set(a) <= set(corpus.vocab.tokens)


def test_greedy_follows_the_argmax_and_slides_past_the_context(lm, corpus):
    prompt = "The quick brown fox jumps"  # longer than the 16-token context
    text = generate(lm, prompt, 3, vocab=corpus.vocab, temperature=0)
    ids = list(corpus.vocab.encode(prompt))
    logits = next_token_logits(lm, np.array(ids[-16:]))
    logits[0] = -np.inf
    assert corpus.vocab.encode(text[0])[0] == int(np.argmax(logits))


def test_top_k_1_equals_greedy(lm, corpus):
    greedy = generate(lm, "def ", 6, vocab=corpus.vocab, temperature=0)
    assert generate(lm, "def ", 6, vocab=corpus.vocab, top_k=1, seed=5) == greedy


def test_tflite_fixed_length_export_generates_the_same_text(lm, corpus):
    from tf_green.quantization import TFLiteModel, to_tflite

    runner = TFLiteModel(to_tflite(models.with_fixed_length(lm)))
    assert context_length(runner) == 16
    keras_text = generate(lm, "class ", 10, vocab=corpus.vocab, temperature=0)
    assert generate(runner, "class ", 10, vocab=corpus.vocab, temperature=0) == keras_text


def test_with_fixed_length_needs_a_length_for_plain_models():
    with pytest.raises(ValueError, match="pass `seq_len`"):
        models.with_fixed_length(models.mlp(engine="tf_keras"))
    assert models.with_fixed_length(models.mlp(engine="tf_keras"), seq_len=64).input_shape == (
        None,
        64,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"prompt": ""}, "at least one character"),
        ({"prompt": "naïve ☃"}, r"outside the vocabulary.*errors='replace'"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_k": 0}, "top_k"),
    ],
)
def test_bad_input(lm, corpus, kwargs, message):
    args = {"prompt": "for ", "max_new_tokens": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate(lm, args.pop("prompt"), args.pop("max_new_tokens"), vocab=corpus.vocab, **args)


def test_unknown_characters_can_be_replaced(lm, corpus):
    assert len(generate(lm, "☃ x", 3, vocab=corpus.vocab, errors="replace")) == 3


def test_not_a_language_model(corpus):
    with pytest.raises(TypeError, match="`model` must be"):
        generate(object(), "a", 1, vocab=corpus.vocab)


def test_dynamic_range_lm_export_is_reported_as_dynamic(lm, corpus):
    from tf_green.quantization import TFLiteModel, to_tflite

    runner = TFLiteModel(to_tflite(models.with_fixed_length(lm), quantization="dynamic"))
    # the INT8 embedding lookup yields one INT8 activation; the model is still dynamic-range
    assert runner.precision == "dynamic"
    assert len(generate(runner, "if ", 5, vocab=corpus.vocab, seed=0)) == 5


# --- key/value-cached decoding -------------------------------------------------------------


def _greedy(model, corpus, use_cache, prompt="def f(x):", n=12):
    return generate(model, prompt, n, vocab=corpus.vocab, temperature=0, use_cache=use_cache)


def test_cached_greedy_equals_uncached_and_slides_past_the_context(lm, corpus):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tiny_lm has a cache path: no note
        cached = _greedy(lm, corpus, None)
    # 9-char prompt + 12 tokens runs past the 16-token context: the window slides
    assert cached == _greedy(lm, corpus, False) == _greedy(lm, corpus, True)
    assert _greedy(models.with_fixed_length(lm), corpus, True) == cached  # the wrapper too
    sampled = [generate(lm, "if ", 10, vocab=corpus.vocab, seed=3, use_cache=c) for c in (1, 0)]
    assert sampled[0] == sampled[1]


def test_keras3_lm_generates_with_the_cache_the_same_tokens(corpus):
    from tf_green.lm_cache import cached_decoder

    lm3 = models.tiny_lm(len(corpus.vocab), 16, 1, 2, seq_len=16, engine="keras3")
    assert _greedy(lm3, corpus, True) == _greedy(lm3, corpus, False)
    assert cached_decoder(lm3).backend in ("tensorflow", "jax")


def test_the_cache_shares_the_models_weights(corpus):
    from tf_green.lm_cache import cached_decoder

    model = models.tiny_lm(len(corpus.vocab), 8, 1, 2, seq_len=8, engine="tf_keras")
    decoder = cached_decoder(model)
    ids = np.array([5, 9, 2])
    before = decoder.prefill(ids)[0]
    model.set_weights([w * 1.5 for w in model.get_weights()])  # e.g. training continued
    after = decoder.prefill(ids)[0]
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, next_token_logits(model, ids), atol=1e-4)
    _, state = decoder.prefill(ids[:2])
    np.testing.assert_allclose(decoder.decode(2, 2, state)[0], after, atol=1e-4)


def _look_alike(vocab_size, causal):
    """tiny_lm's layer types, attention causal or not (not: must not get a cache path)."""
    from tf_green._keras import keras

    layers = keras.layers
    tokens = keras.Input(shape=(None,), dtype="int32")
    h = layers.Embedding(vocab_size, 8)(tokens)
    h = models.PositionEmbedding(8)(h)
    a = layers.LayerNormalization()(h)
    a = layers.MultiHeadAttention(2, 4)(a, a, use_causal_mask=causal)
    h = layers.Add()([h, a])
    f = layers.Dense(8)(layers.Dense(16, activation="gelu")(layers.LayerNormalization()(h)))
    h = layers.Add()([h, f])
    return keras.Model(tokens, layers.Dense(vocab_size)(layers.LayerNormalization()(h)))


def test_models_without_a_cache_path_generate_slowly_with_one_note(corpus):
    from tf_green._keras import keras

    size = len(corpus.vocab)
    bigram = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(size, 4),
                               keras.layers.Dense(size)])  # fmt: skip
    with pytest.warns(UserWarning, match="no key/value cache path") as notes:
        slow = _greedy(bigram, corpus, None, n=4)
    assert len(notes) == 1 and len(slow) == 4
    with pytest.raises(ValueError, match="use_cache=True"):
        _greedy(bigram, corpus, True, n=2)
    # same layer types as tiny_lm, but attention that is not causal: the check refuses it
    bidirectional = _look_alike(size, causal=False)
    with pytest.warns(UserWarning, match="differs from the model's own output"):
        text = _greedy(bidirectional, corpus, None, n=3)
    assert text == _greedy(bidirectional, corpus, False, n=3)  # it ran the slow way
    from tf_green.lm_cache import cached_decoder

    assert cached_decoder(_look_alike(size, causal=True)).check() < 1e-3


def test_compare_decoding_times_both_paths_and_checks_the_tokens(lm, corpus):
    from tf_green.generation import compare_decoding

    result = compare_decoding(lm, "for ", 6, vocab=corpus.vocab, rounds=2)
    assert result.same_tokens and (result.tokens, result.rounds) == (6, 2)
    assert result.cached_ms_per_token > 0 and result.uncached_ms_per_token > 0
    assert result.speedup > 0
    with pytest.raises(ValueError, match="`rounds` must be >= 1"):
        compare_decoding(lm, "for ", 2, vocab=corpus.vocab, rounds=0)
    from tf_green._keras import keras

    size = len(corpus.vocab)
    bigram = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(size, 4),
                               keras.layers.Dense(size)])  # fmt: skip
    with pytest.raises(ValueError, match="use_cache=True"):
        compare_decoding(bigram, "for ", 2, vocab=corpus.vocab)
