"""Verified per-step Orbax checkpoints of a run, with its history and config beside them.

Layout under ``<out>/checkpoints/<step>/``: ``state`` (a pytree of arrays in Orbax's
standard format), ``history`` and ``config`` (JSON), and ``digest`` (JSON: a SHA-256
over the state's leaves, see :func:`state_digest`, and one over the history and config,
see :func:`json_digest`: everything a resume reads). Orbax writes each checkpoint to a
temporary folder and renames it when complete, so a run killed mid-save leaves only
complete checkpoints behind; the digest catches what a rename cannot: bytes changed on
disk afterwards. Nothing is pickled.

The API, for any training loop::

    ckpt = RunCheckpoints(out_dir)                     # max_to_keep >= 2: a fallback
    ckpt = RunCheckpoints(out_dir, keep_steps=(0, 5))  # and steps 0 and 5 for good
    ckpt.save(step, state, history, config)            # refuses a non-finite state
    found = ckpt.restore_latest_intact(target, on_skip=log)
    if found is not None:
        step, state, history, config = found

``restore_latest_intact`` skips a newer checkpoint that is corrupt (digest mismatch,
non-finite values, unreadable) for the newest intact one, telling ``on_skip``; when none
is intact it raises :class:`CheckpointError`. A checkpoint without a digest, or with
Flax's own layer names (``Conv_0``), was saved by an older cnn_jax: it is refused
(:class:`OlderCheckpoint`), not skipped. Every message is one line that names the
checkpoint folder and a plain reason, never a library's own text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies

from cnn_jax import interrupt
from cnn_jax.errors import Diverged, UsageError
from cnn_jax.nn.tree import path_name

DIGEST_ITEM = "digest"


class CheckpointError(UsageError):
    """A checkpoint cannot be found or read; the message says which and why."""


class OlderCheckpoint(CheckpointError):
    """A checkpoint in a format this version does not read: refused, never deleted."""


# The last commit that reads checkpoints without a digest or with Flax's own layer names.
LAST_READER = "902259f"


def unreadable(where: str | Path, error: Exception) -> CheckpointError:
    """One plain line for a checkpoint that cannot be read (the library text is left out)."""
    return CheckpointError(f"{where} is corrupt or unreadable ({_plain_reason(error)})")


def _plain_reason(error: Exception) -> str:
    if isinstance(error, CheckpointError):
        return str(error)
    if isinstance(error, FileNotFoundError):
        return "files are missing"
    if isinstance(error, (json.JSONDecodeError, UnicodeDecodeError)):
        return "malformed JSON"
    return "its arrays cannot be read"


def open_manager(
    directory: str | Path,
    *,
    read_only: bool = False,
    max_to_keep: int = 2,
    keep_steps: Sequence[int] = (),
) -> ocp.CheckpointManager:
    """A synchronous Orbax manager over ``directory`` that keeps the ``max_to_keep`` newest
    checkpoints and, for good, those of ``keep_steps``. ``read_only=True`` is for readers
    (a viewer must never write into, or clean up, a run that may still be training)."""
    if read_only:
        options = ocp.CheckpointManagerOptions(read_only=True, create=False, save_interval_steps=0)
    else:
        # Orbax's own preservation policies: the newest N, or one of the chosen steps.
        keep = policies.AnyPreservationPolicy(
            [policies.LatestN(n=max_to_keep), policies.CustomSteps(steps=list(keep_steps))]
        )
        options = ocp.CheckpointManagerOptions(
            preservation_policy=keep, create=True, enable_async_checkpointing=False
        )
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)  # Orbax warns "directory is read only" on open
    try:
        return ocp.CheckpointManager(Path(directory).absolute(), options=options)
    finally:
        absl_logger.setLevel(level)


# ----------------------------------------------------------------------------- digest


def state_digest(state: Any) -> str:
    """SHA-256 over every leaf's path, dtype, shape and bytes, in path order."""
    leaves = jax.tree_util.tree_flatten_with_path(state)[0]
    h = hashlib.sha256()
    for name, leaf in sorted((path_name(p), leaf) for p, leaf in leaves):
        array = np.ascontiguousarray(np.asarray(leaf))
        h.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        h.update(array.tobytes())
    return h.hexdigest()


