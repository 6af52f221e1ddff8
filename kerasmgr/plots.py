"""Figures (matplotlib): confusion matrices and spectrograms, as PNG files or arrays.

Scripts draw with the Agg backend; where pyplot is already in use (a notebook's inline backend,
an interactive session) or ``MPLBACKEND`` is set, the backend is left alone. Every figure made
here is closed once written, so notebooks show only the figures they draw themselves.
"""

from __future__ import annotations

import io

import numpy as np

__all__ = ["confusion_matrix_figure", "spectrogram_figure", "adversary_figure", "robustness_figure",
           "deconvolution_grid", "tag_matrix_figure", "label_noise_figure", "similarity_histograms",
           "transfer_figure", "transformation_figure", "per_label_figure",
           "figure_to_png", "save_figure"]


def _plt():
    import os
    import sys

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_matrix_figure(cm, classes, *, title="Confusion matrix", normalise=True):
    """Confusion matrix heat map (rows true, columns predicted); cells show counts.

    Parameters
    ----------
    cm : array, shape (n_classes, n_classes)
    classes : list of str
    normalise : bool
        Colour by row-normalised recall (counts are still printed).
    """
    plt = _plt()
    cm = np.asarray(cm)
    rows = cm.sum(axis=1, keepdims=True)
    shade = cm / np.maximum(rows, 1) if normalise else cm
    n = len(classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * n, 0.8 + 0.55 * n), dpi=100)
    ax.imshow(shade, cmap="Blues", vmin=0, vmax=1 if normalise else None)
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center",
                    color="white" if shade[i, j] > 0.5 * shade.max() else "black", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def spectrogram_figure(image, *, sample_rate, hop_length, frequencies=None, title="Input", cbar_label=""):
    """A front-end output ``(time, freq)`` as an image (time on x, frequency bins on y).

    Parameters
    ----------
    image : array, shape (n_frames, n_freq)
    sample_rate : int
        Hz, to label the time axis in seconds.
    hop_length : int
        Samples between frames.
    frequencies : array or None
        Centre frequency (Hz) of each bin, for the y tick labels.
    """
    plt = _plt()
    image = np.asarray(image)
    fig, ax = plt.subplots(figsize=(8, 3), dpi=100)
    t_end = image.shape[0] * hop_length / sample_rate
    im = ax.imshow(image.T, origin="lower", aspect="auto", cmap="magma", extent=[0, t_end, 0, image.shape[1]])
    ax.set_xlabel("time (s)")
    if frequencies is not None:
        ticks = np.linspace(0, image.shape[1] - 1, 6).astype(int)
        ax.set_yticks(ticks + 0.5, [f"{frequencies[i]:.0f}" for i in ticks])
        ax.set_ylabel("frequency (Hz)")
    else:
        ax.set_ylabel("bin")
    fig.colorbar(im, ax=ax, label=cbar_label)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def adversary_figure(original, adversarial, *, sample_rate, hop_length, n_fft, frame=None, title=""):
    """Seed 004's figure 2: original, adversarial and difference spectrograms, and one frame's spectra.

    Parameters
    ----------
    original, adversarial : array, shape (n_frames, n_fft // 2 + 1)
        Linear STFT magnitudes.
    sample_rate : int
        Hz.
    hop_length, n_fft : int
        Samples.
    frame : int or None
        Frame whose magnitude spectra are drawn (default: the one with the largest change).
    """
    plt = _plt()
    X, Y = np.asarray(original, np.float64), np.asarray(adversarial, np.float64)
    D = np.abs(Y - X)
    db = lambda a: 20 * np.log10(np.maximum(a, 1e-6))  # noqa: E731
    top = db(max(X.max(), Y.max(), 1e-6))
    t_end = X.shape[0] * hop_length / sample_rate
    f_max = sample_rate / 2 / 1000
    fig = plt.figure(figsize=(12, 7), dpi=100, layout="constrained")
    grid = fig.add_gridspec(2, 3, height_ratios=[1.2, 1])
    for i, (img, name) in enumerate([(X, "original"), (Y, "adversarial"), (D, "difference")]):
        ax = fig.add_subplot(grid[0, i])
        im = ax.imshow(db(img).T, origin="lower", aspect="auto", cmap="magma", vmin=top - 80, vmax=top,
                       extent=[0, t_end, 0, f_max])
        ax.set_title(name)
        ax.set_xlabel("time (s)")
        if i == 0:
            ax.set_ylabel("frequency (kHz)")
    fig.colorbar(im, ax=fig.axes, label="dB", shrink=0.8, location="right")
    k = int(np.argmax(D.sum(1))) if frame is None else int(frame)
    f = np.arange(X.shape[1]) * sample_rate / n_fft / 1000
    ax = fig.add_subplot(grid[1, :])
    ax.plot(f, db(X[k]), color="#7fb8e6", lw=1.2, label="original")
    ax.plot(f, db(Y[k]), color="black", lw=0.8, label="adversarial")
    ax.plot(f, db(D[k]), color="#f28e2b", lw=0.8, label="difference")
    ax.set_ylim(top - 100, top + 5)
    ax.set_xlabel("frequency (kHz)")
    ax.set_ylabel("magnitude (dB)")
    ax.set_title(f"frame {k} ({k * hop_length / sample_rate:.2f} s, {n_fft} samples)")
    ax.legend(loc="upper right")
    fig.suptitle(title)
    return fig


