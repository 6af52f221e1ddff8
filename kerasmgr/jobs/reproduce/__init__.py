"""Seed tables re-run as the seeds ran them (``bin/reproduce.py``).

Every table or figure of the five seed documents that kerasmgr can re-run is a
:class:`~kerasmgr.reproduce.core.Table` in :data:`TABLES`: its configurations (one per row or bar
of the seed's table), how one configuration runs, and the seed's published number for each cell.
:func:`reproduce` runs every configuration of a table, one result file per configuration
(``OUT/<id>/results/<key>.json``, written when the configuration finishes, so a second run skips
what is done and retries what failed), then writes ``OUT/<id>.md`` and ``OUT/<id>.csv`` in the
seed's layout: the same rows, columns and units, each measured number beside the seed's and their
difference. A failing configuration is reported in the table and the others still run.

``smoke=True`` runs the same code on generated data (the embedded dataset, the GTZAN-layout
stand-in, the LMD-layout stand-in) with tiny epochs, in minutes: every path is exercised, the
published numbers are shown but not expected. Data-free tables (Table 7-A, the Table 4-A
budgets, Table 3-A) compute the same thing in both modes.

>>> from kerasmgr import reproduce
>>> print(reproduce.list_tables())                      # doctest: +SKIP
>>> reproduce.reproduce("002-table7a", "repro")          # doctest: +SKIP
"""

from . import seed000, seed001, seed002, seed004  # noqa: F401  (register the tables, in the seeds' order)
from .core import TABLES, Column, Config, Context, Table, get_table, list_tables, register, reproduce, table_ids, write_report

__all__ = ["TABLES", "Column", "Config", "Context", "Table", "get_table", "list_tables", "register", "reproduce",
           "table_ids", "write_report"]