def json_digest(history: Any, config: Any) -> str:
    """SHA-256 over a checkpoint's history and config as canonical JSON (sorted keys; floats
    in Python's shortest round-trip form, so the JSON read back digests the same)."""
    text = json.dumps({"history": history, "config": config}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def all_finite(state: Any) -> bool:
    """Every floating-point leaf finite (integer leaves always are)."""
    for leaf in jax.tree.leaves(state):
        array = np.asarray(leaf)
        if np.issubdtype(array.dtype, np.inexact) and not np.isfinite(array).all():
            return False
    return True


# ----------------------------------------------------------------------------- checkpoints


class Restored(NamedTuple):
    step: int
    state: Any  # the target's structure, numpy or jax arrays
    history: Any  # the JSON saved with it
    config: Any  # the JSON saved with it


class RunCheckpoints:
    """The verified checkpoints of one run, in ``<out_dir>/<subdir>``.

    ``read_only=True`` is for readers: nothing is written, cleaned up or deleted.
    ``max_to_keep`` (>= 2) newest checkpoints are kept, so one can stand in for another;
    the checkpoints of ``keep_steps`` are never deleted (epochs to look at later).
    """

    def __init__(
        self,
        out_dir: str | Path,
        max_to_keep: int = 2,
        *,
        read_only: bool = False,
        subdir: str = "checkpoints",
        keep_steps: Sequence[int] = (),
    ):
        if max_to_keep < 2:
            raise ValueError(f"max_to_keep must be >= 2 to fall back on, got {max_to_keep}")
        self.directory = Path(out_dir).absolute() / subdir
        self.read_only = read_only
        self._manager = open_manager(
            self.directory, read_only=read_only, max_to_keep=max_to_keep, keep_steps=keep_steps
        )

    def where(self, step: int) -> Path:
        return self.directory / str(step)

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def save(self, step: int, state: Any, history: Any, config: Any) -> None:
        """Save ``state`` (a pytree of arrays) with its digest, ``history`` and ``config``
        (JSON-able). A state with a non-finite value is never saved: raises Diverged."""
        state = jax.tree.map(np.asarray, jax.device_get(state))  # 0-d arrays, not scalars
        if not all_finite(state):
            raise Diverged(f"step {step}: the state holds non-finite values; it was not saved")
        self._manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(state),
                history=ocp.args.JsonSave(history),
                config=ocp.args.JsonSave(config),
                **{DIGEST_ITEM: ocp.args.JsonSave(_digest(state, history, config))},
            ),
        )
        self._manager.wait_until_finished()
        interrupt.epoch_saved(step)

    def _json(self, step: int, item: str) -> Any:
        """A JSON item of a checkpoint, read directly (Orbax's JSON handler writes one file)."""
        path = self.where(step) / item / "metadata"
        if not path.is_file():
            raise CheckpointError(f"{self.where(step)} is corrupt or unreadable (no {item})")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise CheckpointError(
                f"{self.where(step)} is corrupt or unreadable ({item}: {_plain_reason(e)})"
            ) from None

    def read_config(self, step: int) -> Any:
        return self._json(step, "config")

    def check_format(self, step: int) -> None:
        """Refuse a checkpoint saved before digests and named layers (Flax's Conv_0,
        Dense_0): this version reads neither."""
        metadata = self.where(step) / "state" / "_METADATA"
        try:
            text = metadata.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        old_names = re.search(r"['\"](Conv|Dense)_\d+['\"]", text) is not None
        if old_names or not (self.where(step) / DIGEST_ITEM).is_dir():
            raise OlderCheckpoint(
                f"{self.where(step)} was saved by an older cnn_jax; rerun, or check out "
                f"{LAST_READER} to read it"
            )

    def restore(self, step: int, target: Any = None) -> tuple[Any, Any, Any]:
        """(state, history, config) of checkpoint ``step``, verified: its digest must match
        and its values be finite. ``target`` gives the state's structure, shapes and
        dtypes (arrays or ``jax.eval_shape`` structs); None restores what was saved.
        Raises CheckpointError with a plain reason."""
        where = self.where(step)
        if step not in self.all_steps():
            saved = ", ".join(map(str, self.all_steps())) or "none"
            raise CheckpointError(f"{self.directory} has no checkpoint {step} (saved: {saved})")
        self.check_format(step)
        history = self._json(step, "history")
        config = self._json(step, "config")
        expected = self._json(step, DIGEST_ITEM)
        if not isinstance(expected, dict):
            raise CheckpointError(f"{where} is corrupt (digest mismatch)")
        # Checkpoints saved before the history and config were digested carry the state's
        # digest alone ("sha256"); they are still read, their JSON unverified.
        if "sha256_json" in expected and expected["sha256_json"] != _json_or_none(history, config):
            raise CheckpointError(f"{where} is corrupt (digest mismatch in history or config)")
        if target is None:
            restore_args = ocp.args.StandardRestore()
        else:
            abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
            restore_args = ocp.args.StandardRestore(abstract)
        # Before the read, not after its failure: a failing read's sibling reads may report
        # to the closed event loop while the restore is still unwinding.
        _quiet_leftover_reads()
        try:
            state = self._manager.restore(step, args=ocp.args.Composite(state=restore_args))
        except Exception as e:  # Orbax and TensorStore raise many types
            raise unreadable(where, e) from None
        state = jax.device_get(state["state"])
        if state_digest(state) != expected.get("sha256"):
            raise CheckpointError(f"{where} is corrupt (digest mismatch)")
        if not all_finite(state):
            raise CheckpointError(f"{where} is corrupt (non-finite values)")
        return state, history, config

    def restore_latest_intact(
        self,
        target: Any = None,
        *,
        check_config: Callable[[Any], None] | None = None,
        on_skip: Callable[[int, str], None] | None = None,
    ) -> Restored | None:
        """The newest checkpoint that restores and verifies, or None when there is none.

        ``target``: as in :meth:`restore`, or a function of the saved config that returns
        it. ``check_config(config)`` may raise to refuse a run (another config); it is
        called before the state is read. A corrupt newer checkpoint is reported to
        ``on_skip(step, reason)`` and, unless read-only, deleted (it would be rewritten).
        Raises CheckpointError when every checkpoint is corrupt.
        """
        steps = self.all_steps()
        failures = []
        for step in reversed(steps):
            try:
                self.check_format(step)
                config = self.read_config(step)
                if check_config is not None:
                    check_config(config)
                tree = target(config) if callable(target) else target
                state, history, config = self.restore(step, tree)
            except OlderCheckpoint:
                raise
            except CheckpointError as e:
                failures.append((step, _reason(e)))
                continue
            for bad, reason in failures:
                if on_skip is not None:
                    on_skip(bad, reason)
                if not self.read_only:
                    shutil.rmtree(self.where(bad), ignore_errors=True)
            if failures and not self.read_only:
                self._manager.reload()
            return Restored(step, state, history, config)
        if failures:
            listed = "; ".join(f"{step}: {reason}" for step, reason in failures)
            raise CheckpointError(f"every checkpoint in {self.directory} is corrupt ({listed})")
        return None

    def close(self) -> None:
        self._manager.close()

    def __enter__(self) -> RunCheckpoints:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _digest(state: Any, history: Any, config: Any) -> dict:
    """The digest item: the state's SHA-256 and that of its history and config."""
    return {"sha256": state_digest(state), "sha256_json": json_digest(history, config)}


