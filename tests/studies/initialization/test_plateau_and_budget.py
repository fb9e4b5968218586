"""The plateau detector on synthetic curves with known answers, the Section 4.3 trends on
synthetic records, the plateau sweep and the budget run at tiny size, and their scripts."""

import json
import os

import jax
import numpy as np
import pytest

from cnn_jax.studies.initialization import budget as B
from cnn_jax.studies.initialization import plateau as P
from cnn_jax.studies.initialization import study as study_lib
from cnn_jax.training import sgd

# ----------------------------------------------------------------------------- detector


def test_a_step_down_leaves_at_the_step():
    error = [90.0] * 10 + [50.0] * 10
    assert P.plateau_exit(error, P.CHANCE_ERROR, 10.0) == 10
    assert P.plateau_exit(error, P.CHANCE_ERROR, 10.0, hold=5) == 10


def test_hold_ignores_a_short_excursion():
    error = [90.0, 89.0, 75.0, 90.0, 91.0, 60.0, 55.0, 40.0]
    assert P.plateau_exit(error, 90.0, 10.0) == 2  # the spike counts without hold
    assert P.plateau_exit(error, 90.0, 10.0, hold=2) == 5


def test_a_curve_that_never_leaves_gives_none():
    noisy = 90.0 + np.random.default_rng(0).uniform(-5, 5, 200)
    assert P.plateau_exit(noisy, 90.0, 10.0) is None
    assert P.plateau_exit([], 90.0, 10.0) is None


def test_leaving_in_the_last_records_is_not_confirmed():
    error = [90.0] * 9 + [50.0]
    assert P.plateau_exit(error, 90.0, 10.0, hold=1) == 9
    assert P.plateau_exit(error, 90.0, 10.0, hold=2) is None


def test_start_skips_the_records_before_it_and_hold_must_be_positive():
    curve = [0.5, 0.3, 0.5, 0.5]
    assert P.plateau_exit(curve, 0.5, 0.1) == 1
    assert P.plateau_exit(curve, 0.5, 0.1, start=2) is None
    with pytest.raises(ValueError, match="hold"):
        P.plateau_exit(curve, 0.5, 0.1, hold=0)


def _saturating_top(fall: int, flat_until: int, n: int = 60) -> np.ndarray:
    """A sigmoid top layer's mean: 0.5, falls to 0.02 in ``fall`` records, stays there
    (with noise under 0.01) until ``flat_until``, then climbs to 0.4 linearly."""
    x = np.arange(n, dtype=np.float64)
    curve = np.where(x < fall, 0.5 - (0.48 / fall) * x, 0.02)
    rise = np.clip((x - flat_until) / 10.0, 0.0, 1.0) * 0.38
    noise = np.random.default_rng(1).uniform(0.0, 0.009, n)
    return np.where(x >= fall, curve + rise + noise, curve)


def test_top_layer_plateau_finds_the_floor_and_the_climb():
    top = _saturating_top(fall=4, flat_until=30)
    found = P.top_layer_plateau(top, tolerance=0.05, hold=2)
    assert found["floor"] == pytest.approx(0.02, abs=0.01)
    assert 4 <= found["floor_at"] < 30
    # 0.02 + 0.038·k (+ noise < 0.009) first passes floor + 0.05 at k = 2: index 32.
    assert found["exit"] == 32


def test_a_top_layer_that_only_falls_never_leaves():
    top = _saturating_top(fall=4, flat_until=10_000)
    assert P.top_layer_plateau(top, tolerance=0.05, hold=2)["exit"] is None
    falling = np.linspace(0.5, 0.01, 30)  # floor at the last record: no record after it
    assert P.top_layer_plateau(falling, tolerance=0.05, hold=1)["exit"] is None


def test_summary_counts_saturated_escaped_and_left_chance():
    row = {
        "top_floor": [0.01, 0.02, 0.3],  # the third seed never saturated
        "top_exit_update": [1500, None, None],
        "error_exit_update": [2000, None, 500],
    }
    summary = P.summary(row)
    assert summary["seeds"] == 3 and summary["top_saturated"] == 2
    assert summary["top_escaped"] == 1 and summary["top_escaped_fraction"] == pytest.approx(1 / 3)
    assert summary["error_left_chance"] == 2
    assert summary["error_exit_latest"] is None  # one seed never left
    assert summary["top_exit_latest"] is None
    done = P.summary({**row, "top_exit_update": [1500, 2500, None]})
    assert done["top_exit_latest"] == 2500  # the unsaturated seed does not count


# ----------------------------------------------------------------------------- Section 4.3


def test_gradient_trends_from_known_records():
    # 3 records, 2 hidden layers (+ output for the weight gradients).
    records = {
        "backprop_var": [[1.0, 4.0], [2.0, 2.0], [6.0, 3.0]],
        "weight_grad_var": [[1.0, 1.0, 9.0], [4.0, 1.0, 9.0], [1.0, 8.0, 9.0]],
    }
    trends = study_lib.gradient_trends(records, every=100)
    np.testing.assert_allclose(trends["backprop_ratio_first_to_last"], [0.25, 1.0, 2.0])
    np.testing.assert_allclose(trends["weight_grad_ratio_first_to_last"], [1.0, 4.0, 0.125])
    np.testing.assert_allclose(trends["weight_grad_spread"], [1.0, 4.0, 8.0])
    assert trends["backprop_reversed_at"] == 100
    never = study_lib.gradient_trends({**records, "backprop_var": [[1.0, 4.0]] * 3}, every=100)
    assert never["backprop_reversed_at"] is None


