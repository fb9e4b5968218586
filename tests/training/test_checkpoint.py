"""RunCheckpoints: digests checked on restore, fallback to the newest intact checkpoint."""

from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from cnn_jax.errors import Diverged
from cnn_jax.training.checkpoint import (
    LAST_READER,
    CheckpointError,
    OlderCheckpoint,
    RunCheckpoints,
    state_digest,
)


def state(value: int) -> dict:
    """Random (incompressible) arrays, so the largest data file on disk holds the kernels."""
    rng = np.random.default_rng(value)  # fixture data only
    return {
        "params": {
            "conv1": {
                "kernel": rng.normal(size=(6, 6, 1, 32)).astype(np.float32),
                "bias": np.zeros(32),
            },
            "dense1": {"kernel": rng.normal(size=(100, 10)).astype(np.float32)},
        },
        "step": np.array(value, np.int32),
    }


def flip_bytes(step_dir: Path) -> None:
    """XOR a few bytes in the middle of the largest array-data file of a checkpoint."""
    files = [f for f in (step_dir / "state").rglob("*") if f.is_file() and f.parent.name == "d"]
    largest = max(files, key=lambda f: f.stat().st_size)
    data = bytearray(largest.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 4):
        data[i] ^= 0xFF
    largest.write_bytes(bytes(data))


def saved_run(tmp_path, steps=(1, 2, 3), max_to_keep=3) -> RunCheckpoints:
    ckpt = RunCheckpoints(tmp_path, max_to_keep=max_to_keep)
    for step in steps:
        ckpt.save(step, state(step), [{"epoch": e} for e in range(1, step + 1)], {"lr": 0.1})
    return ckpt


def assert_state_equal(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_save_then_restore_latest_round_trips(tmp_path):
    ckpt = saved_run(tmp_path)
    step, restored, history, config = ckpt.restore_latest_intact(state(0))
    assert step == 3 and config == {"lr": 0.1} and history[-1] == {"epoch": 3}
    assert_state_equal(restored, state(3))
    # Without a target: the saved structure.
    assert_state_equal(ckpt.restore_latest_intact().state, state(3))
    assert RunCheckpoints(tmp_path / "empty").restore_latest_intact(state(0)) is None


def test_digest_depends_on_values_dtypes_shapes_and_names():
    base = state_digest(state(1))
    assert state_digest(state(1)) == base
    assert state_digest(state(2)) != base
    other = state(1)
    other["params"]["conv1"]["bias"] = other["params"]["conv1"]["bias"].astype(np.float32)
    assert state_digest(other) != base
    renamed = state(1)  # the same arrays under another layer name
    renamed["params"]["conv2"] = renamed["params"].pop("conv1")
    assert state_digest(renamed) != base


def test_flipped_bytes_are_a_digest_mismatch(tmp_path):
    ckpt = saved_run(tmp_path)
    flip_bytes(ckpt.where(3))
    with pytest.raises(CheckpointError, match=r"checkpoints/3 is corrupt"):
        ckpt.restore(3, state(0))


def test_corrupt_latest_falls_back_to_the_previous(tmp_path):
    ckpt = saved_run(tmp_path)
    flip_bytes(ckpt.where(3))
    skipped = []
    found = ckpt.restore_latest_intact(state(0), on_skip=lambda s, why: skipped.append((s, why)))
    assert found.step == 2 and len(found.history) == 2
    assert_state_equal(found.state, state(2))
    assert [s for s, _ in skipped] == [3]
    assert skipped[0][1] in ("digest mismatch", "its arrays cannot be read")
    # The corrupt checkpoint is gone, so training can write epoch 3 again.
    assert ckpt.all_steps() == [1, 2]
    ckpt.save(3, state(3), [], {"lr": 0.1})
    assert ckpt.restore_latest_intact(state(0)).step == 3


def test_read_only_fallback_deletes_nothing(tmp_path):
    saved_run(tmp_path).close()
    flip_bytes(tmp_path / "checkpoints" / "3")
    reader = RunCheckpoints(tmp_path, read_only=True)
    assert reader.restore_latest_intact(state(0)).step == 2
    assert (tmp_path / "checkpoints" / "3").is_dir()


@pytest.mark.parametrize("damage", ["flip", "manifest", "json"])
def test_all_corrupt_is_one_clear_line(tmp_path, damage):
    ckpt = saved_run(tmp_path, steps=(1, 2), max_to_keep=2)
    for step in (1, 2):
        where = ckpt.where(step)
        if damage == "flip":
            flip_bytes(where)
        elif damage == "manifest":
            for manifest in (where / "state").rglob("manifest.ocdbt"):
                manifest.unlink()
        else:
            (where / "config" / "metadata").write_text("{not json")
    with pytest.raises(CheckpointError) as info:
        ckpt.restore_latest_intact(state(0))
    message = str(info.value)
    assert message.startswith(f"every checkpoint in {ckpt.directory} is corrupt")
    assert "\n" not in message and "tensorstore" not in message.lower()


def test_non_finite_state_is_never_saved_and_never_restored(tmp_path):
    ckpt = RunCheckpoints(tmp_path)
    bad = state(1)
    bad["params"]["dense1"]["kernel"][0, 0] = np.nan
    with pytest.raises(Diverged, match="non-finite"):
        ckpt.save(1, bad, [], {})
    assert ckpt.all_steps() == []
    # Written behind the class's back, with a matching digest: restore still refuses it.
    ckpt._manager.save(
        1,
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(bad),
            history=ocp.args.JsonSave([]),
            config=ocp.args.JsonSave({}),
            digest=ocp.args.JsonSave({"sha256": state_digest(bad)}),
        ),
    )
    with pytest.raises(CheckpointError, match="non-finite values"):
        ckpt.restore(1, state(0))


def test_config_check_runs_before_the_state_is_read(tmp_path):
    ckpt = saved_run(tmp_path)

    class Refused(Exception):
        pass

    def refuse(config):
        raise Refused(config)

    with pytest.raises(Refused):
        ckpt.restore_latest_intact(state(0), check_config=refuse)


def _save_without_digest(tmp_path, tree):
    """A checkpoint as cnn_jax saved them before digests: state, history and config."""
    manager = ocp.CheckpointManager(
        (tmp_path / "checkpoints").absolute(),
        options=ocp.CheckpointManagerOptions(create=True, enable_async_checkpointing=False),
    )
    manager.save(
        2,
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(tree),
            history=ocp.args.JsonSave([{"epoch": 1}, {"epoch": 2}]),
            config=ocp.args.JsonSave({"lr": 0.1}),
        ),
    )
    manager.close()


@pytest.mark.parametrize("old_names", [True, False])
def test_older_checkpoints_are_refused_in_one_line_and_kept(tmp_path, old_names):
    """Without a digest, or with Flax's own layer names (Conv_0): refused, never deleted."""
    old = state(2)
    if old_names:
        old["params"] = {"Conv_0": old["params"]["conv1"], "Dense_0": old["params"]["dense1"]}
    _save_without_digest(tmp_path, old)
    with pytest.raises(OlderCheckpoint) as info:
        RunCheckpoints(tmp_path).restore_latest_intact(state(0))
    message = str(info.value)
    assert message == (
        f"{tmp_path.absolute()}/checkpoints/2 was saved by an older cnn_jax; rerun, or check "
        f"out {LAST_READER} to read it"
    )
    assert (tmp_path / "checkpoints" / "2").is_dir()


def test_max_to_keep_must_leave_a_fallback(tmp_path):
    with pytest.raises(ValueError, match="max_to_keep"):
        RunCheckpoints(tmp_path, max_to_keep=1)
