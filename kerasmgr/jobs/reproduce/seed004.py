"""Seed 004 (Kereliuk, Sturm & Larsen, "Deep learning and music adversaries") for :mod:`kerasmgr.reproduce`."""

from __future__ import annotations

from pathlib import Path

import keras

from ...adversary import DNN_MGR_DATASET, PRESETS, binomial_p
from ...data.embedded import make_lmd_standin
from ...data.splits import LMD_PROPORTIONS
from ...dnn_features import FeatureForest
from ..attack import attack_dataset, attack_ensembles
from ..dnn_features import fit_and_test_clips
from .common import (
    DNN_VARIANTS,
    dnn_feature_cells,
    ensure_split,
    experiment,
    gtzan_selection,
    gtzan_standin,
    split_dir_for,
    train_row,
)
from .core import Column, Config, Table, register

#: Table 1: mean normalised accuracy (%) of random forests on DNN features aggregated over 5-s
#: windows: random partition (fault-filtered partition) per (units, variant, layer).
TABLE1 = {
    (50, "RS"): ((76.00, 40.69), (78.80, 45.17), (79.60, 43.79), (80.40, 43.79)),
    (50, "RSD"): ((80.40, 45.17), (80.40, 43.10), (78.80, 44.48), (80.00, 43.79)),
    (500, "RS"): ((68.40, 40.34), (74.40, 40.69), (77.60, 43.79), (76.00, 42.41)),
    (500, "RSD"): ((75.60, 40.69), (80.00, 50.34), (79.20, 48.62), (81.20, 48.97)),
}
LAYERS = ("1", "2", "3", "all")


def _table1_configs(ctx):
    out = []
    for p, idx in (("stratified", 0), ("filtered", 1)):
        for (u, v), cells in TABLE1.items():
            out.append(Config(f"{p}-{u}-{v}", {"partition": p, "hidden units": u, "training": DNN_VARIANTS[v]},
                              {"partition": p, "units": u, "variant": v},
                              {f"L{layer}": cells[i][idx] for i, layer in enumerate(LAYERS)},
                              smoke=(u, v) == (50, "RS")))
    return out


def _table1_run(ctx, cfg):
    cells = dnn_feature_cells(ctx, cfg.params["partition"], cfg.params["units"], cfg.params["variant"])
    return {f"L{layer}": 100 * cells[f"{layer}-agg"]["normalised_accuracy"] for layer in LAYERS}


register(Table(
    id="004-table1", split_lists=("stratified", "filtered"), seed="004", section="§2.4, Table 1",
    title="Normalised accuracy of random forests on DNN features aggregated over 5-s windows, random and "
          "fault-filtered GTZAN partitions",
    data="GTZAN + dnn-mgr's split lists (stratified, filtered; ../shared/data/gtzan_splits)",
    estimate="8 DNN trainings (200 epochs) + 32 forests (shared with 000-forests)",
    smoke_estimate="30 s (one DNN per partition, 1 epoch, stand-in; 5 s after 000-forests)",
    columns=tuple(Column(f"L{layer}", f"layer {layer if layer != 'all' else 'All'}", "%", 2) for layer in LAYERS),
    label_headers=("partition", "hidden units", "training"), configs=_table1_configs, run=_table1_run,
    notes="""
- The seed prints each cell as "random (fault-filtered)"; here the two partitions are two rows.
- Normalised accuracy = mean per-class recall, file level (majority vote over 5-s windows hopped by
  50 %). The same trainings serve 000-forests (cached in OUT/_dnn_features).
"""))


# ------------------------------------------------------------ §4: adversaries vs the deployed system
def _adversary_settings(ctx):
    s = dict(DNN_MGR_DATASET, **PRESETS["seed"])
    if ctx.smoke:
        s.update(max_iter=5)
    return s


def _dnn_model(ctx, partition, units, variant):
    """A trained frame DNN of the shared DNN-feature trainings, and its partition's audio."""
    cells = dnn_feature_cells(ctx, partition, units, variant)
    model = keras.models.load_model(Path(cells["run_dir"]) / "model.keras", compile=False)
    root = gtzan_standin(ctx) if ctx.smoke else ctx.data_root
    split_dir = split_dir_for(ctx, partition)
    return model, root, split_dir, fit_and_test_clips(gtzan_selection(root, partition, split_dir),
                                                      progress=ctx.progress)