# ----------------------------------------------------------------------------- tiny runs


@pytest.fixture(scope="module")
def tiny_data(mnist):
    train = sgd.to_device(mnist.train_images[:500], mnist.train_labels[:500])
    probe = sgd.to_device(mnist.test_images[:50], mnist.test_labels[:50])
    return train, probe


def test_depth_row_records_and_its_exits_follow_the_detector(tiny_data):
    config = P.Plateau.tiny()
    row = P.depth_row(2, config, jax.random.key(0), *tiny_data)
    mean, error = np.asarray(row["mean"]), np.asarray(row["error"])
    records = 1 + config.updates_per_epoch // config.record_every
    assert mean.shape == (config.seeds, records, 2) and error.shape == (config.seeds, records)
    assert np.all(np.abs(mean[:, 0] - 0.5) < 0.05)  # zero biases, small s: σ ≈ 1/2
    for s in range(config.seeds):
        exit_index = P.plateau_exit(error[s], 90.0, config.chance_margin, hold=config.hold)
        expected = None if exit_index is None else exit_index * config.record_every
        assert row["error_exit_update"][s] == expected
        assert row["top_floor"][s] == pytest.approx(mean[s, :, -1].min())


def test_a_budget_network_trains_the_same_alone_as_beside_others(mnist):
    """Vmapped networks do not mix, and a network's init and data order do not depend on its
    place in the sweep."""
    train = sgd.to_device(mnist.train_images[:200], mnist.train_labels[:200])
    test = sgd.to_device(mnist.test_images[:100], mnist.test_labels[:100])
    both = B.Budget.tiny()
    alone = B.Budget(**{**vars(both), "networks": ("tanh N",), "lrs": (0.05,)})
    root = jax.random.key(3)

    def rows(config):
        labels = config.groups()["tanh"]
        return B.group_rows("tanh", labels, config, root, train, test, None, None)

    together, single = rows(both), rows(alone)
    assert np.asarray(together["tanh N"]["test_error_by_epoch"]).shape == (2, 2)
    np.testing.assert_allclose(
        together["tanh N"]["test_error_by_epoch"], single["tanh N"]["test_error_by_epoch"]
    )
    assert together["tanh N"]["updates"] == [20, 40]
    assert together["tanh"]["test_error_by_epoch"] != together["tanh N"]["test_error_by_epoch"]


# ----------------------------------------------------------------------------- scripts

PLATEAU_TINY = [
    "--depths", "1,2", "--width", "16", "--seeds", "2", "--epochs", "1",
    "--train-images", "500", "--record-every", "10", "--probe-images", "50", "--no-progress",
]  # fmt: skip
BUDGET_TINY = [
    "--networks", "tanh,tanh N,sigmoid", "--lrs", "0.1,0.05,0.1", "--width", "8",
    "--hidden", "2", "--epochs", "2", "--seeds", "2", "--train-images", "200", "--no-progress",
]  # fmt: skip


def test_plateau_script_writes_results_and_a_rerun_reads_the_rows(load_script, mnist, tmp_path):
    script = load_script("initialization_plateau")
    out = tmp_path / "out"
    argv = [*PLATEAU_TINY, "--data-dir", os.environ["CNN_JAX_DATA_DIR"], "--out", str(out)]
    assert script.main(argv) == 0
    first = json.loads((out / "results.json").read_text())
    assert set(first["depths"]) == {"depth 1", "depth 2"}
    assert (out / "plateau_curves.png").stat().st_size > 0
    (out / "results.json").unlink()
    assert script.main(argv) == 0
    assert json.loads((out / "results.json").read_text())["depths"] == first["depths"]


def test_budget_script_writes_results(load_script, mnist, tmp_path):
    script = load_script("initialization_budget")
    out = tmp_path / "out"
    argv = [*BUDGET_TINY, "--data-dir", os.environ["CNN_JAX_DATA_DIR"], "--out", str(out)]
    assert script.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert list(results["networks"]) == ["tanh", "tanh N", "sigmoid"]
    row = results["networks"]["tanh N"]
    assert row["lr"] == 0.05 and row["published_test_error"] == 1.64
    errors = np.asarray(row["test_error_by_epoch"])
    assert row["test_error"] == pytest.approx(errors[:, -1].mean())
    assert not (out / "checkpoints").exists()
    assert (out / "test_error_curves.png").stat().st_size > 0


@pytest.mark.parametrize(
    "name,argv,message",
    [
        ("initialization_budget", ["--lrs", "0.1,0.2"], "--lrs gives 2 rates for 5 networks"),
        ("initialization_budget", ["--networks", "gelu", "--lrs", "0.1"], "unknown network"),
        ("initialization_plateau", ["--record-every", "7"], "must divide the 5000 updates"),
        ("initialization_plateau", ["--chance-margin", "95"], "--chance-margin must be in"),
    ],
)
def test_bad_flags_are_one_line_exit_2_and_write_nothing(
    load_script, tmp_path, capsys, name, argv, message
):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        load_script(name).main([*argv, "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not out.exists()
