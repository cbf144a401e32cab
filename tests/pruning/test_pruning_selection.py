import re

import pytest
import tensorflow_model_optimization as tfmot

from tf_green import models
from tf_green._keras import keras
from tf_green.pruning import wrap
from tf_green.pruning.selection import iter_layers, prunable_weights, select_layers


@keras.utils.register_keras_serializable(package="tests")
class Scale(keras.layers.Layer):
    """A custom layer with a weight that TFMOT does not know how to prune."""

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(int(input_shape[-1]),))

    def call(self, inputs):
        return inputs * self.scale


@keras.utils.register_keras_serializable(package="tests")
class PrunableScale(Scale, tfmot.sparsity.keras.PrunableLayer):
    def get_prunable_weights(self):
        return [self.scale]


def custom_model(layer_cls=Scale):
    inputs = keras.Input((8,))
    h = keras.layers.Dense(8, name="dense")(inputs)
    h = layer_cls(name="scale")(h)
    return keras.Model(inputs, keras.layers.Dense(4, name="out")(h))


def test_none_selects_every_layer_with_prunable_weights():
    assert select_layers(models.cnn(width=4, engine="tf_keras"), None) == {
        "conv1": None,
        "conv2": None,
        "logits": None,
    }


@pytest.mark.parametrize(
    ("layers", "names"),
    [
        (["conv2", "logits"], ["conv2", "logits"]),
        ([keras.layers.Conv2D], ["conv1", "conv2"]),
        (["logits", keras.layers.Conv2D], ["conv1", "conv2", "logits"]),
        ("conv.", ["conv1", "conv2"]),
        (re.compile(r"conv2|logits"), ["conv2", "logits"]),
        (lambda layer: layer.name.endswith("2"), ["conv2"]),
    ],
)
def test_names_classes_regexes_and_callables_select_layers(layers, names):
    assert list(select_layers(models.cnn(width=4, engine="tf_keras"), layers)) == names


def test_a_dict_gives_per_layer_targets():
    assert select_layers(models.cnn(width=4, engine="tf_keras"), {"logits": 0.5, "conv2": 0.9}) == {
        "conv2": 0.9,
        "logits": 0.5,
    }
    with pytest.raises(ValueError, match=r"`layers\['conv2'\]` must be in \[0, 1\)"):
        select_layers(models.cnn(width=4, engine="tf_keras"), {"conv2": 1.0})


def test_regex_is_matched_in_full():
    with pytest.raises(ValueError, match=r"`layers`='conv' selects no prunable layer.*"):
        select_layers(models.cnn(width=4, engine="tf_keras"), "conv")


@pytest.mark.parametrize("layers", [[], {}, ""])
def test_empty_selection_is_an_error(layers):
    with pytest.raises(ValueError, match=r"`layers` is empty; pass None"):
        select_layers(models.cnn(width=4, engine="tf_keras"), layers)


def test_unknown_names_are_listed_with_the_model_layers():
    with pytest.raises(
        ValueError, match=r"`layers` names \['conv3'\].*no such layer.*'conv1', 'pool'"
    ):
        select_layers(models.cnn(width=4, engine="tf_keras"), ["conv1", "conv3"])
    with pytest.raises(ValueError, match=r"`layers` names \['nope'\]"):
        select_layers(models.cnn(width=4, engine="tf_keras"), {"nope": 0.5})


def test_selecting_nothing_prunable_lists_the_prunable_layers():
    with pytest.raises(
        ValueError,
        match=r"selects no prunable layer in model 'cnn_4'.*\['conv1', 'conv2', 'logits'\]",
    ):
        select_layers(models.cnn(width=4, engine="tf_keras"), lambda layer: False)
    with pytest.raises(ValueError, match=r"has no layer of these classes"):
        select_layers(models.cnn(width=4, engine="tf_keras"), [keras.layers.LSTM])


def test_naming_a_layer_without_weights_is_an_error():
    with pytest.raises(ValueError, match=r"selects layer 'pool'.*MaxPooling2D has no weights"):
        select_layers(models.cnn(width=4, engine="tf_keras"), ["pool", "conv1"])


