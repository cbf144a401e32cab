import numpy as np
import pytest

from tf_green import datasets, models
from tf_green.generation import context_length, generate, next_token_logits


@pytest.fixture(scope="module")
def corpus():
    return datasets.python_docs(seq_len=16, max_chars=20_000)


@pytest.fixture(scope="module")
def lm(corpus):
    return models.tiny_lm(len(corpus.vocab), d_model=16, num_layers=1, num_heads=2, seq_len=16)


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
        models.with_fixed_length(models.mlp())
    assert models.with_fixed_length(models.mlp(), seq_len=64).input_shape == (None, 64)


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
