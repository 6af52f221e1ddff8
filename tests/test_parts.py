"""Job-array parts (issue 22, first piece): --part parsing, deterministic shares, merge checks."""

import pytest

from kerasmgr.parts import PartError, check_parts, parse_part, part_metadata, select


def test_parse_part_and_array_environments():
    assert parse_part("1/4") == (1, 4) and parse_part("4/4") == (4, 4)
    assert parse_part("auto/4", env={"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "0"}) == (4, 4)
    assert parse_part("auto/4", env={"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1"}) == (3, 4)
    assert parse_part("auto/8", env={"JOB_COMPLETION_INDEX": "0"}) == (1, 8)
    for bad, match in (("5/4", "parts are numbered 1 to 4"), ("0/4", "part 0 does not exist"), ("x/4", "K must be"),
                       ("4", "expected K/N"), ("1/0", "expected K/N")):
        with pytest.raises(PartError, match=match):
            parse_part(bad, env={})
    with pytest.raises(PartError, match="SLURM_ARRAY_TASK_ID"):
        parse_part("auto/4", env={})
    with pytest.raises(PartError, match="part 9 does not exist"):
        parse_part("auto/4", env={"JOB_COMPLETION_INDEX": "8"})


@pytest.mark.parametrize("n_items,n", [(0, 3), (5, 4), (10, 3), (1000, 16), (3, 5)])
def test_parts_partition_the_list_in_order(n_items, n):
    items = [f"f{i:04d}.wav" for i in range(n_items)]
    parts = [select(items, k, n) for k in range(1, n + 1)]
    assert sum(parts, []) == items  # concatenated in order: the single run's list
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1


def test_merge_checks_name_the_bad_part():
    items = [f"f{i}" for i in range(10)]
    settings = {"model": "k2c2-embedded", "layers": "12345"}
    metas = [(f"p{k}.json", {**part_metadata(items, k, 3, settings), "complete": True}) for k in (1, 2, 3)]
    assert [m["part"] for m in check_parts(metas[::-1])] == [1, 2, 3]
    with pytest.raises(PartError, match=r"missing part\(s\) 2/3"):
        check_parts([metas[0], metas[2]])
    with pytest.raises(PartError, match="p1b.json: part 1 overlaps p1.json"):
        check_parts(metas + [("p1b.json", metas[0][1])])
    other = ("q2.json", {**part_metadata(items, 2, 3, {**settings, "layers": "123"}), "complete": True})
    with pytest.raises(PartError, match="q2.json: made with different settings"):
        check_parts([metas[0], other, metas[2]])
    relisted = ("r2.json", {**part_metadata(items + ["new"], 2, 3, settings), "complete": True})
    with pytest.raises(PartError, match="r2.json: made with a different input list"):
        check_parts([metas[0], relisted, metas[2]])
    unfinished = ("p2.json", {**metas[1][1], "complete": False})
    with pytest.raises(PartError, match="p2.json: the part did not finish"):
        check_parts([metas[0], unfinished, metas[2]])
