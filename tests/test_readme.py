import os
import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_quick_start_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python block"
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "student_int8" in out and "meets_targets" in out
    assert 'engine="keras3"' in blocks[0]  # the quick start leads with Keras 3
    assert list(tmp_path.iterdir()) == []


def test_readme_shows_the_two_commands():
    text = README.read_text()
    assert "make demo" in text and "make test" in text


def test_readme_keras3_snippet_runs_without_tf_keras(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    snippet = next(block for block in blocks if "tg.pruning.shrink" in block)
    check = (
        "\nimport sys\n"
        "assert type(pruned).__module__.startswith('keras'), type(pruned)\n"
        "assert 'tf_keras' not in sys.modules\n"
        "assert 'tensorflow_model_optimization' not in sys.modules\n"
        "assert report.attrs['macs_after'] < report.attrs['macs_before']\n"
        "print('SPARSE', min(tg.sparsity_report(pruned).query('prunable == True').sparsity))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS", "KERAS_BACKEND")}
    done = subprocess.run(
        [sys.executable, "-c", snippet + check], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert float(done.stdout.split("SPARSE")[-1]) >= 0.79
    assert list(tmp_path.iterdir()) == []
