import doctest
import importlib
import pkgutil

import pytest

import tf_green.bench

MODULES = sorted(m.name for m in pkgutil.iter_modules(tf_green.bench.__path__))


@pytest.mark.parametrize("name", ["__init__", *MODULES])
def test_docstring_examples_run(name):
    module = importlib.import_module("tf_green.bench" + ("" if name == "__init__" else f".{name}"))
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_public_names_are_exported_and_documented():
    for name in tf_green.bench.__all__:
        obj = getattr(tf_green.bench, name)
        if callable(obj):
            assert (obj.__doc__ and "Example" in (obj.__doc__ or "")) or name.isupper(), name
