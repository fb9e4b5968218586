"""One batch through every layer: named intermediate outputs, each layer on its own, statistics.

The models ``sow`` every layer output into the ``"intermediates"`` collection in the order
the layers run (conv1, relu1, conv2, maxpool, flatten, dense1, relu3, dense2 for the seed
CNN). :func:`layer_outputs` returns them as an ordered dict, with the output activation
(softmax, which the model leaves to the loss) appended as the last "layer".

:func:`apply_layer` re-implements each layer from its parameters with ``jax.lax`` alone,
an independent reference for the model's code path (which may use im2col convolutions).

:func:`activation_statistics` is the Glorot–Bengio view of a batch: mean and std of every
layer's output, dead ReLUs and saturated sigmoid / tanh units; see ``DEFINITIONS``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import jax
import jax.numpy as jnp

from cnn_jax.nn.activations import SATURATION, SIGMOID_SATURATION_Z, TANH_SATURATION_Z
from cnn_jax.nn.models import ACTIVATIONS, MLP, DeepCNN, PlanCNN, SeedCNN, recorded

OUTPUT_ACTIVATIONS = {"softmax": jax.nn.softmax, "sigmoid": jax.nn.sigmoid}

DEFINITIONS = {
    "mean": "mean of the layer's output over every image of the batch and every unit",
    "std": "standard deviation of the same values",
    "zero_fraction": "ReLU layers: fraction of all outputs (images × units) that are exactly 0",
    "dead_fraction": (
        "ReLU layers: fraction of units that output exactly 0 for every image of the batch; "
        "for a convolution output a unit is a channel (one shared filter), dead when it is 0 "
        "at every position of every image"
    ),
    "saturated_fraction": (
        f"sigmoid layers: fraction of outputs with σ(z) < {SATURATION} or σ(z) > "
        f"{1 - SATURATION} (|z| > ln 99 ≈ {SIGMOID_SATURATION_Z:.2f}); tanh layers: "
        f"|tanh(z)| > {1 - SATURATION} (|z| > {TANH_SATURATION_Z:.2f})"
    ),
    "saturated_unit_fraction": (
        "sigmoid / tanh layers: fraction of units (channels for convolution outputs) "
        "saturated for every image of the batch (at every position)"
    ),
}


def output_activation(loss: str) -> str:
    """The output "layer" the loss implies: softmax for softmax_ce, else sigmoid."""
    return "softmax" if loss == "softmax_ce" else "sigmoid"


# ----------------------------------------------------------------------------- outputs


@functools.cache
def _compiled_forward(model, output: str):
    """(names, jitted forward): forward(params, images) -> tuple of arrays, in ``names`` order.

    ``jit`` returns dicts with sorted keys, so the arrays come back as a tuple and the
    names in run order are recorded while tracing (the same on every trace).
    """
    names: list[str] = []

    def forward(params, images):
        logits, state = model.apply({"params": params}, images, mutable=["intermediates"])
        captured = recorded(state["intermediates"])  # in the order the layers ran
        names[:] = [*captured, output]
        return (*captured.values(), OUTPUT_ACTIVATIONS[output](logits))

    return names, jax.jit(forward)


def layer_outputs(model, params, images: jax.Array, *, output: str = "softmax") -> dict:
    """Every layer's output for ``images`` [B, 28, 28, 1], ordered as the layers run.

    Returns {name: [B, ...]}: for the seed CNN conv1 [B, 23, 23, 32], relu1, conv2
    [B, 18, 18, 32], maxpool [B, 4, 4, 32], flatten [B, 512], dense1 [B, 100], relu3,
    dense2 [B, 10] (logits), then ``output`` ("softmax" or "sigmoid") [B, 10].
    Evaluation mode (no dropout). Jitted once per model, output and input shape.
    """
    if output not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"output must be one of {', '.join(OUTPUT_ACTIVATIONS)}, got {output!r}")
    names, forward = _compiled_forward(model, output)
    arrays = forward(params, images)
    return dict(zip(names, arrays, strict=True))


# ----------------------------------------------------------------------------- one layer


def layer_activation(model, name: str) -> str | None:
    """The activation function (a key of ACTIVATIONS) an activation layer applies, else None."""
    if layer_kind(name) != "activation":
        return None
    return model.activation if isinstance(model, MLP | PlanCNN) else "relu"


def layer_kind(name: str) -> str:
    """conv, activation, pool, flatten, dense or output, from the layer's name."""
    if name in OUTPUT_ACTIVATIONS:
        return "output"
    for prefix, kind in (
        ("conv", "conv"),
        ("maxpool", "pool"),
        ("flatten", "flatten"),
        ("dense", "dense"),
    ):
        if name.startswith(prefix):
            return kind
    base = name.rstrip("0123456789").removesuffix("_dense")  # PlanCNN: "sigmoid_dense1"
    if base in ACTIVATIONS:
        return "activation"
    raise ValueError(f"unknown layer name {name!r}")


def _number(name: str) -> int:
    digits = name[len(name.rstrip("0123456789")) :]
    return int(digits) if digits else 1


def pool_window(model, name: str = "maxpool1") -> int:
    """The window (and stride) of pooling layer ``name`` ("maxpool" or "maxpool<n>")."""
    if isinstance(model, SeedCNN):
        return 4
    if isinstance(model, DeepCNN):
        return 2
    if isinstance(model, PlanCNN):
        windows = [step[1] for step in model.plan if step[0] == "pool"]
        if 0 < _number(name) <= len(windows):
            return windows[_number(name) - 1]
    raise ValueError(f"{type(model).__name__} has no pooling layer {name!r}")


