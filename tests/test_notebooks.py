"""Execute every benchmark notebook in quick mode, so a broken notebook fails CI.

The notebooks run on Keras 3: each builds its models with an explicit ``engine="keras3"`` (the
default of ``tg.models``, named anyway) and never imports tf_keras or TFMOT, which the quick-mode
run checks in the notebook's own kernel at the end. ``MAY_IMPORT_TF_KERAS`` lists the ones
still on tf_keras.
"""

import ast
import os
import pathlib

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from nbclient import NotebookClient

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

# Notebooks still on the tf_keras path (issue #14 moves 06, the SLM, separately).
MAY_IMPORT_TF_KERAS: set[str] = set()
KERAS3_NOTEBOOKS = [p for p in NOTEBOOKS if p.stem not in MAY_IMPORT_TF_KERAS]
_TF_KERAS_MODULES = ("tf_keras", "tensorflow_model_optimization")
_BUILDERS = ("cnn", "mlp", "tiny_lm")

# Appended to a Keras 3 notebook before it runs: fails in its kernel if tf_keras/TFMOT loaded.
_NO_TF_KERAS_CELL = (
    "import sys as _sys\n"
    f"_loaded = sorted(m for m in {_TF_KERAS_MODULES!r} if m in _sys.modules)\n"
    "assert not _loaded, f'a Keras 3 notebook imported {_loaded}'"
)


def _code(notebook) -> str:
    """The code cells as Python (IPython magics such as ``%matplotlib inline`` translated)."""
    transform = TransformerManager().transform_cell
    return "\n".join(transform(c.source) for c in notebook.cells if c.cell_type == "code")


def _builder_calls_without_engine(source: str) -> list[str]:
    """``tg.models.<builder>(...)`` calls in ``source`` that do not pass ``engine=``."""
    missing = []
    for node in ast.walk(ast.parse(source)):
        func = node.func if isinstance(node, ast.Call) else None
        if (
            isinstance(func, ast.Attribute)
            and func.attr in _BUILDERS
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "models"
            and not any(keyword.arg == "engine" for keyword in node.keywords)
        ):
            missing.append(ast.unparse(node))
    return missing


def test_notebooks_are_committed_without_outputs():
    assert len(NOTEBOOKS) == 7
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", KERAS3_NOTEBOOKS, ids=[p.stem for p in KERAS3_NOTEBOOKS])
def test_keras3_notebooks_name_the_engine_of_every_model(path):
    source = _code(nbformat.read(path, as_version=4))
    assert _builder_calls_without_engine(source) == [], path.name
    assert "import keras" in source.splitlines(), path.name


def test_engine_check_finds_a_builder_call_without_engine():
    source = 'm = tg.models.cnn(width=16)\nn = tg.models.mlp(engine="keras3")\n'
    assert _builder_calls_without_engine(source) == ["tg.models.cnn(width=16)"]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_quick_mode(path, tmp_path, monkeypatch):
    monkeypatch.setenv("TF_GREEN_QUICK", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    notebook = nbformat.read(path, as_version=4)
    if path.stem not in MAY_IMPORT_TF_KERAS:
        notebook.cells.append(nbformat.v4.new_code_cell(_NO_TF_KERAS_CELL))
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute(cwd=str(tmp_path))
    errors = [
        f"{output.get('ename')}: {output.get('evalue')}"
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert errors == []
    assert os.listdir(tmp_path) == []  # notebooks write nothing to disk