def robustness_figure(snrs, accuracies, *, chance=None, clean=None, labels=None, title="Robustness",
                      ylabel="accuracy on adversarial audio"):
    """Accuracy against the adversary's SNR bound (one line per series).

    Parameters
    ----------
    snrs : array, shape (n,)
        SNR bounds in dB.
    accuracies : array, shape (n,) or (n_series, n)
        Accuracy on the adversarial audio at each bound.
    chance, clean : float or None
        Reference lines: chance level and accuracy without adversary.
    labels : list of str or None
        Series names.
    """
    plt = _plt()
    acc = np.atleast_2d(np.asarray(accuracies, dtype=float))
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for i, a in enumerate(acc):
        ax.plot(snrs, a, marker="o", label=None if labels is None else labels[i])
    if clean is not None:
        ax.axhline(clean, color="green", ls="--", lw=1, label="no adversary")
    if chance is not None:
        ax.axhline(chance, color="grey", ls=":", lw=1, label="chance")
    ax.set_xlabel("minimum SNR of the adversary (dB)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    return fig


def deconvolution_grid(images, *, row_labels, col_labels, sample_rate, hop_length, max_freq_hz=None,
                       title="Deconvolved spectrograms"):
    """A grid of deconvolved spectrograms (thesis figures 7.3–7.8): rows layers, columns features.

    Parameters
    ----------
    images : list of list of array (n_frames, n_bins) or None
        Linear magnitudes ``|STFT ⊙ mask|`` per (row, column); ``None`` leaves a cell empty.
    row_labels, col_labels : list of list of str / list of str
        Per-row labels, and per-cell labels (``col_labels[r][c]``).
    sample_rate : int
        Hz. ``hop_length`` samples between frames; ``max_freq_hz`` the top of the y axis.
    """
    plt = _plt()
    n_rows = len(images)
    n_cols = max(len(r) for r in images)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 2.4 * n_rows), dpi=100, squeeze=False,
                             layout="constrained")
    f_max = (sample_rate / 2 if max_freq_hz is None else max_freq_hz) / 1000
    for r, row in enumerate(images):
        for c in range(n_cols):
            ax = axes[r][c]
            if c >= len(row) or row[c] is None:
                ax.axis("off")
                continue
            m = np.asarray(row[c], np.float64)
            db = 20 * np.log10(np.maximum(m, 1e-8))
            top = db.max()
            ax.imshow(db.T, origin="lower", aspect="auto", cmap="magma", vmin=top - 60, vmax=top,
                      extent=[0, m.shape[0] * hop_length / sample_rate, 0, f_max])
            ax.set_title(col_labels[r][c], fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{row_labels[r]}\nkHz")
            if r == n_rows - 1:
                ax.set_xlabel("time (s)")
    fig.suptitle(title)
    return fig


def tag_matrix_figure(M, labels, *, title="", scale=100.0, lower_only=False):
    """A tag-by-tag matrix as an annotated heat map (thesis figures 3.1, 7.10, 7.11).

    Parameters
    ----------
    M : array, shape (n, n)
        E.g. co-occurrence ``C`` (rows: conditioning tag ``i``) or label-vector similarity ``S``.
    labels : list of str
    scale : float
        Numbers printed are ``M × scale`` (×100: percent).
    lower_only : bool
        Hide the upper triangle (for symmetric matrices).
    """
    plt = _plt()
    M = np.array(M, dtype=np.float64)
    n = len(labels)
    if lower_only:
        M[np.triu_indices(n, 1)] = np.nan
    fig, ax = plt.subplots(figsize=(0.42 * n + 2.5, 0.42 * n + 1.5), dpi=100)
    im = ax.imshow(M, cmap="viridis")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    if n <= 30:
        for i in range(n):
            for j in range(n):
                if np.isfinite(M[i, j]):
                    ax.text(j, i, f"{M[i, j] * scale:.0f}", ha="center", va="center", fontsize=6,
                            color="white" if M[i, j] < np.nanmean(M) else "black")
    fig.colorbar(im, ax=ax, shrink=0.7)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def label_noise_figure(rows):
    """Thesis figures 3.2–3.3: ground-truth precision/recall and estimated positive shares, with 95 % CIs.

    ``rows`` as returned by :func:`kerasmgr.analysis.label_noise`.
    """
    plt = _plt()
    tags = [r["tag"] for r in rows]
    x = np.arange(len(tags))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(max(10, 0.9 * len(tags) + 4), 4.5), dpi=100)
    for off, key, colour in ((-0.15, "precision", "#4c72b0"), (0.15, "recall", "#dd8452")):
        v = np.array([r[key] for r in rows])
        err = np.array([[r[key] - r[f"{key}_low"] for r in rows], [r[f"{key}_high"] - r[key] for r in rows]])
        a1.errorbar(x + off, v * 100, yerr=err * 100, fmt="o", color=colour, capsize=3, label=key)
    a1.set_xticks(x, tags, rotation=45, ha="right")
    a1.set_ylabel("% (95 % bootstrap interval)")
    a1.set_ylim(0, 105)
    a1.legend()
    a1.set_title("ground truth vs re-annotation")
    T = np.array([r["n_total"] for r in rows], dtype=float)
    est = np.array([r["estimated_positive"] for r in rows]) / T * 100
    err = np.array([[r["estimated_positive"] - r["estimated_positive_low"] for r in rows],
                    [r["estimated_positive_high"] - r["estimated_positive"] for r in rows]]) / T * 100
    a2.errorbar(x - 0.15, est, yerr=err, fmt="o", color="#c44e52", capsize=3, label="estimate (Eq. 3.2)")
    a2.plot(x + 0.15, np.array([r["n_positive"] for r in rows]) / T * 100, "s", color="#55a868",
            label="in the ground truth")
    a2.set_xticks(x, tags, rotation=45, ha="right")
    a2.set_ylabel("positive items (%)")
    a2.legend()
    a2.set_title("occurrence")
    fig.tight_layout()
    return fig


