"""One digit through every layer, written to a folder: numbers, figures, and an HTML page.

:func:`write_visualization` computes (:func:`compute`, with ``cnn_jax.inside.layers``),
saves the numbers (``results.json``, ``activations.npz``), draws the figures from them
(:func:`draw_figures`, with ``cnn_jax.inside.plots``) and renders ``index.html`` from
``results.json``. The page shows, in order: the overview figure, the layer table (each
layer's input and output shape, like Keras's summary "input (None, 28, 28, 1) → output
(None, 23, 23, 32)"), the activation statistics with their definitions, then every layer's
own figure.

The files are built in a staging folder inside the output folder (which the caller holds
with ``cli.RunFolder``) and moved into place when complete, ``results.json`` last, so an
interrupted run never leaves a ``results.json`` beside half of its figures.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from cnn_jax import cli
from cnn_jax.errors import UsageError
from cnn_jax.inside import layers
from cnn_jax.inside import plots as layer_plots
from cnn_jax.results import provenance, save_figure, write_json, write_npz, write_text

KIND = "visualize_layers"  # marks an output folder as ours (safe to replace on a rerun)
ARCH_NAMES = {"seed": "the seed CNN", "deep": "the deep CNN", "mlp": "the MLP"}

STAT_COLUMNS = (
    ("mean", "mean"),
    ("std", "std"),
    ("min", "min"),
    ("max", "max"),
    ("zero_fraction", "zero fraction"),
    ("dead_fraction", "dead ReLU fraction"),
    ("saturated_fraction", "saturated fraction"),
    ("saturated_unit_fraction", "saturated-unit fraction"),
)


def shape_text(shape) -> str:
    """[None, 23, 23, 32] -> "(None, 23, 23, 32)"; a 1-tuple keeps its comma."""
    items = ["None" if d is None else str(d) for d in shape]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _number(value) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def render_page(results: Mapping) -> str:
    """The page as an HTML string; ``results`` is what visualize_layers writes to results.json."""
    e = html.escape
    image, stats, figures = results["image"], results["statistics"], results["figures"]
    source = results["source"]
    title = f"Digit {image['label']} (test image {image['index']}) through every layer"
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:3px 8px;text-align:right}td:first-child,th:first-child,td.l{text-align:left}"
        "img{max-width:100%}code{background:#f4f4f4}</style>",
        "</head><body>",
        f"<h1>{e(title)}</h1>",
        "<p>",
        f"Network <b>{e(source['arch'])}</b> from <code>{e(source['checkpoint'])}</code>, "
        f"checkpoint after epoch {source['epoch']}",
    ]
    if source.get("test_accuracy") is not None:
        out.append(f", test accuracy {source['test_accuracy']:.4f}")
    out.append(".</p>")
    if source.get("trained_here"):
        out.append(f"<p><b>Note:</b> {e(source['trained_here'])}</p>")
    probs = image["probabilities"]
    out += [
        f"<p>Label {image['label']}, predicted {image['predicted']} with probability "
        f"{probs[image['predicted']]:.4f}.</p>",
        "<h2>Overview</h2>",
        f'<img src="{e(figures["overview"])}" alt="every layer of one digit">',
        "<h2>Layers</h2>",
        "<table><tr><th>#</th><th>layer</th><th>what</th><th>shape</th><th>params</th></tr>",
    ]
    for i, row in enumerate(results["layers"], start=1):
        out.append(
            f"<tr><td>{i}</td><td>{e(row['name'])}</td>"
            f'<td class="l">{e(row["description"])}</td>'
            f'<td class="l">input {shape_text(row["input_shape"])} → output '
            f"{shape_text(row['output_shape'])}</td><td>{row['params']:,}</td></tr>"
        )
    total = sum(row["params"] for row in results["layers"])
    out.append(f"<tr><td></td><td>total</td><td></td><td></td><td>{total:,}</td></tr></table>")

    out += [
        f"<h2>Activation statistics over {stats['num_images']:,} test images</h2>",
        f"<p>The first {stats['num_images']:,} images of the test set, "
        "evaluation mode (no dropout). A dash: not defined for that layer.</p>",
        "<table><tr><th>layer</th>" + "".join(f"<th>{e(h)}</th>" for _, h in STAT_COLUMNS),
    ]
    out[-1] += "</tr>"
    for name, row in stats["layers"].items():
        cells = "".join(f"<td>{_number(row.get(key))}</td>" for key, _ in STAT_COLUMNS)
        out.append(f"<tr><td>{e(name)}</td>{cells}</tr>")
    out.append("</table><dl>")
    for key, text in stats["definitions"].items():
        out.append(f"<dt><b>{e(key)}</b></dt><dd>{e(text)}</dd>")
    out.append("</dl>")

    out.append("<h2>Every layer</h2>")
    out.append(f"<p>{e(figures['colour_scale'])}</p>")
    out.append(f'<h3>input</h3><img src="{e(figures["input"])}" alt="input">')
    for row in results["layers"]:
        name = row["name"]
        out += [
            f"<h3>{e(name)}: {e(row['description'])}</h3>",
            f"<p>input {shape_text(row['input_shape'])} → output "
            f"{shape_text(row['output_shape'])}</p>",
            f'<img src="{e(figures["layers"][name])}" alt="{e(name)}">',
        ]
    if figures.get("filters"):
        out += [
            "<h2>Learned first-layer filters</h2>",
            f'<img src="{e(figures["filters"])}" alt="conv1 filters">',
        ]
    out += [
        "<h2>How this page was made</h2>",
        f"<p><code>{e(results['command'])}</code></p>",
        f"<p>Numbers: <code>results.json</code>; one image's layer outputs: "
        f"<code>{e(results['arrays'])}</code>.</p>",
        "</body></html>",
        "",
    ]
    return "\n".join(out)


def write_page(path: str | Path, results: Mapping) -> None:
    write_text(path, render_page(results))


# ----------------------------------------------------------------------------- the folder


STAGING = ".staging."


class OutputError(UsageError):
    """The output folder cannot be used; the message says why."""


def check_out_dir(out_dir: str | Path, kind: str = KIND) -> None:
    """Refuse a file, or an existing, non-empty folder that is not an earlier output of the
    tool whose results.json says ``kind`` (a rerun replaces that folder)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} exists and is not a folder")
    if not out_dir.is_dir() or not any(_ours_to_replace(out_dir)):
        return
    try:
        found = json.loads((out_dir / "results.json").read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        found = None
    if found != kind:
        raise OutputError(
            f"--out {out_dir} exists and is not a {kind} output; choose another folder"
        )


def _ours_to_replace(out_dir: Path) -> list[Path]:
    """The entries of ``out_dir`` a rerun replaces: all but the run folder's lock and a
    staging folder left by a killed run."""
    return [
        p for p in out_dir.iterdir() if p.name != cli.LOCK_NAME and not p.name.startswith(STAGING)
    ]


def _first_layer_weights(params) -> tuple[np.ndarray, str] | None:
    """conv1's kernels [kh, kw, 1, F], or an MLP's dense1 weights as 28×28 images."""
    if "conv1" in params:
        kernel = np.asarray(params["conv1"]["kernel"])
        return (kernel, "learned conv1 filters") if kernel.shape[2] == 1 else None
    kernel = np.asarray(params["dense1"]["kernel"])
    if kernel.shape[0] != 28 * 28:
        return None
    return kernel.reshape(28, 28, 1, -1), "learned dense1 weights as 28×28 images"


@dataclasses.dataclass(frozen=True)
class Drawing:
    """Which test image to draw and how: statistics over the first ``stats_images`` test
    images, feature maps on one colour scale per map (``per_map_scale``) or per layer, the
    network's ``output`` activation, the ``command`` shown on the page, and when the run
    began (``started``, a ``time.time()``, for the provenance's wall time)."""

    index: int
    stats_images: int = 1000
    per_map_scale: bool = False
    output: str = "softmax"
    command: str = ""
    started: float | None = None


def write_visualization(
    out_dir: str | Path, *, model, params, images, labels, source: Mapping, drawing: Drawing
) -> dict:
    """Write one digit's pass through ``model`` and batch statistics to ``out_dir``.

    ``images`` float32 [N, 28, 28, 1] in [0, 1] and ``labels`` int [N] are the test set.
    ``source`` describes the network (checkpoint, epoch, arch, test_accuracy,
    trained_here). Returns what it wrote to ``results.json``.
    """
    out_dir = Path(out_dir)
    check_out_dir(out_dir)
    results, arrays = compute(model, params, images, labels, source, drawing)
    weights = _first_layer_weights(params)
    # Staged inside out_dir, which the caller holds (cli.RunFolder: its lock lives there).
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(f"{STAGING}*"):
        shutil.rmtree(old, ignore_errors=True)  # left by a killed run
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=STAGING))
    try:
        write_npz(staging / results["arrays"], arrays)
        write_json(staging / "results.json", results)
        saved = json.loads((staging / "results.json").read_text())
        draw_figures(staging, saved, weights, per_map_scale=drawing.per_map_scale)
        for old in _ours_to_replace(out_dir):  # an earlier output of ours (check_out_dir)
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        # results.json last: a folder without it is not a finished output.
        for new in sorted(staging.iterdir(), key=lambda p: p.name == "results.json"):
            os.replace(new, out_dir / new.name)
        staging.rmdir()
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return results


