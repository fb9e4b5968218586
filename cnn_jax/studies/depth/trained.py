"""Part 3: shallow and deep-narrow ReLU networks trained on the sawtooth and on F."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax.studies.depth.config import DepthConfig
from cnn_jax.studies.depth.cybenko import adam_fit
from cnn_jax.studies.depth.sum_product import deep_spn, spn_weights
from cnn_jax.training.divergence import diverged, json_floats, require_survivor


def tent(x):
    """Telgarsky's tent map on [0, 1]: 2x below 1/2, 2 - 2x above."""
    return 2 * jnp.minimum(x, 1 - x)


def sawtooth(x, k: int):
    """The tent map composed k times: 2^k linear pieces on [0, 1]."""
    for _ in range(k):
        x = tent(x)
    return x


def sawtooth_relu_layers(k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The exact ReLU network for ``sawtooth(x, k)``: k hidden layers of 2 units, then a linear
    output. Each layer computes relu(y), relu(y - 1/2) of the previous tent y, and
    tent(y) = 2·relu(y) - 4·relu(y - 1/2) on [0, 1] is folded into the next layer's weights.
    Returns [(kernel [in, out], bias [out])] for the k hidden layers and the output layer."""
    first = (np.array([[1.0, 1.0]]), np.array([0.0, -0.5]))
    fold = np.array([[2.0], [-4.0]])  # hidden pair -> the tent value y
    hidden = (fold @ np.array([[1.0, 1.0]]), np.array([0.0, -0.5]))
    return [first] + [hidden] * (k - 1) + [(fold, np.zeros(1))]


def relu_forward(layers, x: np.ndarray) -> np.ndarray:
    """A ReLU network given as [(kernel, bias)], the last layer linear. x [P, in] -> [P, out]."""
    for kernel, bias in layers[:-1]:
        x = np.maximum(x @ kernel + bias[None], 0.0)
    kernel, bias = layers[-1]
    return x @ kernel + bias[None]


def mlp_params(widths: Sequence[int], input_dim: int = 1) -> int:
    """Weights and biases of a ReLU network with hidden ``widths`` and one output."""
    sizes = [input_dim, *widths, 1]
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def _init_relu(key, width, depth, input_dim, max_width: int, max_depth: int, max_input: int):
    """He-normal kernels; first-layer biases put each unit's kink at a uniform point of the unit
    box (a generous start for the shallow net; zero biases would stack every kink at 0).
    Units >= ``width``, layers >= ``depth`` and inputs >= ``input_dim`` are padding, masked
    out, so different tasks, widths and depths vmap together."""
    k0, ku, kh, ko = jax.random.split(key, 4)
    in_mask = (jnp.arange(max_input) < input_dim).astype(jnp.float32)[:, None]  # [in, 1]
    w0 = jax.random.normal(k0, (max_input, max_width)) * jnp.sqrt(2.0 / input_dim) * in_mask
    u = jax.random.uniform(ku, (max_input, max_width))
    fan = width.astype(jnp.float32)
    params = {
        "w0": w0,
        "b0": -jnp.sum(w0 * u, axis=0),
        "wh": jax.random.normal(kh, (max_depth - 1, max_width, max_width)) * jnp.sqrt(2.0 / fan),
        "bh": jnp.zeros((max_depth - 1, max_width)),
        "wo": jax.random.normal(ko, (max_width,)) / jnp.sqrt(fan),
        "bo": jnp.zeros(()),
    }
    return params, (jnp.arange(max_width) < width).astype(jnp.float32)


def _relu_net(params, mask, depth, x):
    """x [P, in] -> [P]: ``depth`` hidden layers of masked ReLU units, a linear output; the
    padded layers beyond ``depth`` pass h through unchanged (and so get no gradient)."""
    h = jax.nn.relu(x @ params["w0"] + params["b0"][None]) * mask[None]
    for layer in range(params["wh"].shape[0]):
        new = jax.nn.relu(h @ params["wh"][layer] + params["bh"][layer][None]) * mask[None]
        h = jnp.where(layer + 1 < depth, new, h)
    return h @ params["wo"] + params["bo"]


@functools.partial(jax.jit, static_argnames=("max_width", "max_depth", "steps", "lr"))
def train_relu_grid(
    key, data, input_dims, depths, widths, seeds, *, max_width, max_depth, steps, lr
):
    """Train ReLU networks on several regression tasks at once, full-batch Adam on the MSE.

    ``data = (train_x [T, P, in], train_y [T, P], test_x [T, Q, in], test_y [T, Q])``, inputs
    zero-padded to a common width; ``input_dims`` [T] and ``depths`` [T] (hidden layers) per
    task; ``widths`` [W]; ``seeds`` [S]. Tasks × widths × seeds are vmapped in this one jit,
    padded to ``max_width`` units and ``max_depth`` layers and masked.
    Returns the test RMS error divided by the test target's std, [T, W, S].
    """

    def one(task, width, seed):
        train_x, train_y, test_x, test_y = (a[task] for a in data)
        params, mask = _init_relu(
            jax.random.fold_in(jax.random.fold_in(key, task), seed),
            width,
            depths[task],
            input_dims[task],
            max_width,
            max_depth,
            train_x.shape[1],
        )
        net = lambda p, x: _relu_net(p, mask, depths[task], x)  # noqa: E731
        loss = lambda p: jnp.mean((net(p, train_x) - train_y) ** 2)  # noqa: E731
        params = adam_fit(loss, params, steps, lr)
        return jnp.sqrt(jnp.mean((net(params, test_x) - test_y) ** 2)) / jnp.std(test_y)

    per_seed = jax.vmap(one, (None, None, 0))
    per_width = jax.vmap(per_seed, (None, 0, None))
    return jax.vmap(per_width, (0, None, None))(jnp.arange(len(depths)), widths, seeds)


def sawtooth_data(k: int, points: int):
    """Evenly spaced training points on [0, 1] and a shifted test grid between them."""
    train_x = jnp.linspace(0.0, 1.0, points)[:, None]
    test_x = (jnp.arange(points, dtype=jnp.float32)[:, None] + 0.5) / points
    return train_x, sawtooth(train_x[:, 0], k), test_x, sawtooth(test_x[:, 0], k)


def spn_data(key, n: int, points: int):
    """Uniform inputs in [0, 1]^n for one random member of F, target scaled to unit std."""
    wkey, trkey, tekey = jax.random.split(key, 3)
    weights = spn_weights(wkey, n)
    train_x = jax.random.uniform(trkey, (points, n))
    test_x = jax.random.uniform(tekey, (points, n))
    train_y, test_y = deep_spn(weights, train_x), deep_spn(weights, test_x)
    scale = jnp.std(train_y)
    return train_x, train_y / scale, test_x, test_y / scale


def smallest_reaching(errors: np.ndarray, sizes: Sequence[int], threshold: float):
    """The first size whose best seed reaches ``threshold`` (None if none does), and per size
    the fraction of seeds that reach it. errors [len(sizes), seeds]."""
    reached = errors <= threshold  # a seed that diverged (NaN) never reaches it
    first = next((int(s) for s, r in zip(sizes, reached, strict=True) if r.any()), None)
    finite = np.isfinite(errors).sum(axis=1)
    # Over the seeds that did not diverge; None at a size where every seed diverged.
    return first, [
        None if n == 0 else float(r.sum() / n) for r, n in zip(reached, finite, strict=True)
    ]


def shallow_vs_deep(key, config: DepthConfig, points: int = 512) -> list[dict]:
    """Shallow (one hidden layer, ``shallow_widths``) against deep-narrow (``deep_widths``)
    ReLU networks on the sawtooth of each k (deep: k layers, where 2 units per layer are exact)
    and on one member of F for each n (deep: log2 n layers), two jitted calls in all.
    One dict per task with errors, sizes, and the smallest size reaching ``threshold``."""
    data_key, shallow_key, deep_key = jax.random.split(key, 3)
    tasks = [("sawtooth", k, 1, k, sawtooth_data(k, points)) for k in config.sawtooth_ks]
    tasks += [
        ("F", n, n, int(math.log2(n)), spn_data(jax.random.fold_in(data_key, n), n, points))
        for n in config.trained_spn_inputs
    ]
    max_input = max(t[2] for t in tasks)
    pad = lambda x: jnp.pad(x, ((0, 0), (0, max_input - x.shape[1])))  # noqa: E731
    data = tuple(
        jnp.stack([pad(t[4][i]) if i % 2 == 0 else t[4][i] for t in tasks]) for i in range(4)
    )
    input_dims = jnp.asarray([t[2] for t in tasks])
    seeds = jnp.arange(config.seeds, dtype=jnp.uint32)
    run = functools.partial(train_relu_grid, steps=config.steps, lr=config.lr)
    shallow = run(
        shallow_key, data, input_dims, jnp.ones(len(tasks), jnp.int32),
        jnp.asarray(config.shallow_widths), seeds,
        max_width=max(config.shallow_widths), max_depth=1,
    )  # fmt: skip
    deep = run(
        deep_key, data, input_dims, jnp.asarray([t[3] for t in tasks]),
        jnp.asarray(config.deep_widths), seeds,
        max_width=max(config.deep_widths), max_depth=max(t[3] for t in tasks),
    )  # fmt: skip
    shallow, deep = np.asarray(shallow), np.asarray(deep)
    out = []
    for i, (task, size, input_dim, depth, _) in enumerate(tasks):
        row = {"task": task, "size": size, "input_dim": input_dim, "deep_depth": depth}
        for name, errors, widths, d in (
            ("shallow", shallow[i], config.shallow_widths, 1),
            ("deep", deep[i], config.deep_widths, depth),
        ):
            records = check_finite(
                errors, widths, f"{name} ReLU networks on {task} {size}", config.lr
            )
            row[name] = _trained_sizes(errors, widths, d, input_dim, config.threshold)
            row[name]["diverged"] = records
        if task == "sawtooth":
            # By construction 2 units per layer suffice deep; one hidden layer on [0, 1] has at
            # most (units + 1) pieces, so 2^k pieces need at least 2^k - 1 units.
            row["exact_deep_units"] = 2 * size
            row["exact_deep_params"] = mlp_params([2] * size)
            row["exact_shallow_units_at_least"] = 2**size - 1
        out.append(row)
    return out


def check_finite(errors: np.ndarray, widths: Sequence[int], what: str, lr: float) -> list[dict]:
    """The divergence records (:mod:`cnn_jax.training.divergence`) of every (width, seed)
    whose error is not finite; errors [len(widths), seeds]. Raises :class:`Diverged` naming
    ``what`` and its first width only when every one of them diverged."""
    seeds = errors.shape[1]
    records = [
        diverged(
            config=w * seeds + s, epoch=None, why="non-finite test error", lr=lr,
            width=int(widths[w]), seed=int(s),
        )
        for w, s in np.argwhere(~np.isfinite(errors)).tolist()
    ]  # fmt: skip
    require_survivor(what, records, errors.size, "lower --lr")
    return records


def _trained_sizes(errors, widths: Sequence[int], depth: int, input_dim: int, threshold):
    """One network family's entry of a task's row: errors [len(widths), seeds] per width,
    ``depth`` hidden layers of each width."""
    width, fractions = smallest_reaching(errors, widths, threshold)
    return {
        "widths": list(widths),
        "units": [w * depth for w in widths],
        "params": [mlp_params([w] * depth, input_dim) for w in widths],
        "relative_rms_error": json_floats(errors),  # None: that seed diverged
        "fraction_of_seeds_reaching": fractions,
        "smallest_units_reaching": None if width is None else width * depth,
        "smallest_params_reaching": (
            None if width is None else mlp_params([width] * depth, input_dim)
        ),
    }
