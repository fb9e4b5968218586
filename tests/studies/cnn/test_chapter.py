"""The CNN chapter's verdicts, optimizer and Nielsen tables and figures, on made-up seeds
whose intervals are known, and its registry entries against the stored snapshot."""

import json
import math

import pytest

from cnn_jax import published
from cnn_jax.chapter import FULL
from cnn_jax.published import lookup
from cnn_jax.report import docs
from cnn_jax.studies.cnn import chapter as cnn
from cnn_jax.studies.cnn import figures


def _run(finals, epochs=10, **extra):
    seeds = [
        {"test_accuracy": a / 100, "test_accuracies": [a / 100 - 0.005, a / 100],
         "train_accuracies": [0.97, 0.99], "epochs": epochs, **extra}
        for a in finals
    ]  # fmt: skip
    return {**seeds[0], "seeds": seeds}


def test_verdict_reads_the_interval_against_at_least():
    # mean 99.1, sd 0.1, t(2) 4.30: [98.85, 99.35]
    assert cnn.verdict("cnn/seed", [99.0, 99.1, 99.2], "study_seed_cnn").startswith("reproduced")
    assert cnn.verdict("cnn/study_deep", [98.0, 98.1, 98.2], "study_deep_cnn").startswith("below")
    # [98.65, 99.15] reaches 98.89
    assert cnn.verdict("cnn/study_deep", [98.8, 98.9, 99.0], "study_deep_cnn").startswith(
        "inconclusive"
    )
    assert cnn.verdict("cnn/seed", [99.0], "study_seed_cnn") == "one seed: no interval"
    assert "not judged" in cnn.verdict("cnn/deep", [90.0, 90.1], "study_deep_cnn")


def test_keras_table_and_answer():
    runs = {
        "cnn/seed" + FULL: _run([99.0, 99.1, 99.2], config={"batch_size": 128}),
        "cnn/keras/sgd" + FULL: _run([97.9, 98.1], config={"batch_size": 128}),
        "cnn/keras/rmsprop" + FULL: _run([98.9, 98.95], config={"batch_size": 128}),
    }
    table = cnn.keras({"runs": runs}).splitlines()
    assert [row.split(" | ")[0] for row in table[2:]] == ["| Adam 1e-3", "| SGD 0.01",
                                                           "| RMSprop 1e-3"]  # fmt: skip
    assert "SGD 0.01 | 98.00 [96.73, 99.27] | 97.90, 98.10 | inside |" in table[3]
    assert "| below it |" in table[2]  # 98.02 under Adam's whole interval
    answer = cnn.keras_answer({"runs": runs})
    assert answer.startswith("Nearest to the study's 98.02 %: SGD 0.01, 98.00 %")
    assert "inside the 95 % interval of SGD 0.01 alone" in answer
    runs["cnn/keras/rmsprop" + FULL] = _run([97.5, 98.6], config={"batch_size": 128})
    answer = cnn.keras_answer({"runs": runs})
    assert "each of SGD 0.01; RMSprop 1e-3" in answer and "only Adam 1e-3 can" in answer
    runs["cnn/keras/sgd" + FULL] = _run([97.0, 97.01], config={"batch_size": 128})
    runs["cnn/keras/rmsprop" + FULL] = _run([98.9, 98.95], config={"batch_size": 128})
    assert "no setting here explains it" in cnn.keras_answer({"runs": runs})
    assert "no reproduction" in cnn.keras({"runs": {}})


def test_dropout_grid_splits_the_studys_step_into_network_and_dropout():
    runs = {
        "cnn/study_deep" + FULL: _run([98.8, 98.9, 99.0]),
        "cnn/study_deep_plus_dropout" + FULL: _run([99.0, 99.2, 99.2]),
        "cnn/study_deep_dropout_off" + FULL: _run([99.0, 99.1, 99.2]),
        "cnn/study_deep_dropout" + FULL: _run([99.1, 99.0, 99.3]),
    }
    table = cnn.dropout({"runs": runs}).splitlines()
    # matched seeds: differences 0.2, 0.3, 0.2 (t(2) 4.30) and 0.1, -0.1, 0.1
    assert "| +0.23 [+0.09, +0.38] | dropout helps: the interval lies above 0 | 3, 3 |" in table[2]
    assert "| +0.03 [-0.25, +0.32] | inconclusive: the interval holds 0 |" in table[3]
    answer = cnn.dropout_answer({"runs": runs})
    assert "is +0.17 points" in answer  # 99.06 - 98.89
    assert "+0.23 [-0.08, +0.55] (Welch, 95 %); the study's +0.17 lies inside" in answer
    assert "both without dropout) is +0.20 [-0.03, +0.43]" in answer
    # one seed on a side: no interval, no row
    runs["cnn/study_deep_dropout_off" + FULL] = _run([99.0])
    assert len(cnn.dropout({"runs": runs}).splitlines()) == 3
    assert "no reproduction" in cnn.dropout_answer({"runs": runs})