#: The attacked DNN: the best system of Table 1 on the fault-filtered partition (smoke runs reuse
#: the smoke trainings of 000-forests / 004-table1 instead).
ATTACKED = (500, "RSD")


def _attacked(ctx):
    return (50, "RS") if ctx.smoke else ATTACKED


def _adversary_configs(ctx):
    units, variant = _attacked(ctx)
    return [Config("filtered-dnn-forest", {"system": f"DNN 3x{units} {variant} -> random forest (All, 5-s)",
                                           "partition": "fault-filtered"},
                   {"partition": "filtered", "units": units, "variant": variant}, {"example_snr_db": 21.1})]


def _adversary_run(ctx, cfg):
    p = cfg.params
    model, root, split_dir, (fit, test, classes) = _dnn_model(ctx, p["partition"], p["units"], p["variant"])
    forest = FeatureForest(model, n_estimators=50 if ctx.smoke else 500).fit(fit[0], fit[1], progress=ctx.progress)
    summary = attack_dataset(model, ctx.folder("attack", cfg.key), gtzan_selection(root, p["partition"], split_dir),
                             limit=4 if ctx.smoke else None, mode="random", robustness_snrs=(), figures=3,
                             write_audio=not ctx.smoke, seed=ctx.seed, progress=ctx.progress,
                             deployed=forest, **_adversary_settings(ctx))
    d = summary["deployed"]
    return {"normalised_accuracy": 100 * d["original"]["normalised_accuracy"],
            "normalised_accuracy_adversarial": 100 * d["adversarial"]["normalised_accuracy"],
            "binomial_p": d["original"]["binomial_p"], "binomial_p_adversarial": d["adversarial"]["binomial_p"],
            "mean_snr_misclassified_db": d["mean_snr_misclassified_db"],
            "example_snr_db": summary["domains"]["spectral"]["snr_spectral_db"]["mean"],
            "dnn_accuracy_adversarial": 100 * summary["domains"]["spectral"]["accuracy_after"]}


register(Table(
    id="004-adversary", split_lists=("filtered",), seed="004", section="§4, Fig. 3(a) and Fig. 2",
    title="The adversary attacks the DNN; the deployed random forest on its features classifies the result",
    data="GTZAN + dnn-mgr's fault-filtered split lists", estimate="one DNN (shared) + forest + 290 adversaries",
    smoke_estimate="10 s after 000-forests (stand-in, 4 excerpts, 5 iterations)",
    columns=(Column("normalised_accuracy", "normalised accuracy, original", "%", 1),
             Column("normalised_accuracy_adversarial", "normalised accuracy, adversarial", "%", 1),
             Column("binomial_p", "Binomial p (original vs chance)", "", 4),
             Column("binomial_p_adversarial", "Binomial p (adversarial vs chance)", "", 4),
             Column("mean_snr_misclassified_db", "mean SNR of misclassified excerpts", "dB", 1),
             Column("example_snr_db", "mean SNR of the adversarial excerpts", "dB", 1)),
    label_headers=("system", "partition"), configs=_adversary_configs, run=_adversary_run,
    notes="""
- As in seed 004 §4: for each test excerpt the adversary draws a label uniformly (the system should
  then be right with probability 1/10) and attacks the DNN (`--preset seed`: plain projected
  gradient with a Griffin-Lim projection using the exemplar's phase; dnn-mgr's dataset settings
  15 dB, mu 0.01, 50 iterations, stop 0.5, since the extracted seed text lost its numbers); the
  random forest on the DNN's aggregated features, which the adversary does not know, classifies the
  adversarial audio.
- The seed's numbers for this figure did not survive in the seed text except the Fig. 2 example's
  SNR (21.1 dB), shown against the mean SNR of the adversarial excerpts.
- Binomial test: one-sided, k correct of n against chance 1/10 (`kerasmgr.adversary.binomial_p`).
"""))


def _ensemble_configs(ctx):
    return [Config(f"stop{c}", {"minimum confidence": c}, {"stop": c}, {}) for c in (0.5, 0.9)]


