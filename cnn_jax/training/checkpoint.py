"""Per-epoch Orbax checkpoints of a training run, with its config and history beside them.

Layout under ``<out>/checkpoints/<epoch>/``: ``state`` (params, optimizer state,
step; Orbax's standard array format), ``history`` and ``config`` (JSON). Orbax writes
each checkpoint to a temporary folder and renames it when complete, so a run killed
mid-save leaves only complete checkpoints behind. Nothing is pickled.
"""

from __future__ import annotations

import logging
from pathlib import Path

import jax
import orbax.checkpoint as ocp

from cnn_jax.errors import UsageError


class CheckpointError(UsageError):
    """A checkpoint cannot be found or read; the message says which and why."""


def unreadable(where: str | Path, error: Exception) -> CheckpointError:
    """Orbax, tensorstore and JSON raise many types; one clear line for the user."""
    lines = str(error).strip().splitlines()
    reason = lines[0][:200] if lines else ""
    return CheckpointError(f"{where} is corrupt or unreadable ({type(error).__name__}: {reason})")


def open_manager(
    directory: str | Path, *, read_only: bool = False, max_to_keep: int = 2
) -> ocp.CheckpointManager:
    """A synchronous Orbax manager over ``directory``. ``read_only=True`` is for readers
    (a viewer must never write into, or clean up, a run that may still be training)."""
    if read_only:
        options = ocp.CheckpointManagerOptions(read_only=True, create=False, save_interval_steps=0)
    else:
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False
        )
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)  # Orbax warns "directory is read only" on open
    try:
        return ocp.CheckpointManager(Path(directory).absolute(), options=options)
    finally:
        absl_logger.setLevel(level)


class RunCheckpoints:
    """The checkpoints of one run; ``read_only`` as in :func:`open_manager`."""

    def __init__(self, out_dir: str | Path, max_to_keep: int = 2, *, read_only: bool = False):
        self.directory = Path(out_dir).absolute() / "checkpoints"
        self._manager = open_manager(self.directory, read_only=read_only, max_to_keep=max_to_keep)

    def latest_epoch(self) -> int | None:
        return self._manager.latest_step()

    def all_epochs(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def save(self, epoch: int, state: dict, history: list[dict], config: dict) -> None:
        self._manager.save(
            epoch,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(state),
                history=ocp.args.JsonSave(history),
                config=ocp.args.JsonSave(config),
            ),
        )
        self._manager.wait_until_finished()

    def restore(self, epoch: int, target: dict) -> tuple[dict, list[dict], dict]:
        """Restore into the structure, shapes and dtypes of ``target`` (arrays or
        ``jax.eval_shape`` structs). Returns (state, history, config); raises
        CheckpointError when the checkpoint cannot be read."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        try:
            restored = self._manager.restore(
                epoch,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(abstract),
                    history=ocp.args.JsonRestore(),
                    config=ocp.args.JsonRestore(),
                ),
            )
        except Exception as e:
            raise unreadable(self.directory / str(epoch), e) from None
        return restored["state"], restored["history"], restored["config"]

    def read_config(self, epoch: int) -> dict:
        try:
            args = ocp.args.Composite(config=ocp.args.JsonRestore())
            return self._manager.restore(epoch, args=args)["config"]
        except Exception as e:
            raise unreadable(self.directory / str(epoch), e) from None

    def close(self) -> None:
        self._manager.close()
