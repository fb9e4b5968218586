"""The digest covers everything a resume reads; a finished run is never cut short silently."""

import json

import numpy as np
import pytest

from cnn_jax.errors import UsageError
from cnn_jax.training.checkpoint import RunCheckpoints, state_digest
from cnn_jax.training.config import TrainConfig
from cnn_jax.training.run import finished_results


def _state(step: int) -> dict:
    return {"w": np.full((3, 4), step, np.float32), "step": np.array(step, np.int32)}


def _saved(tmp_path) -> RunCheckpoints:
    ckpt = RunCheckpoints(tmp_path, max_to_keep=3)
    for step in (1, 2, 3):
        history = [{"epoch": e, "train_loss": 1.0 / e} for e in range(1, step + 1)]
        ckpt.save(step, _state(step), history, {"lr": 0.1})
    return ckpt


@pytest.mark.parametrize("item", ["history", "config"])
def test_an_edited_history_or_config_is_corrupt(tmp_path, item):
    ckpt = _saved(tmp_path)
    path = ckpt.where(3) / item / "metadata"
    saved = json.loads(path.read_text())
    if item == "history":
        saved[-1]["train_loss"] = 0.001  # a better-looking number than the run measured
    else:
        saved["lr"] = 0.2
    path.write_text(json.dumps(saved))
    skipped = []
    found = ckpt.restore_latest_intact(on_skip=lambda step, why: skipped.append((step, why)))
    assert found.step == 2 and found.history[-1]["train_loss"] == 0.5
    assert skipped == [(3, "digest mismatch in history or config")]


def test_a_checkpoint_digested_before_history_was_covered_still_reads(tmp_path):
    ckpt = _saved(tmp_path)
    digest = ckpt.where(3) / "digest" / "metadata"
    digest.write_text(json.dumps({"sha256": state_digest(_state(3))}))
    found = ckpt.restore_latest_intact()
    assert found.step == 3 and found.history[-1]["train_loss"] == pytest.approx(1 / 3)


def test_a_finished_run_asked_for_fewer_epochs_is_refused_in_one_line(tmp_path):
    done = TrainConfig.tiny(epochs=3)
    (tmp_path / "results.json").write_text(json.dumps({"config": done.to_dict(), "epochs": 3}))
    with pytest.raises(UsageError, match=r"finished run of 3 epochs, more than the 2 asked"):
        finished_results(tmp_path, TrainConfig.tiny(epochs=2))
    assert finished_results(tmp_path, done) is not None
    assert finished_results(tmp_path, TrainConfig.tiny(epochs=4)) is None  # continues
