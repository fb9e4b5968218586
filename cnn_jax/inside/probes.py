"""How much of the digit each layer's features hold, and how alike the layers are.

Per layer, on the frozen, flattened output of :func:`cnn_jax.inside.layers.layer_outputs`:

- :func:`fit_linear_probe`: multinomial logistic regression (softmax on ``x·W + b``) with
  an L2 penalty ``λ·Σw²``, trained full-batch with Adam in one jitted ``lax.scan`` on
  training images and evaluated on test images. Features are centred with the training
  images' mean and divided by one number per layer, their RMS deviation, so one learning
  rate and one λ fit every layer; one number (not a std per feature) keeps the layer's
  geometry and does not blow up a near-constant feature (a border pixel, a dead unit).
- :func:`nearest_mean_accuracy`: each test image goes to the class whose mean training
  feature vector is nearest (Euclidean).
- :func:`class_separation`: tr(S_between) / tr(S_within) in the top principal components,
  S_between = Σ_c n_c (μ_c − μ)(μ_c − μ)ᵀ, S_within = Σ_i (z_i − μ_{y_i})(z_i − μ_{y_i})ᵀ.
  Large: the classes are far apart for their spread; about (C − 1)/(n − C) for noise.
- :func:`pca`: principal components by the SVD of the centred features.
- :func:`linear_cka`: Kornblith et al. (2019), ‖Yᵀ X‖²_F / (‖Xᵀ X‖_F ‖Yᵀ Y‖_F) for centred
  X [n, p], Y [n, q]; computed from the n×n Gram matrices K = XXᵀ, L = YYᵀ as
  ⟨K, L⟩ / (‖K‖ ‖L‖), which is cheap when p, q ≫ n (a conv layer).

:func:`probe_network` runs all of them over every layer of one network.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cnn_jax.inside import layers

NUM_CLASSES = 10

DEFINITIONS = {
    "probe_train_accuracy": "linear probe (L2-regularized softmax regression on the "
    "centred, flattened features, scaled by one number per layer) accuracy on the training "
    "images it was fitted on",
    "probe_test_accuracy": "the same probe's accuracy on the test images",
    "nearest_mean_accuracy": "test images assigned to the class whose mean training "
    "feature vector is nearest (Euclidean)",
    "separation": "between-class over within-class scatter (traces) of the test features "
    "in their top principal components",
    "dimension": "number of features of the flattened layer output",
}


def flatten(x: jax.Array) -> jax.Array:
    """[B, ...] -> [B, D] float32."""
    return jnp.asarray(x, jnp.float32).reshape(x.shape[0], -1)


# ----------------------------------------------------------------------------- linear probe


@functools.partial(jax.jit, static_argnames=("steps", "num_classes"))
def fit_linear_probe(
    train_x: jax.Array,
    train_y: jax.Array,
    test_x: jax.Array,
    test_y: jax.Array,
    *,
    l2: float = 1e-4,
    lr: float = 1e-2,
    steps: int = 200,
    num_classes: int = NUM_CLASSES,
) -> dict[str, jax.Array]:
    """Fit softmax(x·W + b) to ``train_x`` [N, D], ``train_y`` int [N]; score it on
    ``test_x`` [M, D], ``test_y`` [M].

    Loss: mean cross-entropy + ``l2``·Σ W², full batch, ``steps`` Adam steps from W = 0
    (the problem is convex, so no random start is needed). Returns train_accuracy,
    test_accuracy and the final train loss, as scalars.

    The gradient is written out, ∂/∂W = Xᵀ(softmax(XW + b) − Y)/N + 2λW, so that Xᵀ can
    be laid out once in memory: on CPU a product that contracts X's first axis (what
    autodiff builds for Xᵀ·G) reads a wide layer's features several times slower than
    one over a row-major Xᵀ, and these two products are nearly all of the probe's time.
    """
    mean = jnp.mean(train_x, axis=0, keepdims=True)  # [1, D]
    std = jnp.sqrt(jnp.mean((train_x - mean) ** 2)) + 1e-6
    xs, xt = (train_x - mean) / std, (test_x - mean) / std
    xs_t = xs.T  # [D, N], materialized once for every step's Xᵀ·G
    targets = jax.nn.one_hot(train_y, num_classes, dtype=xs.dtype)  # [N, C]
    params = {
        "w": jnp.zeros((train_x.shape[1], num_classes), jnp.float32),
        "b": jnp.zeros((num_classes,), jnp.float32),
    }
    tx = optax.adam(lr)

    def loss_and_grad(p):
        logits = xs @ p["w"] + p["b"][None, :]  # [N, C]
        log_probs = jax.nn.log_softmax(logits)
        loss = -jnp.mean(jnp.sum(targets * log_probs, axis=1)) + l2 * jnp.sum(p["w"] ** 2)
        residual = (jnp.exp(log_probs) - targets) / xs.shape[0]  # ∂loss/∂logits
        return loss, {"w": xs_t @ residual + 2 * l2 * p["w"], "b": jnp.sum(residual, axis=0)}

    def step(carry, _):
        p, opt_state = carry
        loss, grads = loss_and_grad(p)
        updates, opt_state = tx.update(grads, opt_state, p)
        return (optax.apply_updates(p, updates), opt_state), loss

    (params, _), losses = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)

    def accuracy(x, y):
        return jnp.mean(jnp.argmax(x @ params["w"] + params["b"][None, :], axis=-1) == y)

    return {
        "train_accuracy": accuracy(xs, train_y),
        "test_accuracy": accuracy(xt, test_y),
        "train_loss": losses[-1],
    }


# ----------------------------------------------------------------------------- class geometry


@functools.partial(jax.jit, static_argnames="num_classes")
def class_means(x: jax.Array, y: jax.Array, *, num_classes: int = NUM_CLASSES) -> jax.Array:
    """[C, D]: the mean of ``x`` [N, D] over each class of ``y`` [N] (0 for an absent class)."""
    one_hot = jax.nn.one_hot(y, num_classes, dtype=x.dtype)  # [N, C]
    counts = jnp.maximum(one_hot.sum(axis=0), 1.0)
    return (one_hot.T @ x) / counts[:, None]


@functools.partial(jax.jit, static_argnames="num_classes")
def nearest_mean_accuracy(
    train_x: jax.Array,
    train_y: jax.Array,
    test_x: jax.Array,
    test_y: jax.Array,
    *,
    num_classes: int = NUM_CLASSES,
) -> jax.Array:
    """Accuracy on ``test_x`` [M, D] of the nearest class mean of ``train_x`` [N, D]."""
    means = class_means(train_x, train_y, num_classes=num_classes)  # [C, D]
    # ‖x − μ‖² = ‖x‖² − 2 x·μ + ‖μ‖²; ‖x‖² is the same for every class.
    scores = 2 * test_x @ means.T - jnp.sum(means**2, axis=1)[None, :]
    return jnp.mean(jnp.argmax(scores, axis=1) == test_y)


@functools.partial(jax.jit, static_argnames=("k", "power_iterations"))
def pca(
    x: jax.Array, k: int, *, key: jax.Array | None = None, power_iterations: int = 4
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Principal components of ``x`` [N, D] by an SVD of the centred matrix X.

    Returns (scores [N, k], components [k, D], explained-variance fractions [k]). Signs
    are fixed so that each component's largest-magnitude loading is positive.

    ``key`` None: the full ``jnp.linalg.svd`` of X. With a ``key``: the randomized SVD of
    Halko, Martinsson & Tropp (2011): an orthonormal basis Q of X·Ω for a random Ω
    [D, k + 10], sharpened by ``power_iterations`` rounds of X Xᵀ, then the exact SVD of
    the small Qᵀ X. The top components match the full SVD's when the spectrum decays (it
    does for layer features); on CPU the full SVD of 1,000 × 16,928 features takes tens
    of seconds, this well under one.
    """
    xc = x - jnp.mean(x, axis=0, keepdims=True)
    if key is None:
        u, s, vt = jnp.linalg.svd(xc, full_matrices=False)
    else:
        width = min(k + 10, *x.shape)
        xc_t = xc.T  # [D, N], materialized once: see fit_linear_probe
        q, _ = jnp.linalg.qr(xc @ jax.random.normal(key, (x.shape[1], width), x.dtype))
        for _ in range(power_iterations):
            q, _ = jnp.linalg.qr(xc @ (xc_t @ q))
        ub, s, vt = jnp.linalg.svd(q.T @ xc, full_matrices=False)
        u = q @ ub
    u, s, vt = u[:, :k], s[:k], vt[:k]
    sign = jnp.sign(vt[jnp.arange(vt.shape[0]), jnp.argmax(jnp.abs(vt), axis=1)])
    sign = jnp.where(sign == 0, 1.0, sign)
    total = jnp.maximum(jnp.sum(xc**2), 1e-30)
    return u * (s * sign)[None, :], vt * sign[:, None], s**2 / total


