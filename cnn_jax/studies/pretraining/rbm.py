"""A Bernoulli restricted Boltzmann machine trained by contrastive divergence (CD-k), and a
greedy stack of them (Hinton, Osindero & Teh 2006).

Binary visible units v [V] and hidden units h [H], energy

    E(v, h) = −vᵀb − hᵀc − vᵀWh,      p(v, h) = e^{−E(v, h)} / Z,

so the hidden units are independent given v, p(h_j = 1 | v) = σ(c_j + (vW)_j), and the same
the other way, p(v_i = 1 | h) = σ(b_i + (Wh)_i). Summing h out gives the free energy

    F(v) = −log Σ_h e^{−E(v, h)} = −vᵀb − Σ_j softplus(c_j + (vW)_j),   p(v) = e^{−F(v)} / Z.

The log-likelihood gradient is a data term minus a model term,
∂ log p(v)/∂W = v·p(h|v)ᵀ − E_model[v hᵀ]; CD-k replaces the model's expectation by the
statistics after k steps of Gibbs sampling started at the data. Training follows Hinton's
"A Practical Guide to Training RBMs" (2010): hidden states sampled while driving the chain,
visible reconstructions as probabilities (``sample_visible=False``), probabilities for the
final hidden statistics, momentum 0.5 then 0.9, weight decay on the weights only, weights
drawn N(0, 0.01²), visible biases log(p/(1 − p)) of the data's pixel means, hidden biases 0.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from cnn_jax.training.batches import epoch_batches


class RBMParams(NamedTuple):
    """weights [V, H], visible_bias [V], hidden_bias [H] (any leading axes, e.g. seeds)."""

    weights: jax.Array
    visible_bias: jax.Array
    hidden_bias: jax.Array


@dataclasses.dataclass(frozen=True)
class RBMTraining:
    """Mini-batch CD-k with momentum and weight decay (the guide's defaults)."""

    epochs: int = 5
    batch_size: int = 20
    lr: float = 0.05
    k: int = 1
    momentum: float = 0.5  # for the first ``momentum_switch`` epochs
    final_momentum: float = 0.9
    momentum_switch: int = 5
    weight_decay: float = 2e-4  # L2 on the weights, in the update as lr·(grad − decay·W)
    sample_visible: bool = False

    def __post_init__(self):
        if min(self.epochs, self.batch_size, self.k) < 1 or self.lr <= 0:
            raise ValueError(f"epochs, batch_size, k must be >= 1 and lr > 0: {self}")


# ----------------------------------------------------------------------------- the model


def init_rbm(key: jax.Array, visible: int, hidden: int, data: jax.Array | None = None) -> RBMParams:
    """Weights N(0, 0.01²); visible biases log(p/(1 − p)) of data [N, V]'s means (0 without
    data), so the untrained model already has the data's pixel marginals; hidden biases 0."""
    weights = 0.01 * jax.random.normal(key, (visible, hidden))
    if data is None:
        visible_bias = jnp.zeros((visible,))
    else:
        p = jnp.clip(jnp.mean(data, axis=0), 1e-3, 1 - 1e-3)
        visible_bias = jnp.log(p / (1 - p))
    return RBMParams(weights, visible_bias, jnp.zeros((hidden,)))


def energy(params: RBMParams, v: jax.Array, h: jax.Array) -> jax.Array:
    """E(v, h) for v [..., V], h [..., H] -> [...]."""
    return (
        -(v @ params.visible_bias)
        - (h @ params.hidden_bias)
        - jnp.sum((v @ params.weights) * h, -1)
    )


def free_energy(params: RBMParams, v: jax.Array) -> jax.Array:
    """F(v) = −log Σ_h e^{−E(v, h)} for v [..., V] -> [...]."""
    return -(v @ params.visible_bias) - jnp.sum(
        jax.nn.softplus(add_bias(v @ params.weights, params.hidden_bias)), -1
    )


def hidden_probs(params: RBMParams, v: jax.Array) -> jax.Array:
    """p(h = 1 | v): [..., V] -> [..., H]."""
    return jax.nn.sigmoid(add_bias(v @ params.weights, params.hidden_bias))


def visible_probs(params: RBMParams, h: jax.Array) -> jax.Array:
    """p(v = 1 | h): [..., H] -> [..., V]."""
    return jax.nn.sigmoid(add_bias(h @ params.weights.T, params.visible_bias))


def add_bias(z: jax.Array, bias: jax.Array) -> jax.Array:
    """z [..., n] + bias [n], broadcast explicitly (the tests forbid implicit rank promotion)."""
    return z + bias.reshape((1,) * (z.ndim - 1) + bias.shape)


def bernoulli(key: jax.Array, probs: jax.Array) -> jax.Array:
    """Binary samples (float) with the given probabilities."""
    return jax.random.bernoulli(key, probs).astype(probs.dtype)


def gibbs_chain(params: RBMParams, v0: jax.Array, key: jax.Array, *, k: int, sample_visible: bool):
    """k steps v → h → v from the data v0 [B, V]; returns (v_k [B, V], p(h | v_k) [B, H]).

    Hidden states are sampled (they carry at most one bit to the reconstruction); the
    visible reconstruction is its probability unless ``sample_visible``."""

    def step(v, step_key):
        h_key, v_key = jax.random.split(step_key)
        h = bernoulli(h_key, hidden_probs(params, v))
        pv = visible_probs(params, h)
        return (bernoulli(v_key, pv) if sample_visible else pv), None

    vk, _ = jax.lax.scan(step, v0, jax.random.split(key, k))
    return vk, hidden_probs(params, vk)


def statistics(v: jax.Array, ph: jax.Array) -> RBMParams:
    """Batch means of (v hᵀ, v, h): the sufficient statistics, in the shape of RBMParams."""
    return RBMParams(v.T @ ph / v.shape[0], jnp.mean(v, 0), jnp.mean(ph, 0))


def cd_gradient(
    params: RBMParams, v0: jax.Array, key: jax.Array, *, k: int = 1, sample_visible: bool = False
) -> RBMParams:
    """The CD-k estimate of ∂ mean_x log p(v_x)/∂θ on the batch v0 [B, V] (an ascent
    direction): data statistics minus the statistics after k Gibbs steps."""
    vk, phk = gibbs_chain(params, v0, key, k=k, sample_visible=sample_visible)
    positive = statistics(v0, hidden_probs(params, v0))
    negative = statistics(vk, phk)
    return jax.tree.map(jnp.subtract, positive, negative)


def reconstruction_error(params: RBMParams, v: jax.Array) -> jax.Array:
    """Mean over images of Σ_i (v_i − p(v_i | h))², h = p(h | v) (deterministic; the guide's
    rough progress measure, not the likelihood)."""
    recon = visible_probs(params, hidden_probs(params, v))
    return jnp.mean(jnp.sum((v - recon) ** 2, -1))


# ----------------------------------------------------------------------------- training


def train_rbm(params: RBMParams, data: jax.Array, key: jax.Array, training: RBMTraining):
    """Train on data [N, V] (values in [0, 1], used as probabilities) with mini-batch CD-k.

    Each epoch shuffles with ``permutation(fold_in(key, epoch))`` and drops the last partial
    batch; a step is velocity ← m·velocity + lr·(CD-k gradient − decay·W on the weights),
    θ ← θ + velocity. Returns (params, reconstruction error before training and after each
    epoch [epochs + 1])."""
    return _train_rbm(params, data, key, training=training)


@functools.partial(jax.jit, static_argnames=("training",))
def _train_rbm(params, data, key, *, training: RBMTraining):
    t = training
    n = data.shape[0]
    steps = n // t.batch_size
    shuffle_key, chain_key = jax.random.split(key)

    def step(carry, inputs):
        p, velocity = carry
        index, batch, momentum = inputs
        grad = cd_gradient(
            p,
            data[batch],
            jax.random.fold_in(chain_key, index),
            k=t.k,
            sample_visible=t.sample_visible,
        )
        grad = grad._replace(weights=grad.weights - t.weight_decay * p.weights)
        velocity = jax.tree.map(lambda u, g: momentum * u + t.lr * g, velocity, grad)
        return (jax.tree.map(jnp.add, p, velocity), velocity), None

    def epoch(carry, e):
        batches = epoch_batches(shuffle_key, e, n, t.batch_size)
        momentum = jnp.where(e < t.momentum_switch, t.momentum, t.final_momentum)
        inputs = (e * steps + jnp.arange(steps), batches, jnp.full((steps,), momentum))
        carry, _ = jax.lax.scan(step, carry, inputs)
        return carry, reconstruction_error(carry[0], data)

    before = reconstruction_error(params, data)
    velocity = jax.tree.map(jnp.zeros_like, params)
    (params, _), errors = jax.lax.scan(epoch, (params, velocity), jnp.arange(t.epochs))
    return params, jnp.concatenate([before[None], errors])


def train_stack(
    data: jax.Array, key: jax.Array, hidden: tuple[int, ...], training: RBMTraining
) -> tuple[list[RBMParams], list[jax.Array]]:
    """Greedy layer-wise: RBM l is trained on p(h | ·) of RBM l − 1, the first on data
    [N, V]. Returns (one RBMParams per layer, reconstruction error per epoch per layer)."""
    stack, errors = [], []
    x = data
    for layer, width in enumerate(hidden):
        params, err = train_layer(x, key, layer, width, training)
        stack.append(params)
        errors.append(err)
        x = hidden_probs(params, x)
    return stack, errors


def train_layer(
    x: jax.Array, key: jax.Array, layer: int, width: int, training: RBMTraining
) -> tuple[RBMParams, jax.Array]:
    """Layer ``layer`` (0-based) of :func:`train_stack`: an RBM of ``width`` hidden units
    drawn and trained on x [N, V] with keys from ``fold_in(key, layer)``."""
    init_key, train_key = jax.random.split(jax.random.fold_in(key, layer))
    params = init_rbm(init_key, x.shape[-1], width, x)
    return train_rbm(params, x, train_key, training)


# ----------------------------------------------------------------------------- exact (small)


def all_states(n: int) -> jax.Array:
    """Every binary vector of length n: [2ⁿ, n] (for enumeration on tiny models)."""
    bits = (jnp.arange(2**n)[:, None] >> jnp.arange(n)[None, :]) & 1
    return bits.astype(jnp.float32)


def exact_log_likelihood(params: RBMParams, v: jax.Array) -> jax.Array:
    """mean over v [B, V] of log p(v), with Z summed over every visible state."""
    log_z = jax.nn.logsumexp(-free_energy(params, all_states(params.weights.shape[0])))
    return jnp.mean(-free_energy(params, v)) - log_z


def model_statistics(params: RBMParams) -> RBMParams:
    """E_model[(v hᵀ, v, h)] exactly, by enumerating every visible state."""
    states = all_states(params.weights.shape[0])
    p = jax.nn.softmax(-free_energy(params, states))  # p(v) [2^V]
    ph = hidden_probs(params, states)
    return RBMParams(jnp.einsum("s,si,sj->ij", p, states, ph), p @ states, p @ ph)


def exact_cd1_expectation(params: RBMParams, v0: jax.Array, *, sample_visible: bool) -> RBMParams:
    """E[CD-1 estimate] for the batch v0 [B, V], exactly: the hidden sample h0 enumerated
    over all 2^H states, and v1 over all 2^V states when ``sample_visible``."""
    hs = all_states(params.weights.shape[1])  # [2^H, H]
    ph0 = hidden_probs(params, v0)  # [B, H]
    p_h = jnp.prod(jnp.where(hs[None] > 0, ph0[:, None], 1 - ph0[:, None]), -1)  # [B, 2^H]
    pv = visible_probs(params, hs)  # [2^H, V]
    if sample_visible:
        vs = all_states(params.weights.shape[0])  # [2^V, V]
        p_v = jnp.prod(jnp.where(vs[None] > 0, pv[:, None], 1 - pv[:, None]), -1)  # [2^H, 2^V]
        weight = p_h @ p_v  # [B, 2^V]: p(v1 | v0)
        v1 = vs
    else:
        weight, v1 = p_h, pv  # v1 is the probability vector of h0
    ph1 = hidden_probs(params, v1)
    b = v0.shape[0]
    negative = RBMParams(
        jnp.einsum("bs,si,sj->ij", weight, v1, ph1) / b,
        jnp.sum(weight @ v1, 0) / b,
        jnp.sum(weight @ ph1, 0) / b,
    )
    return jax.tree.map(jnp.subtract, statistics(v0, ph0), negative)
