# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format bench clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tf-green demo $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The Keras 3 tests run once more on the JAX backend, in their own process (a backend is per process).
KERAS3_TESTS := tests/pruning/keras3 tests/distillation/keras3 tests/quantization/keras3 tests/bench/keras3 \
	tests/test_jax_end_to_end.py
# The TensorFlow-backend run uses both cores (pytest-xdist, 2 workers); all tests of a file go
# to one worker, so a module-scoped fixture is built once (a session-scoped one once per worker).
test: lint
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)
	KERAS_BACKEND=jax $(PY) -m pytest $(KERAS3_TESTS) -q -p no:randomly $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
