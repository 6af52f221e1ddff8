"""bin/reproduce.py: the table registry, resumable runs, reports, the data-free tables against the seed."""

import csv
import json

import pytest

from kerasmgr.jobs import reproduce
from kerasmgr.jobs.reproduce import Column, Config, Table
from conftest import run_cli


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_list_names_every_table_with_seed_section_data_and_estimates():
    r = run_cli("reproduce.py", "--list")
    assert r.returncode == 0
    for tid in reproduce.table_ids():
        t = reproduce.get_table(tid)
        line = next(x for x in r.stdout.splitlines() if x.startswith(tid + " "))
        assert t.seed in line and t.data in line and t.estimate in line
    assert {"002-table7a", "002-table4a", "002-table3a"} <= set(reproduce.table_ids())


def test_table_7a_matches_the_thesis(tmp_path):
    r = run_cli("reproduce.py", "002-table7a", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    rows = _rows(tmp_path / "002-table7a.csv")
    assert [row["status"] for row in rows] == ["ok"] * 5
    for row in rows:
        assert abs(float(row["effective width Δ"])) < 1.0  # ms, the thesis rounds the hop to 23.2 ms
    heights = [float(row["effective height Δ"]) for row in rows]
    assert all(abs(d) < 0.5 for d in heights[:4])  # Hz; layer 5: the thesis' 1270 Hz is a slip (see notes)
    assert "1270" in (tmp_path / "002-table7a.md").read_text().replace(",", "")


def test_table_4a_budgets_all_within_two_percent(tmp_path):
    out = reproduce.reproduce("002-table4a", tmp_path, progress=False)
    assert not out["failed"] and len(out["done"]) == 20
    rows = _rows(out["csv"])
    for row in rows:
        assert abs(float(row["deviation [%]"])) <= 2.0, row
    k1c2 = next(r for r in rows if r["structure"] == "k1c2" and r["budget (M)"] == "0.5")
    assert abs(float(k1c2["conv layers' share Δ"])) < 1.0  # the thesis' "13 %"


def test_table_3a_reproduces_columns_a_to_f(tmp_path):
    out = reproduce.reproduce("002-table3a", tmp_path, progress=False)
    for row in _rows(out["csv"]):
        for col in ("(a) error rate, positive", "(b) error rate, negative", "(c) precision", "(d) recall",
                    "(e) in ground truth"):
            assert abs(float(row[f"{col} Δ"])) < 0.06, (row["tag"], col)
        assert abs(float(row["(f) estimate by Eq. 3.2 Δ"])) <= 1  # thesis rounding
        assert row["(g) by annotation on Subset400 [%]"] == ""  # data, not computed


def _toy_table(calls):
    def configs(ctx):
        return [Config(k, {"name": k}, {"value": v}, {"score": 1.0}) for k, v in (("a", 1.0), ("b", None), ("c", 3.0))]

    def run(ctx, cfg):
        calls.append(cfg.key)
        if cfg.params["value"] is None:
            raise RuntimeError("this configuration cannot run")
        return {"score": cfg.params["value"]}

    return Table(id="test-toy", seed="000", section="test", title="toy", data="none", estimate="1 s",
                 smoke_estimate="1 s", columns=(Column("score", "score"),), configs=configs, run=run,
                 label_headers=("name",))


def test_a_failing_configuration_is_reported_and_the_others_run_then_resume(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setitem(reproduce.TABLES, "test-toy", _toy_table(calls))
    out = reproduce.reproduce("test-toy", tmp_path, progress=False)
    assert out["done"] == ["a", "c"] and list(out["failed"]) == ["b"]
    rows = {r["name"]: r for r in _rows(out["csv"])}
    assert rows["a"]["status"] == "ok" and float(rows["c"]["score Δ"]) == 2.0
    assert rows["b"]["status"].startswith("failed: RuntimeError: this configuration cannot run")
    assert "failed: RuntimeError" in out["md"].read_text()
    # resumable: finished configurations are skipped, the failed one is retried
    calls.clear()
    again = reproduce.reproduce("test-toy", tmp_path, progress=False)
    assert calls == ["b"] and again["skipped"] == ["a", "c"]
    saved = json.loads((tmp_path / "test-toy" / "results" / "a.json").read_text())
    assert saved["measured"]["score"] == 1.0
    with pytest.raises(ValueError, match="no configuration"):
        reproduce.reproduce("test-toy", tmp_path, only=["zz"], progress=False)
    # a folder of one mode is not mixed with results of another
    with pytest.raises(ValueError, match="another mode"):
        reproduce.reproduce("test-toy", tmp_path, smoke=True, progress=False)


def test_bad_input_ends_with_error_and_exit_code_2(tmp_path):
    r = run_cli("reproduce.py", "no-such-table", "--out", tmp_path)
    assert r.returncode == 2 and "error: unknown table id 'no-such-table'" in r.stderr
    data_tables = [t for t in reproduce.table_ids() if reproduce.get_table(t).needs_data]
    if data_tables:
        tid = data_tables[0]
        r = run_cli("reproduce.py", tid, "--out", tmp_path)
        assert r.returncode == 2 and "--data-root" in r.stderr
        r = run_cli("reproduce.py", tid, "--data-root", tmp_path / "missing", "--out", tmp_path)
        assert r.returncode == 2 and "not found" in r.stderr
        (tmp_path / "data").mkdir()
        r = run_cli("reproduce.py", tid, "--data-root", tmp_path / "data", "--split-dir", tmp_path / "nosplits",
                    "--out", tmp_path)
        assert r.returncode == 2 and "split" in r.stderr
    listed = [t for t in data_tables if reproduce.get_table(t).split_lists]
    if listed:
        t = reproduce.get_table(listed[0])
        (tmp_path / "lists").mkdir()
        r = run_cli("reproduce.py", t.id, "--data-root", tmp_path / "data", "--split-dir", tmp_path / "lists",
                    "--out", tmp_path)
        assert r.returncode == 2 and f"train_{t.split_lists[0]}.txt: split list not found" in r.stderr
