"""The notebooks: one per capability, stored without outputs, using only kerasmgr's public API,
and executed top to bottom (in a fresh kernel, as a reader would run them)."""

import ast
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import SHARED

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's benchmarks/ folder

from benchmarks.harness import run_notebook  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHOI_KERAS2 = SHARED / "data" / "choi2017" / "keras2_model_best.hdf5"
ids = [p.stem for p in NOTEBOOKS]


def code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_one_notebook_per_capability_and_each_in_the_readme():
    assert [p.name[:3] for p in NOTEBOOKS] == [f"{k:02d}_" for k in range(1, 9)]
    readme = (ROOT / "README.md").read_text()
    for p in NOTEBOOKS:
        assert f"notebooks/{p.name}" in readme, f"README does not link {p.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for c in nb.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None, f"{path.name}: strip the outputs before committing"
    assert "widgets" not in nb.metadata


def _private_uses(source):
    """Names of private kerasmgr objects a notebook's code reaches (``_x`` from a kerasmgr module)."""
    tree = ast.parse("\n".join(l for l in source.splitlines() if not l.lstrip().startswith(("%", "!"))))
    modules, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "kerasmgr":
                    modules.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "kerasmgr":
            if any(part.startswith("_") for part in node.module.split(".")):
                found.append(node.module)
            for a in node.names:
                if a.name.startswith("_"):
                    found.append(f"{node.module}.{a.name}")
                modules.add(a.asname or a.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in modules:
                found.append(f"{base.id}...{node.attr}")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_uses_only_the_public_api(path):
    source = "\n".join(c.source for c in code_cells(path))
    assert _private_uses(source) == []


def test_private_use_check_can_fail():
    assert _private_uses("from kerasmgr.inference import _PREDICTORS") == ["kerasmgr.inference._PREDICTORS"]
    assert _private_uses("from kerasmgr.jobs import tag\ntag._x(1)") == ["tag..._x"]
    assert _private_uses("import kerasmgr.data.audio\nkerasmgr.data.audio._x") == ["kerasmgr..._x"]
    assert _private_uses("import numpy as np\nnp._x\nfrom kerasmgr import evaluation\nevaluation.aggregate") == []


#: The longest notebooks run with ``-m slow`` only (suite time); cheaper tests cover their code paths:
#: 01 training and evaluation (test_training, test_evaluation), 02 compare_splits on a GTZAN layout
#: (test_gtzan_end_to_end), 03 features and the transfer protocols (test_transfer's end-to-end run on the
#: embedded dataset, test_features), 04 the adversaries and their dataset job (test_adversary, test_audit),
#: 08 the audit report and training with augmentation (test_audit, test_augment).
# the longest notebooks run with -m slow; their code paths have cheaper tests (training and evaluation:
# test_training/test_evaluation; partitions: test_gtzan_end_to_end; transfer: test_transfer/test_features;
# adversaries: test_adversary; auralisation and label vectors: test_auralisation/test_analysis;
# activations: test_analysis and the audit's responds section; the audit: test_audit/test_augment)
SLOW_NOTEBOOKS = ("01_train_evaluate_k2c2", "02_fault_filtered_vs_stratified", "03_transfer_learning", "04_adversaries",
                  "05_auralisation_label_vectors", "06_activations_vs_handcrafted", "08_audit")
RUNS = [pytest.param(p, marks=pytest.mark.slow) if p.stem in SLOW_NOTEBOOKS else p for p in NOTEBOOKS]


@pytest.mark.parametrize("path", RUNS, ids=ids)
def test_runs_top_to_bottom(path, tmp_path):
    env = {"TF_CPP_MIN_LOG_LEVEL": "2"}
    if CHOI_KERAS2.is_file():  # notebook 07 then also converts and uses Choi's original weights
        env["CHOI_WEIGHTS"] = str(CHOI_KERAS2)
    nb, _ = run_notebook(path, tmp_path, env=env)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "every notebook shows at least one figure"
    if path.name.startswith("07") and CHOI_KERAS2.is_file():
        text = "".join(o.get("text", "") for o in outputs)
        assert "choi2017-keras2 (keras2_model_best.hdf5) on song.wav" in text
