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
    path.write_text('{"steps": [{"load": {"name": "m", "path": "m.h5"}}, {"save": {"sources": "m"}}]}')
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
