"""Attack a saved model with music adversaries (seed 004) over a dataset split and report.

Examples
--------
    # the embedded dataset's test split, dnn-mgr's single-excerpt settings (15 dB, mu 0.1, 100 its, stop 0.9)
    python bin/adversary.py --model runs/k2c2-genre-.../model.keras --out adv/k2c2 --limit 20

    # GTZAN, dnn-mgr's dataset settings (mu 0.01, 50 its, stop 0.5), both adversaries side by side
    python bin/adversary.py --model dnn.keras --dataset gtzan --data-root ~/data/gtzan --split filtered \\
        --dataset-mode --domain spectral waveform --out adv/dnn

    # a multi-label tagger: remove each excerpt's top tag (or --tag NAME --direction up|down)
    python bin/adversary.py --model k2c2-embedded --out adv/k2c2-tags --limit 10 --domain spectral waveform

    # seed 004's ensembles: every test excerpt attacked towards every label (the ensemble table)
    python bin/adversary.py --model dnn.keras --dataset gtzan --data-root ~/data/gtzan --ensemble --limit 5 \
        --stop 0.5 --out adv/ensemble

Writes report.csv (one row per excerpt and adversary, appended as each finishes: a rerun skips
finished excerpts), summary.json (accuracy before/after, success rate, mean/min/max SNR, mean
confidence, iterations, the low-pass check), wav/ (adversarial audio), figures/ (original,
adversarial and difference spectrograms and one frame's spectra) and robustness.csv/.png
(accuracy against the SNR bound). --ensemble writes ensemble.csv, ensemble.md (excerpts x labels:
the SNR of the adversary that made the model choose each label) and ensemble.json instead.

--preset seed (default) is seed 004's algorithm as written: plain projected gradient descent
with one Griffin-Lim projection per step using the exemplar's phase; --preset dnn-mgr is the
authors' released code (FISTA momentum, no Griffin-Lim). --momentum/--griffin-lim override either.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import adversary, pretrained
from ..jobs.attack import attack_dataset, attack_ensembles
from .common import add_data_arguments, data_selection


def main(argv=None):
    p = argparse.ArgumentParser(prog="kerasmgr adversary", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="saved model (.keras/.h5) or released-weights name")
    p.add_argument("--out", required=True, help="output folder")
    add_data_arguments(p, subset="test")
    p.add_argument("--limit", type=int, help="attack at most this many excerpts")
    p.add_argument("--mode", default="random", choices=("random", "wrong", "right", "fixed"),
                   help="targets: random (true with probability --p), wrong, right, or a fixed --label")
    p.add_argument("--p", type=float, help="probability of the true label in mode random (default 1/classes)")
    p.add_argument("--label", help="target label name for mode fixed")
    p.add_argument("--tag", help="taggers: the tag to push (default: remove each excerpt's top tag)")
    p.add_argument("--direction", choices=("down", "up"), default="down",
                   help="taggers: push --tag below (down) or above (up) --threshold")
    p.add_argument("--threshold", type=float, default=0.5, help="taggers: the tags' decision threshold")
    p.add_argument("--snr", type=float, default=adversary.SPECTRAL_SNR_DB,
                   help=f"minimum spectral SNR in dB (default {adversary.SPECTRAL_SNR_DB:g}, dnn-mgr's)")
    p.add_argument("--no-snr", action="store_true", help="no SNR constraint (either adversary)")
    p.add_argument("--mu", type=float, help="gradient step (default 0.1; --dataset-mode 0.01)")
    p.add_argument("--iterations", type=int, help="maximum iterations (default 100; --dataset-mode 50)")
    p.add_argument("--stop", type=float, help="stop at this target posterior (default 0.9; --dataset-mode 0.5)")
    p.add_argument("--dataset-mode", action="store_true",
                   help="dnn-mgr's create_adversarial_dataset settings: mu 0.01, 50 iterations, stop 0.5")
    p.add_argument("--preset", choices=("seed", "dnn-mgr"), default="seed",
                   help="seed: plain projected gradient + Griffin-Lim with the exemplar's phase (seed 004 §3.1); "
                        "dnn-mgr: FISTA momentum, no Griffin-Lim (the released code)")
    p.add_argument("--momentum", action=argparse.BooleanOptionalAction, default=None,
                   help="FISTA momentum (overrides the preset; --no-momentum: plain projected gradient)")
    p.add_argument("--griffin-lim", action=argparse.BooleanOptionalAction, default=None,
                   help="one Griffin-Lim projection per step (overrides the preset)")
    p.add_argument("--ensemble", action="store_true",
                   help="attack every excerpt towards every label and write seed 004's ensemble table")
    p.add_argument("--domain", nargs="+", default=["spectral"], choices=("spectral", "waveform"),
                   help="adversaries to run (reported side by side)")
    p.add_argument("--waveform-snr", type=float, default=adversary.WAVEFORM_SNR_DB,
                   help=f"time-domain SNR bound of the waveform adversary in dB (default {adversary.WAVEFORM_SNR_DB:g})")
    p.add_argument("--robustness-snrs", type=float, nargs="*", default=[10.0, 20.0, 30.0, 40.0],
                   help="SNR bounds of the robustness curve (none: skip)")
    p.add_argument("--lowpass-hz", type=float, help="Butterworth check cut-off (default min(5000, 0.4 sr))")
    p.add_argument("--figures", type=int, default=3, help="figures for this many excerpts")
    p.add_argument("--no-audio", action="store_true", help="do not write the adversarial wavs")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    base = adversary.DNN_MGR_DATASET if a.dataset_mode else adversary.DNN_MGR
    preset = dict(adversary.PRESETS[a.preset])
    if a.momentum is not None:
        preset["momentum"] = a.momentum
    if a.griffin_lim is not None:
        preset["griffin_lim"] = a.griffin_lim
    settings = dict(snr=None if a.no_snr else a.snr, mu=base["mu"] if a.mu is None else a.mu,
                    max_iter=base["max_iter"] if a.iterations is None else a.iterations,
                    stop=base["stop"] if a.stop is None else a.stop, **preset)
    data = data_selection(a)
    label = None
    if a.label is not None:
        names = (pretrained.read_metadata(a.model) or {}).get("labels") or []
        if a.label not in names:
            p.error(f"--label {a.label!r} is not one of the model's labels {names}")
        label = names.index(a.label)
    if a.ensemble:
        ens = attack_ensembles(a.model, a.out, data, limit=a.limit, **settings)
        print(f"ensembles: {ens['n_reached']} of {ens['n_pairs']} (excerpt, label) pairs reached, mean SNR "
              f"{ens['mean_snr_db']} dB; table: {Path(a.out) / 'ensemble.md'}")
        return 0
    summary = attack_dataset(
        a.model, a.out, data, limit=a.limit, mode=a.mode, p=a.p, label=label, **settings,
        domains=tuple(a.domain), waveform_snr=None if a.no_snr else a.waveform_snr,
        robustness_snrs=tuple(a.robustness_snrs), lowpass_hz=a.lowpass_hz, figures=a.figures,
        write_audio=not a.no_audio, seed=a.seed, tag=a.tag, direction=a.direction, threshold=a.threshold)
    if "tag" in summary:  # a tagger: tag adversaries
        for d, s in summary["domains"].items():
            print(f"{d:<9} n={s['n']}  success {s['success_rate']:.3f}  score {s['mean_score_before']:.3f} -> "
                  f"{s['mean_score_after']:.3f}  SNR {s['snr_spectral_db']} dB (spectral), {s['snr_time_db']} dB (time)")
        for r in summary.get("robustness", []):
            print(f"  SNR >= {r['snr_db']:5.1f} dB: top tag kept {r['top_tag_kept']:.3f}")
        print(f"report: {Path(a.out) / 'summary.json'}")
        return 0
    for d, s in summary["domains"].items():
        print(f"{d:<9} n={s['n']}  accuracy {s['accuracy_before']:.3f} -> {s['accuracy_after']:.3f}  "
              f"success {s['success_rate']:.3f}  SNR {s['snr_spectral_db']['mean']} dB (spectral), "
              f"{s['snr_time_db']['mean']} dB (time)  iterations {s['mean_iterations']:.1f}  "
              f"low-pass accuracy {s['lowpass_accuracy_original']:.3f} / {s['lowpass_accuracy_adversarial']:.3f}")
    for r in summary.get("robustness", []):
        print(f"  SNR >= {r['snr_db']:5.1f} dB: accuracy {r['accuracy']:.3f}")
    if summary["skipped"]:
        print(f"skipped {len(summary['skipped'])} file(s) (see summary.json)")
    print(f"report: {Path(a.out) / 'summary.json'}")
    return 0

