"""Part 4: the linear regions of a ReLU network along a segment, counted exactly."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np

from cnn_jax.studies.depth.config import DepthConfig
from cnn_jax.studies.depth.trained import mlp_params, sawtooth_relu_layers


def count_regions_on_segment(layers, a: np.ndarray, b: np.ndarray, *, return_breakpoints=False):
    """Exact number of linear regions of a ReLU network along x(t) = a + t·(b - a), t in [0, 1].

    ``layers`` is [(kernel [in, out], bias [out])], the last one linear (it does not switch).
    Layer by layer: every breakpoint of the layers below is known, so between two consecutive
    breakpoints each preactivation of this layer is affine in t and equals the line through its
    values at the two ends (a ReLU network is continuous). A unit switches inside a segment
    exactly where that line crosses zero, so the crossings are found by one interpolation, not
    by sampling. Finally adjacent segments with the same activation pattern are merged (a unit
    that touches zero without crossing leaves the region unchanged). float64 numpy.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    layers = [(np.asarray(k, np.float64), np.asarray(c, np.float64)) for k, c in layers]
    t = np.array([0.0, 1.0])
    for depth in range(1, len(layers)):
        z = _preactivations(layers, depth, a, b, t)[-1]  # [T, units] of layer ``depth``
        z0, z1 = z[:-1], z[1:]  # both ends of each segment
        crossing = z0 * z1 < 0
        seg = np.nonzero(crossing)[0]
        frac = z0[crossing] / (z0[crossing] - z1[crossing])
        t = np.unique(np.concatenate([t, t[seg] + (t[seg + 1] - t[seg]) * frac]))
    mid = (t[:-1] + t[1:]) / 2
    pattern = np.concatenate(
        [zl > 0 for zl in _preactivations(layers, len(layers) - 1, a, b, mid)], 1
    )
    changes = np.any(pattern[1:] != pattern[:-1], axis=1)
    count = 1 + int(changes.sum())
    if return_breakpoints:
        return count, t[1:-1][changes]
    return count


def _preactivations(layers, depth: int, a, b, t) -> list[np.ndarray]:
    """Preactivations [T, units] of hidden layers 1..depth at points a + t·(b - a)."""
    h = a[None] + t[:, None] * (b - a)[None]
    out = []
    for kernel, bias in layers[:depth]:
        z = h @ kernel + bias[None]
        out.append(z)
        h = np.maximum(z, 0.0)
    return out


def random_relu_layers(key, widths: Sequence[int], input_dim: int):
    """He-normal kernels N(0, 2/fan_in) and biases N(0, 0.1²), one linear output, float64.
    One draw of all parameters, sliced per layer: thousands of tiny eager draws are slow."""
    sizes = [input_dim, *widths, 1]
    noise = np.asarray(jax.random.normal(key, (mlp_params(widths, input_dim),)), np.float64)
    layers, at = [], 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        kernel = noise[at : at + fan_in * fan_out].reshape(fan_in, fan_out) * np.sqrt(2 / fan_in)
        at += fan_in * fan_out
        layers.append((kernel, 0.1 * noise[at : at + fan_out]))
        at += fan_out
    return layers


def shallow_width_matching(params: int, input_dim: int) -> int:
    """Width of one hidden layer with the closest parameter count: (in + 2)·w + 1 = params."""
    return max(1, round((params - 1) / (input_dim + 2)))


def regions_by_depth(key, config: DepthConfig) -> dict:
    """Regions along a random segment (ends ~ N(0, I)) for deep nets of ``region_width`` units
    per layer at each depth, for one-hidden-layer nets with the same parameter count, and for the
    hand-built sawtooth of that depth; mean and all values over ``region_nets`` networks."""
    d, w = config.region_input_dim, config.region_width
    rows = []
    for depth in config.region_depths:
        params = mlp_params([w] * depth, d)
        shallow_w = shallow_width_matching(params, d)
        deep_counts, shallow_counts = [], []
        for net in range(config.region_nets):
            nkey = jax.random.fold_in(jax.random.fold_in(key, depth), net)
            dkey, skey, akey = jax.random.split(nkey, 3)
            a, b = np.asarray(jax.random.normal(akey, (2, d)), np.float64)
            deep_counts.append(
                count_regions_on_segment(random_relu_layers(dkey, [w] * depth, d), a, b)
            )
            shallow_counts.append(
                count_regions_on_segment(random_relu_layers(skey, [shallow_w], d), a, b)
            )
        saw = count_regions_on_segment(sawtooth_relu_layers(depth), np.zeros(1), np.ones(1))
        rows.append(
            {
                "depth": depth,
                "params": params,
                "deep_neurons": w * depth,
                "deep_regions": deep_counts,
                "deep_regions_mean": float(np.mean(deep_counts)),
                "deep_upper_bound": (w + 1) ** depth,  # each unit splits each piece at most once
                "shallow_width": shallow_w,
                "shallow_params": mlp_params([shallow_w], d),
                "shallow_regions": shallow_counts,
                "shallow_regions_mean": float(np.mean(shallow_counts)),
                "sawtooth_units": 2 * depth,
                "sawtooth_regions": saw,
            }
        )
    return {"input_dim": d, "width": w, "rows": rows}
