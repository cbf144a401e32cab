"""The one version source of tf_green."""

__version__ = "0.1.0"
