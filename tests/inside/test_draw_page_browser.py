"""The draw-a-digit page in headless Chromium: offline, JAX's numbers, and a drawn 1.

One module-scoped page from ``visualize_layers.py --interactive`` without a checkpoint: the
script trains the seed CNN briefly (its BRIEF_TRAINING, 1 epoch on 2,000 real MNIST images),
which is enough to read a vertical stroke as a 1.
"""

import json
import time

import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax import browser
from cnn_jax.data import scale
from cnn_jax.inside import draw, layers
from cnn_jax.inside import network as N
from cnn_jax.nn.models import SeedCNN
from cnn_jax.training.run import load_run

REASON = browser.unavailable()
needs_browser = pytest.mark.skipif(REASON is not None, reason=f"no browser test: {REASON}")


@pytest.fixture(scope="module")
def page(tmp_path_factory, mnist, load_script):
    """(draw.html, its results.json, the brief run's params) from the script's own command."""
    out = tmp_path_factory.mktemp("draw") / "page"
    main = load_script("visualize_layers").main
    assert main(["--interactive", "--out", str(out), "--no-progress"]) == 0
    saved = load_run(out.parent / N.BRIEF_RUN_NAME)
    return out / draw.PAGE, json.loads((out / "results.json").read_text()), saved.params


@pytest.fixture(scope="module")
def chromium():
    driver = browser.open_chromium()
    yield driver
    driver.quit()


def _open(driver, path):
    driver.get(browser.page_uri(path))
    for _ in range(200):
        if driver.execute_script("return document.documentElement.dataset.ready === '1'"):
            return
        time.sleep(0.05)
    raise AssertionError(f"the page never finished its first render: {driver.get_log('browser')}")


@needs_browser
def test_the_page_loads_from_file_with_no_request(page, chromium):
    path, results, _ = page
    browser.requests(chromium)  # empty the log
    _open(chromium, path)
    assert browser.requests(chromium) == [browser.page_uri(path)]  # the page itself, nothing else
    assert chromium.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert [e for e in chromium.get_log("browser") if e["level"] == "SEVERE"] == []
    first_render = chromium.execute_script("return window.cnn.firstRenderMs")
    # a loaded machine may not have recorded the paint yet: it is printed, never asserted
    paint = chromium.execute_script(
        "const e = performance.getEntriesByName('first-contentful-paint')[0];"
        "return e ? e.startTime : null"
    )
    size = path.stat().st_size
    assert size == results["page_bytes"]
    painted = "not yet recorded" if paint is None else f"{paint:.0f} ms"
    print(f"\ndraw page: {size:,} bytes; first contentful paint {painted}; every layer "
          f"drawn {first_render:.0f} ms after navigation")  # fmt: skip


@needs_browser
def test_test_digits_give_jax_logits_and_layers(page, chromium, mnist):
    path, results, params = page
    _open(chromium, path)
    indices = results["sample_indices"]
    assert len(indices) == 10 * draw.PER_DIGIT
    assert chromium.execute_script("return window.cnn.samples.map(s => s.label)") == [
        int(v) for v in mnist.test_labels[indices]
    ]
    images = scale(mnist.test_images[indices])
    expected = np.asarray(SeedCNN().apply({"params": params}, jnp.asarray(images)))
    in_page = np.array(chromium.execute_script(
        "return window.cnn.samples.map((s, i) => window.cnn.classify(window.cnn.sample(i)))"
    ))  # fmt: skip
    np.testing.assert_allclose(in_page, expected, atol=1e-4, rtol=0)
    # Every layer of one digit, against the model's recorded outputs.
    outputs = layers.layer_outputs(SeedCNN(), params, jnp.asarray(images[:1]))
    forward = chromium.execute_script("return window.cnn.forward(window.cnn.sample(0))")
    assert chromium.execute_script("return window.cnn.model.layers") == list(outputs)
    assert sorted(forward) == sorted(outputs)  # the driver returns an object's keys sorted
    for name, value in outputs.items():
        np.testing.assert_allclose(
            forward[name], np.asarray(value[0]).ravel(), atol=1e-4, rtol=0, err_msg=name
        )


@needs_browser
def test_picking_a_test_digit_shows_its_label(page, chromium, mnist):
    path, results, _ = page
    _open(chromium, path)
    chromium.find_element("css selector", 'button[data-sample="7"]').click()
    label = int(mnist.test_labels[results["sample_indices"][7]])
    assert chromium.find_element("id", "truth").text == f"test digit, true label {label}"
    assert chromium.execute_script("return window.cnn.current().source") == "sample 7"
    # Every layer is drawn: 32 maps for each of conv1, relu1, conv2 and maxpool.
    maps = chromium.execute_script(
        "return Array.from(document.querySelectorAll('section.layer'), "
        "s => [s.dataset.layer, s.querySelectorAll('canvas').length])"
    )
    assert maps == [["conv1", 32], ["relu1", 32], ["conv2", 32], ["maxpool", 32],
                    ["dense1", 1], ["relu3", 1], ["dense2", 1]]  # fmt: skip


@needs_browser
def test_a_vertical_stroke_reads_as_one(page, chromium):
    path, _, _ = page
    _open(chromium, path)
    pad = chromium.find_element("id", "pad")
    browser.pointer_stroke(chromium, pad, [(0.5, 0.15 + 0.05 * k) for k in range(15)])
    current = chromium.execute_script("return window.cnn.current()")
    assert current["source"] == "drawing"
    pixels = np.array(current["pixels"]).reshape(28, 28)
    rows, cols = np.nonzero(pixels > 0.5)
    assert rows.max() - rows.min() + 1 == 20  # fitted into 20x20 ...
    at = np.arange(28) + 0.5  # pixel centres
    centre = (pixels.sum(1) @ at / pixels.sum(), pixels.sum(0) @ at / pixels.sum())
    assert np.allclose(centre, 14, atol=0.5)  # ... and centred by its centre of mass
    assert current["predicted"] == 1, current["probabilities"]
    print(f"\nvertical stroke: P(1) = {current['probabilities'][1]:.4f}")


def test_interactive_refuses_a_single_digit(load_script, capsys):
    main = load_script("visualize_layers").main
    with pytest.raises(SystemExit) as exit_info:
        main(["--interactive", "--index", "3"])
    assert exit_info.value.code == 2
    assert "--interactive" in capsys.readouterr().err
