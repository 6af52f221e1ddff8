"""configs/*.yaml: valid keys, known models, buildable architectures; the README model table."""

from pathlib import Path

import pytest
import yaml

from kerasmgr import models, training

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def test_one_config_per_model():
    assert {p.stem for p in CONFIGS} >= set(models.available())


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_resolves_and_builds(path):
    raw = yaml.safe_load(path.read_text())
    cfg = training.resolve_config(path)
    for key, value in raw.items():
        assert getattr(cfg, key) == value
    m = models.build(cfg.model, n_outputs=10, activation="softmax" if cfg.task == "genre" else "sigmoid",
                     **cfg.model_kwargs)
    assert m.output_shape == (None, 10)


def test_readme_model_table_is_current():
    readme = (ROOT / "README.md").read_text()
    for line in models.markdown_table().splitlines()[2:]:
        assert line in readme, f"README model table is stale; regenerate with bin/models.py: {line}"
