"""What every command line shares: the data options, YAML/JSON mappings, options generated from a
config dataclass, and :func:`run`, which turns user errors into ``error: ...`` and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import types
import typing

import yaml

from ..data.audio import AudioError
from ..data.datasets import DATASETS
from ..data.selection import DataSelection
from ..data.splits import ALL, SUBSETS, DatasetError

__all__ = ["add_dataclass_arguments", "add_data_arguments", "data_selection", "mapping", "given_options", "run",
           "quiet_tensorflow"]


def quiet_tensorflow():
    """Hide TensorFlow's C++ start-up chatter (call before TensorFlow is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _base_type(tp):
    """``int | None`` -> int; ``dict`` -> dict."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0]
    return tp


def mapping(text):
    """``--dataset-kwargs``-style option values: a YAML or JSON mapping, e.g. ``'{clips_per_genre: 10}'``."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise argparse.ArgumentTypeError(f"not a YAML/JSON mapping: {text!r} ({e})") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a YAML/JSON mapping, got {text!r}")
    return value


def add_data_arguments(parser, *, subset="test", allow_all=False, dataset="embedded"):
    """The data options of every job that reads a dataset.

    ``--dataset``, ``--data-root``, ``--split NAME`` (a split-list name; alias ``--split-name``),
    ``--split-dir``, ``--subset`` (train, valid, test and, if ``allow_all``, all; none when
    ``subset`` is ``None``) and ``--dataset-kwargs``. :func:`data_selection` turns them into a
    :class:`~kerasmgr.data.selection.DataSelection`.
    """
    g = parser.add_argument_group("data")
    g.add_argument("--dataset", default=dataset, metavar="NAME",
                   help=f"dataset: {', '.join(DATASETS)}" + (f" (default: {dataset})" if dataset else ""))
    g.add_argument("--data-root", help="dataset folder (csv: the CSV file; embedded: the cache root)")
    g.add_argument("--split", "--split-name", dest="split", metavar="NAME",
                   help="split lists {train,valid,test}_<NAME>.txt (default: the dataset's own partition)")
    g.add_argument("--split-dir", help="folder of the split lists (default <data-root>/splits)")
    if subset is not None:  # None: the command reads every subset itself (no --subset option)
        choices = SUBSETS + ((ALL,) if allow_all else ())
        g.add_argument("--subset", default=subset, choices=choices, help=f"subset to read (default: {subset})")
    g.add_argument("--dataset-kwargs", type=mapping, default={}, metavar="MAPPING",
                   help="loader options as a YAML/JSON mapping, e.g. '{clips_per_genre: 10}'")
    return parser


def data_selection(args):
    """The :class:`~kerasmgr.data.selection.DataSelection` of :func:`add_data_arguments`' options
    (``None`` when no ``--dataset`` was given and the command has no default one)."""
    if args.dataset is None:
        return None
    return DataSelection(dataset=args.dataset, data_root=args.data_root, split=args.split, split_dir=args.split_dir,
                         subset=getattr(args, "subset", ALL), dataset_kwargs=args.dataset_kwargs)


def add_dataclass_arguments(parser, cls):
    """Add one ``--option-name`` per field of ``cls`` (help from the field's metadata).

    Defaults are suppressed so :func:`given_options` returns only what the user typed; the
    dataclass (or a YAML config) supplies the rest. Booleans get ``--flag/--no-flag``; dict
    fields take a YAML/JSON mapping; a field with a ``const`` in its metadata may be given
    without a value (``--mixed-precision`` means ``--mixed-precision bfloat16``).
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
            parser.add_argument(flag, type=mapping, metavar="MAPPING", **kw)
        else:
            if "const" in f.metadata:  # the flag alone stands for this value
                kw.update(nargs="?", const=f.metadata["const"])
            parser.add_argument(flag, type=tp, metavar=f.name.upper(), **kw)
    return parser


def given_options(args):
    """The options present on the command line, as a dict."""
    return dict(vars(args))


def run(main):
    """Run a script's ``main`` and exit: user errors (bad paths, datasets, audio, options) print
    ``error: <message>`` and exit with code 2 instead of a traceback (set ``KERASMGR_DEBUG=1`` for
    the traceback)."""
    try:
        code = main()
    except (AudioError, DatasetError, FileNotFoundError, PermissionError, IsADirectoryError, ValueError) as e:
        if os.environ.get("KERASMGR_DEBUG"):
            raise
        print(f"error: {e}", file=sys.stderr)
        code = 2
    sys.exit(code)
