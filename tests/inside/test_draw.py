"""The draw page's data and HTML, without a browser: weights round-trip, nothing left unfilled."""

import base64

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.errors import UsageError
from cnn_jax.inside import draw
from cnn_jax.nn.models import SeedCNN


@pytest.fixture(scope="module")
def params():
    init = SeedCNN().init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
    return jax.tree.map(np.asarray, init)


def test_weights_and_digits_round_trip_exactly(params):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    data = draw.page_data(params, images, np.array([4, 0, 9]), output="softmax")
    for name, entry in data["params"].items():
        layer, part = name.split("/")
        raw = np.frombuffer(base64.b64decode(entry["b64"]), "<f4").reshape(entry["shape"])
        np.testing.assert_array_equal(raw, params[layer][part])  # conv HWIO, dense [in, out]
    pixels = np.frombuffer(base64.b64decode(data["samples"]["pixels_b64"]), np.uint8)
    np.testing.assert_array_equal(pixels, images.ravel())
    assert data["model"]["layers"][-1] == "softmax" and data["model"]["pool"] == 4


def test_the_page_is_filled_in_and_safe_inside_its_script(params):
    images = np.zeros((1, 28, 28, 1), np.uint8)
    data = draw.page_data(params, images, np.array([3]), output="sigmoid")
    data["samples"]["indices"] = [0]
    page = draw.render_page(data, source_text="a </script> test", command="cmd <b>")
    assert "{{" not in page
    assert page.count("</script>") == 2  # the data element's and the forward pass's, only
    assert "&lt;b&gt;" in page


def test_sample_takes_the_first_of_each_digit():
    labels = np.array([1, 0, 1, 2, 0, 1] + list(range(3, 10)) * 2)
    picked = draw.sample_indices(labels, per_digit=2)
    assert list(labels[picked]).count(1) == 2 and list(picked[:4]) == [0, 1, 2, 3]


def test_only_the_seed_cnn_can_be_drawn():
    draw.check_arch("seed")
    with pytest.raises(UsageError, match="seed CNN only"):
        draw.check_arch("deep")