def _ensemble_run(ctx, cfg):
    model, root, split_dir, _ = _dnn_model(ctx, "filtered", *_attacked(ctx))
    settings = dict(_adversary_settings(ctx), stop=cfg.params["stop"])
    s = attack_ensembles(model, ctx.folder("ensembles", cfg.key), gtzan_selection(root, "filtered", split_dir),
                         limit=1 if ctx.smoke else 10,
                         progress=ctx.progress, **settings)
    return {"reached_pct": 100 * s["reached_rate"], "mean_snr_db": s["mean_snr_db"], "pairs": s["n_pairs"]}


register(Table(
    id="004-ensembles", split_lists=("filtered",), seed="004", section="§4, the ensemble table",
    title="Ensembles of adversaries: every excerpt made to be classified as every label (two minimum confidences)",
    data="GTZAN + dnn-mgr's fault-filtered split lists", estimate="2 x 10 excerpts x 10 labels adversaries",
    smoke_estimate="5 s after 000-forests (1 excerpt, 5 iterations)",
    columns=(Column("reached_pct", "(excerpt, label) pairs reached", "%", 1),
             Column("mean_snr_db", "mean SNR", "dB", 1), Column("pairs", "pairs", "", 0)),
    label_headers=("minimum confidence",), configs=_ensemble_configs, run=_ensemble_run,
    notes="""
- The seed attacks "the same 30-second excerpts used in [48]" (not listed in the seed); here the
  first 10 excerpts of the fault-filtered test list. Per-excerpt tables are in
  OUT/004-ensembles/ensembles/<row>/ensemble.md (`bin/adversary.py --ensemble` writes the same).
- The seed's two confidences and mean SNRs did not survive in the extracted text; 0.5 and 0.9
  (dnn-mgr's dataset and single-excerpt stops) are used.
"""))


# --------------------------------------------------------- the Latin Music Database (Fig. (c), (d))
def _lmd_configs(ctx):
    return [Config(f"{m}-{p}", {"system": m.upper(), "partition": p}, {"model": m, "partition": p}, {},
                   smoke=m == "dnn") for p in ("random", "artist") for m in ("dnn", "cdnn")]


def _lmd_run(ctx, cfg):
    root = ctx.work.parent / "_smoke_lmd" if ctx.smoke else Path(ctx.data_root)
    if ctx.smoke:
        make_lmd_standin(root, progress=False, song_seconds=12.0)
    artists = root / "artists.csv" if cfg.params["partition"] == "artist" else None
    if artists is not None and not artists.is_file():
        raise FileNotFoundError(f"{artists}: the LMD artist table (columns path, artist) is needed for the "
                                f"artist-filtered partition")
    split_dir = ensure_split(ctx, cfg.params["partition"], proportions=LMD_PROPORTIONS, artists=artists, base=root)
    config = experiment(f"kereliuk_{'dnn500_RSD' if cfg.params['model'] == 'dnn' else 'cdnn'}_filtered")
    extra = {"dataset_kwargs": {"seconds": 10.0}} if ctx.smoke else {}
    row = train_row(ctx, config, cfg.key, smoke_data=None, dataset="lmd", data_root=str(root),
                    split=cfg.params["partition"], split_dir=str(split_dir), **extra)
    n = row["n_test"] or 0
    return {"normalised_accuracy": 100 * row["normalised_accuracy"],
            "binomial_p": binomial_p(round(row["metric"] * n), n, 10), "n_test": n}


register(Table(
    id="004-lmd", seed="004", section="§2.3-2.4, the LMD figures (c), (d)",
    title="DNN and CDNN on the Latin Music Database: random vs artist-filtered 60/20/20 partitions",
    data="LMD (<root>/<genre>/*.mp3, first 30 s) + <root>/artists.csv (path, artist)",
    estimate="4 trainings on the LMD (3,227 recordings)", smoke_estimate="20 s (LMD-layout stand-in, DNN only)",
    columns=(Column("normalised_accuracy", "normalised accuracy", "%", 1), Column("binomial_p", "Binomial p", "", 4)),
    label_headers=("system", "partition"), configs=_lmd_configs, run=_lmd_run,
    notes="""
- Partitions drawn here as split lists (`write_split_lists`, seed `--seed`): 60/20/20 per genre,
  at random or with every artist's recordings in one subset (artist table `<data-root>/artists.csv`,
  which the user provides: the LMD distribution does not ship one in a standard form).
- The first 30 s of each recording (`lmd` loader, `seconds=30`).
- The seed's LMD numbers did not survive in the extracted text (figures only).
"""))
