"""Names for pytree leaves and layers, by path (``dense1/kernel``), input side first:
one naming for checkpoints, tables and figures."""

from __future__ import annotations

import re

import jax


def _natural_key(name: str):
    # "dense10" after "dense9": jax sorts dict keys as strings, which puts 10 before 2.
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def layer_names(params) -> list[str]:
    """Top-level module names of ``params``, input side first: ["dense1", "dense2", ...].

    The models name their layers conv<n> and dense<n> in call order, every conv before any
    dense, so the name order (digits compared as numbers) is the input order:
    ["conv1", "conv2", "dense1", "dense2"] for SeedCNN.
    """
    return sorted(params, key=_natural_key)


def path_name(path) -> str:
    """A pytree key path as "dense1/kernel": dict keys, attribute names and sequence
    indices, with the container types left out, so a namedtuple field and the dict key it
    may be restored as give the same name."""
    parts = []
    for entry in path:
        for attr in ("key", "name", "idx"):
            if hasattr(entry, attr):
                parts.append(str(getattr(entry, attr)))
                break
        else:
            parts.append(str(entry))
    return "/".join(parts)


def named_leaves(tree) -> dict[str, jax.Array]:
    """{"dense1/kernel": leaf, "dense1/bias": leaf, ...}, input side first (kernel
    before bias within a layer)."""
    leaves = {path_name(p): leaf for p, leaf in jax.tree_util.tree_leaves_with_path(tree)}
    order = {"kernel": 0, "bias": 1}

    def key(name: str):
        layer, _, leaf = name.rpartition("/")
        return (_natural_key(layer), order.get(leaf, 2), leaf)

    return {name: leaves[name] for name in sorted(leaves, key=key)}
