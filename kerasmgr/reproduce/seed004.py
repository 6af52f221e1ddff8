"""Seed 004 (Kereliuk, Sturm & Larsen, "Deep learning and music adversaries") for :mod:`kerasmgr.reproduce`."""

from __future__ import annotations

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
    from .common import DNN_VARIANTS

    out = []
    for p, idx in (("stratified", 0), ("filtered", 1)):
        for (u, v), cells in TABLE1.items():
            out.append(Config(f"{p}-{u}-{v}", {"partition": p, "hidden units": u, "training": DNN_VARIANTS[v]},
                              {"partition": p, "units": u, "variant": v},
                              {f"L{layer}": cells[i][idx] for i, layer in enumerate(LAYERS)},
                              smoke=(u, v) == (50, "RS")))
    return out


def _table1_run(ctx, cfg):
    from .common import dnn_feature_cells

    cells = dnn_feature_cells(ctx, cfg.params["partition"], cfg.params["units"], cfg.params["variant"])
    return {f"L{layer}": 100 * cells[f"{layer}-agg"]["normalised_accuracy"] for layer in LAYERS}


register(Table(
    id="004-table1", seed="004", section="§2.4, Table 1",
    title="Normalised accuracy of random forests on DNN features aggregated over 5-s windows, random and "
          "fault-filtered GTZAN partitions",
    data="GTZAN + dnn-mgr's split lists (stratified, filtered; ../shared/data/gtzan_splits)",
    estimate="8 DNN trainings (200 epochs) + 32 forests (shared with 000-forests)",
    smoke_estimate="1-2 min (one DNN per partition, 1 epoch, stand-in)",
    columns=tuple(Column(f"L{layer}", f"layer {layer if layer != 'all' else 'All'}", "%", 2) for layer in LAYERS),
    label_headers=("partition", "hidden units", "training"), configs=_table1_configs, run=_table1_run,
    notes="""
- The seed prints each cell as "random (fault-filtered)"; here the two partitions are two rows.
- Normalised accuracy = mean per-class recall, file level (majority vote over 5-s windows hopped by
  50 %). The same trainings serve 000-forests (cached in OUT/_dnn_features).
"""))
