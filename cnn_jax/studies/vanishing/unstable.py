"""The unstable gradient on a chain of sigmoid neurons: when each link |w·σ'(z)| is below 1
the gradient vanishes toward the input, when it is above 1 it explodes.

With a_0 = x, z_j = w_j·a_(j−1) + b_j, a_j = σ(z_j), the cost's gradient at layer j is

    ∂C/∂b_j = σ'(z_j) · Π_{k>j} w_k·σ'(z_k) · ∂C/∂a_L,

so ∂C/∂b_j = w_(j+1)·σ'(z_j) · ∂C/∂b_(j+1): each layer toward the input multiplies the
gradient by one such factor, w·σ'(z) when every layer has the same w and z.
``exploding_chain`` builds Nielsen's chapter 5 example: every weight w, every bias chosen so
that z_j = 0, where σ'(0) = 1/4 is largest, so each layer nearer the input gets w/4 times
the gradient of the next.

Run ``python -m cnn_jax.studies.vanishing.unstable`` to print the measured case.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from cnn_jax.nn.models import ChainNet


def exploding_chain(w: float, depth: int = 4, x: float = 0.5) -> tuple[dict, jax.Array]:
    """ChainNet parameters with every weight ``w`` and every z_j = 0 at input ``x``:
    b_1 = −w·x, then b_j = −w·σ(0) = −w/2. Returns (params, x [1, 1])."""
    biases = [-w * x] + [-w * 0.5] * (depth - 1)
    params = {
        f"dense{j + 1}": {
            "kernel": jnp.full((1, 1), w, jnp.float32),
            "bias": jnp.full((1,), b, jnp.float32),
        }
        for j, b in enumerate(biases)
    }
    return params, jnp.full((1, 1), x, jnp.float32)


def bias_gradients(params: dict, x: jax.Array, depth: int) -> jax.Array:
    """|∂C/∂b_j| for j = 1..depth by autodiff, C = a_L (the output itself): [depth]."""
    model = ChainNet(depth=depth)

    def cost(p):
        return jnp.sum(jax.nn.sigmoid(model.apply({"params": p}, x)))

    grads = jax.grad(cost)(params)
    return jnp.abs(jnp.stack([grads[f"dense{j + 1}"]["bias"][0] for j in range(depth)]))


def unstable_width(w: float) -> float:
    """Width of the set of inputs a with |w·σ'(w·a + b)| ≥ 1, for any b (0 when |w| < 4).

    With s = σ(z), σ'(z) = s(1 − s) ≤ 1/4, so |w|·s(1 − s) ≥ 1 needs |w| ≥ 4 and holds for
    s between the roots s± = (1 ± √(1 − 4/|w|))/2 of s² − s + 1/|w| = 0. In z that is
    the interval between logit(s−) and logit(s+) = −logit(s−), of width 2·ln(s+/s−); in
    a = (z − b)/w it is |w| times narrower: (2/|w|)·ln(|w|·s+ − 1), since s+·s− = 1/|w| and
    s+ + s− = 1 give s+/s− = |w|·s+² = |w|·s+ − 1. Nielsen's chapter 5 problem: the width
    is largest, about 0.45, near |w| ≈ 6.9.
    """
    w = abs(w)
    if w < 4:
        return 0.0
    return (2 / w) * math.log(w * (1 + math.sqrt(1 - 4 / w)) / 2 - 1)


def main() -> None:
    depth = 4
    for w in (100.0, 8.0, 1.0):
        params, x = exploding_chain(w, depth)
        g = bias_gradients(params, x, depth)
        ratios = " ".join(
            f"{float(g[j] / g[j + 1]):.3g}" if g[j + 1] else "0/0" for j in range(depth - 1)
        )
        grads = " ".join(f"{float(v):.4g}" for v in g)
        print(f"w = {w:g}: |dC/db_1..{depth}| = {grads}; layer j over j+1: {ratios}")
    print(
        "widest range of a with |w·σ'(wa + b)| ≥ 1: "
        + ", ".join(f"w = {w:g}: {unstable_width(w):.3f}" for w in (4.5, 6.9, 20.0, 100.0))
    )


if __name__ == "__main__":
    main()