def test_nielsen_table_states_the_fraction_of_his_budget():
    run = _run([98.5, 98.6, 98.7], epochs=3, train_images=50000, config={"batch_size": 10})
    table = cnn.nielsen_table({"runs": {"cnn/nielsen/conv": run}}).splitlines()
    assert len(table) == 3
    # 3 epochs × 50,000 / 10 = 15,000 of his 300,000 updates
    assert "| 98.78 ± 0.5 | 98.60 [98.35, 98.85] | 98.50–98.70 | 3 | 0.05 | 3 |" in table[2]
    assert table[2].endswith(
        "| not comparable (budget 0.05): our budget is 0.05 of the "
        "published one, below the 0.5 at which the claim should show |"
    )
    half = _run([98.5, 98.6, 98.7], epochs=30, train_images=50000, config={"batch_size": 10})
    row = cnn.nielsen_table({"runs": {"cnn/nielsen/conv" + FULL: half}}).splitlines()[2]
    # [98.35, 98.85] inside 98.78 ± 0.5 at half his updates
    inside = "reproduced: the interval lies inside the published 98.78 ± 0.5"
    assert row.endswith(f"| 0.5 | 3 | {inside} |")


def test_figures_are_drawn_from_a_snapshot_and_missing_runs_are_left(tmp_path):
    """--docs redraws each chapter's figures from its stored snapshot; a figure whose runs
    the snapshot lacks is not drawn (its file is left as it is)."""
    root = tmp_path / "repo"
    (root / "docs" / "results").mkdir(parents=True)
    for name in docs.NAMES:
        docs.snapshot_path(root, name).write_text(docs.snapshot_path(docs.ROOT, name).read_text())
    runs = {
        "cnn/seed" + FULL: _run([99.0, 99.1], config={"batch_size": 128}),
        "cnn/study_deep" + FULL: _run([98.9, 99.0], config={"batch_size": 128}),
    }
    docs.snapshot_path(root, "cnn").write_text(json.dumps({"runs": runs}))
    drawn = docs.draw_figures(root, "cnn")
    assert sorted(p.name for p in drawn) == sorted(figures.FIGURES)
    assert all(p.stat().st_size > 10_000 for p in drawn)
    docs.snapshot_path(root, "cnn").write_text(json.dumps({"runs": {}}))
    assert docs.draw_figures(root, "cnn") == []
    assert docs.draw_figures(root, "layers") == []  # a chapter that draws none


def test_every_cnn_registry_entry_resolves_to_a_stored_number():
    """Each entry of the chapter names a run it declares, and the stored snapshot holds a
    finite number at the entry's key for it (the default run, and the full one if stored)."""
    runs = docs.load_snapshots(docs.ROOT)["cnn"]["runs"]
    declared = {run.path for run in cnn.CHAPTER.runs}
    entries = [e for e in published.load() if e.chapter == "cnn" and e.run]
    assert len(entries) >= 5
    for e in entries:
        assert e.run in declared, e.id
        assert e.run in runs, e.id
        for name in (e.run, e.run + FULL):
            if name in runs:
                for seed in runs[name].get("seeds", [runs[name]]):
                    assert math.isfinite(lookup(seed, e.key)), (e.id, name)


@pytest.mark.parametrize("run", list(cnn.NIELSEN))
def test_nielsen_runs_use_his_settings(run):
    """Mini-batch 10 and plain SGD at every scale; his 50,000 images and 60 epochs at full."""
    declared = {r.path: r for r in cnn.CHAPTER.runs}[run]
    full = declared.full.args
    assert full[full.index("--batch-size") + 1] == "10"
    assert full[full.index("--optimizer") + 1] == "sgd"
    assert full[full.index("--limit") + 1] == "50000"
    assert full[full.index("--epochs") + 1] == str(cnn.NIELSEN_EPOCHS)
    smoke = declared.smoke.resolve(docs.ROOT)
    assert "--limit" in smoke and smoke[smoke.index("--limit") + 1] != "50000"