@pytest.mark.parametrize("layers", [3, keras.layers.Dense, [3]])
def test_wrong_selector_types_are_refused(layers):
    with pytest.raises(TypeError, match=r"`layers`"):
        select_layers(models.cnn(width=4, engine="tf_keras"), layers)


def test_unprunable_custom_layer_is_skipped_with_a_warning():
    with pytest.warns(UserWarning, match=r"Not pruning layer 'scale'.*PrunableLayer"):
        assert list(select_layers(custom_model(), None)) == ["dense", "out"]
    with pytest.warns(UserWarning, match=r"Not pruning layer 'scale'"):
        assert list(select_layers(custom_model(), ".*")) == ["dense", "out"]


def test_unprunable_custom_layer_selected_by_name_or_class_is_an_error():
    with pytest.raises(
        ValueError,
        match=r"selects layer 'scale'.*TFMOT cannot prune a Scale.*implement "
        r"tfmot.sparsity.keras.PrunableLayer",
    ):
        select_layers(custom_model(), ["dense", "scale"])
    with pytest.raises(ValueError, match=r"selects layer 'scale'"):
        select_layers(custom_model(), [Scale])


def test_prunable_custom_layer_is_selected():
    model = custom_model(PrunableScale)
    assert list(select_layers(model, None)) == ["dense", "scale", "out"]
    assert prunable_weights(model.get_layer("scale")) == [model.get_layer("scale").scale]


def test_prunable_weights_follow_the_tfmot_registry_without_changing_layers():
    lm = models.tiny_lm(
        vocab_size=11, d_model=8, num_layers=1, num_heads=2, seq_len=6, engine="tf_keras"
    )
    attention = lm.get_layer("block0_attention")
    assert len(prunable_weights(attention)) == 4
    assert not hasattr(attention, "get_prunable_weights")
    assert prunable_weights(lm.get_layer("block0_ln1")) == []
    assert prunable_weights(lm.get_layer("position_embedding")) is None
    with pytest.warns(UserWarning, match=r"'position_embedding'.*PositionEmbedding"):
        selected = select_layers(lm, None)
    assert list(selected) == [
        "token_embedding",
        "block0_attention",
        "block0_ff1",
        "block0_ff2",
        "logits",
    ]


def test_m_by_n_skips_layers_whose_shape_cannot_hold_it():
    model = models.cnn(width=4, engine="tf_keras")  # conv1's kernel has 1 input channel
    with pytest.warns(UserWarning, match=r"'conv1'.*cannot hold 2:4.*multiple of 4"):
        assert list(select_layers(model, None, (2, 4))) == ["conv2", "logits"]
    with pytest.raises(ValueError, match=r"selects layer 'conv1'.*\(3, 3, 1, 4\) cannot hold 2:4"):
        select_layers(model, ["conv1", "conv2"], (2, 4))
    lm = models.tiny_lm(
        vocab_size=11, d_model=8, num_layers=1, num_heads=2, seq_len=6, engine="tf_keras"
    )
    with pytest.raises(ValueError, match=r"'block0_attention'.*cannot hold 1:2.*rank-2 or rank-4"):
        select_layers(lm, ["block0_attention"], (1, 2))


def test_nested_models_are_searched():
    inner = keras.Sequential(
        [keras.layers.Dense(6, name="inner_dense", input_shape=(4,))], name="inner"
    )
    inputs = keras.Input((4,))
    outer = keras.Model(inputs, keras.layers.Dense(2, name="head")(inner(inputs)))
    assert [layer.name for layer in iter_layers(outer)] == ["inner_dense", "head"]
    assert list(select_layers(outer, ["inner_dense"])) == ["inner_dense"]
    wrapped = wrap(outer, layers=["inner_dense"])
    assert wrapped.get_layer("inner").layers[0].name == "prune_low_magnitude_inner_dense"


def test_already_wrapped_models_are_refused():
    with pytest.raises(ValueError, match=r"already has pruning wrappers.*strip"):
        select_layers(wrap(models.mlp(hidden=(4,), engine="tf_keras")), None)
