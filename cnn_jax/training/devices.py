"""More devices, more hosts: the data mesh, placing arrays on it, and the multi-process start.

One 1-D mesh with axis ``"data"`` over every device of every process (or the first N). The
train step shards each batch on its leading axis and replicates the state; seed and
configuration sweeps split their leading axis over this process's devices (:func:`sweep`).
Everything is JAX's own machinery: ``jax.sharding`` for placement, ``shard_map`` in the train step,
``jax.distributed`` for several processes. With one device every function here is a no-op
in effect, and the numbers are those of a plain single-device run.

Several processes (several hosts, or several processes on one machine) start with
:func:`start`; each feeds only its own rows of every batch
(``jax.make_array_from_process_local_data``), and only process 0 writes results and
figures (:func:`is_writer`).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from cnn_jax import cli
from cnn_jax.errors import UsageError

AXIS = "data"
# Environment variables that stand in for the flags (JAX reads the first one itself too).
ENV = {
    "coordinator": "JAX_COORDINATOR_ADDRESS",
    "num_processes": "JAX_NUM_PROCESSES",
    "process_id": "JAX_PROCESS_ID",
}


def _from_env(flags: dict, name: str, parse) -> object:
    if flags.get(name) is not None:
        return flags[name]
    text = os.environ.get(ENV[name])
    if not text:
        return None
    try:
        return parse(text)
    except Exception:
        raise UsageError(f"${ENV[name]}={text!r} is not a valid value") from None


def distributed_args(flags: dict) -> dict | None:
    """The arguments of ``jax.distributed.initialize`` that the flags or the environment
    ask for, checked; None for one process. ``--coordinator auto`` leaves them to JAX's
    cluster detection."""
    coordinator = _from_env(flags, "coordinator", str)
    count = _from_env(flags, "num_processes", cli.positive_int)
    index = _from_env(flags, "process_id", cli.non_negative_int)
    if coordinator == "auto":
        return {}
    if coordinator is None and count in (None, 1) and index in (None, 0):
        return None
    missing = [f"--{n.replace('_', '-')}" for n, v in
               (("coordinator", coordinator), ("num_processes", count), ("process_id", index))
               if v is None]  # fmt: skip
    if missing:
        raise UsageError(f"several processes need {', '.join(missing)} as well")
    if ":" not in coordinator:
        raise UsageError(f"--coordinator {coordinator!r} must be HOST:PORT")
    if index >= count:
        raise UsageError(f"--process-id {index} must be below --num-processes {count}")
    return {"coordinator_address": coordinator, "num_processes": count, "process_id": index}


def start(flags: dict, *, timeout_s: int = 120) -> None:
    """Join the other processes when the flags or the environment say so (call before any
    other JAX work). On CPU the cross-process collectives go through gloo."""
    args = distributed_args(flags)
    if args is None:
        return
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(**args, initialization_timeout=timeout_s)
    except Exception as e:  # the runtime raises several types; one line is enough
        where = args.get("coordinator_address", "the detected cluster")
        raise UsageError(
            f"could not join the other processes at {where} ({type(e).__name__})"
        ) from None


def is_writer() -> bool:
    """Process 0 writes results, figures and the run folder's lock; the others compute."""
    return jax.process_index() == 0


def data_mesh(devices: int | None = None) -> Mesh:
    """The 1-D ``"data"`` mesh over the first ``devices`` devices (default: all)."""
    available = jax.devices()
    count = len(available) if devices is None else devices
    if count > len(available):
        raise UsageError(
            f"--devices {count}: only {len(available)} {jax.default_backend()} device(s) visible"
        )
    if jax.process_count() > 1 and count != len(available):
        raise UsageError(
            f"--devices {count}: a run of {jax.process_count()} processes uses all "
            f"{len(available)} devices"
        )
    return Mesh(np.array(available[:count]), (AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def sharded(mesh: Mesh) -> NamedSharding:
    """Split on the leading axis over the mesh."""
    return NamedSharding(mesh, P(AXIS))


def replicate(tree, mesh: Mesh):
    """Every leaf (the same on every process) on every device of the mesh."""
    sharding = replicated(mesh)
    return jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), tree
    )


def process_rows(mesh: Mesh, n: int) -> slice:
    """The rows of a leading axis of length ``n``, split over the mesh, that this process's
    devices hold."""
    index = sharded(mesh).addressable_devices_indices_map((n,))
    spans = [s[0].indices(n)[:2] for s in index.values()]
    return slice(min(a for a, _ in spans), max(b for _, b in spans))


def shard_rows(x, mesh: Mesh) -> jax.Array:
    """A global array split on its leading axis from the full host array ``x`` (every
    process holds it): each process hands over only its own rows."""
    x = np.asarray(x)
    rows = process_rows(mesh, x.shape[0])
    return jax.make_array_from_process_local_data(sharded(mesh), x[rows], x.shape)


def to_host(tree):
    """A replicated tree as numpy arrays, read from this process's own copy (a replicated
    array of several processes is not fully addressable, but every copy is whole)."""
    return jax.tree.map(lambda x: np.asarray(x.addressable_data(0)) if isinstance(x, jax.Array)
                        else np.asarray(x), tree)  # fmt: skip


def check_divisible(what: str, n: int, mesh: Mesh) -> None:
    if n % mesh.size:
        raise UsageError(
            f"{what} {n} is not divisible by the {mesh.size} devices; pick a multiple of "
            f"{mesh.size} or pass --devices"
        )


def pace(out, mesh: Mesh) -> None:
    """Wait for ``out`` (a step's result) when the mesh holds several CPU devices of this
    process; elsewhere return at once. Call after dispatching each step of a loop.

    Simulated CPU devices (``XLA_FLAGS=--xla_force_host_platform_device_count=N``) share
    one XLA CPU client, which lets a bounded number of computations per device be
    dispatched and unfinished. A loop that runs further ahead stops in an all-reduce whose
    partners never arrive, whatever the batch or the model, and XLA aborts the process
    after its collective timeout. Waiting for every step keeps at most one ahead; the
    dispatch it no longer overlaps is small next to a step's computation.
    GPUs, TPUs, and several processes with one CPU device each are not affected.
    """
    local = [d for d in mesh.devices.flat if d.process_index == jax.process_index()]
    if len(local) > 1 and local[0].platform == "cpu":
        jax.block_until_ready(out)


# ----------------------------------------------------------------------------- sweeps


def local_mesh() -> Mesh:
    """The mesh a sweep splits over: this process's devices."""
    return Mesh(np.array(jax.local_devices()), (AXIS,))


def sweep(f: Callable, split, *shared, mesh: Mesh | None = None):
    """``f(split, *shared)`` with every leaf of ``split`` (leading axis: seeds or
    configurations, S) split over the devices: each device runs ``f`` on its own S/D
    entries, the ``shared`` arguments (data) replicated. ``f`` must treat its entries
    independently (a vmap, a ``lax.map``); S is padded up to a multiple of D by repeating
    the last entry, and the padding cut from the result, so no number changes. Call inside
    ``jax.jit``; on one device it is ``f(split, *shared)``."""
    mesh = mesh or local_mesh()
    n = jax.tree.leaves(split)[0].shape[0]
    pad = -n % mesh.size
    if pad:
        split = jax.tree.map(lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], pad, 0)]), split)
    out = jax.shard_map(
        lambda s, rest: f(s, *rest),
        mesh=mesh,
        in_specs=(P(AXIS), P()),
        out_specs=P(AXIS),
        check_vma=False,  # f may use custom VJPs, which carry no varying-axis types
    )(split, shared)
    return jax.tree.map(lambda x: x[:n], out) if pad else out