def layer_params(params, name: str) -> dict | None:
    """The parameters of layer ``name`` (the models name each layer's parameters as its
    recorded output), or None for a layer without parameters."""
    return params[name] if layer_kind(name) in ("conv", "dense") else None


def apply_layer(model, params, name: str, x: jax.Array) -> jax.Array:
    """Layer ``name`` alone applied to its input ``x`` [B, ...], written with jax.lax.

    An independent reference for :func:`layer_outputs`: chained from the image, the
    layers reproduce the model's outputs.
    """
    kind = layer_kind(name)
    p = layer_params(params, name)
    if kind == "conv":
        y = jax.lax.conv_general_dilated(
            x,
            p["kernel"],
            window_strides=(1, 1),
            padding="VALID",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
            precision=jax.lax.Precision.HIGHEST,
        )
        return y + p["bias"][None, None, None, :]
    if kind == "dense":
        y = jnp.matmul(x, p["kernel"], precision=jax.lax.Precision.HIGHEST)
        return y + p["bias"][None, :]
    if kind == "activation":
        return ACTIVATIONS[layer_activation(model, name)](x)
    if kind == "pool":
        w = pool_window(model, name)
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, w, w, 1), (1, w, w, 1), "VALID")
    if kind == "flatten":
        return x.reshape(x.shape[0], -1)
    return OUTPUT_ACTIVATIONS[name](x)


# ----------------------------------------------------------------------------- the table


def _shape(shape) -> list:
    return [None, *(int(d) for d in shape[1:])]  # None: any batch size, as Keras prints it


def describe_layer(model, params, name: str, in_shape, out_shape) -> str:
    kind = layer_kind(name)
    p = layer_params(params, name)
    if kind == "conv":
        kh, kw, c_in, c_out = p["kernel"].shape
        return f"{c_out} filters {kh}×{kw}×{c_in}, stride 1, valid"
    if kind == "dense":
        n_in, n_out = p["kernel"].shape
        return f"fully connected {n_in} → {n_out}"
    if kind == "activation":
        return layer_activation(model, name)
    if kind == "pool":
        w = pool_window(model, name)
        return f"max over {w}×{w}, stride {w}"
    if kind == "flatten":
        return f"{'·'.join(str(d) for d in in_shape[1:])} → {out_shape[-1]}"
    return f"{name} of the logits (added here: the model leaves it to the loss)"


def layer_table(model, params, outputs: Mapping[str, jax.Array]) -> list[dict]:
    """One row per layer in run order: name, kind, description, input and output shape
    (batch dimension None), parameter count. ``outputs`` from :func:`layer_outputs`."""
    rows = []
    in_shape = (None, 28, 28, 1)
    for name, value in outputs.items():
        p = layer_params(params, name)
        rows.append(
            {
                "name": name,
                "kind": layer_kind(name),
                "description": describe_layer(model, params, name, in_shape, value.shape),
                "input_shape": _shape(in_shape),
                "output_shape": _shape(value.shape),
                "params": 0 if p is None else sum(int(a.size) for a in jax.tree.leaves(p)),
            }
        )
        in_shape = value.shape
    return rows


# ----------------------------------------------------------------------------- statistics


def _unit_axes(x: jax.Array) -> tuple[int, ...]:
    """Axes a unit is reduced over: the batch, plus the positions of a [B, H, W, C] map."""
    return (0, 1, 2) if x.ndim == 4 else (0,)


def activation_statistics(
    outputs: Mapping[str, jax.Array], activations: Mapping[str, str]
) -> dict[str, dict]:
    """Per-layer statistics over a batch, in the order of ``outputs`` ({name: [B, ...]}).

    ``activations`` maps each activation layer's name to its function ("relu",
    "sigmoid", ...; see :func:`layer_activation`). Every layer gets ``mean``, ``std``,
    ``min``, ``max``; ReLU layers add ``zero_fraction`` and ``dead_fraction``; sigmoid and
    tanh layers add ``saturated_fraction`` and ``saturated_unit_fraction`` (see
    ``DEFINITIONS``: a dead ReLU unit is 0 for every image of the batch; a sigmoid is
    saturated where σ(z) < 0.01 or > 0.99). Plain floats, ready for JSON.
    """
    names = list(outputs)
    acts = tuple(activations.get(name, "") for name in names)
    arrays = tuple(jnp.asarray(outputs[name], jnp.float32) for name in names)
    rows = jax.device_get(_batch_statistics(arrays, acts))
    order = ("mean", "std", "min", "max", *DEFINITIONS)  # jit returns dict keys sorted
    return {
        name: {k: float(row[k]) for k in dict.fromkeys(order) if k in row}
        for name, row in zip(names, rows, strict=True)
    }


@functools.partial(jax.jit, static_argnums=1)
def _batch_statistics(arrays: tuple, acts: tuple[str, ...]) -> tuple[dict, ...]:
    """One compiled pass over every layer (eager, each reduction would compile alone)."""
    rows = []
    for x, act in zip(arrays, acts, strict=True):
        row = {"mean": jnp.mean(x), "std": jnp.std(x), "min": jnp.min(x), "max": jnp.max(x)}
        if act == "relu":
            zero = x == 0
            row["zero_fraction"] = jnp.mean(zero)
            row["dead_fraction"] = jnp.mean(jnp.all(zero, axis=_unit_axes(x)))
        elif act in ("sigmoid", "tanh"):
            if act == "sigmoid":
                saturated = (x < SATURATION) | (x > 1 - SATURATION)
            else:
                saturated = jnp.abs(x) > 1 - SATURATION
            row["saturated_fraction"] = jnp.mean(saturated)
            row["saturated_unit_fraction"] = jnp.mean(jnp.all(saturated, axis=_unit_axes(x)))
        rows.append(row)
    return tuple(rows)
