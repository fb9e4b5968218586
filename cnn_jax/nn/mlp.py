"""The one description of a fully connected network that every MLP study shares.

``MLPSpec((784, 30, 30, 10), "sigmoid", "nielsen", cost="sigmoid_ce")`` is Nielsen's
``network2.Network([784, 30, 30, 10])``: the vanishing-gradient measurements, Nielsen's
vmapped SGD engine and the Flax training loop all build their model and draw their
parameters from it, so a network named in one study is the same network in another.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from cnn_jax.nn import losses
from cnn_jax.nn.activations import ACTIVATIONS, INITS
from cnn_jax.nn.models import MLP


@dataclasses.dataclass(frozen=True)
class MLPSpec:
    """Layer sizes in Nielsen's notation (input first), hidden activation, init, dropout after
    each hidden activation, and the cost on the logits (a key of ``losses.LOSSES``)."""

    sizes: tuple[int, ...] = (784, 30, 10)
    activation: str = "sigmoid"
    init: str = "nielsen"
    dropout: float = 0.0
    cost: str = "sigmoid_ce"

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(self.sizes))
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError(f"sizes must be >= 2 positive layer sizes, got {self.sizes}")
        for value, names, what in (
            (self.activation, ACTIVATIONS, "activation"),
            (self.init, INITS, "init"),
            (self.cost, losses.LOSSES, "cost"),
        ):
            if value not in names:
                raise ValueError(f"{what} must be one of {', '.join(names)}, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def name(self) -> str:
        """ "784-30-30-10"."""
        return "-".join(map(str, self.sizes))

    def model(self) -> MLP:
        return MLP(
            widths=self.sizes[1:],
            activation=self.activation,
            weight_init=self.init,
            dropout=self.dropout,
        )

    @property
    def cost_fn(self) -> Callable[[jax.Array, jax.Array], jax.Array]:
        return losses.LOSSES[self.cost]

    def init_params(self, keys: jax.Array, input_shape: tuple[int, ...] = (28, 28, 1)):
        """Parameters drawn with each key in ``keys`` [S]: leaves [S, ...] (one compiled call,
        cached per network, input shape and S)."""
        return draw_params(self.model(), keys, input_shape)


def draw_params(model, keys: jax.Array, input_shape: tuple[int, ...] = (28, 28, 1)):
    """``model.init`` for each key in ``keys`` [S]: leaves [S, ...], one jit-compiled call,
    cached per model, input shape and S.

    The seeds are drawn one after another (``lax.map``): the same numbers as vmapped,
    but XLA compiles vmapped threefry draws about twice as slowly, and drawing is a small
    part of a sweep's run time.
    """
    return _draw_params(keys, model=model, input_shape=tuple(input_shape))


@functools.partial(jax.jit, static_argnames=("model", "input_shape"))
def _draw_params(keys, *, model, input_shape):
    example = jnp.zeros((1, *input_shape), jnp.float32)
    return jax.lax.map(lambda key: model.init(key, example)["params"], keys)


def param_shapes(model, input_shape: tuple[int, ...] = (28, 28, 1)):
    """The parameter tree as shapes (jax.ShapeDtypeStruct), without drawing or compiling."""
    example = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
    return jax.eval_shape(lambda x: model.init(jax.random.key(0), x)["params"], example)
