"""The machinery of :mod:`kerasmgr.reproduce`: tables, configurations, resumable runs, reports.

Every table or figure of the five seed documents that kerasmgr can re-run is a :class:`Table`
in :data:`TABLES`: its configurations (one per row or bar of the seed's table), how one
configuration runs, and the seed's published number for each cell. :func:`reproduce` runs every
configuration of a table, one result file per configuration (``OUT/<id>/results/<key>.json``,
written when the configuration finishes, so a second run skips what is done and retries what
failed), then writes ``OUT/<id>.md`` and ``OUT/<id>.csv`` in the seed's layout: the same rows and
columns and units, each measured number beside the seed's and their difference.

``smoke=True`` runs the same code on generated data (the embedded dataset, the GTZAN-layout
stand-in, the LMD-layout stand-in) with tiny epochs, in minutes: every path is exercised, the
published numbers are shown but not expected. Data-free tables (Table 7-A, the Table 4-A
budgets, Table 3-A) compute the same thing in both modes.
"""

from __future__ import annotations

import csv
import json
import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ...data.splits import DatasetError
from ..records import atomic_json

__all__ = ["Table", "Config", "Column", "Context", "TABLES", "register", "table_ids", "get_table", "list_tables",
           "reproduce", "write_report"]


@dataclass(frozen=True)
class Column:
    """One measured quantity of a table: its result key, header and unit."""

    key: str
    header: str
    unit: str = ""
    digits: int = 3


@dataclass(frozen=True)
class Config:
    """One configuration (a row of the seed's table).

    ``key`` names its result file; ``labels`` are the row's label columns (in the seed's order);
    ``params`` go to the table's ``run``; ``published`` maps a column key to the seed's number;
    ``smoke`` says whether a smoke run includes this row (large tables smoke a representative few).
    """

    key: str
    labels: dict
    params: dict = field(default_factory=dict)
    published: dict = field(default_factory=dict)
    smoke: bool = True


