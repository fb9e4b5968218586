"""The probe study written to a folder: results.json, pca.npz, figures, and index.html.

:func:`write_study` saves the numbers, draws every figure from the saved numbers
(:mod:`cnn_jax.inside.probe_plots`), renders the page from ``results.json``'s content, and
writes ``results.json`` last, so a folder with it is a finished output. The page carries
a small script that marks ``<html data-images-loaded="k/n">`` once the page has loaded,
which a headless browser reads back to check that every figure shows.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from cnn_jax.inside import page, probe_plots
from cnn_jax.results import save_figure, write_json, write_npz, write_text

KIND = "probe_layers"  # marks an output folder as ours (safe to overwrite on a rerun)

COLUMNS = (
    ("dimension", "features"),
    ("probe_train_accuracy", "probe train acc."),
    ("probe_test_accuracy", "probe test acc."),
    ("nearest_mean_accuracy", "nearest-mean acc."),
    ("separation", "separation"),
)

# Counts the <img> that loaded (complete, with a width) once the page has finished loading.
IMAGE_CHECK = (
    "<script>window.addEventListener('load',function(){var im=document.images,ok=0;"
    "for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0)ok++;}"
    "document.documentElement.setAttribute('data-images-loaded',ok+'/'+im.length);});"
    "</script>"
)


def check_out_dir(out_dir: str | Path) -> None:
    """Refuse a file, or a non-empty folder that is not an earlier probe_layers output."""
    page.check_out_dir(out_dir, KIND)


def figure_paths(results: Mapping) -> dict:
    """Relative paths of every figure, from the run labels and the CKA pairs."""
    return {
        "probe_accuracy": "probe_accuracy.png",
        "cka": [f"cka_{i}.png" for i in range(len(results["runs"]))],
        "cross_cka": [f"cross_cka_{i}.png" for i in range(len(results["cross_cka"]))],
        "pca": [f"pca_{i}.png" for i in range(len(results["runs"]))],
        "by_epoch": "probe_by_epoch.png" if results.get("by_epoch") else None,
    }


def _cell(key: str, value) -> str:
    if key == "dimension":
        return f"{value:,}"
    return f"{value:.3g}" if key == "separation" else f"{value:.3f}"


def render_page(results: Mapping) -> str:
    """The page as an HTML string from what :func:`write_study` writes to results.json."""
    e = html.escape
    figures, settings = results["figures"], results["settings"]
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Layer by layer: linear probes, class separation and CKA</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
        "img{max-width:100%}code{background:#f4f4f4}</style>",
        IMAGE_CHECK,
        "</head><body>",
        "<h1>Layer by layer: linear probes, class separation and CKA</h1>",
        f"<p>Probes fitted on the first {settings['train_images']:,} training images and "
        f"scored on the first {settings['test_images']:,} test images "
        f"(λ = {settings['l2']:g}, {settings['steps']} full-batch Adam steps); separation "
        f"in the top {settings['components']} principal components; CKA and PCA on the "
        "same test images. For one digit drawn through every layer, see "
        "<code>experiments/visualize_layers.py</code>.</p>",
        "<h2>Probe accuracy against depth</h2>",
        f'<img src="{e(figures["probe_accuracy"])}" alt="probe accuracy against depth">',
    ]
    if figures.get("by_epoch"):
        out += [
            "<h2>Probe accuracy through training</h2>",
            f'<img src="{e(figures["by_epoch"])}" alt="probe accuracy of every layer by epoch">',
        ]
    for i, run in enumerate(results["runs"]):
        source = run["source"]
        if source.get("checkpoint"):
            what = f"Checkpoint <code>{e(source['checkpoint'])}</code>, epoch {source['epoch']}"
            if source.get("test_accuracy") is not None:
                what += f", test accuracy {source['test_accuracy']:.4f}"
        elif source.get("initialization_of"):
            what = (
                f"The network of <code>{e(source['initialization_of'])}</code> at its "
                f"initialization, before its first step (seed {source['seed']})"
            )
        else:
            what = f"{e(source['arch'])} at its initialization (seed {source['seed']})"
        out.append(f"<h2>{e(run['label'])}</h2><p>{what}")
        out.append(".</p><table><tr><th>layer</th>")
        out[-1] += "".join(f"<th>{e(h)}</th>" for _, h in COLUMNS) + "</tr>"
        for name, row in run["layers"].items():
            cells = "".join(f"<td>{_cell(k, row[k])}</td>" for k, _ in COLUMNS)
            out.append(f"<tr><td>{e(name)}</td>{cells}</tr>")
        out += [
            "</table>",
            f'<img src="{e(figures["cka"][i])}" alt="CKA between the layers of {e(run["label"])}">',
            f'<img src="{e(figures["pca"][i])}" alt="PCA of the layers of {e(run["label"])}">',
        ]
    if results["cross_cka"]:
        out.append("<h2>The same layers in two networks</h2>")
    for pair, path in zip(results["cross_cka"], figures["cross_cka"], strict=True):
        out.append(f'<img src="{e(path)}" alt="CKA {e(pair["a"])} against {e(pair["b"])}">')
    out.append("<h2>Definitions</h2><dl>")
    for key, text in results["definitions"].items():
        out.append(f"<dt><b>{e(key)}</b></dt><dd>{e(text)}</dd>")
    out += [
        "</dl><h2>How this page was made</h2>",
        f"<p><code>{e(results['command'])}</code></p>",
        "<p>Numbers: <code>results.json</code>; PCA scores: <code>pca.npz</code>.</p>",
        "</body></html>",
        "",
    ]
    return "\n".join(out)


def write_study(
    out_dir: str | Path, results: dict, scatter: list[Mapping[str, np.ndarray]], labels
) -> dict:
    """Write ``results`` (runs, cross_cka, settings, ... without "figures"), the PCA scores
    ``scatter`` (one {layer: [M, 2]} per run) and the test ``labels`` [M] to ``out_dir``,
    draw the figures from the saved files and render index.html; results.json last."""
    out_dir = Path(out_dir)
    results = {"kind": KIND, **results}
    results["figures"] = figure_paths(results)
    arrays = {f"{i}/{name}": xy for i, run in enumerate(scatter) for name, xy in run.items()}
    write_npz(out_dir / "pca.npz", {"labels": np.asarray(labels), **arrays})
    figures = results["figures"]
    for file in filter(None, (figures["probe_accuracy"], figures["by_epoch"])):
        save_figure(probe_plots.OF_RESULTS[file](results), out_dir / file)
    with np.load(out_dir / "pca.npz") as npz:
        saved = dict(npz)
    for i, run in enumerate(results["runs"]):
        names = list(run["layers"])
        fig = probe_plots.plot_cka(run["cka"], names, names, title=f"linear CKA: {run['label']}")
        save_figure(fig, out_dir / figures["cka"][i])
        pca = {name: saved[f"{i}/{name}"] for name in names}
        fig = probe_plots.plot_pca_grid(
            pca, saved["labels"], title=f"first two principal components: {run['label']}"
        )
        save_figure(fig, out_dir / figures["pca"][i])
    for pair, path in zip(results["cross_cka"], figures["cross_cka"], strict=True):
        fig = probe_plots.plot_cka(
            pair["matrix"],
            pair["layers_a"],
            pair["layers_b"],
            title=f"{pair['a']} (rows) against {pair['b']} (columns)",
        )
        save_figure(fig, out_dir / path)
    write_text(out_dir / "index.html", render_page(results))
    write_json(out_dir / "results.json", results)
    return results
