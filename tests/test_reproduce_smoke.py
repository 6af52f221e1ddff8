"""Every reproducible seed table runs end to end on generated data (``bin/reproduce.py TABLE --smoke``).

One output folder serves all tables, as a user's would: the stand-ins and the shared DNN
trainings are made once. Each table's smoke rows must finish ("ok"); its other rows are listed
as not run; the seed's published numbers are in the report.
"""

import csv

import pytest

from kerasmgr.jobs import reproduce
from conftest import run_cli


@pytest.fixture(scope="module")
def smoke_out(tmp_path_factory):
    return tmp_path_factory.mktemp("reproduce-smoke")


@pytest.mark.parametrize("table_id", reproduce.table_ids())
def test_smoke_run_of_every_table(table_id, smoke_out):
    r = run_cli("reproduce.py", table_id, "--smoke", "--out", smoke_out)
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-3000:])
    with open(smoke_out / f"{table_id}.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    table = reproduce.get_table(table_id)
    configs = table.configs(reproduce.Context(None, None, smoke_out / table_id, smoke=True))
    assert len(rows) == len(configs)
    for cfg, row in zip(configs, rows):
        if cfg.smoke:
            assert row["status"] == "ok", (cfg.key, row["status"])
            assert any(row[f"{c.header}{f' [{c.unit}]' if c.unit else ''}"] not in ("", "nan") for c in table.columns), cfg.key
        else:
            assert row["status"].startswith("not run"), (cfg.key, row["status"])
        for col, value in cfg.published.items():  # the seed's number is shown beside the measured one
            header = next(c.header for c in table.columns if c.key == col)
            assert float(row[f"{header} (seed)"]) == pytest.approx(value)
    md = (smoke_out / f"{table_id}.md").read_text()
    assert "Smoke run on generated data" in md and "What differs from the seed" in md
    # a second run finds everything done and recomputes nothing
    again = run_cli("reproduce.py", table_id, "--smoke", "--out", smoke_out)
    assert again.returncode == 0 and "0 run," in again.stdout