@dataclass
class Context:
    """What a configuration run needs besides its parameters."""

    data_root: Path | None
    split_dir: Path | None
    work: Path  # OUT/<id>: per-table working folder (runs, caches)
    smoke: bool
    seed: int = 0
    progress: bool = True

    def folder(self, *parts):
        p = self.work.joinpath(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p


@dataclass(frozen=True)
class Table:
    """A seed table or figure that :func:`reproduce` can re-run."""

    id: str
    seed: str
    section: str
    title: str
    data: str  # what the full run reads ('none' for data-free tables)
    estimate: str  # full run, on the seed's data
    smoke_estimate: str
    columns: tuple
    configs: Callable  # (Context) -> list[Config]
    run: Callable  # (Context, Config) -> dict of column key -> number
    label_headers: tuple = ()
    notes: str = ""  # what differs from the seed, shown under the table
    split_lists: tuple = ()  # partitions whose {train,valid,test}_<name>.txt a full run needs

    @property
    def needs_data(self):
        return self.data != "none"


# ------------------------------------------------------------------------------------ registry
TABLES: dict = {}


def register(table):
    """Add a :class:`Table` to :data:`TABLES` (ids are unique)."""
    if table.id in TABLES:
        raise ValueError(f"duplicate table id {table.id!r}")
    TABLES[table.id] = table
    return table


def table_ids():
    """Ids of every registered table, in the seeds' order."""
    return list(TABLES)


def get_table(table_id):
    """The :class:`Table` of an id; ``ValueError`` naming the known ids otherwise."""
    try:
        return TABLES[table_id]
    except KeyError:
        raise ValueError(f"unknown table id {table_id!r}; known: {', '.join(TABLES)} "
                         f"(python bin/reproduce.py --list)") from None


def list_tables():
    """One text line per table: id, seed, section, data needed, run-time estimates."""
    rows = [("id", "seed", "section", "data needed", "full run", "--smoke")]
    rows += [(t.id, t.seed, t.section, t.data, t.estimate, t.smoke_estimate) for t in TABLES.values()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for t in TABLES.values():
        lines.append(f"{t.id}: {t.title}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- running
def _check_inputs(table, data_root, split_dir, smoke):
    if smoke or not table.needs_data:
        return
    if data_root is None:
        raise DatasetError(f"table {table.id} reads {table.data}: give --data-root (or run --smoke on generated data)")
    if not Path(data_root).exists():
        raise FileNotFoundError(f"{data_root}: data root not found (table {table.id} reads {table.data})")
    if split_dir is not None and not Path(split_dir).is_dir():
        raise FileNotFoundError(f"{split_dir}: split-list folder not found")
    lists = Path(split_dir) if split_dir is not None else Path(data_root) / "splits"
    for name in table.split_lists:
        for subset in ("train", "valid", "test"):
            if not (lists / f"{subset}_{name}.txt").is_file():
                raise DatasetError(f"{lists / f'{subset}_{name}.txt'}: split list not found (table {table.id} needs "
                                   f"the '{name}' partition; give --split-dir)")


def reproduce(table_id, out, *, data_root=None, split_dir=None, smoke=False, seed=0, only=None, progress=True):
    """Run every configuration of a seed table and write its report.

    Parameters
    ----------
    table_id : str
        One of :func:`table_ids`.
    out : str or Path
        Output folder: ``OUT/<id>.md``, ``OUT/<id>.csv`` and the working folder ``OUT/<id>/``
        (``results/<key>.json`` per finished configuration, runs and caches).
    data_root, split_dir : str, Path or None
        The seed's dataset and split lists (not needed with ``smoke`` or by data-free tables).
    smoke : bool
        Generated data and tiny epochs (minutes): exercises every path, numbers not comparable.
    seed : int
        Random seed of every configuration.
    only : sequence of str or None
        Run only these configuration keys (the report still lists every row).
    progress : bool
        Print one line per configuration.

    Returns
    -------
    dict
        ``{'md': path, 'csv': path, 'done': [...], 'failed': {key: message}, 'skipped': [...]}``:
        finished, failed (reported in the table; the others still ran) and already-finished keys.
    """
    table = get_table(table_id)
    _check_inputs(table, data_root, split_dir, smoke)
    out = Path(out)
    work = out / table.id
    results = work / "results"
    results.mkdir(parents=True, exist_ok=True)
    ctx = Context(data_root=Path(data_root) if data_root else None, split_dir=Path(split_dir) if split_dir else None,
                  work=work, smoke=bool(smoke), seed=int(seed), progress=progress)
    mode_file = work / "mode.json"
    mode = {"smoke": bool(smoke), "data_root": str(data_root) if data_root else None, "seed": int(seed)}
    if mode_file.is_file() and json.loads(mode_file.read_text()) != mode:
        raise ValueError(f"{work} holds results of another mode ({mode_file.read_text().strip()}); "
                         f"use another --out or remove that folder")
    atomic_json(mode_file, mode)
    configs = table.configs(ctx)
    unknown = sorted(set(only or ()) - {c.key for c in configs})
    if unknown:
        raise ValueError(f"table {table.id} has no configuration(s) {unknown}; its keys: "
                         f"{', '.join(c.key for c in configs)}")
    done, failed, skipped = [], {}, []
    for i, cfg in enumerate(configs, start=1):
        if (only and cfg.key not in only) or (smoke and not cfg.smoke):
            continue
        path = results / f"{cfg.key}.json"
        err_path = results / f"{cfg.key}.error.json"
        if path.is_file():
            skipped.append(cfg.key)
            continue
        if progress:
            print(f"[{table.id} {i}/{len(configs)}] {cfg.key} ...", flush=True)
        t0 = time.perf_counter()
        try:
            measured = table.run(ctx, cfg)
        except Exception as e:  # noqa: BLE001 - one failing configuration must not stop the others
            msg = f"{type(e).__name__}: {e}"
            failed[cfg.key] = msg
            atomic_json(err_path, {"key": cfg.key, "error": msg, "traceback": traceback.format_exc()})
            if progress:
                print(f"[{table.id} {i}/{len(configs)}] {cfg.key} FAILED: {msg}", flush=True)
            continue
        measured = dict(measured)
        measured.setdefault("seconds", time.perf_counter() - t0)
        atomic_json(path, {"key": cfg.key, "labels": cfg.labels, "params": cfg.params, "measured": measured})
        if err_path.is_file():
            err_path.unlink()
        done.append(cfg.key)
    paths = write_report(table, configs, out, smoke=smoke)
    return {**paths, "done": done, "failed": failed, "skipped": skipped}


# ------------------------------------------------------------------------------------- reports
def _fmt(v, digits):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


def _diff(m, p):
    if isinstance(m, bool) or isinstance(p, bool):
        return None
    if isinstance(m, (int, float)) and isinstance(p, (int, float)) and not (isinstance(m, float) and math.isnan(m)):
        return m - p
    return None


def write_report(table, configs, out, *, smoke=False):
    """Write ``OUT/<id>.md`` and ``OUT/<id>.csv`` from the finished result files.

    Rows are the configurations in the seed's order; for every column the measured value, the
    seed's published value and measured − published. Unfinished rows are marked ``not run``,
    failed ones ``failed: <message>``.
    """
    out = Path(out)
    results = out / table.id / "results"
    label_keys = list(table.label_headers) or sorted({k for c in configs for k in c.labels})
    header = list(label_keys)
    for col in table.columns:
        unit = f" [{col.unit}]" if col.unit else ""
        header += [f"{col.header}{unit}", f"{col.header} (seed)", f"{col.header} Δ"]
    header.append("status")
    rows = []
    for cfg in configs:
        r = results / f"{cfg.key}.json"
        e = results / f"{cfg.key}.error.json"
        measured, status = {}, "not run" + (" (not in the smoke run)" if smoke and not cfg.smoke else "")
        if r.is_file():
            measured, status = json.loads(r.read_text())["measured"], "ok"
        elif e.is_file():
            status = "failed: " + json.loads(e.read_text())["error"].splitlines()[0][:200]
        row = [cfg.labels.get(k, "") for k in label_keys]
        for col in table.columns:
            m, p = measured.get(col.key), cfg.published.get(col.key)
            row += [m, p, _diff(m, p)]
        row.append(status)
        rows.append(row)
    csv_path = out / f"{table.id}.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            w.writerow(["" if v is None else v for v in row])
    md = [f"# {table.id}: {table.title}", "",
          f"Seed {table.seed}, {table.section}. Data: {table.data}."
          + (" **Smoke run on generated data: the numbers are not comparable with the seed's.**" if smoke else ""),
          ""]
    md_head = list(label_keys) + [f"{c.header}{f' [{c.unit}]' if c.unit else ''}: measured / seed / Δ"
                                  for c in table.columns] + ["status"]
    md.append("| " + " | ".join(md_head) + " |")
    md.append("|" + "---|" * len(md_head))
    n_lab = len(label_keys)
    for row in rows:
        cells = [str(v) for v in row[:n_lab]]
        for j, col in enumerate(table.columns):
            m, p, d = row[n_lab + 3 * j: n_lab + 3 * j + 3]
            cells.append(f"{_fmt(m, col.digits) or '–'} / {_fmt(p, col.digits) or '–'} / "
                         f"{_fmt(d, col.digits) or '–'}")
        cells.append(row[-1])
        md.append("| " + " | ".join(cells) + " |")
    if table.notes:
        md += ["", "What differs from the seed and why:", "", table.notes.strip()]
    md_path = out / f"{table.id}.md"
    md_path.write_text("\n".join(md) + "\n")
    return {"md": md_path, "csv": csv_path}
