"""Figures of one image going through a network, from plain arrays. Never imports training code.

Each function takes numpy arrays of one image's layer outputs (no batch axis) and an
optional ``ax``, and returns the figure. Feature maps [H, W, C] are tiled into one
mosaic per layer; the colour scale is shared by all maps of the layer unless
``per_map_scale`` (then each map is stretched to its own min..max and the title says so).
Signed values use a diverging map centred on 0 (red > 0 > blue), non-negative ones viridis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.gridspec import GridSpec  # noqa: E402

SPATIAL_KINDS = ("input", "conv", "activation", "pool")


def _new_ax(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def mosaic_columns(channels: int) -> int:
    """Columns of the channel grid: the first divisor of ``channels`` from √C up to 2√C
    (32 -> 8 × 4, 64 -> 8 × 8), else ⌈√C⌉."""
    root = math.ceil(math.sqrt(channels))
    for cols in range(root, 2 * root + 1):
        if channels % cols == 0:
            return cols
    return root


def tile_maps(maps: np.ndarray, *, per_map_scale: bool = False, gap: int = 1) -> np.ndarray:
    """[H, W, C] -> one 2-D mosaic of the C maps, row-major, NaN (drawn grey) between them.

    With ``per_map_scale`` each map is first mapped to [0, 1] by its own min and max
    (a constant map becomes 0).
    """
    maps = np.asarray(maps, np.float64)
    h, w, c = maps.shape
    if per_map_scale:
        lo = maps.min(axis=(0, 1), keepdims=True)
        span = maps.max(axis=(0, 1), keepdims=True) - lo
        maps = np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1.0), 0.0)
    cols = mosaic_columns(c)
    rows = math.ceil(c / cols)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for k in range(c):
        r, q = divmod(k, cols)
        out[r * (h + gap) : r * (h + gap) + h, q * (w + gap) : q * (w + gap) + w] = maps[..., k]
    return out


def _colour_scale(values: np.ndarray) -> tuple[str, float, float]:
    """(cmap, vmin, vmax): diverging and symmetric around 0 for signed values."""
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if lo < 0 < hi:
        m = max(-lo, hi)
        return "RdBu_r", -m, m
    if lo == hi:
        return "viridis", lo, lo + 1.0
    return "viridis", lo, hi


def _show(ax, image: np.ndarray, cmap: str, vmin: float, vmax: float, colorbar: bool):
    cm = plt.get_cmap(cmap).with_extremes(bad="0.65")  # grey gaps: white is 0 on RdBu
    im = ax.imshow(image, cmap=cm, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if colorbar:
        bar = ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
        bar.ax.tick_params(labelsize=7)
    return im


def plot_image(image: np.ndarray, *, ax=None, title: str = ""):
    """The input digit [28, 28] or [28, 28, 1], values in [0, 1], white on black."""
    fig, ax = _new_ax(ax, (3, 3))
    _show(ax, np.asarray(image).reshape(28, 28), "gray", 0.0, 1.0, colorbar=False)
    ax.set_title(title or "input", fontsize=9)
    return fig


def _range(vmin: float, vmax: float) -> str:
    return f"±{vmax:.3g}" if vmin == -vmax else f"[{vmin:.3g}, {vmax:.3g}]"


def plot_feature_maps(
    maps: np.ndarray, *, per_map_scale: bool = False, ax=None, title: str = "", colorbar=True
):
    """All C channels of a convolution, activation or pooling output [H, W, C] as a grid.

    Without a colour bar (``colorbar=False``) the title still gives the scale's range.
    """
    maps = np.asarray(maps)
    fig, ax = _new_ax(ax, (8, 4.5))
    tiled = tile_maps(maps, per_map_scale=per_map_scale)
    if per_map_scale:
        cmap, vmin, vmax = "viridis", 0.0, 1.0
        scale = "scale per map (0 = its min, 1 = its max)"
    else:
        cmap, vmin, vmax = _colour_scale(tiled)
        scale = f"shared scale {_range(vmin, vmax)}"
    _show(ax, tiled, cmap, vmin, vmax, colorbar=colorbar)
    shape = "×".join(str(d) for d in maps.shape)
    ax.set_title(f"{title} {shape}\n{scale}".strip(), fontsize=9)
    return fig


def plot_strip(values: np.ndarray, *, ax=None, title: str = "", tick_labels=None):
    """A vector (flatten, dense or activation output) [N] as a one-row heat strip.

    Up to 20 entries are written in their cells; ``tick_labels`` names the entries
    (e.g. the digits 0-9 for the logits).
    """
    values = np.asarray(values, np.float64).reshape(-1)
    n = values.size
    fig, ax = _new_ax(ax, (10, 1.4))
    cmap, vmin, vmax = _colour_scale(values)
    _show(ax, values[None, :], cmap, vmin, vmax, colorbar=True)
    ax.set_aspect("auto")
    if n <= 20:
        ax.set_xticks(range(n), tick_labels if tick_labels is not None else range(n), fontsize=8)
        for i, v in enumerate(values):
            dark = cmap == "RdBu_r" and abs(v) > 0.6 * vmax
            colour = "white" if dark else "black"
            ax.text(i, 0, f"{v:.2g}", ha="center", va="center", fontsize=7, color=colour)
    else:
        ax.set_xticks([round(i * n / 4) for i in range(4)] + [n - 1])
        ax.tick_params(axis="x", labelsize=8)
    ax.set_title(f"{title} ({n}), scale {_range(vmin, vmax)}".strip(), fontsize=9)
    return fig


def plot_probabilities(
    probs: np.ndarray, *, label: int | None = None, ax=None, title: str = "softmax"
):
    """Class probabilities [10] as bars; the predicted class is orange, the true label
    (if given) is outlined in black."""
    probs = np.asarray(probs, np.float64).reshape(-1)
    fig, ax = _new_ax(ax, (6, 2.5))
    predicted = int(np.argmax(probs))
    colours = ["tab:orange" if i == predicted else "tab:blue" for i in range(probs.size)]
    bars = ax.bar(range(probs.size), probs, color=colours)
    if label is not None:
        bars[label].set_edgecolor("black")
        bars[label].set_linewidth(2)
    ax.set_xticks(range(probs.size))
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("probability", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    said = f"predicted {predicted} (p = {probs[predicted]:.3f})"
    if label is not None:
        said += f", label {label}"
    ax.set_title(f"{title}: {said}", fontsize=9)
    return fig


def plot_filters(kernel: np.ndarray, *, ax=None, title: str = "learned conv1 filters"):
    """First-layer kernels [kh, kw, 1, F] as a grid, one shared scale centred on 0."""
    kernel = np.asarray(kernel)
    if kernel.ndim != 4 or kernel.shape[2] != 1:
        raise ValueError(f"expected first-layer kernels [kh, kw, 1, F], got {kernel.shape}")
    fig, ax = _new_ax(ax, (6, 3.5))
    tiled = tile_maps(kernel[:, :, 0, :])
    m = float(np.nanmax(np.abs(tiled))) or 1.0
    _show(ax, tiled, "RdBu_r", -m, m, colorbar=True)
    kh, kw, _, f = kernel.shape
    ax.set_title(f"{title}: {f} × {kh}×{kw}, shared scale ±{m:.3g}", fontsize=9)
    return fig


def plot_layer(
    name: str,
    kind: str,
    values: np.ndarray,
    *,
    ax=None,
    per_map_scale: bool = False,
    label: int | None = None,
):
    """One layer's output for one image, drawn by its shape: maps [H, W, C] as a grid,
    vectors [N] as a strip, the output layer ("output" kind) as class probabilities."""
    values = np.asarray(values)
    if kind == "output":
        return plot_probabilities(values, label=label, ax=ax, title=name)
    if kind == "input":
        return plot_image(values, ax=ax, title=name)
    if values.ndim == 3:
        return plot_feature_maps(values, per_map_scale=per_map_scale, ax=ax, title=name)
    ticks = range(values.size) if values.size == 10 else None
    return plot_strip(values, ax=ax, title=name, tick_labels=ticks)


def plot_overview(
    image: np.ndarray,
    layers: Sequence[tuple[str, str, np.ndarray]],
    *,
    label: int | None = None,
    per_map_scale: bool = False,
    title: str = "",
    columns: int = 5,
):
    """One digit through every layer: the input and each (name, kind, values) in order.

    Spatial outputs fill rows of ``columns`` panels (no colour bars there: each title
    gives its layer's range, shared by its maps unless ``per_map_scale``); each vector
    is a full-width strip below them; the output layer ends the figure as class
    probabilities.
    """
    spatial = [("input", "input", np.asarray(image))]
    spatial += [(n, k, v) for n, k, v in layers if np.ndim(v) == 3]
    vectors = [(n, k, v) for n, k, v in layers if np.ndim(v) != 3]
    map_rows = math.ceil(len(spatial) / columns)
    heights = [2.4] * map_rows + [0.8 if k != "output" else 1.8 for _, k, _ in vectors]
    fig = plt.figure(figsize=(2.8 * columns, sum(heights) + 0.8))
    grid = GridSpec(len(heights), columns, figure=fig, height_ratios=heights, hspace=1.0)
    for i, (name, kind, values) in enumerate(spatial):
        ax = fig.add_subplot(grid[i // columns, i % columns])
        if kind == "input":
            plot_image(values, ax=ax, title=f"input {'×'.join(map(str, values.shape))}")
        else:
            plot_feature_maps(
                values, per_map_scale=per_map_scale, ax=ax, title=name, colorbar=False
            )
    for row, (name, kind, values) in enumerate(vectors, start=map_rows):
        ax = fig.add_subplot(grid[row, :])
        plot_layer(name, kind, values, ax=ax, label=label)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
