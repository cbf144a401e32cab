import pytest

from tf_green import recipe as rc

GOOD = """\
data: digits
seed: 3
steps:
  - train: {name: teacher, width: 8, epochs: 1}
  - prune:
      name: pruned
      source: teacher
      sparsity: 0.5
  - export: {sources: [teacher, pruned], quantization: int8}
  - bench: {baseline: teacher}
"""


def test_parse_fills_defaults_and_coerces_types():
    recipe = rc.parse_recipe(GOOD)
    assert recipe.seed == 3 and recipe.data == "digits"
    kinds = [s.kind for s in recipe.steps]
    assert kinds == ["train", "prune", "export", "bench"]
    prune = recipe.steps[1]
    assert prune.args["sparsity"] == 0.5 and prune.args["epochs"] == 2
    assert recipe.steps[2].args["quantization"] == ["int8"]  # a single value becomes a list
    assert [s.line for s in recipe.steps] == [4, 5, 9, 10]


def test_round_trip_through_yaml(tmp_path):
    recipe = rc.parse_recipe(GOOD)
    path = tmp_path / "recipe.yaml"
    rc.dump_recipe(recipe, path)
    again = rc.parse_recipe(path)
    assert again.to_dict() == recipe.to_dict()


def test_json_file_is_accepted(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(
        '{"steps": [{"load": {"name": "m", "path": "m.h5"}}, {"save": {"sources": "m"}}]}'
    )
    assert rc.parse_recipe(path).steps[1].kind == "save"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("- prune:", "- prunee:"), r"step 2 \(line 5\): unknown step 'prunee'"),
        (GOOD.replace("sparsity: 0.5", "sparsty: 0.5"), r"line 8.*unknown key\(s\) \['sparsty'\]"),
        (GOOD.replace("sparsity: 0.5", "sparsity: high"), r"'sparsity' must be float, got str"),
        (GOOD.replace("epochs: 1", "epochs: true"), r"'epochs' must be int, got bool"),
        (GOOD.replace("{baseline: teacher}", "{}"), r"missing required key\(s\) \['baseline'\]"),
        ("steps: []", "non-empty list"),
        ("stepz: []", r"unknown top-level key\(s\) \['stepz'\]"),
        ("steps: [train]", "mapping with one key"),
        ("steps: [{train: {name: a}]", "not valid YAML"),
    ],
)
def test_bad_recipes_name_the_step_line_and_key(text, message):
    with pytest.raises(ValueError, match=message):
        rc.parse_recipe(text)


def test_missing_recipe_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        rc.parse_recipe(tmp_path / "nope.yaml")


RANGES = """\
steps:
  - train: {name: teacher, width: 8, epochs: 1}
  - prune:
      name: pruned
      source: teacher
      sparsity: 0.5
  - export: {sources: [teacher], quantization: int8}
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("epochs: 1", "epochs: -1", r"step 1 \(line 2\), 'train': 'epochs' must be >= 1, got -1"),
        ("width: 8", "width: -3", r"step 1 \(line 2\), 'train': 'width' must be >= 1, got -3"),
        ("sparsity: 0.5", "sparsity: 1.5", r"step 2 \(line 6\), 'prune': 'sparsity' must be in"),
        (
            "quantization: int8",
            "quantization: int8, representative_samples: -5",
            r"step 3 \(line 7\), 'export': 'representative_samples' must be >= 1, got -5",
        ),
        ("quantization: int8", "quantization: int3", r"'quantization' item 'int3': must be one"),
        ("name: pruned", "name: ../evil", r"'name' must be a name of letters"),
        ("epochs: 1", "epochs: null", r"key 'epochs' has no value"),
        ("      sparsity: 0.5", "      structure: '4:2'", r"'structure' .*1 <= m < n"),
        ("      sparsity: 0.5", "      sparsities: [0.8, 0.5]", r"strictly increasing"),
        (
            "quantization: int8}",
            "quantization: int8}\n  - save: {sources: [teacher_int8]}",
            r"step 4 \(line 8\), 'save': sources 'teacher_int8' .*is a .tflite file",
        ),
    ],
)
def test_every_value_is_range_checked_with_step_and_line(old, new, message):
    assert old in RANGES
    with pytest.raises(ValueError, match=message):
        rc.parse_recipe(RANGES.replace(old, new))


def test_distill_and_bench_values_are_checked():
    base = [{"train": {"name": "t"}}]
    cases = [
        ({"distill": {"name": "s", "teacher": "t", "alpha": 2}}, "'alpha' must be in"),
        ({"distill": {"name": "s", "teacher": "t", "temperature": 0}}, "'temperature' must be"),
        ({"bench": {"baseline": "t", "repeats": 0}}, "'repeats' must be >= 1"),
        ({"bench": {"baseline": "t", "metric": "auc"}}, "'metric' must be one of"),
        ({"sample": {"sources": "t", "max_new_tokens": -1}}, "'max_new_tokens' must be"),
    ]
    for step, message in cases:
        with pytest.raises(ValueError, match=message):
            rc.parse_recipe({"steps": [*base, step]})
    with pytest.raises(ValueError, match="'seed' must be in"):
        rc.parse_recipe({"seed": -1, "steps": base})
    with pytest.raises(ValueError, match="'seq_len' must be >= 1"):
        rc.parse_recipe({"data_options": {"seq_len": 0}, "steps": base})


@pytest.mark.parametrize("value", ["true", "yes", "1", "null"])
def test_a_recipe_cannot_allow_unsafe_deserialization(value):
    text = "steps:\n  - load:\n      name: m\n      path: m.h5\n"
    text += f"      unsafe_deserialization: {value}\n"
    with pytest.raises(ValueError, match=r"line 5.*cannot be set in a recipe.*--unsafe-deserial"):
        rc.parse_recipe(text)
    assert "unsafe_deserialization" not in rc.STEP_SPECS["load"]


def test_an_old_recipe_asking_for_safe_loading_still_parses():
    text = "steps:\n  - load:\n      name: m\n      path: m.h5\n"
    recipe = rc.parse_recipe(text + "      unsafe_deserialization: false\n")
    assert recipe == rc.parse_recipe(text)


def test_engine_key_is_checked_and_kept():
    assert rc.parse_recipe(GOOD).engine == "keras3"  # the default: Keras 3
    assert rc.Recipe(task="digits", data="digits", seed=0).engine == "keras3"
    recipe = rc.parse_recipe("engine: tf_keras\n" + GOOD)
    assert recipe.engine == "tf_keras"
    assert rc.parse_recipe(rc.dump_recipe(recipe)).engine == "tf_keras"
    with pytest.raises(ValueError, match=r"'engine' must be one of \['keras3', 'tf_keras'\]"):
        rc.parse_recipe("engine: keras2\n" + GOOD)
