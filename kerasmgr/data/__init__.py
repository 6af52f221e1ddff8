"""Datasets and audio loading."""

from . import embedded  # noqa: F401