def _json_or_none(history: Any, config: Any) -> str | None:
    """:func:`json_digest`, or None for JSON that cannot have been saved (NaN, odd types)."""
    try:
        return json_digest(history, config)
    except (TypeError, ValueError):
        return None


def resume(
    ckpt: RunCheckpoints,
    target: Any = None,
    *,
    check_config: Callable[[Any], None] | None = None,
    log: Callable[[str], None] = print,
    epochs: int | None = None,
) -> Restored | None:
    """What a trainer continues from: the newest intact checkpoint of ``ckpt``, or None.

    ``target`` and ``check_config`` as in :meth:`RunCheckpoints.restore_latest_intact`.
    With ``epochs``, checkpoints past it are refused (UsageError): the run asked for is
    shorter than the one saved. Tells ``log`` which corrupt checkpoints were passed over
    and where training resumes.
    """
    latest = ckpt.latest_step()
    if latest is None:
        return None
    if epochs is not None and latest > epochs:
        raise UsageError(
            f"{ckpt.directory} already holds {latest} epochs, more than the {epochs} asked "
            "for; use another --out"
        )
    skipped = []
    found = ckpt.restore_latest_intact(
        target, check_config=check_config, on_skip=lambda *bad: skipped.append(bad)
    )
    start = found.step if found is not None else 0
    for step, why in skipped:
        log(f"checkpoint after epoch {step} is corrupt ({why}); resuming from epoch {start}")
    if found is not None and not skipped and (epochs is None or start < epochs):
        log(f"resuming from the checkpoint after epoch {start}")
    if found is not None:
        interrupt.epoch_saved(found.step)
    return found


def _quiet_leftover_reads() -> None:
    """When a restore fails, Orbax's other array reads finish in the background and report
    to an event loop that is already closed ("Event loop is closed"), around the one-line
    error. Those reports, and only those, are dropped (installed once, before any read)."""
    previous = sys.unraisablehook
    if getattr(previous, "_drops_closed_loop", False):
        return

    def hook(unraisable):
        value = unraisable.exc_value
        if isinstance(value, RuntimeError) and "Event loop is closed" in str(value):
            return
        previous(unraisable)

    hook._drops_closed_loop = True
    sys.unraisablehook = hook


def _reason(error: CheckpointError) -> str:
    """The parenthesised reason of a CheckpointError's one line, or the whole line."""
    text = str(error)
    m = re.search(r"\(([^()]*)\)$", text)
    return m.group(1) if m else text
