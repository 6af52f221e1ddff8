"""configs/*.yaml: valid keys, known models, buildable architectures; the README model table."""

from pathlib import Path

import pytest
import yaml

from kerasmgr import models, training

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))


def test_one_config_per_model_and_the_seed_experiments():
    assert {p.stem for p in (ROOT / "configs").glob("*.yaml")} >= set(models.available())
    names = {p.stem for p in (ROOT / "configs" / "experiments").glob("*.yaml")}
    assert len([n for n in names if n.startswith("ch4_")]) == 20  # 4 structures x 5 budgets
    assert len([n for n in names if n.startswith("ch5_") and n not in ("ch5_stft", "ch5_mel")]) == 13  # 12 + dataset-level
    assert {"ch5_stft", "ch5_mel", "msd_k2c2", "msd_crnn"} <= names
    assert len([n for n in names if n.startswith("schindler_")]) == 16
    assert len([n for n in names if n.startswith("kereliuk_")]) == 11  # 8 DNN, 2 CDNN, adversarial training


_BUILT = set()


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.relative_to(ROOT / "configs").as_posix())
def test_config_resolves_and_builds(path):
    raw = yaml.safe_load(path.read_text())
    cfg = training.resolve_config(path)
    for key, value in raw.items():
        assert getattr(cfg, key) == value
    key = (cfg.model, repr(sorted(cfg.model_kwargs.items())))
    if key in _BUILT:  # one build per distinct architecture keeps the suite quick
        return
    _BUILT.add(key)
    m = models.build(cfg.model, n_outputs=10, activation="softmax" if cfg.task == "genre" else "sigmoid",
                     **cfg.model_kwargs)
    assert m.output_shape == (None, 10)


def test_readme_model_table_is_current():
    readme = (ROOT / "README.md").read_text()
    for line in models.markdown_table().splitlines()[2:]:
        assert line in readme, f"README model table is stale; regenerate with bin/models.py: {line}"