def compute(model, params, images, labels, source: Mapping, drawing: Drawing):
    """(results.json's content, the arrays of activations.npz): the drawn image's output
    at every layer, the layer table, and the statistics over the first images."""
    index, output = drawing.index, drawing.output
    n = min(drawing.stats_images, images.shape[0])
    # One batch, one compile: the statistics' images with the drawn one appended.
    batch = jnp.asarray(np.concatenate([images[:n], images[index : index + 1]]))
    outputs = layers.layer_outputs(model, params, batch, output=output)
    activations = {name: act for name in outputs if (act := layers.layer_activation(model, name))}
    stats = layers.activation_statistics({k: v[:n] for k, v in outputs.items()}, activations)
    one = {name: np.asarray(v[n]) for name, v in outputs.items()}  # [...] per layer
    table = layers.layer_table(model, params, {k: v[n:] for k, v in outputs.items()})
    probs = one[output]
    results = {
        "kind": KIND,
        "source": dict(source),
        "image": {
            "index": int(index),
            "label": int(labels[index]),
            "predicted": int(np.argmax(probs)),
            "probabilities": [float(p) for p in probs],
        },
        "layers": table,
        "statistics": {"num_images": int(n), "definitions": layers.DEFINITIONS, "layers": stats},
        "figures": figure_paths(
            table, drawing.per_map_scale, filters=_first_layer_weights(params) is not None
        ),
        "arrays": "activations.npz",
        "command": drawing.command,
        "provenance": provenance(drawing.started),
    }
    return results, {"input": np.asarray(images[index]), **one}


