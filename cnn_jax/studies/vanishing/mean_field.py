"""Mean-field theory of signal propagation at initialisation (Poole et al. 2016;
Schoenholz et al. 2017): how fast gradients shrink per layer, predicted without training.

A wide network with weights W ~ N(0, σ_w²/N) and biases b ~ N(0, σ_b²) carries
pre-activations z ~ N(0, q) whose variance follows the length map

    q ← σ_w² · E_z[φ(√q·z)²] + σ_b²,    z ~ N(0, 1),

to a fixed point q*. Backpropagated errors then scale per layer by

    χ1 = σ_w² · E_z[φ'(√q*·z)²]

in squared norm, so ‖δˡ‖ shrinks by 1/√χ1 per layer toward the input (χ1 < 1:
vanishing; χ1 = 1: critical). Expectations use Gauss–Hermite quadrature.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax.nn.models import ACTIVATIONS

# An even number of nodes keeps z = 0 off the grid: ReLU's kink sits there, and with
# symmetric nodes E[1{z>0}] is then exactly 1/2.
QUADRATURE_NODES = 100


def _activation(activation: str | Callable) -> Callable:
    if callable(activation):
        return activation
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[activation]


def gaussian_expectation(f: Callable, n: int = QUADRATURE_NODES) -> float:
    """E_{z~N(0,1)}[f(z)] by n-point Gauss–Hermite (probabilists') quadrature.

    ``f`` maps an array of nodes [n] to values [n]. Exact for polynomials of degree < 2n.
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)  # weights sum to √(2π)
    values = np.asarray(f(jnp.asarray(nodes, jnp.float32)), np.float64)
    return float(np.sum(weights * values) / math.sqrt(2.0 * math.pi))


def length_map(q: float, activation: str | Callable, sigma_w2: float, sigma_b2: float) -> float:
    """One step of q ← σ_w²·E[φ(√q·z)²] + σ_b²."""
    phi = _activation(activation)
    return sigma_w2 * gaussian_expectation(lambda z: phi(math.sqrt(q) * z) ** 2) + sigma_b2


def fixed_point_q(
    activation: str | Callable,
    sigma_w2: float,
    sigma_b2: float,
    *,
    q0: float = 1.0,
    tol: float = 1e-9,
    max_iter: int = 10_000,
) -> float:
    """The fixed point q* of :func:`length_map`, iterated from ``q0``.

    Raises ValueError when the iteration diverges or does not settle (e.g. ReLU with
    σ_w² > 2, whose q grows without bound).
    """
    q = float(q0)
    for _ in range(max_iter):
        new = length_map(q, activation, sigma_w2, sigma_b2)
        if not math.isfinite(new) or new > 1e12:
            raise ValueError(f"length map diverges for σ_w²={sigma_w2}, σ_b²={sigma_b2}")
        if abs(new - q) <= tol * max(1.0, abs(q)):
            return new
        q = new
    raise ValueError(f"length map did not settle in {max_iter} steps (last q = {q:.6g})")


def chi1(
    activation: str | Callable, sigma_w2: float, sigma_b2: float, *, q: float | None = None
) -> float:
    """χ1 = σ_w²·E[φ'(√q*·z)²]: the per-layer factor on ‖δ‖² at the fixed point q*
    (or at ``q`` if given)."""
    phi = _activation(activation)
    if q is None:
        q = fixed_point_q(phi, sigma_w2, sigma_b2)
    dphi = jax.vmap(jax.grad(phi))
    return sigma_w2 * gaussian_expectation(lambda z: dphi(math.sqrt(q) * z) ** 2)


def predicted_shrink(activation: str | Callable, sigma_w2: float, sigma_b2: float) -> float:
    """1/√χ1: by how much ‖δˡ‖ shrinks per layer toward the input (about 4.9 for
    sigmoid with σ_w² = σ_b² = 1, Nielsen's init; 1 for ReLU with σ_w² = 2)."""
    return 1.0 / math.sqrt(chi1(activation, sigma_w2, sigma_b2))


# ----------------------------------------------------------------------------- across examples
# Nielsen's ‖δˡ‖ is the norm of the mean over examples, ‖(1/n)Σ_a δˡ_a‖² = (1/n²)Σ_ab δˡ_a·δˡ_b,
# so it follows the cross terms: δˡ_a·δˡ_b scales per layer by χ_c = σ_w²·E[φ'(u_a)φ'(u_b)]
# with (u_a, u_b) at correlation cˡ. That is χ1 when the examples look alike (c = 1, as
# in sigmoid nets with σ_b² = 1) but less where they differ (ReLU: (π − arccos c)/2π·σ_w²).


