"""experiments/cost_functions.py end to end."""

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def cost_functions(load_script):
    return load_script("cost_functions")


def test_script_neuron_only_writes_json(tmp_path, cost_functions):
    out = tmp_path / "cf"
    assert cost_functions.main(["--no-mnist", "--neuron-epochs", "20", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert len(results["neuron"]["runs"]) == 4
    assert (out / "neuron_slowdown.png").stat().st_size < 300_000


def test_script_short_mnist_run(tmp_path, mnist, cost_functions):
    out = tmp_path / "cf"
    args = ["--data-dir", str(Path(mnist.source.removeprefix("idx:")))]
    # The shapes of test_regularization's short run: the compiled sweep is shared.
    args += ["--images", "100", "--test-images", "200", "--hidden", "8"]
    args += ["--epochs", "2", "--neuron-epochs", "5"]
    assert cost_functions.main([*args, "--out", str(out), "--no-progress"]) == 0
    entry = json.loads((out / "results.json").read_text())["mnist"]["784-8-10"]
    for cost in ("sigmoid_ce", "quadratic"):
        e = entry["costs"][cost]
        assert len(e["curves"]["test_accuracy"]) == 2
        assert 0.1 < e["final_test_accuracy_mean"] <= e["best_test_accuracy_mean"] <= 1.0
    assert entry["costs"]["sigmoid_ce"]["published_test_accuracy_pct"] is None  # no H = 8


def test_script_bad_argument_is_one_line_exit_2(capsys, cost_functions):
    with pytest.raises(SystemExit) as e:
        cost_functions.main(["--hidden", "x"])
    assert e.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