def figure_paths(table: list[dict], per_map_scale: bool, *, filters: bool) -> dict:
    """Where each figure goes, relative to the output folder, and the colour scale's note."""
    return {
        "overview": "overview.png",
        "input": "layers/00_input.png",
        "layers": {
            row["name"]: f"layers/{i:02d}_{row['name']}.png" for i, row in enumerate(table, start=1)
        },
        "filters": "filters.png" if filters else None,
        "colour_scale": (
            "Feature maps: one colour scale per map (0 = its min, 1 = its max)."
            if per_map_scale
            else "Feature maps: one colour scale shared by all maps of a layer; signed "
            "values red > 0 > blue (white = 0), non-negative values viridis."
        ),
    }


def draw_figures(folder: Path, results: Mapping, weights, *, per_map_scale: bool = False) -> None:
    """Every figure and index.html in ``folder``, from the activations saved there and
    ``results`` as read back from its results.json; ``weights`` the first layer's filters
    and their title (None: no filter figure)."""
    figures, label = results["figures"], results["image"]["label"]
    with np.load(folder / results["arrays"]) as npz:
        saved = dict(npz)
    source = results["source"]
    arch = source.get("arch")
    caption = (
        f"test image {results['image']['index']} (label {label}) through "
        f"{ARCH_NAMES.get(arch, arch)}"
    )
    if source.get("epoch") is not None:
        caption += f" after epoch {source['epoch']}"
    layer_list = [(row["name"], row["kind"], saved[row["name"]]) for row in results["layers"]]
    fig = layer_plots.plot_overview(
        saved["input"], layer_list, label=label, per_map_scale=per_map_scale, title=caption
    )
    save_figure(fig, folder / figures["overview"])
    fig = layer_plots.plot_image(saved["input"], title="input 28×28×1")
    save_figure(fig, folder / figures["input"])
    for name, kind, values in layer_list:
        fig = layer_plots.plot_layer(name, kind, values, per_map_scale=per_map_scale, label=label)
        save_figure(fig, folder / figures["layers"][name])
    if weights is not None:
        fig = layer_plots.plot_filters(weights[0], title=weights[1])
        save_figure(fig, folder / figures["filters"])
    write_page(folder / "index.html", results)
