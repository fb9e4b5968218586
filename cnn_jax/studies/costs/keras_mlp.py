"""The study's Keras-style MLP, in JAX: a 1-D regression with one tanh hidden layer.

The study's Keras sample, layer for layer::

    model = Sequential()
    model.add(Dense(n, input_dim=1, init="uniform"))   # U(−0.05, 0.05), zero bias
    model.add(Activation("tanh"))
    model.add(Dense(1))                                # init "uniform" as well here
    model.add(Activation("linear"))
    model.compile(loss="mean_squared_error", optimizer=SGD(lr=0.1))
    model.fit(x, y, batch_size=32, epochs=...)        # Keras shuffles every epoch

Keras's "uniform" initializer is U(−0.05, 0.05); its MSE is the mean of (y − ŷ)² (no ½);
its SGD step is w ← w − lr·∇(batch-mean loss), with the last partial batch kept (here
the data size is a multiple of the batch size, so there is none).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import ClassVar, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax import flags
from cnn_jax.errors import Diverged, UsageError
from cnn_jax.training.batches import epoch_batches


@dataclasses.dataclass(frozen=True)
class KerasConfig:
    """The fit's sizes; experiments/keras_mlp.py has one flag per field."""

    # experiments/reproduce.py's smoke scale (the others are the defaults)
    PRESETS: ClassVar[dict[str, flags.Preset]] = {
        "smoke": flags.Preset({"points": 8, "batch_size": 8, "hidden": 4, "epochs": 1}),
    }

    hidden: int = flags.count(20, "tanh units in the hidden layer")
    epochs: int = flags.count(2000, "epochs of mini-batch SGD")
    points: int = flags.count(256, "training points x ~ U(−1, 1)")
    batch_size: int = flags.batch_size(32, "examples per SGD step, at most --points")
    lr: float = flags.learning_rate(0.1, "SGD learning rate")
    seed: int = flags.seed(0, "root random seed of the data and the initialization")

    def __post_init__(self):
        if self.batch_size > self.points:
            raise UsageError(
                f"--batch-size {self.batch_size} is more than the --points {self.points}"
            )


def keras_uniform(key, shape, dtype=jnp.float32):
    """Keras's ``init="uniform"``: U(−0.05, 0.05)."""
    return jax.random.uniform(key, shape, dtype, minval=-0.05, maxval=0.05)


class KerasMLP(nn.Module):
    """x [B, 1] -> Dense(hidden) -> tanh -> Dense(1) -> linear: returns ŷ [B, 1]."""

    hidden: int = 20

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.Dense(
            self.hidden, kernel_init=keras_uniform, bias_init=nn.initializers.zeros, name="dense1"
        )(x)
        x = jnp.tanh(x)
        return nn.Dense(
            1, kernel_init=keras_uniform, bias_init=nn.initializers.zeros, name="dense2"
        )(x)


def mse(pred: jax.Array, target: jax.Array) -> jax.Array:
    """Keras's mean_squared_error: mean (ŷ − y)² over the batch; [B, 1] each."""
    return jnp.mean((pred - target) ** 2)


def target_function(x: jax.Array) -> jax.Array:
    """The synthetic 1-D function we fit (the study does not give its data): sin(πx)."""
    return jnp.sin(jnp.pi * x)


def make_data(key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """n points x ~ U(−1, 1) and y = sin(πx): ([n, 1], [n, 1])."""
    x = jax.random.uniform(key, (n, 1), minval=-1.0, maxval=1.0)
    return x, target_function(x)


class FitHistory(NamedTuple):
    train_loss: jax.Array  # [E] MSE on the training set after each epoch
    test_loss: jax.Array  # [E] MSE on the test grid after each epoch


@functools.partial(jax.jit, static_argnames=("hidden", "epochs", "batch_size"))
def fit(key, train, test, *, hidden: int, epochs: int, batch_size: int = 32, lr: float = 0.1):
    """Init with ``key`` and run ``epochs`` of mini-batch SGD: (params, FitHistory).

    train/test: (x [N, 1], y [N, 1]). One ``lax.scan`` over epochs, each a scan over
    steps on a fresh permutation (``fold_in(shuffle_key, epoch)``).
    """
    model = KerasMLP(hidden)
    init_key, shuffle_key = jax.random.split(key)
    x, y = train
    params = model.init(init_key, x[:1])["params"]

    def loss(p, xb, yb):
        return mse(model.apply({"params": p}, xb), yb)

    def step(p, idx):
        grads = jax.grad(loss)(p, x[idx], y[idx])
        return jax.tree.map(lambda w, g: w - lr * g, p, grads), None

    def epoch(p, e):
        p, _ = jax.lax.scan(step, p, epoch_batches(shuffle_key, e, x.shape[0], batch_size))
        return p, (loss(p, x, y), loss(p, *test))

    params, (train_loss, test_loss) = jax.lax.scan(epoch, params, jnp.arange(epochs))
    return params, FitHistory(train_loss, test_loss)


def check_finite(history: FitHistory, lr: float) -> None:
    """Raise :class:`Diverged` at the first epoch whose training MSE is not finite."""
    bad = np.nonzero(~np.isfinite(np.asarray(history.train_loss)))[0]
    if bad.size:
        raise Diverged(
            f"the training MSE is not finite after epoch {int(bad[0]) + 1} at lr={lr:g}; "
            "lower the learning rate"
        )


def experiment(
    seed: int, *, hidden: int, epochs: int, points: int, batch_size: int, lr: float
) -> dict:
    """The fit of ``points`` samples of sin(πx) and its curves as plain lists (results.json);
    raises :class:`Diverged` when the MSE stops being finite."""
    data_key, fit_key = jax.random.split(jax.random.key(seed))
    train = make_data(data_key, points)
    grid = jnp.linspace(-1.0, 1.0, 201)[:, None]
    test = (grid, target_function(grid))
    start = time.perf_counter()
    params, history = fit(
        fit_key, train, test, hidden=hidden, epochs=epochs, batch_size=batch_size, lr=lr
    )
    prediction = KerasMLP(hidden).apply({"params": params}, grid)
    history = jax.device_get(history)
    check_finite(history, lr)
    seconds = time.perf_counter() - start

    def as_list(a):
        return np.asarray(a, np.float64).ravel().tolist()

    curves = {
        "train_x": as_list(train[0]),
        "train_y": as_list(train[1]),
        "grid_x": as_list(grid),
        "grid_target": as_list(test[1]),
        "grid_prediction": as_list(prediction),
        "train_loss": as_list(history.train_loss),
        "test_loss": as_list(history.test_loss),
    }
    return {
        "description": "Keras-style MLP Dense(n, U(−0.05, 0.05)) -> tanh -> Dense(1), MSE, "
        f"SGD lr {lr:g}, fitting y = sin(πx) on x ~ U(−1, 1)",
        "initial_train_mse": curves["train_loss"][0],
        "final_train_mse": curves["train_loss"][-1],
        "final_test_mse": curves["test_loss"][-1],
        "fit": curves,
        "timings": {"fit_s": seconds},
    }