def _pair_expectation(f: Callable, g: Callable, q: float, c: float, n: int) -> float:
    """E[f(u_a)·g(u_b)], u ~ N(0, q·[[1, c], [c, 1]]), by an n × n Gauss–Hermite grid."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    z1, z2 = np.meshgrid(nodes, nodes, indexing="ij")
    w = np.outer(weights, weights) / (2.0 * math.pi)
    u_a = math.sqrt(q) * z1
    u_b = math.sqrt(q) * (c * z1 + math.sqrt(max(0.0, 1.0 - c * c)) * z2)
    fa = np.asarray(f(jnp.asarray(u_a.ravel(), jnp.float32)), np.float64).reshape(u_a.shape)
    gb = np.asarray(g(jnp.asarray(u_b.ravel(), jnp.float32)), np.float64).reshape(u_b.shape)
    return float(np.sum(w * fa * gb))


def correlation_map(
    c: float,
    q: float,
    activation: str | Callable,
    sigma_w2: float,
    sigma_b2: float,
    *,
    n: int = 2 * QUADRATURE_NODES,
) -> tuple[float, float]:
    """(q, c) of layer l -> (q, c) of layer l+1 for two examples of equal length q."""
    phi = _activation(activation)
    q_next = length_map(q, phi, sigma_w2, sigma_b2)
    cov = sigma_w2 * _pair_expectation(phi, phi, q, c, n) + sigma_b2
    return q_next, cov / q_next


def chi_c(
    c: float,
    q: float,
    activation: str | Callable,
    sigma_w2: float,
    *,
    n: int = 2 * QUADRATURE_NODES,
) -> float:
    """σ_w²·E[φ'(u_a)φ'(u_b)] at variance q and correlation c: the per-layer factor on
    δ_a·δ_b (χ1 at c = 1)."""
    dphi = jax.vmap(jax.grad(_activation(activation)))
    return sigma_w2 * _pair_expectation(dphi, dphi, q, c, n)


def input_moments(x) -> tuple[float, float]:
    """x [N, D] -> (mean ‖x‖²/D, mean cosine between distinct examples)."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    q = float(np.mean(np.sum(x * x, axis=1)) / x.shape[1])
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    total = np.sum(unit, axis=0)
    pairs = (total @ total - len(x)) / (len(x) * (len(x) - 1))  # mean over a != b
    return q, float(pairs)


def predicted_layer_shrinks(
    activation: str | Callable,
    sigma_w2: float,
    sigma_b2: float,
    q_x: float,
    c_x: float,
    hidden: int,
) -> dict[str, list[float]]:
    """Per-layer shrink of ‖δ‖ toward the input through ``hidden`` hidden layers, from the
    inputs' moments (:func:`input_moments`): ``per_example`` 1/√χ1 (norm, then mean) and
    ``mean`` 1/√χ_c (mean over examples, then norm, Nielsen's), for each pair of layers
    (1, 2), ..., (hidden − 1, hidden): the factor at the lower layer's pre-activations."""
    phi = _activation(activation)
    q = sigma_w2 * q_x + sigma_b2  # layer 1's pre-activations
    c = (sigma_w2 * q_x * c_x + sigma_b2) / q
    per_example, mean = [], []
    for _ in range(hidden - 1):
        per_example.append(1.0 / math.sqrt(chi1(phi, sigma_w2, sigma_b2, q=q)))
        mean.append(1.0 / math.sqrt(chi_c(c, q, phi, sigma_w2)))
        q, c = correlation_map(c, q, phi, sigma_w2, sigma_b2)
    return {"per_example": per_example, "mean": mean}


# (σ_w², σ_b²) of each init in cnn_jax.nn.models, as mean-field parameters: the weight
# variance times fan-in, and the bias variance. Glorot is fan-in-and-out, so only
# equal-width layers map onto σ_w² = 1.
INIT_VARIANCES: dict[str, tuple[float, float]] = {
    "nielsen": (1.0, 1.0),
    "he": (2.0, 0.0),
    "glorot": (1.0, 0.0),
}