@functools.partial(jax.jit, static_argnames="num_classes")
def scatter_ratio(z: jax.Array, y: jax.Array, *, num_classes: int = NUM_CLASSES) -> jax.Array:
    """tr(S_between) / tr(S_within) of ``z`` [N, k] with labels ``y`` [N]."""
    one_hot = jax.nn.one_hot(y, num_classes, dtype=z.dtype)
    counts = one_hot.sum(axis=0)
    means = class_means(z, y, num_classes=num_classes)
    between = jnp.sum(counts * jnp.sum((means - jnp.mean(z, axis=0, keepdims=True)) ** 2, axis=1))
    within = jnp.sum((z - means[y]) ** 2)
    return between / jnp.maximum(within, 1e-30)


def class_separation(
    x: jax.Array, y: jax.Array, *, components: int = 10, key: jax.Array | None = None
) -> jax.Array:
    """:func:`scatter_ratio` of ``x`` [N, D] in its top ``components`` principal components
    (``key``: as :func:`pca`)."""
    scores, _, _ = pca(x, min(components, *x.shape), key=key)
    return scatter_ratio(scores, y)


# ----------------------------------------------------------------------------- CKA


@jax.jit
def centered_gram(x: jax.Array) -> jax.Array:
    """[N, N]: X Xᵀ of the column-centred ``x`` [N, D] (linear kernel, centred: H K H)."""
    xc = x - jnp.mean(x, axis=0, keepdims=True)
    return jnp.matmul(xc, xc.T, precision=jax.lax.Precision.HIGHEST)


