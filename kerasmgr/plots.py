"""Figures (matplotlib, Agg backend): confusion matrices and spectrograms, as PNG files or arrays."""

from __future__ import annotations

import io

import numpy as np

__all__ = ["confusion_matrix_figure", "spectrogram_figure", "figure_to_png", "save_figure"]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
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