def similarity_histograms(values, *, title="SIFT similarity of activation maps", bins=20):
    """One panel per layer: histograms of similarity scores per reference map.

    ``values``: ``{layer: {reference: array of scores}}``.
    """
    plt = _plt()
    layers = list(values)
    fig, axes = plt.subplots(1, len(layers), figsize=(4 * len(layers), 3.2), dpi=100, squeeze=False)
    for ax, layer in zip(axes[0], layers):
        for ref, v in values[layer].items():
            ax.hist(np.asarray(v, float), bins=bins, range=(0, 1), alpha=0.5, label=ref)
        ax.set_title(layer)
        ax.set_xlabel("similarity")
    axes[0][0].set_ylabel("channels x clips")
    axes[0][-1].legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def figure_to_png(fig):
    """Render a figure to PNG bytes and close it."""
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def save_figure(fig, path):
    """Write a figure as PNG and close it."""
    plt = _plt()
    fig.savefig(path, format="png")
    plt.close(fig)


def reliability_figure(names, auc_annotation, auc_ground_truth, auc_all, rho):
    """Thesis Fig. 3.6: per experiment, the re-annotated tags' AUC against the annotation (red,
    dotted) and the ground truth (blue, dashed), and all tags' AUC (yellow, solid); ρ1, ρ2 in the title."""
    import numpy as np

    fig, ax = _plt().subplots(figsize=(max(5, 0.7 * len(names) + 2), 3.6))
    x = np.arange(len(names))
    ax.plot(x, auc_annotation, "r:o", label="re-annotated tags vs annotation")
    ax.plot(x, auc_ground_truth, "b--s", label="re-annotated tags vs ground truth")
    if all(a is not None for a in auc_all):
        ax.plot(x, auc_all, "-^", color="goldenrod", label="all tags vs ground truth")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("ROC-AUC")
    ax.set_title(f"rho1 = {rho['rho1']:.3f}, rho2 = {rho['rho2']:.3f}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def transfer_figure(rows, ranked, *, protocol="thesis", title=""):
    """Bar chart in the style of the thesis' figures 6.3-6.9: layer combinations ranked by score,
    the random-convnet score of the same combination beside each bar, MFCC and MFCC + all layers
    as reference lines.

    Parameters
    ----------
    rows : list of dict
        :func:`kerasmgr.transfer.run` rows.
    ranked : list of dict
        The rows of ``protocol`` best first (:func:`kerasmgr.transfer.rank`).
    """
    plt = _plt()
    rs = [r for r in rows if r["protocol"] == protocol]
    conv = [r for r in ranked if r["kind"] == "convnet"]
    rand = {r["feature_set"].split()[-1]: r["score"] for r in rs if r["kind"] == "random"}
    fig, ax = plt.subplots(figsize=(max(8, 0.35 * len(conv) + 2), 4), dpi=100)
    xs = np.arange(len(conv))
    ax.bar(xs - 0.2, [r["score"] for r in conv], width=0.4, label="convnet feature", color="tab:blue")
    if rand:
        ax.bar(xs + 0.2, [rand.get(r["feature_set"], np.nan) for r in conv], width=0.4, label="random weights",
               color="tab:gray")
    for r, style in ((next((r for r in rs if r["kind"] == "mfcc"), None), "--"),
                     (next((r for r in rs if r["kind"] == "mfcc+convnet"), None), ":")):
        if r is not None:
            ax.axhline(r["score"], linestyle=style, color="tab:red", label=f"{r['feature_set']} ({r['score']:.3f})")
    ax.set_xticks(xs, [r["feature_set"] for r in conv], rotation=90)
    ax.set_xlabel("layers")
    ax.set_ylabel(conv[0]["metric"] if conv else "score")
    lo = min([r["score"] for r in rs] + [0.0])
    ax.set_ylim(lo, 1.0 if conv and conv[0]["metric"] == "accuracy" else None)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # outside: never over the bars
    ax.set_title(title or f"{protocol} protocol")
    fig.tight_layout()
    return fig


_PERCEPTUAL_COLOURS = {"inaudible": "tab:red", "irrelevant": "tab:orange", "audible": "tab:grey"}


def transformation_figure(rows, *, metric_name="metric", title="Irrelevant transformations"):
    """Flip rate and metric against strength, one panel per transformation family.

    Parameters
    ----------
    rows : list of dict
        ``transform``, ``strength``, ``perceptual`` ('inaudible', 'irrelevant', 'audible'),
        ``flip_rate``, ``metric`` (and ``clean_metric``), one per (family, strength).
    """
    plt = _plt()
    families = list(dict.fromkeys(r["transform"] for r in rows))
    cols = 4
    nrows = max(1, -(-len(families) // cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.5 * nrows), dpi=100, squeeze=False)
    for ax, fam in zip(axes.flat, families):
        rs = [r for r in rows if r["transform"] == fam]
        x = np.arange(len(rs))
        ax.bar(x, [r["flip_rate"] for r in rs], color=[_PERCEPTUAL_COLOURS[r["perceptual"]] for r in rs])
        ax.set_xticks(x, [f"{r['strength']:g}" for r in rs], fontsize=7)
        ax.set_ylim(0, 1)
        ax.set_title(fam, fontsize=9)
        ax.tick_params(labelsize=7)
        ax2 = ax.twinx()
        ax2.plot(x, [r["metric"] for r in rs], "k.-", lw=1)
        if rs and rs[0].get("clean_metric") is not None:
            ax2.axhline(rs[0]["clean_metric"], color="green", ls="--", lw=0.8)
        ax2.set_ylim(0, 1)
        ax2.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(families):]:
        ax.axis("off")
    axes.flat[0].set_ylabel("decisions flipped", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in _PERCEPTUAL_COLOURS.values()]
    fig.legend(handles + [plt.Line2D([], [], color="k", marker=".")], list(_PERCEPTUAL_COLOURS) + [metric_name],
               loc="lower center", ncol=4, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    return fig


def per_label_figure(labels, values, *, ylabel="ROC-AUC", title="", reference=None):
    """A bar per label (e.g. per-tag ROC-AUC), with an optional reference line (chance)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5, 0.45 * len(labels) + 1.5), 3.2), dpi=100)
    x = np.arange(len(labels))
    ax.bar(x, [np.nan if v is None else v for v in values], color="tab:blue")
    if reference is not None:
        ax.axhline(reference, color="grey", ls=":", lw=1)
    ax.set_xticks(x, labels, rotation=60, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    fig.tight_layout()
    return fig
