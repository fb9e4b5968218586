"""Part 2: Delalleau & Bengio's family F, a deep sum-product network and its expansion."""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax.studies.depth.config import is_power_of_four


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
