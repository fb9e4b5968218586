"""Leaves and layers named by path, input side first."""

from cnn_jax.nn.tree import layer_names, named_leaves


def test_named_leaves_order_from_the_input_side():
    # String order would put dense10 before dense2.
    params = {f"dense{i}": {"bias": i, "kernel": -i} for i in range(1, 13)}
    assert list(named_leaves(params)) == [
        f"dense{i}/{p}" for i in range(1, 13) for p in ("kernel", "bias")
    ]
    assert layer_names(params) == [f"dense{i}" for i in range(1, 13)]
