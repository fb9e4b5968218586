"""Depth efficiency: family F against its expansion, the sawtooth, the exact region counter,
one-hidden-layer fits, and the script end to end."""

import itertools
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.errors import Diverged, UsageError
from cnn_jax.report import docs
from cnn_jax.studies.depth import config as config_lib
from cnn_jax.studies.depth import cybenko as cybenko_lib
from cnn_jax.studies.depth import plots, sum_product, trained
from cnn_jax.studies.depth import regions as regions_lib


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("depth_efficiency")


# ----------------------------------------------------------------------------- family F


def _monomials_by_recurrence(n: int) -> int:
    """Independent of the expansion: a product of two polynomials on disjoint inputs has
    m_a·m_b terms, a sum of two has m_a + m_b; one product-then-sum pair maps m to 2·m²."""
    m = 1
    for _ in range(int(math.log2(n)) // 2):
        m = 2 * m * m
    return m


def _brute_force_spn(weights, x):
    """The deep network unit by unit, in plain Python floats (no reshapes)."""
    h = [float(v) for v in x]
    for w in weights:
        h = [h[2 * j] * h[2 * j + 1] for j in range(len(h) // 2)]
        h = [float(w[j, 0]) * h[2 * j] + float(w[j, 1]) * h[2 * j + 1] for j in range(len(h) // 2)]
    return h[0]


@pytest.mark.parametrize("n", [4, 16, 64])
def test_spn_expansion_equals_the_deep_network_and_counts_match(n):
    weights = sum_product.spn_weights(jax.random.key(n), n)
    poly = sum_product.expand_spn(weights, n)
    x = np.asarray(jax.random.uniform(jax.random.key(1), (5, n), minval=0.5, maxval=1.5))
    deep = np.asarray(jax.jit(sum_product.deep_spn)(weights, jnp.asarray(x)))
    shallow = sum_product.evaluate_polynomial(poly, x)
    brute = np.array([_brute_force_spn([np.asarray(w) for w in weights], row) for row in x])
    np.testing.assert_allclose(shallow, brute, rtol=1e-9)
    np.testing.assert_allclose(deep, brute, rtol=1e-5)
    assert len(poly) == _monomials_by_recurrence(n) == 2 ** (math.isqrt(n) - 1)
    assert sum_product.spn_deep_units(n) == sum(
        n >> layer for layer in range(1, int(math.log2(n)) + 1)
    )
    # Every monomial uses √n distinct inputs: no two product units can be merged.
    assert {len(set(m)) for m in poly} == {math.isqrt(n)}


def test_spn_expansion_is_the_polynomial_on_four_inputs():
    w = [np.array([[2.0, 3.0]])]
    assert sum_product.expand_spn(w, 4) == {(0, 1): 2.0, (2, 3): 3.0}


# ----------------------------------------------------------------------------- sawtooth


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_relu_sawtooth_equals_the_composed_tent_and_has_2_to_the_k_pieces(k):
    layers = trained.sawtooth_relu_layers(k)
    x = np.linspace(0.0, 1.0, 4097)
    np.testing.assert_allclose(
        trained.relu_forward(layers, x[:, None])[:, 0],
        np.asarray(trained.sawtooth(x, k)),
        atol=1e-6,
    )
    count, breaks = regions_lib.count_regions_on_segment(
        layers, [0.0], [1.0], return_breakpoints=True
    )
    assert count == 2**k
    np.testing.assert_allclose(breaks, np.arange(1, 2**k) / 2**k, atol=1e-12)
    assert 2 * k == sum(b.shape[0] for _, b in layers[:-1])  # 2 units per layer


# ----------------------------------------------------------------------------- regions


def test_region_counter_on_known_breakpoints():
    # One hidden layer on [0, 1]: unit j switches at x = c_j. Two share a point, one is outside.
    c = np.array([0.1, 0.35, 0.35, 0.7, 1.5])
    layers = [(np.ones((1, 5)), -c), (np.ones((5, 1)), np.zeros(1))]
    count, breaks = regions_lib.count_regions_on_segment(
        layers, [0.0], [1.0], return_breakpoints=True
    )
    assert count == 4
    np.testing.assert_allclose(breaks, [0.1, 0.35, 0.7])
    # Along a reversed, stretched line through 2-D input the same three switches remain.
    layers2 = [(np.vstack([np.ones((1, 5)), np.zeros((1, 5))]), -c), layers[1]]
    assert regions_lib.count_regions_on_segment(layers2, [1.0, 5.0], [0.0, -3.0]) == 4


def test_region_counter_agrees_with_a_dense_grid():
    layers = regions_lib.random_relu_layers(jax.random.key(3), [6, 6, 6], input_dim=2)
    a, b = np.array([-1.5, 0.5]), np.array([1.0, -1.0])
    exact = regions_lib.count_regions_on_segment(layers, a, b)
    t = np.linspace(0.0, 1.0, 200_001)
    x = a[None] + t[:, None] * (b - a)[None]
    patterns = []
    for kernel, bias in layers[:-1]:
        z = x @ kernel + bias[None]
        patterns.append(z > 0)
        x = np.maximum(z, 0.0)
    pattern = np.concatenate(patterns, axis=1)
    brute = 1 + int(np.any(pattern[1:] != pattern[:-1], axis=1).sum())
    assert exact == brute
    assert exact > 3  # a three-layer net crossing several switches: not a trivial case


def test_matched_shallow_width_has_the_same_parameter_count():
    for depth, d in itertools.product([1, 3, 8], [2, 4]):
        params = trained.mlp_params([16] * depth, d)
        w = regions_lib.shallow_width_matching(params, d)
        assert abs(trained.mlp_params([w], d) - params) <= (d + 2) // 2


# ----------------------------------------------------------------------------- fits


def test_one_hidden_layer_error_falls_with_width_and_is_deterministic():
    kw = dict(seeds=1, steps=400, lr=0.01)
    fits = cybenko_lib.fit_one_hidden_layer(jax.random.key(0), (1, 4, 32), **kw)
    for name, fit in fits.items():
        rms = fit["rms_error"][:, 0]
        assert np.all(np.isfinite(rms)), name
        if name.startswith("oscillating"):  # eight oscillations need more units and steps
            assert rms[-1] <= rms[0] + 1e-3, (name, rms)
        else:
            assert rms[-1] < 0.5 * rms[0], (name, rms)
    again = cybenko_lib.fit_one_hidden_layer(jax.random.key(0), (1, 4, 32), **kw)
    other = cybenko_lib.fit_one_hidden_layer(jax.random.key(1), (1, 4, 32), **kw)
    name = next(iter(fits))
    np.testing.assert_array_equal(again[name]["rms_error"], fits[name]["rms_error"])
    assert not np.array_equal(other[name]["rms_error"], fits[name]["rms_error"])


# ----------------------------------------------------------------------------- the script


def _no_nan(obj):
    if isinstance(obj, float):
        return not math.isnan(obj)
    if isinstance(obj, dict):
        return all(_no_nan(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_no_nan(v) for v in obj)
    return True


def test_script_tiny_writes_results_and_figures(script, tmp_path, capsys):
    out = tmp_path / "run"
    assert script.main(["--tiny", "--seed", "3", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert _no_nan(results)
    assert results["config"]["seed"] == 3
    assert [r["shallow_product_units"] for r in results["spn"]] == [2, 8]
    assert all(r["max_relative_gap"] < 1e-5 for r in results["spn"])
    assert {p.name for p in out.glob("*.png")} == {
        "cybenko.png",
        "spn_units.png",
        "trained_sizes.png",
        "regions.png",
    }
    assert "[4/4]" in capsys.readouterr().err


def test_docs_figures_are_the_runs_figures_drawn_from_the_snapshot(tmp_path):
    """docs/depth/*.png are the figures a run writes, drawn from docs/results/depth.json (the
    bytes against the committed ones: tests/report/test_docs_drift.py); a snapshot without
    the run is a KeyError, which leaves the figure as it is."""
    drawn = docs.draw_figures(docs.ROOT, "depth", into=tmp_path)
    committed = {p.name for p in (docs.ROOT / "docs" / "depth").glob("*.png")}
    assert {p.name for p in drawn} == set(plots.OF_RESULTS) == committed
    with pytest.raises(KeyError):
        plots.FIGURES["cybenko.png"]({})


@pytest.mark.parametrize(
    "argv",
    [
        ["--spn-inputs", "4,8"],
        ["--steps", "0"],
        ["--threshold", "2"],
        ["--cybenko-widths", "2,x"],
        ["--out", "/proc/forbidden"],
    ],
)
def test_bad_flags_exit_2_with_one_line_and_write_nothing(script, tmp_path, capsys, argv):
    out = ["--out", str(tmp_path / "run")] if "--out" not in argv else []
    with pytest.raises(SystemExit) as e:
        script.main(argv + out)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()


def test_a_non_finite_trained_error_is_recorded_and_only_an_all_diverged_family_stops():
    errors = np.array([[0.05, 0.2], [np.nan, 0.1]])  # [widths, seeds]
    records = trained.check_finite(errors, (2, 4), "shallow ReLU networks on sawtooth 3", 0.01)
    assert [(r["width"], r["seed"], r["lr"]) for r in records] == [(4, 0, 0.01)]
    assert trained.smallest_reaching(errors, (2, 4), 0.1) == (2, [0.5, 1.0])  # over finite seeds
    assert trained.check_finite(errors[:1], (2,), "shallow ReLU networks on sawtooth 3", 0.01) == []
    with pytest.raises(
        Diverged, match="shallow ReLU networks on sawtooth 3: every .*width=4.*--lr"
    ):
        trained.check_finite(errors[1:] * np.nan, (4,), "shallow ReLU networks on sawtooth 3", 0.01)


def test_config_refuses_bad_values_with_a_usage_error():
    with pytest.raises(UsageError, match="powers of 4"):
        config_lib.DepthConfig.tiny(spn_inputs=(4, 8))
    with pytest.raises(UsageError, match=r"threshold must be in \(0, 1\)"):
        config_lib.DepthConfig(threshold=2.0)
