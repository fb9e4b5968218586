"""Draw a digit: one self-contained HTML page that runs a trained seed CNN in the browser.

:func:`write_draw_page` writes ``<out>/draw.html``: the checkpoint's weights (float32,
base64), a sample of test digits with their labels (uint8, base64: MNIST's own bytes, so
the page scales them exactly as ``cnn_jax.data.scale`` does), and the forward pass in plain
JavaScript (``draw_page.js``, in the page ``draw_page.html``). It opens from ``file://``
with no request: no server, no CDN, no fetch. Beside it, ``results.json`` records the
source and the page's size and marks the folder as ours for a rerun.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np

from cnn_jax.errors import UsageError
from cnn_jax.inside import layers
from cnn_jax.inside.page import check_out_dir as _check_out_dir
from cnn_jax.nn.models import SeedCNN
from cnn_jax.results import provenance, write_json, write_text

KIND = "draw_page"  # marks an output folder as ours (safe to replace on a rerun)
PAGE = "draw.html"
PER_DIGIT = 5  # sample: the first 5 test images of each digit, 50 in all
STROKE_WIDTH = 20  # on the 280-pixel pad: about 2 pixels once the digit is fitted into 20x20
LAYERS = ("conv1", "relu1", "conv2", "maxpool", "flatten", "dense1", "relu3", "dense2")
PARAMS = ("conv1", "conv2", "dense1", "dense2")


def check_out_dir(out_dir: str | Path) -> None:
    """Refuse a file, or a non-empty folder that is not an earlier draw page's."""
    _check_out_dir(out_dir, KIND)


def check_arch(arch: str) -> None:
    """The page's JavaScript is the seed CNN's forward pass and no other network's."""
    if arch != "seed":
        raise UsageError(
            f"--interactive draws the seed CNN only; this checkpoint is arch {arch!r} "
            "(train one with experiments/mnist_cnn.py --arch seed)"
        )


def sample_indices(labels: np.ndarray, per_digit: int = PER_DIGIT) -> np.ndarray:
    """The first ``per_digit`` test images of each digit, in test-set order."""
    picked = [np.flatnonzero(labels == d)[:per_digit] for d in range(10)]
    return np.sort(np.concatenate(picked))


def _b64(array: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def page_data(params: Mapping, images: np.ndarray, labels: np.ndarray, *, output: str) -> dict:
    """What the page embeds: the weights in JAX's layouts (conv HWIO, dense [in, out]) as
    little-endian float32, the sample ``images`` uint8 [N, 28, 28(, 1)] with ``labels``
    [N], and the layer descriptions. ``output`` is "softmax" or "sigmoid"."""
    model = SeedCNN()
    arrays = {
        f"{layer}/{part}": np.asarray(params[layer][part])
        for layer in PARAMS
        for part in ("kernel", "bias")
    }
    # Only flatten's description reads the shapes: maxpool's [4, 4, 32] in, 512 out.
    describe = {
        name: layers.describe_layer(model, params, name, (None, 4, 4, 32), (None, 512))
        for name in (*LAYERS, output)
    }
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"sample images must be MNIST's uint8 bytes, got {images.dtype}")
    return {
        "model": {
            "arch": "seed",
            "layers": [*LAYERS, output],
            "output": output,
            "pool": layers.pool_window(model),
            "describe": describe,
        },
        "params": {
            name: {"shape": list(a.shape), "b64": _b64(a, "<f4")} for name, a in arrays.items()
        },
        "samples": {
            "labels": [int(v) for v in labels],
            "pixels_b64": _b64(images.reshape(len(labels), 28 * 28), "u1"),
        },
        "page": {"stroke_width": STROKE_WIDTH},
    }


def _template(name: str) -> str:
    return resources.files("cnn_jax.inside").joinpath(name).read_text(encoding="utf-8")


def render_page(data: Mapping, *, source_text: str, command: str) -> str:
    """The page as one HTML string: the template with the data and the script inlined."""
    # "</" cannot appear inside a <script> element; JSON reads "<\/" as "</".
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    page = _template("draw_page.html")
    for key, value in (
        ("{{SOURCE}}", html.escape(source_text)),
        ("{{COMMAND}}", html.escape(command)),
        ("{{DATA}}", blob),
        ("{{SCRIPT}}", _template("draw_page.js")),
    ):
        page = page.replace(key, value)
    return page


def source_text(source: Mapping) -> str:
    text = f"The seed CNN from {source['checkpoint']}, checkpoint after epoch {source['epoch']}"
    if source.get("test_accuracy") is not None:
        text += f", test accuracy {source['test_accuracy']:.4f}"
    if source.get("trained_here"):
        text += f". {source['trained_here']}"
    return text + "."


def write_draw_page(
    out_dir: str | Path,
    *,
    params: Mapping,
    loss: str,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    source: Mapping,
    command: str = "",
    started: float | None = None,
) -> dict:
    """Write ``<out_dir>/draw.html`` for the seed CNN ``params`` (trained with ``loss``)
    with a sample of ``test_images`` uint8 [N, 28, 28, 1] and ``test_labels`` [N]; then
    ``results.json`` (the page's size, the sample's test indices, ``source``). Returns it."""
    out_dir = Path(out_dir)
    check_out_dir(out_dir)
    indices = sample_indices(np.asarray(test_labels))
    output = layers.output_activation(loss)
    data = page_data(params, test_images[indices], test_labels[indices], output=output)
    data["samples"]["indices"] = [int(i) for i in indices]
    page = render_page(data, source_text=source_text(source), command=command)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text(out_dir / PAGE, page)
    results = {
        "kind": KIND,
        "page": PAGE,
        "page_bytes": len(page.encode("utf-8")),
        "output": output,
        "sample_indices": data["samples"]["indices"],
        "source": dict(source),
        "command": command,
        "provenance": provenance(started),
    }
    write_json(out_dir / "results.json", results)  # last: marks a finished output
    return results
