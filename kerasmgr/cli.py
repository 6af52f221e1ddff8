"""Helpers shared by the ``bin/`` scripts: options generated from a config dataclass."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing

import yaml

__all__ = ["add_dataclass_arguments", "given_options", "run"]


def _base_type(tp):
    """``int | None`` -> int; ``dict`` -> dict."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0]
    return tp


def _yaml_value(text):
    value = yaml.safe_load(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a YAML/JSON mapping, got {text!r}")
    return value


def add_dataclass_arguments(parser, cls):
    """Add one ``--option-name`` per field of ``cls`` (help from the field's metadata).

    Defaults are suppressed so :func:`given_options` returns only what the user typed; the
    dataclass (or a YAML config) supplies the rest. Booleans get ``--flag/--no-flag``; dict
    fields take a YAML/JSON mapping.
    """
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = _base_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else None
        help_ = f.metadata.get("help", "") + (f" (default: {default})" if default is not None else "")
        kw = dict(dest=f.name, default=argparse.SUPPRESS, help=help_)
        if tp is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
        elif tp is dict:
            parser.add_argument(flag, type=_yaml_value, metavar="MAPPING", **kw)
        else:
            parser.add_argument(flag, type=tp, metavar=f.name.upper(), **kw)
    return parser


def given_options(args):
    """The options present on the command line, as a dict."""
    return dict(vars(args))


def run(main):
    """Run a script's ``main`` and exit: user errors (bad paths, datasets, audio, options) print
    ``error: <message>`` and exit with code 2 instead of a traceback (set ``KERASMGR_DEBUG=1`` for
    the traceback)."""
    import os
    import sys

    from .data.audio import AudioError
    from .data.datasets import DatasetError

    try:
        code = main()
    except (AudioError, DatasetError, FileNotFoundError, PermissionError, IsADirectoryError, ValueError) as e:
        if os.environ.get("KERASMGR_DEBUG"):
            raise
        print(f"error: {e}", file=sys.stderr)
        code = 2
    sys.exit(code)