@jax.jit
def gram_cka(k: jax.Array, l: jax.Array) -> jax.Array:  # noqa: E741 (the paper's name)
    """⟨K, L⟩ / (‖K‖_F ‖L‖_F) of two centred Gram matrices [N, N]."""
    return jnp.sum(k * l) / jnp.maximum(jnp.linalg.norm(k) * jnp.linalg.norm(l), 1e-30)


def linear_cka(x: jax.Array, y: jax.Array) -> jax.Array:
    """Linear CKA of ``x`` [N, p] and ``y`` [N, q], the same N images in both: 1 for the
    same features, unchanged by an orthogonal transform or an isotropic scaling."""
    return gram_cka(centered_gram(flatten(x)), centered_gram(flatten(y)))


def cka_matrix(grams_a: Mapping[str, jax.Array], grams_b: Mapping[str, jax.Array]) -> np.ndarray:
    """[len(a), len(b)]: linear CKA of every layer of ``a`` with every layer of ``b``, from
    their centred Gram matrices ({layer: [N, N]}, the same N images)."""
    return np.array(
        [[float(gram_cka(ka, kb)) for kb in grams_b.values()] for ka in grams_a.values()]
    )


# ----------------------------------------------------------------------------- one network


def network_features(
    model, params, images: np.ndarray, *, output: str = "softmax", batch_size: int = 500
) -> dict[str, np.ndarray]:
    """{"input": [N, 784], then every recorded layer: [N, D]}, flattened, in run order.

    ``images`` float32 [N, 28, 28, 1]; evaluated in batches of ``batch_size`` (the last
    batch padded, so the forward pass compiles once).
    """
    n = images.shape[0]
    pad = -n % batch_size
    padded = np.concatenate([images, np.zeros((pad, *images.shape[1:]), images.dtype)])
    chunks: dict[str, list] = {"input": [images.reshape(n, -1)]}
    for start in range(0, n + pad, batch_size):
        out = layers.layer_outputs(model, params, padded[start : start + batch_size], output=output)
        for name, value in out.items():
            chunks.setdefault(name, []).append(np.asarray(flatten(value)))
    return {name: np.concatenate(parts)[:n] for name, parts in chunks.items()}


def probe_network(
    model,
    params,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    *,
    output: str = "softmax",
    l2: float = 1e-4,
    steps: int = 200,
    lr: float = 1e-2,
    components: int = 10,
    key: jax.Array,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[dict[str, dict], dict[str, np.ndarray], dict[str, jax.Array]]:
    """Probe every layer of ``model`` (with ``params``).

    ``train`` and ``test`` are (images float32 [N, 28, 28, 1], labels int [N]). Returns
    (per-layer numbers {layer: {dimension, probe_train_accuracy, probe_test_accuracy,
    probe_train_loss, nearest_mean_accuracy, separation}}, the test images' 2-D PCA
    scores {layer: [M, 2]}, the test features' centred Gram matrices {layer: [M, M]}).
    The first "layer" is the input pixels. ``key`` seeds the randomized PCA.
    """
    (train_images, train_y), (test_images, test_y) = train, test
    features_train = network_features(model, params, train_images, output=output)
    features_test = network_features(model, params, test_images, output=output)
    ytr, yte = jnp.asarray(train_y, jnp.int32), jnp.asarray(test_y, jnp.int32)
    rows, scatter, grams = {}, {}, {}
    for name, ftr in features_train.items():
        xtr, xte = jnp.asarray(ftr), jnp.asarray(features_test[name])
        probe = fit_linear_probe(xtr, ytr, xte, yte, l2=l2, lr=lr, steps=steps)
        k = min(components, *xte.shape)
        scores, _, _ = pca(xte, k, key=jax.random.fold_in(key, len(rows)))
        rows[name] = {
            "dimension": int(xtr.shape[1]),
            "probe_train_accuracy": float(probe["train_accuracy"]),
            "probe_test_accuracy": float(probe["test_accuracy"]),
            "probe_train_loss": float(probe["train_loss"]),
            "nearest_mean_accuracy": float(nearest_mean_accuracy(xtr, ytr, xte, yte)),
            "separation": float(scatter_ratio(scores, yte)),
        }
        scatter[name] = np.asarray(scores[:, :2])
        grams[name] = centered_gram(xte)
        log(
            f"  {name:>10}  D={xtr.shape[1]:>6}  probe test {rows[name]['probe_test_accuracy']:.3f}"
            f"  nearest mean {rows[name]['nearest_mean_accuracy']:.3f}"
            f"  separation {rows[name]['separation']:.3g}"
        )
    return rows, scatter, grams
