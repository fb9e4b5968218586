"""Why go deep at all? Cybenko's one hidden layer against depth efficiency, measured.

Four parts, each a pure function of a config and a key, each in its module; this one runs
them (:func:`measure`) and draws their figures (config.py holds the sizes):

1. ``cybenko.fit_one_hidden_layer``: Cybenko (1989) says one hidden layer of sigmoid units
   approximates any continuous function on a compact set. We fit 1-D targets on [-1, 1] at
   growing widths and measure the max and RMS error on a dense grid; widths and seeds are
   vmapped in one jit.
2. ``sum_product.spn_*``: Delalleau & Bengio's family F (NIPS 2011, "Shallow vs. deep
   sum-product networks"): a deep sum-product network on n = 4^i inputs, and its expansion
   into the depth-2 form (a sum of products), whose product units we count.
3. ``trained.train_relu_grid``: shallow and deep-narrow ReLU networks trained on F and on
   Telgarsky's sawtooth, to see whether gradient descent finds what depth can represent.
4. ``regions.count_regions_on_segment``: the exact number of linear regions of a ReLU network
   along a segment of input space, for random networks of equal parameter count and growing
   depth.

The family F, as built here. Layer 1 has n/2 product units, unit j multiplying inputs 2j and
2j+1; then sum and product layers alternate, each unit taking two neighbouring units of the
layer below (a sum unit with its own positive weights λ, μ), down to one sum unit at the top:
log2(n) = 2i layers and n/2 + n/4 + ... + 1 = n - 1 units. The paper's Definition is not
reproduced here; this construction has the properties the paper states for F: depth
O(log n) with O(n) units, and (the quote in the README) O(2^√n) units at depth 2. The
expansion gives exactly 2^(√n - 1) monomials because the monomial count obeys m → 2·m² over
each product-then-sum pair (a product of two m-term polynomials on disjoint inputs has m²
distinct terms, a sum of two such has twice that) from m = 1 at the inputs: 2, 8, 128, 32768
for n = 4, 16, 64, 256, i.e. 2^(2^i - 1) = 2^(√n - 1), the paper's lower bound for F.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import jax

from cnn_jax.results import save_figure
from cnn_jax.studies.depth import plots
from cnn_jax.studies.depth.config import DepthConfig
from cnn_jax.studies.depth.cybenko import fit_one_hidden_layer
from cnn_jax.studies.depth.regions import regions_by_depth
from cnn_jax.studies.depth.sum_product import spn_table
from cnn_jax.studies.depth.trained import shallow_vs_deep
from cnn_jax.training.divergence import DIVERGED, describe

# ----------------------------------------------------------------------------- all four


def measure(config: DepthConfig, log: Callable[[str], None] = print) -> dict:
    """Every number of the study (``results.json``'s content), the four parts from four keys
    split off ``config.seed``; ``log`` gets one line per part and per row."""
    cybenko_key, spn_key, trained_key, regions_key = jax.random.split(
        jax.random.key(config.seed), 4
    )
    timings, start = {}, time.perf_counter()

    def lap(name: str) -> None:
        timings[name] = time.perf_counter() - start - sum(timings.values())

    log("[1/4] one hidden layer of sigmoids: error against width")
    fits = fit_one_hidden_layer(
        cybenko_key, config.cybenko_widths, seeds=config.seeds, steps=config.steps, lr=config.lr
    )
    fits = {name: {k: v.tolist() for k, v in fit.items()} for name, fit in fits.items()}
    lap("cybenko_s")
    log("[2/4] family F: deep sum-product network against its depth-2 expansion")
    spn = spn_table(spn_key, config.spn_inputs)
    for row in spn:
        log(
            f"  n={row['n']:4d}: deep {row['deep_units']:4d} units, depth 2 "
            f"{row['shallow_product_units']:6d} product units, gap {row['max_relative_gap']:.1e}"
        )
    lap("spn_s")
    log("[3/4] trained shallow and deep-narrow ReLU networks: sawtooth and F")
    trained = shallow_vs_deep(trained_key, config)
    for row in trained:
        log(
            f"  {row['task']} {row['size']}: smallest reaching {config.threshold}: shallow "
            f"{row['shallow']['smallest_units_reaching']} units, deep "
            f"{row['deep']['smallest_units_reaching']} units ({row['deep_depth']} layers)"
        )
        for name in ("shallow", "deep"):
            for record in row[name]["diverged"]:
                log(f"    {name} {DIVERGED}: {describe(record)}")
    lap("trained_s")
    log("[4/4] linear regions along a line, counted exactly")
    regions = regions_by_depth(regions_key, config)
    for row in regions["rows"]:
        log(
            f"  depth {row['depth']}: deep {row['deep_regions_mean']:.1f} regions, "
            f"shallow ({row['shallow_width']} units) {row['shallow_regions_mean']:.1f}, "
            f"sawtooth {row['sawtooth_regions']}"
        )
    lap("regions_s")
    timings["total_s"] = time.perf_counter() - start
    return {
        "description": "Why go deep: Cybenko's one hidden layer against Delalleau & Bengio's "
        "depth efficiency, trained networks, and linear regions",
        "config": dataclasses.asdict(config),
        "cybenko": {"widths": list(config.cybenko_widths), "fits": fits},
        "spn": spn,
        "trained": {"threshold": config.threshold, "rows": trained},
        "regions": regions,
        "timings": timings,
    }


def write_figures(results: dict, out: Path) -> None:
    """cybenko.png, spn_units.png, trained_sizes.png and regions.png from the results (the
    figures docs/depth/ draws from the chapter's snapshot: plots.OF_RESULTS)."""
    for file, draw in plots.OF_RESULTS.items():
        save_figure(draw(results), out / file)
