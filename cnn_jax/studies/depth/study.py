"""Why go deep at all? Cybenko's one hidden layer against depth efficiency, measured.

Four parts, each a pure function of a config and a key:

1. ``fit_one_hidden_layer``: Cybenko (1989) says one hidden layer of sigmoid units approximates
   any continuous function on a compact set. We fit 1-D targets on [-1, 1] at growing widths and
   measure the max and RMS error on a dense grid; widths and seeds are vmapped in one jit.
2. ``spn_*``: Delalleau & Bengio's family F (NIPS 2011, "Shallow vs. deep sum-product
   networks"): a deep sum-product network on n = 4^i inputs, and its expansion into the depth-2
   form (a sum of products), whose product units we count.
3. ``train_relu_grid``: shallow and deep-narrow ReLU networks trained on F and on Telgarsky's
   sawtooth, to see whether gradient descent finds what depth can represent.
4. ``count_regions_on_segment``: the exact number of linear regions of a ReLU network along a
   segment of input space, for random networks of equal parameter count and growing depth.

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
import functools
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cnn_jax import cli, flags
from cnn_jax.errors import UsageError
from cnn_jax.flags import flag
from cnn_jax.results import save_figure
from cnn_jax.studies.depth import plots
from cnn_jax.training.divergence import DIVERGED, describe, diverged, json_floats, require_survivor

# ----------------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class DepthConfig:
    """Every size in the study; experiments/depth_efficiency.py has one flag per field."""

    seed: int = flags.seed(0, "root random seed of all four parts")
    seeds: int = flags.count(2, "random initializations per trained size, vmapped")
    steps: int = flags.count(2000, "full-batch Adam steps for every trained network")
    lr: float = flags.learning_rate(0.01, "Adam learning rate of every trained network")
    cybenko_widths: tuple[int, ...] = flag(
        (2, 4, 8, 16, 32, 64), "hidden widths of the one-layer sigmoid fits", type=cli.int_list
    )
    spn_inputs: tuple[int, ...] = flag(
        (4, 16, 64, 256),
        "inputs n of the sum-product networks expanded to depth 2, powers of 4 up to 256",
        type=cli.int_list,
    )
    trained_spn_inputs: tuple[int, ...] = flag(
        (4, 16),
        "inputs n of the sum-product targets the ReLU networks learn, powers of 4 up to 64",
        type=cli.int_list,
    )
    sawtooth_ks: tuple[int, ...] = flag(
        (1, 2, 3, 4),
        "compositions k of Telgarsky's tent map the ReLU networks learn (2^k pieces), up to 12",
        type=cli.int_list,
    )
    shallow_widths: tuple[int, ...] = flag(
        (2, 4, 8, 16, 32, 64),
        "widths of the trained one-hidden-layer ReLU networks",
        type=cli.int_list,
    )
    deep_widths: tuple[int, ...] = flag(
        (2, 4, 8), "units per layer of the trained deep-narrow ReLU networks", type=cli.int_list
    )
    threshold: float = flag(
        0.1,
        "test RMS error over the target's std that counts as reached, in (0, 1)",
        type=cli.positive_float,
    )
    region_width: int = flags.count(
        16, "units per layer of the random deep networks whose regions are counted"
    )
    region_depths: tuple[int, ...] = flag(
        (1, 2, 3, 4, 6, 8),
        "depths of the random networks whose regions are counted",
        type=cli.int_list,
    )
    region_input_dim: int = flags.count(
        4, "input dimension of the random networks whose regions are counted"
    )
    region_nets: int = flags.count(8, "random networks per depth whose regions are counted")

    @classmethod
    def tiny(cls, **overrides) -> DepthConfig:
        """Seconds, for tests: two seeds, few steps, the smallest sizes."""
        defaults = dict(
            seeds=2,
            steps=50,
            cybenko_widths=(2, 8),
            spn_inputs=(4, 16),
            trained_spn_inputs=(4,),
            sawtooth_ks=(1, 2),
            shallow_widths=(2, 4),
            deep_widths=(2,),
            region_width=4,
            region_depths=(1, 2),
            region_nets=2,
        )
        return cls(**{**defaults, **overrides})

    def __post_init__(self):
        if problems := self.problems():
            raise UsageError("; ".join(problems))

    def problems(self) -> list[str]:
        """What is wrong with these values, one line each (empty when nothing is)."""
        out = []
        for n in (*self.spn_inputs, *self.trained_spn_inputs):
            if not is_power_of_four(n):
                out.append(f"sum-product inputs must be powers of 4 (4, 16, 64, ...), got {n}")
        if max(self.spn_inputs) > 256:
            out.append("expanding F beyond n = 256 needs 2^31 monomials; use n <= 256")
        if max(self.trained_spn_inputs) > 64:
            out.append("trained sum-product inputs above 64 are out of this study's budget")
        if max(self.sawtooth_ks) > 12:
            out.append("sawtooth k above 12 has more pieces than the 4096-point training grid")
        if not 0 < self.threshold < 1:
            out.append(f"threshold must be in (0, 1), got {self.threshold}")
        if not self.lr > 0:
            out.append(f"learning rate must be > 0, got {self.lr}")
        return out


def is_power_of_four(n: int) -> bool:
    return n >= 4 and n & (n - 1) == 0 and int(math.log2(n)) % 2 == 0


# ----------------------------------------------------------------------------- part 1: Cybenko


TARGETS = {
    "smooth: sin(πx)": lambda x: jnp.sin(jnp.pi * x),
    "kink: |x|": jnp.abs,
    "oscillating: sin(8πx)·(1 - x²)": lambda x: jnp.sin(8 * jnp.pi * x) * (1 - x**2),
}


def _sigmoid_net(params, mask, x):
    """Σ_j mask_j c_j σ(w_j x + b_j) + d. x [P] -> [P]; params w, b, c [W]; d []."""
    h = jax.nn.sigmoid(x[:, None] * params["w"][None, :] + params["b"][None, :])  # [P, W]
    return h @ (params["c"] * mask) + params["d"]


def _init_sigmoid(key, width, max_width: int):
    """Kinks spread over [-1, 1] (b = -w·u, u uniform) so no unit starts saturated everywhere;
    steep slopes (std 10) because a kink or eight oscillations need sharp sigmoids."""
    kw, ku, kc = jax.random.split(key, 3)
    w = 10.0 * jax.random.normal(kw, (max_width,))
    u = jax.random.uniform(ku, (max_width,), minval=-1.0, maxval=1.0)
    c = jax.random.normal(kc, (max_width,)) / jnp.sqrt(width)
    mask = (jnp.arange(max_width) < width).astype(jnp.float32)
    return {"w": w, "b": -w * u, "c": c, "d": jnp.zeros(())}, mask


def _adam_fit(loss_fn, params, steps: int, lr: float):
    """Full-batch Adam for ``steps`` steps in one ``lax.scan``; returns the final params."""
    opt = optax.adam(lr)

    def step(carry, _):
        params, state = carry
        grads = jax.grad(loss_fn)(params)
        updates, state = opt.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    return params


def fit_one_hidden_layer(key, widths: Sequence[int], *, seeds: int, steps: int, lr: float):
    """Fit every target in ``TARGETS`` with one hidden layer of sigmoid units per width and seed.

    Trains on 512 evenly spaced points of [-1, 1] (the question is approximation, not
    generalization) and measures on 4001 points. One jitted call: targets × widths × seeds are
    vmapped, every network padded to max(widths) units with the unused ones masked.
    Returns ``{target: {"max_error": [len(widths), seeds], "rms_error": [...]}}`` as numpy.
    """
    max_err, rms_err = _fit_sigmoid_grid(
        key,
        jnp.asarray(widths),
        jnp.arange(seeds, dtype=jnp.uint32),
        max_width=max(widths),
        steps=steps,
        lr=lr,
    )
    return {
        name: {"max_error": np.asarray(max_err[i]), "rms_error": np.asarray(rms_err[i])}
        for i, name in enumerate(TARGETS)
    }


@functools.partial(jax.jit, static_argnames=("max_width", "steps", "lr"))
def _fit_sigmoid_grid(key, widths, seeds, *, max_width: int, steps: int, lr: float):
    """(max error, RMS error), each [targets, widths, seeds]."""
    train_x = jnp.linspace(-1.0, 1.0, 512)
    grid_x = jnp.linspace(-1.0, 1.0, 4001)

    def one(target_index, width, seed):
        target = lambda x: jax.lax.switch(target_index, list(TARGETS.values()), x)  # noqa: E731
        params, mask = _init_sigmoid(jax.random.fold_in(key, seed), width, max_width)
        train_y = target(train_x)
        loss = lambda p: jnp.mean((_sigmoid_net(p, mask, train_x) - train_y) ** 2)  # noqa: E731
        params = _adam_fit(loss, params, steps, lr)
        err = jnp.abs(_sigmoid_net(params, mask, grid_x) - target(grid_x))
        return jnp.max(err), jnp.sqrt(jnp.mean(err**2))

    per_seed = jax.vmap(one, (None, None, 0))
    per_width = jax.vmap(per_seed, (None, 0, None))
    return jax.vmap(per_width, (0, None, None))(jnp.arange(len(TARGETS)), widths, seeds)


# ----------------------------------------------------------------------------- part 2: family F


def spn_weights(key, n: int) -> list[jnp.ndarray]:
    """Positive (λ, μ) for every sum unit of F on n inputs: one [units, 2] array per sum layer,
    from the input side. Drawn in [0.5, 1.5] so no term vanishes or dominates."""
    assert is_power_of_four(n), n
    layers = int(math.log2(n))
    sizes = [n >> (layer + 1) for layer in range(1, layers, 2)]  # sum layers are 2, 4, ...
    keys = jax.random.split(key, len(sizes))
    return [
        jax.random.uniform(k, (s, 2), minval=0.5, maxval=1.5)
        for k, s in zip(keys, sizes, strict=True)
    ]


def deep_spn(weights: Sequence[jnp.ndarray], x: jnp.ndarray) -> jnp.ndarray:
    """The deep network of F: x [B, n] -> [B]. Layers alternate product, sum, product, ...,
    each unit taking two neighbouring units below; n - 1 units in log2(n) layers."""
    h = x
    for w in weights:
        h = jnp.prod(h.reshape(h.shape[0], -1, 2), axis=-1)  # product layer  [B, m/2]
        h = jnp.sum(h.reshape(h.shape[0], -1, 2) * w[None], axis=-1)  # sum layer  [B, m/4]
    return h[:, 0]


def spn_deep_units(n: int) -> int:
    return n - 1


def expand_spn(weights: Sequence[np.ndarray], n: int) -> dict[tuple[int, ...], float]:
    """The depth-2 form of ``deep_spn``: a polynomial {sorted input indices: coefficient}.

    Plain Python, layer by layer: a product of two polynomials multiplies every pair of terms
    (their inputs are disjoint, so the monomials stay distinct), a sum scales and merges them.
    Each monomial is one product unit of the depth-2 network; one sum unit adds them up.
    """
    polys = [{(i,): 1.0} for i in range(n)]
    for w in weights:
        w = np.asarray(w, np.float64)
        polys = [_times(polys[2 * j], polys[2 * j + 1]) for j in range(len(polys) // 2)]
        polys = [
            _plus(polys[2 * j], polys[2 * j + 1], w[j, 0], w[j, 1]) for j in range(len(polys) // 2)
        ]
    (poly,) = polys
    return poly


def _times(p: dict, q: dict) -> dict:
    out: dict = {}
    for mp, cp in p.items():
        for mq, cq in q.items():
            m = tuple(sorted(mp + mq))
            out[m] = out.get(m, 0.0) + cp * cq
    return out


def _plus(p: dict, q: dict, lam: float, mu: float) -> dict:
    out = {m: lam * c for m, c in p.items()}
    for m, c in q.items():
        out[m] = out.get(m, 0.0) + mu * c
    return out


def evaluate_polynomial(poly: dict[tuple[int, ...], float], x: np.ndarray) -> np.ndarray:
    """Σ_monomials coefficient · Π_{i in monomial} x_i, in float64. x [B, n] -> [B]."""
    x = np.asarray(x, np.float64)
    monomials = np.asarray(list(poly))  # [M, degree]: every monomial of F has the same degree
    coefficients = np.asarray(list(poly.values()))  # [M]
    return np.prod(x[:, monomials], axis=-1) @ coefficients


def spn_table(key, inputs: Sequence[int], *, checks: int = 16) -> list[dict]:
    """Per n: units of the deep network, product units of its expansion, 2^(√n - 1), and the
    largest relative gap between the two forms on ``checks`` random inputs in [0.5, 1.5]^n."""
    rows = []
    for n in inputs:
        wkey, xkey = jax.random.split(jax.random.fold_in(key, n))
        weights = spn_weights(wkey, n)
        poly = expand_spn(weights, n)
        x = jax.random.uniform(xkey, (checks, n), minval=0.5, maxval=1.5)
        deep = np.asarray(jax.jit(deep_spn)(weights, x), np.float64)
        shallow = evaluate_polynomial(poly, np.asarray(x))
        rows.append(
            {
                "n": n,
                "depth": int(math.log2(n)),
                "deep_units": spn_deep_units(n),
                "shallow_product_units": len(poly),
                "shallow_units": len(poly) + 1,  # plus the output sum unit
                "predicted_2^(sqrt(n)-1)": 2 ** (math.isqrt(n) - 1),
                "max_relative_gap": float(np.max(np.abs(deep - shallow) / np.abs(shallow))),
            }
        )
    return rows


# ----------------------------------------------------------------------------- part 3: training


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
        params = _adam_fit(loss, params, steps, lr)
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


# ----------------------------------------------------------------------------- part 4: regions


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
    """cybenko.png, spn_units.png, trained_sizes.png and regions.png from the results."""
    cybenko, trained = results["cybenko"], results["trained"]
    save_figure(plots.plot_cybenko(cybenko["widths"], cybenko["fits"]), out / "cybenko.png")
    save_figure(plots.plot_spn_units(results["spn"]), out / "spn_units.png")
    fig = plots.plot_trained_sizes(trained["rows"], trained["threshold"])
    save_figure(fig, out / "trained_sizes.png")
    save_figure(plots.plot_regions(results["regions"]), out / "regions.png")
